"""Exporting a campaign: the workbook and the evidence ZIP match the database, on both backends.

The campaign is filled through the real conversation (tests/chat_harness), so answers,
evidence files on disk and the audit log are what a real round would leave behind.
"""

from __future__ import annotations

import csv
import hashlib
import io
import zipfile
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy import select, update

import bot.cli_export  # noqa: F401  (registers the command)
from bot.cli import cli
from common.clock import FrozenClock
from common.messages import InboundKind
from handlers.dispatcher import Dispatcher
from storage.db.models import (
    Answer,
    Assignment,
    AuditEntry,
    Campaign,
    EvidenceFile,
    Submission,
    Team,
    Unit,
)
from storage.formats.campaign_spec import TeamSpec
from storage.formats.export_xlsx import (
    ExportStats,
    ReadableValues,
    begin_snapshot,
    column_widths,
    competition_ranks,
    export_workbook,
)
from storage.formats.export_zip import ArchiveNames, export_evidence_zip
from storage.rules.answers import format_value
from storage.services.checklist import ItemInfo, read_checklist
from storage.services.evidence import EvidenceStore
from tests import factories
from tests.chat_harness import CATALOG, Chat, import_and_codes, make_deps
from tests.conftest import Db

VI = CATALOG.for_locale("vi")
EN = CATALOG.for_locale("en")
PDF = "%PDF-1.4\n% kế hoạch CCHC năm 2021\n".encode()
PDF_V2 = "%PDF-1.4\n% kế hoạch CCHC năm 2021 (bản sửa)\n".encode()
JPEG = b"\xff\xd8\xff\xe0 anh chup man hinh"
FORMULA = '=HYPERLINK("http://x.invalid","bấm")'


# -- a campaign filled through the chat ---------------------------------------------------


def _spec() -> Any:
    """Three units: U1 and U2 in team D1, U3 in team D2."""
    spec = factories.campaign(units=3)
    teams = (*spec.teams, TeamSpec("D2", "Đoàn kiểm tra số 2", leaders=1, members=0))
    return replace(spec, teams=teams, units=(*spec.units[:2], replace(spec.units[2], team="D2")))


async def _join(dispatcher: Dispatcher, clock: FrozenClock, code: str, name: str) -> Chat:
    chat = Chat(dispatcher, clock, name=name)
    await chat.command("start", code)
    return chat


async def _strong_report(chat: Chat) -> None:
    """U1: every item at full marks, two versions of the plan named alike, a screenshot."""
    await chat.command("checklist")
    await chat.text("31/12/2020")  # 1.1 date
    await chat.file("ke-hoach.pdf", PDF)
    await chat.file("ke-hoach.pdf", PDF_V2)  # same name, other content
    await chat.press_label("Tiếp tục")
    await chat.press_label("Có")  # 1.2 yes/no
    await chat.file("anh.jpg", JPEG, "image/jpeg", InboundKind.PHOTO)
    await chat.press_label("Tiếp tục")
    await chat.text("95,5 %")  # 1.3 percent
    await chat.text("0")  # 5.2 number
    await chat.press_label("Đã áp dụng")  # 7.3 choice
    await chat.press_label("Tiếp tục")
    await chat.press_label("Chữ ký số")  # 7.4 multi
    await chat.press_label("Một cửa")
    await chat.press_label("Xong")
    await chat.text("Đề nghị tăng kinh phí & nhân lực")  # 9.1 text


async def _weak_report(chat: Chat) -> None:
    """U3: late plan, no budget, 75%, two disciplined, no ISO; text that looks like a formula."""
    await chat.command("checklist")
    await chat.text("15/01/2021")  # 1.1: after 31/12/2020 -> 0.5
    await chat.file("kh-2021.pdf", PDF_V2)
    await chat.press_label("Tiếp tục")
    await chat.press_label("Không")  # 1.2 -> 0
    await chat.file("bao-cao.pdf", PDF)
    await chat.press_label("Tiếp tục")
    await chat.text("75")  # 1.3 -> 1
    await chat.text("2")  # 5.2 -> 0
    await chat.press_label("Chưa")  # 7.3 -> 0
    await chat.press_label("Tiếp tục")
    await chat.press_label("Quản lý văn bản")  # 7.4
    await chat.press_label("Xong")
    await chat.text(FORMULA)  # 9.1


