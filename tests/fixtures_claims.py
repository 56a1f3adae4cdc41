"""An organizer, an outsider organizer and a civil servant: for the claims tests and hostile
evidence."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain import roles
from storage.models import (
    Role,
)
from tests.factories import make_person, make_position, make_unit

TZ = ZoneInfo("Asia/Ho_Chi_Minh")


DAYTIME = datetime(2026, 12, 1, 10, 0, tzinfo=TZ).astimezone(UTC)


@dataclass
class People:
    organizer: int  # of commune A
    outsider: int  # organizer of commune B
    person: int  # a commune leader in A, without political theory


async def people(db: async_sessionmaker[AsyncSession]) -> People:
    async with db.begin() as s:
        province = await make_unit(s, kind="province")
        a = await make_unit(s, parent=province, name="Xã Hữu Lũng")
        b = await make_unit(s, parent=province)
        leader = await make_position(s, group="leader")
        org = await make_person(s, unit=a, full_name="Cán bộ Tổ chức")
        out = await make_person(s, unit=b, full_name="Cán bộ Xã Khác")
        await roles.grant(s, person_id=org.id, role=Role.ORGANIZER, unit_id=a.id, by="test")
        await roles.grant(s, person_id=out.id, role=Role.ORGANIZER, unit_id=b.id, by="test")
        person = await make_person(s, unit=a, position=leader, full_name="Lương Thị Hoa")
    return People(org.id, out.id, person.id)
