"""A five-session course with its organizers, unit head and participants, for the attendance
tests and the others that mark sessions (concurrency, Zalo parity)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain import attendance as att
from domain import registration, roles
from storage.models import Registration, RegistrationStatus, Role
from tests.factories import POLICY, make_course, make_person, make_position, make_unit

TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def at(day: str, clock: str) -> datetime:
    d = datetime.strptime(f"{day} {clock}", "%d/%m/%Y %H:%M")
    return d.replace(tzinfo=TZ).astimezone(UTC)


BEFORE = at("20/11/2026", "09:00")
SESSIONS = [(at(f"0{d}/12/2026", "07:30"), at(f"0{d}/12/2026", "11:30")) for d in range(1, 6)]
AFTER = at("06/12/2026", "09:00")


@dataclass
class Course5:
    """A 5-session intermediate political theory course of commune A, and its people."""

    course_id: int
    code: str
    organizer: int  # organizer of commune A
    outsider: int  # organizer of commune B
    head: int  # unit head of commune A
    people: dict[str, int]  # name -> person id (An, Binh, Chi in A; Dung in B)
    regs: dict[str, int]  # name -> registration id


async def course5(db: async_sessionmaker[AsyncSession], *, participants: int = 0) -> Course5:
    async with db.begin() as s:
        province = await make_unit(s, kind="province")
        a = await make_unit(s, parent=province)
        b = await make_unit(s, parent=province)
        leader = await make_position(s, group="leader")
        course = await make_course(
            s,
            title="Trung cấp lý luận chính trị",
            category="political_theory",
            starts_at=SESSIONS[0][0],
            ends_at=SESSIONS[-1][1],
            sessions=SESSIONS,
            organizer=a,
            capacity=50,
            hours=40,
            grants_kind="political_theory",
            grants_level="trung_cap",
        )
        staff = {}
        for name, unit, role in (("Org", a, Role.ORGANIZER), ("Out", b, Role.ORGANIZER),
                                 ("Head", a, Role.UNIT_HEAD)):  # fmt: skip
            p = await make_person(s, unit=unit, full_name=f"Cán bộ {name}")
            await roles.grant(s, person_id=p.id, role=role, unit_id=unit.id, by="test")
            staff[name] = p.id
        people = {}
        names = ["An", "Binh", "Chi", "Dung"] + [f"Học viên {i:02d}" for i in range(participants)]
        for name in names:
            unit = b if name == "Dung" else a
            people[name] = (
                await make_person(s, unit=unit, position=leader, full_name=f"Nguyễn Văn {name}")
            ).id
    regs = {}
    for name, pid in people.items():
        async with db.begin() as s:
            await registration.register(
                s, person_id=pid, course_id=course.id, now=BEFORE, policy=POLICY
            )
            reg = await s.scalar(select(Registration).where(Registration.person_id == pid))
            assert reg is not None and reg.status == RegistrationStatus.REGISTERED
            regs[name] = reg.id
    return Course5(course.id, course.code, staff["Org"], staff["Out"], staff["Head"], people, regs)


async def mark(
    db: async_sessionmaker[AsyncSession], c: Course5, name: str, sessions: range
) -> None:
    async with db.begin() as s:
        for i in sessions:
            assert await att.toggle(
                s,
                actor_id=c.organizer,
                course_id=c.course_id,
                registration_id=c.regs[name],
                session_no=i,
                now=SESSIONS[i][0],
            )
