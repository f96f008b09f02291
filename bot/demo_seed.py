"""The demo's data: the example campaign (TP.HCM 2021, team 1) a day and a half before its
deadline, with a realistic spread of progress, all written through the same services the
conversation uses (import, invites, answers, evidence, submit).

The spread, by unit code (the example file's units):
  submitted on time          VPUB STTTT STC STP SKHCN BDTP SDL TTTP, of which four went on
                             (bot/demo_stages.py): BDTP remediating, SDL concluded,
                             STTTT appraised (final), STP explaining
  nearly done (3 items left) SNV   <- its first contact code is for the visitor to try
  half way                   SKHDT TPTD SGDDT STNMT Q8 QBT Q11 (Q11: the demo's unit contact)
  overdue                    Q5    (its own deadline, 28/09/2021 17:00, has passed)
  not started                SQHKT (a code to try) SGTVT HHM, and BDT SNGV CTHUE with
                             nobody linked yet
Values are drawn from a fixed seed, so every demo shows the same numbers.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.db import transaction
from storage.db.models import Assignment, Campaign, Role, Unit
from storage.formats.campaign_file import load_campaign_file
from storage.services.campaign_import import import_campaign
from storage.services.checklist import Checklist, ItemInfo, read_checklist
from storage.services.evidence import EvidenceStore
from storage.services.invites import list_invites, new_invite, redeem_invite
from storage.services.people import account_for, person_row
from storage.services.submissions import (
    add_evidence,
    record_answer,
    record_note,
    submission_for,
    submit,
)

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "hcmc-2021-team1.yaml"
TZ = ZoneInfo("Asia/Ho_Chi_Minh")
# Wednesday 29/09/2021 09:00: the deadline is Thursday 17:00, Quận 5's (Tuesday) has passed.
DEMO_START = datetime(2021, 9, 29, 9, 0, tzinfo=TZ)
IMPORTED_AT = datetime(2021, 9, 20, 9, 0, tzinfo=TZ)  # the invites went out on Monday 20/09
LINKED_AT = datetime(2021, 9, 21, 8, 30, tzinfo=TZ)  # the demo people joined the next day
WEB = "web"

SUBMITTED = ("VPUB", "STTTT", "STC", "STP", "SKHCN", "BDTP", "SDL", "TTTP")
NEARLY_DONE = "SNV"
LEFT_FOR_VISITOR = ("7.3", "7.4", "9.1")  # the last three items: a choice with evidence...
HALF_WAY = {
    "SKHDT": 0.6,
    "TPTD": 0.4,
    "SGDDT": 0.7,
    "STNMT": 0.3,
    "Q8": 0.5,
    "QBT": 0.2,
    "Q11": 0.45,
    "Q5": 0.55,
}
LINKED_NOT_STARTED = ("SGTVT", "HHM")
CODES_TO_TRY = ("SNV", "SQHKT")
DEMO_CONTACT_UNIT = "Q11"

# Contacts of the units (illustrative names).
NAMES = (
    "Nguyễn Thị Lan",
    "Trần Văn Hải",
    "Lê Thị Thu Hà",
    "Phạm Quốc Bảo",
    "Hoàng Minh Châu",
    "Võ Thị Ngọc Ánh",
    "Đặng Văn Phúc",
    "Bùi Thị Hồng",
    "Đỗ Văn Nam",
    "Huỳnh Thị Mỹ",
    "Ngô Thanh Tùng",
    "Dương Thị Kim",
    "Lý Văn Đức",
    "Phan Thị Yến",
    "Vũ Hoàng Long",
    "Trương Thị Diệu",
    "Mai Văn Thắng",
    "Tạ Thị Bích",
)


@dataclass(frozen=True)
class DemoPerson:
    """Someone the visitor can be in the demo (web chat id `demo-<key>`)."""

    key: str  # guest | contact | leader | admin: catalog key web.demo.role.<key>
    name: str = ""
    params: dict[str, str] = field(default_factory=dict)  # unit, team

    @property
    def chat_id(self) -> str:
        return f"demo-{self.key}"


GUEST = DemoPerson("guest")


@dataclass
class DemoCampaign:
    campaign_id: int
    code: str
    timezone: str
    deadlines: list[datetime]  # the campaign's and every unit's own, sorted
    unit_names: dict[str, str]
    codes: dict[tuple[str, str, int], str]  # (role, unit or team code, slot) -> invite code
    people: list[DemoPerson] = field(default_factory=list)
    to_try: list[tuple[str, str]] = field(default_factory=list)  # (invite code, unit name)

    def code_for(self, role: Role, where: str, slot: int = 1) -> str:
        return self.codes[(role.value, where, slot)]


async def import_example(sessions: async_sessionmaker[AsyncSession]) -> DemoCampaign:
    spec, problems = load_campaign_file(EXAMPLE)
    if spec is None:
        raise RuntimeError(f"the example campaign {EXAMPLE} has problems: {problems}")
    async with transaction(sessions) as session:
        result = await import_campaign(
            session, spec, now=IMPORTED_AT, source_name=EXAMPLE.name, actor_label="demo"
        )
        campaign = await session.get(Campaign, result.campaign_id)
        assert campaign is not None
        admin = await new_invite(
            session,
            campaign,
            Role.ADMIN,
            now=IMPORTED_AT,
            ttl=timedelta(days=60),
            actor_label="demo",
        )
        rows = await list_invites(session, campaign.id, now=IMPORTED_AT)
        overrides = list(
            await session.scalars(
                select(Assignment.deadline).where(
                    Assignment.campaign_id == campaign.id, Assignment.deadline.is_not(None)
                )
            )
        )
    codes = {(r.role, r.unit_code or r.team_code or "", r.slot): r.code for r in rows}
    codes[(Role.ADMIN.value, "", 1)] = admin.code
    demo = DemoCampaign(
        campaign_id=result.campaign_id,
        code=spec.code,
        timezone=spec.timezone,
        deadlines=sorted({spec.deadline, *(d for d in overrides if d is not None)}),
        unit_names={u.code: u.name for u in spec.units},
        codes=codes,
    )
    team = spec.teams[0]
    demo.people = [
        GUEST,
        DemoPerson("contact", "Trần Thị Mai", {"unit": demo.unit_names[DEMO_CONTACT_UNIT]}),
        DemoPerson("leader", "Lê Minh Tuấn", {"team": team.name}),
        DemoPerson("admin", "Phạm Thu Hà"),
    ]
    demo.to_try = [
        (demo.code_for(Role.UNIT_CONTACT, unit), demo.unit_names[unit]) for unit in CODES_TO_TRY
    ]
    return demo


def person_code(demo: DemoCampaign, person: DemoPerson) -> str:
    """The invite code each demo person joins with."""
    if person.key == "contact":
        return demo.code_for(Role.UNIT_CONTACT, DEMO_CONTACT_UNIT)
    if person.key == "leader":
        return demo.code_for(Role.TEAM_LEADER, "D1")
    if person.key == "admin":
        return demo.code_for(Role.ADMIN, "")
    raise ValueError(f"{person.key} joins by typing a code")


# -- progress ------------------------------------------------------------------------------

Submitted = Callable[[], Awaitable[None]]  # called after each submission (delivers alerts)


# Plausible ranges for the example's items, by code: (low, high); dates (first, spread).
PERCENTS = {
    "1.3": (80, 100),
    "1.5": (70, 100),
    "3.1": (96, 100),
    "3.2": (93, 100),
    "3.4": (55, 95),
    "6.2": (60, 100),
    "7.1": (35, 85),
    "7.2": (88, 100),
}
NUMBERS = {"1.6": (3, 40), "2.2": (0, 6), "5.2": (0, 1)}
DATES = {
    "1.1": (date(2020, 12, 5), 45),
    "4.1": (date(2018, 3, 1), 900),
    "6.1": (date(2021, 1, 5), 200),
}


class _Values:
    """Plausible answers for the example's items, drawn from one seeded generator."""

    TEXT = (
        "Đề nghị Sở Nội vụ tổ chức tập huấn về chấm điểm Chỉ số CCHC cho cán bộ đầu mối.",
        "Hệ thống một cửa điện tử còn chậm vào giờ cao điểm; đề nghị nâng cấp đường truyền.",
        "Không có khó khăn, vướng mắc.",
    )

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def __call__(self, item: ItemInfo) -> Any:
        rng = self.rng
        if item.type == "yesno":
            return rng.random() < 0.88
        if item.type == "choice":
            return rng.choices(item.options, weights=range(len(item.options), 0, -1))[0]
        if item.type == "multi":
            return [o for o in item.options if rng.random() < 0.65] or [item.options[0]]
        if item.type == "percent":
            low, high = PERCENTS.get(item.code, (60, 100))
            return (
                round(rng.uniform(low, high), 1) if rng.random() < 0.5 else rng.randint(low, high)
            )
        if item.type == "number":
            low, high = NUMBERS.get(item.code, (0, 10))
            return rng.randint(low, high)
        if item.type == "date":
            start, spread = DATES.get(item.code, (date(2021, 1, 4), 120))
            return (start + timedelta(days=rng.randint(0, spread))).isoformat()
        return rng.choice(self.TEXT)


