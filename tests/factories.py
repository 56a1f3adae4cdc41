"""Small factories for tests: each takes a session, adds one row with sensible defaults, flushes.

Codes and personal IDs come from a counter, so any number of rows can be made in one test
without naming them; pass keyword arguments for what the test is about. At the end: a small
unit tree with an organizer, and a courses import file for it.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain import roles
from domain.course_format import COURSE_COLUMNS
from domain.reminders import Policy
from domain.text import fold
from storage.models import (
    ChatAccount,
    Course,
    CourseSession,
    CourseStatus,
    Person,
    Position,
    Qualification,
    Role,
    Unit,
)

CULTURE_SOCIAL = "cc_van_hoa_xa_hoi"  # a seeded position with its own degree standard
CULTURE_SOCIAL_DEGREE = "cs-culture-social-degree"  # its seeded rule: a university degree
# The header of a 1×1 PNG: enough for Telegram's photo sizes and for evidence checks.
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000")
# The settings' default zone, handed down as production code hands down settings.tz.
ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
POLICY = Policy(tz=ZONE)  # the settings' default reminder policy
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


async def seeded_position(s: AsyncSession, code: str = CULTURE_SOCIAL) -> Position:
    return (await s.execute(select(Position).where(Position.code == code))).scalar_one()


async def person_in(
    s: AsyncSession,
    unit: Unit,
    *,
    uid: int | None = None,
    pos: Position | None = None,
    degree: str | None = None,
    name: str = "Nguyễn Văn An",
) -> int:
    """A roster person; linked to chat `uid` when given; with a university degree in `degree`."""
    quals = [("education", "dai_hoc", degree)] if degree else []
    person = await make_person(s, unit=unit, position=pos, qualifications=quals, full_name=name,
                               phone=f"09{(uid or 0) % 10**8:08d}")  # fmt: skip
    if uid is not None:
        await make_account(s, person=person, chat_user_id=str(uid), language="vi")
    return person.id


async def grant(s: AsyncSession, person_id: int, unit: Unit | None, role: Role) -> None:
    await roles.grant(s, person_id=person_id, role=role, unit_id=unit.id if unit else None, by="t")


# -- a province with two communes, an organizer, a courses file --------------------------------


async def make_communes(s: AsyncSession) -> dict[str, Unit]:
    """Province LS with communes LS-X1 and LS-X2, by code."""
    province = await make_unit(s, code="LS", kind="province", name="Tỉnh Lạng Sơn")
    mine = await make_unit(s, code="LS-X1", name="Xã Tân Thanh", parent=province)
    other = await make_unit(s, code="LS-X2", name="Xã Hoàng Văn Thụ", parent=province)
    return {"LS": province, "LS-X1": mine, "LS-X2": other}


async def make_organizer(s: AsyncSession, unit: Unit, **extra: Any) -> int:
    """A person of `unit` who is its organizer; returns the person's id."""
    person = await make_person(s, unit=unit, full_name="Lý Thị Tổ Chức", **extra)
    await roles.grant(s, person_id=person.id, role=Role.ORGANIZER, unit_id=unit.id, by="test")
    return person.id


def future(days: int) -> str:
    """A dd/mm/yyyy date `days` from now in Vietnam."""
    return (datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")) + timedelta(days=days)).strftime("%d/%m/%Y")


def courses_xlsx(path: Path, rows: list[dict[str, str]]) -> Path:
    """A courses import file (Vietnamese headers) with `rows`, keyed by column key."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    keys = ["code", "title", "category", "organizer", "place", "starts", "ends", "capacity"]
    by_key = {c.key: c for c in COURSE_COLUMNS}
    ws.append([by_key[k].vi for k in keys])
    for row in rows:
        ws.append([row.get(k, "") for k in keys])
    wb.save(path)
    return path


def course_row(code: str, organizer: str) -> dict[str, str]:
    """A valid course starting in 20 days, organized by the unit coded `organizer`."""
    return {
        "code": code,
        "title": "Bồi dưỡng quản lý nhà nước",
        "category": "QLNN",
        "organizer": organizer,
        "place": "Hội trường xã",
        "starts": f"{future(20)} 07:30",
        "ends": f"{future(21)} 17:00",
        "capacity": "30",
    }
