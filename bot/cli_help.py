"""`cchc-bot --help` and every command's help in the user's language: Vietnamese unless
`--lang en` or the shell's locale says English (bot/cli_root.cli_locale).

The texts live in the catalog (namespace `cli_help`, keyed by the command's path); the
docstrings stay as the code's own description. Every command gets `LocalizedContext`
(click's documented `context_class`), whose formatter first puts the catalog's texts on the
whole command tree, then writes click's own words (Usage, Options, Commands) translated.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import click

from bot.cli_root import cli_locale
from common.i18n import Catalog, Translator, normalize_locale

PREFIX = "cli_help"
_CATALOG: Catalog | None = None


def _catalog() -> Catalog:
    global _CATALOG
    if _CATALOG is None:
        _CATALOG = Catalog.load()
    return _CATALOG


def _walk(
    command: click.Command, path: tuple[str, ...] = ()
) -> Iterator[tuple[str, click.Command]]:
    yield ".".join(p.replace("-", "_") for p in path) or "root", command
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield from _walk(sub, (*path, name))


def localize(root: click.Command, tr: Translator) -> None:
    """Put the catalog's help texts, in `tr`'s language, on every command and option."""
    catalog = tr.catalog
    for key, command in _walk(root):
        if catalog.has(f"{PREFIX}.{key}.help"):
            command.help = tr(f"{PREFIX}.{key}.help")
            command.short_help = None  # click derives it from the help again
        for param in command.params:
            option_key = f"{PREFIX}.{key}.opt.{param.name}"
            if isinstance(param, click.Option) and catalog.has(option_key):
                param.help = tr(option_key)


class LocalizedFormatter(click.HelpFormatter):
    """Click's own words in the user's language."""

    def __init__(self, tr: Translator, width: int | None, max_width: int | None) -> None:
        super().__init__(width=width, max_width=max_width)
        self.tr = tr
        self.words = {
            "Options": tr(f"{PREFIX}.words.options"),
            "Commands": tr(f"{PREFIX}.words.commands"),
            "Arguments": tr(f"{PREFIX}.words.arguments"),
            "Show this message and exit.": tr(f"{PREFIX}.words.help_option"),
            "Show the version and exit.": tr(f"{PREFIX}.words.version_option"),
        }

    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        super().write_usage(prog, args, prefix or self.tr(f"{PREFIX}.words.usage"))

    def write_heading(self, heading: str) -> None:
        super().write_heading(self.words.get(heading, heading))

    def write_dl(
        self, rows: Iterable[tuple[str, str]], col_max: int = 30, col_spacing: int = 2
    ) -> None:
        shown = [(term, self.words.get(text, text)) for term, text in rows]
        super().write_dl(shown, col_max, col_spacing)


class LocalizedContext(click.Context):
    def make_formatter(self) -> click.HelpFormatter:
        root = self.find_root()
        lang = root.params.get("lang")  # eager: set when given before --help
        tr = _catalog().for_locale(normalize_locale(lang) if lang else cli_locale())
        localize(root.command, tr)
        return LocalizedFormatter(tr, self.terminal_width, self.max_content_width)


def install(root: click.Command) -> None:
    """Give every command of the tree the localized help (call once all are registered)."""
    for _, command in _walk(root):
        command.context_class = LocalizedContext
