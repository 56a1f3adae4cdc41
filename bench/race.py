"""How fast the seat race runs: N people press "register" at once on one course.

Runs the same race as tests/test_registration.py on SQLite (a temp file, WAL) and on
PostgreSQL (a throw-away schema), checks that seats were not oversold, and prints
registrations per second for each. Not a test: numbers depend on the machine.

    .venv/bin/python -m bench.race                      # 500 people, 50 seats, 3 rounds
    .venv/bin/python -m bench.race --people 2000 --seats 100 --rounds 5
    .venv/bin/python -m bench.race --postgres-url ''    # SQLite only
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bench.engines import POSTGRES_URL, postgres_engine, sqlite_engine
from domain.registration import register
from storage.db import make_sessionmaker, upgrade
from storage.models import Course, CourseStatus, Person, Registration, RegistrationStatus, Unit
from tests.factories import POLICY

NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)


async def _people(db: async_sessionmaker[AsyncSession], n: int) -> list[int]:
    async with db.begin() as s:
        unit = Unit(code="BENCH", name="Xã Thử Nghiệm", kind="commune", active=True)
        s.add(unit)
        await s.flush()
        people = [
            Person(personal_id=f"020{i:09d}", full_name=f"Người {i}", unit_id=unit.id)
            for i in range(n)
        ]
        s.add_all(people)
        await s.flush()
        return [p.id for p in people]


async def _course(db: async_sessionmaker[AsyncSession], round_no: int, seats: int) -> int:
    # A different week per round, so last round's seats do not clash with this one.
    starts = NOW + timedelta(days=7 * (round_no + 1))
    async with db.begin() as s:
        course = Course(
            code=f"RACE{round_no}",
            title="Bồi dưỡng kỹ năng số",
            category="digital_skills",
            starts_at=starts,
            ends_at=starts + timedelta(hours=8),
            capacity=seats,
            registration_deadline=starts,
            audience={},
            status=CourseStatus.OPEN,
        )
        s.add(course)
        await s.flush()
        return course.id


async def _race(db: async_sessionmaker[AsyncSession], people: list[int], course: int) -> float:
    async def press(person_id: int) -> None:
        async with db.begin() as s:
            await register(s, person_id=person_id, course_id=course, now=NOW, policy=POLICY)

    started = time.perf_counter()
    await asyncio.gather(*(press(p) for p in people))
    return time.perf_counter() - started


async def _check(db: async_sessionmaker[AsyncSession], course: int, seats: int, n: int) -> None:
    async with db() as s:
        rows = await s.execute(
            select(Registration.status, func.count())
            .where(Registration.course_id == course)
            .group_by(Registration.status)
        )
        counts = {str(status): int(k) for status, k in rows}
    expected = {
        RegistrationStatus.REGISTERED.value: min(seats, n),
        RegistrationStatus.WAITLISTED.value: max(n - seats, 0),
    }
    expected = {k: v for k, v in expected.items() if v}
    if counts != expected:
        raise SystemExit(f"seats oversold or lost: {counts} != {expected}")


async def bench(name: str, engine: AsyncEngine, *, people: int, seats: int, rounds: int) -> None:
    await upgrade(engine)
    db = make_sessionmaker(engine)
    ids = await _people(db, people)
    rates = []
    for r in range(rounds):
        course = await _course(db, r, seats)
        elapsed = await _race(db, ids, course)
        await _check(db, course, seats, people)
        rates.append(people / elapsed)
        print(f"  {name} round {r + 1}: {people} presses in {elapsed:.2f} s", flush=True)
    print(
        f"{name}: {statistics.median(rates):.0f} registrations/s "
        f"(median of {rounds}; best {max(rates):.0f}, worst {min(rates):.0f})",
        flush=True,
    )


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--people", type=int, default=500)
    parser.add_argument("--seats", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--postgres-url", default=POSTGRES_URL, help="empty to skip PostgreSQL")
    args = parser.parse_args(argv)
    sizes = {"people": args.people, "seats": args.seats, "rounds": args.rounds}
    async with sqlite_engine("race.db") as engine:
        await bench("sqlite", engine, **sizes)
    if args.postgres_url:
        try:
            async with postgres_engine(args.postgres_url) as engine:
                await bench("postgresql", engine, **sizes)
        except (OSError, SQLAlchemyError) as exc:
            print(f"postgresql: skipped, cannot connect to {args.postgres_url}: {exc}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
