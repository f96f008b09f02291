"""End to end on Zalo: a document through the personal upload link.

`cchc-bot run`'s runtime with only Zalo and the desk console (WEB_PORT, PUBLIC_URL) against
the fake Zalo Bot API: the contact answers an item that needs evidence, asks to send a
document, gets the link in the chat, uploads a real PDF and a real XLSX over HTTP
(multipart, httpx), and the chat confirms what arrived; the evidence is stored with its
sha256. A forged link and a replaced one give a clear page and store nothing. Runs on
SQLite and PostgreSQL.
"""

from __future__ import annotations

import hashlib
import io
import re
import socket
from pathlib import Path

import httpx
import openpyxl
from sqlalchemy import select

from common.clock import FrozenClock
from storage.db.models import EvidenceFile
from tests import factories
from tests.chat_harness import import_and_codes
from tests.conftest import Db
from tests.fake_zalo import FakeZalo
from tests.test_e2e_zalo import Person, assert_plain_and_short, fake, running_bot, zalo_settings

__all__ = ["fake"]  # the fixture, shared with test_e2e_zalo

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def xlsx_bytes() -> bytes:
    book = openpyxl.Workbook()
    book.active.append(["Chỉ tiêu", "Kết quả"])  # type: ignore[union-attr]
    book.active.append(["Hồ sơ đúng hạn", 98.5])  # type: ignore[union-attr]
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def stored(db: Db) -> list[EvidenceFile]:
    async with db.sessions() as session:
        return list(await session.scalars(select(EvidenceFile).order_by(EvidenceFile.id)))


async def test_a_document_reaches_the_evidence_store_through_the_upload_link(
    db: Db, clock: FrozenClock, fake: FakeZalo, tmp_path: Path
) -> None:
    codes = await import_and_codes(db, clock, factories.campaign())
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    settings = zalo_settings(fake, db, tmp_path).model_copy(
        update={"web_port": port, "web_host": "127.0.0.1", "public_url": public}
    )
    lan = Person(fake, fake.user("7301", "Nguyễn Lan"))
    xlsx = xlsx_bytes()
    async with running_bot(settings, clock), httpx.AsyncClient(timeout=10) as web:
        await fake.wait_polling()
        await lan.text(f"/start {codes['U1'][0]}", "Ủy ban nhân dân Phường 1")
        await lan.pick("Bắt đầu", "Mục 1/7")
        await lan.text("31/12/2020", "tài liệu kiểm chứng")
        first = await lan.pick("Gửi tài liệu", "/up/")
        link = re.search(re.escape(public) + r"/up/[A-Za-z0-9_-]+", first.text)
        assert link, first.text
        page = await web.get(link.group(0))
        assert page.status_code == 200 and "mục 1.1" in page.text
        mark = fake.mark()
        files = [
            ("file", ("Kế hoạch CCHC 2021.pdf", PDF, "application/pdf")),
            ("file", ("Số liệu.xlsx", xlsx, "application/octet-stream")),
        ]
        uploaded = await web.post(
            link.group(0), files=files, headers={"Accept": "application/json"}
        )
        assert uploaded.status_code == 200
        assert [f["ok"] for f in uploaded.json()["files"]] == [True, True]
        told = await lan.expect("Đã nhận qua trang tải lên cho mục 1.1", mark)
        assert "Kế hoạch CCHC 2021.pdf" in told.text and "Số liệu.xlsx" in told.text
        assert "Mục 1.1 hiện có 2 tệp" in told.text
        # A forged token, and the first link once a new one replaced it: nothing stored.
        second = await lan.pick("Gửi tài liệu", "/up/")
        assert link.group(0) not in second.text
        forged = link.group(0)[:-3] + ("abc" if not link.group(0).endswith("abc") else "xyz")
        for url in (forged, link.group(0)):
            refused = await web.post(url, files=[("file", ("Khác.pdf", PDF + b"%x\n"))])
            assert refused.status_code == 410 and "không dùng được" in refused.text
        await lan.pick("Tiếp tục", "Mục 2/7")
    rows = await stored(db)
    assert [r.file_name for r in rows] == ["Kế hoạch CCHC 2021.pdf", "Số liệu.xlsx"]
    assert [r.sha256 for r in rows] == [
        hashlib.sha256(PDF).hexdigest(),
        hashlib.sha256(xlsx).hexdigest(),
    ]
    on_disk = sorted(p.name for p in (tmp_path / "evidence").rglob("*") if p.is_file())
    assert len(on_disk) == 2
    reopened = openpyxl.load_workbook(tmp_path / "evidence" / rows[1].storage_path)
    assert reopened.active["A2"].value == "Hồ sơ đúng hạn"  # type: ignore[index]
    assert_plain_and_short(fake)
