"""Which unit a unit contact is working on now (a person may serve units in several
campaigns: they pick one when it matters, and the choice is remembered)."""

from __future__ import annotations

from dataclasses import dataclass

from handlers.context import Turn
from handlers.tokens import make
from storage.db.models import Role, Submission
from storage.services.checklist import Checklist
from storage.services.people import PersonRole, roles_of
from storage.services.submissions import submission_for


@dataclass
class UnitContext:
    role: PersonRole
    submission: Submission
    checklist: Checklist


async def roles(turn: Turn) -> list[PersonRole]:
    if turn.roles is None:
        turn.roles = await roles_of(turn.session, turn.person.id)
    return turn.roles


async def team_roles(turn: Turn) -> list[PersonRole]:
    return [r for r in await roles(turn) if r.role in (Role.TEAM_LEADER, Role.TEAM_MEMBER)]


def not_linked(turn: Turn) -> None:
    turn.say(turn.t("onboarding.not_linked"))


async def active_unit(turn: Turn, *, announce: bool = True) -> UnitContext | None:
    """The unit-contact role in use, or None after telling the person what to do."""
    all_roles = await roles(turn)
    contacts = [r for r in all_roles if r.role == Role.UNIT_CONTACT]
    if not contacts:
        if announce:
            if all_roles:
                turn.say(turn.t("checklist.not_a_contact"))
            else:
                not_linked(turn)
        return None
    chosen = turn.state.data.get("role")
    role = next((r for r in contacts if r.membership_id == chosen), None)
    if role is None:
        if len(contacts) > 1:
            ask_which_unit(turn, contacts)
            return None
        role = contacts[0]
        turn.remember(role=role.membership_id)
    assert role.assignment_id is not None
    # The role came with its unit's report (storage.services.people); read it only when not.
    submission = role.submission or await submission_for(turn.session, role.assignment_id)
    checklist = await turn.deps.checklists.get(
        turn.session, role.campaign_id, role.campaign_version
    )
    return UnitContext(role, submission, checklist)


def ask_which_unit(turn: Turn, contacts: list[PersonRole]) -> None:
    turn.set_state("idle")
    turn.say(
        turn.t("checklist.pick_unit"),
        [
            [
                turn.button(
                    "checklist.pick_unit_button", make("pick", r.membership_id), label=r.label
                )
            ]
            for r in contacts
        ],
    )
