"""Names typed by people reach the report's XLSX as text, never as live formulas.
(Issue 13, item 8.)"""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain import report_files
from tests.factories import make_person, make_unit
from tests.fixtures_reports import build_report as _report

NAMES = ('=HYPERLINK("http://evil.example","Xã A")', "+84 Xã B", "-Xã C", "@SUM(A1:A9)")


@pytest.mark.databases("sqlite")
async def test_unit_names_that_look_like_formulas_stay_text_in_the_report(
    db: async_sessionmaker[AsyncSession],
) -> None:
    async with db.begin() as s:
        province = await make_unit(s, code="LS", kind="province", name="Tỉnh Lạng Sơn")
        for i, name in enumerate(NAMES):
            unit = await make_unit(s, code=f"LS-F{i}", name=name, parent=province)
            await make_person(s, unit=unit)
        report = await _report(s, None)
    book = load_workbook(io.BytesIO(report_files.workbook(report)))
    cells = [c for ws in book.worksheets for row in ws.iter_rows() for c in row if c.value]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    shown = {c.value for c in cells if c.data_type == "s"}
    assert set(NAMES) <= shown
