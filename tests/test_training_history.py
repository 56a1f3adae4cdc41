"""Training done before the bot or outside it: imported all or nothing, never doubled, and
counted like training finished in the bot (hours this year, standards, the report)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain import reports
from domain.import_rows import ImportReport, Problem
from domain.sheets import write_rows_xlsx
from domain.standards import State, status_of
from domain.training_history import import_training
from storage.models import Qualification, TrainingRecord
from storage.repos.people import PeopleRepo
from tests.factories import ZONE, make_person, make_unit

NOW = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
TZ = ZoneInfo("Asia/Ho_Chi_Minh")
HEADERS = ["Số CCCD", "Tên khóa học", "Loại", "Cơ sở đào tạo", "Từ ngày", "Đến ngày", "Số giờ",
           "Số chứng chỉ", "Công nhận loại", "Công nhận trình độ"]  # fmt: skip
LAN = "020085001234"
THEORY = [LAN, "Trung cấp lý luận chính trị - hành chính", "Lý luận chính trị",
          "Trường Chính trị tỉnh", "06/03/2026", "15/10/2026", "", "TC-0456",
          "Lý luận chính trị", "Trung cấp"]  # fmt: skip
DIGITAL = [LAN, "Bồi dưỡng kỹ năng số", "ky nang so", "Sở KH&CN", "10/06/2026", "12/06/2026",
           "24", "", "", ""]  # fmt: skip


async def _import(
    db: async_sessionmaker[AsyncSession], path: Path, rows: list[list[str]], *, dry: bool = False
) -> ImportReport:
    write_rows_xlsx(path, HEADERS, rows, "Dữ liệu")
    async with db.begin() as s:
        return await import_training(s, path=path, dry_run=dry, now=NOW, tz=ZONE)


async def _lan(db: async_sessionmaker[AsyncSession]) -> int:
    async with db.begin() as s:
        unit = await make_unit(s, code="LS-X001", name="Xã Đề Thám")
        return (await make_person(s, personal_id=LAN, unit=unit)).id


async def test_bad_rows_write_nothing(db: async_sessionmaker[AsyncSession], tmp_path: Path) -> None:
    await _lan(db)
    report = await _import(db, tmp_path / "qt.xlsx", [
        THEORY,
        [*THEORY[:7], "TC-0456", *THEORY[8:]],  # the same certificate twice
        ["020085009999", *DIGITAL[1:]],
        [*DIGITAL[:4], "10/06/2026", "01/06/2026", *DIGITAL[6:]],
        [*DIGITAL[:5], "12/01/2027", *DIGITAL[6:]],  # not done yet
        [*DIGITAL[:2], "Nấu ăn", *DIGITAL[3:]],
        [*DIGITAL[:8], "", "Trung cấp"],  # a level without a kind
    ])  # fmt: skip
    assert [(e.row, e.column, e.code) for e in report.errors] == [
        (3, "Số chứng chỉ", Problem.DUPLICATE_IN_FILE),
        (4, "Số CCCD", Problem.UNKNOWN_PERSON),
        (5, "Đến ngày", Problem.END_BEFORE_START),
        (6, "Đến ngày", Problem.FUTURE_DATE),
        (7, "Loại", Problem.UNKNOWN_VALUE),
        (8, "Công nhận loại", Problem.REQUIRED),
    ]
    async with db() as s:
        assert (await s.execute(select(TrainingRecord))).first() is None


async def test_imported_training_counts_and_a_second_import_updates_instead_of_doubling(
    db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    person_id = await _lan(db)
    path = tmp_path / "qt.xlsx"
    first = await _import(db, path, [THEORY, DIGITAL])
    assert (first.created, first.updated) == (2, 0)
    # Corrected hours; the same certificate, or the same title and dates, is the same record.
    again = await _import(db, path, [[*THEORY[:6], "320", *THEORY[7:]],
                                     [*DIGITAL[:6], "16", *DIGITAL[7:]]])  # fmt: skip
    assert (again.created, again.updated, again.unchanged) == (0, 2, 0)
    assert [c.fields for c in again.changes] == [
        (("Số giờ", "0", "320"),), (("Số giờ", "24", "16"),)
    ]
    async with db() as s:
        records = list((await s.execute(select(TrainingRecord).order_by(TrainingRecord.id)))
                       .scalars())  # fmt: skip
        assert [(r.category, r.organizer, r.hours) for r in records] == [
            ("political_theory", "Trường Chính trị tỉnh", 320),
            ("digital_skills", "Sở KH&CN", 16),
        ]
        quals = list((await s.execute(select(Qualification))).scalars())
        assert [(q.kind, q.level, q.source, q.obtained_on) for q in quals] == [
            ("political_theory", "trung_cap", "training", date(2026, 10, 15))
        ]
        assert await PeopleRepo(s).hours_in_year(person_id, 2026) == 336
        statuses = await status_of(s, person_id=person_id, now=NOW, today=date(2026, 12, 7),
                                   hours_target=40)  # fmt: skip
        hours = next(st for st in statuses if st.hours_target is not None)
        assert (hours.hours_done, hours.state) == (336, State.MET)
        r = await reports.build(s, roots=None, year=2026, as_of=date(2026, 12, 7), tz=TZ,
                                hours_target=40)  # fmt: skip
    assert (r.training.participations, r.training.people_trained, r.training.hours) == (
        2, 1, 336)  # fmt: skip
