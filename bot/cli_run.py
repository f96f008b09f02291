"""`cchc-bot run`: start the bot."""

from __future__ import annotations

import asyncio

import click

from bot.app import App
from bot.cli_root import Context, cli, with_app


@cli.command("run")
@click.option(
    "--webhook",
    "webhook_url",
    metavar="URL",
    help="Serve webhooks at this public HTTPS URL (Zalo at URL/zalo) instead of polling.",
)
@click.option("--host", default="0.0.0.0", show_default=True, help="Webhook: address to listen on.")
@click.option("--port", default=8080, show_default=True, help="Webhook: port to listen on.")
@click.pass_context
def run(click_ctx: click.Context, webhook_url: str | None, host: str, port: int) -> None:
    """Run the bot on every configured channel: Telegram (BOT_TOKEN), Zalo (ZALO_BOT_TOKEN).

    Long polling, or webhooks with --webhook URL: Telegram's at URL, Zalo's at URL/zalo."""
    ctx: Context = click_ctx.obj
    if not ctx.settings.token() and not ctx.settings.zalo_token():
        click.echo(ctx.tr("cli.no_token"), err=True)
        raise SystemExit(2)
    # Imported here: aiogram costs seconds to load, and no other command needs it.
    from bot.runner import WebhookOptions

    webhook = WebhookOptions(webhook_url, host, port) if webhook_url else None
    with_app(_serve)(ctx, webhook)


async def _serve(ctx: Context, app: App, webhook: object) -> None:
    from bot.channels.telegram import stop_on_signals
    from bot.runner import WebhookOptions, run_bot

    assert webhook is None or isinstance(webhook, WebhookOptions)
    # SIGTERM (systemd, docker stop) and Ctrl-C stop the bot the graceful way: updates in
    # flight are finished and confirmed, replies sent, the outbox's claims handed back.
    # Without this SIGTERM killed the process on the spot, like a kill -9.
    stop = asyncio.Event()
    with stop_on_signals(stop):
        await run_bot(app, webhook=webhook, stop=stop)
