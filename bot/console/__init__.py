"""The desk console: the same campaign in a web browser (aiohttp + Jinja2 templates)."""
