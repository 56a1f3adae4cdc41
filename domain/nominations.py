"""Sending people to a course ("cử đi học") and approving self-registrations.

A unit head (or an organizer) picks, among the people of their units who miss what a course
grants, whom to nominate. Each nominee gets a seat held (NOMINATED) until `hold_until` and a
message to confirm or decline. A course with `requires_approval` holds a self-registration's
seat (PENDING_APPROVAL, see domain/registration.py) until the person's unit head approves or
declines it. Whatever is not answered in time expires, freeing the seat for the waitlist.

Every change runs under the course row lock, like registering, so held seats are counted
with registered ones and a seat is never given twice.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from domain import roles
from domain.audience import applies, in_audience
from domain.errors import DomainError, Refusal
from domain.registration import WAITING, clashes, promote_waitlist
from domain.reminders import (
    APPROVAL_RESULT,
    NOMINATED,
    NOMINATION_ANSWER,
    NOMINATION_EXPIRED,
    Policy,
    notify_now,
    schedule_course,
)
from domain.standards import IN_PROGRESS_STATUSES, REFRESHER, grants, holds
from storage.models import (
    Course,
    CourseStatus,
    Person,
    Qualification,
    Registration,
    RegistrationStatus,
    Role,
    StandardRule,
    TrainingRecord,
    Unit,
)
from storage.repos.courses import CourseRepo, RegistrationRepo
from storage.repos.people import PeopleRepo

# A nominee has this long to answer, unless the nominator picks otherwise or registration
# closes sooner.
DEFAULT_HOLD = timedelta(days=3)
HELD = (RegistrationStatus.NOMINATED, RegistrationStatus.PENDING_APPROVAL)
_SEATED = (RegistrationStatus.REGISTERED, *HELD)


@dataclass(frozen=True)
class Candidate:
    """Someone a unit head may send: in scope and audience, missing what the course gives."""

    person_id: int
    full_name: str
    unit_name: str
    gaps: tuple[StandardRule, ...]
    personal_id: str = ""
    unit_id: int = 0

    @property
    def hours_only(self) -> bool:
        """Only the yearly hours would improve: the course grants nothing they miss."""
        return all(rule.requires_kind == REFRESHER for rule in self.gaps)


@dataclass(frozen=True)
class Choice:
    """An open course a unit head may nominate people for."""

    course: Course
    candidates: int
    seats_left: int
    missing_standard: int = 0  # of the candidates, those who miss the standard it grants


@dataclass(frozen=True)
class Nominating:
    course: Course
    candidates: list[Candidate]
    seats_left: int


@dataclass(frozen=True)
class Nominated:
    course: Course
    nominated: list[int]
    hold_until: datetime
    not_eligible: int  # no longer a candidate (registered meanwhile, out of scope, ...)
    no_seat: int  # the course filled up


@dataclass(frozen=True)
class Answer:
    course: Course
    accepted: bool
    promoted: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Pending:
    """A request still waiting for its answer, for the prompt that asks why it is declined."""

    course: Course
    person_name: str


@dataclass(frozen=True)
class Decision:
    course: Course
    person_name: str
    approved: bool
    promoted: list[int] = field(default_factory=list)


def hold_until(course: Course, now: datetime, hours: int | None = None) -> datetime:
    """Until when nominees' seats are held: `hours` from now (None: DEFAULT_HOLD; 0: until
    registration closes), never past the registration deadline."""
    if hours == 0:
        return course.registration_deadline
    span = DEFAULT_HOLD if hours is None else timedelta(hours=hours)
    return min(now + span, course.registration_deadline)


# -- who lacks what a course gives ------------------------------------------------------------


@dataclass
class _Population:
    """The people of a scope with what deciding their gaps needs, loaded in a few queries."""

    people: list[Person]
    codes: dict[int, list[str]]  # unit id → codes of the unit and its ancestors
    names: dict[int, str]  # unit id → name
    quals: dict[int, list[Qualification]]
    hours: dict[int, int]
    ongoing: dict[int, list[Course]]
    rules: list[StandardRule]


async def _population(
    session: AsyncSession, scope: roles.Scope, *, now: datetime, year: int
) -> _Population:
    units = list((await session.execute(select(Unit))).scalars())
    by_id = {u.id: u for u in units}
    codes: dict[int, list[str]] = {}
    for unit in units:
        chain: list[str] = []
        current: Unit | None = unit
        while current is not None and len(chain) < 12:
            chain.append(current.code)
            current = by_id.get(current.parent_id) if current.parent_id else None
        codes[unit.id] = chain
    where = [Person.active.is_(True)]
    if not scope.everywhere:
        where.append(Person.unit_id.in_(scope.unit_ids))
    ids = select(Person.id).where(*where)
    people = list(
        (
            await session.execute(select(Person).where(*where).options(joinedload(Person.position)))
        ).scalars()
    )
    quals: dict[int, list[Qualification]] = defaultdict(list)
    for q in (
        await session.execute(select(Qualification).where(Qualification.person_id.in_(ids)))
    ).scalars():
        quals[q.person_id].append(q)
    hours_stmt = (
        select(TrainingRecord.person_id, func.coalesce(func.sum(TrainingRecord.hours), 0))
        .where(
            TrainingRecord.person_id.in_(ids),
            TrainingRecord.ends_on >= date(year, 1, 1),
            TrainingRecord.ends_on <= date(year, 12, 31),
        )
        .group_by(TrainingRecord.person_id)
    )
    hours = {pid: int(n) for pid, n in await session.execute(hours_stmt)}
    ongoing: dict[int, list[Course]] = defaultdict(list)
    for pid, course in await session.execute(
        select(Registration.person_id, Course)
        .join(Course, Course.id == Registration.course_id)
        .where(
            Registration.person_id.in_(ids),
            Registration.status.in_(IN_PROGRESS_STATUSES),
            Course.ends_at >= now,
        )
    ):
        ongoing[pid].append(course)
    rules = list(
        (
            await session.execute(
                select(StandardRule).where(StandardRule.active.is_(True)).order_by(StandardRule.id)
            )
        ).scalars()
    )
    names = {u.id: u.name for u in units}
    return _Population(people, codes, names, quals, hours, ongoing, rules)


def _gaps(
    pop: _Population, person: Person, course: Course, year: int, hours_target: int
) -> tuple[StandardRule, ...]:
    """The person's unmet standards that the course would meet, as domain.standards.status_of
    judges them (a standard a course already under way will meet is no gap)."""
    codes = pop.codes.get(person.unit_id, [])
    ongoing = pop.ongoing.get(person.id, [])
    gaps = []
    for rule in pop.rules:
        if not grants(rule, course) or not applies(rule, person, codes):
            continue
        if rule.requires_kind == REFRESHER:
            target = rule.requires_hours if rule.requires_hours is not None else hours_target
            done = pop.hours.get(person.id, 0)
            planned = done + sum(c.hours for c in ongoing if c.ends_at.year == year)
            unmet = done < target and planned < target
        else:
            unmet = not holds(rule, pop.quals.get(person.id, [])) and not any(
                grants(rule, c) for c in ongoing
            )
        if unmet:
            gaps.append(rule)
    return tuple(gaps)


async def _taken(session: AsyncSession, course_id: int) -> set[int]:
    stmt = select(Registration.person_id).where(
        Registration.course_id == course_id,
        Registration.status.in_(
            (*WAITING, RegistrationStatus.ATTENDED, RegistrationStatus.COMPLETED)
        ),
    )
    return set((await session.execute(stmt)).scalars())


def _candidates(
    pop: _Population,
    course: Course,
    *,
    taken: set[int],
    actor_id: int,
    year: int,
    hours_target: int,
) -> list[Candidate]:
    found = []
    for person in pop.people:
        if person.id in taken or person.id == actor_id:
            continue
        if not in_audience(course, person, pop.codes.get(person.unit_id, [])):
            continue
        gaps = _gaps(pop, person, course, year, hours_target)
        if gaps:
            found.append(
                Candidate(
                    person.id,
                    person.full_name,
                    pop.names.get(person.unit_id, ""),
                    gaps,
                    person.personal_id,
                    person.unit_id,
                )
            )
    # People missing the standard the course grants come first; those it would only help
    # towards the yearly hours (nearly everyone, most of the year) last.
    return sorted(found, key=lambda c: (c.hours_only, c.unit_name, c.full_name, c.person_id))


def _open(course: Course | None, now: datetime) -> Course:
    if course is None:
        raise DomainError(Refusal.NOT_FOUND)
    if course.status != CourseStatus.OPEN:
        raise DomainError(Refusal.CLOSED)
    if now >= course.registration_deadline:
        raise DomainError(Refusal.DEADLINE_PASSED, deadline=course.registration_deadline)
    return course


async def courses_to_nominate(
    session: AsyncSession, *, actor_id: int | None, now: datetime, hours_target: int
) -> list[Choice]:
    """Open courses with at least one person in the actor's units who misses what it gives."""
    scope = await roles.require(session, person_id=actor_id, role=Role.UNIT_HEAD)
    year = now.year
    pop = await _population(session, scope, now=now, year=year)
    courses = await CourseRepo(session).open_courses(now=now)
    counts = await RegistrationRepo(session).counts([c.id for c in courses])
    choices = []
    for course in courses:
        if not course.grants_kind and not course.hours:
            continue
        found = _candidates(
            pop,
            course,
            taken=await _taken(session, course.id),
            actor_id=scope.person_id,
            year=year,
            hours_target=hours_target,
        )
        held = sum(counts.get((course.id, s.value), 0) for s in _SEATED)
        if found:
            standard = sum(1 for c in found if not c.hours_only)
            choices.append(Choice(course, len(found), max(course.capacity - held, 0), standard))
    return choices