async def _submit(chat: Chat) -> None:
    await chat.press_label("Nộp báo cáo")
    await chat.press_label("Xác nhận")
    assert "Đã nộp báo cáo" in chat.text_out, chat.text_out


@pytest.fixture
async def world(db: Db, clock: FrozenClock, tmp_path: Path) -> dict[str, Any]:
    codes = await import_and_codes(db, clock, _spec())
    deps = make_deps(db, clock, tmp_path)
    dispatcher = Dispatcher(deps)
    await _join(dispatcher, clock, codes["team_leader:D1"][0], "Trưởng đoàn Hùng")
    lan = await _join(dispatcher, clock, codes["U1"][0], "Nguyễn Thị Lan")
    await _strong_report(lan)
    await _submit(lan)  # on time: 01/09/2021 08:00
    minh = await _join(dispatcher, clock, codes["U2"][0], "Trần Văn Minh")
    await minh.command("checklist")
    await minh.text("15/01/2021")  # in progress: 0.5 so far
    await minh.file("ke-hoach.pdf", PDF)
    binh = await _join(dispatcher, clock, codes["U3"][0], "Lê Văn Bình")
    clock.advance(timedelta(days=40))  # past every deadline
    await _weak_report(binh)
    await _submit(binh)
    async with db.sessions() as session, session.begin():
        campaign = (await session.scalars(select(Campaign))).one()
        u1 = await _submission(session, "U1")
        # the team appraised U1 below its self-score (thẩm định)
        await session.execute(
            update(Submission)
            .where(Submission.id == u1.id)
            .values(appraised_score=5.0, status="accepted")
        )
    return {"campaign_id": campaign.id, "store": deps.evidence, "tmp": tmp_path}


async def _submission(session: Any, unit_code: str) -> Submission:
    return (
        await session.scalars(
            select(Submission).join(Assignment).join(Unit).where(Unit.code == unit_code)
        )
    ).one()


async def _export(
    db: Db, world: dict[str, Any], name: str = "kq.xlsx", **kw: Any
) -> tuple[Path, ExportStats, list[tuple[int, int]]]:
    path = world["tmp"] / name
    calls: list[tuple[int, int]] = []
    async with db.sessions() as session:
        await begin_snapshot(session)
        stats = await export_workbook(
            session,
            world["campaign_id"],
            path,
            tr=kw.pop("tr", VI),
            progress=lambda d, t: calls.append((d, t)),
            **kw,
        )
    return path, stats, calls


def _rows(ws: Worksheet, skip: int = 1) -> list[list[Any]]:
    return [list(row) for row in ws.iter_rows(min_row=skip + 1, values_only=True)]


def _by_unit(ws: Worksheet, code_col: int, skip: int = 1) -> dict[str, list[Any]]:
    return {row[code_col]: row for row in _rows(ws, skip)}


def _local(moment: datetime) -> datetime:
    """What Excel shows: the campaign's wall-clock time (UTC+7), without a zone."""
    return (moment + timedelta(hours=7)).replace(tzinfo=None)


# -- the workbook ----------------------------------------------------------------------------


