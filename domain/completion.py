"""Completing a course: the organizer finishes it (attendance decides) or marks one person.

Completing writes the training record once (hours, dates, a certificate number entered by
the organizer or numbered COURSECODE-NNN), grants what the course grants unless already held,
and tells the person. Registrations stay REGISTERED while a course runs (seat counts rely on
it); finishing turns each into COMPLETED, ATTENDED (came, not often enough) or NO_SHOW.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain import reminders, roles
from domain.attendance import PARTICIPANTS, S, _sheet, organizer_course
from domain.errors import DomainError, Refusal
from domain.registration import intervals
from domain.vocab import level_vocab, meets
from storage.models import (
    Course,
    CourseStatus,
    Person,
    Qualification,
    Registration,
    Role,
    TrainingRecord,
)
from storage.repos.courses import CourseRepo


@dataclass
class FinishReport:
    title: str
    completed: int = 0
    attended: int = 0
    no_show: int = 0
    kept: int = 0  # already completed before
    not_before: datetime | None = None  # too early: the last session has not started


@dataclass(frozen=True)
class Completion:
    person_name: str
    title: str
    certificate_no: str | None
    already: bool


async def finish(
    session: AsyncSession,
    *,
    actor_id: int | None,
    course_id: int,
    now: datetime,
    min_share: float,
    tz: ZoneInfo,
) -> FinishReport:
    """Close a course: those present at ≥ `min_share` of its sessions complete it, those
    never present are no-shows, the rest attended. Finishing again re-evaluates everyone not
    yet completed (after a late correction); a completion is never taken back here."""
    course = await organizer_course(session, actor_id=actor_id, course_id=course_id)
    course = await CourseRepo(session).lock(course.id) or course
    if course.status in (CourseStatus.CANCELLED, CourseStatus.DRAFT):
        raise DomainError(Refusal.CLOSED)
    spans = intervals(course)
    report = FinishReport(course.title)
    if now < spans[-1][0]:
        report.not_before = spans[-1][0]
        return report
    numbers = await Certificates.of(session, course)
    regs = {
        r.id: r
        for r in (
            await session.execute(select(Registration).where(Registration.course_id == course.id))
        ).scalars()
    }
    again = course.status == CourseStatus.FINISHED
    changed = False
    for p in (await _sheet(session, course)).participants:
        if p.status == S.COMPLETED:
            report.kept += 1
            continue
        reg = regs[p.registration_id]
        before = reg.status
        if len(p.present) >= min_share * len(spans) - 1e-9:
            await _complete(session, reg=reg, course=course, now=now, tz=tz, numbers=numbers)
            report.completed += 1
        elif p.present:
            reg.status = S.ATTENDED
            report.attended += 1
        else:
            reg.status = S.NO_SHOW
            report.no_show += 1
        changed = changed or reg.status != before
    course.status = CourseStatus.FINISHED
    await session.flush()
    if again and not changed:  # pressed twice (or at once, serialised by the lock): done
        return report
    await roles.audit(
        session,
        actor_person_id=actor_id,
        actor=await roles.actor_label(session, actor_id),
        action="course_finish",
        target=course.code,
        now=now,
        completed=report.completed,
        attended=report.attended,
        no_show=report.no_show,
    )
    return report


async def complete_one(
    session: AsyncSession,
    *,
    actor_id: int | None,
    course_code: str,
    personal_id: str,
    certificate_no: str | None,
    now: datetime,
    tz: ZoneInfo,
) -> Completion:
    """The organizer marks one participant complete (e.g. with the school's certificate
    number), whatever their attendance. NOT_FOUND names "course" or "person"."""
    course = await CourseRepo(session).by_code(course_code)
    if course is None:
        raise DomainError(Refusal.NOT_FOUND, what="course")
    course = await organizer_course(session, actor_id=actor_id, course_id=course.id)
    reg = (
        await session.execute(
            select(Registration)
            .join(Person, Person.id == Registration.person_id)
            .where(
                Registration.course_id == course.id,
                Person.personal_id == personal_id,
                Registration.status.in_(PARTICIPANTS),
            )
        )
    ).scalar_one_or_none()
    if reg is None:
        raise DomainError(Refusal.NOT_FOUND, what="person")
    person = await session.get(Person, reg.person_id)
    assert person is not None
    already = reg.status == S.COMPLETED
    cert = await _complete(
        session,
        reg=reg,
        course=course,
        now=now,
        tz=tz,
        numbers=await Certificates.of(session, course),
        certificate_no=certificate_no,
    )
    await roles.audit(
        session,
        actor_person_id=actor_id,
        actor=await roles.actor_label(session, actor_id),
        action="course_complete",
        target=f"{course.code}: {person.full_name} ({person.personal_id})",
        result="unchanged" if already and not certificate_no else "ok",
        now=now,
        certificate_no=cert,
    )
    return Completion(person.full_name, course.title, cert, already)


async def _complete(
    session: AsyncSession,
    *,
    reg: Registration,
    course: Course,
    now: datetime,
    tz: ZoneInfo,
    numbers: Certificates,
    certificate_no: str | None = None,
) -> str | None:
    """Record the training once, grant the course's qualification unless held, tell them."""
    reg.status = S.COMPLETED
    record = numbers.records.get(reg.person_id)
    if record is None:
        record = TrainingRecord(
            person_id=reg.person_id,
            course_id=course.id,
            title=course.title,
            hours=course.hours,
            starts_on=course.starts_at.astimezone(tz).date(),
            ends_on=course.ends_at.astimezone(tz).date(),
            certificate_no=certificate_no or numbers.next(),
        )
        session.add(record)
        numbers.record(record)
    elif certificate_no:
        record.certificate_no = certificate_no
    if course.grants_kind:
        await grant_qualification(
            session,
            person_id=reg.person_id,
            kind=course.grants_kind,
            level=course.grants_level,
            field=course.title,
            obtained_on=record.ends_on,
            source="course",
        )
    await reminders.notify_now(  # flushes
        session,
        key=f"{reminders.COURSE_COMPLETED}:{reg.id}",
        person_id=reg.person_id,
        kind=reminders.COURSE_COMPLETED,
        now=now,
        course_id=course.id,
        params={"certificate_no": record.certificate_no},
    )
    return record.certificate_no


