"""`cchc-bot web-link PERSON`: a one-time sign-in link to the desk console (the first
admin has nobody to ask for one in chat)."""

from __future__ import annotations

import click

from bot.app import App
from bot.cli_root import Context, cli, pass_ctx, with_app
from handlers.web_login import login_url
from storage.db import transaction
from storage.services.web_sessions import LINK_TTL, find_person, issue_link


@cli.command("web-link")
@click.argument("person")
@pass_ctx
def web_link(ctx: Context, person: str) -> None:
    """Print a one-time sign-in link for PERSON (id, platform:user_id, or full name)."""
    with_app(_link)(ctx, person)


async def _link(ctx: Context, app: App, spec: str) -> None:
    base = app.settings.console_url()
    if base is None:
        click.echo(ctx.tr("console.cli_link_no_port"), err=True)
        raise SystemExit(2)
    async with transaction(app.sessions) as session:
        person = await find_person(session, spec)
        if person is None:
            click.echo(ctx.tr("console.cli_link_no_person", person=spec), err=True)
            raise SystemExit(1)
        token = await issue_link(session, person.id, now=app.clock.now())
        name = person.full_name
    minutes = int(LINK_TTL.total_seconds() // 60)
    click.echo(ctx.tr("console.cli_link", name=name, minutes=minutes))
    click.echo(login_url(base, token))
