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
    ru:<assignment>  (team) open a unit
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_BYTES = 64


@dataclass(frozen=True)
class Token:
    action: str
    args: tuple[str, ...] = ()

    def int_arg(self, index: int = 0) -> int | None:
        try:
            return int(self.args[index])
        except (IndexError, ValueError):
            return None


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