async def nominating(
    session: AsyncSession, *, actor_id: int | None, course_id: int, now: datetime, hours_target: int
) -> Nominating:
    """The people the actor may nominate for the course, unit by unit, with their gaps."""
    scope = await roles.require(session, person_id=actor_id, role=Role.UNIT_HEAD)
    course = _open(await CourseRepo(session).get(course_id), now)
    pop = await _population(session, scope, now=now, year=now.year)
    found = _candidates(
        pop,
        course,
        taken=await _taken(session, course.id),
        actor_id=scope.person_id,
        year=now.year,
        hours_target=hours_target,
    )
    held = await RegistrationRepo(session).held(course.id)
    return Nominating(course, found, max(course.capacity - held, 0))


# -- nominating and answering -----------------------------------------------------------------


async def nominate(
    session: AsyncSession,
    *,
    actor_id: int | None,
    course_id: int,
    person_ids: Sequence[int],
    hold_hours: int | None,
    now: datetime,
    hours_target: int,
) -> Nominated:
    """Hold a seat for each chosen person still a candidate, while seats last, and ask them.

    Everything is checked again here: the actor's scope, the course, and each person.
    """
    scope = await roles.require(session, person_id=actor_id, role=Role.UNIT_HEAD)
    course = _open(await CourseRepo(session).lock(course_id), now)
    until = hold_until(course, now, hold_hours)
    pop = await _population(session, scope, now=now, year=now.year)
    eligible = {
        c.person_id: c
        for c in _candidates(
            pop,
            course,
            taken=await _taken(session, course.id),
            actor_id=scope.person_id,
            year=now.year,
            hours_target=hours_target,
        )
    }
    regs = RegistrationRepo(session)
    free = course.capacity - await regs.held(course.id)
    actor = await roles.actor_label(session, scope.person_id)
    done: list[int] = []
    no_seat = 0
    for person_id in dict.fromkeys(person_ids):
        if person_id not in eligible:
            continue
        if free <= 0:
            no_seat += 1
            continue
        free -= 1
        course.queue_seq += 1
        reg = await regs.get(course_id=course.id, person_id=person_id)
        if reg is None:
            reg = Registration(course_id=course.id, person_id=person_id)
            regs.add(reg)
        reg.status, reg.queue_seq, reg.created_at = (
            RegistrationStatus.NOMINATED,
            course.queue_seq,
            now,
        )
        reg.nominated_by_id, reg.hold_until = scope.person_id, until
        reg.cancelled_at = reg.decided_at = reg.decided_by_id = reg.promoted_at = None
        reg.reason = None
        await session.flush()
        await notify_now(
            session,
            key=f"{NOMINATED}:{reg.id}:{reg.queue_seq}",
            person_id=person_id,
            kind=NOMINATED,
            now=now,
            course_id=course.id,
        )
        who = eligible[person_id]
        await roles.audit(
            session,
            actor_person_id=scope.person_id,
            actor=actor,
            action="nominate",
            target=f"{course.code}: {who.full_name} ({who.personal_id})",
            now=now,
            hold_until=until.isoformat(),
        )
        done.append(person_id)
    not_eligible = len(set(person_ids)) - len(done) - no_seat
    return Nominated(course, done, until, not_eligible, no_seat)


