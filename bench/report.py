"""How long the yearly report takes for a province-sized roster, next to the floor: one
hand-written GROUP BY over the same data (what the database needs just to read and group it).

25,000 people (Điện Biên's size) on SQLite in a temp file, 1,000,000 on PostgreSQL in a
throw-away schema. The data are generated inside the database (INSERT ... SELECT over a
recursive CTE on SQLite, generate_series on PostgreSQL): qualifications of every kind, two
training records, one registration and the odd secondment per person. Each figure is the
median of a few warm runs. Not a test: numbers depend on the machine.

    .venv/bin/python -m bench.report
    .venv/bin/python -m bench.report --sqlite-people 25000 --postgres-people 200000
    .venv/bin/python -m bench.report --postgres-url ''        # SQLite only
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.engines import POSTGRES_URL, postgres_engine, sqlite_engine
from domain import report_files, reports
from domain.text import fold
from storage.db import make_sessionmaker, upgrade
from storage.models import Course, CourseStatus, TrainingPlan, Unit

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
YEAR = 2025
AS_OF = date(2025, 10, 1)
DISTRICTS = 10
COURSES = 500
FIELDS = ("Quản lý văn hóa", "Luật", "Kinh tế", "Hành chính học", "Kế toán", "Công tác xã hội",
          "Địa chính", "Giáo dục thể chất")  # fmt: skip

# The floor: one GROUP BY a person would write by hand for the education breakdown.
FLOOR = """
    SELECT p.position_id, q.level, count(*)
    FROM people p JOIN qualifications q ON q.person_id = p.id
    WHERE p.active AND q.kind = 'education' {scope}
    GROUP BY p.position_id, q.level
