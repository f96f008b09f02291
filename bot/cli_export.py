"""`cchc-bot export CAMPAIGN`: the results workbook (.xlsx) or, with --evidence, a ZIP."""

from __future__ import annotations

import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Protocol

import click
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.app import App
from bot.cli_root import Context, cli, pass_ctx, with_app
from common.sizes import fmt_size
from storage.db.models import Campaign, Team
from storage.formats.export_xlsx import begin_snapshot, export_workbook
from storage.formats.export_zip import export_evidence_zip
from storage.services import campaigns
from storage.services.evidence import EvidenceStore


class _Bar(Protocol):
    def update(self, n_steps: int) -> None: ...


class ProgressBar:
    """A click progress bar on stderr, opened on the first report (when the total is known).

    stderr keeps stdout clean for the final line, which scripts may read.
    """

    def __init__(self, stack: ExitStack, label: str) -> None:
        self._stack, self._label = stack, label
        self._bar: _Bar | None = None
        self._shown = 0

    def __call__(self, done: int, total: int) -> None:
        if self._bar is None:
            bar = click.progressbar(length=total, label=self._label, file=sys.stderr)
            self._bar = self._stack.enter_context(bar)
        self._bar.update(done - self._shown)
        self._shown = done


async def _campaign(ctx: Context, session: AsyncSession, code: str) -> Campaign:
    found = await campaigns.get_campaign(session, code)
    if found is None:
        raise click.ClickException(ctx.tr("cli.unknown_campaign", code=code))
    return found


async def _team_ids(
    ctx: Context, session: AsyncSession, campaign: Campaign, codes: tuple[str, ...]
) -> list[int] | None:
    if not codes:
        return None
    rows = await session.execute(select(Team.code, Team.id).where(Team.campaign_id == campaign.id))
    by_code = {code.casefold(): team_id for code, team_id in rows}
    for code in codes:
        if code.casefold() not in by_code:
            raise click.ClickException(
                ctx.tr("export.cli.unknown_team", team=code, campaign=campaign.code)
            )
    return [by_code[code.casefold()] for code in codes]


def _output(ctx: Context, code: str, output: Path | None, evidence: bool) -> Path:
    if output is None:
        return Path(f"{code}-evidence.zip" if evidence else f"{code}.xlsx")
    if not evidence and output.suffix.lower() != ".xlsx":
        # Excel judges a workbook by its name; a .zip here usually means --evidence was meant
        raise click.ClickException(ctx.tr("export.cli.not_xlsx", example=f"{code}.xlsx"))
    return output


@cli.command("export")
@click.argument("campaign_code", metavar="CAMPAIGN")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to write (default: CAMPAIGN.xlsx, or CAMPAIGN-evidence.zip).",
)
@click.option(
    "--evidence",
    is_flag=True,
    help="Pack the evidence files in a ZIP (folders by unit and item) instead.",
)
@click.option(
    "--team",
    "teams",
    multiple=True,
    metavar="TEAM",
    help="Only this team's units (repeat for several teams).",
)
@pass_ctx
@with_app
async def export(
    ctx: Context,
    app: App,
    campaign_code: str,
    output: Path | None,
    evidence: bool,
    teams: tuple[str, ...],
) -> None:
    """Export a campaign's results to Excel: summary, answers, evidence list, history.

    With --evidence, pack the evidence files themselves into a ZIP with a manifest.
    """
    async with app.sessions() as session:
        await begin_snapshot(session)
        campaign = await _campaign(ctx, session, campaign_code)
        team_ids = await _team_ids(ctx, session, campaign, teams)
        path = _output(ctx, campaign.code, output, evidence)
        with ExitStack() as stack:  # the bar closes before the closing lines are printed
            bar = ProgressBar(stack, ctx.tr("export.cli.progress"))
            if evidence:
                lines = await _export_zip(ctx, app, session, campaign, path, team_ids, bar)
            else:
                lines = await _export_xlsx(ctx, session, campaign, path, team_ids, bar)
    for line, err in lines:
        click.echo(line, err=err)


Lines = list[tuple[str, bool]]  # (text, to stderr)


async def _export_xlsx(
    ctx: Context,
    session: AsyncSession,
    campaign: Campaign,
    path: Path,
    team_ids: list[int] | None,
    bar: ProgressBar,
) -> Lines:
    stats = await export_workbook(
        session, campaign.id, path, team_ids=team_ids, locale=ctx.locale, tr=ctx.tr, progress=bar
    )
    return [
        (
            ctx.tr(
                "export.cli.done_workbook",
                units=stats.units,
                answers=stats.answers,
                files=stats.evidence_files,
                history=stats.history_entries,
                path=path,
            ),
            False,
        )
    ]


async def _export_zip(
    ctx: Context,
    app: App,
    session: AsyncSession,
    campaign: Campaign,
    path: Path,
    team_ids: list[int] | None,
    bar: ProgressBar,
) -> Lines:
    stats = await export_evidence_zip(
        session,
        campaign.id,
        path,
        store=EvidenceStore(app.settings.evidence_dir),
        team_ids=team_ids,
        tr=ctx.tr,
        progress=bar,
    )
    lines = [
        (
            ctx.tr(
                "export.cli.done_zip",
                files=stats.files,
                path=path,
                size=fmt_size(stats.bytes, ctx.locale),
                manifest=stats.manifest_name,
            ),
            False,
        )
    ]
    if stats.missing or stats.changed:
        lines.append(
            (ctx.tr("export.cli.missing_files", missing=stats.missing, changed=stats.changed), True)
        )
    return lines
