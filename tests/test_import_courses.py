"""Course import: local times become UTC, audiences resolve, all or nothing, idempotent."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from domain.import_rows import ImportReport, Problem
from domain.importing import import_courses
from domain.sheets import write_rows_xlsx
from storage.models import Course, CourseSession, CourseStatus
from tests.factories import POLICY, make_person, make_unit

NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
HEADERS = [
    "Mã khóa học", "Tên khóa học", "Loại", "Đơn vị tổ chức", "Hình thức", "Địa điểm",
    "Đường dẫn", "Bắt đầu", "Kết thúc", "Các buổi học", "Số chỗ", "Hạn đăng ký",
    "Đơn vị được tham gia", "Đối tượng", "Số giờ", "Công nhận loại", "Công nhận trình độ",
    "Cần duyệt",
]  # fmt: skip


def _row(code: str, **over: str) -> list[str]:
    values = {
        "Mã khóa học": code,
        "Tên khóa học": "Bồi dưỡng lý luận chính trị trung cấp",
        "Loại": "Lý luận chính trị",
        "Đơn vị tổ chức": "LS-TCT",
        "Hình thức": "Trực tiếp",
        "Địa điểm": "Trường Chính trị tỉnh",
        "Đường dẫn": "",
        "Bắt đầu": "05/12/2026 07:30",
        "Kết thúc": "06/12/2026",
        "Các buổi học": "05/12/2026 07:30-11:30; 06/12/2026 13:30-17:00",
        "Số chỗ": "40",
        "Hạn đăng ký": "",
        "Đơn vị được tham gia": "LS-TD, Xã Tân Lập",
        "Đối tượng": "Lãnh đạo, Công chức Văn hóa - Xã hội",
        "Số giờ": "16",
        "Công nhận loại": "Lý luận chính trị",
        "Công nhận trình độ": "Trung cấp",
        "Cần duyệt": "Có",
        **over,
    }
    return [values[h] for h in HEADERS]


def _xlsx(path: Path, rows: Sequence[Sequence[str]], headers: Sequence[str] = HEADERS) -> Path:
    write_rows_xlsx(path, headers, rows, "Dữ liệu")
    return path


async def _units(db: async_sessionmaker[AsyncSession]) -> None:
    async with db.begin() as s:
        province = await make_unit(s, code="LS", name="Tỉnh Lạng Sơn", kind="province")
        district = await make_unit(s, code="LS-TD", name="Huyện Tràng Định", kind="district",
                                   parent=province)  # fmt: skip
        await make_unit(s, code="LS-X001", name="Xã Tân Lập", parent=district)
        await make_unit(s, code="LS-TCT", name="Trường Chính trị", kind="division",
                        parent=province)  # fmt: skip


async def _run(db: async_sessionmaker[AsyncSession], path: Path, dry_run: bool = False
               ) -> ImportReport:  # fmt: skip
    async with db.begin() as s:
        return await import_courses(s, path=path, dry_run=dry_run, now=NOW, policy=POLICY)


async def _courses(db: async_sessionmaker[AsyncSession]) -> dict[str, Course]:
    async with db() as s:
        stmt = select(Course).options(selectinload(Course.sessions))
        return {c.code: c for c in (await s.execute(stmt)).scalars()}


async def test_import_creates_courses_in_utc_with_sessions_and_audience(
    db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    await _units(db)
    path = _xlsx(tmp_path / "courses.xlsx", [
        _row("LLCT-01"),
        _row("KNS-01", **{"Tên khóa học": "Kỹ năng số", "Loại": "ky nang so",
                          "Các buổi học": "", "Hình thức": "Trực tuyến",
                          "Đường dẫn": "https://hoc.example.vn/kns", "Hạn đăng ký": "01/12/2026",
                          "Đơn vị được tham gia": "", "Đối tượng": "", "Công nhận loại": "",
                          "Công nhận trình độ": "", "Cần duyệt": ""}),
    ])  # fmt: skip
    report = await _run(db, path)
    assert report.ok, report.errors
    assert (report.created, report.updated, report.unchanged) == (2, 0, 0)
    courses = await _courses(db)
    llct = courses["LLCT-01"]
    assert llct.starts_at == datetime(2026, 12, 5, 0, 30, tzinfo=UTC)  # 07:30 in Vietnam
    assert llct.ends_at == datetime(2026, 12, 6, 16, 59, tzinfo=UTC)  # the day's last minute
    assert llct.registration_deadline == llct.starts_at  # blank: until the start
    assert [(s.starts_at.hour, s.ends_at.hour) for s in llct.sessions] == [(0, 4), (6, 10)]
    assert llct.audience == {
        "units": ["LS-TD", "LS-X001"],
        "groups": ["leader"],
        "positions": ["cc_van_hoa_xa_hoi"],
    }
    assert (llct.grants_kind, llct.grants_level, llct.requires_approval) == (
        "political_theory",
        "trung_cap",
        True,
    )
    assert llct.status == CourseStatus.OPEN
    assert llct.organizer_unit_id is not None
    assert "boi duong ly luan chinh tri" in llct.search_text
    assert "political theory" in llct.search_text and "truong chinh tri tinh" in llct.search_text
    kns = courses["KNS-01"]
    assert (kns.category, kns.mode, kns.link) == ("digital_skills", "online",
                                                  "https://hoc.example.vn/kns")  # fmt: skip
    assert kns.registration_deadline == datetime(2026, 12, 1, 16, 59, tzinfo=UTC)
    assert kns.sessions == [] and kns.requires_approval is False


async def test_reimport_is_idempotent_and_keeps_status(
    db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    await _units(db)
    rows = [_row("LLCT-01"), _row("LLCT-02")]
    path = _xlsx(tmp_path / "courses.xlsx", rows)
    assert (await _run(db, path)).created == 2
    again = await _run(db, path)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)

    async with db.begin() as s:
        course = (await s.execute(select(Course).where(Course.code == "LLCT-02"))).scalar_one()
        course.status = CourseStatus.CLOSED
    rows[1] = _row("LLCT-02", **{"Số chỗ": "60",
                                 "Các buổi học": "05/12/2026 07:30-11:30"})  # fmt: skip
    changed = await _run(db, _xlsx(tmp_path / "courses2.xlsx", rows))
    assert (changed.created, changed.updated, changed.unchanged) == (0, 1, 1)
    course = (await _courses(db))["LLCT-02"]
    assert course.capacity == 60
    assert course.status == CourseStatus.CLOSED  # an import never reopens a course
    assert len(course.sessions) == 1
    async with db() as s:
        total = (await s.execute(select(func.count()).select_from(CourseSession))).scalar()
    assert total == 3


async def test_dry_run_writes_nothing(db: async_sessionmaker[AsyncSession], tmp_path: Path) -> None:
    await _units(db)
    report = await _run(db, _xlsx(tmp_path / "c.xlsx", [_row("A-1"), _row("A-2")]), True)
    assert report.ok and (report.created, report.written) == (2, False)
    assert await _courses(db) == {}


async def test_every_bad_row_is_listed_and_nothing_is_written(
    db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    await _units(db)
    rows = [
        _row("OK-1"),
        _row("OK-1"),  # row 3
        _row("B-3", **{"Kết thúc": "04/12/2026", "Các buổi học": ""}),  # row 4
        _row("B-4", **{"Bắt đầu": "32/12/2026"}),  # row 5
        _row("B-5", **{"Loại": "Nấu ăn"}),  # row 6
        _row("B-6", **{"Đơn vị tổ chức": "LS-NOPE", "Số chỗ": "ba mươi"}),  # row 7
        _row("B-7", **{"Các buổi học": "07/12/2026 07:30-11:30"}),  # row 8
        _row("B-8", **{"Đường dẫn": "hoc.example.vn", "Hạn đăng ký": "10/12/2026"}),  # row 9
        _row("B-9", **{"Đối tượng": "Trưởng thôn"}),  # row 10
    ]
    report = await _run(db, _xlsx(tmp_path / "bad.xlsx", rows))
    assert [(e.row, e.column, e.code) for e in report.errors] == [
        (3, "Mã khóa học", Problem.DUPLICATE_IN_FILE),
        (4, "Kết thúc", Problem.END_BEFORE_START),
        (5, "Bắt đầu", Problem.BAD_DATE),
        (6, "Loại", Problem.UNKNOWN_VALUE),
        (7, "Đơn vị tổ chức", Problem.UNKNOWN_UNIT),
        (7, "Số chỗ", Problem.BAD_NUMBER),
        (8, "Các buổi học", Problem.SESSION_OUTSIDE_COURSE),
        (9, "Đường dẫn", Problem.BAD_LINK),
        (9, "Hạn đăng ký", Problem.DEADLINE_AFTER_END),
        (10, "Đối tượng", Problem.UNKNOWN_AUDIENCE),
    ]
    assert not report.written
    assert await _courses(db) == {}


async def test_csv_with_bom_and_english_headers(
    db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    await _units(db)
    text = (
        "Course code,Title,Category,Starts,Ends,Capacity,Hours,Audience\r\n"
        "QP-01,Kien thuc quoc phong va an ninh,quoc phong,2026-12-10 08:00,10/12/2026 17h,"
        "25,8,civil servants\r\n"
    )
    path = tmp_path / "courses.csv"
    path.write_bytes(text.encode("utf-8-sig"))
    report = await _run(db, path)
    assert report.ok, report.errors
    course = (await _courses(db))["QP-01"]
    assert course.category == "defence_security"
    assert course.starts_at == datetime(2026, 12, 10, 1, 0, tzinfo=UTC)
    assert course.ends_at == datetime(2026, 12, 10, 10, 0, tzinfo=UTC)
    assert (course.capacity, course.hours, course.mode) == (25, 8, "in_person")
    assert course.audience == {"units": [], "groups": ["civil_servant"], "positions": []}


async def test_a_new_time_or_place_tells_registrants_and_replaces_their_reminders(
    db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    from domain import reminders
    from domain.registration import register
    from storage.models import Notification

    await _units(db)
    # No approval needed, so registering takes a seat and plans the start reminders at once.
    path = _xlsx(tmp_path / "v1.xlsx", [_row("LLCT-01", **{
        "Đơn vị được tham gia": "", "Đối tượng": "", "Cần duyệt": "Không"})])  # fmt: skip
    assert (await _run(db, path)).ok
    async with db.begin() as s:
        course_id = (await s.execute(select(Course.id))).scalar_one()
        person = await make_person(s)
        await register(s, person_id=person.id, course_id=course_id, now=NOW, policy=POLICY)
    renamed = _xlsx(tmp_path / "v2.xlsx", [_row("LLCT-01", **{
        "Đơn vị được tham gia": "", "Đối tượng": "", "Tên khóa học": "Tên mới",
        "Cần duyệt": "Không"})])  # fmt: skip
    assert (await _run(db, renamed)).notified == 0  # a new title is no news to registrants
    moved = _xlsx(tmp_path / "v3.xlsx", [_row("LLCT-01", **{
        "Đơn vị được tham gia": "", "Đối tượng": "", "Tên khóa học": "Tên mới",
        "Bắt đầu": "12/12/2026 07:30", "Kết thúc": "13/12/2026",
        "Các buổi học": "", "Địa điểm": "Hội trường mới", "Cần duyệt": "Không"})])  # fmt: skip
    report = await _run(db, moved)
    assert report.ok and report.notified == 1
    async with db() as s:
        notes = list(
            (await s.execute(select(Notification).order_by(Notification.due_at))).scalars()
        )
    changed = [n.params for n in notes if n.kind == reminders.COURSE_CHANGED]
    assert changed == [{"starts_at": "2026-12-05T00:30:00+00:00", "place": "Trường Chính trị tỉnh"}]
    starts = sorted(n.due_at for n in notes if n.kind == reminders.COURSE_START)
    assert starts == [
        datetime(2026, 12, 9, 1, 0, tzinfo=UTC),
        datetime(2026, 12, 11, 9, 0, tzinfo=UTC),
    ]
