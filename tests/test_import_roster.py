"""Roster import: all or nothing, every bad row listed, idempotent, fast on 10,000 rows."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.cli_data import cmd_import, cmd_template
from config.settings import Settings
from domain.import_rows import ImportReport, Problem
from domain.importing import import_roster
from domain.sheets import write_rows_xlsx
from storage.models import Person, Position, Qualification
from storage.repos.roster import UnitRepo
from tests.factories import ZONE, make_person, make_unit

NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
HEADERS = [
    "STT", "Số CCCD", "Họ và tên", "Ngày sinh", "Giới tính", "Số điện thoại", "Đơn vị",
    "Chức vụ", "Trình độ chuyên môn", "Chuyên ngành đào tạo", "Lý luận chính trị",
    "Quản lý nhà nước", "Tin học", "Ngoại ngữ", "Kỹ năng số",
]  # fmt: skip


def _row(n: int, personal_id: str | None = None, **over: str) -> list[str]:
    values = {
        "Số CCCD": personal_id or f"020{n:09d}",
        "Họ và tên": f"Nguyễn Văn {n}",
        "Ngày sinh": "15/03/1988",
        "Giới tính": "Nam",
        "Số điện thoại": f"09{n:08d}",
        "Đơn vị": "LS-X001",
        "Chức vụ": "Công chức Văn hóa - Xã hội",
        "Trình độ chuyên môn": "Đại học",
        "Chuyên ngành đào tạo": "Quản lý văn hóa",
        "Lý luận chính trị": "Trung cấp",
        "Quản lý nhà nước": "Chuyên viên",
        "Tin học": "Ứng dụng CNTT cơ bản",
        "Ngoại ngữ": "Tiếng Anh B1",
        "Kỹ năng số": "Có",
        **over,
    }
    return [str(n)] + [values[h] for h in HEADERS[1:]]


def _xlsx(path: Path, rows: Sequence[Sequence[str]], headers: Sequence[str] = HEADERS) -> Path:
    write_rows_xlsx(path, headers, rows, "Dữ liệu")
    return path


async def _units(db: async_sessionmaker[AsyncSession]) -> None:
    async with db.begin() as s:
        province = await make_unit(s, code="LS", name="Tỉnh Lạng Sơn", kind="province")
        await make_unit(s, code="LS-X001", name="Xã Tân Lập", parent=province)
        await make_unit(s, code="LS-X002", name="Xã Hòa Bình", parent=province)


async def _run(db: async_sessionmaker[AsyncSession], path: Path, dry_run: bool = False
               ) -> ImportReport:  # fmt: skip
    async with db.begin() as s:
        return await import_roster(s, path=path, dry_run=dry_run, now=NOW, tz=ZONE)


async def _count(db: async_sessionmaker[AsyncSession], model: type) -> int:
    async with db() as s:
        return int((await s.execute(select(func.count()).select_from(model))).scalar_one())


async def test_import_creates_people_with_qualifications(
    db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    await _units(db)
    path = _xlsx(tmp_path / "roster.xlsx", [
        _row(1),
        # Lost leading zero, unit by exact name, position in English, level cell with the field.
        _row(2, "20000000002", **{"Đơn vị": "Xã Hòa Bình", "Chức vụ": "Commune People's "
             "Committee chairperson", "Trình độ chuyên môn": "Đại học Luật",
             "Chuyên ngành đào tạo": "", "Số điện thoại": "+84 912 000 002",
             "Kỹ năng số": "Không", "Tin học": "", "Ngoại ngữ": ""}),
    ])  # fmt: skip
    report = await _run(db, path)
    assert report.ok, report.errors
    assert (report.total_rows, report.created, report.updated, report.unchanged) == (2, 2, 0, 0)
    assert report.written
    async with db() as s:
        people = {
            p.personal_id: p for p in (await s.execute(select(Person))).scalars()
        }
        second = people["020000000002"]
        position = await s.get(Position, second.position_id)
        assert position is not None and position.code == "chu_tich_ubnd"
        assert second.phone == "0912000002"
        assert second.date_of_birth == date(1988, 3, 15)
        assert second.gender == "nam"
        unit = await UnitRepo(s).by_code("LS-X002")
        assert unit is not None and second.unit_id == unit.id
        quals = {
            (q.kind, q.level, q.field)
            for q in (
                await s.execute(select(Qualification).where(Qualification.person_id == second.id))
            ).scalars()
        }
        assert quals == {
            ("education", "dai_hoc", "Luật"),
            ("political_theory", "trung_cap", ""),
            ("state_management", "chuyen_vien", ""),
        }
        first = people["020000000001"]
        sourced = {
            (q.kind, q.level, q.field, q.source)
            for q in (
                await s.execute(select(Qualification).where(Qualification.person_id == first.id))
            ).scalars()
        }
    assert sourced == {
        ("education", "dai_hoc", "Quản lý văn hóa", "roster"),
        ("political_theory", "trung_cap", "", "roster"),
        ("state_management", "chuyen_vien", "", "roster"),
        ("it", "co_ban", "Ứng dụng CNTT cơ bản", "roster"),
        ("foreign_language", "B1", "Tiếng Anh B1", "roster"),
        ("digital_skills", "co_ban", "", "roster"),
    }


async def test_reimport_is_idempotent_and_updates_changes(
    db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    await _units(db)
    rows = [_row(n) for n in range(1, 6)]
    path = _xlsx(tmp_path / "roster.xlsx", rows)
    assert (await _run(db, path)).created == 5
    again = await _run(db, path)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 5)

    rows[2] = _row(3, **{"Lý luận chính trị": "Cao cấp", "Số điện thoại": "0988000003"})
    changed = await _run(db, _xlsx(tmp_path / "roster2.xlsx", rows))
    assert (changed.created, changed.updated, changed.unchanged) == (0, 1, 4)
    async with db() as s:
        person = (
            await s.execute(select(Person).where(Person.personal_id == "020000000003"))
        ).scalar_one()
        levels = set(
            (
                await s.execute(
                    select(Qualification.level).where(
                        Qualification.person_id == person.id,
                        Qualification.kind == "political_theory",
                    )
                )
            ).scalars()
        )
    assert person.phone == "0988000003"
    assert levels == {"cao_cap"}
    assert await _count(db, Person) == 5


async def test_dry_run_writes_nothing(
    db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    await _units(db)
    path = _xlsx(tmp_path / "roster.xlsx", [_row(n) for n in range(1, 4)])
    report = await _run(db, path, dry_run=True)
    assert report.ok and not report.written
    assert (report.created, report.updated, report.unchanged) == (3, 0, 0)
    assert await _count(db, Person) == 0
    assert await _count(db, Qualification) == 0


async def test_bad_rows_of_every_kind_are_all_listed_and_nothing_is_written(
    db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    await _units(db)
    rows = [
        _row(1),
        _row(2, "020000000001"),  # row 3: the ID of row 2 again
        _row(3, **{"Đơn vị": "LS-X999"}),  # row 4
        _row(4, **{"Ngày sinh": "31/02/1990"}),  # row 5
        _row(5, **{"Trình độ chuyên môn": "Sau đại học"}),  # row 6: which degree?
        _row(6, "0201234567890"),  # row 7: 13 digits
        _row(7, **{"Số điện thoại": "12345"}),  # row 8
        _row(8, **{"Chức vụ": "Trưởng thôn", "Họ và tên": ""}),  # row 9: two problems
        _row(9),
    ]
    report = await _run(db, _xlsx(tmp_path / "bad.xlsx", rows))
    got = [(e.row, e.column, e.code, e.value) for e in report.errors]
    assert got == [
        (3, "Số CCCD", Problem.DUPLICATE_IN_FILE, "020000000001"),
        (4, "Đơn vị", Problem.UNKNOWN_UNIT, "LS-X999"),
        (5, "Ngày sinh", Problem.BAD_DATE, "31/02/1990"),
        (6, "Trình độ chuyên môn", Problem.POSTGRADUATE, "Sau đại học"),
        (7, "Số CCCD", Problem.BAD_PERSONAL_ID, "0201234567890"),
        (8, "Số điện thoại", Problem.BAD_PHONE, "12345"),
        (9, "Họ và tên", Problem.REQUIRED, ""),
        (9, "Chức vụ, chức danh", Problem.UNKNOWN_POSITION, "Trưởng thôn"),
    ]
    assert report.errors[0].other_row == 2
    assert report.errors[3].vocab == "education"
    assert not report.written
    assert await _count(db, Person) == 0


async def test_csv_with_bom_and_english_headers_without_diacritics(
    db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    await _units(db)
    text = (
        "Personal ID,Full name,Date of birth,Gender,Phone,Unit,Position,Education level,"
        "Field of study,Political theory\r\n"
        "020000000011,Hoàng Thị Lan,01/02/1990,nu,0912000011,ls-x001,cong chuc van hoa - xa hoi,"
        "dai hoc,Van hoa hoc,trung cap\r\n"
        "020000000012,Vi Van Binh,1985-07-09,Male,912000012,Xã Tân Lập,,cao dang,,\r\n"
    )
    path = tmp_path / "roster.csv"
    path.write_bytes(text.encode("utf-8-sig"))
    report = await _run(db, path)
    assert report.ok, report.errors
    assert report.created == 2
    async with db() as s:
        lan = (
            await s.execute(select(Person).where(Person.personal_id == "020000000011"))
        ).scalar_one()
        binh = (
            await s.execute(select(Person).where(Person.personal_id == "020000000012"))
        ).scalar_one()
    assert (lan.full_name, lan.gender, lan.date_of_birth) == ("Hoàng Thị Lan", "nu",
                                                             date(1990, 2, 1))  # fmt: skip
    assert lan.position_id is not None
    assert (binh.phone, binh.date_of_birth, binh.position_id) == (
        "0912000012", date(1985, 7, 9), None
    )


async def test_absent_column_keeps_values_and_blank_cell_clears_them(
    db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    await _units(db)
    await _run(db, _xlsx(tmp_path / "full.xlsx", [_row(1), _row(2)]))
    # No phone column and no qualification columns: those stay as they are.
    short = ["Số CCCD", "Họ và tên", "Đơn vị"]
    report = await _run(db, _xlsx(tmp_path / "short.xlsx", [
        ["020000000001", "Nguyễn Văn 1", "LS-X001"],
        ["020000000002", "Nguyễn Văn Hai", "LS-X001"],
    ], short))  # fmt: skip
    assert (report.updated, report.unchanged) == (1, 1)
    blank = await _run(db, _xlsx(tmp_path / "blank.xlsx", [
        ["020000000001", "Nguyễn Văn 1", "LS-X001", ""],
    ], [*short, "Số điện thoại"]))  # fmt: skip
    assert blank.updated == 1
    async with db() as s:
        phones = {pid: phone for pid, phone in await s.execute(
            select(Person.personal_id, Person.phone))}  # fmt: skip
    assert phones == {"020000000001": None, "020000000002": "0900000002"}
    assert await _count(db, Qualification) == 2 * 6


async def test_course_granted_qualification_is_kept_not_duplicated(
    db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    await _units(db)
    async with db.begin() as s:
        unit = await UnitRepo(s).by_code("LS-X001")
        person = await make_person(s, unit=unit, personal_id="020000000001")
        s.add(Qualification(person_id=person.id, kind="political_theory", level="trung_cap",
                            field="", source="course"))  # fmt: skip
    path = _xlsx(tmp_path / "roster.xlsx", [_row(1)])
    assert (await _run(db, path)).updated == 1
    assert (await _run(db, path)).unchanged == 1
    async with db() as s:
        rows = (
            await s.execute(
                select(Qualification.source).where(Qualification.kind == "political_theory")
            )
        ).scalars().all()
    assert rows == ["course"]


async def test_merged_unit_code_resolves_to_successor(
    db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    await _units(db)
    async with db.begin() as s:
        repo = UnitRepo(s)
        old, new = await repo.by_code("LS-X001"), await repo.by_code("LS-X002")
        assert old is not None and new is not None
        await make_person(s, unit=old, personal_id="020000000099")
        result = await repo.merge(old, new)
        assert result.people == 1
        new_id = new.id
    await _run(db, _xlsx(tmp_path / "roster.xlsx", [_row(1)]))
    async with db() as s:
        units = set((await s.execute(select(Person.unit_id))).scalars())
    assert units == {new_id}


def _big_rows(n: int) -> list[list[str]]:
    levels = ["Đại học", "Cao đẳng", "Thạc sĩ", "Trung cấp", ""]
    return [
        _row(i, **{"Trình độ chuyên môn": levels[i % 5], "Đơn vị": f"LS-X{1 + i % 2:03d}",
                   "Chuyên ngành đào tạo": "Luật" if levels[i % 5] else ""})
        for i in range(1, n + 1)
    ]  # fmt: skip


@pytest.mark.databases("sqlite")
async def test_ten_thousand_rows_with_one_bad_row_near_the_end(
    db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    await _units(db)
    rows = _big_rows(10_000)
    good = _xlsx(tmp_path / "good.xlsx", rows)
    # Spreadsheet row 9,998 (header is row 1): 11 digits that cannot be a CCCD even with the
    # lost leading zero put back (province 099 does not exist).
    rows[9_996] = _row(9_997, "99912345678")
    bad = _xlsx(tmp_path / "bad.xlsx", rows)

    started = time.perf_counter()
    report = await _run(db, bad)
    failed_in = time.perf_counter() - started
    assert [(e.row, e.column, e.code) for e in report.errors] == [
        (9_998, "Số CCCD", Problem.BAD_PERSONAL_ID)
    ]
    assert await _count(db, Person) == 0

    started = time.perf_counter()
    report = await _run(db, good)
    imported_in = time.perf_counter() - started
    assert report.ok and report.created == 10_000
    started = time.perf_counter()
    again = await _run(db, good)
    reimported_in = time.perf_counter() - started
    assert again.unchanged == 10_000
    assert await _count(db, Person) == 10_000
    print(
        f"\n10,000-row roster on SQLite: rejected in {failed_in:.2f} s, "
        f"imported in {imported_in:.2f} s, re-imported (unchanged) in {reimported_in:.2f} s"
    )


@pytest.mark.databases("sqlite")
async def test_cli_prints_every_bad_row_and_exit_codes(
    db: async_sessionmaker[AsyncSession],
    db_engine: AsyncEngine,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await _units(db)
    settings = Settings(database_url=db_engine.url.render_as_string(hide_password=False))
    bad = _xlsx(tmp_path / "bad.xlsx", [_row(1), _row(2, **{"Đơn vị": "LS-X999"}),
                                        _row(3, "12345")])  # fmt: skip
    assert await cmd_import(settings, "roster", bad, dry_run=False) == 1
    out = capsys.readouterr()
    assert "Dòng 3, cột Đơn vị: không có đơn vị này (unknown unit): «LS-X999»" in out.out
    assert "Dòng 4, cột Số CCCD: số CCCD không hợp lệ" in out.out
    assert "Đã kiểm tra 3 dòng (validated 3 rows)" in out.err
    assert await _count(db, Person) == 0

    assert await cmd_import(settings, "roster", tmp_path / "missing.xlsx", dry_run=False) == 2
    (tmp_path / "notes.txt").write_text("hello\n", encoding="utf-8")
    assert await cmd_import(settings, "roster", tmp_path / "notes.txt", dry_run=False) == 2
    assert "không tìm thấy dòng tiêu đề" in capsys.readouterr().err

    # The template's own example row imports as it is.
    template = tmp_path / "mau.xlsx"
    assert cmd_template("roster", template, today=NOW.date()) == 0
    assert await cmd_import(settings, "roster", template, dry_run=True) == 0
    assert "1 thêm mới (created)" in capsys.readouterr().out
    assert await _count(db, Person) == 0
    assert await cmd_import(settings, "roster", template, dry_run=False) == 0
    assert await _count(db, Person) == 1
