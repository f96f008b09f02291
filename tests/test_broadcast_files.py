"""Files attached to a /broadcast: kept under the name the sender gave, made safe by the
evidence store's sanitiser, and refused (with the reason) when empty or not of their type."""

from __future__ import annotations

from pathlib import Path

import pytest

from storage.services.evidence import MAX_NAME_BYTES
from tests.chat_harness import Chat
from tests.test_evidence_content import HTML
from tests.test_handlers_team import PDF, _outbox, people  # noqa: F401 (the fixture)


async def _writing(admin: Chat) -> None:
    await admin.command("broadcast")
    await admin.text("Đề nghị các đơn vị hoàn thành báo cáo trước 17:00 ngày 30/9.")


async def _sent_document(admin: Chat, db) -> dict[str, str]:
    await admin.press_label("Tất cả đơn vị")
    await admin.press_label("Gửi ngay")
    rows = await _outbox(db, "notices.notice")
    assert rows
    return rows[0].params["_document"]


@pytest.mark.parametrize(
    ("name", "kept"),
    [
        ("Hướng dẫn/2021.pdf", "Hướng dẫn_2021.pdf"),
        ("../../../etc/cron.d/x.pdf", "_.._.._etc_cron.d_x.pdf"),
        ("\u202eHướng dẫn.pdf", "_Hướng dẫn.pdf"),
    ],
)
async def test_a_name_with_separators_is_attached_under_a_safe_name(
    people,  # noqa: F811
    db,
    tmp_path: Path,
    name: str,
    kept: str,
) -> None:
    admin = people["admin"]
    await _writing(admin)
    await admin.file(name, PDF)
    assert f"Đã đính kèm «{kept}»" in admin.text_out
    document = await _sent_document(admin, db)
    path = Path(document["path"])
    assert document["name"] == path.name == kept and path.read_bytes() == PDF
    assert path.is_relative_to((tmp_path / "evidence" / "notices").resolve())


async def test_a_name_over_255_bytes_is_attached_shortened(people, db):  # noqa: F811
    admin = people["admin"]
    await _writing(admin)
    await admin.file("Hướng dẫn thực hiện chỉ số cải cách hành chính " * 8 + ".pdf", PDF)
    assert "Đã đính kèm «Hướng dẫn thực hiện" in admin.text_out
    document = await _sent_document(admin, db)
    assert len(document["name"].encode()) <= MAX_NAME_BYTES and document["name"].endswith(".pdf")
    assert Path(document["path"]).read_bytes() == PDF


@pytest.mark.parametrize("told", [0, None])
async def test_an_empty_attachment_is_refused(people, db, told):  # noqa: F811
    admin = people["admin"]
    await _writing(admin)
    await admin.file("huong-dan.pdf", b"", size=told)
    assert "Tệp huong-dan.pdf rỗng (0 byte), không gửi được" in admin.text_out
    assert await _sent_document_or_none(admin, db) is None


async def test_an_attachment_not_of_its_type_is_refused(people, db):  # noqa: F811
    admin = people["admin"]
    await _writing(admin)
    await admin.file("huong-dan.pdf", HTML)
    assert "Tệp huong-dan.pdf không phải tệp .pdf thật" in admin.text_out
    assert await _sent_document_or_none(admin, db) is None


async def test_a_name_with_markup_is_shown_escaped(people):  # noqa: F811
    admin = people["admin"]
    await _writing(admin)
    await admin.file("<b>&amp;</b>.exe", b"MZ")
    assert "<b>" not in admin.text_out and "_b_&amp;amp;__b_.exe" in admin.text_out


async def _sent_document_or_none(admin: Chat, db) -> dict[str, str] | None:
    """Send the notice anyway (the audience buttons above still work): without a file."""
    await admin.press("bca:all")
    await admin.press_label("Gửi ngay")
    rows = await _outbox(db, "notices.notice")
    assert rows
    return rows[0].params.get("_document")
