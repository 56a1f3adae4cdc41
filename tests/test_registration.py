"""Registering, cancelling and the waitlist, as a civil servant pressing the buttons sees them.

Every step runs in its own transaction, like one update of the bot. Each test runs on SQLite
and on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from domain.errors import DomainError, Refusal
from domain.registration import (
    CancelResult,
    Outcome,
    RegistrationResult,
    cancel,
    promote_waitlist,
    register,
)
from domain.reminders import PROMOTED
from storage.models import (
    Course,
    CourseStatus,
    Notification,
    Registration,
    RegistrationStatus,
    Unit,
)
from storage.repos.courses import CourseRepo
from tests.factories import POLICY, make_course, make_person, make_position, make_unit

Db = async_sessionmaker[AsyncSession]

NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
START = NOW + timedelta(days=7)
CUTOFF = timedelta(hours=24)
REGISTERED, WAITLISTED, CANCELLED = (
    RegistrationStatus.REGISTERED,
    RegistrationStatus.WAITLISTED,
    RegistrationStatus.CANCELLED,
)


# --- helpers -------------------------------------------------------------------------------


async def _people(db: Db, n: int, *, unit: Unit | None = None) -> list[int]:
    async with db.begin() as s:
        if unit is None:
            unit = await make_unit(s)
        return [(await make_person(s, unit=unit)).id for _ in range(n)]


async def _course(db: Db, **kw: Any) -> int:
    kw.setdefault("starts_at", START)
    async with db.begin() as s:
        return (await make_course(s, **kw)).id


async def _register(
    db: Db, person_id: int, course_id: int, now: datetime = NOW
) -> RegistrationResult:
    async with db.begin() as s:
        return await register(s, person_id=person_id, course_id=course_id, now=now, policy=POLICY)


async def _cancel(db: Db, person_id: int, course_id: int, now: datetime = NOW) -> CancelResult:
    async with db.begin() as s:
        return await cancel(
            s, person_id=person_id, course_id=course_id, now=now, cutoff=CUTOFF, policy=POLICY
        )


async def _course_row(db: Db, course_id: int) -> Course:
    async with db() as s:
        course = await s.get(Course, course_id)
    assert course is not None
    return course


async def _queue(db: Db, course_id: int) -> list[tuple[int, RegistrationStatus]]:
    """(person, status) of every registration row of the course, in queue order."""
    async with db() as s:
        rows = await s.execute(
            select(Registration.person_id, Registration.status)
            .where(Registration.course_id == course_id)
            .order_by(Registration.queue_seq)
        )
        return [(p, st) for p, st in rows]


async def _promotions(db: Db) -> list[tuple[int, int | None]]:
    async with db() as s:
        rows = await s.execute(
            select(Notification.person_id, Notification.course_id)
            .where(Notification.kind == PROMOTED)
            .order_by(Notification.id)
        )
        return [(p, c) for p, c in rows]


async def _snapshot(db: Db) -> tuple[Any, ...]:
    """Everything a refused request must leave as it was."""
    async with db() as s:
        regs = (
            await s.execute(
                select(
                    Registration.course_id,
                    Registration.person_id,
                    Registration.status,
                    Registration.queue_seq,
                    Registration.cancelled_at,
                ).order_by(Registration.id)
            )
        ).all()
        seqs = (await s.execute(select(Course.id, Course.queue_seq).order_by(Course.id))).all()
        notes = (await s.execute(select(func.count()).select_from(Notification))).scalar_one()
    return tuple(regs), tuple(seqs), notes


async def _refused(
    db: Db,
    code: Refusal,
    call: Literal["register", "cancel"],
    person_id: int,
    course_id: int,
    now: datetime = NOW,
) -> DomainError:
    """Assert the register/cancel press is refused with `code` and changes nothing."""
    before = await _snapshot(db)
    action = _register if call == "register" else _cancel
    with pytest.raises(DomainError) as caught:
        await action(db, person_id, course_id, now)
    assert caught.value.code == code
    assert await _snapshot(db) == before
    return caught.value


# --- registering ---------------------------------------------------------------------------


async def test_registering_with_free_seats_takes_a_seat(db: Db) -> None:
    (person,) = await _people(db, 1)
    course = await _course(db, capacity=2)

    result = await _register(db, person, course)

    assert result == RegistrationResult(Outcome.REGISTERED, course, already=False)
    assert await _queue(db, course) == [(person, REGISTERED)]


async def test_registering_when_full_puts_you_on_the_waitlist_with_your_place(db: Db) -> None:
    a, b, c, d = await _people(db, 4)
    course = await _course(db, capacity=2)

    outcomes = [await _register(db, p, course) for p in (a, b, c, d)]

    assert [(r.outcome, r.waitlist_position) for r in outcomes] == [
        (Outcome.REGISTERED, None),
        (Outcome.REGISTERED, None),
        (Outcome.WAITLISTED, 1),
        (Outcome.WAITLISTED, 2),
    ]
    assert await _queue(db, course) == [
        (a, REGISTERED),
        (b, REGISTERED),
        (c, WAITLISTED),
        (d, WAITLISTED),
    ]


async def test_pressing_register_twice_registers_once(db: Db) -> None:
    a, b = await _people(db, 2)
    course = await _course(db, capacity=1)

    first = await _register(db, a, course)
    again = await _register(db, a, course)
    waiting = await _register(db, b, course)
    waiting_again = await _register(db, b, course)

    assert (first.already, again.already) == (False, True)
    assert again.outcome == Outcome.REGISTERED
    assert (waiting_again.outcome, waiting_again.waitlist_position) == (Outcome.WAITLISTED, 1)
    assert (waiting.already, waiting_again.already) == (False, True)
    assert await _queue(db, course) == [(a, REGISTERED), (b, WAITLISTED)]
    assert (await _course_row(db, course)).queue_seq == 2


@pytest.mark.parametrize(
    "status",
    [CourseStatus.DRAFT, CourseStatus.CLOSED, CourseStatus.CANCELLED, CourseStatus.FINISHED],
)
async def test_course_not_open_refuses_registration(db: Db, status: CourseStatus) -> None:
    (person,) = await _people(db, 1)
    course = await _course(db, status=status)

    await _refused(db, Refusal.CLOSED, "register", person, course)


async def test_registration_deadline_refuses_from_the_deadline_on(db: Db) -> None:
    a, b = await _people(db, 2)
    deadline = NOW + timedelta(days=2)
    course = await _course(db, registration_deadline=deadline)

    on_time = await _register(db, a, course, now=deadline - timedelta(seconds=1))
    error = await _refused(db, Refusal.DEADLINE_PASSED, "register", b, course, now=deadline)
    await _refused(db, Refusal.DEADLINE_PASSED, "register", b, course, now=deadline + CUTOFF)

    assert on_time.outcome == Outcome.REGISTERED
    assert error.details["deadline"] == deadline


async def test_unknown_course_is_refused_as_not_found(db: Db) -> None:
    (person,) = await _people(db, 1)

    await _refused(db, Refusal.NOT_FOUND, "register", person, 987_654)


async def test_course_for_other_units_refuses_people_outside_them(db: Db) -> None:
    """A course for a district admits its communes (the subtree) and nobody else."""
    async with db.begin() as s:
        province = await make_unit(s, code="LS", kind="province")
        trang_dinh = await make_unit(s, code="LS-TD", kind="district", parent=province)
        van_lang = await make_unit(s, code="LS-VL", kind="district", parent=province)
        inside = await make_person(s, unit=await make_unit(s, parent=trang_dinh))
        outside = await make_person(s, unit=await make_unit(s, parent=van_lang))
        course = (await make_course(s, starts_at=START, audience={"units": ["LS-TD"]})).id
        inside_id, outside_id = inside.id, outside.id

    assert (await _register(db, inside_id, course)).outcome == Outcome.REGISTERED
    await _refused(db, Refusal.OUTSIDE_AUDIENCE, "register", outside_id, course)


async def test_course_for_some_positions_or_groups_refuses_everyone_else(db: Db) -> None:
    async with db.begin() as s:
        unit = await make_unit(s)
        culture = await make_position(s, code="vh_xh", group="civil_servant")
        chair = await make_position(s, code="ct_ubnd", group="leader")
        clerk = await make_position(s, code="van_phong", group="civil_servant")
        by_code = await make_person(s, unit=unit, position=culture)
        leader = await make_person(s, unit=unit, position=chair)
        other = await make_person(s, unit=unit, position=clerk)
        no_position = await make_person(s, unit=unit)
        audience = {"groups": ["leader"], "positions": ["vh_xh"]}
        course = (await make_course(s, starts_at=START, audience=audience)).id
        ids = by_code.id, leader.id, other.id, no_position.id

    assert (await _register(db, ids[0], course)).outcome == Outcome.REGISTERED
    assert (await _register(db, ids[1], course)).outcome == Outcome.REGISTERED
    await _refused(db, Refusal.OUTSIDE_AUDIENCE, "register", ids[2], course)
    await _refused(db, Refusal.OUTSIDE_AUDIENCE, "register", ids[3], course)


async def test_course_at_the_same_time_as_one_you_attend_is_refused(db: Db) -> None:
    (person,) = await _people(db, 1)
    morning = await _course(
        db, title="Kỹ năng số", starts_at=START, ends_at=START + timedelta(hours=4)
    )
    overlapping = await _course(
        db, starts_at=START + timedelta(hours=3), ends_at=START + timedelta(hours=6)
    )
    afternoon = await _course(
        db, starts_at=START + timedelta(hours=4), ends_at=START + timedelta(hours=8)
    )
    await _register(db, person, morning)

    error = await _refused(db, Refusal.CLASH, "register", person, overlapping)

    assert error.details == {"course_id": morning, "title": "Kỹ năng số"}
    # Back to back is not a clash.
    assert (await _register(db, person, afternoon)).outcome == Outcome.REGISTERED


async def test_course_meeting_in_the_gaps_of_another_does_not_clash(db: Db) -> None:
    """Clashes are judged on the sessions, not on the first-to-last-day span."""
    (person,) = await _people(db, 1)
    day = timedelta(days=1)
    weekly = await _course(
        db,
        starts_at=START,
        ends_at=START + 2 * day + timedelta(hours=4),
        sessions=[
            (START, START + timedelta(hours=4)),
            (START + 2 * day, START + 2 * day + timedelta(hours=4)),
        ],
    )
    between = await _course(db, starts_at=START + day, ends_at=START + day + timedelta(hours=4))
    on_second_day = await _course(
        db,
        starts_at=START + 2 * day + timedelta(hours=1),
        ends_at=START + 2 * day + timedelta(hours=2),
    )
    await _register(db, person, weekly)

    assert (await _register(db, person, between)).outcome == Outcome.REGISTERED
    await _refused(db, Refusal.CLASH, "register", person, on_second_day)


# --- cancelling and the waitlist -----------------------------------------------------------


async def test_cancelling_frees_the_seat_for_the_first_in_line_and_notifies_them(db: Db) -> None:
    a, b, c = await _people(db, 3)
    course = await _course(db, capacity=1)
    for p in (a, b, c):
        await _register(db, p, course)

    result = await _cancel(db, a, course, now=START - CUTOFF - timedelta(minutes=1))

    assert result == CancelResult(course_id=course, promoted_person_id=b)
    assert await _queue(db, course) == [(a, CANCELLED), (b, REGISTERED), (c, WAITLISTED)]
    assert await _promotions(db) == [(b, course)]
    assert (await _register(db, c, course)).waitlist_position == 1


async def test_cancelling_at_the_cut_off_is_still_allowed(db: Db) -> None:
    (person,) = await _people(db, 1)
    course = await _course(db)
    await _register(db, person, course)

    result = await _cancel(db, person, course, now=START - CUTOFF)

    assert result.promoted_person_id is None
    assert await _queue(db, course) == [(person, CANCELLED)]


async def test_cancelling_after_the_cut_off_is_refused_and_changes_nothing(db: Db) -> None:
    a, b = await _people(db, 2)
    course = await _course(db, capacity=1)
    await _register(db, a, course)
    await _register(db, b, course)
    late = START - CUTOFF + timedelta(seconds=1)

    error = await _refused(db, Refusal.TOO_LATE_TO_CANCEL, "cancel", a, course, now=late)

    assert error.details["cutoff"] == START - CUTOFF
    assert await _promotions(db) == []


async def test_leaving_the_waitlist_promotes_nobody(db: Db) -> None:
    a, b, c = await _people(db, 3)
    course = await _course(db, capacity=1)
    for p in (a, b, c):
        await _register(db, p, course)

    # Leaving the queue frees no seat, so even after the cut-off it is allowed.
    result = await _cancel(db, b, course, now=START - timedelta(hours=1))

    assert result.promoted_person_id is None
    assert await _queue(db, course) == [(a, REGISTERED), (b, CANCELLED), (c, WAITLISTED)]
    assert await _promotions(db) == []
    assert (await _register(db, c, course)).waitlist_position == 1


async def test_cancelling_without_a_registration_is_refused(db: Db) -> None:
    a, b = await _people(db, 2)
    course = await _course(db)
    await _register(db, a, course)
    assert not (await _cancel(db, a, course)).already

    await _refused(db, Refusal.NOT_REGISTERED, "cancel", b, course)
    await _refused(db, Refusal.NOT_FOUND, "cancel", a, 987_654)


async def test_cancelling_twice_cancels_once(db: Db) -> None:
    a, b = await _people(db, 2)
    course = await _course(db, capacity=1)
    await _register(db, a, course)
    await _register(db, b, course)
    assert (await _cancel(db, a, course)).promoted_person_id == b
    again = await _cancel(db, a, course)
    assert again.already and again.promoted_person_id is None
    assert await _queue(db, course) == [(a, CANCELLED), (b, REGISTERED)]
    assert len(await _promotions(db)) == 1


async def test_registering_again_after_cancelling_goes_to_the_back_of_the_queue(db: Db) -> None:
    a, b, c = await _people(db, 3)
    course = await _course(db, capacity=1)
    for p in (a, b, c):
        await _register(db, p, course)
    await _cancel(db, b, course)

    back = await _register(db, b, course)
    promoted = await _cancel(db, a, course)

    assert (back.outcome, back.already, back.waitlist_position) == (Outcome.WAITLISTED, False, 2)
    assert promoted.promoted_person_id == c
    assert await _queue(db, course) == [(a, CANCELLED), (c, REGISTERED), (b, WAITLISTED)]
    assert await _promotions(db) == [(c, course)]


async def test_a_seat_freed_for_someone_who_returned_is_announced_again(db: Db) -> None:
    """Promoted, cancelled, back on the waitlist, promoted again: two notices, not one."""
    a, b, c = await _people(db, 3)
    course = await _course(db, capacity=1)
    await _register(db, a, course)
    await _register(db, b, course)
    await _cancel(db, a, course)  # b promoted
    await _register(db, c, course)  # c waits
    await _cancel(db, b, course)  # c promoted
    await _register(db, b, course)  # b waits again
    await _cancel(db, c, course)  # b promoted again

    assert await _promotions(db) == [(b, course), (c, course), (b, course)]


async def test_more_seats_fill_from_the_waitlist_in_arrival_order(db: Db) -> None:
    """An organizer adds seats; promote_waitlist gives them to the queue in order, once."""
    people = await _people(db, 5)
    course = await _course(db, capacity=1)
    for p in people:
        await _register(db, p, course)

    async with db.begin() as s:
        locked = await CourseRepo(s).lock(course)
        assert locked is not None
        locked.capacity = 3
        promoted = await promote_waitlist(s, course=locked, now=NOW, policy=POLICY)
    async with db.begin() as s:
        locked = await CourseRepo(s).lock(course)
        assert locked is not None
        again = await promote_waitlist(s, course=locked, now=NOW, policy=POLICY)

    assert promoted == people[1:3]
    assert again == []
    assert [st for _p, st in await _queue(db, course)] == [REGISTERED] * 3 + [WAITLISTED] * 2
    assert await _promotions(db) == [(p, course) for p in people[1:3]]


async def test_a_cancelled_course_promotes_nobody(db: Db) -> None:
    a, b = await _people(db, 2)
    course = await _course(db, capacity=1)
    await _register(db, a, course)
    await _register(db, b, course)

    async with db.begin() as s:
        locked = await CourseRepo(s).lock(course)
        assert locked is not None
        locked.status = CourseStatus.CANCELLED
        locked.capacity = 2
        promoted = await promote_waitlist(s, course=locked, now=NOW, policy=POLICY)

    assert promoted == []
    assert await _queue(db, course) == [(a, REGISTERED), (b, WAITLISTED)]


async def test_seats_added_later_go_to_the_waitlist_before_a_newcomer(db: Db) -> None:
    """An organizer raises the capacity (e.g. by re-importing the course): the queue comes first."""
    a, b, newcomer = await _people(db, 3)
    course = await _course(db, capacity=1)
    await _register(db, a, course)
    await _register(db, b, course)
    async with db.begin() as s:
        row = await s.get(Course, course)
        assert row is not None
        row.capacity = 2

    result = await _register(db, newcomer, course)

    assert (result.outcome, result.waitlist_position) == (Outcome.WAITLISTED, 1)
    assert await _queue(db, course) == [(a, REGISTERED), (b, REGISTERED), (newcomer, WAITLISTED)]
    assert await _promotions(db) == [(b, course)]


# --- the rush ------------------------------------------------------------------------------


async def test_500_simultaneous_presses_fill_50_seats_exactly_and_queue_the_rest(
    db: Db, db_engine: AsyncEngine
) -> None:
    people = await _people(db, 500)
    course = await _course(db, capacity=50)

    async def press(person_id: int) -> RegistrationResult:
        async with db.begin() as s:
            return await register(s, person_id=person_id, course_id=course, now=NOW, policy=POLICY)

    started = time.perf_counter()
    results = await asyncio.gather(*(press(p) for p in people), return_exceptions=True)
    elapsed = time.perf_counter() - started
    print(f"\n500 presses on {db_engine.dialect.name}: {elapsed:.2f} s")

    errors = [r for r in results if isinstance(r, BaseException)]
    assert errors == []
    by_person = {p: r for p, r in zip(people, results, strict=True)}
    async with db() as s:
        rows = (
            (await s.execute(select(Registration).where(Registration.course_id == course)))
            .scalars()
            .all()
        )
    registered = [r for r in rows if r.status == REGISTERED]
    waitlisted = [r for r in rows if r.status == WAITLISTED]
    assert (len(registered), len(waitlisted), len(rows)) == (50, 450, 500)
    assert sorted(r.queue_seq for r in rows) == list(range(1, 501))
    assert (await _course_row(db, course)).queue_seq == 500
    assert max(r.queue_seq for r in registered) < min(r.queue_seq for r in waitlisted)
    # What each presser was told matches where they ended up.
    for row in registered:
        told = by_person[row.person_id]
        assert isinstance(told, RegistrationResult) and told.outcome == Outcome.REGISTERED
    positions = []
    for row in waitlisted:
        told = by_person[row.person_id]
        assert isinstance(told, RegistrationResult) and told.outcome == Outcome.WAITLISTED
        assert told.waitlist_position == row.queue_seq - 50
        positions.append(told.waitlist_position)
    assert sorted(positions) == list(range(1, 451))


@pytest.mark.databases("sqlite")
async def test_sqlite_waits_for_writers_instead_of_failing(db_engine: AsyncEngine) -> None:
    """WAL and a busy timeout: a second writer queues rather than seeing 'database is locked'."""
    async with db_engine.connect() as conn:
        mode = (await conn.execute(text("PRAGMA journal_mode"))).scalar_one()
        timeout = (await conn.execute(text("PRAGMA busy_timeout"))).scalar_one()
    assert (mode, timeout) == ("wal", 30_000)
