"""`cchc-bot campaign ...`: import a campaign file, list and show campaigns."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import click

from bot.app import App
from bot.cli_output import json_text, table
from bot.cli_root import Context, cli, pass_ctx, with_app
from bot.problem_text import problem_text
from common.localtime import fmt_datetime
from storage.db import transaction
from storage.formats.campaign_spec import CampaignSpec, Problem, scoring_from_dict, scoring_to_dict
from storage.rules.answers import format_number
from storage.services import campaigns
from storage.services.campaign_import import (
    RemovalNeedsForce,
    UnknownFollowUp,
    import_campaign,
)


@cli.group()
def campaign() -> None:
    """Campaigns: import a campaign file, list them, show one."""


def render_problem(ctx: Context, problem: Problem) -> str:
    return problem_text(problem, ctx.tr)


def load_spec(ctx: Context, path: Path) -> CampaignSpec:
    """Parse and validate; on any problem print all of them and stop (nothing written)."""
    if path.suffix.lower() == ".xlsx":
        from storage.formats.campaign_excel import load_campaign_workbook

        spec, problems = load_campaign_workbook(path, ctx.tr.catalog)
    else:
        from storage.formats.campaign_file import load_campaign_file

        spec, problems = load_campaign_file(path)
    if problems or spec is None:
        click.echo(ctx.tr("cli.import_refused", file=path.name, count=len(problems)), err=True)
        for problem in problems:
            click.echo("  - " + render_problem(ctx, problem), err=True)
        raise SystemExit(1)
    return spec


@campaign.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Allow removing items or units that have answers.")
@click.option("--check", is_flag=True, help="Only validate the file; write nothing.")
@pass_ctx
@with_app
async def campaign_import(ctx: Context, app: App, file: Path, force: bool, check: bool) -> None:
    """Create a campaign from FILE (.yaml or .xlsx), or update it in place.

    Re-importing keeps every answer given so far; removing an answered item needs --force.
    """
    spec = load_spec(ctx, file)
    if check:
        click.echo(
            ctx.tr(
                "cli.import_check_ok",
                file=file.name,
                units=len(spec.units),
                items=len(spec.items()),
            )
        )
        return
    try:
        async with transaction(app.sessions) as session:
            result = await import_campaign(
                session,
                spec,
                now=app.clock.now(),
                force=force,
                source_name=file.name,
                invite_ttl=timedelta(days=app.settings.invite_ttl_days),
            )
    except UnknownFollowUp as exc:
        problem = Problem("unknown_follow_up", "follow_up", None, {"code": exc.code})
        click.echo(ctx.tr("cli.import_refused", file=file.name, count=1), err=True)
        click.echo("  - " + render_problem(ctx, problem), err=True)
        raise SystemExit(1) from exc
    except RemovalNeedsForce as exc:
        click.echo(ctx.tr("cli.import_needs_force", count=len(exc.losses)), err=True)
        for loss in exc.losses:
            click.echo(
                "  - " + ctx.tr(f"cli.loss.{loss.kind}", code=loss.code, count=loss.count), err=True
            )
        raise SystemExit(1) from exc
    key = "cli.import_created" if result.created else "cli.import_updated"
    click.echo(
        ctx.tr(
            key,
            code=spec.code,
            units=result.counts.get("units", 0),
            items=result.counts.get("items", 0),
            invites=result.counts.get("invites_created", 0),
        )
    )
    for loss in result.losses:
        click.echo("  - " + ctx.tr(f"cli.loss.{loss.kind}", code=loss.code, count=loss.count))


EXAMPLE_CAMPAIGN = Path(__file__).resolve().parents[1] / "examples" / "hcmc-2021-team1.yaml"


@campaign.command("template")
@click.option(
    "-o",
    "--output",
    required=True,
    help="The .xlsx file to write.",
    type=click.Path(dir_okay=False, path_type=Path),
)
@click.option("--example", is_flag=True, help="Pre-fill it with the TP.HCM 2021 example.")
@click.option("--force", is_flag=True, help="Overwrite the file if it exists.")
@pass_ctx
def campaign_template(ctx: Context, output: Path, example: bool, force: bool) -> None:
    """Write an Excel workbook to fill in: campaign, teams, units, checklist, and a guide.

    Import it when filled in with `cchc-bot campaign import FILE.xlsx`.
    """
    from storage.formats.campaign_excel import write_template

    if output.exists() and not force:  # it may be a workbook someone spent a day filling in
        raise click.ClickException(ctx.tr("campaign_excel.template_exists", file=output))
    spec = load_spec(ctx, EXAMPLE_CAMPAIGN) if example else None
    try:
        write_template(output, example=spec, locale=ctx.locale, catalog=ctx.tr.catalog)
    except OSError as exc:  # no such folder, no permission, the file open in Excel on Windows
        detail = exc.strerror or str(exc)
        raise click.ClickException(
            ctx.tr("campaign_excel.cannot_write", file=output, detail=detail)
        ) from exc
    click.echo(ctx.tr("campaign_excel.template_written", file=output))


@campaign.command("list")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@pass_ctx
@with_app
async def campaign_list(ctx: Context, app: App, fmt: str) -> None:
    """List the campaigns with their progress."""
    async with transaction(app.sessions) as session:
        overviews = await campaigns.list_campaigns(session)
    if fmt == "json":
        click.echo(json_text([_overview_record(o) for o in overviews]))
        return
    if not overviews:
        click.echo(ctx.tr("cli.no_campaigns"))
        return
    headers = [ctx.tr(f"cli.col.{c}") for c in ("code", "title", "deadline", "units", "submitted")]
    rows = [
        [
            o.campaign.code,
            o.campaign.title,
            fmt_datetime(o.campaign.deadline, o.campaign.timezone),
            o.units,
            _submitted(o),
        ]
        for o in overviews
    ]
    click.echo(table(headers, rows))


def _submitted(o: campaigns.CampaignOverview) -> int:
    return sum(o.statuses.get(s, 0) for s in ("submitted", "accepted"))


def _overview_record(o: campaigns.CampaignOverview) -> dict[str, object]:
    c = o.campaign
    return {
        "code": c.code,
        "title": c.title,
        "basis": c.basis,
        "timezone": c.timezone,
        "deadline": c.deadline.isoformat(),
        "units": o.units,
        "items": o.items,
        "teams": [{"code": code, "name": name, "units": n} for code, name, n in o.teams],
        "statuses": o.statuses,
        "submitted": _submitted(o),
        "late": o.late,
        "invites_total": o.invites_total,
        "invites_used": o.invites_used,
        "people": o.people,
        "by_hand": o.by_hand,
        **scoring_to_dict(scoring_from_dict(c.policy or {})),
    }


def _by_hand_line(o: campaigns.CampaignOverview, tr: Callable[..., str]) -> list[str]:
    """Which items the team scores by hand (issue 18), when there are any."""
    if not o.by_hand:
        return []
    settings = scoring_from_dict(o.campaign.policy or {})
    return [
        tr("scoring.show_by_hand", count=len(o.by_hand), codes=", ".join(o.by_hand)),
        tr(
            "scores.show_settings",
            step=format_number(settings.score_step, tr, decimals=2),
            days=settings.explain_days,
        ),
    ]


@campaign.command("show")
@click.argument("code")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@pass_ctx
@with_app
async def campaign_show(ctx: Context, app: App, code: str, fmt: str) -> None:
    """Show one campaign: teams, units, checklist size, progress, invites."""
    async with transaction(app.sessions) as session:
        found = await campaigns.get_campaign(session, code)
        if found is None:
            raise click.ClickException(ctx.tr("cli.unknown_campaign", code=code))
        o = await campaigns.overview(session, found)
    if fmt == "json":
        click.echo(json_text(_overview_record(o)))
        return
    c, tr = o.campaign, ctx.tr
    lines = [
        f"{c.code}: {c.title}",
        tr("cli.show.basis", basis=c.basis or "-"),
        tr("cli.show.deadline", deadline=fmt_datetime(c.deadline, c.timezone), tz=c.timezone),
        tr("cli.show.size", units=o.units, items=o.items, teams=len(o.teams)),
        *(tr("cli.show.team", code=code, name=name, units=n) for code, name, n in o.teams),
        *_by_hand_line(o, tr),
        tr(
            "cli.show.progress",
            submitted=_submitted(o),
            units=o.units,
            late=o.late,
            in_progress=o.statuses.get("in_progress", 0),
            not_started=o.statuses.get("not_started", 0),
            returned=o.statuses.get("returned", 0),
        ),
        tr("cli.show.invites", used=o.invites_used, total=o.invites_total, people=o.people),
    ]
    click.echo("\n".join(lines))
