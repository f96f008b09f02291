"""What reaches Zalo: plain text (no tags, no entities), at most 2000 characters per message,
cut on line boundaries and never inside a word; and `cchc-bot run` without any token."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from bot.channels.zalo import REPLY_WAIT, ZaloChannel, reply_texts
from bot.channels.zalo_api import QUOTA_PAUSE, ZaloApi, ZaloApiError, delivery_error
from bot.channels.zalo_text import TEXT_LIMIT, split_plain, to_plain
from bot.cli import cli
from common.messages import PermanentError, RateLimited, Reply, TransientError, Unreachable
from schedules.pacing import Pacer, RateLimits
from tests.fake_zalo import FakeZalo

MARKUP = re.compile(r"</?[a-z]+\b[^>]*>|&(lt|gt|amp|quot|#\d+);")


@pytest.mark.parametrize(
    ("html", "plain"),
    [
        ("<b>Mục 1.1</b>: <i>Có</i>", "Mục 1.1: Có"),
        ("Văn bản &lt;giấy&gt; &amp; số", "Văn bản <giấy> & số"),
        ('<a href="https://x.vn/a">Mở trang</a>', "Mở trang (https://x.vn/a)"),
        ('<a href="https://x.vn/a">https://x.vn/a</a>', "https://x.vn/a"),
        ("<code>7KQ2-M9XD</code>", "7KQ2-M9XD"),
        ("a < b > c", "a < b > c"),  # what a person typed, escaped, shows as typed
    ],
)
def test_markup_becomes_plain_text(html: str, plain: str) -> None:
    assert to_plain(html) == plain


def test_a_long_reply_is_cut_on_line_boundaries() -> None:
    lines = [f"<b>{i:03}.</b> Ủy ban nhân dân Phường {i} &amp; các phòng ban" for i in range(120)]
    parts = reply_texts(Reply("\n".join(lines)))
    assert len(parts) > 1
    assert all(1 <= len(p) <= TEXT_LIMIT for p in parts)
    assert [p for p in parts if MARKUP.search(p)] == []
    # Every part is whole lines, and together they are every line, in order.
    assert [line for p in parts for line in p.split("\n")] == [to_plain(x) for x in lines]


def test_one_long_line_is_cut_between_words() -> None:
    words = [f"từ{i}" for i in range(900)]
    parts = split_plain(" ".join(words))
    assert len(parts) > 1 and all(len(p) <= TEXT_LIMIT for p in parts)
    assert [w for p in parts for w in p.split(" ")] == words


def test_only_a_word_longer_than_a_message_is_cut() -> None:
    parts = split_plain("x" * 4500)
    assert [len(p) for p in parts] == [2000, 2000, 500]


@given(
    st.lists(
        st.lists(st.text(alphabet="aăbcđêô1", min_size=1, max_size=40), min_size=0, max_size=30),
        min_size=1,
        max_size=80,
    )
)
def test_no_part_is_too_long_and_no_word_is_cut(lines: list[list[str]]) -> None:
    text = "\n".join(" ".join(words) for words in lines)
    parts = split_plain(text)
    assert all(1 <= len(p) <= TEXT_LIMIT for p in parts)
    assert [w for p in parts for w in p.split()] == text.split()


@pytest.fixture
async def fake() -> AsyncIterator[FakeZalo]:
    async with FakeZalo() as server:
        yield server


async def test_the_channel_sends_a_long_reply_as_messages_zalo_accepts(fake: FakeZalo) -> None:
    lan = fake.user("9001", "Lan")
    fake.send_text(lan, "xin chào")  # a chat is known to the bot once its person wrote
    text = "\n".join(f"<b>Dòng {i}</b>: nội dung &amp; ghi chú số {i}" for i in range(150))
    async with httpx.AsyncClient() as client:
        channel = ZaloChannel(ZaloApi(client, fake.token, fake.base_url))
        assert await channel.send(lan.chat, Reply(text))
    sent = [c for c in fake.calls if c.method == "sendMessage"]
    assert len(sent) > 1 and all(c.ok for c in sent)
    assert "\n".join(c.text for c in sent) == to_plain(text)
    assert [c.text for c in sent if MARKUP.search(c.text)] == []


@pytest.mark.parametrize(
    ("lang", "says"),
    [
        ("vi", ["Chưa có BOT_TOKEN lẫn ZALO_BOT_TOKEN", "@BotFather", "Zalo Bot Manager"]),
        ("en", ["Neither BOT_TOKEN nor ZALO_BOT_TOKEN", "@BotFather", "Zalo Bot Manager"]),
    ],
)
def test_run_without_any_token_says_how_to_get_each_and_fails(
    lang: str, says: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no .env here (click's advice for isolated_filesystem)
    env = {"BOT_TOKEN": "", "ZALO_BOT_TOKEN": "", "CCHC_LANG": lang}
    result = CliRunner().invoke(cli, ["run"], env=env)
    assert result.exit_code != 0
    for fragment in says:
        assert fragment in result.output
    assert "ZALO_BOT_TOKEN=" in result.output and "BOT_TOKEN=" in result.output


class Ticks:
    """The limiter's clock, moved only by the sleeps the channel asks for."""

    def __init__(self) -> None:
        self.now, self.slept = 100.0, list[float]()

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


