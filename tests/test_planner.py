"""The reminder planner: set-based, and row for row what the person-by-person planner made.

The reference below is the planner as it was before it became set-based (one person at a
time, through `status_of`), kept here only to compare against: on a varied fixture, the rows
a pass adds must be exactly the rows the reference owes minus the keys already taken.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.context import Resources
from config.settings import Settings
from domain.reminders import (
    HOURS_BEHIND,
    REGISTRATION_DEADLINE,
    REVIEW_MEETING,
    STANDARD_DEADLINE,
    Policy,
    add_months,
    at_local,
    next_review,
    out_of_quiet_hours,
    set_category,
)
from domain.standards import REFRESHER, State, status_of
from schedules.notifications import plan_all
from storage.db import create_engine, make_sessionmaker
from storage.models import (
    ChatAccount,
    CourseStatus,
    DegreeStudy,
    Notification,
    NotificationState,
    Person,
    Position,
    Registration,
    RegistrationStatus,
    Role,
    RoleGrant,
    Secondment,
    StandardRule,
    TrainingRecord,
    Unit,
)
from tests.factories import make_course, make_person, make_unit

TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def at(day: str, clock: str) -> datetime:
    d = datetime.strptime(f"{day} {clock}", "%d/%m/%Y %H:%M")
    return d.replace(tzinfo=TZ).astimezone(UTC)


# -- the reference: the person-by-person planner ------------------------------------------------

Row = tuple[str, int, str, int | None, tuple[tuple[str, Any], ...], datetime, str, bool, int]


def _plan_due(day: date, now: datetime, policy: Policy) -> datetime:
    return out_of_quiet_hours(max(at_local(day, policy.morning, policy.tz), now), policy)


def _grace_offsets(deadline: date, today: date, days: tuple[int, ...]) -> list[int]:
    ahead = [d for d in days if deadline - timedelta(days=d) >= today]
    passed = [d for d in days if deadline - timedelta(days=d) < today]
    return [*ahead, min(passed)] if passed else ahead


def _note(
    key: str,
    person_id: int,
    kind: str,
    due: datetime,
    params: dict[str, Any],
    course_id: int | None = None,
) -> Row:
    return (
        key[:120],
        person_id,
        kind,
        course_id,
        tuple(sorted(params.items())),
        due,
        NotificationState.PENDING.value,
        False,
        0,
    )


async def _linked_people(session: AsyncSession) -> list[int]:
    stmt = (
        select(ChatAccount.person_id)
        .join(Person, Person.id == ChatAccount.person_id)
        .where(ChatAccount.active.is_(True), Person.active.is_(True))
        .distinct()
        .order_by(ChatAccount.person_id)
    )
    return [pid for pid in (await session.execute(stmt)).scalars() if pid is not None]


async def _owed_to(
    session: AsyncSession, *, person_id: int, now: datetime, policy: Policy, hours_target: int
) -> list[Row]:
    today = now.astimezone(policy.tz).date()
    owed: list[Row] = []
    statuses = await status_of(
        session, person_id=person_id, now=now, today=today, hours_target=hours_target
    )
    for s in statuses:
        if s.state not in (State.MISSING, State.OVERDUE):
            continue
        if s.rule.requires_kind == REFRESHER:
            day, month = policy.hours_day
            if today >= date(today.year, month, day):
                due = _plan_due(date(today.year, month, day), now, policy)
                owed.append(
                    _note(
                        f"{HOURS_BEHIND}:{person_id}:{s.rule.id}:{today.year}",
                        person_id,
                        HOURS_BEHIND,
                        due,
                        {"rule_id": s.rule.id, "year": today.year},
                    )
                )
        elif s.state == State.MISSING and s.deadline is not None:
            for days in _grace_offsets(s.deadline, today, policy.grace_days):
                due = _plan_due(s.deadline - timedelta(days=days), now, policy)
                owed.append(
                    _note(
                        f"{STANDARD_DEADLINE}:{person_id}:{s.rule.id}:{s.deadline}:{days}",
                        person_id,
                        STANDARD_DEADLINE,
                        due,
                        {"rule_id": s.rule.id, "days": days},
                    )
                )
        for course in s.closing:
            closes = course.registration_deadline.astimezone(policy.tz).date()
            due = _plan_due(closes - timedelta(days=policy.deadline_days), now, policy)
            if due >= course.registration_deadline:
                continue
            owed.append(
                _note(
                    f"{REGISTRATION_DEADLINE}:{person_id}:{course.id}",
                    person_id,
                    REGISTRATION_DEADLINE,
                    due,
                    {"rule_id": s.rule.id},
                    course.id,
                )
            )
    owed += await _plan_reviews(session, person_id=person_id, today=today, now=now, policy=policy)
    return owed


async def _nearest_holders(session: AsyncSession, unit_id: int | None, role: Role) -> list[int]:
    seen: set[int] = set()
    while unit_id is not None and unit_id not in seen:
        seen.add(unit_id)
        stmt = select(RoleGrant.person_id).where(
            RoleGrant.unit_id == unit_id, RoleGrant.role == role
        )
        found = sorted(set((await session.execute(stmt)).scalars()))
        if found:
            return found
        unit = await session.get(Unit, unit_id)
        unit_id = unit.parent_id if unit else None
    return []


async def _review_recipients(session: AsyncSession, sec: Secondment) -> dict[int, str]:
    home = sec.from_unit_id
    if home is None:
        person = await session.get(Person, sec.person_id)
        home = person.unit_id if person else None
    told = {pid: "home_organizer" for pid in await _nearest_holders(session, home, Role.ORGANIZER)}
    for pid in await _nearest_holders(session, sec.to_unit_id, Role.UNIT_HEAD):
        told[pid] = "host_head"
    told.pop(sec.person_id, None)
    return told


async def _overseen(session: AsyncSession, person_id: int, today: date) -> list[Secondment]:
    roles = {
        g.role
        for g in (
            await session.execute(
                select(RoleGrant).where(
                    RoleGrant.person_id == person_id,
                    RoleGrant.role.in_((Role.ORGANIZER, Role.UNIT_HEAD)),
                )
            )
        ).scalars()
    }
    if not roles:
        return []
    stmt = select(Secondment).where(
        Secondment.starts_on <= today + timedelta(days=31 * 6),
        (Secondment.ends_on.is_(None)) | (Secondment.ends_on >= today),
    )
    return [
        sec
        for sec in (await session.execute(stmt)).scalars()
        if person_id in await _review_recipients(session, sec)
    ]


async def _plan_reviews(
    session: AsyncSession, *, person_id: int, today: date, now: datetime, policy: Policy
) -> list[Row]:
    own = (
        (await session.execute(select(Secondment).where(Secondment.person_id == person_id)))
        .scalars()
        .all()
    )
    overseen = await _overseen(session, person_id, today)
    owed: list[Row] = []
    for sec in [*own, *overseen]:
        if sec.ends_on is not None and sec.ends_on < today:
            continue
        review = next_review(sec, today)
        if review is None:
            continue
        params: dict[str, Any] = {"secondment_id": sec.id, "review_on": review.isoformat()}
        if sec.next_review_on is None and sec.last_review_on is None:
            n = 1
            while add_months(sec.starts_on, n * sec.review_every_months) < review:
                n += 1
            key = f"{REVIEW_MEETING}:{sec.id}:{n}"
        else:
            key = f"{REVIEW_MEETING}:{sec.id}:{review.isoformat()}"
        if sec.person_id != person_id:
            params["as"] = (await _review_recipients(session, sec))[person_id]
            key += f":{person_id}"
        due = _plan_due(review - timedelta(days=policy.review_days), now, policy)
        owed.append(_note(key, person_id, REVIEW_MEETING, due, params))
    return owed


async def expected_new(
    db: async_sessionmaker[AsyncSession], now: datetime, settings: Settings
) -> dict[str, Row]:
    """What the reference would add now: its rows, first per key, minus keys already taken."""
    async with db() as s:
        taken = set((await s.execute(select(Notification.dedupe_key))).scalars())
        owed: dict[str, Row] = {}
        for person_id in await _linked_people(s):
            for row in await _owed_to(
                s,
                person_id=person_id,
                now=now,
                policy=settings.reminder_policy(),
                hours_target=settings.annual_hours_target,
            ):
                if row[0] not in taken:
                    owed.setdefault(row[0], row)
    return owed


async def table(db: async_sessionmaker[AsyncSession]) -> dict[str, Row]:
    async with db() as s:
        notes = (await s.execute(select(Notification))).scalars()
        return {
            n.dedupe_key: (
                n.dedupe_key,
                n.person_id,
                n.kind,
                n.course_id,
                tuple(sorted(n.params.items())),
                n.due_at,
                str(n.state),
                n.urgent,
                n.attempts,
            )
            for n in notes
        }


# -- the fixture ----------------------------------------------------------------------------------

NOW = at("02/10/2026", "10:00")  # after the yearly hours date (01/10)
NIGHT = at("05/10/2026", "22:30")  # in the quiet hours


async def build(db: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    """People of several positions, ranks, units and records; rules, courses, secondments."""
    ids: dict[str, int] = {}
    async with db.begin() as s:
        pos = {p.code: p for p in (await s.execute(select(Position))).scalars()}
        province = await make_unit(s, code="P1", kind="province")
        district = await make_unit(s, code="P1-D1", kind="district", parent=province)
        commune = await make_unit(s, code="P1-D1-C1", parent=district)
        other = await make_unit(s, code="P2", kind="province")
        other_commune = await make_unit(s, code="P2-C1", parent=other)
        rules = {r.code: r for r in (await s.execute(select(StandardRule))).scalars()}
        rules["leader-university"].grace_until = date(2027, 1, 15)  # 180 days passed, 90 ahead
        rules["cs-justice-degree"].grace_until = date(2026, 9, 1)  # overdue
        rules["digital-skills"].grace_until = None
        rules["state-management-principal"].grace_until = date(2027, 6, 1)
        s.add(
            StandardRule(
                code="p1-rank-types",
                title_vi="x",
                title_en="x",
                applies_to={"units": ["P1-D1"], "ranks": ["chuyen_vien"], "types": ["cong_chuc"]},
                requires_kind="it",
                requires_level=None,
                requires_fields=[],
                grace_until=date(2026, 12, 31),
            )
        )
        s.add(
            StandardRule(
                code="p2-hours",
                title_vi="x",
                title_en="x",
                applies_to={"units": ["P2"]},
                requires_kind=REFRESHER,
                requires_hours=8,
            )
        )
        s.add(
            StandardRule(
                code="retired",
                title_vi="x",
                title_en="x",
                applies_to={},
                requires_kind="it",
                active=False,
            )
        )
        await s.flush()

        def course(**kw: Any) -> Any:
            kw.setdefault("starts_at", NOW + timedelta(days=20))
            kw.setdefault("registration_deadline", NOW + timedelta(days=10))
            return make_course(s, **kw)

        digital = await course(code="DS-1", grants_kind="digital_skills", hours=8)
        digital_p2 = await course(
            code="DS-2",
            grants_kind="digital_skills",
            hours=4,
            audience={"units": ["P2"]},
            starts_at=NOW + timedelta(days=5),
        )
        await course(code="DS-3", grants_kind="digital_skills", status=CourseStatus.CLOSED)
        principal = await course(
            code="QLNN-CVC",
            grants_kind="state_management",
            grants_level="chuyen_vien_chinh",
            hours=40,
        )
        law = await course(
            code="LAW",
            title="Luật hành chính",
            grants_kind="education",
            grants_level="dai_hoc",
            hours=0,
        )
        # Closing tonight: a reminder now would fall after the quiet hours, after the deadline.
        tonight = await course(
            code="H-TONIGHT",
            hours=2,
            starts_at=at("07/10/2026", "08:00"),
            registration_deadline=at("05/10/2026", "23:30"),
        )
        soon = [
            await course(
                code=f"H-{i}",
                hours=3 + i,
                starts_at=NOW + timedelta(days=3 + i),
                registration_deadline=NOW + timedelta(days=2 + i),
            )
            for i in range(4)
        ]
        ongoing = await course(
            code="ONGOING",
            hours=24,
            starts_at=NOW - timedelta(days=1),
            ends_at=NOW + timedelta(days=30),
            registration_deadline=NOW - timedelta(days=2),
        )
        next_year = await course(
            code="NEXT-YEAR",
            hours=30,
            starts_at=at("20/12/2026", "08:00"),
            ends_at=at("05/01/2027", "17:00"),
        )

        async def person(
            name: str,
            *,
            unit: Unit = commune,
            position: str | None = None,
            quals: tuple[tuple[str, str, str], ...] = (),
            linked: bool = True,
            **kw: Any,
        ) -> Person:
            p = await make_person(
                s,
                full_name=name,
                unit=unit,
                position=pos[position] if position else None,
                qualifications=quals,
                **kw,
            )
            if linked:
                s.add(
                    ChatAccount(
                        channel="telegram",
                        chat_user_id=f"t{p.id}",
                        chat_id=f"t{p.id}",
                        person_id=p.id,
                    )
                )
            ids[name] = p.id
            return p

        def hours(p: Person, n: int, ends_on: date = date(2026, 3, 1)) -> None:
            s.add(TrainingRecord(person_id=p.id, title="x", hours=n, ends_on=ends_on))

        def reg(p: Person, c: Any, status: RegistrationStatus) -> None:
            s.add(Registration(person_id=p.id, course_id=c.id, status=status, queue_seq=0))

        chief = await person(
            "chief",
            position="chu_tich_ubnd",
            quals=(("education", "cao_dang", "Kế toán"), ("political_theory", "trung_cap", "")),
        )
        hours(chief, 10)
        hours(chief, 50, date(2025, 12, 31))  # last year's hours do not count
        graduate = await person(
            "graduate",
            position="pho_chu_tich_ubnd",
            quals=(
                ("education", "thac_si", "Quản lý công"),
                ("state_management", "chuyen_vien", ""),
                ("digital_skills", "", ""),
            ),
        )
        hours(graduate, 40)
        culture = await person(
            "culture",
            position="cc_van_hoa_xa_hoi",
            quals=(("education", "dai_hoc", "Công nghệ thông tin"),),
        )
        reg(culture, digital, RegistrationStatus.REGISTERED)  # digital skills in progress
        reg(culture, ongoing, RegistrationStatus.ATTENDED)
        hours(culture, 20)  # 20 + 24 ongoing this year: hours in progress
        culture2 = await person(
            "culture2",
            position="cc_van_hoa_xa_hoi",
            quals=(("education", "dai_hoc", "Văn hóa du lịch"),),
        )
        reg(culture2, next_year, RegistrationStatus.REGISTERED)  # ends next year: not counted
        reg(culture2, soon[0], RegistrationStatus.REGISTERED)  # taken: the next course instead
        reg(culture2, digital, RegistrationStatus.WAITLISTED)  # not in progress
        justice = await person(
            "justice",
            position="cc_tu_phap_ho_tich",
            civil_service_rank="chuyen_vien",
            person_type="cong_chuc",
        )
        s.add(
            DegreeStudy(
                person_id=justice.id,
                level="dai_hoc",
                field="Luật",
                starts_on=date(2025, 9, 1),
                expected_end=date(2027, 6, 30),
            )
        )
        justice2 = await person("justice2", position="cc_tu_phap_ho_tich", unit=other_commune)
        s.add(
            DegreeStudy(
                person_id=justice2.id,
                level="dai_hoc",
                field="Luật",
                starts_on=date(2020, 9, 1),
                expected_end=date(2024, 6, 30),
            )
        )
        s.add(
            DegreeStudy(
                person_id=justice2.id,
                level="cao_dang",
                field="Luật",
                starts_on=date(2025, 9, 1),
                expected_end=date(2027, 6, 30),
            )
        )
        principal_p = await person(
            "principal", civil_service_rank="chuyen_vien_chinh", unit=district
        )
        reg(principal_p, principal, RegistrationStatus.CANCELLED)
        far = await person("far", unit=other_commune, person_type="vien_chuc")
        hours(far, 6)
        await person("far-met", unit=other_commune, position="cc_van_phong_thong_ke")
        hours_p2 = await person("p2-met", unit=other_commune)
        hours(hours_p2, 41)
        await person("unlinked", position="chu_tich_ubnd", linked=False)
        await person("inactive", position="chu_tich_ubnd", active=False)
        gone = await person("chat-off", position="chu_tich_ubnd")
        s.add(
            ChatAccount(
                channel="zalo",
                chat_user_id=f"z{gone.id}",
                chat_id=f"z{gone.id}",
                person_id=gone.id,
                active=False,
            )
        )
        await s.flush()
        await s.execute(
            text("UPDATE chat_accounts SET active = :f WHERE chat_user_id = :u"),
            {"f": False, "u": f"t{gone.id}"},
        )
        two = await person("two-chats", position="bi_thu", unit=province)
        s.add(
            ChatAccount(
                channel="zalo", chat_user_id=f"z{two.id}", chat_id=f"z{two.id}", person_id=two.id
            )
        )
        await set_category(s, person_id=chief.id, category="standard", on=False)  # still planned

        # Reviews: the person, the host unit's head and the home unit's nearest organizer.
        organizer = await person("organizer", unit=province)
        head = await person("head", unit=other)
        both = await person("both", unit=other_commune)
        everywhere = await person("everywhere", unit=province)
        s.add_all(
            [
                RoleGrant(person_id=organizer.id, role=Role.ORGANIZER, unit_id=province.id),
                RoleGrant(person_id=head.id, role=Role.UNIT_HEAD, unit_id=other.id),
                RoleGrant(person_id=both.id, role=Role.ORGANIZER, unit_id=other_commune.id),
                RoleGrant(person_id=both.id, role=Role.UNIT_HEAD, unit_id=other_commune.id),
                RoleGrant(person_id=everywhere.id, role=Role.ORGANIZER, unit_id=None),
            ]
        )
        seconded = await person("seconded", unit=commune)
        away = await person("away", unit=other_commune, linked=False)
        s.add_all(
            [
                Secondment(
                    person_id=seconded.id,
                    to_unit_id=other.id,
                    starts_on=date(2026, 4, 15),
                    review_every_months=6,
                ),
                Secondment(
                    person_id=seconded.id,
                    to_unit_id=other_commune.id,
                    from_unit_id=district.id,
                    starts_on=date(2025, 1, 10),
                    review_every_months=3,
                    last_review_on=date(2026, 7, 1),
                ),
                Secondment(
                    person_id=away.id,
                    to_unit_id=other_commune.id,
                    starts_on=date(2026, 1, 20),
                    next_review_on=date(2026, 10, 20),
                ),
                Secondment(person_id=away.id, to_unit_id=other.id, starts_on=date(2027, 8, 1)),
                Secondment(person_id=seconded.id, to_unit_id=other.id, starts_on=date(2027, 8, 1)),
                Secondment(
                    person_id=seconded.id,
                    to_unit_id=other.id,
                    starts_on=date(2025, 1, 1),
                    ends_on=date(2026, 6, 30),
                ),
                Secondment(
                    person_id=organizer.id,
                    to_unit_id=other.id,
                    starts_on=date(2026, 8, 1),
                    ends_on=date(2026, 11, 30),
                    review_every_months=6,
                ),
            ]
        )
        await s.flush()
        # Rows already there: one sent, one pending with another time; both stay as they are.
        s.add(
            Notification(
                dedupe_key=f"{HOURS_BEHIND}:{chief.id}:{rules['annual-refresher-hours'].id}:2026",
                person_id=chief.id,
                kind=HOURS_BEHIND,
                params={"x": 1},
                due_at=NOW - timedelta(days=1),
                state=NotificationState.SENT,
            )
        )
        s.add(
            Notification(
                dedupe_key=f"{REGISTRATION_DEADLINE}:{chief.id}:{soon[1].id}",
                person_id=chief.id,
                kind=REGISTRATION_DEADLINE,
                course_id=soon[1].id,
                params={"rule_id": 0},
                due_at=NOW + timedelta(hours=1),
            )
        )
        ids["digital_p2"] = digital_p2.id
        ids["law"] = law.id
        ids["tonight"] = tonight.id
    return ids


def _settings() -> Settings:
    return Settings(_env_file=None)  # type: ignore[call-arg]


async def plan_and_compare(db: async_sessionmaker[AsyncSession], now: datetime) -> int:
    settings = _settings()
    before = await table(db)
    expected = await expected_new(db, now, settings)
    with time_machine.travel(now, tick=False):
        added = await plan_all(Resources(settings, db))
    after = await table(db)
    assert {k: v for k, v in after.items() if k in before} == before  # nothing else changed
    new = {k: v for k, v in after.items() if k not in before}
    assert sorted(new) == sorted(expected)
    assert new == expected
    assert added == len(expected)
    return added


# -- the tests ------------------------------------------------------------------------------------


async def test_a_pass_adds_exactly_the_rows_the_person_by_person_planner_owed(
    db: async_sessionmaker[AsyncSession],
) -> None:
    ids = await build(db)
    assert await plan_and_compare(db, NOW) > 30
    kinds = {row[2] for row in (await table(db)).values()}
    assert {HOURS_BEHIND, STANDARD_DEADLINE, REGISTRATION_DEADLINE, REVIEW_MEETING} <= kinds
    assert await plan_and_compare(db, NOW) == 0  # planned twice: nothing more
    # Days later, at night: new grace offsets, late rows moved out of the quiet hours.
    assert await plan_and_compare(db, NIGHT) > 0
    assert await plan_and_compare(db, NIGHT) == 0
    rows = await table(db)
    away = (ids["unlinked"], ids["inactive"], ids["chat-off"])
    assert not any(r[1] in away for r in rows.values())


async def test_a_change_to_the_data_plans_what_it_now_owes(
    db: async_sessionmaker[AsyncSession],
) -> None:
    ids = await build(db)
    await plan_and_compare(db, NOW)
    async with db.begin() as s:
        graduate = await s.get(Person, ids["graduate"])
        assert graduate is not None
        graduate.position_id = (
            await s.execute(select(Position.id).where(Position.code == "cc_tu_phap_ho_tich"))
        ).scalar_one()
        await s.execute(
            text("DELETE FROM training_records WHERE person_id = :p"), {"p": ids["graduate"]}
        )
        s.add(
            ChatAccount(
                channel="telegram", chat_user_id="late", chat_id="late", person_id=ids["unlinked"]
            )
        )
    assert await plan_and_compare(db, NOW + timedelta(days=1)) > 0


@pytest.mark.databases("postgresql")
async def test_two_passes_at_once_on_postgresql_add_each_row_once(
    db: async_sessionmaker[AsyncSession], db_engine: AsyncEngine
) -> None:
    await build(db)
    expected = await expected_new(db, NOW, _settings())
    async with db_engine.connect() as conn:
        schema = (await conn.execute(text("SELECT current_schema()"))).scalar_one()
    url = db_engine.url.render_as_string(hide_password=False)
    other = create_engine(url, connect_args={"server_settings": {"search_path": schema}})
    try:
        with time_machine.travel(NOW, tick=False):
            one, two = await asyncio.gather(
                plan_all(Resources(_settings(), db)),
                plan_all(Resources(_settings(), make_sessionmaker(other))),
            )
    finally:
        await other.dispose()
    assert one + two == len(expected)
    async with db() as s:
        count = (await s.execute(text("SELECT count(*) FROM notifications"))).scalar_one()
    assert count == len(expected) + 2  # and the two rows the fixture made
