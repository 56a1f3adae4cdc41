"""Degree study: imported all or nothing, and a standard it will meet shows as in progress
until the expected end in /status."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.import_rows import ImportReport, Problem
from domain.sheets import write_rows_xlsx
from domain.standards import State, status_of
from domain.studies import import_studies
from handlers.render import status_text
from locales import Translator
from storage.models import DegreeStudy
from tests.factories import make_person, make_position, make_unit

NOW = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
HEADERS = ["Số CCCD", "Trình độ đang học", "Chuyên ngành", "Cơ sở đào tạo", "Hình thức",
           "Ngày bắt đầu", "Dự kiến tốt nghiệp", "Kinh phí"]  # fmt: skip
ROW = ["020085001234", "Đại học", "Luật", "Đại học Luật Hà Nội", "vua lam vua hoc",
       "01/09/2024", "30/06/2027", "Tự túc"]  # fmt: skip


async def _import(
    db: async_sessionmaker[AsyncSession], path: Path, rows: list[list[str]]
) -> ImportReport:
    write_rows_xlsx(path, HEADERS, rows, "Dữ liệu")
    async with db.begin() as s:
        return await import_studies(s, path=path, dry_run=False, now=NOW)


async def test_a_study_makes_the_degree_standard_in_progress_until_its_end(
    db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    async with db.begin() as s:
        leader = await make_position(s, group="leader")
        person = await make_person(s, personal_id="020085001234", position=leader,
                                   unit=await make_unit(s))  # fmt: skip
    path = tmp_path / "dh.xlsx"
    bad = await _import(db, path, [
        ROW, [*ROW[:1], "Sau đại học", *ROW[2:]], [*ROW[:6], "01/01/2024", ROW[7]],
        [*ROW[:7], "Học bổng"], ROW,
    ])  # fmt: skip
    assert [(e.row, e.column, e.code) for e in bad.errors] == [
        (3, "Trình độ đang học", Problem.UNKNOWN_VALUE),
        (4, "Dự kiến tốt nghiệp", Problem.END_BEFORE_START),
        (5, "Kinh phí", Problem.UNKNOWN_VALUE),
        (6, "Ngày bắt đầu", Problem.DUPLICATE_IN_FILE),
    ]
    ok = await _import(db, path, [ROW])
    assert (ok.created, ok.updated) == (1, 0)
    again = await _import(db, path, [[*ROW[:6], "31/12/2027", ROW[7]]])
    assert (again.created, again.updated) == (0, 1)
    async with db() as s:
        (study,) = (await s.execute(select(DegreeStudy))).scalars()
        assert (study.mode, study.funding, study.expected_end) == (
            "in_service", "self", date(2027, 12, 31))  # fmt: skip
        statuses = await status_of(s, person_id=person.id, now=NOW, today=date(2026, 12, 7),
                                   hours_target=40)  # fmt: skip
    degree = next(st for st in statuses if st.rule.code == "leader-university")
    assert (degree.state, degree.until, degree.closing) == (
        State.IN_PROGRESS, date(2027, 12, 31), [])  # fmt: skip
    text, _markup = status_text(Translator("vi", ZoneInfo("Asia/Ho_Chi_Minh")), statuses)
    assert "đang học, dự kiến xong 12/2027" in text
