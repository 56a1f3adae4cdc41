"""Database models. Times are timezone-aware UTC; dates are plain calendar dates."""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Store aware datetimes as UTC; SQLite loses the zone, so put it back on load."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; store aware UTC times only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime,
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


def _enum(cls: type[enum.Enum]) -> Enum:
    # Store the readable value, as VARCHAR everywhere: adding a member then needs no ALTER TYPE.
    return Enum(cls, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])


class Unit(Base):
    """A node of the government tree: province → [district] → commune → division."""

    __tablename__ = "units"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    # A merged unit points at its successor; people and courses are moved there.
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Position(Base):
    """A title such as 'Chủ tịch UBND xã' or 'Công chức Văn hóa - Xã hội'."""

    __tablename__ = "positions"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name_vi: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    # Group a standard can target: leader, civil_servant, mass_org, part_time, ...
    group: Mapped[str] = mapped_column(String(30))


class Person(Base):
    """A roster row (national personnel record, only the fields features need)."""

    __tablename__ = "people"

    id: Mapped[int] = mapped_column(primary_key=True)
    personal_id: Mapped[str] = mapped_column(String(12), unique=True)
    full_name: Mapped[str] = mapped_column(String(120))
    date_of_birth: Mapped[date | None] = mapped_column(Date)
    gender: Mapped[str | None] = mapped_column(String(10))
    phone: Mapped[str | None] = mapped_column(String(15), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    position_id: Mapped[int | None] = mapped_column(ForeignKey("positions.id"), index=True)
    job_position: Mapped[str | None] = mapped_column(String(200))
    joined_on: Mapped[date | None] = mapped_column(Date)
    general_education: Mapped[str | None] = mapped_column(String(20))
    # Cán bộ / công chức / viên chức / không chuyên trách (domain.vocab.PERSON_TYPE).
    person_type: Mapped[str | None] = mapped_column(String(20))
    # The civil-service rank (ngạch, domain.vocab.CIVIL_SERVICE_RANK).
    civil_service_rank: Mapped[str | None] = mapped_column(String(30))
    # The old 9-digit identity card number, kept for reference, never a key.
    old_id_number: Mapped[str | None] = mapped_column(String(9))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # The channel notices go to ("telegram", "zalo"); None: the one the person used last.
    preferred_channel: Mapped[str | None] = mapped_column(String(16))

    unit: Mapped[Unit] = relationship(lazy="raise")
    position: Mapped[Position | None] = relationship(lazy="raise")


class Qualification(Base):
    """One qualification a person holds: kind (education, political_theory, ...) and level."""

    __tablename__ = "qualifications"
    __table_args__ = (UniqueConstraint("person_id", "kind", "level", "field"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    level: Mapped[str] = mapped_column(String(40))
    field: Mapped[str] = mapped_column(String(200), default="")
    obtained_on: Mapped[date | None] = mapped_column(Date)
    # roster (imported), course (granted by completing one), claim (approved evidence)
    source: Mapped[str] = mapped_column(String(20), default="roster")


class QualificationLevel(Base):
    """A level the roster said a person held, and when it was learnt: the report compares
    with earlier years from these (a roster import adds a row when a level changes)."""

    __tablename__ = "qualification_levels"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    level: Mapped[str] = mapped_column(String(40))  # "" when the roster gave none
    learnt_on: Mapped[date] = mapped_column(Date)


class DegreeStudy(Base):
    """A degree a person is studying for (college, university, postgraduate): a standard it
    will meet shows as in progress until the expected end."""

    __tablename__ = "degree_studies"
    __table_args__ = (UniqueConstraint("person_id", "level", "starts_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    level: Mapped[str] = mapped_column(String(40))  # an EDUCATION code
    field: Mapped[str] = mapped_column(String(200), default="")
    school: Mapped[str | None] = mapped_column(String(200))
    mode: Mapped[str | None] = mapped_column(String(20))  # in_service | distance | full_time
    starts_on: Mapped[date] = mapped_column(Date)
    expected_end: Mapped[date] = mapped_column(Date)
    funding: Mapped[str | None] = mapped_column(String(20))  # state | self


class Secondment(Base):
    """A secondment or rotation to another unit, with periodic review meetings."""

    __tablename__ = "secondments"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    from_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    to_unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    kind: Mapped[str] = mapped_column(String(20), default="secondment")  # or rotation
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    review_every_months: Mapped[int] = mapped_column(Integer, default=6)
    # Where in the host unit the person works, and on what; the decision that sent them.
    host_division: Mapped[str | None] = mapped_column(String(200))
    field_of_work: Mapped[str | None] = mapped_column(String(200))
    decision_no: Mapped[str | None] = mapped_column(String(60))
    # Set when a review is recorded (or imported): the planner reminds of this date, not of
    # the one counted from the start. Blank: every N months from the start.
    next_review_on: Mapped[date | None] = mapped_column(Date)
    last_review_on: Mapped[date | None] = mapped_column(Date)
    last_review_rating: Mapped[str | None] = mapped_column(String(20))
    last_review_note: Mapped[str | None] = mapped_column(Text)


class StandardRule(Base):
    """A standard as data: who it applies to, what it requires, its legal basis and grace date."""

    __tablename__ = "standard_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(60), unique=True)
    title_vi: Mapped[str] = mapped_column(String(300))
    title_en: Mapped[str] = mapped_column(String(300))
    # {"groups": [...], "positions": [...], "units": [...]}; an empty list means "anyone".
    applies_to: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # education | political_theory | state_management | it | foreign_language |
    # digital_skills | refresher_hours
    requires_kind: Mapped[str] = mapped_column(String(30))
    requires_level: Mapped[str | None] = mapped_column(String(40))
    # Folded keywords; the held qualification's field must contain one of them.
    requires_fields: Mapped[list[Any]] = mapped_column(default=list)
    requires_hours: Mapped[int | None] = mapped_column(Integer)
    basis: Mapped[str] = mapped_column(Text, default="")
    grace_until: Mapped[date | None] = mapped_column(Date)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class PostgraduateConditions(Base):
    """Decree 171/2025's conditions for sending someone to postgraduate study, as data: one
    row, loaded from the rule book's `postgraduate` section (storage/seed/standards.yaml)."""

    __tablename__ = "postgraduate_conditions"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The EDUCATION levels the conditions apply to (thac_si, tien_si).
    levels: Mapped[list[Any]] = mapped_column(default=list)
    # Age in full years at the decision date, when first sent; None: no limit.
    max_age_first_sending: Mapped[int | None] = mapped_column(Integer)
    # Full years since joined_on at the decision date; None: no minimum.
    min_years_of_service: Mapped[int | None] = mapped_column(Integer)
    # The commitment to serve: at least this many times the study period.
    commitment_multiple: Mapped[int] = mapped_column(Integer)
    basis: Mapped[str] = mapped_column(Text, default="")


class CourseStatus(enum.StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    CLOSED = "closed"
    CANCELLED = "cancelled"
    FINISHED = "finished"


class Course(Base):
    __tablename__ = "courses"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    # Folded title + category + place, so search ignores diacritics and case on both databases.
    search_text: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(30))
    organizer_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    mode: Mapped[str] = mapped_column(String(20), default="in_person")
    place: Mapped[str | None] = mapped_column(String(300))
    link: Mapped[str | None] = mapped_column(String(500))
    starts_at: Mapped[datetime] = mapped_column(index=True)
    ends_at: Mapped[datetime]
    capacity: Mapped[int] = mapped_column(Integer)
    registration_deadline: Mapped[datetime]
    # {"units": [unit codes, subtree included], "groups": [...], "positions": [...]}
    audience: Mapped[dict[str, Any]] = mapped_column(default=dict)
    hours: Mapped[int] = mapped_column(Integer, default=0)
    grants_kind: Mapped[str | None] = mapped_column(String(30))
    grants_level: Mapped[str | None] = mapped_column(String(40))
    requires_approval: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[CourseStatus] = mapped_column(_enum(CourseStatus), default=CourseStatus.OPEN)
    # Increments under the course row lock so waitlist order is exactly arrival order.
    queue_seq: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    sessions: Mapped[list[CourseSession]] = relationship(
        lazy="raise", order_by="CourseSession.starts_at", cascade="all, delete-orphan"
    )


class CourseSession(Base):
    __tablename__ = "course_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]


class RegistrationStatus(enum.StrEnum):
    REGISTERED = "registered"
    WAITLISTED = "waitlisted"
    CANCELLED = "cancelled"
    ATTENDED = "attended"
    COMPLETED = "completed"
    NO_SHOW = "no_show"
    # A seat held for someone their unit sent ("cử đi học") until they confirm or `hold_until`.
    NOMINATED = "nominated"
    # A self-registration waiting for the unit head's approval; it holds a seat meanwhile.
    PENDING_APPROVAL = "pending_approval"
    DECLINED = "declined"  # a nomination declined by the person, or an approval refused
    EXPIRED = "expired"  # a nomination or approval not answered in time


class Registration(Base):
    __tablename__ = "registrations"
    __table_args__ = (
        UniqueConstraint("course_id", "person_id"),
        Index("ix_registrations_course_status_seq", "course_id", "status", "queue_seq"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    status: Mapped[RegistrationStatus] = mapped_column(_enum(RegistrationStatus))
    queue_seq: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    cancelled_at: Mapped[datetime | None]
    promoted_at: Mapped[datetime | None]
    # Nomination and approval: who sent or decided, until when a seat is held, and why not.
    nominated_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL")
    )
    hold_until: Mapped[datetime | None]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None]
    reason: Mapped[str | None] = mapped_column(Text)


class TrainingRecord(Base):
    """Training a person completed (from a course of ours or recorded from elsewhere)."""

    __tablename__ = "training_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    course_id: Mapped[int | None] = mapped_column(ForeignKey("courses.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(String(300))
    # A record from outside the bot has its own category; one from a course takes the course's.
    category: Mapped[str | None] = mapped_column(String(30))
    organizer: Mapped[str | None] = mapped_column(String(200))
    # What it granted (a qualification kind and level), for a record from outside the bot.
    grants_kind: Mapped[str | None] = mapped_column(String(30))
    grants_level: Mapped[str | None] = mapped_column(String(40))
    hours: Mapped[int] = mapped_column(Integer, default=0)
    starts_on: Mapped[date | None] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    certificate_no: Mapped[str | None] = mapped_column(String(60))
    # The approved claim it was recorded from: one record per claim, however often approved.
    claim_id: Mapped[int | None] = mapped_column(
        ForeignKey("claims.id", ondelete="SET NULL"), unique=True
    )


class ChatAccount(Base):
    """A chat user on one channel, optionally linked to a roster person."""

    __tablename__ = "chat_accounts"
    __table_args__ = (
        UniqueConstraint("channel", "chat_user_id"),
        # NULLs are distinct on SQLite and PostgreSQL: unlinked accounts do not collide.
        UniqueConstraint("channel", "person_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    chat_user_id: Mapped[str] = mapped_column(String(64))
    chat_id: Mapped[str] = mapped_column(String(64))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    language: Mapped[str | None] = mapped_column(String(5))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    linked_at: Mapped[datetime | None]
    # When the linked person last wrote from this account (see domain.linking.TOUCH_EVERY).
    last_used_at: Mapped[datetime | None]
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Dialog(Base):
    """Where one chat is in a conversation: the step it owes, that step's data, the choices it
    was last offered (numbered on Zalo) and until when they hold. One row per (channel, chat),
    so a restart or another worker continues the conversation."""

    __tablename__ = "dialogs"

    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    chat_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[dict[str, Any]] = mapped_column(JSON)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class LinkCode(Base):
    """A one-time code an organizer gives a person to link (or relink) a chat account."""

    __tablename__ = "link_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Only a hash is stored, so a leaked database does not leak usable codes.
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class NotificationState(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    SKIPPED = "skipped"
    FAILED = "failed"


class Notification(Base):
    """A message owed to a person. Rows are the truth; the drainer only delivers them."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_state_due", "state", "due_at"),
        Index("ix_notifications_person_course", "person_id", "course_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Same reminder twice is impossible: e.g. "course_start:42:7:3d".
    dedupe_key: Mapped[str] = mapped_column(String(120), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    course_id: Mapped[int | None] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    due_at: Mapped[datetime]
    state: Mapped[NotificationState] = mapped_column(
        _enum(NotificationState), default=NotificationState.PENDING
    )
    # Urgent rows (a course cancelled for tomorrow) are delivered during quiet hours too.
    urgent: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_message_id: Mapped[int | None] = mapped_column(BigInteger)
    sent_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReminderOptOut(Base):
    """A category of reminders a person turned off (mandatory notices have no category)."""

    __tablename__ = "reminder_opt_outs"

    person_id: Mapped[int] = mapped_column(
        ForeignKey("people.id", ondelete="CASCADE"), primary_key=True
    )
    category: Mapped[str] = mapped_column(String(20), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Role(enum.StrEnum):
    ADMIN = "admin"
    ORGANIZER = "organizer"  # acts on people and courses of a unit subtree
    UNIT_HEAD = "unit_head"  # nominates and approves people of a unit subtree


class RoleGrant(Base):
    """A role a person holds; organizers and unit heads are scoped to a unit and its subtree."""

    __tablename__ = "role_grants"
    __table_args__ = (UniqueConstraint("person_id", "role", "unit_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    role: Mapped[Role] = mapped_column(_enum(Role))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))  # None: everywhere
    granted_by: Mapped[str] = mapped_column(String(120), default="")
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEntry(Base):
    """Who did what to what, when, and how it ended: every organizer action leaves one."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_at", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    # The acting person, or None for the command line (then `actor` says who ran it).
    actor_person_id: Mapped[int | None] = mapped_column(
        ForeignKey("people.id", ondelete="SET NULL")
    )
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(40))
    target: Mapped[str] = mapped_column(String(200), default="")
    result: Mapped[str] = mapped_column(String(20))  # ok | refused | failed
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class BroadcastStatus(enum.StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    DONE = "done"
    CANCELLED = "cancelled"


class Broadcast(Base):
    """A message an organizer sends to an audience; one delivery row per recipient."""

    __tablename__ = "broadcasts"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text)  # Telegram HTML
    media_kind: Mapped[str | None] = mapped_column(String(10))  # photo | document
    media_file_id: Mapped[str | None] = mapped_column(String(200))
    # How the audience was chosen, to show in reports: {"units": [...], "positions": [...], ...}
    audience: Mapped[dict[str, Any]] = mapped_column(default=dict)
    ask_ack: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[BroadcastStatus] = mapped_column(
        _enum(BroadcastStatus), default=BroadcastStatus.DRAFT
    )
    send_at: Mapped[datetime | None]
    total: Mapped[int] = mapped_column(Integer, default=0)
    # Where the organizer watches progress: their chat and the message edited every few seconds.
    report_chat_id: Mapped[str | None] = mapped_column(String(64))
    progress_message_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]


class DeliveryState(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    BLOCKED = "blocked"  # the person blocked the bot
    NOT_LINKED = "not_linked"  # no chat account to reach them
    FAILED = "failed"
    CANCELLED = "cancelled"


class BroadcastDelivery(Base):
    """One recipient of a broadcast: claimed, sent and marked like a notification."""

    __tablename__ = "broadcast_deliveries"
    __table_args__ = (
        UniqueConstraint("broadcast_id", "person_id"),
        Index("ix_broadcast_deliveries_state", "broadcast_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    broadcast_id: Mapped[int] = mapped_column(ForeignKey("broadcasts.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    state: Mapped[DeliveryState] = mapped_column(
        _enum(DeliveryState), default=DeliveryState.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_until: Mapped[datetime | None]
    due_at: Mapped[datetime | None]  # set after a RetryAfter or a network error
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_message_id: Mapped[int | None] = mapped_column(BigInteger)
    sent_at: Mapped[datetime | None]
    channel: Mapped[str | None] = mapped_column(String(20))  # where it was delivered
    acked_at: Mapped[datetime | None]


class Attendance(Base):
    """Whether a participant was at one session of a course (sessions numbered from 0 in
    time order; a course without sessions is one session spanning its dates)."""

    __tablename__ = "attendance"
    __table_args__ = (UniqueConstraint("registration_id", "session_no"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(
        ForeignKey("registrations.id", ondelete="CASCADE")
    )
    session_no: Mapped[int] = mapped_column(Integer)
    present: Mapped[bool] = mapped_column(Boolean)
    source: Mapped[str] = mapped_column(String(20))  # organizer | checkin | upload
    marked_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    marked_at: Mapped[datetime] = mapped_column(default=utcnow)


class CheckinCode(Base):
    """A one-time session code an organizer shows; participants send /checkin CODE."""

    __tablename__ = "checkin_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    session_no: Mapped[int] = mapped_column(Integer)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    valid_from: Mapped[datetime]
    valid_until: Mapped[datetime]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))


class ClaimState(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class Claim(Base):
    """A person's report of a record mistake, or a claim of a qualification or outside
    training, with evidence, reviewed by an organizer of their unit."""

    __tablename__ = "claims"
    __table_args__ = (Index("ix_claims_state", "state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # correction | qualification | training
    # What is claimed: {"kind": ..., "level": ..., "field": ...} or {"title", "hours", ...}
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    note: Mapped[str] = mapped_column(Text, default="")
    evidence_file_id: Mapped[str | None] = mapped_column(String(200))
    evidence_kind: Mapped[str | None] = mapped_column(String(10))  # photo|document|zalo_photo
    state: Mapped[ClaimState] = mapped_column(_enum(ClaimState), default=ClaimState.PENDING)
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    reviewed_at: Mapped[datetime | None]
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ClaimFile(Base):
    """The evidence of a claim as bytes, where no Telegram file id exists (a photo sent on
    Zalo). Its own table, so listing claims never loads the bytes."""

    __tablename__ = "claim_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id", ondelete="CASCADE"), unique=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    filename: Mapped[str] = mapped_column(String(200))
    mime: Mapped[str] = mapped_column(String(100))


class TrainingPlan(Base):
    """A yearly plan figure a report compares against (participations, for a unit subtree)."""

    __tablename__ = "training_plans"
    __table_args__ = (
        UniqueConstraint("year", "unit_id", "category"),
        # The total (category NULL) once per unit and year: NULLs never collide in the key
        # above, on SQLite or PostgreSQL.
        Index("uq_training_plans_total", "year", "unit_id", unique=True,
              sqlite_where=text("category IS NULL"), postgresql_where=text("category IS NULL")),
    )  # fmt: skip

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int] = mapped_column(Integer)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    # A training category (COURSE_CATEGORY); None: the unit's total for the year.
    category: Mapped[str | None] = mapped_column(String(30))
    participants: Mapped[int] = mapped_column(Integer)
    courses: Mapped[int | None] = mapped_column(Integer)


class ProcessedUpdate(Base):
    """An incoming update already taken by some worker: claimed by inserting this row before it
    is handled, so a redelivery (or a second worker given the same update) finds it and drops
    it. Rows are pruned after a day; Telegram redelivers for a few hours at most."""

    __tablename__ = "processed_updates"
    __table_args__ = (Index("ix_processed_updates_received_at", "received_at"),)

    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    # Telegram: "<bot id>:<update_id>", so a new token's fresh numbering never collides.
    update_key: Mapped[str] = mapped_column(String(100), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
