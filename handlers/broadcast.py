"""/broadcast: an admin (any audience) or a team leader (their team) writes a notice, picks
the audience, sees a preview with the number of recipients, sends now or at a time.

It uses the same service and outbox as `cchc-bot notice send` (storage/services/notices.py):
a notice due now is dispatched in the same transaction, a later one by the scheduler
(schedules/notices.py). It offers a delivery report (sent, pending, failed, unreachable)
afterwards.
"""

from __future__ import annotations

from datetime import datetime
from html import escape

from common.localtime import fmt_datetime, parse_local
from common.messages import Choice
from common.sizes import fmt_size
from handlers.access import Scope, deny, scope_of
from handlers.account_link import PLATFORM_NAMES
from handlers.cards import short
from handlers.context import Turn
from handlers.onboarding import stale_button
from handlers.tokens import Token, make
from storage.db.models import Campaign, Notice
from storage.services.campaigns import campaign_by_id, open_campaigns
from storage.services.evidence import is_allowed, safe_name
from storage.services.notices import (
    NoticeError,
    create_notice,
    dispatch_notice,
    notice_by_id,
    notice_report,
    resend_notice,
    resolve_audience,
    store_notice_file,
)
from storage.services.teams import campaign_teams, team_id_by_code

TEXT_LIMIT = 3500  # leaves room for the header within Telegram's 4096
ADMIN_AUDIENCES = ("all", "pending", "overdue", "leaders")


async def _campaigns(turn: Turn, scope: Scope) -> list[Campaign]:
    """The open campaigns the person may write to: all for an admin, else the ones they
    lead a team of."""
    return await open_campaigns(turn.session, of_teams=None if scope.admin else scope.leader_teams)


async def start(turn: Turn) -> None:
    scope = await scope_of(turn)
    if not (scope.admin or scope.leader_teams):
        await deny(turn, "broadcast")
        return
    campaigns = await _campaigns(turn, scope)
    if len(campaigns) == 1:
        _ask_text(turn, campaigns[0])
        return
    turn.say(
        turn.t("broadcast.pick_campaign"),
        [[Choice(short(f"{c.code} · {c.title}", 60), make("bcc", c.id))] for c in campaigns],
    )


def _ask_text(turn: Turn, campaign: Campaign) -> None:
    turn.set_state("bc_text", c=campaign.id)
    turn.say(turn.t("broadcast.ask_text", campaign=escape(campaign.title), max=TEXT_LIMIT))


async def picked_campaign(turn: Turn, token: Token) -> None:
    scope = await scope_of(turn)
    campaign = next((c for c in await _campaigns(turn, scope) if c.id == token.int_arg(0)), None)
    if campaign is None:
        await deny(turn, "broadcast", f"campaign:{token.int_arg(0)}")
        return
    _ask_text(turn, campaign)


async def typed_text(turn: Turn) -> None:
    text = turn.inbound.text.strip()
    if not text or len(text) > TEXT_LIMIT:
        turn.say(turn.t("broadcast.bad_text", max=TEXT_LIMIT, length=len(text)))
        return
    turn.remember(text=text)
    await _ask_audience(turn)


async def received_file(turn: Turn) -> None:
    """A file sent while writing the notice is attached to it."""
    attachment = turn.inbound.attachment
    if turn.prefetched is None or attachment is None:
        turn.say(_not_downloaded(turn))
        return
    try:  # under the sender's name, made safe (the download keeps its own)
        stored = store_notice_file(turn.deps.evidence.root, turn.prefetched, attachment.file_name)
    except NoticeError as error:
        params = {k: escape(v) if isinstance(v, str) else v for k, v in error.params.items()}
        turn.say(turn.t(error.key, **params))
        return
    turn.remember(file=str(stored), file_name=stored.name)
    turn.say(turn.t("broadcast.file_attached", name=escape(stored.name)))
    if turn.state.data.get("text"):
        await _ask_audience(turn)


