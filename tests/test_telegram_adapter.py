"""The aiogram adapter end to end against the fake Bot API, and the fake's own fidelity.

Nothing sleeps: tests wait on recorded calls (`fake.wait_for`) or feed one update straight
into the processor and `drain` it, which makes "nothing else was sent" checks
deterministic.
"""

from __future__ import annotations

import asyncio
import html
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot.channels.telegram import (
    DEFAULT_APOLOGY,
    TelegramChannel,
    UpdateProcessor,
    bot_username,
    build_bot,
    run_polling,
    run_webhook,
    set_commands,
)
from bot.channels.telegram_outbound import Outbound, keyboard
from bot.channels.telegram_polling import Pacing
from bot.channels.telegram_text import split_html, visible_length
from common.clock import FrozenClock
from common.messages import (
    Choice,
    Inbound,
    InboundKind,
    OutFile,
    PermanentError,
    RateLimited,
    Reply,
    TransientError,
    Unreachable,
)
from tests.fake_telegram import FakeTelegram, FakeUser, RecordedCall, free_port, parse_html
from tests.turns import InTurns

CHAT = 42
MENU = [[Choice("Đạt", "ok:1"), Choice("Chưa đạt", "no:1")], [Choice("Nổ", "boom")]]
LONG = "<i>" + "\n".join(f"Dòng {i}: <b>đậm</b> &amp; chữ thường " * 3 for i in range(120)) + "</i>"


class EchoHandler(InTurns):
    """A small conversation: echoes text, shows a menu, edits on a press, fails on "boom"."""

    def __init__(self, files_dir: Path) -> None:
        super().__init__()
        self.events: list[Inbound] = []
        self.files_dir = files_dir
        self.report = files_dir / "report.xlsx"
        self.report.parent.mkdir(parents=True, exist_ok=True)
        self.report.write_bytes(b"PK\x03\x04 fake xlsx")

    async def answer(self, event: Inbound) -> list[Reply]:
        self.events.append(event)
        if event.kind is InboundKind.CHOICE:
            if event.choice == "boom":
                raise RuntimeError("handler bug")
            return [Reply(f"Bạn chọn <b>{event.choice}</b>", choices=MENU, edit=True, toast="OK")]
        if event.kind is InboundKind.COMMAND:
            return [Reply(f"/{event.command} [{html.escape(event.text)}]")]
        if event.attachment is not None:
            target = self.files_dir / "in" / event.attachment.file_name
            await event.attachment.download(target)
            return [Reply(f"nhận {target.stat().st_size} bytes")]
        return self._text_reply(event.text)

    def _text_reply(self, text: str) -> list[Reply]:
        if text == "boom":
            raise RuntimeError("handler bug")
        replies = {
            "menu": Reply("Chọn kết quả:", choices=MENU),
            "long": Reply(LONG, choices=MENU),
            "doc": Reply("Báo cáo <b>tháng 5</b>", document=OutFile(self.report, "Báo cáo.xlsx")),
            "photo": Reply("Ảnh", photo=OutFile(self.report, "chart.png")),
            "badhtml": Reply("<b>oops"),
        }
        return [replies.get(text, Reply(f"echo: {html.escape(text)}"))]


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        yield server


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    bot = build_bot(fake.token, fake.base_url)
    yield bot
    await bot.session.close()


@pytest.fixture
def echo(tmp_path: Path) -> EchoHandler:
    return EchoHandler(tmp_path)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2026, 5, 4, 8, 30, tzinfo=UTC))


@pytest.fixture
async def polling(
    fake: FakeTelegram, bot: Bot, echo: EchoHandler, clock: FrozenClock
) -> AsyncIterator[None]:
    """The adapter long-polling the fake; stopped (and session closed) after the test."""
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_polling(bot, echo, stop_event=stop, polling_timeout=5, clock=clock)
    )
    await fake.wait_polling()
    yield
    stop.set()
    await asyncio.wait_for(task, 10)


def take(processor: UpdateProcessor, update: dict[str, Any]) -> asyncio.Future[None]:
    """A raw update (as the fake queued it) into the processor, as polling hands it over."""
    return processor.take(Update.model_validate(update, context={"bot": processor.bot}))