def sample_pdf(title: str) -> bytes:
    """A small, valid one-page PDF standing in for a scanned decision or report."""
    text = title.encode("ascii", "replace").decode().replace("(", "[").replace(")", "]")
    stream = f"BT /F1 14 Tf 60 780 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


@dataclass
class _Seeder:
    session: AsyncSession
    evidence: EvidenceStore
    demo: DemoCampaign
    checklist: Checklist
    values: _Values

    async def link(self, unit: str, slot: int, name: str, at: datetime) -> int:
        """A contact joins the unit with their code (a web account nobody looks at)."""
        account = await account_for(
            self.session,
            platform=WEB,
            user_id=f"seed-{unit}-{slot}",
            chat_id=f"seed-{unit}-{slot}",
            display_name=name,
            username=None,
            language_hint="vi",
            now=at,
        )
        code = self.demo.code_for(Role.UNIT_CONTACT, unit, slot)
        person = await person_row(self.session, account)
        result = await redeem_invite(self.session, code, person, now=at)
        assert result.membership is not None, f"{unit}: {result.outcome}"
        return account.person_id

    async def answer(
        self,
        unit: str,
        person_id: int,
        items: list[ItemInfo],
        start: datetime,
        *,
        evidence_rate: float = 0.92,
    ) -> None:
        """Answer `items` in order, a few minutes apart, with evidence where asked."""
        submission = await self._submission(unit)
        for n, item in enumerate(items):
            at = start + timedelta(minutes=7 * n)
            await record_answer(
                self.session, submission, item, self.values(item), person_id=person_id, now=at
            )
            if item.evidence == "none" or (
                item.evidence == "optional" and self.values.rng.random() < 0.6
            ):
                continue
            if self.values.rng.random() < evidence_rate:
                await self._attach(unit, submission, item, person_id, at)
            elif item.evidence == "required":
                await record_note(
                    self.session,
                    submission,
                    item,
                    "Văn bản đang trình ký, sẽ bổ sung trước buổi làm việc.",
                    person_id=person_id,
                    now=at,
                )

    async def submit(self, unit: str, person_id: int, at: datetime) -> None:
        submission = await self._submission(unit)
        result = await submit(self.session, submission, self.checklist, person_id=person_id, now=at)
        assert result.ok, f"{unit} could not be submitted: {result.progress}"

    async def _submission(self, unit: str) -> Any:
        assignment_id = await self.session.scalar(
            select(Assignment.id)
            .join(Unit)
            .where(Assignment.campaign_id == self.demo.campaign_id, Unit.code == unit)
        )
        assert assignment_id is not None, unit
        return await submission_for(self.session, assignment_id)

    async def _attach(
        self, unit: str, submission: Any, item: ItemInfo, person_id: int, at: datetime
    ) -> None:
        name = f"{unit.lower()}-muc-{item.code}.pdf"
        temp = self.evidence.incoming_path()
        temp.write_bytes(sample_pdf(f"{unit} - {item.code} - tai lieu kiem chung"))
        stored = self.evidence.keep(temp, folder=(self.demo.code, unit, item.code), file_name=name)
        await add_evidence(
            self.session,
            submission,
            item,
            stored,
            file_name=name,
            mime_type="application/pdf",
            person_id=person_id,
            now=at,
        )