"""
FLOOR_SCOPE = "AND p.unit_id IN (SELECT id FROM units WHERE id = 2 OR parent_id = 2)"


class Dialect:
    """The few SQL spellings that differ between SQLite and PostgreSQL."""

    def __init__(self, name: str, n: int) -> None:
        self.pg = name == "postgresql"
        if self.pg:
            self.with_ = ""
            self.series = f"generate_series(1, {n}) AS s(i)"
        else:
            self.with_ = (
                f"WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {n})"
            )
            self.series = "s"

    def padded(self, expr: str) -> str:
        return f"lpad(({expr})::text, 12, '0')" if self.pg else f"printf('%012d', {expr})"

    def day(self, first: date, offset: str) -> str:
        if self.pg:
            return f"(DATE '{first.isoformat()}' + ({offset}))"
        return f"date('{first.isoformat()}', '+' || ({offset}) || ' days')"

    def pick(self, options: tuple[str, ...], expr: str) -> str:
        whens = " ".join(f"WHEN {k} THEN '{v}'" for k, v in enumerate(options))
        return f"CASE ({expr}) % {len(options)} {whens} END"


def _statements(d: Dialect, communes: int) -> list[tuple[str, str]]:
    """(what, SQL) pairs that fill the roster from a series of person numbers i = 1..n."""
    first_commune = 2 + DISTRICTS
    field = d.pick(FIELDS, "i * 7")
    edu = (
        "CASE WHEN i % 20 = 0 THEN 'thac_si' WHEN i % 20 = 19 THEN 'tien_si' "
        "WHEN i % 20 < 14 THEN 'dai_hoc' WHEN i % 20 < 17 THEN 'cao_dang' ELSE 'trung_cap' END"
    )
    theory = d.pick(("so_cap", "trung_cap", "trung_cap", "cao_cap", "cu_nhan"), "i * 3")
    state = d.pick(("chuyen_vien", "chuyen_vien", "chuyen_vien_chinh"), "i")
    qual = "INSERT INTO qualifications (person_id, kind, level, field, source) {w} SELECT i, {k}, {lv}, {f}, 'roster' FROM {s} WHERE {c}"  # noqa: E501

    def q(kind: str, level: str, fld: str, cond: str) -> str:
        return qual.format(w=d.with_, k=f"'{kind}'", lv=level, f=fld, s=d.series, c=cond)

    return [
        ("people", f"""
            INSERT INTO people (id, personal_id, full_name, unit_id, position_id, active,
                                updated_at)
            {d.with_}
            SELECT i, {d.padded("i")}, 'Người thử ' || i, {first_commune} + i % {communes},
                   pos.id, i % 97 <> 0, CURRENT_TIMESTAMP
            FROM {d.series}
            JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS k FROM positions) pos
              ON pos.k = i % (SELECT count(*) FROM positions)
        """),
        ("qualifications", q("education", edu, field, "i % 25 <> 0")),
        # An older, lower degree beside a university one: only the highest may count.
        ("qualifications", q("education", "'trung_cap'", "'Kế toán'", "i % 10 = 1")),
        ("qualifications", q("political_theory", theory, "''", "i % 10 < 7")),
        ("qualifications", q("state_management", state, "''", "i % 2 = 0")),
        ("qualifications", q("it", "'Cơ bản'", "'Tin học ứng dụng'", "i % 5 < 3")),
        ("qualifications", q("digital_skills", "'Cơ bản'", "''", "i % 10 < 3")),
        ("qualifications", q("foreign_language", "'B1'", "'Tiếng Anh'", "i % 10 = 5")),
        ("training_records", f"""
            INSERT INTO training_records (person_id, title, hours, ends_on)
            {d.with_}
            SELECT i, 'Bồi dưỡng thường xuyên', 8 + (i % 4) * 8,
                   {d.day(date(YEAR, 1, 2), "i % 360")}
            FROM {d.series} WHERE i % 3 <> 0
        """),
        ("training_records", f"""
            INSERT INTO training_records (person_id, title, hours, ends_on)
            {d.with_}
            SELECT i, 'Bồi dưỡng năm trước', 16, {d.day(date(YEAR - 1, 1, 2), "i % 360")}
            FROM {d.series} WHERE i % 2 = 0
        """),
        ("registrations", f"""
            INSERT INTO registrations (course_id, person_id, status, queue_seq, created_at,
                                       updated_at)
            {d.with_}
            SELECT 1 + i % {COURSES}, i,
                   {d.pick(("completed",) * 6 + ("no_show", "attended", "registered", "cancelled"), "i")},
                   i, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP
            FROM {d.series} WHERE i % 5 <> 0
        """),  # noqa: E501
        ("secondments", f"""
            INSERT INTO secondments (person_id, from_unit_id, to_unit_id, kind, starts_on,
                                     ends_on, review_every_months)
            {d.with_}
            SELECT i, {first_commune} + i % {communes}, {first_commune} + (i + 1) % {communes},
                   CASE WHEN i % 1000 = 0 THEN 'rotation' ELSE 'secondment' END,
                   {d.day(date(YEAR - 1, 3, 1), "i % 600")}, NULL, 6
            FROM {d.series} WHERE i % 500 = 0
        """),
    ]  # fmt: skip


async def build(engine: AsyncEngine, people: int) -> float:
    """Fill an upgraded, empty database; returns the seconds it took."""
    started = time.perf_counter()
    await upgrade(engine)
    communes = max(50, people // 200)
    d = Dialect(engine.dialect.name, people)
    async with make_sessionmaker(engine).begin() as s:
        units: list[dict[str, Any]] = [
            {"id": 1, "code": "P", "name": "Tỉnh thử", "kind": "province"}
        ]
        units += [{"id": 2 + k, "code": f"P-D{k:02d}", "name": f"Huyện {k}", "kind": "district",
                   "parent_id": 1} for k in range(DISTRICTS)]  # fmt: skip
        units += [{"id": 2 + DISTRICTS + c, "code": f"P-X{c:05d}", "name": f"Xã {c}",
                   "kind": "commune", "parent_id": 2 + c % DISTRICTS}
                  for c in range(communes)]  # fmt: skip
        await s.execute(insert(Unit), units)
        starts = datetime(YEAR, 1, 6, 1, tzinfo=UTC)
        await s.execute(insert(Course), [
            {"id": c, "code": f"B-{c:04d}", "title": f"Khóa bồi dưỡng {c}",
             "search_text": fold(f"Khóa bồi dưỡng {c}"),
             "category": ("culture", "it", "state_management", "political_theory")[c % 4],
             "starts_at": starts + timedelta(days=c % 350), "ends_at": starts +
             timedelta(days=c % 350, hours=8), "capacity": 10_000, "hours": 8 * (1 + c % 5),
             "registration_deadline": starts, "audience": {}, "queue_seq": 0,
             "status": CourseStatus.CANCELLED if c % 50 == 0 else CourseStatus.FINISHED}
            for c in range(1, COURSES + 1)
        ])  # fmt: skip
        s.add(TrainingPlan(year=YEAR, unit_id=None, participants=people))
        await s.flush()
        for _what, sql in _statements(d, communes):
            await s.execute(text(sql))
    async with engine.connect() as conn:
        await conn.execute(text("ANALYZE"))
        await conn.commit()
    return time.perf_counter() - started


async def _median(runs: int, job: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    await job()  # warm the cache and the statement caches
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = await job()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


async def bench(name: str, engine: AsyncEngine, people: int, runs: int) -> None:
    built = await build(engine, people)
    db = make_sessionmaker(engine)
    print(f"{name}: {people:,} people built in {built:.1f} s")

    async def report(roots: list[int] | None) -> reports.Report:
        async with db.begin() as s:
            return await reports.build(
                s, roots=roots, year=YEAR, as_of=AS_OF, tz=TZ, hours_target=40
            )

    async def floor(scope: str) -> int:
        async with engine.connect() as conn:
            return len((await conn.execute(text(FLOOR.format(scope=scope)))).all())

    for label, roots, scope in (("whole province", None, ""), ("one district", [2], FLOOR_SCOPE)):
        report_s, result = await _median(runs, lambda r=roots: report(r))  # type: ignore[misc]
        floor_s, _rows = await _median(runs, lambda sc=scope: floor(sc))  # type: ignore[misc]
        print(
            f"  {label:<15} {result.people:>9,} people  report {report_s * 1000:8.1f} ms  "
            f"floor GROUP BY {floor_s * 1000:8.1f} ms  ×{report_s / floor_s:5.1f}"
        )
    files_s, _ = await _median(1, lambda: asyncio.to_thread(_files, result))
    print(f"  files (XLSX + PNG) of the district report: {files_s * 1000:.0f} ms")


def _files(report: reports.Report) -> int:
    return len(report_files.workbook(report)) + len(report_files.chart(report))


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sqlite-people", type=int, default=25_000)
    parser.add_argument("--postgres-people", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3, help="timed runs per figure (median)")
    parser.add_argument("--postgres-url", default=POSTGRES_URL, help="empty to skip PostgreSQL")
    args = parser.parse_args(argv)
    if args.sqlite_people:
        async with sqlite_engine("report.db") as engine:
            await bench("sqlite", engine, args.sqlite_people, args.runs)
    if args.postgres_url and args.postgres_people:
        try:
            async with postgres_engine(args.postgres_url) as engine:
                await bench("postgresql", engine, args.postgres_people, args.runs)
        except (OSError, SQLAlchemyError) as exc:
            print(f"postgresql: skipped, cannot connect to {args.postgres_url}: {exc}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