class Direct:
    """Feeds one update to the processor and waits until its replies are out."""

    def __init__(self, bot: Bot, processor: UpdateProcessor) -> None:
        self.bot = bot
        self.processor = processor

    async def feed(self, update: dict[str, Any]) -> None:
        take(self.processor, update)
        await self.processor.drain()


@pytest.fixture
def direct(bot: Bot, echo: EchoHandler) -> Direct:
    return Direct(bot, UpdateProcessor(bot, echo))


def message_to(chat_id: int, contains: str = "", method: str = "sendMessage") -> Any:
    def predicate(call: RecordedCall) -> bool:
        return call.method == method and call.chat_id == chat_id and contains in call.text

    return predicate


# ---- updates -> Inbound -----------------------------------------------------------------------


async def test_text_message_becomes_text_event(
    fake: FakeTelegram, echo: EchoHandler, clock: FrozenClock, polling: None
) -> None:
    user = FakeUser(CHAT, "An", "Nguyễn", username="an_ng", language_code="en")
    fake.send_text(user, "xin chào <bạn>")
    call = await fake.wait_for(message_to(CHAT, "echo:"))
    assert call.text == "echo: xin chào &lt;bạn&gt;"
    [event] = echo.events
    assert event.kind is InboundKind.TEXT
    assert event.text == "xin chào <bạn>"
    assert event.sender.platform == "telegram"
    assert (event.sender.user_id, event.sender.chat_id) == ("42", "42")
    assert event.sender.display_name == "An Nguyễn"
    assert (event.sender.username, event.sender.language) == ("an_ng", "en")
    assert event.received_at == clock.now()  # the injected clock, aware UTC


@pytest.mark.parametrize(
    ("text_args", "mention", "command", "args"),
    [
        (("start", "INVITE-42"), False, "start", "INVITE-42"),
        (("Checklist", ""), True, "checklist", ""),
        (("help", "a  b"), False, "help", "a  b"),
    ],
)
async def test_commands(
    fake: FakeTelegram,
    direct: Direct,
    echo: EchoHandler,
    text_args: tuple[str, str],
    mention: bool,
    command: str,
    args: str,
) -> None:
    await direct.feed(fake.send_command(CHAT, *text_args, mention=mention))
    [event] = echo.events
    assert (event.kind, event.command, event.text) == (InboundKind.COMMAND, command, args)
    assert fake.texts(CHAT) == [f"/{command} [{args}]"]


async def test_command_for_another_bot_is_other(
    fake: FakeTelegram, direct: Direct, echo: EchoHandler
) -> None:
    await direct.feed(fake.send_text(CHAT, "/help@someone_else_bot"))
    assert echo.events[0].kind is InboundKind.OTHER


@pytest.mark.parametrize(
    "inject",
    [
        lambda fake: fake.send_sticker(CHAT),
        lambda fake: fake.send_other(CHAT, location={"latitude": 21.03, "longitude": 105.85}),
        lambda fake: fake.send_other(
            CHAT, voice={"file_id": "v1", "file_unique_id": "u1", "duration": 3}
        ),
    ],
    ids=["sticker", "location", "voice"],
)
async def test_unhandled_content_is_other(
    fake: FakeTelegram, direct: Direct, echo: EchoHandler, inject: Any
) -> None:
    await direct.feed(inject(fake))
    [event] = echo.events
    assert event.kind is InboundKind.OTHER
    assert event.attachment is None


async def test_document_is_received_and_downloaded(
    fake: FakeTelegram, echo: EchoHandler, tmp_path: Path, polling: None
) -> None:
    data = bytes(range(256)) * 40
    fake.send_document(CHAT, data, "Biên bản kiểm tra.pdf", caption="nộp bài")
    await fake.wait_for(message_to(CHAT, "nhận"))
    [event] = echo.events
    assert event.kind is InboundKind.FILE
    assert event.text == "nộp bài"
    assert event.attachment is not None
    assert (event.attachment.file_name, event.attachment.mime_type, event.attachment.size) == (
        "Biên bản kiểm tra.pdf",
        "application/pdf",
        len(data),
    )
    assert (tmp_path / "in" / "Biên bản kiểm tra.pdf").read_bytes() == data