async def seed_progress(
    sessions: async_sessionmaker[AsyncSession],
    evidence: EvidenceStore,
    demo: DemoCampaign,
    *,
    set_clock: Callable[[datetime], None],
    after_submit: Submitted,
) -> None:
    """Fill the spread described at the top. Submissions go in time order with the clock
    set to each one, and `after_submit` delivers the team leader's alert at that moment."""
    rng = random.Random(2021)
    async with transaction(sessions) as session:
        checklist = await read_checklist(session, demo.campaign_id)
        seeder = _Seeder(session, evidence, demo, checklist, _Values(rng))
        items = list(checklist.items)
        names = iter(NAMES)
        for n, unit in enumerate((NEARLY_DONE, *HALF_WAY, *LINKED_NOT_STARTED)):
            if unit == DEMO_CONTACT_UNIT:
                continue  # the demo's own contact joined through the chat
            slot = 2 if unit == NEARLY_DONE else 1  # slot 1 of SNV is the visitor's
            person_id = await seeder.link(unit, slot, next(names), LINKED_AT + timedelta(hours=n))
            if unit in HALF_WAY:
                count = round(len(items) * HALF_WAY[unit])
                await seeder.answer(
                    unit, person_id, items[:count], _day(rng, 22, 28), evidence_rate=0.8
                )
            elif unit == NEARLY_DONE:
                todo = [i for i in items if i.code not in LEFT_FOR_VISITOR]
                await seeder.answer(unit, person_id, todo, _day(rng, 24, 28), evidence_rate=1)
        finished: list[tuple[datetime, str, int]] = []
        for unit in SUBMITTED:
            person_id = await seeder.link(unit, 1, next(names), LINKED_AT)
            start = _day(rng, 21, 24)
            await seeder.answer(unit, person_id, items, start, evidence_rate=1)
            finished.append((_working_day_after(rng, start), unit, person_id))
    for at, unit, person_id in sorted(finished):
        set_clock(at)
        async with transaction(sessions) as session:
            checklist = await read_checklist(session, demo.campaign_id)
            await _Seeder(session, evidence, demo, checklist, _Values(rng)).submit(
                unit, person_id, at
            )
        await after_submit()


