"""Outbox rows -> Replies, in the recipient's language, at delivery time.

An outbox row carries a catalog key (`template`) and its `params`, not a text: the person
may switch language between planning and delivery, and a reminder planned today must read
in the language they use when it arrives.

Params are plain text: every string is HTML-escaped here (the template supplies the markup),
so whoever enqueues must NOT escape them. A float param is a number (a score, a share) and
is written in the reader's format here: "5,5" in Vietnamese, "5.5" in English, at most
two decimals. Keys starting with "_" are reserved
(`_buttons`, see storage/outbox.py; `_document`, see storage/notices.py) and never reach
the template as they are: `_numbers` ({name: number}) become placeholders formatted with
the recipient's decimal mark, and `_gaps` / `_marked_down` become lines after the text.

Rendering never raises: a missing key gives the generic `delivery.fallback` text, a missing
placeholder shows as "…"; both are logged as errors for someone to fix.
"""

from __future__ import annotations

import html
import logging
import mimetypes
from datetime import datetime
from pathlib import Path
from typing import Any

from common.i18n import DEFAULT_LOCALE, Catalog, Translator, normalize_locale, placeholders
from common.messages import Choice, OutFile, Reply
from schedules.delivery import Render
from storage.db.models import ChatAccount, OutboxMessage, Person
from storage.rules.answers import format_number
from storage.rules.scoring import SCORE_DECIMALS
from storage.services.appraisal_rounds import MARKED_DOWN_PARAM, NUMBERS_PARAM
from storage.services.outbox import BUTTONS_PARAM, DOCUMENT_PARAM, DUE_PARAM
from storage.services.report_gaps import GAPS_PARAM
from storage.services.resubmit_changes import CHANGES_PARAM, changes_text

log = logging.getLogger(__name__)

FALLBACK_KEY = "delivery.fallback"
MISSING_VALUE = "…"


def recipient_locale(account: ChatAccount, person: Person | None) -> str:
    """The person's chosen language, else the platform's hint, else Vietnamese."""
    if person is not None and person.locale:
        return normalize_locale(person.locale)
    return normalize_locale(account.language_hint)


def _shown(value: Any, tr: Translator) -> Any:
    if isinstance(value, str):
        return html.escape(value, quote=False)
    if isinstance(value, float):
        return format_number(value, tr, decimals=SCORE_DECIMALS)
    return value


def _escaped(params: dict[str, Any], tr: Translator) -> dict[str, Any]:
    values = {name: _shown(value, tr) for name, value in params.items() if not name.startswith("_")}
    if CHANGES_PARAM in params:
        values["changes"] = html.escape(changes_text(params[CHANGES_PARAM], tr), quote=False)
    return values


def _source(catalog: Catalog, locale: str, key: str) -> str | None:
    return catalog.texts.get(locale, {}).get(key) or catalog.texts.get(DEFAULT_LOCALE, {}).get(key)


def _numbers(catalog: Catalog, locale: str, raw: Any) -> dict[str, str]:
    """`params["_numbers"]`: {name: number}, shown with the recipient's decimal mark."""
    if not isinstance(raw, dict):
        return {}
    tr = catalog.for_locale(locale)
    return {
        str(name): format_number(value, tr, decimals=2)
        for name, value in raw.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    }


def render_text(catalog: Catalog, locale: str, key: str, params: dict[str, Any]) -> str:
    source = _source(catalog, locale, key)
    if source is None:
        log.error("outbox template %r is not in the catalog; sending the fallback text", key)
        return catalog.t(locale, FALLBACK_KEY)
    values = {
        **_escaped(params, catalog.for_locale(locale)),
        **_numbers(catalog, locale, params.get(NUMBERS_PARAM)),
    }
    missing = placeholders(source) - set(values)
    if missing:
        log.error("outbox template %r lacks params %s", key, sorted(missing))
        values.update(dict.fromkeys(missing, MISSING_VALUE))
    return catalog.t(locale, key, **values)


def _choice(catalog: Catalog, locale: str, raw: Any) -> Choice | None:
    if (
        isinstance(raw, dict)
        and isinstance(raw.get("label"), str)
        and isinstance(raw.get("token"), str)
        and raw["token"]
    ):
        return Choice(label=catalog.t(locale, raw["label"]), token=raw["token"])
    log.error("malformed button in outbox params: %r", raw)
    return None


