"""Courses and registrations: reads for listing and the locked reads registration needs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from storage.models import Course, CourseStatus, Registration, RegistrationStatus

ACTIVE = (RegistrationStatus.REGISTERED, RegistrationStatus.WAITLISTED)
# Rows that occupy a seat: registered, and seats held for a nominee or an approval.
HOLDING = (
    RegistrationStatus.REGISTERED,
    RegistrationStatus.NOMINATED,
    RegistrationStatus.PENDING_APPROVAL,
)


class CourseRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, course_id: int) -> Course | None:
        return await self.session.get(Course, course_id, options=[selectinload(Course.sessions)])

    async def by_code(self, code: str) -> Course | None:
        stmt = select(Course).where(Course.code == code)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def lock(self, course_id: int) -> Course | None:
        """Read the course row with a row lock (PostgreSQL); SQLite's BEGIN IMMEDIATE suffices.

        The row is read afresh even when this session has it already: a caller that checked
        the course before locking must see what the transaction that held the lock wrote
        (e.g. a cancellation), or two concurrent presses would both act."""
        stmt = (
            select(Course)
            .where(Course.id == course_id)
            .options(selectinload(Course.sessions))
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def open_courses(
        self, *, now: datetime, tokens: Sequence[str] = (), limit: int = 500
    ) -> list[Course]:
        """Courses still taking registrations, soonest first; tokens filter the folded text."""
        stmt = (
            select(Course)
            .where(Course.status == CourseStatus.OPEN, Course.registration_deadline > now)
            .options(selectinload(Course.sessions))
            .order_by(Course.starts_at, Course.id)
            .limit(limit)
        )
        for token in tokens:
            stmt = stmt.where(Course.search_text.contains(token, autoescape=True))
        return list((await self.session.execute(stmt)).scalars())

    async def granting(self, *, kind: str, now: datetime) -> list[Course]:
        stmt = (
            select(Course)
            .where(
                Course.status == CourseStatus.OPEN,
                Course.registration_deadline > now,
                Course.grants_kind == kind if kind != "refresher_hours" else Course.hours > 0,
            )
            .options(selectinload(Course.sessions))
            .order_by(Course.starts_at, Course.id)
        )
        return list((await self.session.execute(stmt)).scalars())


class RegistrationRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, *, course_id: int, person_id: int) -> Registration | None:
        stmt = select(Registration).where(
            Registration.course_id == course_id, Registration.person_id == person_id
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def count(self, course_id: int, status: RegistrationStatus) -> int:
        stmt = select(func.count()).where(
            Registration.course_id == course_id, Registration.status == status
        )
        return int((await self.session.execute(stmt)).scalar_one())

    async def held(self, course_id: int) -> int:
        """Seats taken: registered, or held for a nominee or an approval."""
        stmt = select(func.count()).where(
            Registration.course_id == course_id, Registration.status.in_(HOLDING)
        )
        return int((await self.session.execute(stmt)).scalar_one())

    async def counts(self, course_ids: Sequence[int]) -> dict[tuple[int, str], int]:
        """Counts by status (registered, waitlisted, held) for many courses in one query."""
        if not course_ids:
            return {}
        stmt = (
            select(Registration.course_id, Registration.status, func.count())
            .where(
                Registration.course_id.in_(course_ids),
                Registration.status.in_((*ACTIVE, *HOLDING)),
            )
            .group_by(Registration.course_id, Registration.status)
        )
        return {(cid, str(st)): int(n) for cid, st, n in await self.session.execute(stmt)}

    async def waitlist_position(self, reg: Registration) -> int:
        stmt = select(func.count()).where(
            Registration.course_id == reg.course_id,
            Registration.status == RegistrationStatus.WAITLISTED,
            Registration.queue_seq <= reg.queue_seq,
        )
        return int((await self.session.execute(stmt)).scalar_one())

    async def first_waitlisted(self, course_id: int) -> Registration | None:
        stmt = (
            select(Registration)
            .where(
                Registration.course_id == course_id,
                Registration.status == RegistrationStatus.WAITLISTED,
            )
            .order_by(Registration.queue_seq)
            .limit(1)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def of_person(
        self, person_id: int, statuses: Sequence[RegistrationStatus]
    ) -> list[tuple[Registration, Course]]:
        stmt = (
            select(Registration, Course)
            .join(Course, Course.id == Registration.course_id)
            .where(Registration.person_id == person_id, Registration.status.in_(statuses))
            .options(selectinload(Course.sessions))
            .order_by(Course.starts_at)
        )
        return [(r, c) for r, c in await self.session.execute(stmt)]

    def add(self, reg: Registration) -> None:
        self.session.add(reg)
