"""What a person sees of their own record: /my overview and the /privacy summary."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    Course,
    Person,
    Qualification,
    Registration,
    RegistrationStatus,
    TrainingRecord,
)
from storage.repos.courses import RegistrationRepo
from storage.repos.people import PeopleRepo


@dataclass(frozen=True)
class Upcoming:
    course: Course
    status: RegistrationStatus
    waitlist_position: int | None


@dataclass(frozen=True)
class Overview:
    upcoming: list[Upcoming]
    completed: list[TrainingRecord]
    hours_done: int
    hours_target: int


@dataclass(frozen=True)
class PrivacyView:
    person: Person
    qualifications: list[Qualification]
    registrations: int
    trainings: int


async def overview(
    session: AsyncSession, *, person_id: int, now: datetime, hours_target: int
) -> Overview:
    regs = RegistrationRepo(session)
    upcoming = []
    active = [
        RegistrationStatus.REGISTERED,
        RegistrationStatus.WAITLISTED,
        RegistrationStatus.NOMINATED,
        RegistrationStatus.PENDING_APPROVAL,
    ]
    for reg, course in await regs.of_person(person_id, active):
        if course.ends_at < now:
            continue
        position = (
            await regs.waitlist_position(reg)
            if reg.status == RegistrationStatus.WAITLISTED
            else None
        )
        upcoming.append(Upcoming(course, reg.status, position))
    people = PeopleRepo(session)
    year = now.year
    return Overview(
        upcoming=upcoming,
        completed=await people.trainings_in_year(person_id, year),
        hours_done=await people.hours_in_year(person_id, year),
        hours_target=hours_target,
    )


async def privacy(session: AsyncSession, *, person_id: int) -> PrivacyView | None:
    people = PeopleRepo(session)
    person = await people.get(person_id)
    if person is None:
        return None
    count_regs = select(func.count()).where(Registration.person_id == person_id)
    count_training = select(func.count()).where(TrainingRecord.person_id == person_id)
    return PrivacyView(
        person=person,
        qualifications=await people.qualifications(person_id),
        registrations=int((await session.execute(count_regs)).scalar_one()),
        trainings=int((await session.execute(count_training)).scalar_one()),
    )