async def answer_for_contact(
    sessions: async_sessionmaker[AsyncSession],
    evidence: EvidenceStore,
    demo: DemoCampaign,
    person_id: int,
) -> None:
    """The demo's unit contact (Quận 11) answered part of the checklist last week."""
    rng = random.Random(11)
    async with transaction(sessions) as session:
        checklist = await read_checklist(session, demo.campaign_id)
        items = list(checklist.items)
        count = round(len(items) * HALF_WAY[DEMO_CONTACT_UNIT])
        await _Seeder(session, evidence, demo, checklist, _Values(rng)).answer(
            DEMO_CONTACT_UNIT, person_id, items[:count], _day(rng, 22, 24), evidence_rate=0.8
        )


def _day(rng: random.Random, first: int, last: int) -> datetime:
    """A working moment of a day in September 2021, between 08:00 and 16:00."""
    day = rng.randint(first, last)
    while date(2021, 9, day).weekday() >= 5:  # nobody answers on the weekend
        day -= 1
    return datetime(2021, 9, day, 8, 0, tzinfo=TZ) + timedelta(minutes=rng.randint(0, 480))


def _working_day_after(rng: random.Random, start: datetime) -> datetime:
    """One to three days later, on a working day, during office hours."""
    day = start.date() + timedelta(days=rng.randint(1, 3))
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime(day.year, day.month, day.day, 8, 0, tzinfo=TZ) + timedelta(
        minutes=rng.randint(0, 480)
    )