async def test_photo_takes_largest_size(
    fake: FakeTelegram, direct: Direct, echo: EchoHandler, tmp_path: Path
) -> None:
    update = fake.send_photo(CHAT, b"\xff\xd8\xff jpeg bytes", width=2000, height=1500)
    await direct.feed(update)
    [event] = echo.events
    largest = update["message"]["photo"][-1]
    assert event.kind is InboundKind.PHOTO
    assert event.attachment is not None
    assert event.attachment.file_name == f"photo_{largest['file_unique_id']}.jpg"
    assert event.attachment.mime_type == "image/jpeg"
    saved = tmp_path / "in" / event.attachment.file_name
    assert saved.read_bytes() == b"\xff\xd8\xff jpeg bytes"


# ---- replies -> Telegram ----------------------------------------------------------------------


async def test_choices_become_inline_keyboard(fake: FakeTelegram, polling: None) -> None:
    fake.send_text(CHAT, "menu")
    await fake.wait_for(message_to(CHAT, "Chọn"))
    assert fake.keyboards(CHAT) == [
        [
            [
                {"text": "Đạt", "callback_data": "ok:1"},
                {"text": "Chưa đạt", "callback_data": "no:1"},
            ],
            [{"text": "Nổ", "callback_data": "boom"}],
        ]
    ]


async def test_press_edits_message_and_answers_once(
    fake: FakeTelegram, echo: EchoHandler, polling: None
) -> None:
    fake.send_text(CHAT, "menu")
    menu = await fake.wait_for(message_to(CHAT, "Chọn"))
    fake.press(CHAT, "ok:1")
    edit = await fake.wait_for(message_to(CHAT, "Bạn chọn", method="editMessageText"))
    answer = await fake.wait_for(lambda c: c.method == "answerCallbackQuery")
    assert answer.ok and answer.params.get("text") == "OK"
    event = echo.events[-1]
    assert (event.kind, event.choice) == (InboundKind.CHOICE, "ok:1")
    assert event.message_id == str(menu.result_message_id)
    assert event.received_at.tzinfo is not None
    assert edit.params["message_id"] == menu.result_message_id
    stored = fake.message(CHAT, menu.result_message_id or 0)
    assert stored is not None and stored.text == "Bạn chọn <b>ok:1</b>"
    assert len(fake.sent(CHAT)) == 1  # edited in place, no new message
    assert fake.unanswered_callbacks() == []
    assert len(fake.callback_answers()) == 1


async def test_pressing_same_choice_twice_ignores_not_modified(
    fake: FakeTelegram, direct: Direct
) -> None:
    await direct.feed(fake.send_text(CHAT, "menu"))
    await direct.feed(fake.press(CHAT, "ok:1"))
    await direct.feed(fake.press(CHAT, "ok:1"))
    statuses = [c.status for c in fake.calls_to("editMessageText")]
    assert statuses == [200, 400]
    assert "not modified" in fake.calls_to("editMessageText")[1].response["description"]
    assert len(fake.sent(CHAT)) == 1  # no fallback message for "not modified"
    assert [c.ok for c in fake.callback_answers()] == [True, True]


async def test_edit_falls_back_to_new_message(fake: FakeTelegram, direct: Direct) -> None:
    await direct.feed(fake.send_text(CHAT, "menu"))
    [menu] = fake.sent(CHAT)
    update = fake.press(CHAT, "no:1")
    fake.delete_message(CHAT, menu.result_message_id or 0)  # the user deleted it meanwhile
    await direct.feed(update)
    [failed_edit] = fake.calls_to("editMessageText")
    assert failed_edit.response["description"] == "Bad Request: message to edit not found"
    assert fake.texts(CHAT) == ["Chọn kết quả:", "Bạn chọn <b>no:1</b>"]
    assert fake.keyboards(CHAT)[-1] is not None
    assert fake.unanswered_callbacks() == []


async def test_callback_answered_once_when_handler_raises(
    fake: FakeTelegram, direct: Direct
) -> None:
    await direct.feed(fake.send_text(CHAT, "menu"))
    await direct.feed(fake.press(CHAT, "boom"))
    [answer] = fake.callback_answers()
    assert answer.ok and not answer.params.get("text")
    assert fake.texts(CHAT)[-1] == DEFAULT_APOLOGY
    assert fake.unanswered_callbacks() == []


