"""A commune with its head and a province organizer, and courses to nominate people for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain import roles
from storage.models import (
    Role,
    Unit,
)
from tests.factories import make_course, make_person, make_unit

Db = async_sessionmaker[AsyncSession]


NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)


START = NOW + timedelta(days=10)


DEADLINE = NOW + timedelta(days=7)


async def world(db: Db) -> dict[str, int]:
    """A commune with a division; its head, an organizer at the province, an outsider unit."""
    async with db.begin() as s:
        province = await make_unit(s, code="P", kind="province", name="Tỉnh")
        commune = await make_unit(s, code="P-X1", parent=province, name="Xã Một")
        division = await make_unit(s, code="P-X1-VP", kind="division", parent=commune)
        other = await make_unit(s, code="P-X2", parent=province, name="Xã Hai")
        head = await make_person(s, unit=commune, full_name="Trưởng Xã")
        organizer = await make_person(s, unit=province, full_name="Cán Bộ Tỉnh")
        await roles.grant(s, person_id=head.id, role=Role.UNIT_HEAD, unit_id=commune.id, by="t")
        await roles.grant(
            s, person_id=organizer.id, role=Role.ORGANIZER, unit_id=province.id, by="t"
        )
        ids = {"province": province.id, "commune": commune.id, "division": division.id}
        ids |= {"other": other.id, "head": head.id, "organizer": organizer.id}
    return ids


async def add_person(db: Db, unit_id: int, name: str = "Lê Thị Bình", **kw: Any) -> int:
    async with db.begin() as s:
        unit = await s.get(Unit, unit_id)
        return (await make_person(s, unit=unit, full_name=name, **kw)).id


async def add_course(db: Db, **kw: Any) -> int:
    kw.setdefault("starts_at", START)
    kw.setdefault("registration_deadline", DEADLINE)
    kw.setdefault("grants_kind", "digital_skills")
    async with db.begin() as s:
        return (await make_course(s, **kw)).id
