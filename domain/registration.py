"""Registering for a course, cancelling, and advancing the waitlist.

Every function runs inside the caller's transaction and starts by locking the course row, so
seats are counted and taken atomically: on PostgreSQL with SELECT ... FOR UPDATE, on SQLite
because every transaction begins IMMEDIATE (one writer at a time).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from domain.errors import DomainError, Refusal
from storage.models import (
    Course,
    CourseStatus,
    Notification,
    Person,
    Registration,
    RegistrationStatus,
)
from storage.repos.courses import CourseRepo, RegistrationRepo
from storage.repos.notifications import NotificationRepo
from storage.repos.people import PeopleRepo

PROMOTED = "waitlist_promoted"


class Outcome(enum.StrEnum):
    REGISTERED = "registered"
    WAITLISTED = "waitlisted"


@dataclass(frozen=True)
class RegistrationResult:
    outcome: Outcome
    course_id: int
    already: bool  # the person was already registered/waitlisted; nothing changed
    waitlist_position: int | None = None


@dataclass(frozen=True)
class CancelResult:
    course_id: int
    promoted_person_id: int | None


def intervals(course: Course) -> list[tuple[datetime, datetime]]:
    """The times a course occupies: its sessions, or its whole span when it has none."""
    if course.sessions:
        return [(s.starts_at, s.ends_at) for s in course.sessions]
    return [(course.starts_at, course.ends_at)]


def clashes(a: Course, b: Course) -> bool:
    return any(s1 < e2 and s2 < e1 for s1, e1 in intervals(a) for s2, e2 in intervals(b))


def in_audience(course: Course, person: Person, unit_codes: Sequence[str]) -> bool:
    """Whether the person is among the course's target audience (an empty list means anyone)."""
    audience = course.audience or {}
    units = audience.get("units") or []
    if units and not set(units) & set(unit_codes):
        return False
    groups = audience.get("groups") or []
    positions = audience.get("positions") or []
    if not groups and not positions:
        return True
    position = person.position
    if position is None:
        return False
    return position.group in groups or position.code in positions


async def audience_check(session: AsyncSession, course: Course, person: Person) -> bool:
    chain = await PeopleRepo(session).unit_chain(person.unit_id)
    return in_audience(course, person, [u.code for u in chain])


async def register(
    session: AsyncSession, *, person_id: int, course_id: int, now: datetime
) -> RegistrationResult:
    """Register, or waitlist when full. Pressing twice changes nothing the second time."""
    courses, regs = CourseRepo(session), RegistrationRepo(session)
    course = await courses.lock(course_id)
    if course is None:
        raise DomainError(Refusal.NOT_FOUND)
    existing = await regs.get(course_id=course_id, person_id=person_id)
    if existing is not None and existing.status in (
        RegistrationStatus.REGISTERED,
        RegistrationStatus.WAITLISTED,
    ):
        return await _result(regs, existing, already=True)
    if course.status != CourseStatus.OPEN:
        raise DomainError(Refusal.CLOSED)
    if now >= course.registration_deadline:
        raise DomainError(Refusal.DEADLINE_PASSED, deadline=course.registration_deadline)
    person = await PeopleRepo(session).get(person_id)
    if person is None or not await audience_check(session, course, person):
        raise DomainError(Refusal.OUTSIDE_AUDIENCE)
    for _reg, other in await regs.of_person(person_id, [RegistrationStatus.REGISTERED]):
        if other.id != course.id and clashes(course, other):
            raise DomainError(Refusal.CLASH, course_id=other.id, title=other.title)

    taken = await regs.count(course_id, RegistrationStatus.REGISTERED)
    status = (
        RegistrationStatus.REGISTERED if taken < course.capacity else RegistrationStatus.WAITLISTED
    )
    course.queue_seq += 1
    if existing is None:
        existing = Registration(
            course_id=course_id, person_id=person_id, status=status, queue_seq=course.queue_seq
        )
        regs.add(existing)
    else:  # coming back after a cancellation: to the back of the queue
        existing.status = status
        existing.queue_seq = course.queue_seq
        existing.cancelled_at = None
        existing.created_at = now
    await session.flush()
    return await _result(regs, existing, already=False)


async def cancel(
    session: AsyncSession,
    *,
    person_id: int,
    course_id: int,
    now: datetime,
    cutoff: timedelta,
) -> CancelResult:
    """Cancel a registration or leave the waitlist; a freed seat goes to the first in line."""
    courses, regs = CourseRepo(session), RegistrationRepo(session)
    course = await courses.lock(course_id)
    if course is None:
        raise DomainError(Refusal.NOT_FOUND)
    reg = await regs.get(course_id=course_id, person_id=person_id)
    if reg is None or reg.status not in (
        RegistrationStatus.REGISTERED,
        RegistrationStatus.WAITLISTED,
    ):
        raise DomainError(Refusal.NOT_REGISTERED)
    freed_seat = reg.status == RegistrationStatus.REGISTERED
    if freed_seat and now > course.starts_at - cutoff:
        raise DomainError(Refusal.TOO_LATE_TO_CANCEL, cutoff=course.starts_at - cutoff)
    reg.status = RegistrationStatus.CANCELLED
    reg.cancelled_at = now
    await session.flush()
    promoted = await promote_waitlist(session, course=course, now=now) if freed_seat else []
    return CancelResult(course_id=course_id, promoted_person_id=promoted[0] if promoted else None)


async def promote_waitlist(session: AsyncSession, *, course: Course, now: datetime) -> list[int]:
    """Fill free seats from the waitlist in arrival order; each promoted person is notified.

    The caller must hold the course lock (register/cancel take it).
    """
    regs, notes = RegistrationRepo(session), NotificationRepo(session)
    promoted: list[int] = []
    if course.status != CourseStatus.OPEN and course.status != CourseStatus.CLOSED:
        return promoted
    while await regs.count(course.id, RegistrationStatus.REGISTERED) < course.capacity:
        first = await regs.first_waitlisted(course.id)
        if first is None:
            break
        first.status = RegistrationStatus.REGISTERED
        first.promoted_at = now
        await session.flush()
        promoted.append(first.person_id)
        await notes.add_once(
            Notification(
                dedupe_key=f"{PROMOTED}:{first.id}:{first.queue_seq}",
                person_id=first.person_id,
                kind=PROMOTED,
                course_id=course.id,
                params={},
                due_at=now,
            )
        )
    return promoted


async def _result(
    regs: RegistrationRepo, reg: Registration, *, already: bool
) -> RegistrationResult:
    if reg.status == RegistrationStatus.WAITLISTED:
        position = await regs.waitlist_position(reg)
        return RegistrationResult(Outcome.WAITLISTED, reg.course_id, already, position)
    return RegistrationResult(Outcome.REGISTERED, reg.course_id, already)
