"""Reads about one person: the record, the unit chain, qualifications and training hours."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from storage.models import Person, Qualification, TrainingRecord, Unit


class PeopleRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, person_id: int) -> Person | None:
        """The person with unit and position loaded, even if the session already holds them
        without (session.get would hand back that copy, and lazy="raise" would then fail)."""
        stmt = (
            select(Person)
            .where(Person.id == person_id)
            .options(joinedload(Person.unit), joinedload(Person.position))
            .execution_options(populate_existing=True)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def by_personal_id(self, personal_id: str) -> Person | None:
        stmt = select(Person).where(Person.personal_id == personal_id)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def by_phone(self, phone: str) -> list[Person]:
        stmt = select(Person).where(Person.phone == phone, Person.active.is_(True)).limit(2)
        return list((await self.session.execute(stmt)).scalars())

    async def unit_chain(self, unit_id: int) -> list[Unit]:
        """The unit and its ancestors, nearest first (the tree is a few levels deep)."""
        chain: list[Unit] = []
        current: int | None = unit_id
        while current is not None and len(chain) < 12:
            unit = await self.session.get(Unit, current)
            if unit is None:
                break
            chain.append(unit)
            current = unit.parent_id
        return chain

    async def qualifications(self, person_id: int) -> list[Qualification]:
        stmt = select(Qualification).where(Qualification.person_id == person_id)
        return list((await self.session.execute(stmt)).scalars())

    async def hours_in_year(self, person_id: int, year: int) -> int:
        stmt = select(func.coalesce(func.sum(TrainingRecord.hours), 0)).where(
            TrainingRecord.person_id == person_id,
            TrainingRecord.ends_on >= date(year, 1, 1),
            TrainingRecord.ends_on <= date(year, 12, 31),
        )
        return int((await self.session.execute(stmt)).scalar_one())

    async def trainings_in_year(self, person_id: int, year: int) -> list[TrainingRecord]:
        stmt = (
            select(TrainingRecord)
            .where(
                TrainingRecord.person_id == person_id,
                TrainingRecord.ends_on >= date(year, 1, 1),
                TrainingRecord.ends_on <= date(year, 12, 31),
            )
            .order_by(TrainingRecord.ends_on)
        )
        return list((await self.session.execute(stmt)).scalars())
