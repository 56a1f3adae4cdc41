"""Finding courses: what a person may join, search, and the facts a course card shows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from domain.audience import in_audience
from domain.errors import DomainError, Refusal
from domain.search import Query, rank, understand
from storage.models import Course, RegistrationStatus, Unit
from storage.repos.courses import CourseRepo, RegistrationRepo
from storage.repos.people import PeopleRepo

HELD = (RegistrationStatus.NOMINATED, RegistrationStatus.PENDING_APPROVAL)


@dataclass(frozen=True)
class CourseView:
    """A course with its live seat counts and the viewer's own registration, if any."""

    course: Course
    organizer: str | None
    registered: int
    waitlisted: int
    my_status: RegistrationStatus | None = None
    my_waitlist_position: int | None = None
    held: int = 0  # seats held for nominees and for registrations awaiting approval
    my_hold_until: datetime | None = None  # when the viewer's nomination or request lapses

    @property
    def seats_left(self) -> int:
        return max(self.course.capacity - self.registered - self.held, 0)


@dataclass(frozen=True)
class Page:
    items: list[CourseView]
    page: int
    pages: int
    total: int
    open_total: int = 0  # open courses the person may join, whatever was searched


async def open_for(
    session: AsyncSession, *, person_id: int | None, now: datetime, query: str = ""
) -> list[Course]:
    """Open courses the person may join (all open ones when unknown): soonest first, or the
    ones a search means, best first."""
    return rank(await _open(session, person_id=person_id, now=now), understand(query))


async def _open(session: AsyncSession, *, person_id: int | None, now: datetime) -> list[Course]:
    courses = await CourseRepo(session).open_courses(now=now)
    person = await PeopleRepo(session).get(person_id) if person_id is not None else None
    if person is None:
        return courses
    chain = await PeopleRepo(session).unit_chain(person.unit_id)
    codes = [u.code for u in chain]
    return [c for c in courses if in_audience(c, person, codes)]


async def views(
    session: AsyncSession, courses: Sequence[Course], *, person_id: int | None = None
) -> list[CourseView]:
    regs = RegistrationRepo(session)
    counts = await regs.counts([c.id for c in courses])
    result = []
    for course in courses:
        organizer = None
        if course.organizer_unit_id is not None:
            unit = await session.get(Unit, course.organizer_unit_id)
            organizer = unit.name if unit else None
        mine, position, hold = None, None, None
        if person_id is not None:
            reg = await regs.get(course_id=course.id, person_id=person_id)
            if reg is not None:
                mine, hold = reg.status, reg.hold_until
                if reg.status == RegistrationStatus.WAITLISTED:
                    position = await regs.waitlist_position(reg)
        result.append(
            CourseView(
                course=course,
                organizer=organizer,
                registered=counts.get((course.id, RegistrationStatus.REGISTERED.value), 0),
                waitlisted=counts.get((course.id, RegistrationStatus.WAITLISTED.value), 0),
                my_status=mine,
                my_waitlist_position=position,
                held=sum(counts.get((course.id, s.value), 0) for s in HELD),
                my_hold_until=hold,
            )
        )
    return result


async def page_of(
    session: AsyncSession,
    *,
    person_id: int | None,
    now: datetime,
    page: int,
    page_size: int,
    query: str | Query = "",
) -> Page:
    """One page of the open courses the person may join, or of those a search means."""
    everything = await _open(session, person_id=person_id, now=now)
    courses = rank(everything, understand(query) if isinstance(query, str) else query)
    pages = max((len(courses) + page_size - 1) // page_size, 1)
    page = min(max(page, 0), pages - 1)
    chunk = courses[page * page_size : (page + 1) * page_size]
    items = await views(session, chunk)
    return Page(items=items, page=page, pages=pages, total=len(courses), open_total=len(everything))


async def card(session: AsyncSession, *, course_id: int, person_id: int | None) -> CourseView:
    course = await CourseRepo(session).get(course_id)
    if course is None:
        raise DomainError(Refusal.NOT_FOUND)
    return (await views(session, [course], person_id=person_id))[0]