async def test_handler_error_sends_apology_from_callable(
    fake: FakeTelegram, bot: Bot, echo: EchoHandler
) -> None:
    direct = Direct(bot, UpdateProcessor(bot, echo, apology=lambda e: f"Sorry ({e.kind})"))
    await direct.feed(fake.send_text(CHAT, "boom"))
    assert fake.texts(CHAT) == ["Sorry (text)"]


async def test_reply_with_broken_html_gets_plain_apology(
    fake: FakeTelegram, direct: Direct
) -> None:
    await direct.feed(fake.send_text(CHAT, "badhtml"))
    [refused] = fake.calls_to("sendMessage", CHAT)[:1]
    assert refused.status == 400
    assert fake.texts(CHAT) == [DEFAULT_APOLOGY]


async def test_long_text_is_split_under_limit(fake: FakeTelegram, direct: Direct) -> None:
    await direct.feed(fake.send_text(CHAT, "long"))
    sent = fake.sent(CHAT)
    assert len(sent) >= 3
    assert all(c.ok for c in fake.calls_to("sendMessage"))  # every part parsed by the fake
    assert all(len(parse_html(c.text)) <= 4096 for c in sent)
    assert [c.reply_markup is not None for c in sent] == [False] * (len(sent) - 1) + [True]
    visible = "\n".join(parse_html(c.text) for c in sent)
    assert visible == parse_html(LONG)  # cut only at line boundaries, nothing lost


async def test_document_and_photo_replies(
    fake: FakeTelegram, direct: Direct, echo: EchoHandler
) -> None:
    await direct.feed(fake.send_text(CHAT, "doc"))
    await direct.feed(fake.send_text(CHAT, "photo"))
    [document] = fake.documents(CHAT)
    assert document.file_name == "Báo cáo.xlsx"
    assert document.data == echo.report.read_bytes()
    assert document.caption == "Báo cáo <b>tháng 5</b>"
    [photo] = fake.photos(CHAT)
    assert photo.data == echo.report.read_bytes()
    assert {c.content_type for c in fake.sent(CHAT)} == {"multipart/form-data"}  # uploads


async def test_replies_go_out_in_the_chats_turn_other_chats_not_held_up(
    fake: FakeTelegram, bot: Bot
) -> None:
    """The processor has no lock of its own: the handler's turn per chat (the dispatcher's)
    covers sending the replies, so a chat's next message is handled only once the replies
    to the one before it are out."""
    gate = asyncio.Event()
    started: list[str] = []
    out_when_started: dict[str, list[str]] = {}

    async def slow_first(event: Inbound) -> list[Reply]:
        started.append(event.text)
        out_when_started[event.text] = fake.texts(int(event.sender.chat_id))
        if event.text == "1":
            await gate.wait()
        return [Reply(f"re {event.text}")]

    processor = UpdateProcessor(bot, InTurns(slow_first))
    for chat, text in [(CHAT, "1"), (CHAT, "2"), (7, "other chat")]:
        take(processor, fake.send_text(chat, text))
    await fake.wait_for(message_to(7, "re other chat"))
    assert started == ["1", "other chat"]  # chat 42's second message waits its turn
    gate.set()
    await processor.drain()
    assert fake.texts(CHAT) == ["re 1", "re 2"]
    assert out_when_started["2"] == ["re 1"]  # sent before the next message was handled


async def test_a_handler_failing_before_it_delivers_still_gets_an_apology_out(
    fake: FakeTelegram, bot: Bot
) -> None:
    async def broken(event: Inbound, deliver: Any = None) -> list[Reply]:
        raise RuntimeError("not even a turn")

    direct = Direct(bot, UpdateProcessor(bot, broken))
    await direct.feed(fake.send_text(CHAT, "hi"))
    await bot.send_message(CHAT, "x", reply_markup=keyboard([[Choice("A", "a")]]))
    await direct.feed(fake.press(CHAT, "a"))
    assert fake.texts(CHAT) == [DEFAULT_APOLOGY, "x", DEFAULT_APOLOGY]
    assert len(fake.callback_answers()) == 1 and fake.unanswered_callbacks() == []