class Certificates:
    """COURSECODE-NNN numbers in completion order, skipping any taken (the course is locked).

    Loaded once per finish: the numbers and records of the course in two queries, not per
    person, so finishing a course of a few hundred stays well under a second.
    """

    def __init__(self, course: Course, taken: set[str], records: dict[int, TrainingRecord]):
        self.prefix, self.taken, self.records = f"{course.code}-", taken, records
        self.n = len([t for t in taken if t.startswith(self.prefix)])

    @classmethod
    async def of(cls, session: AsyncSession, course: Course) -> Certificates:
        prefix = f"{course.code}-"
        taken = select(TrainingRecord.certificate_no).where(
            TrainingRecord.certificate_no.startswith(prefix, autoescape=True)
        )
        records = select(TrainingRecord).where(TrainingRecord.course_id == course.id)
        return cls(
            course,
            {str(c) for c in (await session.execute(taken)).scalars()},
            {r.person_id: r for r in (await session.execute(records)).scalars()},
        )

    def next(self) -> str:
        while True:
            self.n += 1
            number = f"{self.prefix}{self.n:03d}"[:60]
            if number not in self.taken:
                self.taken.add(number)
                return number

    def record(self, record: TrainingRecord) -> None:
        self.records[record.person_id] = record


async def grant_qualification(
    session: AsyncSession,
    *,
    person_id: int,
    kind: str,
    level: str | None,
    field: str,
    obtained_on: date | None,
    source: str,
) -> bool:
    """Add a qualification unless the person already holds it (or a higher level of it).

    Ranked kinds (political theory, state management) ignore the field; education keeps
    it (a degree's field matters to standards); certificates keep their name as the field.
    """
    vocab = level_vocab(kind)
    level = level or "co_ban"
    field = "" if vocab is not None and kind != "education" else field[:200]
    held = (
        await session.execute(
            select(Qualification).where(
                Qualification.person_id == person_id, Qualification.kind == kind
            )
        )
    ).scalars()
    for q in held:
        if q.level == level and (q.field or "") == field:
            return False
        if vocab is not None and kind != "education" and meets(vocab, q.level, level):
            return False
    session.add(
        Qualification(
            person_id=person_id,
            kind=kind,
            level=level,
            field=field,
            obtained_on=obtained_on,
            source=source,
        )
    )
    await session.flush()
    return True


async def no_shows(
    session: AsyncSession, *, actor_id: int | None, limit: int = 30
) -> list[tuple[Person, Course]]:
    """No-shows of people in the unit head's subtree, latest courses first."""
    scope = await roles.require(session, person_id=actor_id, role=Role.UNIT_HEAD)
    stmt = (
        select(Person, Course)
        .join(Registration, Registration.person_id == Person.id)
        .join(Course, Course.id == Registration.course_id)
        .where(Registration.status == S.NO_SHOW)
        .order_by(Course.starts_at.desc(), Person.full_name)
        .limit(limit)
    )
    if not scope.everywhere:
        stmt = stmt.where(Person.unit_id.in_(scope.unit_ids))
    return [(p, c) for p, c in await session.execute(stmt)]
