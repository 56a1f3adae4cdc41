"""Yearly training plans: per unit and year, planned participations (and courses), in total
or per training category (the contents of Decree 171/2025). All or nothing, like every
import; re-importing updates a figure by (unit, year, category)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.import_rows import Cells, ImportReport, Problem, _col
from domain.importing import note_change, write_changes
from domain.sheets import Column, read_table, write_template
from domain.vocab import COURSE_CATEGORY
from storage.models import TrainingPlan
from storage.repos.roster import UnitRepo

PLAN_COLUMNS: tuple[Column, ...] = (
    _col("unit", "Đơn vị", "Unit", ("Mã hoặc tên đơn vị (gồm đơn vị cấp dưới).",
                                    "Unit code or name (subunits included)."),
         "Mã đơn vị", "Unit code", required=True),
    _col("year", "Năm", "Year", ("Năm kế hoạch, ví dụ 2026.", "The plan's year, e.g. 2026."),
         "Năm kế hoạch", "Plan year", required=True, text=False),
    _col("category", "Nội dung bồi dưỡng", "Category",
         ("Trống: tổng cả năm. Hoặc một trong: " + ", ".join(t.vi for t in COURSE_CATEGORY)
          + ".", "Blank: the year's total. Or one of: "
          + ", ".join(t.en for t in COURSE_CATEGORY) + "."),
         "Loại", "Lĩnh vực", "Loại khóa học", "Training category"),
    _col("participants", "Số lượt người", "Participations",
         ("Số lượt người dự kiến đào tạo, bồi dưỡng.", "Planned participations."),
         "Kế hoạch (lượt người)", "Số người", "Chỉ tiêu", "Planned participants",
         required=True, text=False),
    _col("courses", "Số lớp", "Courses", ("Số lớp dự kiến (không bắt buộc).",
                                          "Planned courses (optional)."),
         "Số khóa học", "Số lớp dự kiến", "Planned courses", text=False),
)  # fmt: skip
PLAN_EXAMPLES = [
    {"unit": "LS", "year": "2026", "category": "", "participants": "1200", "courses": "30"},
    {"unit": "LS", "year": "2026", "category": "Kỹ năng số", "participants": "400",
     "courses": "8"},
    {"unit": "LS-X001", "year": "2026", "category": "", "participants": "25", "courses": ""},
]  # fmt: skip
_BY_KEY = {c.key: c for c in PLAN_COLUMNS}


def write_plans_template(path: Path) -> None:
    write_template(path, "Kế hoạch đào tạo, bồi dưỡng năm (Yearly training plans)",
                   PLAN_COLUMNS, "Hướng dẫn điền (How to fill in)",
                   example_rows=PLAN_EXAMPLES)  # fmt: skip


async def import_plans(
    session: AsyncSession, *, path: Path, dry_run: bool, now: datetime, actor: str = "cli"
) -> ImportReport:
    """Validate a plans list, then create or update figures by (unit, year, category)."""
    table = await asyncio.to_thread(read_table, path, PLAN_COLUMNS)
    report = ImportReport("plans", dry_run, len(table.rows),
                          unknown_headers=table.unknown_headers)  # fmt: skip
    units = await UnitRepo(session).index()
    first_row: dict[tuple[int, int, str | None], int] = {}
    wanted: list[tuple[int, tuple[int, int, str | None], dict[str, Any]]] = []
    for row, values in table.rows:
        cells = Cells(row, values, _BY_KEY, report.errors)
        unit = cells.unit("unit", units)
        if not cells.raw("unit"):
            cells.fail("unit", Problem.REQUIRED)
        year = cells.integer("year", minimum=1)
        if year is not None and not 2000 <= year <= 2100:
            cells.fail("year", Problem.BAD_NUMBER)
        elif year is None and not cells.raw("year"):
            cells.fail("year", Problem.REQUIRED)
        category = cells.vocab("category", COURSE_CATEGORY)
        participants = cells.integer("participants")
        if participants is None and not cells.raw("participants"):
            cells.fail("participants", Problem.REQUIRED)
        courses = cells.integer("courses")
        if cells.ok and unit and year and participants is not None:
            key = (unit, year, category)
            if (seen := first_row.setdefault(key, row)) != row:
                cells.fail("category", Problem.DUPLICATE_IN_FILE, other_row=seen)
                continue
            wanted.append((row, key, {"participants": participants, "courses": courses}))
    if report.errors:
        return report
    years = {key[1] for _r, key, _v in wanted}
    stored = {
        (p.unit_id, p.year, p.category): p
        for p in (
            await session.execute(select(TrainingPlan).where(TrainingPlan.year.in_(years)))
        ).scalars()
    }
    labels = {"participants": _BY_KEY["participants"].vi, "courses": _BY_KEY["courses"].vi}
    updates: list[tuple[TrainingPlan, dict[str, Any]]] = []
    for row, key, fields in wanted:
        shown_key = f"{units.code_of.get(key[0], key[0])} {key[1]} " + (
            COURSE_CATEGORY.label(key[2]) if key[2] else "Tổng (total)"
        )
        old = stored.get(key)
        diff = note_change(report, row=row, key=shown_key, old=old, fields=fields,
                           header=labels.__getitem__)  # fmt: skip
        if old is not None and diff:
            updates.append((old, diff))
    if dry_run:
        return report
    new = [TrainingPlan(unit_id=key[0], year=key[1], category=key[2], **fields)
           for _r, key, fields in wanted if key not in stored]  # fmt: skip
    await write_changes(session, report, new=new, updates=updates, action="plans.import",
                        target=path.name, actor=actor, now=now)  # fmt: skip
    return report