async def _locked_reg(
    session: AsyncSession, *, course_id: int, person_id: int, status: RegistrationStatus
) -> tuple[Course, Registration]:
    course = await CourseRepo(session).lock(course_id)
    if course is None:
        raise DomainError(Refusal.NOT_FOUND)
    reg = await RegistrationRepo(session).get(course_id=course_id, person_id=person_id)
    if reg is None or reg.status != status:
        raise DomainError(Refusal.NOT_PENDING)
    return course, reg


def _still_open(reg: Registration, course: Course, now: datetime) -> None:
    if reg.hold_until is None or reg.hold_until <= now:
        raise DomainError(Refusal.NOT_PENDING)
    if course.status not in (CourseStatus.OPEN, CourseStatus.CLOSED) or course.starts_at <= now:
        raise DomainError(Refusal.CLOSED)


async def pending_nomination(
    session: AsyncSession, *, person_id: int, course_id: int, now: datetime
) -> Pending:
    """The person's nomination if it still waits for their answer (else NOT_PENDING)."""
    course = await CourseRepo(session).get(course_id)
    reg = await RegistrationRepo(session).get(course_id=course_id, person_id=person_id)
    if course is None or reg is None or reg.status != RegistrationStatus.NOMINATED:
        raise DomainError(Refusal.NOT_PENDING)
    _still_open(reg, course, now)
    person = await session.get(Person, person_id)
    return Pending(course, person.full_name if person else "")