async def test_summary_matches_the_database(db: Db, world: dict[str, Any]) -> None:
    path, stats, calls = await _export(db, world)
    wb = load_workbook(path)
    assert wb.sheetnames == [
        "Tổng hợp",
        "Câu trả lời",
        "Tài liệu kiểm chứng",
        "Lịch sử",
        "Xếp hạng",
        "Khắc phục",
    ]
    ws = wb["Tổng hợp"]
    assert [c.value for c in ws[1]] == [
        "STT",
        "Mã đơn vị",
        "Tên đơn vị",
        "Đoàn kiểm tra",
        "Trạng thái",
        "Hạn nộp",
        "Thời gian nộp",
        "Nộp muộn",
        "Điểm tự đánh giá",
        "Điểm thẩm định",
        "Xếp hạng",
    ]
    rows = _by_unit(ws, 1)
    assert list(rows) == ["U1", "U2", "U3"]  # the campaign file's order
    u1, u2, u3 = rows["U1"], rows["U2"], rows["U3"]
    assert u1[3:5] == ["Đoàn kiểm tra số 1", "Đã chấp nhận"]
    assert u2[3:5] == ["Đoàn kiểm tra số 1", "Đang trả lời"]
    assert u3[3:5] == ["Đoàn kiểm tra số 2", "Đã nộp"]
    assert u1[6] == datetime(2021, 9, 1, 8, 0) and u2[6] is None
    assert u3[6] == datetime(2021, 10, 11, 8, 0)
    assert (u1[7], u2[7], u3[7]) == (None, None, "Có")  # only U3 was late
    # self-scores: stored at submission, computed from the answers for U2 (in progress)
    assert (u1[8], u2[8], u3[8]) == (5.5, 0.5, 1.5)
    assert (u1[9], u2[9], u3[9]) == (5.0, None, None)
    # rank by the appraised score when there is one, else the self-score; U2 is unranked
    assert (u1[10], u2[10], u3[10]) == (1, None, 2)
    # Issue 19: scores are numeric cells shown to two decimals.
    score_cells = [ws.cell(row=2, column=9), ws.cell(row=2, column=10)]
    assert [(c.data_type, c.number_format) for c in score_cells] == [("n", "0.00")] * 2
    async with db.sessions() as session:
        stored = dict(
            (
                await session.execute(
                    select(Unit.code, Submission.self_score)
                    .join(Assignment, Assignment.unit_id == Unit.id)
                    .join(Submission)
                )
            ).all()
        )
        deadlines = dict(
            (await session.execute(select(Unit.code, Assignment.deadline).join(Unit))).all()
        )
        campaign = await session.get(Campaign, world["campaign_id"])
        assert campaign is not None
    assert stored == {"U1": 5.5, "U2": None, "U3": 1.5}  # U2's is computed for the sheet
    assert u1[5] == _local(deadlines["U1"] or campaign.deadline)  # 30/09/2021 17:00
    assert u2[5] == _local(deadlines["U2"] or campaign.deadline)
    assert u1[5] == datetime(2021, 9, 30, 17, 0) and u2[5] == datetime(2021, 9, 28, 17, 0)
    assert (stats.units, stats.items) == (3, 7)
    assert calls[-1][0] == calls[-1][1] and calls == sorted(calls)


async def test_dates_are_real_excel_dates_with_a_day_first_format(
    db: Db, world: dict[str, Any]
) -> None:
    path, _, _ = await _export(db, world)
    wb = load_workbook(path)
    summary = wb["Tổng hợp"]
    for cell in (summary["F2"], summary["G2"]):
        assert isinstance(cell.value, datetime) and cell.number_format == "dd/mm/yyyy hh:mm"
    evidence = wb["Tài liệu kiểm chứng"]
    assert evidence["H2"].number_format == "dd/mm/yyyy hh:mm"
    assert evidence["E2"].number_format == "#,##0"
    history = wb["Lịch sử"]
    assert all(row[0].number_format == "dd/mm/yyyy hh:mm" for row in history.iter_rows(min_row=2))