def _not_downloaded(turn: Turn) -> str:
    """Why a file sent with the notice was not fetched (the dispatcher's prefetch)."""
    attachment = turn.inbound.attachment
    if attachment is None:
        return turn.t("evidence.download_failed")
    name = escape(safe_name(attachment.file_name))
    if not is_allowed(attachment.file_name):
        return turn.t("notices.error.file_type", file=name)
    if attachment.size == 0:
        return turn.t("notices.error.file_empty", file=name)
    if attachment.size is not None and attachment.size > turn.deps.max_evidence_bytes:
        locale = turn.tr.locale
        return turn.t(
            "evidence.too_big",
            size=fmt_size(attachment.size, locale),
            max=fmt_size(turn.deps.max_evidence_bytes, locale),
        )
    return turn.t("evidence.download_failed")


async def _ask_audience(turn: Turn) -> None:
    scope = await scope_of(turn)
    campaign_id = int(turn.state.data["c"])
    teams = await campaign_teams(turn.session, campaign_id)
    if not scope.admin:
        teams = [t for t in teams if t.id in scope.leader_teams]
    rows = []
    if scope.admin:
        rows += [[turn.button(f"broadcast.audience.{a}", make("bca", a))] for a in ADMIN_AUDIENCES]
    rows += [
        [turn.button("broadcast.audience.team", make("bca", f"team:{t.code}"), team=t.name)]
        for t in teams
    ]
    turn.set_state(
        "bc_audience",
        **{k: v for k, v in turn.state.data.items() if k in ("c", "text", "file", "file_name")},
    )
    turn.say(turn.t("broadcast.ask_audience"), rows)


async def _allowed_audience(turn: Turn, audience: str) -> bool:
    scope = await scope_of(turn)
    if scope.admin:
        return True
    if not audience.startswith("team:"):
        return False
    code = audience.split(":", 1)[1]
    team_id = await team_id_by_code(turn.session, int(turn.state.data.get("c") or 0), code)
    return team_id in scope.leader_teams


async def picked_audience(turn: Turn, token: Token) -> None:
    audience = ":".join(token.args)
    if turn.state.state != "bc_audience" or not turn.state.data.get("text"):
        await stale_button(turn)
        return
    if not await _allowed_audience(turn, audience):
        await deny(turn, "broadcast.audience", audience)
        return
    campaign_id = int(turn.state.data["c"])
    recipients = await resolve_audience(turn.session, campaign_id, audience, turn.now)
    turn.set_state("bc_confirm", **{**turn.state.data, "audience": audience})
    preview = turn.t(
        "broadcast.preview",
        text=escape(turn.state.data["text"]),
        audience=turn.t(_audience_key(audience), team=audience.partition(":")[2]),
        count=len(recipients),
    )
    if turn.state.data.get("file_name"):
        preview += "\n" + turn.t("broadcast.with_file", name=escape(turn.state.data["file_name"]))
    turn.say(
        preview,
        [
            [
                turn.button("broadcast.send_now", make("bcs", "now")),
                turn.button("broadcast.schedule", make("bct")),
            ],
            [turn.button("common.cancel", make("bcx"))],
        ],
        edit=True,
    )


def _audience_key(audience: str) -> str:
    return (
        "broadcast.audience.team"
        if audience.startswith("team:")
        else f"broadcast.audience.{audience}"
    )


async def ask_time(turn: Turn, token: Token) -> None:
    if turn.state.state != "bc_confirm":
        await stale_button(turn)
        return
    turn.set_state("bc_time", **turn.state.data)
    turn.remember(typed=True)
    turn.say(turn.t("broadcast.ask_time"))


async def typed_time(turn: Turn) -> None:
    campaign = await campaign_by_id(turn.session, int(turn.state.data.get("c") or 0))
    assert campaign is not None
    try:
        when = parse_local(turn.inbound.text, campaign.timezone)
    except ValueError:
        turn.say(turn.t("broadcast.bad_time"))
        return
    if when <= turn.now:
        turn.say(turn.t("broadcast.time_past"))
        return
    turn.set_state("bc_confirm", **{**turn.state.data, "at": when.isoformat()})
    turn.say(
        turn.t("broadcast.confirm_time", time=fmt_datetime(when, campaign.timezone)),
        [
            [
                turn.button("common.confirm", make("bcs", "at")),
                turn.button("common.cancel", make("bcx")),
            ]
        ],
    )