@pytest.mark.parametrize(
    ("busy", "stale", "delay"),
    [
        (False, 0, 0.0),  # idle: at once (the long poll waits on Telegram's side)
        (True, 0, 0.01),  # busy: let the next updates gather first
        (True, 40, 0.05),  # a backlog came back again: each costs parsing, ask less often
        (True, 1000, 0.2),  # never longer than the recheck
    ],
)
def test_polling_waits_a_moment_only_while_updates_are_in_flight(
    busy: bool, stale: int, delay: float
) -> None:
    assert Pacing().delay(busy=busy, stale=stale) == pytest.approx(delay)


async def test_stopping_confirms_the_updates_taken_in(fake: FakeTelegram, bot: Bot) -> None:
    """A stop between taking an update and the next getUpdates must not hand the update to
    the next start again (the person's answer would be recorded twice)."""
    started, release = asyncio.Event(), asyncio.Event()

    async def slow(event: Inbound) -> list[Reply]:
        started.set()
        await release.wait()
        return [Reply(f"đã nhận {event.text}")]

    stop = asyncio.Event()
    task = asyncio.create_task(
        run_polling(bot, InTurns(slow), stop_event=stop, polling_timeout=5, close_session=False)
    )
    await fake.wait_polling()
    fake.send_text(fake.user(7), "xin chào")
    await started.wait()
    stop.set()  # the update is still being handled: its confirming poll has not gone out
    release.set()
    await asyncio.wait_for(task, 10)
    assert any(c.method == "sendMessage" and "đã nhận" in c.text for c in fake.calls)
    assert fake.pending_updates == []


async def test_toast_only_reply_sends_nothing(fake: FakeTelegram, bot: Bot) -> None:
    async def toast_only(event: Inbound) -> list[Reply]:
        return [Reply("", toast="Đã lưu")]

    direct = Direct(bot, UpdateProcessor(bot, InTurns(toast_only)))
    await bot.send_message(CHAT, "x", reply_markup=keyboard([[Choice("A", "a")]]))
    await direct.feed(fake.press(CHAT, "a"))
    assert [c.params.get("text") for c in fake.callback_answers()] == ["Đã lưu"]
    assert len(fake.sent(CHAT)) == 1 and fake.edits(CHAT) == []


async def test_callback_answered_once_when_delivering_fails(fake: FakeTelegram, bot: Bot) -> None:
    async def toast_then_bad_html(event: Inbound) -> list[Reply]:
        return [Reply("<b>oops", edit=True, toast="Đã lưu")]

    direct = Direct(bot, UpdateProcessor(bot, InTurns(toast_then_bad_html)))
    await bot.send_message(CHAT, "x", reply_markup=keyboard([[Choice("A", "a")]]))
    fake.fail_next(1, status=500, methods=["answerCallbackQuery"])
    await direct.feed(fake.press(CHAT, "a"))
    [failed] = fake.callback_answers()  # not answered again when the answer itself fails
    assert failed.status == 500
    assert fake.texts(CHAT) == ["x", DEFAULT_APOLOGY]  # the edit refused, then the apology


async def test_interactive_reply_waits_out_short_flood_limit(fake: FakeTelegram, bot: Bot) -> None:
    waits: list[float] = []

    async def record_sleep(seconds: float) -> None:
        waits.append(seconds)

    fake.fail_next(1, status=429, retry_after=3)
    outbound = Outbound(bot, flood_wait=5, sleep=record_sleep)
    assert await outbound.deliver(CHAT, Reply("hi")) is not None
    assert waits == [3]
    assert fake.texts(CHAT) == ["hi"]


# ---- TelegramChannel: outbox delivery and error mapping ---------------------------------------


async def test_channel_send_returns_message_id(fake: FakeTelegram, bot: Bot) -> None:
    channel = TelegramChannel(bot)
    message_id = await channel.send("42", Reply("Nhắc việc", choices=MENU))
    assert message_id == str(fake.sent(CHAT)[-1].result_message_id)
    assert channel.platform == "telegram" and channel.capabilities.max_text == 4096