def render_buttons(catalog: Catalog, locale: str, raw: Any) -> list[list[Choice]]:
    """`params["_buttons"]`: rows of {"label": catalog key, "token": str}; bad ones skipped."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        log.error("outbox buttons must be a list of rows: %r", raw)
        return []
    rows = []
    for raw_row in raw:
        cells = raw_row if isinstance(raw_row, list) else [raw_row]
        row = [c for c in (_choice(catalog, locale, cell) for cell in cells) if c is not None]
        if row:
            rows.append(row)
    return rows


def render_document(raw: Any) -> OutFile | None:
    """`params["_document"]`: {"path": str, "name": str}. A file that is gone gives None (the
    text still goes out, logged): one lost attachment must not fail every delivery attempt."""
    if raw is None:
        return None
    if not (
        isinstance(raw, dict)
        and isinstance(raw.get("path"), str)
        and raw["path"]
        and isinstance(raw.get("name"), str)
        and raw["name"]
    ):
        log.error("malformed document in outbox params: %r", raw)
        return None
    path = Path(raw["path"])
    if not path.is_file():
        log.error("outbox document %s is missing; sending the text only", path)
        return None
    mime = mimetypes.guess_type(raw["name"])[0] or "application/octet-stream"
    return OutFile(path=path, file_name=raw["name"], mime_type=mime)


def render_gaps(catalog: Catalog, locale: str, raw: Any) -> str:
    """`params["_gaps"]` (storage/services/report_gaps.py): the items a report still lacks,
    one per line under a heading per kind, "… and N more" past the first ten."""
    if not isinstance(raw, dict):
        return ""
    parts = []
    for kind in ("unanswered", "lacking"):
        found = raw.get(kind)
        if not isinstance(found, dict):
            continue
        items = [i for i in found.get("items", []) if isinstance(i, list) and len(i) == 2]
        if not items:
            continue
        lines = [catalog.t(locale, f"edges.gaps_{kind}")]
        lines += [
            f"• <b>{html.escape(str(code), quote=False)}</b> {html.escape(str(title), quote=False)}"
            for code, title in items
        ]
        more = found.get("more")
        if isinstance(more, int) and more > 0:
            lines.append(catalog.t(locale, "edges.gaps_more", count=more))
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def render_marked_down(catalog: Catalog, locale: str, raw: Any) -> str:
    """`params["_marked_down"]` (storage/services/appraisal_rounds.py): one line per item
    marked down in round 1, its self-score → the appraised score, and the team's reason."""
    if not isinstance(raw, list):
        return ""
    tr = catalog.for_locale(locale)
    lines = []
    for entry in raw:
        if not (isinstance(entry, list) and len(entry) == 4):
            continue
        code, own, appraised, reason = entry
        if not all(isinstance(n, int | float) for n in (own, appraised)):
            continue
        lines.append(
            catalog.t(
                locale,
                "scores.marked_down_line",
                code=html.escape(str(code), quote=False),
                own=format_number(own, tr, decimals=2),
                score=format_number(appraised, tr, decimals=2),
                reason=html.escape(str(reason), quote=False),
            )
        )
    return "\n".join(lines)


def _due(raw: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(raw) if isinstance(raw, str) else None
    except ValueError:
        log.error("malformed due time in outbox params: %r", raw)
        return None


def make_renderer(catalog: Catalog) -> Render:
    """The `render` the delivery worker calls for each row it sends."""

    def render(message: OutboxMessage, account: ChatAccount, person: Person | None) -> Reply:
        locale = recipient_locale(account, person)
        params = message.params or {}
        text = render_text(catalog, locale, message.template, params)
        extra = render_gaps(catalog, locale, params.get(GAPS_PARAM)) or render_marked_down(
            catalog, locale, params.get(MARKED_DOWN_PARAM)
        )
        return Reply(
            text=f"{text}\n\n{extra}" if extra else text,
            choices=render_buttons(catalog, locale, params.get(BUTTONS_PARAM)),
            document=render_document(params.get(DOCUMENT_PARAM)),
            due_at=_due(params.get(DUE_PARAM)),
        )

    return render
