"""The official conclusion notice (THÔNG BÁO Kết luận kiểm tra công tác cải cách hành chính)
as a Word document, written with python-docx from a template an admin can replace.

A template is any .docx with placeholders in its text (in paragraphs or table cells):

    {{co_quan}}      issuing body (CONCLUSION_ISSUER)     {{doan}}       the team's name
    {{doan_in_hoa}}  the team's name in capitals (header)
    {{ngay}}         "Hà Nội, ngày 05 tháng 10 năm 2021"  {{don_vi}}     the unit's name
    {{dot}}          the campaign's title                 {{can_cu}}     the campaign's basis
    {{truong_doan}}  the leader's name (signature)

and list placeholders, each alone in its paragraph, which becomes one paragraph per entry in
the same style: {{uu_diem}} (strengths, one per line), {{ton_tai}} (shortcomings),
{{khac_phuc}} (the fixes with their due dates, dd/mm/yyyy), {{noi_nhan}} (recipients).

Without a template (CONCLUSION_TEMPLATE unset) the default one built here is used;
`cchc-bot conclusion --write-template F.docx` saves it for an admin to edit. A placeholder
that spans runs of different formatting is written with the first run's formatting.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Pt
from docx.text.paragraph import Paragraph

MOTTO = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
MOTTO_2 = "Độc lập - Tự do - Hạnh phúc"
LISTS = ("uu_diem", "ton_tai", "khac_phuc", "noi_nhan")


@dataclass(frozen=True)
class Finding:
    text: str
    fix: str
    due_on: date


@dataclass(frozen=True)
class NoticeData:
    issuer: str
    team: str
    place: str
    day: date
    unit: str
    campaign: str
    basis: str
    leader: str
    strengths: str
    findings: tuple[Finding, ...]
    recipients: tuple[str, ...]


def date_line(place: str, day: date) -> str:
    """ "Hà Nội, ngày 05 tháng 10 năm 2021" (Nghị định 30/2020/NĐ-CP: two-digit day and
    month; the place first)."""
    return f"{place}, ngày {day.day:02d} tháng {day.month:02d} năm {day.year}"


def _fields(data: NoticeData) -> dict[str, str]:
    return {
        "co_quan": data.issuer.upper(),
        "doan_in_hoa": data.team.upper(),
        "doan": data.team,
        "ngay": date_line(data.place, data.day),
        "don_vi": data.unit,
        "dot": data.campaign,
        "can_cu": data.basis or data.campaign,
        "truong_doan": data.leader,
    }


def _lists(data: NoticeData) -> dict[str, list[str]]:
    strengths = [line.strip() for line in data.strengths.splitlines() if line.strip()]
    return {
        "uu_diem": [f"- {s}" for s in strengths] or ["- Không có."],
        "ton_tai": [f"{n}. {f.text}" for n, f in enumerate(data.findings, 1)] or ["Không có."],
        "khac_phuc": [
            f"{n}. {f.fix.rstrip(' .')}. Thời hạn hoàn thành: {f.due_on.strftime('%d/%m/%Y')}."
            for n, f in enumerate(data.findings, 1)
        ]
        or ["Không có."],
        "noi_nhan": [f"- {r};" for r in data.recipients] + ["- Lưu: VT."],
    }


# -- the default template ------------------------------------------------------------------


def default_template() -> Any:
    """The notice's layout in Vietnamese administrative form, with placeholders."""
    doc = Document()
    style = doc.styles["Normal"]
    style.font.name = "Times New Roman"
    style.font.size = Pt(13)
    header = doc.add_table(rows=2, cols=2)
    _cell(header.cell(0, 0), "{{co_quan}}\n{{doan_in_hoa}}", bold=True)
    _cell(header.cell(0, 1), f"{MOTTO}\n{MOTTO_2}", bold=True)
    _cell(header.cell(1, 0), "Số:      /TB-ĐKT")
    _cell(header.cell(1, 1), "{{ngay}}", italic=True)
    _centered(doc, "THÔNG BÁO", bold=True, size=14)
    _centered(doc, "Kết luận kiểm tra công tác cải cách hành chính", bold=True)
    _centered(doc, "tại {{don_vi}}", bold=True)
    doc.add_paragraph("Căn cứ {{can_cu}};")
    doc.add_paragraph(
        "Thực hiện {{dot}}, {{doan}} đã kiểm tra công tác cải cách hành chính tại "
        "{{don_vi}}. {{doan}} thông báo kết luận kiểm tra như sau:"
    )
    for heading, placeholder in (
        ("I. ƯU ĐIỂM", "uu_diem"),
        ("II. TỒN TẠI, HẠN CHẾ", "ton_tai"),
        ("III. YÊU CẦU KHẮC PHỤC", "khac_phuc"),
    ):
        doc.add_paragraph().add_run(heading).bold = True
        doc.add_paragraph(f"{{{{{placeholder}}}}}")
    doc.add_paragraph(
        "{{don_vi}} báo cáo kết quả khắc phục kèm tài liệu kiểm chứng qua hệ thống "
        "(lệnh /khacphuc) trước thời hạn nêu trên."
    )
    footer = doc.add_table(rows=1, cols=2)
    left = footer.cell(0, 0)
    left.paragraphs[0].add_run("Nơi nhận:").bold = True
    left.add_paragraph("{{noi_nhan}}")
    _cell(footer.cell(0, 1), "TRƯỞNG ĐOÀN\n\n\n\n{{truong_doan}}", bold=True)
    return doc


