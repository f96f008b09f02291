"""The template's look: dark blue headers for required columns, light blue for the others."""

from __future__ import annotations

from openpyxl.styles import Alignment, Border, Font, PatternFill, Side

from storage.formats.campaign_excel.cells import AnyCell

HEADER_FONT = Font(bold=True, color="FFFFFF")
OPTIONAL_FONT = Font(bold=True, color="1F3864")
REQUIRED_FILL = PatternFill("solid", fgColor="1F4E78")
OPTIONAL_FILL = PatternFill("solid", fgColor="DDEBF7")
THIN = Side(style="thin", color="9BC2E6")
BORDER = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
WRAP = Alignment(wrap_text=True, vertical="top")
HEADER_ALIGN = Alignment(wrap_text=True, vertical="center", horizontal="center")


def style_header(cell: AnyCell, required: bool) -> None:
    cell.font = HEADER_FONT if required else OPTIONAL_FONT
    cell.fill = REQUIRED_FILL if required else OPTIONAL_FILL
    cell.alignment = HEADER_ALIGN
    cell.border = BORDER