@pytest.mark.parametrize(
    ("setup", "error"),
    [
        (lambda f: f.fail_next(1, status=429, retry_after=7), RateLimited),
        (lambda f: f.block(CHAT), Unreachable),
        (lambda f: f.deactivate(CHAT), Unreachable),
        (lambda f: f.forget_chat(CHAT), Unreachable),
        (lambda f: f.fail_next(1, status=500), TransientError),
        (lambda f: f.fail_next(1, status=502), TransientError),
        (lambda f: None, PermanentError),  # the text itself is refused (broken HTML)
    ],
    ids=["429", "blocked", "deactivated", "chat-not-found", "500", "502-html", "bad-html"],
)
async def test_channel_send_maps_errors(
    fake: FakeTelegram, bot: Bot, setup: Any, error: type[Exception]
) -> None:
    setup(fake)
    text = "<b>hello" if error is PermanentError else "hi"
    with pytest.raises(error) as raised:
        await TelegramChannel(bot).send("42", Reply(text))
    if isinstance(raised.value, RateLimited):
        assert raised.value.retry_after == 7
        assert fake.stats.rate_limited == 1


async def test_channel_send_network_error_is_transient(fake: FakeTelegram) -> None:
    nobody = build_bot(fake.token, f"http://127.0.0.1:{free_port()}")
    try:
        with pytest.raises(TransientError):
            await TelegramChannel(nobody).send("42", Reply("hi"))
    finally:
        await nobody.session.close()


async def test_channel_refuses_oversized_callback_data(bot: Bot) -> None:
    with pytest.raises(PermanentError):
        await TelegramChannel(bot).send("42", Reply("x", choices=[[Choice("A", "đ" * 33)]]))


async def test_fake_flood_limits(fake: FakeTelegram, bot: Bot) -> None:
    now = [1000.0]
    fake.clock = lambda: now[0]
    fake.set_rate_limits(global_per_second=30, per_chat=(1, 1.0))
    channel = TelegramChannel(bot)
    await channel.send("42", Reply("one"))
    with pytest.raises(RateLimited) as raised:
        await channel.send("42", Reply("two"))
    assert raised.value.retry_after == 1
    now[0] += 1.0
    await channel.send("42", Reply("two"))
    for chat in range(100, 129):  # 29 more this second: 30 in all
        await channel.send(str(chat), Reply("x"))
    with pytest.raises(RateLimited):
        await channel.send("999", Reply("x"))
    assert fake.stats.rate_limited == 2


# ---- the fake behaves like Telegram -----------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["<b>unclosed", "a < b", "AT&T", "<br>", "<b><i>x</b></i>", "<span>x</span>", "</b>"],
)
async def test_fake_rejects_bad_html(bot: Bot, text: str) -> None:
    with pytest.raises(TelegramBadRequest, match="can't parse entities"):
        await bot.send_message(CHAT, text)


@pytest.mark.parametrize(
    "text",
    [
        "a &lt; b &amp; c &#272;&#x1F600;",
        '<b>x</b> <a href="https://example.org/?a=1&amp;b=2">y</a> a > b',
        '<span class="tg-spoiler">s</span><tg-spoiler>t</tg-spoiler><pre><code>c</code></pre>',
        "<blockquote>q</blockquote><u>u</u><s>s</s><ins>i</ins><del>d</del><em>e</em>",
    ],
)
async def test_fake_accepts_valid_html(bot: Bot, text: str) -> None:
    await bot.send_message(CHAT, text)


async def test_fake_error_json_shape(fake: FakeTelegram) -> None:
    url = f"{fake.base_url}/bot{fake.token}"
    async with aiohttp.ClientSession() as http:
        payload = {"chat_id": CHAT, "text": "<b>x", "parse_mode": "HTML"}
        async with http.post(f"{url}/sendMessage", json=payload) as response:
            body = await response.json()
        assert response.status == 400
        assert body["ok"] is False and body["error_code"] == 400
        assert body["description"].startswith("Bad Request: can't parse entities: ")
        async with http.post(f"{url}/sendSomething", data={"chat_id": "42"}) as response:
            assert response.status == 404
            assert await response.json() == {
                "ok": False,
                "error_code": 404,
                "description": "Not Found",
            }
        form = {"chat_id": "42", "text": "form encoded"}
        async with http.post(f"{url}/sendMessage", data=form) as response:
            assert (await response.json())["result"]["text"] == "form encoded"


@pytest.mark.parametrize(
    ("text", "description"),
    [
        ("x" * 4097, "message is too long"),
        ("<b>" + "x" * 4096 + "</b>", None),  # tags do not count
        ("&lt;" * 4096, None),  # an entity is one character
        (" \n", "message text is empty"),
        ("<b></b>", "message text is empty"),
    ],
)
async def test_fake_text_limits(bot: Bot, text: str, description: str | None) -> None:
    if description is None:
        await bot.send_message(CHAT, text)
        return
    with pytest.raises(TelegramBadRequest, match=description):
        await bot.send_message(CHAT, text)


