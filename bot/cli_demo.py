"""`cchc-bot demo`: try the bot in a browser, with demo data, no token and no internet."""

from __future__ import annotations

import asyncio
import errno
import shutil
import tempfile
from pathlib import Path

import click

from bot.cli_root import Context, cli


@cli.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, help="Port of the web chat.")
@click.option(
    "--telegram", is_flag=True, help="Serve the same demo data on Telegram too (needs BOT_TOKEN)."
)
@click.option(
    "--numbered",
    is_flag=True,
    help="Show choices as numbered lists to answer by number, as on Zalo.",
)
@click.option(
    "--keep",
    is_flag=True,
    help="Keep the demo's temporary folder (database, evidence) after it stops.",
)
@click.pass_context
def demo(
    click_ctx: click.Context, host: str, port: int, telegram: bool, numbered: bool, keep: bool
) -> None:
    """Run the bot on demo data with a web chat at http://127.0.0.1:8080.

    A fresh database in a temporary folder (never the configured one) gets the example
    campaign, demo people and a realistic spread of progress. On the page you can be a unit
    contact, the team leader or the admin, and move the demo clock forward.
    """
    from bot.demo import DemoOptions, RunningDemo, demo_settings, run_demo

    ctx: Context = click_ctx.obj
    if telegram and not ctx.settings.token():
        click.echo(ctx.tr("web.demo.no_token"), err=True)
        raise SystemExit(2)
    folder = Path(tempfile.mkdtemp(prefix="cchc-demo-"))
    settings = demo_settings(ctx.settings, folder)

    def announce(running: RunningDemo) -> None:
        click.echo(ctx.tr("web.demo.started", url=running.url, folder=folder))
        if running.telegram_username:
            click.echo(ctx.tr("web.demo.started_telegram", username=running.telegram_username))

    try:
        asyncio.run(run_demo(settings, DemoOptions(host, port, telegram, numbered), announce))
    except OSError as error:
        if error.errno != errno.EADDRINUSE:
            raise
        click.echo(ctx.tr("web.demo.port_busy", port=port), err=True)
        raise SystemExit(1) from error
    finally:
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)
