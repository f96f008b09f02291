"""Handler tests talk to the real Dispatcher with neutral events, like a channel would."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path

from common.clock import FrozenClock
from common.i18n import Catalog
from common.messages import (
    Attachment,
    Capabilities,
    Choice,
    Inbound,
    InboundKind,
    Reply,
    Sender,
)
from handlers.context import Deps
from handlers.dispatcher import Dispatcher
from storage.db import transaction
from storage.formats.campaign_spec import CampaignSpec
from storage.services.campaign_import import import_campaign
from storage.services.evidence import EvidenceStore
from storage.services.invites import list_invites
from tests.conftest import Db

CATALOG = Catalog.load()
_ids = itertools.count(1000)


def make_deps(db: Db, clock: FrozenClock, tmp_path: Path, **overrides: object) -> Deps:
    deps = Deps(
        sessions=db.sessions,
        catalog=CATALOG,
        clock=clock,
        evidence=EvidenceStore(tmp_path / "evidence"),
        capabilities={"telegram": Capabilities(), "zalo": Capabilities(buttons=False)},
    )
    for key, value in overrides.items():
        setattr(deps, key, value)
    return deps


async def import_and_codes(db: Db, clock: FrozenClock, spec: CampaignSpec) -> dict[str, list[str]]:
    """Import a campaign; return its invite codes by unit code (and by team role)."""
    async with transaction(db.sessions) as session:
        result = await import_campaign(session, spec, now=clock.now())
        rows = await list_invites(session, result.campaign_id, now=clock.now())
    codes: dict[str, list[str]] = {}
    for row in rows:
        codes.setdefault(row.unit_code or f"{row.role}:{row.team_code}", []).append(row.code)
    return codes


@dataclass
class Chat:
    """One person's chat with the bot, through the real dispatcher."""

    dispatcher: Dispatcher
    clock: FrozenClock
    user_id: str = field(default_factory=lambda: str(next(_ids)))
    name: str = "Nguyễn Thị Lan"
    language: str | None = "vi"
    platform: str = "telegram"
    group: str | None = None  # a group chat's id: the person writes there, not privately
    last: list[Reply] = field(default_factory=list)
    history: list[Reply] = field(default_factory=list)

    def _sender(self) -> Sender:
        chat_id = self.group or self.user_id
        return Sender(
            self.platform,
            self.user_id,
            chat_id,
            self.name,
            None,
            self.language,
            private=self.group is None,
        )

    def in_group(self, group: str) -> Chat:
        """The same person writing in a group chat (their own chat's replies stay apart)."""
        return Chat(
            self.dispatcher,
            self.clock,
            self.user_id,
            self.name,
            self.language,
            self.platform,
            group,
        )

    async def send(self, inbound: Inbound) -> list[Reply]:
        self.last = await self.dispatcher.handle(inbound)
        self.history += self.last
        return self.last

    async def command(self, command: str, args: str = "") -> list[Reply]:
        return await self.send(
            Inbound(
                InboundKind.COMMAND, self._sender(), self.clock.now(), text=args, command=command
            )
        )

    async def text(self, text: str) -> list[Reply]:
        return await self.send(
            Inbound(InboundKind.TEXT, self._sender(), self.clock.now(), text=text)
        )

    async def press(self, token: str) -> list[Reply]:
        return await self.send(
            Inbound(
                InboundKind.CHOICE, self._sender(), self.clock.now(), choice=token, message_id="1"
            )
        )

    async def press_label(self, fragment: str) -> list[Reply]:
        return await self.press(self.button(fragment).token)

    async def file(
        self,
        name: str,
        data: bytes,
        mime: str = "application/pdf",
        kind: InboundKind = InboundKind.FILE,
        size: int | None = None,
    ) -> list[Reply]:
        async def download(path: Path) -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)

        attachment = Attachment(name, mime, len(data) if size is None else size, download)
        return await self.send(
            Inbound(kind, self._sender(), self.clock.now(), attachment=attachment)
        )

    async def sticker(self) -> list[Reply]:
        return await self.send(Inbound(InboundKind.OTHER, self._sender(), self.clock.now()))

    # -- reading replies ----------------------------------------------------------------

    @property
    def text_out(self) -> str:
        return "\n---\n".join(reply.text for reply in self.last)

    def buttons(self) -> list[Choice]:
        return [c for reply in self.last for row in reply.choices for c in row]

    def button(self, fragment: str) -> Choice:
        for choice in self.buttons():
            if fragment in choice.label or choice.token.startswith(fragment):
                return choice
        raise AssertionError(f"no button like {fragment!r} in {self.buttons()}")
