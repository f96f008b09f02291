"""`cchc-bot conclusion CAMPAIGN --unit U -o F.docx [--issue]`: the unit's conclusion notice
as a Word document; with --issue, the conclusion is issued and the unit's contacts get it
in chat. `--write-template F.docx` saves the built-in template for an admin to edit."""

from __future__ import annotations

import shutil
from pathlib import Path

import click

from bot.app import App
from bot.cli_root import Context, cli, pass_ctx, with_app
from storage.db import transaction
from storage.formats.conclusion_docx import write_template as save_template
from storage.services import campaigns
from storage.services.conclusion_notice import (
    issue_conclusion,
    notice_file_name,
    write_unit_notice,
)
from storage.services.conclusions import ConclusionError, assignment_by_codes, conclusion_of


@cli.command("conclusion")
@click.argument("campaign_code", metavar="CAMPAIGN", required=False)
@click.option("--unit", "unit_code", metavar="UNIT", help="The unit's code.")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The .docx to write (default: thong-bao-ket-luan-CAMPAIGN-UNIT.docx).",
)
@click.option("--issue", "do_issue", is_flag=True, help="Issue it: send it to the unit's chats.")
@click.option(
    "--write-template",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Only save the built-in template (to edit, then set CONCLUSION_TEMPLATE).",
)
@pass_ctx
@with_app
async def conclusion(
    ctx: Context,
    app: App,
    campaign_code: str | None,
    unit_code: str | None,
    output: Path | None,
    do_issue: bool,
    write_template: Path | None,
) -> None:
    """Write a unit's conclusion notice (THÔNG BÁO kết luận kiểm tra) as a Word document.

    With --issue the conclusion is issued (frozen) and sent to the unit's contacts in chat,
    once. The template is CONCLUSION_TEMPLATE, or the built-in one.
    """
    if write_template is not None:
        save_template(write_template)
        click.echo(ctx.tr("conclusion.cli.template_written", path=write_template))
        return
    if not campaign_code or not unit_code:
        raise click.UsageError(ctx.tr("conclusion.cli.need_unit"))
    settings = app.settings.notice_settings()
    if settings.template is not None and not settings.template.is_file():
        raise click.ClickException(ctx.tr("conclusion.cli.no_template", path=settings.template))
    now = app.clock.now()
    async with transaction(app.sessions) as session:
        campaign = await campaigns.get_campaign(session, campaign_code)
        if campaign is None:
            raise click.ClickException(ctx.tr("cli.unknown_campaign", code=campaign_code))
        assignment = await assignment_by_codes(session, campaign.id, unit_code)
        if assignment is None:
            raise click.ClickException(
                ctx.tr("conclusion.cli.unknown_unit", unit=unit_code, campaign=campaign.code)
            )
        found = await conclusion_of(session, assignment.id)
        if found is None:
            raise click.ClickException(ctx.tr("conclusion.cli.none_yet", unit=assignment.unit.name))
        target = output or Path(notice_file_name(assignment))
        if do_issue:
            try:
                written, rows = await issue_conclusion(
                    session,
                    assignment,
                    found,
                    settings,
                    app.settings.evidence_dir.resolve(),
                    person_id=None,
                    actor_label="cli",
                    now=now,
                )
            except ConclusionError as error:
                raise click.ClickException(
                    ctx.tr(f"conclusion.refused.{error.reason.value}")
                ) from error
            if written.resolve() != target.resolve():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(written, target)
            click.echo(ctx.tr("conclusion.cli.issued", path=target, count=rows))
            return
        await write_unit_notice(session, assignment, found, settings, target)
    click.echo(ctx.tr("conclusion.cli.written", path=target))
