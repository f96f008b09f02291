"""Who may see and do what: every team command checks role and scope here.

A unit contact sees only their own unit; a team leader or member only their team's units;
an admin everything. A refusal is polite, says nothing about what was asked for, and is
written to the audit log.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from handlers.context import Turn
from handlers.unit import roles
from storage.db.models import Assignment, Role
from storage.services import audit
from storage.services.assignments import assignment_by_id
from storage.services.people import PersonRole

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Scope:
    admin: bool
    leader_teams: frozenset[int]
    member_teams: frozenset[int]
    own_assignments: frozenset[int]

    @property
    def team_ids(self) -> frozenset[int]:
        return self.leader_teams | self.member_teams

    @property
    def is_team(self) -> bool:
        return self.admin or bool(self.team_ids)

    def sees(self, assignment: Assignment) -> bool:
        return (
            self.admin
            or assignment.team_id in self.team_ids
            or assignment.id in self.own_assignments
        )

    def reviews(self, assignment: Assignment) -> bool:
        """Ask for more and return a report: the team's leaders and members, admins."""
        return self.admin or assignment.team_id in self.team_ids

    def leads(self, assignment: Assignment) -> bool:
        """Accept and appraise: the team's leaders, admins."""
        return self.admin or assignment.team_id in self.leader_teams


async def scope_of(turn: Turn) -> Scope:
    return scope_from(await roles(turn), is_admin=turn.is_admin)


def scope_from(linked: list[PersonRole], *, is_admin: bool) -> Scope:
    """The scope of a person with these roles (chat turns and console requests alike)."""
    return Scope(
        admin=is_admin or any(r.role == Role.ADMIN for r in linked),
        leader_teams=frozenset(
            r.team_id for r in linked if r.role == Role.TEAM_LEADER and r.team_id is not None
        ),
        member_teams=frozenset(
            r.team_id for r in linked if r.role == Role.TEAM_MEMBER and r.team_id is not None
        ),
        own_assignments=frozenset(
            r.assignment_id for r in linked if r.role == Role.UNIT_CONTACT and r.assignment_id
        ),
    )


async def deny(turn: Turn, action: str, subject: str = "") -> None:
    """Refuse without revealing whether the thing exists; keep a trace for the admins."""
    log.info("denied %s %s to %s:%s", action, subject, turn.account.platform, turn.account.user_id)
    await audit.record(
        turn.session,
        now=turn.now,
        action="access.denied",
        actor_id=turn.person.id,
        subject=subject,
        details={"action": action},
    )
    text = turn.t("team.denied")
    turn.say(text, toast=text if turn.inbound.choice else None)


async def assignment_in_scope(
    turn: Turn, assignment_id: int | None, action: str, *, need: str = "sees"
) -> Assignment | None:
    """The assignment if the person may `need` ("sees", "reviews", "leads") it, else None
    after a polite refusal (an unknown id is refused the same way as a foreign one)."""
    assignment = await assignment_by_id(turn.session, assignment_id or 0)
    scope = await scope_of(turn)
    if assignment is None or not getattr(scope, need)(assignment):
        await deny(turn, action, f"assignment:{assignment_id}")
        return None
    return assignment
