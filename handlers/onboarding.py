"""Joining with an invite code, language, help, and answers to the unexpected."""

from __future__ import annotations

import logging
import math
from datetime import datetime, timedelta
from html import escape

from common.localtime import fmt_datetime
from common.messages import Choice
from handlers.context import Turn
from handlers.tokens import Token, make
from handlers.unit import roles
from storage.db.models import Person, Role, SubmissionStatus
from storage.services.invite_codes import looks_like_code
from storage.services.invite_target import live_unit_invite
from storage.services.invites import RedeemOutcome, alert_invite_flood, redeem_invite
from storage.services.people import PersonRole, person_row

log = logging.getLogger(__name__)

LANGUAGES = {"vi": "Tiếng Việt", "en": "English"}


async def start(turn: Turn) -> None:
    code = turn.inbound.text.strip()
    if code:
        await _redeem(turn, code)
        return
    await _welcome(turn)


async def _welcome(turn: Turn) -> None:
    linked = await roles(turn)
    if not linked:
        turn.say(turn.t("onboarding.welcome_new"))
        return
    name = escape(turn.person.full_name)
    turn.say(turn.t("onboarding.welcome_back", name=name), _next_buttons(turn, linked))


def _bad_code_attempts(turn: Turn) -> list[datetime]:
    window = timedelta(seconds=turn.deps.bad_code_window_s)
    recent = [datetime.fromisoformat(t) for t in turn.state.data.get("bad_codes", [])]
    return [t for t in recent if turn.now - t < window]


def _too_many(turn: Turn, wait: timedelta) -> None:
    minutes = max(1, math.ceil(wait.total_seconds() / 60))
    turn.say(turn.t("onboarding.too_many_codes", minutes=minutes))


async def _asked_before_moving(turn: Turn, typed: str) -> bool:
    """A unit contact typing a code for another unit is asked first: the chat would move
    to that unit (the first stays theirs, reachable again through /checklist)."""
    current = [r for r in await roles(turn) if r.role == Role.UNIT_CONTACT]
    if not current:
        return False
    target = await live_unit_invite(turn.session, typed, turn.now)
    if target is None or any(r.assignment_id == target.assignment_id for r in current):
        return False
    active = next((r for r in current if r.membership_id == turn.state.data.get("role")), None)
    first = (active or current[0]).unit_name or ""
    turn.set_state("confirm_code", code=typed)
    turn.say(
        turn.t("edges.second_code", current=escape(first), unit=escape(target.unit_name)),
        [
            [turn.button("edges.second_code_yes", make("cm"))],
            [turn.button("common.cancel", make("cmx"))],
        ],
    )
    return True


async def confirm_second_code(turn: Turn, token: Token) -> None:
    code = turn.state.data.get("code") if turn.state.state == "confirm_code" else None
    if not isinstance(code, str):
        await stale_button(turn)
        return
    turn.set_state("idle")
    await _redeem(turn, code, confirmed=True)


async def keep_first_unit(turn: Turn, token: Token) -> None:
    if turn.state.state != "confirm_code":
        await stale_button(turn)
        return
    turn.set_state("idle")
    turn.say(turn.t("edges.second_code_kept"))


async def _redeem(turn: Turn, typed: str, *, confirmed: bool = False) -> None:
    attempts = _bad_code_attempts(turn)
    if len(attempts) >= turn.deps.bad_code_limit:
        _too_many(turn, timedelta(seconds=turn.deps.bad_code_window_s) - (turn.now - min(attempts)))
        return
    guard = turn.deps.invite_guard
    if guard.closed(turn.now):  # too many wrong codes from all chats: not even looked up
        _too_many(turn, guard.reopens_in(turn.now))
        return
    if not confirmed and await _asked_before_moving(turn, typed):
        return
    person = await person_row(turn.session, turn.account)
    result = await redeem_invite(turn.session, typed, person, now=turn.now)
    if result.outcome in (RedeemOutcome.OK, RedeemOutcome.ALREADY_YOURS):
        turn.roles = None  # the new role must show up
        linked = await roles(turn)
        role = next(
            (r for r in linked if result.membership and r.membership_id == result.membership.id),
            None,
        )
        if role is not None:
            _name_if_blank(turn, person, role)
            _greet(turn, role, again=result.outcome == RedeemOutcome.ALREADY_YOURS)
            return
    if result.outcome != RedeemOutcome.USED:
        turn.remember(bad_codes=[t.isoformat() for t in [*attempts, turn.now]])
        if guard.count_wrong(turn.now, turn.account.chat_id):
            await _alert_flood(turn)
    turn.say(turn.t(f"onboarding.code_{result.outcome.value}", code=escape(typed[:40])))


async def _alert_flood(turn: Turn) -> None:
    guard, now = turn.deps.invite_guard, turn.now
    admins = await alert_invite_flood(
        turn.session,
        now=now,
        since=guard.window_start(now),
        limit=guard.limit,
        chats=guard.chats(now),
        admin_user_ids=turn.deps.admin_ids,
    )
    log.warning("%s wrong invite codes this minute: code checks paused", guard.limit)
    turn.wrote_outbox = admins > 0


