"""Decree 171/2025's conditions for sending someone to postgraduate study: data in the rule
book, checked when degree studies are imported as sent by the unit."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.import_rows import ImportReport
from domain.postgraduate import Reason, postgraduate_eligibility
from domain.rulebook import load_rulebook
from domain.sheets import write_rows_xlsx
from domain.studies import import_studies
from storage.models import DegreeStudy
from tests.factories import make_person

NOW = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
DECIDED = date(2026, 9, 1)
HEADERS = ["Số CCCD", "Trình độ đang học", "Chuyên ngành", "Ngày bắt đầu", "Dự kiến tốt nghiệp",
           "Kinh phí", "Ngày quyết định cử đi học"]  # fmt: skip


def _row(pid: str, funding: str = "Được cử đi học") -> list[str]:
    # 01/10/2026 to 31/03/2028: 18 months.
    return [pid, "Thạc sĩ", "Quản lý công", "01/10/2026", "31/03/2028", funding, "01/09/2026"]


async def _import(db: async_sessionmaker[AsyncSession], path: Path, rows: list[list[str]],
                  *, dry_run: bool = False) -> ImportReport:  # fmt: skip
    write_rows_xlsx(path, HEADERS, rows, "Dữ liệu")
    async with db.begin() as s:
        return await import_studies(s, path=path, dry_run=dry_run, now=NOW)


async def _people(db: async_sessionmaker[AsyncSession]) -> tuple[int, int]:
    async with db.begin() as s:
        old = await make_person(s, personal_id="020070000046", date_of_birth=date(1980, 8, 31),
                                joined_on=date(2005, 1, 1))  # fmt: skip
        young = await make_person(s, personal_id="020086000040", date_of_birth=date(1986, 5, 2),
                                  joined_on=date(2020, 3, 1))  # fmt: skip
        return old.id, young.id


async def test_a_46_year_old_is_refused_with_the_reason(
    db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    old, _young = await _people(db)
    async with db() as s:
        result = await postgraduate_eligibility(s, old, DECIDED)
    assert not result.eligible and result.age == 46
    assert [(r.reason, r.actual, r.limit) for r in result.refusals] == [(Reason.TOO_OLD, 46, 45)]
    report = await _import(db, tmp_path / "sdh.xlsx", [_row("020086000040"), _row("020070000046")])
    assert [(e.row, e.column, e.code, e.value) for e in report.errors] == [
        (3, "Kinh phí", "pg_too_old", "46 > 45")]  # fmt: skip
    assert not report.written
    async with db() as s:
        assert (await s.execute(select(DegreeStudy))).first() is None
    # Self-paid, the same study is the person's own business: no condition applies.
    ok = await _import(db, tmp_path / "sdh.xlsx", [_row("020070000046", "Tự túc")])
    assert ok.written and ok.created == 1 and ok.commitments == []


async def test_a_40_year_old_passes_and_commits_three_times_the_study(
    db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    _old, young = await _people(db)
    async with db() as s:
        result = await postgraduate_eligibility(s, young, DECIDED)
    assert result.eligible and (result.age, result.years_of_service) == (40, 6)
    dry = await _import(db, tmp_path / "sdh.xlsx", [_row("020086000040")], dry_run=True)
    assert not dry.errors and dry.created == 1
    assert dry.commitments == [(2, "020086000040 Thạc sĩ 01/10/2026", 54, date(2032, 9, 30))]
    done = await _import(db, tmp_path / "sdh.xlsx", [_row("020086000040")])
    assert done.written and done.commitments[0][2] == 3 * 18


async def test_too_little_service_or_no_birth_date_is_a_reason(
    db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    async with db.begin() as s:
        await make_person(s, personal_id="020095000001", date_of_birth=date(1995, 1, 1),
                          joined_on=date(2025, 6, 1))  # fmt: skip
        await make_person(s, personal_id="020095000002", joined_on=date(2010, 6, 1))
    report = await _import(db, tmp_path / "sdh.xlsx", [_row("020095000001"), _row("020095000002")])
    assert [(e.row, e.code, e.value) for e in report.errors] == [
        (2, "pg_short_service", "1 < 2"), (3, "pg_no_birth_date", "")]  # fmt: skip


async def test_a_loaded_rule_book_changes_the_outcome(
    db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    old, _young = await _people(db)
    book = tmp_path / "sdh.yaml"
    book.write_text("rules: []\npostgraduate:\n  levels: [Thạc sĩ, tien_si]\n"
                    "  max_age_first_sending: 50\n  min_years_of_service: 3\n"
                    "  commitment_multiple: 2\n  basis: thử\n", encoding="utf-8")  # fmt: skip
    async with db.begin() as s:
        loaded = await load_rulebook(s, path=book, dry_run=False)
    assert loaded.written and loaded.postgraduate_changed
    async with db() as s:
        assert (await postgraduate_eligibility(s, old, DECIDED)).eligible
    report = await _import(db, tmp_path / "sdh.xlsx", [_row("020070000046")])
    assert report.written and report.commitments[0][2] == 2 * 18
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules: []\npostgraduate: {levels: [Học bổng], max_age_first_sending: "
                   "abc}\n", encoding="utf-8")  # fmt: skip
    async with db.begin() as s:
        refused = await load_rulebook(s, path=bad, dry_run=False)
    assert [(e.section, e.field, e.code) for e in refused.errors] == [
        ("postgraduate", "levels", "unknown_value"),
        ("postgraduate", "max_age_first_sending", "bad_number"),
        ("postgraduate", "commitment_multiple", "required"),
    ]