async def answer(
    session: AsyncSession,
    *,
    person_id: int,
    course_id: int,
    accept: bool,
    reason: str | None,
    now: datetime,
    policy: Policy,
) -> Answer:
    """Confirm a nomination (the held seat becomes a registration) or decline it (the seat
    goes to the waitlist and the nominator is told why)."""
    course, reg = await _locked_reg(
        session, course_id=course_id, person_id=person_id, status=RegistrationStatus.NOMINATED
    )
    _still_open(reg, course, now)
    reg.decided_by_id, reg.decided_at = person_id, now
    if accept:
        for _r, other in await RegistrationRepo(session).of_person(
            person_id, [RegistrationStatus.REGISTERED]
        ):
            if other.id != course.id and clashes(course, other):
                raise DomainError(Refusal.CLASH, course_id=other.id, title=other.title)
        reg.status = RegistrationStatus.REGISTERED
        await session.flush()
        await schedule_course(session, reg=reg, course=course, policy=policy, now=now)
        return Answer(course, True)
    reg.status, reg.reason = RegistrationStatus.DECLINED, (reason or "").strip()[:500] or None
    await session.flush()
    await _tell_nominator(session, reg=reg, outcome="declined", now=now)
    promoted = await promote_waitlist(session, course=course, now=now, policy=policy)
    return Answer(course, False, promoted)


async def _tell_nominator(
    session: AsyncSession, *, reg: Registration, outcome: str, now: datetime
) -> None:
    if reg.nominated_by_id is None:
        return
    await notify_now(
        session,
        key=f"{NOMINATION_ANSWER}:{reg.id}:{reg.queue_seq}",
        person_id=reg.nominated_by_id,
        kind=NOMINATION_ANSWER,
        now=now,
        course_id=reg.course_id,
        params={"nominee_id": reg.person_id, "outcome": outcome, "reason": reg.reason or ""},
    )


# -- approving self-registrations -------------------------------------------------------------