def _name_if_blank(turn: Turn, person: Person, role: PersonRole) -> None:
    """Someone whose platform gave no display name is named by role and unit (or team),
    so answer histories and exports never show an empty name; a name the platform sends
    later still replaces it only when blank (storage/services/people.py), so this stays."""
    if person.full_name.strip():
        return
    where = role.unit_name or role.team_name or role.campaign_title
    person.full_name = turn.t(f"edges.role_{role.role.value}", where=where)


def _greet(turn: Turn, role: PersonRole, *, again: bool) -> None:
    if role.role == Role.UNIT_CONTACT:
        turn.remember(role=role.membership_id)
        turn.set_state("idle")
    params = {
        "name": escape(turn.person.full_name or "bạn"),
        "unit": escape(role.unit_name or ""),
        "team": escape(role.team_name or ""),
        "campaign": escape(role.campaign_title),
        "deadline": fmt_datetime(role.deadline, role.timezone),
    }
    key = f"onboarding.greet_{role.role.value}"
    text = turn.t(key, **params)
    if _overdue(turn, role):
        text += "\n\n" + turn.t("edges.joined_overdue", deadline=params["deadline"])
    if again:
        text = turn.t("onboarding.already_linked") + "\n\n" + text
    turn.say(text, _next_buttons(turn, [role]))


def _overdue(turn: Turn, role: PersonRole) -> bool:
    """A unit contact joining after the deadline, their report not in yet."""
    if role.role != Role.UNIT_CONTACT or turn.now <= role.deadline:
        return False
    status = role.submission.status if role.submission is not None else None
    return status not in (SubmissionStatus.SUBMITTED, SubmissionStatus.ACCEPTED)


def _next_buttons(turn: Turn, linked: list[PersonRole]) -> list[list[Choice]]:
    if any(r.role == Role.UNIT_CONTACT for r in linked):
        return [
            [turn.button("onboarding.button_start", make("k"))],
            [turn.button("onboarding.button_status", make("st"))],
        ]
    return [[turn.button("onboarding.button_status", make("st"))]]


async def idle_text(turn: Turn) -> None:
    """Text when nothing is asked: an invite code, or something we can point onwards."""
    text = turn.inbound.text.strip()
    if looks_like_code(text):
        await _redeem(turn, text)
        return
    linked = await roles(turn)
    if not linked:
        turn.say(turn.t("onboarding.send_code"))
        return
    turn.say(turn.t("onboarding.nothing_asked"), _next_buttons(turn, linked))


async def help_(turn: Turn) -> None:
    linked = await roles(turn)
    parts = [turn.t("help.title")]
    kinds = {r.role for r in linked}
    if not linked:
        parts.append(turn.t("help.not_linked"))
    if Role.UNIT_CONTACT in kinds:
        parts.append(turn.t("help.unit_contact"))
    if kinds & {Role.TEAM_LEADER, Role.TEAM_MEMBER}:
        parts.append(turn.t("help.team"))
    if turn.is_admin or Role.ADMIN in kinds:
        parts.append(turn.t("help.admin"))
    parts.append(turn.t("help.common") + "\n" + turn.t("link.help"))
    turn.say("\n\n".join(parts))


async def language(turn: Turn) -> None:
    typed = turn.inbound.text.strip().lower()
    if typed in LANGUAGES:  # "/lang en": at once, no buttons
        await _set_language(turn, typed, edit=False)
        return
    turn.say(
        turn.t("onboarding.pick_language"),
        [
            [
                turn.button("onboarding.language_name", make("lang", code), name=name)
                for code, name in LANGUAGES.items()
            ]
        ],
    )


async def choose_language(turn: Turn, token: Token) -> None:
    code = token.args[0] if token.args else ""
    if code not in LANGUAGES:
        await stale_button(turn)
        return
    await _set_language(turn, code, edit=True)


async def _set_language(turn: Turn, code: str, *, edit: bool) -> None:
    (await person_row(turn.session, turn.account)).locale = code
    turn.account.locale = code
    turn.tr = turn.deps.catalog.for_locale(code)
    turn.say(turn.t("onboarding.language_set"), edit=edit)


async def cancel(turn: Turn) -> None:
    turn.set_state("idle")
    turn.say(turn.t("onboarding.cancelled"), _next_buttons(turn, await roles(turn)))


async def unknown_command(turn: Turn) -> None:
    command = escape((turn.inbound.command or "")[:30])
    turn.say(turn.t("onboarding.unknown_command", command=command))


async def unsupported(turn: Turn) -> None:
    """Stickers, voice, locations...: say what the bot can take instead (no documents on a
    channel that cannot carry them, such as Zalo)."""
    caps = turn.deps.capabilities.get(turn.account.platform)
    if caps is not None and not caps.documents:
        turn.say(turn.t("zalo.unsupported"))
        return
    turn.say(turn.t("onboarding.unsupported"))


async def stale_button(turn: Turn) -> None:
    text = turn.t("onboarding.stale_button")
    turn.say(text, toast=text)


CHOICES = {"lang": choose_language, "cm": confirm_second_code, "cmx": keep_first_unit}
