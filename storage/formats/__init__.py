"""Campaign files (YAML, Excel) read and written, and the exports (XLSX, ZIP)."""
