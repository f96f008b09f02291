"""The database model for the whole mission: campaigns, units, people, answers, delivery.

All datetimes are stored as timezone-aware UTC (`UTCDateTime` makes SQLite give them back
aware too). Enumerations are stored as short strings so a migration never has to alter a
database enum type. Vietnamese terms appear once, in the docstrings.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Deterministic constraint names so Alembic migrations work the same on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out, on every backend (SQLite drops the offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use aware UTC")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime, dict[str, Any]: JSON}


# -- enumerations -----------------------------------------------------------------------


class Role(StrEnum):
    UNIT_CONTACT = "unit_contact"  # cán bộ đầu mối của đơn vị
    TEAM_LEADER = "team_leader"  # Trưởng đoàn kiểm tra
    TEAM_MEMBER = "team_member"  # thành viên đoàn
    ADMIN = "admin"  # cán bộ Phòng CCHC, Sở Nội vụ


class SubmissionStatus(StrEnum):
    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    SUBMITTED = "submitted"
    RETURNED = "returned"  # trả lại để bổ sung
    ACCEPTED = "accepted"


class OutboxStatus(StrEnum):
    PENDING = "pending"
    CLAIMED = "claimed"  # taken by a worker, about to be sent; its request not started yet
    SENDING = "sending"  # its request went out (or is about to, this very moment)
    IN_DOUBT = "in_doubt"  # a crash came during its request: whether it arrived is unknown
    SENT = "sent"
    FAILED = "failed"
    UNREACHABLE = "unreachable"
    CANCELLED = "cancelled"


# -- campaigns, teams, units -----------------------------------------------------------


class Unit(Base):
    """An inspected unit (đơn vị): a department (sở, ban, ngành) or a People's Committee."""

    __tablename__ = "units"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(300))


class Campaign(Base):
    """A campaign (đợt kiểm tra CCHC), from a plan (kế hoạch / quyết định)."""

    __tablename__ = "campaigns"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(500))
    basis: Mapped[str] = mapped_column(String(500), default="")
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Ho_Chi_Minh")
    deadline: Mapped[datetime]
    # The reminder policy of the campaign file (reminders, overdue_every, quiet hours...).
    policy: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    source_name: Mapped[str] = mapped_column(String(300), default="")
    closed_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    teams: Mapped[list[Team]] = relationship(back_populates="campaign", order_by="Team.id")
    sections: Mapped[list[Section]] = relationship(order_by="Section.position")