def _cell(cell: Any, text: str, *, bold: bool = False, italic: bool = False) -> None:
    lines = text.split("\n")
    first = cell.paragraphs[0]
    for n, line in enumerate(lines):
        paragraph = first if n == 0 else cell.add_paragraph()
        paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
        run = paragraph.add_run(line)
        run.bold, run.italic = bold, italic


def _centered(doc: Any, text: str, *, bold: bool = False, size: int | None = None) -> None:
    paragraph = doc.add_paragraph()
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = paragraph.add_run(text)
    run.bold = bold
    if size:
        run.font.size = Pt(size)


# -- filling a template --------------------------------------------------------------------


def _paragraphs(doc: Any) -> Iterator[Paragraph]:
    yield from doc.paragraphs
    for table in doc.tables:
        for row in table.rows:
            for cell in row.cells:
                yield from cell.paragraphs
    for section in doc.sections:
        for part in (section.header, section.footer):
            yield from part.paragraphs


def _set_text(paragraph: Paragraph, text: str) -> None:
    """Replace a paragraph's text, keeping its first run's formatting."""
    runs = paragraph.runs
    if not runs:
        paragraph.add_run(text)
        return
    runs[0].text = text
    for run in runs[1:]:
        run.text = ""


def _fill_list(paragraph: Paragraph, entries: Iterable[str]) -> None:
    """The list placeholder's paragraph becomes the last entry; the others go before it,
    in the same style."""
    entries = list(entries)
    for entry in entries[:-1]:
        paragraph.insert_paragraph_before(entry, style=paragraph.style)
    _set_text(paragraph, entries[-1] if entries else "")


def fill(doc: Any, data: NoticeData) -> Any:
    fields, lists = _fields(data), _lists(data)
    for paragraph in list(_paragraphs(doc)):
        text = paragraph.text
        if "{{" not in text:
            continue
        name = text.strip().removeprefix("{{").removesuffix("}}")
        if name in lists and text.strip() == f"{{{{{name}}}}}":
            _fill_list(paragraph, lists[name])
            continue
        for key, value in fields.items():
            text = text.replace(f"{{{{{key}}}}}", value)
        _set_text(paragraph, text)
    return doc


def write_notice(data: NoticeData, target: Path, template: Path | None = None) -> Path:
    """Write the notice to `target` from `template` (None: the default layout)."""
    doc = Document(str(template)) if template is not None else default_template()
    fill(doc, data)
    target.parent.mkdir(parents=True, exist_ok=True)
    doc.save(str(target))
    return target


def write_template(target: Path) -> Path:
    default_template().save(str(target))
    return target


@dataclass(frozen=True)
class NoticeSettings:
    """CONCLUSION_TEMPLATE, CONCLUSION_ISSUER and CONCLUSION_PLACE (bot/settings.py)."""

    template: Path | None = None
    issuer: str = "Sở Nội vụ"
    place: str = "Thành phố Hồ Chí Minh"
