"""What a person can do now, for channels that show it beside the chat: the commands of
their roles and their language (issue 19: the web demo's command bar per role, and `/lang`
switching the whole page). Put on the last reply of each event (Reply.menu, Reply.locale);
channels that have no such bar ignore them."""

from __future__ import annotations

from collections.abc import Iterable

from storage.db.models import Role
from storage.services.people import PersonRole

# In the bar's order; every person also gets help and language.
ORDER = ("checklist", "status", "review", "summary", "broadcast", "export", "help", "lang")
_BY_ROLE = {
    Role.UNIT_CONTACT: {"checklist", "status", "review"},
    Role.TEAM_MEMBER: {"status", "summary", "export"},
    Role.TEAM_LEADER: {"status", "summary", "broadcast", "export"},
    Role.ADMIN: {"summary", "broadcast", "export"},
}
_ALWAYS = {"help", "lang"}


def commands_for(roles: Iterable[PersonRole], *, admin: bool) -> tuple[str, ...]:
    chosen = set(_ALWAYS)
    for role in roles:
        chosen |= _BY_ROLE.get(role.role, set())
    if admin:
        chosen |= _BY_ROLE[Role.ADMIN]
    return tuple(name for name in ORDER if name in chosen)
