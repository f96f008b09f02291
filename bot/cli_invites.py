"""`cchc-bot invites ...`: list, revoke and issue invite codes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import click

from bot.app import App
from bot.cli_output import csv_text, json_text, table
from bot.cli_root import Context, cli, pass_ctx, with_app
from common.localtime import fmt_date
from storage.db import transaction
from storage.db.models import Role
from storage.services import campaigns
from storage.services.invite_codes import format_code
from storage.services.invites import InviteError, InviteRow, list_invites, new_invite, revoke_invite


class InvitesGroup(click.Group):
    """`invites CAMPAIGN` lists; `invites revoke|new ...` are subcommands."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and not args[0].startswith("-") and args[0] not in self.commands:
            args = ["list", *args]
        return super().parse_args(ctx, args)


@cli.group(cls=InvitesGroup)
def invites() -> None:
    """Invite codes: `invites CAMPAIGN` lists them; `revoke` and `new` change them."""


COLUMNS = (
    "code",
    "role",
    "unit_code",
    "unit_name",
    "team_code",
    "state",
    "expires",
    "used_by",
    "link",
)


def _row(row: InviteRow, ctx: Context | None = None) -> list[Any]:
    """CSV keeps the stable codes (team_leader, live); the table shows them in words."""
    role = ctx.tr(f"cli.role.{row.role}") if ctx else row.role
    state = ctx.tr(f"cli.state.{row.state}") if ctx else row.state
    return [
        format_code(row.code),  # read aloud or typed in groups; accepted either way
        role,
        row.unit_code,
        row.unit_name,
        row.team_code,
        state,
        fmt_date(row.expires_at),
        row.used_by,
        row.link,
    ]


@invites.command("list")
@click.argument("campaign_code", metavar="CAMPAIGN")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table")
@click.option("--all", "include_all", is_flag=True, help="Also show revoked and expired codes.")
@pass_ctx
@with_app
async def invites_list(
    ctx: Context, app: App, campaign_code: str, fmt: str, include_all: bool
) -> None:
    """List one code per unit contact slot and per team leader/member, with deep links."""
    async with transaction(app.sessions) as session:
        found = await campaigns.get_campaign(session, campaign_code)
        if found is None:
            raise click.ClickException(ctx.tr("cli.unknown_campaign", code=campaign_code))
        rows = await list_invites(
            session,
            found.id,
            now=app.clock.now(),
            bot_username=app.settings.bot_username,
            include_inactive=include_all,
        )
    if fmt == "json":
        click.echo(json_text([r.as_dict() for r in rows]))
    elif fmt == "csv":
        click.echo(csv_text(COLUMNS, [_row(r) for r in rows]), nl=False)
    else:
        headers = [ctx.tr(f"cli.col.{c}") for c in COLUMNS]
        click.echo(table(headers, [_row(r, ctx) for r in rows]))


@invites.command("revoke")
@click.argument("code")
@pass_ctx
@with_app
async def invites_revoke(ctx: Context, app: App, code: str) -> None:
    """Revoke CODE; if it was used, the person loses the role it gave."""
    try:
        async with transaction(app.sessions) as session:
            invite = await revoke_invite(session, code, now=app.clock.now())
    except InviteError as exc:
        raise click.ClickException(ctx.tr(f"cli.invite_error.{exc.reason}", **exc.params)) from exc
    click.echo(ctx.tr("cli.invite_revoked", code=format_code(invite.code)))


@invites.command("new")
@click.argument("campaign_code", metavar="CAMPAIGN")
@click.option("--role", type=click.Choice([r.value for r in Role]), default=Role.UNIT_CONTACT.value)
@click.option("--unit", "unit_code", help="Unit code, for --role unit_contact.")
@click.option("--team", "team_code", help="Team code, for team_leader / team_member.")
@click.option("--days", type=int, help="Days before the code expires (default INVITE_TTL_DAYS).")
@pass_ctx
@with_app
async def invites_new(
    ctx: Context,
    app: App,
    campaign_code: str,
    role: str,
    unit_code: str | None,
    team_code: str | None,
    days: int | None,
) -> None:
    """Issue a new code, e.g. to replace a revoked one."""
    ttl = timedelta(days=days or app.settings.invite_ttl_days)
    try:
        async with transaction(app.sessions) as session:
            found = await campaigns.get_campaign(session, campaign_code)
            if found is None:
                raise click.ClickException(ctx.tr("cli.unknown_campaign", code=campaign_code))
            invite = await new_invite(
                session,
                found,
                Role(role),
                now=app.clock.now(),
                ttl=ttl,
                unit_code=unit_code,
                team_code=team_code,
            )
    except InviteError as exc:
        raise click.ClickException(ctx.tr(f"cli.invite_error.{exc.reason}", **exc.params)) from exc
    click.echo(
        ctx.tr(
            "cli.invite_created", code=format_code(invite.code), expires=fmt_date(invite.expires_at)
        )
    )