async def test_every_answer_is_readable_in_its_unit_row_and_item_column(
    db: Db, world: dict[str, Any]
) -> None:
    path, stats, _ = await _export(db, world)
    ws = load_workbook(path)["Câu trả lời"]
    codes = [c.value for c in ws[1]]
    assert codes[:3] == ["Mã đơn vị", "Tên đơn vị", "Đoàn kiểm tra"]
    assert codes[3:] == ["1.1", "1.2", "1.3", "5.2", "7.3", "7.4", "9.1"]
    assert ws["D2"].value == "Ban hành kế hoạch CCHC năm đúng thời hạn"  # texts, 2nd row
    rows = _by_unit(ws, 0, skip=2)
    async with db.sessions() as session:
        checklist = await read_checklist(session, world["campaign_id"])
        answers = (
            await session.execute(
                select(Unit.code, Answer.item_id, Answer.value)
                .join(Submission, Submission.id == Answer.submission_id)
                .join(Assignment)
                .join(Unit)
                .where(Answer.value.is_not(None))
            )
        ).all()
    assert len(answers) == stats.answers == 15  # 7 + 1 + 7
    filled = 0
    for unit_code, item_id, value in answers:
        item = checklist.by_id(item_id)
        assert item is not None
        cell = rows[unit_code][codes.index(item.code)]
        if item.type == "percent":  # issue 19: a numeric cell, Excel's 100% being 1
            assert cell == pytest.approx(value / 100)
        elif item.type == "number":
            assert cell == value
        else:
            assert cell == format_value(item, value, VI)
        filled += 1
    cells = sum(v is not None for row in rows.values() for v in row[3:])
    assert cells == filled  # nothing else in the grid
    assert rows["U1"][3:] == [
        "31/12/2020",
        "Có",
        0.955,
        0,
        "Đã áp dụng",
        "Một cửa điện tử; Chữ ký số",
        "Đề nghị tăng kinh phí & nhân lực",
    ]
    # Issue 19: numbers are numeric cells with a format, not text.
    percent, number = ws["F3"], ws["G3"]  # U1's 1.3 (95,5%) and 5.2 (0)
    assert (percent.data_type, percent.number_format) == ("n", "0.##%")
    assert (number.data_type, number.number_format) == ("n", "#,##0")
    assert rows["U3"][9] == FORMULA  # typed text stays text, never a formula
    assert ws["J5"].data_type == "s"


async def test_evidence_rows_with_sha256(db: Db, world: dict[str, Any]) -> None:
    path, stats, _ = await _export(db, world)
    ws = load_workbook(path)["Tài liệu kiểm chứng"]
    assert [c.value for c in ws[1]] == [
        "Mã đơn vị",
        "Tên đơn vị",
        "Tiêu chí",
        "Tên tệp",
        "Dung lượng (byte)",
        "Mã băm SHA-256",
        "Người gửi",
        "Thời gian gửi",
    ]
    rows = _rows(ws)
    assert [(r[0], r[2], r[3]) for r in rows] == [
        ("U1", "1.1", "ke-hoach.pdf"),
        ("U1", "1.1", "ke-hoach.pdf"),
        ("U1", "1.2", "anh.jpg"),
        ("U2", "1.1", "ke-hoach.pdf"),
        ("U3", "1.1", "kh-2021.pdf"),
        ("U3", "1.2", "bao-cao.pdf"),
    ]
    contents = [PDF, PDF_V2, JPEG, PDF, PDF_V2, PDF]
    assert [r[4] for r in rows] == [len(c) for c in contents]
    assert [r[5] for r in rows] == [hashlib.sha256(c).hexdigest() for c in contents]
    assert [r[6] for r in rows[:4]] == ["Nguyễn Thị Lan"] * 3 + ["Trần Văn Minh"]
    assert rows[0][7] == datetime(2021, 9, 1, 8, 0)
    assert stats.evidence_files == 6


async def test_history_is_the_audit_log(db: Db, world: dict[str, Any]) -> None:
    path, stats, _ = await _export(db, world)
    ws = load_workbook(path)["Lịch sử"]
    assert [c.value for c in ws[1]] == [
        "Thời gian",
        "Người thực hiện",
        "Hoạt động",
        "Đối tượng",
        "Chi tiết",
    ]
    rows = _rows(ws)
    async with db.sessions() as session:
        entries = list(
            await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.campaign_id == world["campaign_id"])
                .order_by(AuditEntry.at, AuditEntry.id)
            )
        )
    assert len(rows) == len(entries) == stats.history_entries
    assert [r[0] for r in rows] == [_local(e.at) for e in entries]
    assert [r[3] for r in rows] == [e.subject for e in entries]
    actions = [r[2] for r in rows]
    assert actions[0] == "Nhập tệp đợt kiểm tra" and rows[0][1] == "cli"
    assert actions.count("Dùng mã mời") == 4 and actions.count("Nộp báo cáo") == 2
    submitted = [r for r in rows if r[2] == "Nộp báo cáo"]
    assert [(r[1], r[3]) for r in submitted] == [("Nguyễn Thị Lan", "U1"), ("Lê Văn Bình", "U3")]
    assert '"late": true' in submitted[1][4]


