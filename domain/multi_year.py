"""Totals over several years (`report --since 2017`): participations, distinct people and
hours of training records per year and over the whole span, and courses per organizer unit.

Training records count whether they come from the bot's courses or from the imported
history, by the year they ended; people are those of the scope still on the roster.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import distinct, extract, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.reports import HELD, _Queries
from storage.models import Course, Person, TrainingRecord, Unit


@dataclass(frozen=True)
class YearRow:
    year: int  # 0 for the whole span
    participations: int
    people: int
    hours: int


@dataclass(frozen=True)
class OrganizerRow:
    unit: str  # the organizer unit's name; "" for courses without one
    courses: int


@dataclass(frozen=True)
class MultiYear:
    since: int
    until: int
    years: tuple[YearRow, ...]
    total: YearRow
    organizers: tuple[OrganizerRow, ...]


async def multi_year(
    session: AsyncSession, *, roots: Sequence[int] | None, since: int, until: int, tz: ZoneInfo
) -> MultiYear:
    """Training of the scope's people from 1 January `since` to 31 December `until`."""
    q = _Queries(roots, until, tz)
    first, last = date(since, 1, 1), date(until, 12, 31)
    year = extract("year", TrainingRecord.ends_on)
    base = (
        select()
        .select_from(TrainingRecord)
        .join(Person, Person.id == TrainingRecord.person_id)
        .where(q.people(), TrainingRecord.ends_on >= first, TrainingRecord.ends_on <= last)
    )
    counts = (
        func.count(TrainingRecord.id),
        func.count(distinct(TrainingRecord.person_id)),
        func.coalesce(func.sum(TrainingRecord.hours), 0),
    )
    per_year = {
        int(y): YearRow(int(y), int(n), int(p), int(h))
        for y, n, p, h in await session.execute(base.add_columns(year, *counts).group_by(year))
    }
    n, p, h = (await session.execute(base.add_columns(*counts))).one()
    years = tuple(per_year.get(y, YearRow(y, 0, 0, 0)) for y in range(since, until + 1))
    q_since = _Queries(roots, since, tz)
    by_unit = (
        select(func.coalesce(Unit.name, ""), func.count(Course.id))
        .select_from(Course)
        .outerjoin(Unit, Unit.id == Course.organizer_unit_id)
        .where(Course.status.in_(HELD), Course.starts_at >= q_since.starts,
               Course.starts_at < q.ends)
        .group_by(Unit.name)
        .order_by(func.count(Course.id).desc(), Unit.name)
    )  # fmt: skip
    if roots is not None:
        by_unit = by_unit.where(q.unit_in_scope(Course.organizer_unit_id))
    organizers = tuple(OrganizerRow(name, int(c)) for name, c in await session.execute(by_unit))
    return MultiYear(since, until, years, YearRow(0, int(n), int(p), int(h)), organizers)