async def _approval(
    session: AsyncSession, *, actor_id: int | None, reg_id: int, lock: bool
) -> tuple[Course, Registration, Person, roles.Scope]:
    reg = await session.get(Registration, reg_id)
    if reg is None:
        raise DomainError(Refusal.NOT_FOUND)
    person = await PeopleRepo(session).get(reg.person_id)
    assert person is not None
    scope = await roles.require(
        session, person_id=actor_id, role=Role.UNIT_HEAD, unit_id=person.unit_id
    )
    if actor_id == reg.person_id:  # nobody approves their own registration
        raise DomainError(Refusal.FORBIDDEN, role=Role.UNIT_HEAD.value)
    repo = CourseRepo(session)
    course = await (repo.lock(reg.course_id) if lock else repo.get(reg.course_id))
    if course is None:
        raise DomainError(Refusal.NOT_FOUND)
    await session.refresh(reg)  # read again under the course lock
    if reg.status != RegistrationStatus.PENDING_APPROVAL:
        raise DomainError(Refusal.NOT_PENDING)
    return course, reg, person, scope


async def pending_approval(
    session: AsyncSession, *, actor_id: int | None, reg_id: int, now: datetime
) -> Pending:
    """A request the actor may still decide on (else FORBIDDEN or NOT_PENDING)."""
    course, reg, person, _scope = await _approval(
        session, actor_id=actor_id, reg_id=reg_id, lock=False
    )
    _still_open(reg, course, now)
    return Pending(course, person.full_name)


async def decide(
    session: AsyncSession,
    *,
    actor_id: int | None,
    reg_id: int,
    approve: bool,
    reason: str | None,
    now: datetime,
    policy: Policy,
) -> Decision:
    """Approve a self-registration (the held seat becomes a registration) or decline it (the
    seat goes to the waitlist); the person is told either way and the decision audited."""
    course, reg, person, scope = await _approval(
        session, actor_id=actor_id, reg_id=reg_id, lock=True
    )
    _still_open(reg, course, now)
    reg.decided_by_id, reg.decided_at = scope.person_id, now
    reg.status = RegistrationStatus.REGISTERED if approve else RegistrationStatus.DECLINED
    reg.reason = None if approve else ((reason or "").strip()[:500] or None)
    await session.flush()
    await notify_now(
        session,
        key=f"{APPROVAL_RESULT}:{reg.id}:{reg.queue_seq}",
        person_id=reg.person_id,
        kind=APPROVAL_RESULT,
        now=now,
        course_id=course.id,
        params={"outcome": "approved" if approve else "declined", "reason": reg.reason or ""},
    )
    await roles.audit(
        session,
        actor_person_id=scope.person_id,
        actor=await roles.actor_label(session, scope.person_id),
        action="approve" if approve else "decline",
        target=f"{course.code}: {person.full_name} ({person.personal_id})",
        now=now,
    )
    if approve:
        await schedule_course(session, reg=reg, course=course, policy=policy, now=now)
        return Decision(course, person.full_name, True)
    promoted = await promote_waitlist(session, course=course, now=now, policy=policy)
    return Decision(course, person.full_name, False, promoted)


# -- letting unanswered requests go -----------------------------------------------------------


async def expire_due(session: AsyncSession, *, now: datetime, policy: Policy) -> int:
    """Expire nominations and approval requests whose hold has run out; tell the people
    concerned and give the seats to the waitlist. Returns how many expired."""
    due = (
        select(Registration.course_id)
        .where(Registration.status.in_(HELD), Registration.hold_until <= now)
        .distinct()
    )
    expired = 0
    for course_id in list((await session.execute(due)).scalars()):
        course = await CourseRepo(session).lock(course_id)
        if course is None:
            continue
        rows = (
            await session.execute(
                select(Registration)
                .where(
                    Registration.course_id == course_id,
                    Registration.status.in_(HELD),
                    Registration.hold_until <= now,
                )
                .order_by(Registration.queue_seq)
            )
        ).scalars()
        for reg in list(rows):
            nominated = reg.status == RegistrationStatus.NOMINATED
            reg.status, reg.decided_at = RegistrationStatus.EXPIRED, now
            await session.flush()
            expired += 1
            kind = NOMINATION_EXPIRED if nominated else APPROVAL_RESULT
            await notify_now(
                session,
                key=f"{kind}:{reg.id}:{reg.queue_seq}",
                person_id=reg.person_id,
                kind=kind,
                now=now,
                course_id=course_id,
                params={} if nominated else {"outcome": "expired", "reason": ""},
            )
            if nominated:
                await _tell_nominator(session, reg=reg, outcome="expired", now=now)
        await promote_waitlist(session, course=course, now=now, policy=policy)
    return expired
