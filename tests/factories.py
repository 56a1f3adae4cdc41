"""Small factories for tests: each takes a session, adds one row with sensible defaults, flushes.

Codes and personal IDs come from a counter, so any number of rows can be made in one test
without naming them; pass keyword arguments for what the test is about.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from domain.text import fold
from storage.models import (
    ChatAccount,
    Course,
    CourseSession,
    CourseStatus,
    Person,
    Position,
    Qualification,
    Unit,
)

_seq = itertools.count(1)


def _next() -> int:
    return next(_seq)


async def make_unit(
    session: AsyncSession,
    *,
    code: str | None = None,
    name: str | None = None,
    kind: str = "commune",
    parent: Unit | None = None,
    **extra: Any,
) -> Unit:
    n = _next()
    unit = Unit(
        code=code or f"U{n:05d}",
        name=name or f"Xã Thử Nghiệm {n}",
        kind=kind,
        parent_id=parent.id if parent is not None else None,
        active=True,
        **extra,
    )
    session.add(unit)
    await session.flush()
    return unit


async def make_position(
    session: AsyncSession,
    *,
    code: str | None = None,
    name_vi: str | None = None,
    name_en: str | None = None,
    group: str = "civil_servant",
) -> Position:
    n = _next()
    position = Position(
        code=code or f"pos_{n}",
        name_vi=name_vi or f"Chức danh {n}",
        name_en=name_en or f"Position {n}",
        group=group,
    )
    session.add(position)
    await session.flush()
    return position


async def make_person(
    session: AsyncSession,
    *,
    unit: Unit | None = None,
    position: Position | None = None,
    personal_id: str | None = None,
    full_name: str = "Nguyễn Văn An",
    phone: str | None = None,
    qualifications: Sequence[tuple[str, str, str]] = (),
    active: bool = True,
    **extra: Any,
) -> Person:
    """A roster person; `qualifications` are (kind, level, field) rows from the roster."""
    n = _next()
    if unit is None:
        unit = await make_unit(session)
    person = Person(
        personal_id=personal_id or f"020{n:09d}",
        full_name=full_name,
        phone=phone,
        unit_id=unit.id,
        position_id=position.id if position is not None else None,
        active=active,
        **extra,
    )
    session.add(person)
    await session.flush()
    for kind, level, field in qualifications:
        session.add(Qualification(person_id=person.id, kind=kind, level=level, field=field))
    await session.flush()
    return person


async def make_course(
    session: AsyncSession,
    *,
    code: str | None = None,
    title: str = "Bồi dưỡng kỹ năng số",
    category: str = "digital_skills",
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    registration_deadline: datetime | None = None,
    capacity: int = 30,
    place: str | None = "Hội trường UBND tỉnh",
    status: CourseStatus = CourseStatus.OPEN,
    organizer: Unit | None = None,
    sessions: Sequence[tuple[datetime, datetime]] = (),
    audience: dict[str, Any] | None = None,
    **extra: Any,
) -> Course:
    """A course starting in a week for a day, registration open until its start."""
    n = _next()
    starts = starts_at or datetime.now(UTC).replace(microsecond=0) + timedelta(days=7)
    course = Course(
        code=code or f"C{n:05d}",
        title=title,
        search_text=fold(f"{title} {category} {place or ''}"),
        category=category,
        organizer_unit_id=organizer.id if organizer is not None else None,
        place=place,
        starts_at=starts,
        ends_at=ends_at or starts + timedelta(hours=8),
        capacity=capacity,
        registration_deadline=registration_deadline or starts,
        audience=audience or {},
        status=status,
        **extra,
    )
    session.add(course)
    await session.flush()
    for s, e in sessions:
        session.add(CourseSession(course_id=course.id, starts_at=s, ends_at=e))
    await session.flush()
    return course


async def make_account(
    session: AsyncSession,
    *,
    channel: str = "telegram",
    chat_user_id: str | None = None,
    chat_id: str | None = None,
    person: Person | None = None,
    language: str | None = None,
    **extra: Any,
) -> ChatAccount:
    """A chat account on `channel`, linked to `person` when one is given."""
    n = _next()
    user_id = chat_user_id or str(700_000_000 + n)
    account = ChatAccount(
        channel=channel,
        chat_user_id=user_id,
        chat_id=chat_id or user_id,
        person_id=person.id if person is not None else None,
        language=language,
        active=True,
        linked_at=datetime.now(UTC) if person is not None else None,
        **extra,
    )
    session.add(account)
    await session.flush()
    return account
