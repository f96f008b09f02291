"""The `cchc-bot` command as an admin uses it, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import bot.cli_campaign
import bot.cli_invites  # noqa: F401
from bot.cli import cli
from tests.conftest import EXAMPLE_CAMPAIGN, ROOT


def run(url: str, *args: str, lang: str = "vi") -> Result:
    env = {"DATABASE_URL": url, "CCHC_LANG": lang, "BOT_USERNAME": "cchc_test_bot"}
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def test_help_is_in_plain_words() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for command in ("campaign", "invites", "db"):
        assert command in result.output


def test_import_then_invites_json(backend_url: str) -> None:
    imported = run(backend_url, "campaign", "import", str(EXAMPLE_CAMPAIGN))
    assert imported.exit_code == 0, imported.output
    assert "23 đơn vị" in imported.output
    listed = run(backend_url, "invites", "KT2021-D1", "--format", "json")
    rows = json.loads(listed.output)
    contacts = [r for r in rows if r["role"] == "unit_contact"]
    assert len({r["unit_code"] for r in contacts}) == 23
    assert {r["role"] for r in rows} == {"unit_contact", "team_leader", "team_member"}
    for row in rows:
        assert set(row) >= {"code", "role", "unit_code", "team_code", "link", "used_by"}
        assert row["link"] == f"https://t.me/cchc_test_bot?start={row['code']}"
        assert row["team_code"] == "D1"
    assert all(r["unit_code"] is None for r in rows if r["role"] != "unit_contact")


def test_list_show_csv_revoke_and_new(backend_url: str) -> None:
    run(backend_url, "campaign", "import", str(EXAMPLE_CAMPAIGN))
    listed = json.loads(run(backend_url, "campaign", "list", "--format", "json").output)
    assert listed[0]["code"] == "KT2021-D1" and listed[0]["units"] == 23
    shown = run(backend_url, "campaign", "show", "KT2021-D1")
    assert "30/09/2021 17:00" in shown.output
    csv_out = run(backend_url, "invites", "KT2021-D1", "--format", "csv").output
    code = csv_out.splitlines()[1].split(",")[0]
    grouped = r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]"  # issue 19: printed one way
    assert re.fullmatch(grouped, code), code
    revoked = run(backend_url, "invites", "revoke", code.lower())
    assert revoked.exit_code == 0 and "thu hồi" in revoked.output
    again = run(backend_url, "invites", "revoke", code)
    assert again.exit_code == 1 and "đã bị thu hồi" in again.output
    new = run(backend_url, "invites", "new", "KT2021-D1", "--role", "team_leader", "--team", "D1")
    assert new.exit_code == 0 and "Mã mời mới" in new.output
    assert re.search(grouped, new.output), new.output
    unknown = run(backend_url, "campaign", "show", "NOPE", lang="en")
    assert unknown.exit_code == 1 and "There is no campaign NOPE" in unknown.output


def _broken(tmp_path: Path) -> Path:
    text = EXAMPLE_CAMPAIGN.read_text(encoding="utf-8")
    text = text.replace("deadline: 2021-09-30 17:00", "deadline: 2021-09-31 17:00", 1)
    text = text.replace("team: D1", "team: D9", 1)
    text = text.replace('code: "1.2"', 'code: "1.1"', 1)
    text = text.replace("type: percent", "type: percentage", 1)
    text = text.replace("title: ", "titel: ", 1)
    path = tmp_path / "broken.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_a_broken_file_is_refused_with_every_problem_and_writes_nothing(
    backend_url: str, tmp_path: Path, lang: str
) -> None:
    result = run(backend_url, "campaign", "import", str(_broken(tmp_path)), lang=lang)
    assert result.exit_code == 1
    problems = [line for line in result.output.splitlines() if line.startswith("  - ")]
    assert len(problems) >= 5, result.output
    assert all(("Dòng" if lang == "vi" else "Line") in p for p in problems)
    listed = json.loads(run(backend_url, "campaign", "list", "--format", "json").output)
    assert listed == []


def test_reimport_of_an_edited_copy_keeps_answers_and_force_is_needed_to_drop(
    backend_url: str, tmp_path: Path
) -> None:
    assert run(backend_url, "campaign", "import", str(EXAMPLE_CAMPAIGN)).exit_code == 0
    import asyncio

    asyncio.run(_answer_one(backend_url))
    edited = tmp_path / "edited.yaml"
    edited.write_text(
        EXAMPLE_CAMPAIGN.read_text(encoding="utf-8").replace(
            "Đoàn kiểm tra, khảo sát số 1", "Đoàn kiểm tra số 1 (sửa)"
        ),
        encoding="utf-8",
    )
    result = run(backend_url, "campaign", "import", str(edited))
    assert result.exit_code == 0 and "được giữ nguyên" in result.output
    assert asyncio.run(_answers(backend_url)) == 1


async def _answer_one(url: str) -> None:
    from datetime import UTC, datetime

    from sqlalchemy import select

    from storage import db as storage_db
    from storage.db.models import Answer, Item, Person, Submission

    engine = storage_db.create_engine(url)
    async with storage_db.session_factory(engine)() as session, session.begin():
        person = Person(full_name="A", created_at=datetime.now(UTC))
        session.add(person)
        await session.flush()
        item_id = await session.scalar(select(Item.id).where(Item.code == "1.2"))
        submission_id = await session.scalar(select(Submission.id).limit(1))
        session.add(
            Answer(
                submission_id=submission_id,
                item_id=item_id,
                value=True,
                answered_by=person.id,
                answered_at=datetime.now(UTC),
            )
        )
    await engine.dispose()


async def _answers(url: str) -> int:
    from sqlalchemy import func, select

    from storage import db as storage_db
    from storage.db.models import Answer

    engine = storage_db.create_engine(url)
    async with storage_db.session_factory(engine)() as session:
        count = await session.scalar(select(func.count()).select_from(Answer))
    await engine.dispose()
    return int(count or 0)


def test_example_file_is_in_the_repository() -> None:
    assert (ROOT / "examples" / "hcmc-2021-team1.yaml").exists()


def test_items_without_rule_import_and_show_as_scored_by_hand(
    backend_url: str, tmp_path: Path
) -> None:
    # issue 18: an item with points and no `scoring` is scored by hand, not refused
    text = EXAMPLE_CAMPAIGN.read_text(encoding="utf-8")
    text = text.replace("        scoring: {thresholds: {100: 1, 80: 0.5}}\n", "", 1)
    path = tmp_path / "by_hand.yaml"
    path.write_text(text, encoding="utf-8")
    imported = run(backend_url, "campaign", "import", str(path))
    assert imported.exit_code == 0, imported.output
    shown = run(backend_url, "campaign", "show", "KT2021-D1")
    assert "Chấm tay (1 tiêu chí" in shown.output and "1.5" in shown.output
    assert "Bước điểm tự chấm: 0,25 · giải trình trong 5 ngày làm việc" in shown.output
    record = json.loads(
        run(backend_url, "campaign", "show", "KT2021-D1", "--format", "json").output
    )
    assert record["by_hand"] == ["1.5"]
    assert (record["score_step"], record["explain_days"]) == (0.25, 5)
    english = run(backend_url, "campaign", "show", "KT2021-D1", lang="en")
    assert "Scored by hand (1 items" in english.output
    assert "Self-score step: 0.25" in english.output
