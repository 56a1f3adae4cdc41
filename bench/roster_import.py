"""A 25,000-row roster with every column, imported from an empty installation, against the
time openpyxl needs just to read the same file (read-only mode, every cell's value).

    python -m bench.roster_import [--rows 25000] [--runs 3]

Prints min / median / max of each and the ratio of the medians (import ÷ read). The import is
the whole service: read (python-calamine), validate every row, write people and their
qualifications in one transaction on a fresh SQLite database.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from openpyxl import load_workbook

from bench.engines import sqlite_engine
from domain.importing import import_roster
from domain.roster_format import ROSTER_COLUMNS
from domain.sheets import REQUIRED_MARK, write_rows_xlsx
from domain.units import import_units
from storage.db import make_sessionmaker, upgrade
from tests.factories import ZONE

UNITS = 200
LEVELS = ["Đại học", "Cao đẳng", "Thạc sĩ", "Trung cấp", "Sơ cấp", ""]
THEORY = ["Trung cấp", "Sơ cấp", "Cao cấp", ""]
TYPES = ["Công chức", "Cán bộ", "Viên chức", "Người hoạt động không chuyên trách"]
RANKS = ["Chuyên viên", "Cán sự", "Chuyên viên chính", ""]


def _row(i: int) -> dict[str, object]:
    return {
        "personal_id": f"020{i:09d}", "full_name": f"Nguyễn Văn {i}",
        "date_of_birth": "15/03/1988", "gender": "Nam" if i % 2 else "Nữ",
        "phone": f"09{i:08d}", "unit": f"X{i % UNITS:03d}", "person_type": TYPES[i % 4],
        "rank": RANKS[i % 4], "position": "Công chức Văn hóa - Xã hội",
        "job_position": "Văn hóa - Xã hội", "old_id": f"{100000000 + i}",
        "joined_on": "01/09/2012", "general_education": "12/12",
        "education_level": LEVELS[i % 6], "education_field": "Quản lý văn hóa" if i % 6 != 5
        else "", "political_theory": THEORY[i % 4], "state_management": "Chuyên viên",
        "it_certificate": "Ứng dụng CNTT cơ bản", "foreign_language": "Tiếng Anh B1",
        "digital_skills": "Có" if i % 3 else "",
    }  # fmt: skip


def write_files(folder: Path, rows: int) -> tuple[Path, Path]:
    units = folder / "units.xlsx"
    write_rows_xlsx(units, ["Mã đơn vị", "Tên đơn vị", "Cấp", "Đơn vị cấp trên"],
                    [("P", "Tỉnh Thử", "Tỉnh", "")]
                    + [(f"X{k:03d}", f"Xã {k}", "Xã", "P") for k in range(UNITS)],
                    "Dữ liệu")  # fmt: skip
    roster = folder / "roster.xlsx"
    headers = [c.vi + (REQUIRED_MARK if c.required else "") for c in ROSTER_COLUMNS]
    write_rows_xlsx(roster, headers,
                    ([str(_row(i)[c.key]) for c in ROSTER_COLUMNS] for i in range(1, rows + 1)),
                    "Dữ liệu")  # fmt: skip
    return units, roster


def openpyxl_read(path: Path) -> float:
    started = time.perf_counter()
    wb = load_workbook(path, read_only=True, data_only=True)
    cells = sum(len(row) for row in wb.worksheets[0].iter_rows(values_only=True))
    wb.close()
    assert cells > 0
    return time.perf_counter() - started


async def import_once(units: Path, roster: Path, rows: int) -> float:
    now = datetime.now(UTC)
    async with sqlite_engine() as engine:
        await upgrade(engine)
        db = make_sessionmaker(engine)
        async with db.begin() as s:
            assert (await import_units(s, path=units, dry_run=False, now=now)).ok
        started = time.perf_counter()
        async with db.begin() as s:
            report = await import_roster(s, path=roster, dry_run=False, now=now, tz=ZONE)
        elapsed = time.perf_counter() - started
    assert report.ok and report.created == rows, report.errors[:5]
    return elapsed


def _line(name: str, values: list[float]) -> str:
    return (f"{name:<28} min {min(values):6.2f} s  median {statistics.median(values):6.2f} s  "
            f"max {max(values):6.2f} s")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=25_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        units, roster = write_files(Path(tmp), args.rows)
        size = roster.stat().st_size / 1024 / 1024
        print(f"roster: {args.rows:,} rows × {len(ROSTER_COLUMNS)} columns, {size:.1f} MiB")
        reads, imports = [], []
        for _ in range(args.runs):  # interleaved, so a busy moment hits both alike
            reads.append(openpyxl_read(roster))
            imports.append(asyncio.run(import_once(units, roster, args.rows)))
        print(_line("openpyxl read only", reads))
        print(_line("boiduong import roster", imports))
        ratio = statistics.median(imports) / statistics.median(reads)
        print(f"import ÷ read (medians): {ratio:.2f}")


if __name__ == "__main__":
    main()
