"""The `teams` and `units` lists of a campaign document (with each unit's visit)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo

from storage.formats.campaign_file import values
from storage.formats.campaign_file.nodes import Codes, Node, mapping
from storage.formats.campaign_spec import InspectionForm, TeamSpec, UnitSpec, VisitSpec

TEAM_KEYS = ("code", "name", "leaders", "members")
UNIT_KEYS = ("code", "name", "team", "form", "deadline", "visit", "contacts")
VISIT_KEYS = ("at", "place", "announced")


def unique_code(node: Node, codes: Codes) -> str | None:
    """The node's required `code`, recorded in `codes` (a repeat is a problem)."""
    value = node.require("code")
    code = values.code(node.doc, value) if value is not None else None
    return code if code is not None and value is not None and codes.add(code, value) else None


def read_teams(root: Node) -> tuple[list[TeamSpec], dict[str, str]]:
    """The teams, and every team code written (folded -> as written), even of a team with
    other problems: units are checked against these, so one mistake in a team does not
    make all its units "unknown team"."""
    doc, codes = root.doc, Codes(root.doc)
    teams = []
    for entry in root.entries("teams"):
        node = mapping(doc, entry, TEAM_KEYS)
        if node is None:
            continue
        code = unique_code(node, codes)
        name = node.required("name", values.text)
        leaders = values.invite_count(doc, node.get("leaders"), 1, minimum=0)
        members = values.invite_count(doc, node.get("members"), 0, minimum=0)
        if code and name and leaders is not None and members is not None:
            teams.append(TeamSpec(code, name, leaders, members))
    return teams, {key: code for key, (code, _) in codes.seen.items()}


@dataclass(frozen=True)
class UnitReader:
    """Reads units against what the top of the document said."""

    zone: tzinfo  # the campaign's: times of the file are local to it
    team_codes: dict[str, str]  # folded -> as written
    default_form: InspectionForm | None  # None: the campaign's form was wrong (reported)

    def read(self, root: Node) -> list[UnitSpec]:
        codes = Codes(root.doc)
        units = []
        for entry in root.entries("units"):
            node = mapping(root.doc, entry, UNIT_KEYS)
            unit = self._unit(node, codes) if node else None
            if unit is not None:
                units.append(unit)
        return units

    def _unit(self, node: Node, codes: Codes) -> UnitSpec | None:
        doc = node.doc
        code = unique_code(node, codes)
        name = node.required("name", values.text)
        team = self._team(node)
        form_value = node.get("form")
        form = (
            values.choice(doc, form_value, InspectionForm, "bad_form")
            if form_value
            else self.default_form
        )
        deadline_value = node.get("deadline")
        deadline = values.local_datetime(doc, deadline_value, self.zone) if deadline_value else None
        visit = self._visit(node, form)
        contacts = values.invite_count(doc, node.get("contacts"), 1, minimum=1)
        if None in (code, name, team, form, contacts):
            return None
        if deadline_value is not None and deadline is None:
            return None
        if node.get("visit") is not None and visit is None:
            return None
        assert code and name and team and form and contacts
        return UnitSpec(code, name, team, form, deadline, visit, contacts)

    def _team(self, node: Node) -> str | None:
        value = node.get("team")
        if value is None and len(self.team_codes) == 1:
            return next(iter(self.team_codes.values()))  # one team: units need not say it
        if value is None:
            node.require("team")
            return None
        code = values.code(node.doc, value)
        if code is not None and code.casefold() not in self.team_codes:
            known = ", ".join(self.team_codes.values())
            node.doc.add("unknown_team", value.where, value.line, team=code, known=known)
            return None
        return self.team_codes[code.casefold()] if code else None

    def _visit(self, unit: Node, form: InspectionForm | None) -> VisitSpec | None:
        value = unit.get("visit")
        if value is None:
            return None
        doc = unit.doc
        node = mapping(doc, value, VISIT_KEYS)
        if node is None:
            return None
        if form is not None and form is not InspectionForm.DIRECT:
            # a visit is the team going there: only a direct inspection has one
            doc.add("visit_form_mismatch", value.where, value.line, form=form.value)
        at_value = node.require("at")
        at = values.local_datetime(doc, at_value, self.zone, need_time=True) if at_value else None
        place = node.optional("place", values.text) or ""
        announced = values.boolean(doc, node.get("announced"), True)
        if at is None or announced is None:
            return None
        return VisitSpec(at, place, announced)
