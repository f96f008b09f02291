"""The locale catalog: every user-facing text, Vietnamese first, English second.

Texts live in `common/locales/<lang>/<namespace>.yaml`; a key is `<namespace>.<path>` (nested
mappings joined with dots), e.g. `checklist.prompt.date`. Placeholders use str.format
syntax (`{deadline}`). A test checks every key and placeholder exists in every locale.
"""

from __future__ import annotations

import logging
import string
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

log = logging.getLogger(__name__)

LOCALES_DIR = Path(__file__).parent / "locales"
DEFAULT_LOCALE = "vi"
SUPPORTED = ("vi", "en")


def normalize_locale(hint: str | None) -> str:
    """Map a platform language hint ("en-US", "vi") to a supported locale."""
    if hint:
        lang = hint.split("-")[0].split("_")[0].lower()
        if lang in SUPPORTED:
            return lang
    return DEFAULT_LOCALE


def _flatten(prefix: str, node: Any, out: dict[str, str]) -> None:
    if isinstance(node, Mapping):
        for key, value in node.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), value, out)
    else:
        out[prefix] = str(node)


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@cache
def _read_texts(root: Path) -> dict[str, dict[str, str]]:
    yaml = YAML(typ="safe")
    texts: dict[str, dict[str, str]] = {}
    for lang_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        flat: dict[str, str] = {}
        for file in sorted(lang_dir.glob("*.yaml")):
            _flatten(file.stem, yaml.load(file.read_text(encoding="utf-8")) or {}, flat)
        texts[lang_dir.name] = flat
    return texts


class Catalog:
    def __init__(self, texts: dict[str, dict[str, str]]) -> None:
        self.texts = texts  # locale -> key -> text

    @classmethod
    def load(cls, root: Path = LOCALES_DIR) -> Catalog:
        """The catalog of the files under `root`, each locale a folder. The files ship with
        the code, so they are parsed once per process (a CLI command used to parse them
        twice); every call gets its own copy of the texts."""
        return cls({locale: dict(flat) for locale, flat in _read_texts(root).items()})

    def has(self, key: str) -> bool:
        return key in self.texts.get(DEFAULT_LOCALE, {})

    def t(self, locale: str, key: str, /, **params: Any) -> str:
        table = self.texts.get(locale) or self.texts[DEFAULT_LOCALE]
        template = table.get(key) or self.texts[DEFAULT_LOCALE].get(key)
        if template is None:
            log.error("missing catalog key %s", key)
            return key
        try:
            return template.format(**params)
        except (KeyError, IndexError, ValueError):
            log.exception("bad params for catalog key %s", key)
            return template

    def for_locale(self, locale: str) -> Translator:
        return Translator(self, normalize_locale(locale))


@dataclass(frozen=True)
class Translator:
    """A catalog bound to one person's locale: `tr("status.title", unit=...)`."""

    catalog: Catalog
    locale: str

    def __call__(self, key: str, /, **params: Any) -> str:
        return self.catalog.t(self.locale, key, **params)
