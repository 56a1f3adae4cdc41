"""Random spreadsheet cells through the real imports: every file ends in a report or a
SheetError, never in an unhandled exception, and a dry run writes nothing. (Issue 13.)"""

from __future__ import annotations

import asyncio
import csv
import io
import tempfile
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.course_format import COURSE_COLUMNS
from domain.importing import import_courses, import_roster
from domain.roster_format import ROSTER_COLUMNS
from domain.sheets import SheetError
from storage.models import Course, Person
from tests.factories import POLICY, ZONE
from tests.hostile import row, xlsx

HEADERS = sorted({c.vi for c in (*ROSTER_COLUMNS, *COURSE_COLUMNS)} | {"STT", "Ghi chú", ""})
# Cells as organizers (and adversaries) type them: words with and without accents, numbers,
# dates in several shapes, formulas, HTML, very long and blank text, odd Unicode.
CELL = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["", " ", "LS", "LS-X1", "001234567890", "0912345678", "=1+1", "<b>x",
                     "đại học", "trung cap", "x", "nam", "Nữ", "31/02/2024", "01/01/1990",
                     "01/01/2030 07:30-11:30", "https://", "-1", "1e309", "NaN", "ǅ\u0301"]),
    st.integers(min_value=-(10**20), max_value=10**20).map(str),
    st.dates(min_value=date(1900, 1, 1)).map(lambda d: d.strftime("%d/%m/%Y")),
    st.text(min_size=300, max_size=600),
)  # fmt: skip
SHEETS = st.tuples(
    st.lists(st.sampled_from(HEADERS), min_size=1, max_size=12),
    st.lists(st.lists(CELL, max_size=12), max_size=15),
    st.sampled_from(["xlsx", "csv"]),
)


def _write(folder: Path, headers: Sequence[str], rows: Sequence[Sequence[str]], kind: str) -> Path:
    if kind == "csv":
        buffer = io.StringIO()
        csv.writer(buffer).writerows([headers, *rows])
        path = folder / "ds.csv"
        path.write_text(buffer.getvalue(), encoding="utf-8-sig", errors="surrogatepass")
        return path

    # XML 1.0 cannot hold most control characters or lone surrogates; a real file cannot either.
    def clean(s: str) -> str:
        return "".join(
            ch for ch in s if ch in "\t\n\r" or (" " <= ch and not "\ud800" <= ch <= "\udfff")
        )

    lines = [row(i, [clean(c) for c in cells]) for i, cells in enumerate([headers, *rows], 1)]
    return xlsx(folder / "ds.xlsx", lines)


@pytest.mark.databases("sqlite")
async def test_random_cells_never_end_in_an_unhandled_exception(
    db: async_sessionmaker[AsyncSession],
) -> None:
    loop = asyncio.get_running_loop()
    now = datetime.now(UTC)

    async def both(path: Path) -> None:
        async with db() as session:
            zone = {"tz": ZONE}, {"policy": POLICY}  # what each takes: the settings' zone
            for importer, extra in zip((import_roster, import_courses), zone, strict=True):
                try:
                    report = await importer(session, path=path, dry_run=True, now=now, **extra)
                except SheetError:
                    continue
                assert report.total_rows >= 0

    # Hypothesis drives a plain function; each example runs on the test's own event loop.
    @settings(max_examples=50, deadline=None, database=None)
    @given(SHEETS)
    def check(sheet: tuple[list[str], list[list[str]], str]) -> None:
        headers, rows, kind = sheet
        with tempfile.TemporaryDirectory() as tmp:
            path = _write(Path(tmp), headers, rows, kind)
            asyncio.run_coroutine_threadsafe(both(path), loop).result()

    await asyncio.to_thread(check)
    async with db() as session:
        for model in (Person, Course):
            assert await session.scalar(select(func.count()).select_from(model)) == 0