class Team(Base):
    """An inspection team (Đoàn kiểm tra số N)."""

    __tablename__ = "teams"
    __table_args__ = (UniqueConstraint("campaign_id", "code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(300))
    leader_slots: Mapped[int] = mapped_column(default=1)
    member_slots: Mapped[int] = mapped_column(default=0)

    campaign: Mapped[Campaign] = relationship(back_populates="teams")


class Assignment(Base):
    """A unit in a campaign: its team, form of inspection (hình thức), deadline and visit."""

    __tablename__ = "assignments"
    __table_args__ = (UniqueConstraint("campaign_id", "unit_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), index=True)
    form: Mapped[str] = mapped_column(String(32))  # campaign_spec.InspectionForm
    deadline: Mapped[datetime | None]  # None: the campaign's deadline
    visit_at: Mapped[datetime | None]
    visit_place: Mapped[str | None] = mapped_column(String(300))
    visit_announced: Mapped[bool] = mapped_column(default=True)  # False: đột xuất
    contact_slots: Mapped[int] = mapped_column(default=1)
    position: Mapped[int] = mapped_column(default=0)  # order in the campaign file

    unit: Mapped[Unit] = relationship(lazy="joined")
    team: Mapped[Team] = relationship()
    campaign: Mapped[Campaign] = relationship(lazy="joined")

    def effective_deadline(self, campaign: Campaign) -> datetime:
        return self.deadline or campaign.deadline


class Section(Base):
    """A checklist section, usually a PAR area (lĩnh vực)."""

    __tablename__ = "sections"
    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int]
    title: Mapped[str] = mapped_column(String(500))


class Item(Base):
    """A checklist item (tiêu chí / tiêu chí thành phần) with its answer type and scoring."""

    __tablename__ = "items"
    __table_args__ = (UniqueConstraint("campaign_id", "code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    section_id: Mapped[int] = mapped_column(ForeignKey("sections.id"), index=True)
    position: Mapped[int]  # order across the whole checklist
    code: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    help: Mapped[str] = mapped_column(Text, default="")
    type: Mapped[str] = mapped_column(String(16))  # campaign_spec.ItemType
    options: Mapped[list[str]] = mapped_column(JSON, default=list)
    required: Mapped[bool] = mapped_column(default=True)
    evidence: Mapped[str] = mapped_column(String(16), default="none")  # EvidencePolicy
    points: Mapped[float] = mapped_column(Float, default=0.0)
    scoring: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    min: Mapped[float | None] = mapped_column(Float)
    max: Mapped[float | None] = mapped_column(Float)
    max_length: Mapped[int | None]

    section: Mapped[Section] = relationship()


# -- people and their chats ---------------------------------------------------------------


class Person(Base):
    __tablename__ = "people"
    id: Mapped[int] = mapped_column(primary_key=True)
    full_name: Mapped[str] = mapped_column(String(200), default="")
    locale: Mapped[str | None] = mapped_column(String(8))  # chosen with /lang; None: hint
    is_admin: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]


class ChatAccount(Base):
    """One person's account on one platform (a person may have Telegram and Zalo)."""

    __tablename__ = "chat_accounts"
    __table_args__ = (UniqueConstraint("platform", "user_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    platform: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[str] = mapped_column(String(64))
    chat_id: Mapped[str] = mapped_column(String(64))
    username: Mapped[str | None] = mapped_column(String(100))
    language_hint: Mapped[str | None] = mapped_column(String(16))
    unreachable_at: Mapped[datetime | None]  # blocked the bot / chat gone
    unreachable_reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]
    # When the person last wrote from this account; kept only for a person with linked
    # accounts (/link, issue 16): what the bot sends on its own goes to the newest.
    last_used_at: Mapped[datetime | None] = mapped_column(index=True)

    person: Mapped[Person] = relationship(lazy="joined")


class Membership(Base):
    """A person's role in a campaign: contact of a unit, leader or member of a team, admin."""

    __tablename__ = "memberships"
    __table_args__ = (Index("ix_memberships_person_campaign", "person_id", "campaign_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16))  # Role
    assignment_id: Mapped[int | None] = mapped_column(
        ForeignKey("assignments.id", ondelete="CASCADE"), index=True
    )
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), index=True)
    invite_id: Mapped[int | None] = mapped_column(ForeignKey("invites.id"))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]

    person: Mapped[Person] = relationship(lazy="joined")


class Invite(Base):
    """A single-use invite code that links a chat to a unit or team role."""

    __tablename__ = "invites"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16))  # Role
    assignment_id: Mapped[int | None] = mapped_column(
        ForeignKey("assignments.id", ondelete="CASCADE"), index=True
    )
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), index=True)
    slot: Mapped[int] = mapped_column(default=1)  # contact 1, 2...: one code per slot
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    used_by: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    revoked_at: Mapped[datetime | None]

    campaign: Mapped[Campaign] = relationship()
    assignment: Mapped[Assignment | None] = relationship()
    team: Mapped[Team | None] = relationship()


# -- submissions, answers, evidence ------------------------------------------------------


class Submission(Base):
    """A unit's self-inspection report (báo cáo tự kiểm tra): one per unit per campaign."""

    __tablename__ = "submissions"
    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(
        ForeignKey("assignments.id", ondelete="CASCADE"), unique=True
    )
    status: Mapped[str] = mapped_column(String(16), default=SubmissionStatus.NOT_STARTED)
    late: Mapped[bool] = mapped_column(default=False)
    submitted_at: Mapped[datetime | None]
    submitted_by: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    returned_at: Mapped[datetime | None]
    accepted_at: Mapped[datetime | None]
    self_score: Mapped[float | None] = mapped_column(Float)
    appraised_score: Mapped[float | None] = mapped_column(Float)  # thẩm định
    updated_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(default=0)  # bumped on each change

    assignment: Mapped[Assignment] = relationship()