async def test_fake_caption_and_callback_data_limits(bot: Bot, tmp_path: Path) -> None:
    from aiogram.types import FSInputFile

    path = tmp_path / "a.txt"
    path.write_bytes(b"a")
    with pytest.raises(TelegramBadRequest, match="caption is too long"):
        await bot.send_document(CHAT, FSInputFile(path), caption="c" * 1025)
    fits = "đ" * 32  # 64 bytes of UTF-8
    await bot.send_message(CHAT, "ok", reply_markup=_raw_keyboard(fits))
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(CHAT, "too long", reply_markup=_raw_keyboard(fits + "x"))


def _raw_keyboard(data: str) -> InlineKeyboardMarkup:
    # Built by hand: our own keyboard() would refuse the oversized data before Telegram does.
    button = InlineKeyboardButton(text="b", callback_data=data)
    return InlineKeyboardMarkup(inline_keyboard=[[button]])


async def test_fake_edit_errors(bot: Bot) -> None:
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("new", chat_id=CHAT, message_id=999)
    message = await bot.send_message(CHAT, "same")
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text("same", chat_id=CHAT, message_id=message.message_id)


async def test_bot_username_and_commands(fake: FakeTelegram, bot: Bot) -> None:
    assert await bot_username(bot) == "cchc_test_bot"
    await set_commands(bot, [("start", "Bắt đầu"), ("checklist", "Danh mục")], language_code="vi")
    assert [c["command"] for c in fake.commands[("default", "vi")]] == ["start", "checklist"]


# ---- webhook mode -----------------------------------------------------------------------------


async def test_webhook_with_right_and_wrong_secret(
    fake: FakeTelegram, bot: Bot, echo: EchoHandler
) -> None:
    port = free_port()
    stop = asyncio.Event()
    url = f"http://127.0.0.1:{port}/telegram/hook"
    server = asyncio.create_task(
        run_webhook(bot, echo, url=url, secret="s3cret_Token", port=port, stop_event=stop)
    )
    try:
        await fake.wait_for(lambda c: c.method == "setWebhook" and c.ok)
        assert fake.webhook is not None and fake.webhook["secret_token"] == "s3cret_Token"
        fake.send_text(CHAT, "qua webhook")  # delivered by the fake with the registered secret
        await fake.wait_for(message_to(CHAT, "echo: qua webhook"))
        intruder = {"update_id": 999, "message": fake.send_text(CHAT, "x")["message"]}
        assert await fake.post_update(intruder, secret_token="wrong") == 401
        assert await fake.post_update(intruder, secret_token="") == 401  # no header at all
        assert [e.text for e in echo.events].count("x") == 1  # only the genuine delivery
        assert all(status == 200 for _, status in fake.stats.webhook_deliveries)
    finally:
        stop.set()
        await asyncio.wait_for(server, 10)


async def test_polling_refused_while_webhook_set(fake: FakeTelegram, bot: Bot) -> None:
    await bot.set_webhook("http://127.0.0.1:1/hook", secret_token="abc")
    with pytest.raises(Exception, match="webhook is active"):
        await bot.get_updates()
    await bot.delete_webhook()
    assert await bot.get_updates(timeout=0) == []


# ---- text splitting ---------------------------------------------------------------------------


def test_split_keeps_short_text_whole() -> None:
    assert split_html("<b>a</b>\nb", 10) == ["<b>a</b>\nb"]


def test_split_prefers_lines_then_words_and_reopens_tags() -> None:
    parts = split_html("<b>aaaa bbbb\ncccc dddd</b>", 10)
    assert parts == ["<b>aaaa bbbb</b>", "<b>cccc dddd</b>"]
    assert split_html("aaaa bbbb cccc", 10) == ["aaaa bbbb ", "cccc"]


def test_split_never_cuts_entities_and_cuts_long_words() -> None:
    parts = split_html("&amp;" * 12, 10)
    assert parts == ["&amp;" * 10, "&amp;" * 2]
    assert split_html("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]
    assert visible_length("<i>&lt;ab</i>") == 3