async def send(turn: Turn, token: Token) -> None:
    data = turn.state.data
    if turn.state.state != "bc_confirm" or not data.get("audience"):
        await stale_button(turn)
        return
    if not await _allowed_audience(turn, data["audience"]):
        await deny(turn, "broadcast.audience", data["audience"])
        return
    campaign = await campaign_by_id(turn.session, int(data["c"]))
    assert campaign is not None
    scheduled = token.args[:1] == ("at",) and data.get("at")
    send_at = datetime.fromisoformat(data["at"]) if scheduled else turn.now
    notice = await create_notice(
        turn.session,
        campaign,
        audience=data["audience"],
        text=data["text"],
        send_at=send_at,
        now=turn.now,
        created_by=turn.person.id,
        file_path=data.get("file"),
    )
    # Due now: its outbox rows are written with it (a later one is the scheduler's).
    written = (
        await dispatch_notice(turn.session, notice, turn.now) if notice.send_at <= turn.now else 0
    )
    turn.wrote_outbox = written > 0
    turn.set_state("idle")
    key = "broadcast.sent" if send_at <= turn.now else "broadcast.scheduled"
    turn.say(
        turn.t(key, count=written, time=fmt_datetime(send_at, campaign.timezone)),
        [[turn.button("broadcast.report", make("bcr", notice.id))]],
        edit=True,
    )


async def cancel(turn: Turn, token: Token) -> None:
    turn.set_state("idle")
    turn.say(turn.t("onboarding.cancelled"), edit=True)


async def _own_notice(turn: Turn, token: Token, action: str) -> Notice | None:
    """The notice a report button points at, if this person may see it (admin, author)."""
    notice = await notice_by_id(turn.session, token.int_arg(0) or 0)
    scope = await scope_of(turn)
    if notice is None or not (scope.admin or notice.created_by == turn.person.id):
        await deny(turn, action, f"notice:{token.int_arg(0)}")
        return None
    return notice


def by_channel(counts: dict[str, int]) -> str:
    """ "Telegram 3 · Zalo 1": how many went through each channel."""
    return " · ".join(f"{PLATFORM_NAMES.get(p, p)} {n}" for p, n in counts.items())


async def report(turn: Turn, token: Token) -> None:
    notice = await _own_notice(turn, token, "broadcast.report")
    if notice is not None:
        await _say_report(turn, notice)


async def _say_report(turn: Turn, notice: Notice, *, note: str = "") -> None:
    row = next(
        r for r in await notice_report(turn.session, notice.campaign_id) if r.id == notice.id
    )
    lines = [
        turn.t(
            "broadcast.report_text",
            excerpt=escape(row.excerpt),
            sent=row.sent,
            pending=row.pending,
            failed=row.failed,
            unreachable=row.unreachable,
            recipients=row.recipients,
        )
    ]
    if row.sent_by_channel:
        lines.append(turn.t("link.by_channel", channels=by_channel(row.sent_by_channel)))
    buttons = [[turn.button("broadcast.refresh", make("bcr", notice.id))]]
    if row.in_doubt:
        lines.append(turn.t("broadcast.in_doubt_line", count=row.in_doubt))
        buttons.append(
            [turn.button("broadcast.resend", make("bcd", notice.id), count=row.in_doubt)]
        )
    if note:
        lines.append(note)
    turn.say("\n".join(lines), buttons, edit=True)


async def resend(turn: Turn, token: Token) -> None:
    """Send the notice's messages in doubt again: the admin's (or author's) decision."""
    notice = await _own_notice(turn, token, "broadcast.resend")
    if notice is None:
        return
    count = await resend_notice(turn.session, notice, turn.now, actor_id=turn.person.id)
    if count:
        turn.wrote_outbox = True
    await _say_report(turn, notice, note=turn.t("broadcast.resent", count=count))


CHOICES = {
    "bcc": picked_campaign,
    "bca": picked_audience,
    "bct": ask_time,
    "bcs": send,
    "bcx": cancel,
    "bcr": report,
    "bcd": resend,
}
STATE_TEXT = {"bc_text": typed_text, "bc_time": typed_time}
STATE_FILE = {"bc_text": received_file, "bc_audience": received_file}
