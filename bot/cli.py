"""`cchc-bot`: the one console command, with subcommands for every admin task.

Importing this module registers every subcommand on the group of bot/cli_root.py.
"""

from __future__ import annotations

import sys

import click

from bot import (  # noqa: F401  (each registers its subcommands)
    cli_campaign,
    cli_conclusion,
    cli_demo,
    cli_export,
    cli_invites,
    cli_notice,
    cli_run,
    cli_web,
)
from bot.app import App
from bot.cli_help import install
from bot.cli_root import Context, cli, pass_ctx, with_app

__all__ = ["cli", "main"]


@cli.group()
def db() -> None:
    """Database: apply migrations, show the version."""


@db.command("upgrade")
@pass_ctx
@with_app
async def db_upgrade(ctx: Context, app: App) -> None:
    """Create or update the database tables (safe to run again)."""
    from storage.db import current_revision

    click.echo(ctx.tr("cli.db_upgraded", revision=await current_revision(app.engine)))


install(cli)  # every command registered by now: help in the user's language


def main() -> None:
    try:
        cli.main(prog_name="cchc-bot", standalone_mode=True)
    except KeyboardInterrupt:
        sys.exit(130)
