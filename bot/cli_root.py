"""The `cchc-bot` group and what every subcommand gets (settings, a translator, an opened
App). The subcommands live in bot/cli_*.py and register on `cli` here; bot/cli.py imports
them all and is the console entry point."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any, TypeVar

import click
from pydantic import ValidationError

from bot.app import configure_logging, open_app
from bot.settings import Settings
from common.i18n import Catalog, Translator, normalize_locale

T = TypeVar("T")


def cli_locale() -> str:
    """Vietnamese unless the shell says English (LANG=en_US.UTF-8) or --lang en is given."""
    for var in ("CCHC_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(var)
        if value and value not in ("C", "POSIX", "C.UTF-8"):
            return normalize_locale(value)
    return "vi"


class Context:
    """What every subcommand gets: settings and a translator in the user's language."""

    def __init__(self, lang: str | None) -> None:
        self.locale = normalize_locale(lang) if lang else cli_locale()
        self.tr: Translator = Catalog.load().for_locale(self.locale)
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = Settings()
            except ValidationError as exc:
                problems = "; ".join(
                    f"{'.'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
                    for err in exc.errors()
                )
                raise click.ClickException(self.tr("cli.bad_settings", problems=problems)) from exc
            configure_logging(self._settings.log_level)
        return self._settings


pass_ctx = click.make_pass_decorator(Context)


def with_app(func: Callable[..., Awaitable[T]]) -> Callable[..., T]:
    """Run an async command body with an opened App (migrations applied), then close it."""

    @wraps(func)
    def wrapper(ctx: Context, *args: Any, **kwargs: Any) -> T:
        async def body() -> T:
            app = await open_app(ctx.settings)
            try:
                return await func(ctx, app, *args, **kwargs)
            finally:
                await app.close()

        return asyncio.run(body())

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--lang",
    type=click.Choice(["vi", "en"]),
    is_eager=True,  # read before --help, so `--lang en --help` is in English
    help="Language of messages (vi, en).",
)
@click.version_option(package_name="cchc-bot")
@click.pass_context
def cli(click_ctx: click.Context, lang: str | None) -> None:
    """CCHC inspection bot: run the chat bot and manage campaigns, invites and exports.

    Settings come from the environment or a .env file (see .env.example).
    """
    click_ctx.obj = Context(lang)
