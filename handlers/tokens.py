"""Button tokens: short strings within Telegram's 64-byte callback_data limit.

A token is `<action>` or `<action>:<arg>[:<arg>]`, ids only, never a payload (the data a
button stands for lives in the database). Actions:

    v:<item>:y|n     yes/no answer           c:<item>:<i>   choice option i
    m:<item>:<i>     toggle multi option i   md:<item>      multi: done
    p:<item>         previous item           s:<item>       skip to the next item
    g:<item>         go to an item           j:<section>    jump to a section
    l:<page>         list of items           ls             list of sections
    e:<item>         send evidence           n:<item>       next (after evidence)
    x:<item>         explain missing evidence
    k                continue the checklist  r              review before submitting
    sb               submit (asks to confirm) sc:<version>  confirm submit
    pick:<member>    choose the active unit  lang:<code>    language
    ru:<assignment>  (team) open a unit      ul:<item>      upload link (Zalo)
    sa:<item>        give a self-score       ss:<item>:<n>  the n-th offered self-score
    xl:<member>      (unit) the appraisal, from its notice; xa: the same in the chat
    xi:<item>        explain an item          xd / xs        done / send the explanations
    a1:<assignment>  (team) send round 1; a1c: confirmed
    r2:<assignment>  (team) round 2; r2i / r2k / r2s:<a>:<item>[:<n>] open, keep, score n
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_BYTES = 64
# The widest number a button of ours carries: ids are PostgreSQL `integer` columns, and
# indices and pages are smaller still. A bigger one would overflow the database driver.
MAX_ID = 2**31 - 1
_NUMBER = re.compile(r"-?[0-9]+")  # ASCII digits only: int() also takes "٣", " 5", "1_0"


class StaleToken(ValueError):
    """A token with a number no button of ours carries (forged or corrupt): the dispatcher
    answers it as a stale button."""


@dataclass(frozen=True)
class Token:
    action: str
    args: tuple[str, ...] = ()

    def int_arg(self, index: int = 0) -> int | None:
        """The argument as a number; None when it is missing or not a number (the handler
        decides). A number outside 0..MAX_ID raises StaleToken."""
        if index >= len(self.args) or not _NUMBER.fullmatch(self.args[index]):
            return None
        value = int(self.args[index])
        if not 0 <= value <= MAX_ID:
            raise StaleToken(f"{self.action}: argument {index} out of range")
        return value


def make(action: str, *args: object) -> str:
    token = ":".join([action, *(str(a) for a in args)])
    if len(token.encode()) > MAX_BYTES:
        raise ValueError(f"token over {MAX_BYTES} bytes: {token!r}")
    return token


def parse(raw: str | None) -> Token | None:
    if not raw or len(raw.encode()) > MAX_BYTES:
        return None
    action, *args = raw.split(":")
    return Token(action, tuple(args)) if action else None
