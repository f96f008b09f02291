"""`cchc-bot notice ...`: store a notice for an audience (now or at a time), list notices,
send again what a crash left in doubt.

`notice send` only stores the notice; the running bot's scheduler dispatches due notices
and its delivery worker sends them. A notice due now is dispatched here too, in the same
transaction, so its outbox rows exist as soon as the command returns.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import click
from sqlalchemy.ext.asyncio import AsyncSession

from bot.app import App
from bot.cli_output import json_text, table
from bot.cli_root import Context, cli, pass_ctx, with_app
from common.localtime import fmt_datetime, parse_local
from storage.db import transaction
from storage.db.models import Campaign, Notice
from storage.services import campaigns
from storage.services.notices import (
    AUDIENCES,
    NoticeError,
    NoticeReport,
    create_notice,
    dispatch_notice,
    notice_by_id,
    notice_report,
    parse_audience,
    resend_notice,
    resolve_audience,
    store_notice_file,
)

COLUMNS = (
    "id",
    "audience",
    "send_at",
    "state",
    "recipients",
    "sent",
    "pending",
    "failed",
    "unreachable",
    "in_doubt",
    "text",
)


@cli.group()
def notice() -> None:
    """Notices: send a text (and a file) to units or teams, now or later; list them."""


async def _campaign(ctx: Context, session: AsyncSession, code: str) -> Campaign:
    found = await campaigns.get_campaign(session, code)
    if found is None:
        raise click.ClickException(ctx.tr("cli.unknown_campaign", code=code))
    return found


def _send_at(ctx: Context, at: str | None, tz: str, now: datetime) -> datetime:
    """--at in the campaign's local time; absent or past means now."""
    if at is None:
        return now
    try:
        return max(parse_local(at, tz), now)
    except ValueError:
        raise click.ClickException(ctx.tr("notices.cli.bad_time", value=at, tz=tz)) from None


def _refused(ctx: Context, error: NoticeError) -> click.ClickException:
    return click.ClickException(ctx.tr(error.key, **error.params))


@notice.command("send")
@click.argument("campaign_code", metavar="CAMPAIGN")
@click.option("--to", "audience", required=True, metavar="AUDIENCE", help=AUDIENCES)
@click.option("--text", required=True, help="The notice text (plain text).")
@click.option(
    "--file",
    "file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A document to attach (PDF, Word, Excel...).",
)
@click.option(
    "--at",
    "at",
    metavar='"dd/mm/yyyy HH:MM"',
    help="When to send, in the campaign's timezone; default: now.",
)
@pass_ctx
@with_app
async def notice_send(
    ctx: Context,
    app: App,
    campaign_code: str,
    audience: str,
    text: str,
    file: Path | None,
    at: str | None,
) -> None:
    """Store a notice to AUDIENCE of CAMPAIGN; the running bot sends it when due."""
    try:
        parse_audience(audience)  # refuse a typo before copying any file
    except NoticeError as error:
        raise _refused(ctx, error) from None
    now = app.clock.now()
    async with transaction(app.sessions) as session:
        tz = (await _campaign(ctx, session, campaign_code)).timezone
    send_at = _send_at(ctx, at, tz, now)
    try:
        # Copied outside any transaction: a large file must not hold the database lock.
        stored = store_notice_file(app.settings.evidence_dir, file) if file else None
        async with transaction(app.sessions) as session:
            found = await _campaign(ctx, session, campaign_code)
            stored_notice = await create_notice(
                session,
                found,
                audience=audience,
                text=text,
                send_at=send_at,
                now=now,
                file_path=str(stored) if stored else None,
                actor_label="cli",
            )
            recipients = await _recipients(session, stored_notice, now)
    except NoticeError as error:
        raise _refused(ctx, error) from None
    _report_stored(ctx, stored_notice, tz, recipients, due_now=stored_notice.send_at <= now)


async def _recipients(session: AsyncSession, stored: Notice, now: datetime) -> int:
    """Due now: dispatch it (see the module docstring), one outbox row per recipient;
    later: how many the audience would reach today."""
    if stored.send_at > now:
        return len(await resolve_audience(session, stored.campaign_id, stored.audience, now))
    return await dispatch_notice(session, stored, now)


