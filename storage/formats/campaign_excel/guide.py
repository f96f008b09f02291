"""The template's first sheet, "Hướng dẫn": notes, every column of every sheet explained with
an example, then the scoring forms."""

from __future__ import annotations

from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from storage.formats.campaign_excel.layout import SHEETS
from storage.formats.campaign_excel.scoring_cells import SCORING_FORMS
from storage.formats.campaign_excel.styles import BORDER, WRAP, style_header
from storage.formats.campaign_excel.texts import Texts
from storage.rules.scoring import RULES_BY_TYPE

_WIDTHS = (16, 38, 10, 70, 34)


def write_guide(ws: Worksheet, texts: Texts) -> None:
    for number, width in enumerate(_WIDTHS, start=1):
        ws.column_dimensions[get_column_letter(number)].width = width
    row = _line(ws, 1, texts("guide.title"), Font(bold=True, size=14, color="1F4E78"))
    for key in texts.keys("guide.notes."):
        row = _line(ws, row, "• " + texts(key), None, sum(_WIDTHS))
    row = _columns(ws, row + 1, texts)
    _scoring_forms(ws, row + 1, texts)


def _columns(ws: Worksheet, row: int, texts: Texts) -> int:
    row = _line(ws, row, texts("guide.columns_title"), Font(bold=True, size=12))
    headers = [texts(f"header.{k}") for k in ("sheet", "column", "required", "meaning", "example")]
    row = _row(ws, row, headers, header=True)
    for sheet in SHEETS:
        row = _line(ws, row, f"{sheet.title}: {texts(f'sheet.{sheet.role}')}", Font(bold=True))
        for column in sheet.columns:
            base = f"column.{sheet.role}.{column.text_key}"
            row = _row(
                ws,
                row,
                [
                    sheet.title,
                    texts.header(sheet, column),
                    texts.yes_no(True) if column.required else "",
                    texts(f"{base}.help"),
                    texts(f"{base}.example"),
                ],
            )
    return row


def _scoring_forms(ws: Worksheet, row: int, texts: Texts) -> int:
    row = _line(ws, row, texts("guide.scoring_title"), Font(bold=True, size=12))
    row = _line(ws, row, texts("guide.scoring_note"), None, sum(_WIDTHS))
    headers = [
        texts(f"header.{k}") if k else "" for k in ("form", "types", "", "meaning", "example")
    ]
    row = _row(ws, row, headers, header=True)
    for name, rule, example in SCORING_FORMS:
        types = ", ".join(t.value for t, rules in RULES_BY_TYPE.items() if rule in rules)
        row = _row(ws, row, [name, types, "", texts(f"scoring.{name}"), example])
    return row


def _line(ws: Worksheet, row: int, text: str, font: Font | None, width: int = 0) -> int:
    """A line across the guide's columns; its height fits the text (Excel does not grow
    merged cells by itself)."""
    ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=5)
    cell = ws.cell(row, 1, text)
    cell.alignment = WRAP
    if font:
        cell.font = font
    if width:
        ws.row_dimensions[row].height = 15 * (len(text) // int(width * 1.1) + 1)
    return row + 1


def _row(ws: Worksheet, row: int, values: list[str], *, header: bool = False) -> int:
    for number, value in enumerate(values, start=1):
        cell = ws.cell(row, number, value or None)
        cell.alignment = WRAP
        cell.border = BORDER
        if header:
            style_header(cell, required=True)
    return row + 1
