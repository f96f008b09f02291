"""`cchc-bot conclusion`: the official notice as a real .docx, opened back with python-docx;
an admin's own template; issuing it once (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from pathlib import Path

from click.testing import CliRunner, Result
from docx import Document
from sqlalchemy import select

from bot.cli import cli
from storage import db as storage_db
from storage.db import transaction
from storage.db.models import AuditEntry, Campaign, Conclusion, Person
from storage.services.conclusions import add_shortcoming, assignment_by_codes, set_strengths
from tests.conftest import EXAMPLE_CAMPAIGN

NOW = datetime(2021, 10, 5, 3, 0, tzinfo=UTC)


def run(url: str, tmp_path: Path, *args: str, **env: str) -> Result:
    environment = {
        "DATABASE_URL": url,
        "CCHC_LANG": "vi",
        "EVIDENCE_DIR": str(tmp_path / "evidence"),
        **env,
    }
    return CliRunner().invoke(cli, list(args), env=environment, catch_exceptions=False)


async def _conclude(url: str) -> None:
    engine = storage_db.create_engine(url)
    sessions = storage_db.session_factory(engine)
    async with transaction(sessions) as session:
        leader = Person(full_name="Trần Văn Minh", created_at=NOW)
        session.add(leader)
        await session.flush()
        campaign_id = int(await session.scalar(select(Campaign.id)) or 0)
        assignment = await assignment_by_codes(session, campaign_id, "snv")
        assert assignment is not None
        await set_strengths(
            session, assignment, "Ban hành kế hoạch CCHC kịp thời", person_id=leader.id, now=NOW
        )
        for text, fix, due in (
            (
                "Chưa công khai đầy đủ thủ tục hành chính",
                "Công khai đầy đủ TTHC",
                date(2021, 10, 20),
            ),
            ("Tỷ lệ hồ sơ trực tuyến thấp", "Đẩy mạnh dịch vụ công trực tuyến", date(2021, 11, 1)),
        ):
            await add_shortcoming(
                session, assignment, text=text, fix=fix, due_on=due, person_id=leader.id, now=NOW
            )
    await engine.dispose()


async def _issued(url: str) -> tuple[Conclusion, list[str]]:
    engine = storage_db.create_engine(url)
    async with storage_db.session_factory(engine)() as session:
        [conclusion] = list(await session.scalars(select(Conclusion)))
        actions = list(
            await session.scalars(
                select(AuditEntry.action).where(AuditEntry.action == "conclusion.issue")
            )
        )
    await engine.dispose()
    return conclusion, actions


def _text(path: Path) -> str:
    doc = Document(str(path))
    parts = [p.text for p in doc.paragraphs]
    for table in doc.tables:
        parts += [c.text for row in table.rows for c in row.cells]
    return "\n".join(parts)


def test_the_notice_is_a_real_docx_with_every_finding(backend_url: str, tmp_path: Path):
    assert run(backend_url, tmp_path, "campaign", "import", str(EXAMPLE_CAMPAIGN)).exit_code == 0
    none_yet = run(backend_url, tmp_path, "conclusion", "KT2021-D1", "--unit", "SNV")
    assert none_yet.exit_code == 1 and "chưa có kết luận" in none_yet.output
    asyncio.run(_conclude(backend_url))
    target = tmp_path / "snv.docx"
    written = run(
        backend_url, tmp_path, "conclusion", "KT2021-D1", "--unit", "SNV", "-o", str(target)
    )
    assert written.exit_code == 0, written.output
    text = _text(target)
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in text
    assert "Độc lập - Tự do - Hạnh phúc" in text
    assert "THÔNG BÁO" in text and "Kết luận kiểm tra công tác cải cách hành chính" in text
    assert "SỞ NỘI VỤ" in text  # the issuing body (CONCLUSION_ISSUER's default)
    assert "Thành phố Hồ Chí Minh, ngày 05 tháng 10 năm 2021" in text
    assert "Quyết định số 2533/QĐ-UBND" in text  # the campaign's basis
    assert "tại Sở Nội vụ" in text
    assert "1. Chưa công khai đầy đủ thủ tục hành chính" in text
    assert "2. Tỷ lệ hồ sơ trực tuyến thấp" in text
    assert "1. Công khai đầy đủ TTHC. Thời hạn hoàn thành: 20/10/2021." in text
    assert "Thời hạn hoàn thành: 01/11/2021." in text
    assert "Nơi nhận:" in text and "Lưu: VT." in text
    assert "{{" not in text  # every placeholder replaced
    unknown = run(backend_url, tmp_path, "conclusion", "KT2021-D1", "--unit", "NOPE")
    assert unknown.exit_code == 1 and "NOPE" in unknown.output


def test_an_admins_template_and_issuing_once(backend_url: str, tmp_path: Path):
    run(backend_url, tmp_path, "campaign", "import", str(EXAMPLE_CAMPAIGN))
    asyncio.run(_conclude(backend_url))
    template = tmp_path / "mau.docx"
    saved = run(backend_url, tmp_path, "conclusion", "--write-template", str(template))
    assert saved.exit_code == 0 and template.is_file()
    doc = Document(str(template))
    doc.add_paragraph("Kính gửi: {{don_vi}} — mẫu riêng của Sở")
    doc.save(str(template))
    env = {"CONCLUSION_TEMPLATE": str(template), "CONCLUSION_ISSUER": "UBND Thành phố"}
    target = tmp_path / "issued.docx"
    args = ("conclusion", "KT2021-D1", "--unit", "SNV", "-o", str(target), "--issue")
    issued = run(backend_url, tmp_path, *args, **env)
    assert issued.exit_code == 0, issued.output
    assert "Đã ban hành" in issued.output
    text = _text(target)
    assert "Kính gửi: Sở Nội vụ — mẫu riêng của Sở" in text and "UBND THÀNH PHỐ" in text
    again = run(backend_url, tmp_path, *args, **env)
    assert again.exit_code == 0
    conclusion, actions = asyncio.run(_issued(backend_url))
    assert conclusion.issued_at is not None
    assert conclusion.document_path and Path(conclusion.document_path).is_file()
    assert len(actions) == 2  # each try is audited; the notice itself goes out once
    missing = run(backend_url, tmp_path, *args, CONCLUSION_TEMPLATE=str(tmp_path / "no.docx"))
    assert missing.exit_code == 1 and "no.docx" in missing.output