async def test_replies_wait_for_their_slot_in_the_bots_budget_and_through_a_429(
    fake: FakeZalo,
) -> None:
    lan = fake.user("9002", "Lan")
    fake.send_text(lan, "xin chào")
    ticks = Ticks()
    limits = RateLimits(per_bot=2.0, per_chat=1.0)
    pacer = Pacer(limits)
    fake.fail_next(1)  # the first message meets a 429 "Quota exceeded"
    text = "\n".join(f"Dòng {i}: nội dung" for i in range(250))  # three messages
    async with httpx.AsyncClient() as client:
        api = ZaloApi(client, fake.token, fake.base_url)
        channel = ZaloChannel(api, limiter=pacer, sleep=ticks.sleep, pace_clock=ticks.clock)
        await channel.reply(lan.chat, Reply(text))
    sent = [c for c in fake.calls if c.method == "sendMessage"]
    assert [c.ok for c in sent] == [False, True, True, True]
    assert fake.rate_limited == 1
    interval = limits.bot_interval()
    # The refused one waited out Zalo's quota pause before its retry; then one slot apart.
    assert ticks.slept[0] >= QUOTA_PAUSE
    assert ticks.slept[1:] == pytest.approx([interval, interval])
    # The outbox, sharing the budget, comes after the replies.
    assert pacer.earliest("9999", ticks.now) > ticks.now


async def test_a_reply_that_would_wait_too_long_is_given_up(fake: FakeZalo) -> None:
    lan = fake.user("9003", "Lan")
    fake.send_text(lan, "xin chào")
    ticks = Ticks()
    pacer = Pacer(RateLimits(per_bot=2.0), started=ticks.now)
    pacer.limited(lan.chat, REPLY_WAIT + 30, ticks.now)  # longer than a reply may wait
    async with httpx.AsyncClient() as client:
        api = ZaloApi(client, fake.token, fake.base_url)
        channel = ZaloChannel(api, limiter=pacer, sleep=ticks.sleep, pace_clock=ticks.clock)
        with pytest.raises(RateLimited):
            await channel.reply(lan.chat, Reply("Đã lưu"))
    assert [c for c in fake.calls if c.method == "sendMessage"] == []  # nothing sent
    assert ticks.slept == []  # and nothing waited for


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (429, RateLimited),  # "Quota exceeded": retry later, the bot paused
        (0, TransientError),  # no answer at all (network)
        (408, TransientError),
        (500, TransientError),
        (502, TransientError),
        (403, Unreachable),  # the person blocked the bot
        (404, Unreachable),  # a chat the bot does not know (never wrote, or gone)
        (400, PermanentError),  # a bad request: sending it again cannot help
        (401, PermanentError),  # a wrong or reset token
    ],
)
def test_zalo_error_codes_are_delivery_error_kinds(code: int, kind: type) -> None:
    error = delivery_error(ZaloApiError("sendMessage", code, "x"))
    assert type(error) is kind