async def test_headers_are_frozen_and_columns_fit(db: Db, world: dict[str, Any]) -> None:
    path, _, _ = await _export(db, world)
    wb = load_workbook(path)
    frozen = {name: wb[name].freeze_panes for name in wb.sheetnames}
    assert frozen == {
        "Tổng hợp": "D2",
        "Câu trả lời": "C3",
        "Tài liệu kiểm chứng": "A2",
        "Lịch sử": "A2",
        "Xếp hạng": "E2",
        "Khắc phục": "C2",
    }
    widths = wb["Tài liệu kiểm chứng"].column_dimensions
    assert widths["F"].width == 64 + 2  # a sha256 fits whole
    assert widths["D"].width >= len("ke-hoach.pdf")
    summary = wb["Tổng hợp"]
    assert summary.column_dimensions["C"].width >= len("Ủy ban nhân dân Phường 1")
    assert summary.auto_filter.ref == "A1:K4"


async def test_english_headers_come_from_the_catalog(db: Db, world: dict[str, Any]) -> None:
    path, _, _ = await _export(db, world, tr=EN, locale="en")
    wb = load_workbook(path)
    assert wb.sheetnames == ["Summary", "Answers", "Evidence", "History", "Ranking", "Remediation"]
    assert wb["Summary"]["E2"].value == "Accepted"
    assert wb["Answers"]["E3"].value == "Yes"


async def test_a_team_export_holds_only_that_teams_units(db: Db, world: dict[str, Any]) -> None:
    async with db.sessions() as session:
        d2 = (await session.scalars(select(Team.id).where(Team.code == "D2"))).one()
    path, stats, _ = await _export(db, world, team_ids={d2})
    wb = load_workbook(path)
    summary = _rows(wb["Tổng hợp"])
    assert [(r[1], r[10]) for r in summary] == [("U3", 1)]  # ranked within the export
    assert list(_by_unit(wb["Câu trả lời"], 0, skip=2)) == ["U3"]
    assert {r[0] for r in _rows(wb["Tài liệu kiểm chứng"])} == {"U3"}
    history = _rows(wb["Lịch sử"])
    assert {r[3] for r in history if r[2] == "Nộp báo cáo"} == {"U3"}
    assert "U1" not in {r[3] for r in history}
    assert (stats.units, stats.answers, stats.evidence_files) == (1, 7, 2)


async def test_an_empty_campaign_still_gives_a_workbook(
    db: Db, clock: FrozenClock, tmp_path: Path
) -> None:
    await import_and_codes(db, clock, factories.campaign())
    async with db.sessions() as session:
        campaign_id = (await session.scalars(select(Campaign.id))).one()
        stats = await export_workbook(session, campaign_id, tmp_path / "e.xlsx", tr=VI)
    wb = load_workbook(tmp_path / "e.xlsx")
    assert [r[4] for r in _rows(wb["Tổng hợp"])] == ["Chưa bắt đầu"] * 3
    assert [r[8] for r in _rows(wb["Tổng hợp"])] == [0, 0, 0]
    assert _rows(wb["Tài liệu kiểm chứng"]) == [] and stats.answers == 0


# -- pure helpers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scores", "ranks"),
    [
        ([5.0, 3.0, 4.0], [1, 3, 2]),
        ([5.0, 4.0, 4.0, 3.0], [1, 2, 2, 4]),
        ([None, 2.0, None], [None, 1, None]),
        ([1.5 * 65 / 70, 1.3928571428571428, 1.0], [1, 1, 3]),  # float noise is not a gap
        ([], []),
    ],
)
def test_competition_ranks(scores: list[float | None], ranks: list[int | None]) -> None:
    assert competition_ranks(scores) == ranks


def test_column_widths_fit_within_bounds() -> None:
    widths = column_widths([["Mã", "x" * 80]], [["U1", "ngắn"], [None, datetime(2021, 1, 1)]])
    assert widths == [8, 32]  # at least 6 + 2; a long header wraps at 30
    assert column_widths([["a"]], [["y" * 500]]) == [66]


