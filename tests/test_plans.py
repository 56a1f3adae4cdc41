"""Yearly plans from a spreadsheet: all or nothing, keyed by unit, year and category; the
report compares participations with the plan in total and per training category."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from openpyxl import load_workbook
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain import report_files, reports
from domain.import_rows import ImportReport, Problem
from domain.plans import import_plans
from domain.sheets import write_rows_xlsx
from storage.models import TrainingPlan, TrainingRecord
from tests.factories import make_course, make_person, make_unit

NOW = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
HEADERS = ["Đơn vị", "Năm", "Nội dung bồi dưỡng", "Số lượt người", "Số lớp"]


async def _import(
    db: async_sessionmaker[AsyncSession], path: Path, rows: list[list[str]], *, dry: bool = False
) -> ImportReport:
    write_rows_xlsx(path, HEADERS, rows, "Dữ liệu")
    async with db.begin() as s:
        return await import_plans(s, path=path, dry_run=dry, now=NOW)


async def test_bad_rows_write_nothing_and_reimport_updates_by_unit_year_category(
    db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    async with db.begin() as s:
        await make_unit(s, code="DB", name="Tỉnh Điện Biên", kind="province")
    path = tmp_path / "kh.xlsx"
    bad = await _import(db, path, [
        ["DB", "2022", "", "24635", "600"],
        ["DB", "2022", "Lý luận chính trị", "5000", ""],
        ["DB-X", "2022", "", "10", ""],
        ["DB", "22", "", "10", ""],
        ["DB", "2022", "Nấu ăn", "10", ""],
        ["DB", "2022", "ly luan chinh tri", "6000", ""],
        ["DB", "2022", "Kỹ năng số", "nhiều", ""],
    ])  # fmt: skip
    assert [(e.row, e.column, e.code) for e in bad.errors] == [
        (4, "Đơn vị", Problem.UNKNOWN_UNIT),
        (5, "Năm", Problem.BAD_NUMBER),
        (6, "Nội dung bồi dưỡng", Problem.UNKNOWN_VALUE),
        (7, "Nội dung bồi dưỡng", Problem.DUPLICATE_IN_FILE),
        (8, "Số lượt người", Problem.BAD_NUMBER),
    ]
    async with db() as s:
        assert (await s.execute(select(TrainingPlan))).first() is None

    good = [["DB", "2022", "", "24635", "600"], ["DB", "2022", "Lý luận chính trị", "5000", ""]]
    first = await _import(db, path, good)
    assert (first.created, first.updated) == (2, 0)
    again = await _import(db, path, [["DB", "2022", "", "24635", "620"]], dry=True)
    assert [(c.key, c.fields) for c in again.changes] == [
        ("DB 2022 Tổng (total)", (("Số lớp", "600", "620"),))
    ]
    done = await _import(db, path, [["DB", "2022", "", "24635", "620"]])
    assert (done.created, done.updated, done.unchanged) == (0, 1, 0)


async def test_the_report_shows_participations_against_the_plan_in_total_and_by_category(
    db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    """Điện Biên trained 26,236 people in 2022, 106.5 % of its plan."""
    async with db.begin() as s:
        province = await make_unit(s, code="DB", name="Tỉnh Điện Biên", kind="province")
        person = await make_person(s, unit=province)
        course = await make_course(s, category="digital_skills", hours=8, status="finished")
        rows = [{"person_id": person.id, "title": "Bồi dưỡng", "hours": 4,
                 "ends_on": date(2022, 6, 1), "category": "political_theory"}] * 4_000
        rows += [{"person_id": person.id, "title": "Kỹ năng số", "hours": 8,
                  "ends_on": date(2022, 9, 1), "course_id": course.id, "category": None}] * 1_236
        rows += [{"person_id": person.id, "title": "Khác", "hours": 4,
                  "ends_on": date(2022, 10, 1), "category": None}] * 21_000  # fmt: skip
        await s.execute(insert(TrainingRecord), rows)
    await _import(db, tmp_path / "kh.xlsx", [
        ["DB", "2022", "", "24635", ""],
        ["DB", "2022", "Lý luận chính trị", "5000", "20"],
        ["Tỉnh Điện Biên", "2022", "Kỹ năng số", "1000", ""],
    ])  # fmt: skip
    async with db() as s:
        r = await reports.build(s, roots=[province.id], year=2022, as_of=date(2022, 12, 31),
                                tz=ZoneInfo("Asia/Ho_Chi_Minh"), hours_target=40)  # fmt: skip
    t = r.training
    assert (t.participations, t.plan, str(t.plan_share)) == (26_236, 24_635, "106.5")
    assert [(p.category, p.planned, p.done, p.courses_planned, str(p.share)) for p in t.plans] == [
        ("political_theory", 5000, 4000, 20, "80.0"),
        ("digital_skills", 1000, 1236, None, "123.6"),
    ]
    sheet = load_workbook(io.BytesIO(report_files.workbook(r)), read_only=True)["Tổng hợp"]
    cells = {row[0]: row[1:3] for row in sheet.iter_rows(values_only=True) if row and row[0]}
    assert cells["Lượt người được đào tạo, bồi dưỡng"] == (26_236, 106.5)
    assert cells["Kế hoạch năm (lượt người)"] == (24_635, None)
    assert cells["Thực hiện kỹ năng số (lượt người)"] == (1_236, 123.6)


async def test_merging_communes_adds_their_figures_of_the_same_category(
    db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    from domain.units import merge_units

    async with db.begin() as s:
        province = await make_unit(s, code="LS", name="Tỉnh Lạng Sơn", kind="province")
        for code in ("LS-X001", "LS-X002"):
            await make_unit(s, code=code, name=code, parent=province)
    await _import(db, tmp_path / "kh.xlsx", [
        ["LS-X001", "2026", "", "20", ""], ["LS-X001", "2026", "Kỹ năng số", "5", "1"],
        ["LS-X002", "2026", "", "30", "2"], ["LS-X002", "2026", "Kỹ năng số", "7", "1"],
        ["LS-X002", "2026", "Tin học", "3", ""],
    ])  # fmt: skip
    async with db.begin() as s:
        await merge_units(s, olds=["LS-X001", "LS-X002"], into="LS-XM01", name="Xã Hợp Nhất",
                          parent="LS", kind=None, actor="test", now=NOW)  # fmt: skip
    async with db() as s:
        plans = (await s.execute(select(TrainingPlan).where(TrainingPlan.year == 2026))).scalars()
        assert sorted((p.category or "", p.participants, p.courses) for p in plans) == [
            ("", 50, 2), ("digital_skills", 12, 2), ("it", 3, None)]  # fmt: skip
