"""/export in chat: the campaign's results as an Excel workbook. Admins get every team;
a leader or member gets their own team's units only."""

from __future__ import annotations

import uuid

from common.localtime import zone
from common.messages import OutFile
from handlers.access import deny, scope_of
from handlers.context import Turn
from handlers.team import campaigns_in_scope
from handlers.tokens import Token, make
from storage.db.models import Campaign
from storage.formats.export_xlsx import export_workbook

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def start(turn: Turn) -> None:
    scope = await scope_of(turn)
    if not scope.is_team:
        await deny(turn, "export")
        return
    campaigns = await campaigns_in_scope(turn, scope)
    if len(campaigns) == 1:
        await _export(turn, campaigns[0])
        return
    turn.say(
        turn.t("export.pick_campaign"),
        [[turn.button("export.campaign_button", make("xp", c.id), code=c.code)] for c in campaigns],
    )


async def picked(turn: Turn, token: Token) -> None:
    scope = await scope_of(turn)
    campaigns = await campaigns_in_scope(turn, scope)
    campaign = next((c for c in campaigns if c.id == token.int_arg(0)), None)
    if campaign is None:
        await deny(turn, "export", f"campaign:{token.int_arg(0)}")
        return
    await _export(turn, campaign)


async def _export(turn: Turn, campaign: Campaign) -> None:
    scope = await scope_of(turn)
    team_ids = None if scope.admin else scope.team_ids
    # The campaign's local time, from the injected clock: the name a leader files it under.
    stamp = turn.now.astimezone(zone(campaign.timezone)).strftime("%Y%m%d-%H%M")
    name = f"{campaign.code}-{stamp}.xlsx"
    path = turn.deps.evidence.root / ".exports" / uuid.uuid4().hex / name
    path.parent.mkdir(parents=True, exist_ok=True)
    stats = await export_workbook(
        turn.session,
        campaign.id,
        path,
        team_ids=team_ids,
        locale=turn.tr.locale,
        tr=turn.tr,
        now=turn.now,
    )
    turn.say(
        turn.t("export.ready", campaign=campaign.code, units=stats.units),
        document=OutFile(path, name, XLSX),
    )


CHOICES = {"xp": picked}