def test_readable_values_keep_types_apart() -> None:
    yesno = replace(_item("yesno"), id=1)
    readable = ReadableValues(VI)
    assert [readable(yesno, v) for v in (True, 1, True, None)] == ["Có", "1", "Có", None]
    multi = replace(_item("multi"), id=2, options=("A", "B"))
    assert readable(multi, ["A", "B"]) == readable(multi, ["A", "B"]) == "A; B"
    assert readable(multi, {"odd": 1}) == "{'odd': 1}"  # an unexpected shape, shown raw


def _item(kind: str) -> ItemInfo:
    return ItemInfo(
        id=0,
        code="1",
        index=0,
        section_id=1,
        section_title="",
        text="",
        help="",
        type=kind,
        options=(),
        required=True,
        evidence="none",
        points=1.0,
        scoring=None,
        min=None,
        max=None,
        max_length=None,
    )


def test_archive_names_are_safe_and_unique() -> None:
    names = ArchiveNames()
    first = names.claim("U1", "UBND Phường 1", "1.1", "ke-hoach.pdf")
    assert first == "U1 - UBND Phường 1/1.1/ke-hoach.pdf"
    assert names.claim("U1", "UBND Phường 1", "1.1", "KE-HOACH.pdf") == (
        "U1 - UBND Phường 1/1.1/KE-HOACH (2).pdf"
    )
    assert names.claim("U1", "UBND Phường 1", "1.1", "ke-hoach.pdf").endswith("ke-hoach (3).pdf")
    assert names.claim("U/2", "A/B", "2.1", "../../etc/passwd") == "U_2 - A_B/2.1/_.._etc_passwd"
    assert names.claim("U1", "x", "1.1", "README") == "U1 - x/1.1/README"
    assert names.claim("U1", "x", "1.1", "readme") == "U1 - x/1.1/readme (2)"


# -- the evidence ZIP ------------------------------------------------------------------------


async def test_zip_holds_the_files_by_unit_and_item_with_identical_bytes(
    db: Db, world: dict[str, Any]
) -> None:
    path = world["tmp"] / "tai-lieu.zip"
    async with db.sessions() as session:
        stats = await export_evidence_zip(
            session, world["campaign_id"], path, store=world["store"], tr=VI
        )
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        assert sorted(n for n in names if n != "danh-muc-tai-lieu.csv") == [
            "U1 - Ủy ban nhân dân Phường 1/1.1/ke-hoach (2).pdf",
            "U1 - Ủy ban nhân dân Phường 1/1.1/ke-hoach.pdf",
            "U1 - Ủy ban nhân dân Phường 1/1.2/anh.jpg",
            "U2 - Ủy ban nhân dân Phường 2/1.1/ke-hoach.pdf",
            "U3 - Ủy ban nhân dân Phường 3/1.1/kh-2021.pdf",
            "U3 - Ủy ban nhân dân Phường 3/1.2/bao-cao.pdf",
        ]
        read = archive.read
        assert read("U1 - Ủy ban nhân dân Phường 1/1.1/ke-hoach.pdf") == PDF
        assert read("U1 - Ủy ban nhân dân Phường 1/1.1/ke-hoach (2).pdf") == PDF_V2
        assert read("U1 - Ủy ban nhân dân Phường 1/1.2/anh.jpg") == JPEG
        manifest = _manifest(read("danh-muc-tai-lieu.csv"))
    assert manifest[0][0] == "Đường dẫn trong tệp ZIP"
    assert len(manifest) == 7 and all(row[-1] == "Đầy đủ" for row in manifest[1:])
    assert manifest[1][6] == hashlib.sha256(PDF).hexdigest()
    assert manifest[1][8] == "01/09/2021 08:00"
    assert (stats.files, stats.missing, stats.changed) == (6, 0, 0)


def _manifest(data: bytes) -> list[list[str]]:
    assert data.startswith("\ufeff".encode())  # Excel reads the Vietnamese letters
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


