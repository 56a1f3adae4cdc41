"""Registering for a course, cancelling, and advancing the waitlist.

Every function runs inside the caller's transaction and starts by locking the course row, so
seats are counted and taken atomically: on PostgreSQL with SELECT ... FOR UPDATE, on SQLite
because every transaction begins IMMEDIATE (one writer at a time).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from domain.approvers import approval_hold, ask_approval
from domain.audience import in_audience
from domain.errors import DomainError, Refusal
from domain.reminders import (
    Policy,
    course_changed,
    notify_promoted,
    schedule_course,
    unschedule_course,
)
from storage.models import (
    Course,
    CourseStatus,
    Person,
    Registration,
    RegistrationStatus,
)
from storage.repos.courses import CourseRepo, RegistrationRepo
from storage.repos.people import PeopleRepo


class Outcome(enum.StrEnum):
    REGISTERED = "registered"
    WAITLISTED = "waitlisted"
    PENDING_APPROVAL = "pending_approval"  # a seat is held until the unit head decides
    NOMINATED = "nominated"  # the person's unit already holds a seat: confirm or decline


# A registration in one of these is left alone by another press of Register.
WAITING = (
    RegistrationStatus.REGISTERED,
    RegistrationStatus.WAITLISTED,
    RegistrationStatus.PENDING_APPROVAL,
    RegistrationStatus.NOMINATED,
)


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
    already: bool = False  # cancelled before (a double tap): nothing changed


def intervals(course: Course) -> list[tuple[datetime, datetime]]:
    """The times a course occupies: its sessions, or its whole span when it has none."""
    if course.sessions:
        return [(s.starts_at, s.ends_at) for s in course.sessions]
    return [(course.starts_at, course.ends_at)]


def clashes(a: Course, b: Course) -> bool:
    return any(s1 < e2 and s2 < e1 for s1, e1 in intervals(a) for s2, e2 in intervals(b))


async def audience_check(session: AsyncSession, course: Course, person: Person) -> bool:
    chain = await PeopleRepo(session).unit_chain(person.unit_id)
    return in_audience(course, person, [u.code for u in chain])


async def register(
    session: AsyncSession,
    *,
    person_id: int,
    course_id: int,
    now: datetime,
    policy: Policy,
) -> RegistrationResult:
    """Register, or waitlist when full. Pressing twice changes nothing the second time.

    A registered person's start reminders are planned in the same transaction. For a course
    that requires approval a free seat is held (PENDING_APPROVAL) and the unit head is asked.
    """
    courses, regs = CourseRepo(session), RegistrationRepo(session)
    course = await courses.lock(course_id)
    if course is None:
        raise DomainError(Refusal.NOT_FOUND)
    existing = await regs.get(course_id=course_id, person_id=person_id)
    if existing is not None and existing.status in WAITING:
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

    taken = await regs.held(course_id)
    if taken < course.capacity and await regs.first_waitlisted(course_id) is not None:
        # Seats added while people wait (a re-imported course with a larger capacity) go to
        # the queue first, not to whoever presses next.
        promoted = await promote_waitlist(
            session, course=course, now=now, policy=policy
        )
        taken += len(promoted)
    if taken >= course.capacity:
        status = RegistrationStatus.WAITLISTED
    elif course.requires_approval:
        status = RegistrationStatus.PENDING_APPROVAL
    else:
        status = RegistrationStatus.REGISTERED
    course.queue_seq += 1
    if existing is None:
        existing = Registration(
            course_id=course_id, person_id=person_id, status=status, queue_seq=course.queue_seq
        )
        regs.add(existing)
    else:  # coming back after a cancellation or a refusal: to the back of the queue
        existing.status = status
        existing.queue_seq = course.queue_seq
        existing.cancelled_at = None
        existing.created_at = now
        existing.nominated_by_id = existing.decided_by_id = None
        existing.decided_at = existing.hold_until = None
        existing.reason = None
    if status == RegistrationStatus.PENDING_APPROVAL:
        existing.hold_until = approval_hold(course, now, policy)
    await session.flush()
    if status == RegistrationStatus.REGISTERED:
        await schedule_course(session, reg=existing, course=course, policy=policy, now=now)
    elif status == RegistrationStatus.PENDING_APPROVAL:
        await ask_approval(session, reg=existing, course=course, now=now)
    return await _result(regs, existing, already=False)


async def cancel(
    session: AsyncSession,
    *,
    person_id: int,
    course_id: int,
    now: datetime,
    cutoff: timedelta,
    policy: Policy,
) -> CancelResult:
    """Cancel a registration, a request for approval, or leave the waitlist; a freed seat
    goes to the first in line. (A nomination is declined instead: domain/nominations.py.)"""
    courses, regs = CourseRepo(session), RegistrationRepo(session)
    course = await courses.lock(course_id)
    if course is None:
        raise DomainError(Refusal.NOT_FOUND)
    reg = await regs.get(course_id=course_id, person_id=person_id)
    if reg is not None and reg.status == RegistrationStatus.CANCELLED:
        return CancelResult(course_id=course_id, promoted_person_id=None, already=True)
    if reg is None or reg.status not in (
        RegistrationStatus.REGISTERED,
        RegistrationStatus.WAITLISTED,
        RegistrationStatus.PENDING_APPROVAL,
    ):
        raise DomainError(Refusal.NOT_REGISTERED)
    freed_seat = reg.status != RegistrationStatus.WAITLISTED
    if reg.status == RegistrationStatus.REGISTERED and now > course.starts_at - cutoff:
        raise DomainError(Refusal.TOO_LATE_TO_CANCEL, cutoff=course.starts_at - cutoff)
    reg.status = RegistrationStatus.CANCELLED
    reg.cancelled_at = now
    await session.flush()
    await unschedule_course(session, person_id=person_id, course_id=course_id)
    promoted = (
        await promote_waitlist(session, course=course, now=now, policy=policy)
        if freed_seat
        else []
    )
    return CancelResult(course_id=course_id, promoted_person_id=promoted[0] if promoted else None)


async def promote_waitlist(
    session: AsyncSession, *, course: Course, now: datetime, policy: Policy
) -> list[int]:
    """Fill free seats from the waitlist in arrival order; each promoted person is notified.
    On a course that requires approval the seat is held for them and their unit head asked.

    The caller must hold the course lock (register/cancel take it).
    """
    regs = RegistrationRepo(session)
    promoted: list[int] = []
    if course.status != CourseStatus.OPEN and course.status != CourseStatus.CLOSED:
        return promoted
    while await regs.held(course.id) < course.capacity:
        first = await regs.first_waitlisted(course.id)
        if first is None:
            break
        first.promoted_at = now
        promoted.append(first.person_id)
        if course.requires_approval:
            first.status = RegistrationStatus.PENDING_APPROVAL
            first.hold_until = approval_hold(course, now, policy)
            await session.flush()
            await ask_approval(session, reg=first, course=course, now=now)
            continue
        first.status = RegistrationStatus.REGISTERED
        await session.flush()
        await notify_promoted(session, reg=first, course=course, policy=policy, now=now)
    return promoted


async def _result(
    regs: RegistrationRepo, reg: Registration, *, already: bool
) -> RegistrationResult:
    if reg.status == RegistrationStatus.WAITLISTED:
        position = await regs.waitlist_position(reg)
        return RegistrationResult(Outcome.WAITLISTED, reg.course_id, already, position)
    return RegistrationResult(Outcome(reg.status.value), reg.course_id, already)


async def cancel_course(
    session: AsyncSession, *, course_id: int, now: datetime, policy: Policy
) -> int:
    """Cancel a course: everyone registered or waitlisted is told at once and their reminders
    are dropped. Returns how many people will be told; cancelling twice is refused."""
    course = await CourseRepo(session).lock(course_id)
    if course is None:
        raise DomainError(Refusal.NOT_FOUND)
    if course.status in (CourseStatus.CANCELLED, CourseStatus.FINISHED):
        raise DomainError(Refusal.CLOSED)
    course.status = CourseStatus.CANCELLED
    await session.flush()
    return await course_changed(session, course=course, policy=policy, now=now)