class Answer(Base):
    """The current answer to one item; every change is also kept in AnswerRevision."""

    __tablename__ = "answers"
    __table_args__ = (UniqueConstraint("submission_id", "item_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    # None: skipped / cleared (SQL NULL, not JSON null, so "IS NULL" finds it).
    value: Mapped[Any] = mapped_column(JSON(none_as_null=True), nullable=True)
    note: Mapped[str | None] = mapped_column(Text)  # giải trình when evidence is missing
    answered_by: Mapped[int] = mapped_column(ForeignKey("people.id"))
    answered_at: Mapped[datetime]
    revision: Mapped[int] = mapped_column(default=1)
    reopened: Mapped[bool] = mapped_column(default=False)  # returned for correction


class AnswerRevision(Base):
    __tablename__ = "answer_revisions"
    id: Mapped[int] = mapped_column(primary_key=True)
    answer_id: Mapped[int] = mapped_column(ForeignKey("answers.id", ondelete="CASCADE"), index=True)
    revision: Mapped[int]
    value: Mapped[Any] = mapped_column(JSON(none_as_null=True), nullable=True)
    answered_by: Mapped[int] = mapped_column(ForeignKey("people.id"))
    answered_at: Mapped[datetime]


class EvidenceFile(Base):
    """A piece of evidence (tài liệu kiểm chứng) attached to an item of a submission."""

    __tablename__ = "evidence_files"
    __table_args__ = (Index("ix_evidence_submission_item", "submission_id", "item_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    file_name: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    mime_type: Mapped[str] = mapped_column(String(100))
    sha256: Mapped[str] = mapped_column(String(64))
    storage_path: Mapped[str] = mapped_column(String(500))  # relative to EVIDENCE_DIR
    uploaded_by: Mapped[int] = mapped_column(ForeignKey("people.id"))
    uploaded_at: Mapped[datetime]
    removed_at: Mapped[datetime | None]


# -- review, appraisal, questions (the leaders' work) --------------------------------------


class ReviewFlag(Base):
    """An item the team asks the unit to complete (yêu cầu bổ sung), with a comment."""

    __tablename__ = "review_flags"
    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), index=True
    )
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    comment: Mapped[str] = mapped_column(Text)
    flagged_by: Mapped[int] = mapped_column(ForeignKey("people.id"))
    flagged_at: Mapped[datetime]
    returned_at: Mapped[datetime | None]  # when the report went back with this flag
    resolved_at: Mapped[datetime | None]


class Appraisal(Base):
    """The team's appraised score of one item (thẩm định), with the reason when it differs."""

    __tablename__ = "appraisals"
    __table_args__ = (UniqueConstraint("submission_id", "item_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    score: Mapped[float] = mapped_column(Float)
    reason: Mapped[str | None] = mapped_column(Text)
    appraised_by: Mapped[int] = mapped_column(ForeignKey("people.id"))
    appraised_at: Mapped[datetime]


class Question(Base):
    """A unit's question to the team (Hỏi đoàn kiểm tra) and its thread of replies."""

    __tablename__ = "questions"
    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), index=True
    )
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("questions.id"))  # a reply
    text: Mapped[str] = mapped_column(Text)
    asked_by: Mapped[int] = mapped_column(ForeignKey("people.id"))
    asked_at: Mapped[datetime]


# -- conversation, delivery, schedules, audit ----------------------------------------------


class ConversationState(Base):
    """Where a chat is in its conversation, so a restart or another process continues it."""

    __tablename__ = "conversation_states"
    __table_args__ = (UniqueConstraint("platform", "chat_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(64))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="SET NULL"))
    state: Mapped[str] = mapped_column(String(64), default="idle")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime]


class Notice(Base):
    """A notice (thông báo) an admin or leader sends to an audience, now or at a time."""

    __tablename__ = "notices"
    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    audience: Mapped[str] = mapped_column(String(100))  # all | team:D1 | unit:SNV | pending...
    text: Mapped[str] = mapped_column(Text)
    file_path: Mapped[str | None] = mapped_column(String(500))
    send_at: Mapped[datetime]
    created_by: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    created_at: Mapped[datetime]
    dispatched_at: Mapped[datetime | None]  # when its outbox rows were written
    cancelled_at: Mapped[datetime | None]


class OutboxMessage(Base):
    """A message the bot sends on its own, written in the same transaction as its cause.

    The text is rendered at delivery time from `template` and `params` in the recipient's
    language. `dedupe_key` is unique: planning the same message twice is harmless.
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "not_before"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(32))  # alert, reminder, notice, summary...
    campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), index=True
    )
    notice_id: Mapped[int | None] = mapped_column(
        ForeignKey("notices.id", ondelete="CASCADE"), index=True
    )
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    chat_account_id: Mapped[int] = mapped_column(ForeignKey("chat_accounts.id"), index=True)
    template: Mapped[str] = mapped_column(String(100))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    not_before: Mapped[datetime]
    claimed_at: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    sent_at: Mapped[datetime | None]
    platform_message_id: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime]

    chat_account: Mapped[ChatAccount] = relationship()


class HandledUpdate(Base):
    """An inbound update already handled, by the platform's own id for it, so an update the
    platform delivers again (after a crash, or a webhook answered with an error) is not
    handled twice. Written in the same transaction as the event; kept for a week."""

    __tablename__ = "handled_updates"
    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    update_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    handled_at: Mapped[datetime] = mapped_column(index=True)


class ScheduleMark(Base):
    """Remembers what a time-driven job last did (e.g. the last summary's fingerprint)."""

    __tablename__ = "schedule_marks"
    __table_args__ = (UniqueConstraint("key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200))
    value: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime]


class AuditEntry(Base):
    """The audit log: who did what, when (also the export's history sheet)."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    actor_label: Mapped[str] = mapped_column(String(200), default="")  # "cli", "scheduler"
    campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), index=True
    )
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(200), default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


# -- the desk console's sign-in (bot/console) ---------------------------------------------


class WebLoginLink(Base):
    """A one-time sign-in link for the desk console, asked for in chat (/web) or from the
    CLI. Only the SHA-256 of its token is kept: a copy of the database opens nothing."""

    __tablename__ = "web_login_links"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class WebSession(Base):
    """A browser signed in to the desk console. Stored server side so it can be revoked
    (sign out everywhere, /web off); the cookie holds a token whose SHA-256 is kept here."""

    __tablename__ = "web_sessions"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    browser: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    expires_at: Mapped[datetime]  # the absolute limit; idle expiry counts from last_seen_at
    revoked_at: Mapped[datetime | None]


# -- conclusions and remediation (issue 18, second half) ----------------------------------


class FixStatus(StrEnum):
    OPEN = "open"  # to be fixed (again, after a reopen)
    REPORTED = "reported"  # the unit says it is fixed; the team has not looked yet
    FIXED = "fixed"  # the team accepted the fix (đã khắc phục)


class Conclusion(Base):
    """The team's conclusion on one unit (thông báo kết luận kiểm tra): the strengths, and
    the shortcomings in `Shortcoming`. Issued once; the notice then goes to the unit."""

    __tablename__ = "conclusions"
    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(
        ForeignKey("assignments.id", ondelete="CASCADE"), unique=True
    )
    strengths: Mapped[str] = mapped_column(Text, default="")  # ưu điểm
    concluded_by: Mapped[int] = mapped_column(ForeignKey("people.id"))
    concluded_at: Mapped[datetime]
    issued_by: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    issued_at: Mapped[datetime | None]
    document_path: Mapped[str | None] = mapped_column(String(500))  # the issued .docx

    shortcomings: Mapped[list[Shortcoming]] = relationship(
        order_by="Shortcoming.position", cascade="all, delete-orphan"
    )


class Shortcoming(Base):
    """A shortcoming (tồn tại, hạn chế) with the required fix and its due date; once the
    conclusion is issued it is the unit's remediation task (khắc phục)."""

    __tablename__ = "shortcomings"
    id: Mapped[int] = mapped_column(primary_key=True)
    conclusion_id: Mapped[int] = mapped_column(
        ForeignKey("conclusions.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(default=0)
    text: Mapped[str] = mapped_column(Text)
    fix: Mapped[str] = mapped_column(Text)  # what the unit must do
    due_on: Mapped[date]  # a local date in the campaign's timezone
    status: Mapped[str] = mapped_column(String(16), default=FixStatus.OPEN)
    report: Mapped[str | None] = mapped_column(Text)  # what the unit did
    reported_by: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    reported_at: Mapped[datetime | None]
    reviewed_by: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    reviewed_at: Mapped[datetime | None]
    comment: Mapped[str | None] = mapped_column(Text)  # the team's word on a reopen
    round: Mapped[int] = mapped_column(default=1)  # 2 after the first reopen...: dedupe keys


class ShortcomingFile(Base):
    """Evidence of a fix, kept in the evidence store like a report's evidence."""

    __tablename__ = "shortcoming_files"
    id: Mapped[int] = mapped_column(primary_key=True)
    shortcoming_id: Mapped[int] = mapped_column(
        ForeignKey("shortcomings.id", ondelete="CASCADE"), index=True
    )
    file_name: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    mime_type: Mapped[str] = mapped_column(String(100))
    sha256: Mapped[str] = mapped_column(String(64))
    storage_path: Mapped[str] = mapped_column(String(500))  # relative to EVIDENCE_DIR
    uploaded_by: Mapped[int] = mapped_column(ForeignKey("people.id"))
    uploaded_at: Mapped[datetime]


class CampaignFollowUp(Base):
    """A campaign that follows up an earlier one (`follow_up:` in the campaign file): the
    earlier campaign's shortcomings are shown again, and its remediation rate can answer
    an item (`answer_from: remediation_rate`, in `answer_from`: item code -> source)."""

    __tablename__ = "campaign_follow_ups"
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    earlier_campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), index=True
    )
    answer_from: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


# -- the unit contact's upload links (bot/console/contact_routes.py) ----------------------


class UploadLink(Base):
    """A personal upload link for one item of one unit's report, sent in a chat that cannot
    carry documents (Zalo): whoever opens it may add files to that item only, until it
    expires or is revoked. Only the SHA-256 of its token is kept."""

    __tablename__ = "upload_links"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    chat_account_id: Mapped[int] = mapped_column(ForeignKey("chat_accounts.id", ondelete="CASCADE"))
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


# -- scores by hand and appraisal rounds (issue 18: self-scores, thẩm định, giải trình) ------


class SelfScore(Base):
    """The unit's own score (tự chấm) of an item scored by hand, with its short reason."""

    __tablename__ = "self_scores"
    __table_args__ = (UniqueConstraint("submission_id", "item_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    score: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(Text, default="")
    scored_by: Mapped[int] = mapped_column(ForeignKey("people.id"))
    scored_at: Mapped[datetime]


class AppraisalRound(Base):
    """Where a unit's appraisal stands: round 1 sent to the unit (its `appraisals` rows are
    then fixed), the explanation deadline, explanations sent, the result final."""

    __tablename__ = "appraisal_rounds"
    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("submissions.id", ondelete="CASCADE"), unique=True
    )
    round1_sent_at: Mapped[datetime]
    round1_sent_by: Mapped[int] = mapped_column(ForeignKey("people.id"))
    explain_until: Mapped[datetime]
    explanations_sent_at: Mapped[datetime | None]  # the unit sent them, or the deadline closed
    final_at: Mapped[datetime | None]  # round 2 decided every disputed item


class Explanation(Base):
    """The unit's explanation (giải trình) of an item marked down in round 1, and the
    team's round-2 decision on it."""

    __tablename__ = "explanations"
    __table_args__ = (UniqueConstraint("submission_id", "item_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    explained_by: Mapped[int] = mapped_column(ForeignKey("people.id"))
    explained_at: Mapped[datetime]
    round2_score: Mapped[float | None] = mapped_column(Float)
    round2_reason: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    decided_at: Mapped[datetime | None]


class ExplanationFile(Base):
    """A piece of evidence sent with an explanation (an `evidence_files` row of the item)."""

    __tablename__ = "explanation_files"
    __table_args__ = (UniqueConstraint("explanation_id", "evidence_file_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    explanation_id: Mapped[int] = mapped_column(
        ForeignKey("explanations.id", ondelete="CASCADE"), index=True
    )
    evidence_file_id: Mapped[int] = mapped_column(
        ForeignKey("evidence_files.id", ondelete="CASCADE")
    )


# -- one person on several channels (/link, issue 16) ------------------------------------


class LinkCode(Base):
    """A one-time code shown by /link on one channel, to type on another so that chat
    becomes the same person's. Only its SHA-256 is kept; valid a few minutes, used once."""

    __tablename__ = "link_codes"
    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("chat_accounts.id", ondelete="CASCADE"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