async def test_zip_reports_missing_and_changed_files_instead_of_failing(
    db: Db, world: dict[str, Any]
) -> None:
    store: EvidenceStore = world["store"]
    async with db.sessions() as session:
        files = {
            f.file_name: f
            for f in await session.scalars(select(EvidenceFile).order_by(EvidenceFile.id))
        }
    store.path_of(files["anh.jpg"].storage_path).unlink()
    store.path_of(files["kh-2021.pdf"].storage_path).write_bytes(b"tampered")
    path = world["tmp"] / "tai-lieu.zip"
    async with db.sessions() as session:
        stats = await export_evidence_zip(session, world["campaign_id"], path, store=store, tr=EN)
    with zipfile.ZipFile(path) as archive:
        assert not any(n.endswith("anh.jpg") for n in archive.namelist())
        manifest = _manifest(archive.read("evidence-list.csv"))
    status = {row[4]: (row[0], row[-1]) for row in manifest[1:]}
    assert status["anh.jpg"] == ("", "File not found on the server")
    assert status["kh-2021.pdf"][1] == "File content differs from its stored hash"
    assert (stats.files, stats.missing, stats.changed) == (5, 1, 1)
    assert not list(world["tmp"].glob("*.part"))


async def test_zip_for_one_team(db: Db, world: dict[str, Any]) -> None:
    async with db.sessions() as session:
        d1 = (await session.scalars(select(Team.id).where(Team.code == "D1"))).one()
        path = world["tmp"] / "d1.zip"
        await export_evidence_zip(
            session, world["campaign_id"], path, store=world["store"], team_ids=[d1], tr=VI
        )
    with zipfile.ZipFile(path) as archive:
        folders = {n.split("/")[0] for n in archive.namelist() if "/" in n}
    assert folders == {"U1 - Ủy ban nhân dân Phường 1", "U2 - Ủy ban nhân dân Phường 2"}


# -- the command line ----------------------------------------------------------------------------


def _run(db: Db, world: dict[str, Any], *args: str, lang: str = "vi") -> Result:
    env = {
        "DATABASE_URL": db.url,
        "CCHC_LANG": lang,
        "BOT_USERNAME": "cchc_test_bot",
        "EVIDENCE_DIR": str(world["store"].root),
    }
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def test_cli_exports_the_workbook_and_the_zip(db: Db, world: dict[str, Any]) -> None:
    out = world["tmp"] / "ket-qua.xlsx"
    result = _run(db, world, "export", "KT-TEST", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "Đã xuất 3 đơn vị, 15 câu trả lời, 6 tài liệu" in result.stdout
    assert "Đang xuất" in result.stderr  # the progress bar, kept off stdout
    assert load_workbook(out)["Tổng hợp"]["B4"].value == "U3"
    team = _run(db, world, "export", "KT-TEST", "--team", "d2", "-o", str(out))
    assert team.exit_code == 0 and "Đã xuất 1 đơn vị" in team.stdout
    assert [r[1] for r in _rows(load_workbook(out)["Tổng hợp"])] == ["U3"]
    zipped = world["tmp"] / "tai-lieu.zip"
    packed = _run(db, world, "export", "KT-TEST", "--evidence", "-o", str(zipped), lang="en")
    assert packed.exit_code == 0, packed.output
    assert "Packed 6 evidence files" in packed.stdout
    with zipfile.ZipFile(zipped) as archive:
        assert "evidence-list.csv" in archive.namelist()


def test_cli_refuses_unknown_campaign_team_and_suffix(db: Db, world: dict[str, Any]) -> None:
    unknown = _run(db, world, "export", "NOPE")
    assert unknown.exit_code == 1 and "Không có đợt kiểm tra mã NOPE" in unknown.output
    team = _run(db, world, "export", "KT-TEST", "--team", "D9")
    assert team.exit_code == 1 and "Đoàn D9 không thuộc đợt kiểm tra KT-TEST" in team.output
    suffix = _run(db, world, "export", "KT-TEST", "-o", str(world["tmp"] / "x.zip"))
    assert suffix.exit_code == 1 and "--evidence" in suffix.output