def _report_stored(
    ctx: Context, stored: Notice, tz: str, recipients: int, *, due_now: bool
) -> None:
    key = "notices.cli.stored_now" if due_now else "notices.cli.stored_later"
    click.echo(
        ctx.tr(
            key,
            id=stored.id,
            audience=stored.audience,
            time=fmt_datetime(stored.send_at, tz),
            recipients=recipients,
        )
    )
    if stored.file_path:
        click.echo(ctx.tr("notices.cli.with_file", file=stored.file_path))
    if recipients == 0:
        click.echo(ctx.tr("notices.cli.no_recipients"), err=True)


@notice.command("list")
@click.argument("campaign_code", metavar="CAMPAIGN")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@pass_ctx
@with_app
async def notice_list(ctx: Context, app: App, campaign_code: str, fmt: str) -> None:
    """List the notices of CAMPAIGN with how many were sent, pending, failed, unreachable
    and in doubt (being sent when the bot stopped: `notice resend` sends them again)."""
    async with transaction(app.sessions) as session:
        found = await _campaign(ctx, session, campaign_code)
        reports = await notice_report(session, found.id)
    tz = found.timezone
    if fmt == "json":
        click.echo(json_text([_record(r, tz) for r in reports]))
        return
    if not reports:
        click.echo(ctx.tr("notices.cli.no_notices", code=found.code))
        return
    headers = [ctx.tr(f"notices.cli.col.{column}") for column in COLUMNS]
    click.echo(table(headers, [_row(ctx, r, tz) for r in reports]))


def _row(ctx: Context, report: NoticeReport, tz: str) -> list[Any]:
    text = report.excerpt + (f" 📎 {report.file_name}" if report.file_name else "")
    return [
        report.id,
        report.audience,
        fmt_datetime(report.send_at, tz),
        ctx.tr(f"notices.cli.state.{report.state.value}"),
        report.recipients,
        _sent(report),
        report.pending,
        report.failed,
        report.unreachable,
        report.in_doubt,
        text,
    ]


def _sent(report: NoticeReport) -> str:
    """ "3", or "3 (telegram 2, zalo 1)" when they went through more than one channel."""
    if len(report.sent_by_channel) < 2:
        return str(report.sent)
    channels = ", ".join(f"{p} {n}" for p, n in report.sent_by_channel.items())
    return f"{report.sent} ({channels})"


def _record(report: NoticeReport, tz: str) -> dict[str, Any]:
    return {
        "id": report.id,
        "audience": report.audience,
        "send_at": report.send_at.isoformat(),
        "send_at_local": fmt_datetime(report.send_at, tz),
        "state": report.state.value,
        "text": report.excerpt,
        "file": report.file_name,
        "dispatched_at": report.dispatched_at.isoformat() if report.dispatched_at else None,
        "recipients": report.recipients,
        "sent": report.sent,
        "pending": report.pending,
        "failed": report.failed,
        "unreachable": report.unreachable,
        "in_doubt": report.in_doubt,
        "sent_by_channel": report.sent_by_channel,
    }


@notice.command("resend")
@click.argument("campaign_code", metavar="CAMPAIGN")
@click.argument("notice_id", metavar="NOTICE", type=int)
@pass_ctx
@with_app
async def notice_resend(ctx: Context, app: App, campaign_code: str, notice_id: int) -> None:
    """Send NOTICE's messages in doubt again (those being sent when the bot stopped; some
    may have arrived, so a recipient can get the notice twice)."""
    now = app.clock.now()
    async with transaction(app.sessions) as session:
        found = await _campaign(ctx, session, campaign_code)
        stored = await notice_by_id(session, notice_id)
        if stored is None or stored.campaign_id != found.id:
            raise click.ClickException(
                ctx.tr("notices.cli.unknown_notice", code=found.code, id=notice_id)
            )
        count = await resend_notice(session, stored, now, actor_label="cli")
    key = "notices.cli.resent" if count else "notices.cli.nothing_to_resend"
    click.echo(ctx.tr(key, id=notice_id, count=count))
