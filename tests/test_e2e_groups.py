"""End to end through aiogram and the fake Bot API: in a supergroup the bot answers that it
works in private chat, shows nothing of the sender's unit and redeems no code."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.settings import Settings
from common.clock import FrozenClock
from tests import factories
from tests.chat_harness import import_and_codes
from tests.conftest import Db
from tests.fake_telegram import FakeTelegram, FakeUser
from tests.test_e2e_telegram import Person, running_bot

GROUP = -1001234567890
UNIT = "Ủy ban nhân dân Phường 1"


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


async def test_a_supergroup_gets_the_private_chat_note_and_nothing_of_a_unit(
    db: Db, clock: FrozenClock, fake: FakeTelegram, tmp_path: Path
) -> None:
    codes = await import_and_codes(db, clock, factories.campaign())
    settings = Settings(
        bot_token=SecretStr(fake.token),
        telegram_api_url=fake.base_url,
        database_url=db.url,
        evidence_dir=tmp_path / "evidence",
        _env_file=None,
    )
    lan = Person(fake, fake.user(501, first_name="Lan"))
    lan_in_group = Person(fake, FakeUser(501, first_name="Lan", chat_id=GROUP))
    binh_in_group = Person(fake, FakeUser(502, first_name="Bình", chat_id=GROUP))

    async with running_bot(settings, clock):
        await fake.wait_polling()
        await lan.command("start", codes["U1"][0], UNIT)
        note = await lan_in_group.command("status", "", "trò chuyện riêng")
        assert f"https://t.me/{fake.bot_username}" in note.text
        fake.send_command(lan_in_group.user, "checklist")  # soon after: no second note
        warned = await binh_in_group.command("start", codes["U2"][0], "chưa được dùng")
        assert "Phường 2" not in warned.text
        await lan.command("status", "", UNIT)  # her private chat still works
        binh = Person(fake, fake.user(502, first_name="Bình"))
        await binh.command("start", codes["U2"][0], "Ủy ban nhân dân Phường 2")

    to_group = fake.texts(GROUP)
    assert len(to_group) == 2, to_group  # the note, the warning; nothing for /checklist
    assert not any(UNIT in text or "KT-TEST" in text for text in to_group)
    assert fake.calls_to("sendDocument", GROUP) == fake.calls_to("sendPhoto", GROUP) == []
