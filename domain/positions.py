"""Positions (chức vụ, chức danh) as a list the province keeps: import and export by code.

A position carries the group the standards and course audiences target (leaders, civil
servants, the Fatherland Front and mass organisations, part-time officials, public
employees), so a province adds its own titles without a code change. All or nothing, like
every import; re-importing updates names and groups by code.
"""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.import_rows import POSITION_GROUP, Cells, ImportReport, Problem, _col
from domain.importing import note_change, write_changes
from domain.sheets import Column, read_table, write_rows_xlsx, write_template
from domain.vocab import VocabError
from storage.models import Position

log = logging.getLogger(__name__)

_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-]{0,39}")
POSITION_COLUMNS: tuple[Column, ...] = (
    _col("code", "Mã chức vụ", "Code",
         ("Mã riêng (chữ, số, dấu - . _); là khóa để cập nhật.",
          "The position's own code (letters, digits, - . _); the key."),
         "Mã", "Position code", required=True, text=True),
    _col("name_vi", "Tên chức vụ, chức danh", "Name",
         ("Tên tiếng Việt, ví dụ: Công chức Văn hóa - Xã hội.",
          "Vietnamese name, e.g. Công chức Văn hóa - Xã hội."),
         "Tên chức vụ", "Chức vụ, chức danh", "Tên tiếng Việt", "Name (Vietnamese)",
         required=True),
    _col("name_en", "Tên tiếng Anh", "English name",
         ("Không bắt buộc; trống thì dùng tên tiếng Việt.",
          "Optional; blank: the Vietnamese name."),
         "Name (English)"),
    _col("group", "Nhóm", "Group",
         ("Một trong: " + ", ".join(t.vi for t in POSITION_GROUP) + ".",
          "One of: " + ", ".join(t.en for t in POSITION_GROUP) + "."),
         "Nhóm chức vụ", "Position group", required=True),
)  # fmt: skip
POSITION_EXAMPLES = [
    {"code": "cc_van_hoa_xa_hoi", "name_vi": "Công chức Văn hóa - Xã hội",
     "name_en": "Culture and social affairs civil servant", "group": "Công chức"},
    {"code": "pho_truong_phong_vhxh", "name_vi": "Phó Trưởng phòng Văn hóa - Xã hội",
     "name_en": "Deputy head of the culture and social affairs division", "group": "Lãnh đạo"},
]  # fmt: skip
_BY_KEY = {c.key: c for c in POSITION_COLUMNS}


def write_positions_template(path: Path) -> None:
    write_template(path, "Danh mục chức vụ, chức danh (Positions)", POSITION_COLUMNS,
                   "Hướng dẫn điền (How to fill in)", example_rows=POSITION_EXAMPLES)  # fmt: skip


def _group(cells: Cells, custom: set[str]) -> str | None:
    raw = cells.raw("group")
    if not raw:
        cells.fail("group", Problem.REQUIRED)
        return None
    if raw in custom:  # a group a rule book introduced, written as its code
        return raw
    try:
        return POSITION_GROUP.parse(raw)
    except VocabError as exc:
        cells.fail("group", Problem.UNKNOWN_GROUP, vocab=exc.vocab_name)
        return None


async def import_positions(
    session: AsyncSession, *, path: Path, dry_run: bool, now: datetime, actor: str = "cli"
) -> ImportReport:
    """Validate a positions list, then create or update positions by code (all or nothing)."""
    table = await asyncio.to_thread(read_table, path, POSITION_COLUMNS)
    report = ImportReport("positions", dry_run, len(table.rows),
                          unknown_headers=table.unknown_headers)  # fmt: skip
    stored = {p.code: p for p in (await session.execute(select(Position))).scalars()}
    custom = {p.group for p in stored.values()} - set(POSITION_GROUP.codes)
    first_row: dict[str, int] = {}
    wanted: list[tuple[int, str, dict[str, str]]] = []
    for row, values in table.rows:
        cells = Cells(row, values, _BY_KEY, report.errors)
        code = cells.text("code", 40, required=True)
        if code is not None and not _CODE.fullmatch(code):
            cells.fail("code", Problem.BAD_CODE)
        name_vi = cells.text("name_vi", 200, required=True)
        name_en = cells.text("name_en", 200)
        group = _group(cells, custom)
        if code and (seen := first_row.setdefault(code, row)) != row:
            cells.fail("code", Problem.DUPLICATE_IN_FILE, other_row=seen)
        if cells.ok and code and name_vi and group:
            wanted.append((row, code, {"name_vi": name_vi, "name_en": name_en or name_vi,
                                       "group": group}))  # fmt: skip
    if report.errors:
        return report
    labels = {"name_vi": _BY_KEY["name_vi"].vi, "name_en": _BY_KEY["name_en"].vi,
              "group": _BY_KEY["group"].vi}  # fmt: skip
    updates: list[tuple[Position, dict[str, str]]] = []
    for row, code, values in wanted:
        old = stored.get(code)
        diff = note_change(report, row=row, key=code, old=old, fields=values,
                           header=labels.__getitem__)  # fmt: skip
        if old is not None and diff:
            updates.append((old, diff))
    if dry_run:
        return report
    new = [Position(code=code, **values) for _r, code, values in wanted if code not in stored]
    await write_changes(session, report, new=new, updates=updates, action="positions.import",
                        target=path.name, actor=actor, now=now)  # fmt: skip
    return report


async def export_positions(session: AsyncSession, *, path: Path) -> int:
    """Write every position as a list that imports back unchanged; returns how many."""
    rows = [
        (p.code, p.name_vi, p.name_en,
         POSITION_GROUP.label(p.group) if p.group in POSITION_GROUP else p.group)
        for p in (await session.execute(select(Position).order_by(Position.code))).scalars()
    ]  # fmt: skip
    headers = [c.vi + (" (*)" if c.required else "") for c in POSITION_COLUMNS]
    await asyncio.to_thread(write_rows_xlsx, path, headers, rows, "Dữ liệu")
    return len(rows)
