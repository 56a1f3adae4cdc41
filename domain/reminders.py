"""Reminders as rows: which notices a person is owed and when, kept in step with the data.

Nothing here sends or words a message. A row holds the kind and its parameters; a channel
renders it at send time in the recipient's language from current data, after `prepare` has
checked that it still makes sense (a reminder for a course already started is skipped).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.standards import RuleStatus, State, status_of
from storage.models import (
    Course,
    CourseStatus,
    Notification,
    NotificationState,
    Person,
    Registration,
    RegistrationStatus,
    ReminderOptOut,
    Secondment,
    StandardRule,
    Unit,
)
from storage.repos.notifications import NotificationRepo
from storage.repos.people import PeopleRepo

COURSE_START = "course_start"
COURSE_CHANGED = "course_changed"
COURSE_CANCELLED = "course_cancelled"
PROMOTED = "waitlist_promoted"
REGISTRATION_DEADLINE = "registration_deadline"
STANDARD_DEADLINE = "standard_deadline"
HOURS_BEHIND = "hours_behind"
REVIEW_MEETING = "review_meeting"
# Nomination and approval (domain/nominations.py): each needs an answer, none can be turned off.
NOMINATED = "nominated"  # to the nominee: confirm or decline
NOMINATION_EXPIRED = "nomination_expired"  # to the nominee: the held seat was let go
NOMINATION_ANSWER = "nomination_answer"  # to the nominator: declined (with why) or expired
APPROVAL_REQUEST = "approval_request"  # to each approver: approve or decline
APPROVAL_RESULT = "approval_result"  # to the person: approved, declined or expired
# Attendance and claims (domain/attendance.py, domain/claims.py): mandatory results.
COURSE_COMPLETED = "course_completed"  # to the person: the training is on their record
CLAIM_RESULT = "claim_result"  # to the person: their claim approved or rejected (with why)


class Kind(NamedTuple):
    # The category a person can turn off; None for mandatory notices.
    category: str | None


KINDS: dict[str, Kind] = {
    COURSE_START: Kind("course"),
    REGISTRATION_DEADLINE: Kind("deadline"),
    STANDARD_DEADLINE: Kind("standard"),
    HOURS_BEHIND: Kind("hours"),
    REVIEW_MEETING: Kind("review"),
    PROMOTED: Kind(None),
    COURSE_CHANGED: Kind(None),
    COURSE_CANCELLED: Kind(None),
    NOMINATED: Kind(None),
    NOMINATION_EXPIRED: Kind(None),
    NOMINATION_ANSWER: Kind(None),
    APPROVAL_REQUEST: Kind(None),
    APPROVAL_RESULT: Kind(None),
    COURSE_COMPLETED: Kind(None),
    CLAIM_RESULT: Kind(None),
}
CATEGORIES = ("course", "deadline", "standard", "hours", "review")
# A change to a course this close to its start is worth waking someone for.
URGENT_WITHIN = timedelta(hours=36)
# Everyone with a place, a queue number or a held seat: told of changes, not of deadlines.
ACTIVE = (
    RegistrationStatus.REGISTERED,
    RegistrationStatus.WAITLISTED,
    RegistrationStatus.NOMINATED,
    RegistrationStatus.PENDING_APPROVAL,
)


@dataclass(frozen=True)
class Window:
    """A daily window of local time; `start > end` means it crosses midnight."""

    start: time
    end: time

    def contains(self, moment: time) -> bool:
        if self.start <= self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end


@dataclass(frozen=True)
class Policy:
    """When reminders fall: built from settings by the entry point, passed down (the zone too:
    settings.reminder_policy())."""

    tz: ZoneInfo
    course_offsets: tuple[tuple[int, time], ...] = ((3, time(8)), (1, time(16)))
    quiet: Window = Window(time(21), time(7))
    grace_days: tuple[int, ...] = (180, 90, 30)
    deadline_days: int = 3
    review_days: int = 7
    hours_day: tuple[int, int] = (1, 10)  # (day, month): once a year, in the fourth quarter
    morning: time = time(8)
    # A self-registration waiting for approval is let go this long before registration closes.
    approval_margin: timedelta = timedelta(hours=24)


# -- parsing the settings ---------------------------------------------------------------------

_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def _clock(text: str) -> time:
    match = _CLOCK.match(text.strip())
    if match is None:
        raise ValueError(f"'{text}' is not a time like 08:00")
    return time(int(match[1]), int(match[2]))


def parse_offsets(text: str) -> tuple[tuple[int, time], ...]:
    """'3@08:00,1@16:00' → ((3, 08:00), (1, 16:00)): days before the start, local time."""
    result = []
    for piece in filter(None, (p.strip() for p in text.split(","))):
        days, sep, clock = piece.partition("@")
        if not sep or not days.strip().isdigit():
            raise ValueError(f"'{piece}' is not like 3@08:00 (days before @ local time)")
        result.append((int(days), _clock(clock)))
    return tuple(result)


def parse_window(text: str) -> Window:
    start, sep, end = text.partition("-")
    if not sep:
        raise ValueError(f"'{text}' is not like 21:00-07:00")
    return Window(_clock(start), _clock(end))


def parse_days(text: str) -> tuple[int, ...]:
    pieces = [p.strip() for p in text.split(",") if p.strip()]
    if not all(p.isdigit() for p in pieces):
        raise ValueError(f"'{text}' is not a list of days like 180,90,30")
    return tuple(sorted({int(p) for p in pieces}, reverse=True))


def parse_day_month(text: str) -> tuple[int, int]:
    day, sep, month = text.partition("/")
    if not sep or not day.isdigit() or not month.isdigit():
        raise ValueError(f"'{text}' is not a day like 01/10")
    date(2024, int(month), int(day))  # a leap year accepts every real day; raises otherwise
    return int(day), int(month)


# -- time -------------------------------------------------------------------------------------


def at_local(day: date, clock: time, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, clock, tzinfo=tz).astimezone(UTC)


def in_quiet_hours(moment: datetime, policy: Policy) -> bool:
    return policy.quiet.contains(moment.astimezone(policy.tz).time())


def out_of_quiet_hours(moment: datetime, policy: Policy) -> datetime:
    """The moment itself, or the end of the quiet hours it falls in."""
    local = moment.astimezone(policy.tz)
    if not policy.quiet.contains(local.time()):
        return moment
    end = datetime.combine(local.date(), policy.quiet.end, tzinfo=policy.tz)
    if end <= local:
        end += timedelta(days=1)
    return end.astimezone(UTC)


def add_months(day: date, months: int) -> date:
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


# -- keeping rows in step with registrations and courses --------------------------------------


def _note(
    *,
    key: str,
    person_id: int,
    kind: str,
    due_at: datetime,
    course_id: int | None = None,
    params: dict[str, object] | None = None,
    urgent: bool = False,
) -> Notification:
    return Notification(
        dedupe_key=key[:120],
        person_id=person_id,
        kind=kind,
        course_id=course_id,
        params=params or {},
        due_at=due_at,
        urgent=urgent,
    )


async def _add(session: AsyncSession, **fields: Any) -> bool:
    return await NotificationRepo(session).add_once(_note(**fields))


async def notify_now(
    session: AsyncSession,
    *,
    key: str,
    person_id: int,
    kind: str,
    now: datetime,
    course_id: int | None = None,
    params: dict[str, object] | None = None,
) -> bool:
    """A mandatory notice due at once (outside quiet hours); False when `key` exists."""
    return await _add(
        session,
        key=key,
        person_id=person_id,
        kind=kind,
        due_at=now,
        course_id=course_id,
        params=params,
    )


async def schedule_course(
    session: AsyncSession, *, reg: Registration, course: Course, policy: Policy, now: datetime
) -> int:
    """The start reminders of a registered person; ones already past are not created."""
    local_start = course.starts_at.astimezone(policy.tz).date()
    stamp = int(course.starts_at.timestamp())
    added = 0
    for days, clock in policy.course_offsets:
        due = out_of_quiet_hours(
            at_local(local_start - timedelta(days=days), clock, policy.tz), policy
        )
        if due <= now or due >= course.starts_at:
            continue
        added += await _add(
            session,
            key=f"{COURSE_START}:{reg.id}:{stamp}:{days}",
            person_id=reg.person_id,
            kind=COURSE_START,
            course_id=course.id,
            due_at=due,
            params={"days": days},
        )
    return added


async def unschedule_course(session: AsyncSession, *, person_id: int, course_id: int) -> int:
    return await NotificationRepo(session).drop_pending(
        person_id=person_id, course_id=course_id, kinds=(COURSE_START,)
    )


def _urgent(course: Course, now: datetime) -> bool:
    return course.starts_at - now <= URGENT_WITHIN


# Why a person was registered without pressing anything (PROMOTED's params["why"]).
SEAT_FREED = "seat_freed"
APPROVAL_DROPPED = "approval_dropped"  # the course no longer needs the unit head's approval


async def notify_promoted(
    session: AsyncSession,
    *,
    reg: Registration,
    course: Course,
    policy: Policy,
    now: datetime,
    why: str = SEAT_FREED,
) -> None:
    """Tell the promoted person at once (at night only if the course is close) and plan."""
    await _add(
        session,
        key=f"{PROMOTED}:{reg.id}:{reg.queue_seq}",
        person_id=reg.person_id,
        kind=PROMOTED,
        course_id=course.id,
        due_at=now,
        urgent=_urgent(course, now),
        params={"why": why} if why != SEAT_FREED else None,
    )
    await schedule_course(session, reg=reg, course=course, policy=policy, now=now)


async def course_changed(
    session: AsyncSession,
    *,
    course: Course,
    policy: Policy,
    now: datetime,
    before: dict[str, str | None] | None = None,
) -> int:
    """Tell everyone registered or waitlisted that the course changed or was cancelled.

    Their pending start reminders are replaced (or dropped, for a cancellation). `before`
    holds the old start (ISO) and place, so the notice can say what changed.
    """
    cancelled = course.status == CourseStatus.CANCELLED
    kind = COURSE_CANCELLED if cancelled else COURSE_CHANGED
    regs = (
        await session.execute(
            select(Registration).where(
                Registration.course_id == course.id, Registration.status.in_(ACTIVE)
            )
        )
    ).scalars()
    told = 0
    for reg in regs:
        await unschedule_course(session, person_id=reg.person_id, course_id=course.id)
        told += await _add(
            session,
            # A course is cancelled once: its notice's key says so, and the unique key keeps
            # it to one row per person whatever happens above. Changes may come many times.
            key=f"{kind}:{course.id}:{reg.person_id}"
            + ("" if cancelled else f":{int(now.timestamp() * 1000)}"),
            person_id=reg.person_id,
            kind=kind,
            course_id=course.id,
            due_at=now,
            params=dict(before or {}),
            urgent=_urgent(course, now),
        )
        if not cancelled and reg.status == RegistrationStatus.REGISTERED:
            await schedule_course(session, reg=reg, course=course, policy=policy, now=now)
    return told


# -- user preferences -------------------------------------------------------------------------


async def opted_out(session: AsyncSession, person_id: int) -> set[str]:
    stmt = select(ReminderOptOut.category).where(ReminderOptOut.person_id == person_id)
    return set((await session.execute(stmt)).scalars())


async def set_category(session: AsyncSession, *, person_id: int, category: str, on: bool) -> None:
    """Turn a category of reminders on or off for a person; unknown categories are refused."""
    if category not in CATEGORIES:
        raise ValueError(category)
    exists = await session.get(ReminderOptOut, (person_id, category))
    if on and exists is not None:
        await session.delete(exists)
    elif not on and exists is None:
        session.add(ReminderOptOut(person_id=person_id, category=category))
    await session.flush()


# -- review meetings (planned by domain/planner.py) -------------------------------------------


def next_review(sec: Secondment, today: date) -> date | None:
    """The next review meeting on or after `today`: the recorded date, or every N months
    from the start; None when the secondment ends first."""
    review = sec.next_review_on
    if review is None or review < today:
        base = sec.last_review_on or sec.starts_on
        n = 1
        while add_months(base, n * sec.review_every_months) < today:
            n += 1
        review = add_months(base, n * sec.review_every_months)
    if sec.ends_on is not None and review > sec.ends_on:
        return None
    return review


# -- at send time: does the row still make sense, and with what data --------------------------


@dataclass(frozen=True)
class Ready:
    """What a channel needs to word a due notification."""

    note: Notification
    course: Course | None = None
    rule: StandardRule | None = None
    deadline: date | None = None
    hours_done: int | None = None
    hours_target: int | None = None
    review_on: date | None = None
    unit_name: str | None = None
    # Nomination and approval: the registration, the other person involved (nominator,
    # applicant or nominee) and, for an approval request, the applicant's gaps.
    registration: Registration | None = None
    subject: str | None = None
    gaps: tuple[RuleStatus, ...] = ()
    secondment_kind: str | None = None  # a review meeting: "secondment" or "rotation"


@dataclass(frozen=True)
class Skip:
    reason: str


async def prepare(
    session: AsyncSession, note: Notification, *, now: datetime, policy: Policy, hours_target: int
) -> Ready | Skip:
    """Check a due row against current data; Skip says why it no longer makes sense."""
    kind = KINDS.get(note.kind)
    if kind is None:
        return Skip(f"unknown kind {note.kind}")
    if kind.category is not None and kind.category in await opted_out(session, note.person_id):
        return Skip("turned off by the person")
    course = await session.get(Course, note.course_id) if note.course_id else None
    if note.kind in (COURSE_START, PROMOTED, COURSE_CHANGED, REGISTRATION_DEADLINE):
        if course is None or course.starts_at <= now:
            return Skip("the course has already started")
    if note.kind in (COURSE_START, PROMOTED):
        reg = await _registration(session, note.person_id, course)
        if reg is None or reg.status != RegistrationStatus.REGISTERED:
            return Skip("no longer registered")
        if course is None or course.status not in (CourseStatus.OPEN, CourseStatus.CLOSED):
            return Skip("the course is not running")
    if note.kind == COURSE_START and await _superseded(session, note, now):
        return Skip("a later reminder of the same course is also due")
    if note.kind == COURSE_CANCELLED and course is None:
        return Skip("the course was deleted")
    if note.kind == REGISTRATION_DEADLINE:
        assert course is not None
        if course.status != CourseStatus.OPEN or course.registration_deadline <= now:
            return Skip("registration has closed")
        reg = await _registration(session, note.person_id, course)
        if reg is not None and reg.status in ACTIVE:
            return Skip("already registered")
    if note.kind in (STANDARD_DEADLINE, HOURS_BEHIND, REGISTRATION_DEADLINE):
        return await _standard_still_missing(session, note, course, now, policy, hours_target)
    if note.kind == REVIEW_MEETING:
        return await _review(session, note, now, policy)
    if note.kind in (NOMINATED, APPROVAL_REQUEST, NOMINATION_ANSWER):
        return await _nomination(session, note, course, now, policy, hours_target)
    if note.kind in (NOMINATION_EXPIRED, APPROVAL_RESULT) and course is None:
        return Skip("the course was deleted")
    return Ready(note, course=course)


async def _superseded(session: AsyncSession, note: Notification, now: datetime) -> bool:
    """After downtime, several start reminders of one course may be due: send only the last."""
    stmt = select(Notification.id).where(
        Notification.person_id == note.person_id,
        Notification.course_id == note.course_id,
        Notification.kind == COURSE_START,
        Notification.id != note.id,
        Notification.due_at > note.due_at,
        Notification.due_at <= now,
        Notification.state.in_((NotificationState.PENDING, NotificationState.SENDING)),
    )
    return (await session.execute(stmt.limit(1))).first() is not None


async def _registration(
    session: AsyncSession, person_id: int, course: Course | None
) -> Registration | None:
    if course is None:
        return None
    stmt = select(Registration).where(
        Registration.course_id == course.id, Registration.person_id == person_id
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def _standard_still_missing(
    session: AsyncSession,
    note: Notification,
    course: Course | None,
    now: datetime,
    policy: Policy,
    hours_target: int,
) -> Ready | Skip:
    rule_id = note.params.get("rule_id")
    statuses = await status_of(
        session,
        person_id=note.person_id,
        now=now,
        today=now.astimezone(policy.tz).date(),
        hours_target=hours_target,
    )
    status = next((s for s in statuses if s.rule.id == rule_id), None)
    if status is None or status.state not in (State.MISSING, State.OVERDUE):
        return Skip("the standard is met, in progress or no longer applies")
    if note.kind == STANDARD_DEADLINE and status.state == State.OVERDUE:
        return Skip("the grace deadline has passed")
    if note.kind == HOURS_BEHIND and note.params.get("year") != now.astimezone(policy.tz).year:
        return Skip("the year is over")
    return Ready(
        note,
        course=course,
        rule=status.rule,
        deadline=status.deadline,
        hours_done=status.hours_done,
        hours_target=status.hours_target,
    )


async def _nomination(
    session: AsyncSession,
    note: Notification,
    course: Course | None,
    now: datetime,
    policy: Policy,
    hours_target: int,
) -> Ready | Skip:
    """A nomination or approval request still waiting for its answer, with who is involved."""
    if course is None or course.starts_at <= now:
        return Skip("the course has already started")
    if note.kind == NOMINATION_ANSWER:
        nominee = await session.get(Person, note.params.get("nominee_id"))
        return Ready(note, course=course, subject=nominee.full_name if nominee else None)
    reg = (
        await _registration(session, note.person_id, course)
        if note.kind == NOMINATED
        else await session.get(Registration, note.params.get("reg_id"))
    )
    waiting = (
        RegistrationStatus.NOMINATED
        if note.kind == NOMINATED
        else (RegistrationStatus.PENDING_APPROVAL)
    )
    if reg is None or reg.status != waiting or reg.hold_until is None or reg.hold_until <= now:
        return Skip("already answered or expired")
    if course.status not in (CourseStatus.OPEN, CourseStatus.CLOSED):
        return Skip("the course is not running")
    if note.kind == NOMINATED:
        nominator = await session.get(Person, reg.nominated_by_id) if reg.nominated_by_id else None
        return Ready(
            note,
            course=course,
            registration=reg,
            subject=nominator.full_name if nominator else None,
        )
    applicant = await PeopleRepo(session).get(reg.person_id)  # with its position, for status_of
    unit = await session.get(Unit, applicant.unit_id) if applicant else None
    statuses = await status_of(
        session,
        person_id=reg.person_id,
        now=now,
        today=now.astimezone(policy.tz).date(),
        hours_target=hours_target,
        max_courses=1,
    )
    return Ready(
        note,
        course=course,
        registration=reg,
        subject=applicant.full_name if applicant else None,
        unit_name=unit.name if unit else None,
        gaps=tuple(s for s in statuses if s.state in (State.MISSING, State.OVERDUE)),
    )


async def _review(
    session: AsyncSession, note: Notification, now: datetime, policy: Policy
) -> Ready | Skip:
    sec = await session.get(Secondment, note.params.get("secondment_id"))
    review_on = date.fromisoformat(str(note.params.get("review_on")))
    if sec is None or review_on < now.astimezone(policy.tz).date():
        return Skip("the review date has passed")
    if sec.ends_on is not None and sec.ends_on < review_on:
        return Skip("the secondment ends before the review")
    if next_review(sec, now.astimezone(policy.tz).date()) != review_on:
        return Skip("the review was moved")  # a recorded meeting set another date
    unit = await session.get(Unit, sec.to_unit_id)
    subject = None
    if note.params.get("as"):
        person = await session.get(Person, sec.person_id)
        subject = person.full_name if person else None
    return Ready(note, review_on=review_on, unit_name=unit.name if unit else None,
                 subject=subject, secondment_kind=sec.kind)  # fmt: skip


async def skip_pending(session: AsyncSession, *, person_ids: Sequence[int], reason: str) -> int:
    """Mark every pending row of these people skipped (e.g. they blocked the bot)."""
    rows = (
        await session.execute(
            select(Notification).where(
                Notification.person_id.in_(person_ids),
                Notification.state == NotificationState.PENDING,
            )
        )
    ).scalars()
    n = 0
    for row in rows:
        row.state, row.last_error, n = NotificationState.SKIPPED, reason, n + 1
    await session.flush()
    return n
