"""Attendance per course session: marked by organizers, by check-in code, or by a sheet.

Sessions are numbered from 0 in time order; a course without sessions is one session
spanning its dates (domain.registration.intervals). Marks decide completion when the
organizer finishes the course (domain/completion.py).
"""

from __future__ import annotations

import asyncio
import enum
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain import roles
from domain.errors import DomainError, Refusal
from domain.import_rows import Problem, RowError
from domain.linking import CODE_ALPHABET, hash_code
from domain.phones import valid_personal_id
from domain.registration import intervals
from domain.sheets import Column, read_table, write_rows_xlsx
from domain.text import fold, vn_sort_key
from storage.models import (
    Attendance,
    CheckinCode,
    Course,
    CourseStatus,
    Person,
    Registration,
    RegistrationStatus,
    Role,
)
from storage.repos.courses import CourseRepo

S = RegistrationStatus
PARTICIPANTS = (S.REGISTERED, S.ATTENDED, S.COMPLETED, S.NO_SHOW)
CHECKIN_CODE_LENGTH = 6  # read off a projector and typed on a phone: 31^6 ≈ 9·10^8 codes
CHECKIN_EARLY = timedelta(minutes=30)  # a code works from this long before the session
CHECKIN_LATE = timedelta(minutes=15)  # ... until this long after its end
NOT_REGISTERED = "not_registered"  # upload row error: the ID is not a participant
BAD_MARK = "bad_mark"  # upload row error: neither present nor absent
_PRESENT = frozenset({"x", "1", "co", "c", "yes", "y", "true", "present", "co mat", "✓", "✔"})
_ABSENT = frozenset({"", "0", "khong", "k", "no", "n", "false", "vang", "v", "-", "absent"})


@dataclass(frozen=True)
class Participant:
    registration_id: int
    person_id: int
    name: str
    personal_id: str
    status: RegistrationStatus
    present: frozenset[int]  # session numbers marked present


@dataclass(frozen=True)
class Sheet:
    """A course's attendance: its sessions and every participant's marks."""

    course: Course
    sessions: list[tuple[datetime, datetime]]
    participants: list[Participant]

    def present_count(self, session_no: int) -> int:
        return sum(session_no in p.present for p in self.participants)


@dataclass(frozen=True)
class CodeView:
    code: str
    session_no: int
    valid_from: datetime
    valid_until: datetime


class CheckinStatus(enum.StrEnum):
    CHECKED_IN = "checked_in"
    ALREADY = "already"
    BAD_CODE = "bad_code"
    NOT_YET = "not_yet"
    EXPIRED = "expired"
    NOT_REGISTERED = "not_registered"


@dataclass(frozen=True)
class CheckinResult:
    status: CheckinStatus
    title: str = ""
    session_no: int = 0
    valid_from: datetime | None = None


@dataclass
class UploadReport:
    rows: int = 0
    marks: int = 0
    errors: list[RowError] = field(default_factory=list)
    unknown_headers: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


# -- reading ----------------------------------------------------------------------------------


async def organizer_course(
    session: AsyncSession, *, actor_id: int | None, course_id: int
) -> Course:
    """The course with its sessions, when the actor organizes for its unit; raises otherwise."""
    course = await CourseRepo(session).get(course_id)
    if course is None:
        raise DomainError(Refusal.NOT_FOUND)
    scope = await roles.require(session, person_id=actor_id, role=Role.ORGANIZER)
    if not scope.covers(course.organizer_unit_id):  # a course of no unit: admins only
        raise DomainError(Refusal.FORBIDDEN, role=Role.ORGANIZER.value)
    return course


async def courses_for(
    session: AsyncSession, *, actor_id: int | None, now: datetime, limit: int = 20
) -> list[Course]:
    """Courses the organizer may take attendance for: started by tomorrow, ended ≤ 60 days ago."""
    scope = await roles.require(session, person_id=actor_id, role=Role.ORGANIZER)
    stmt = (
        select(Course)
        .where(
            Course.status.in_((CourseStatus.OPEN, CourseStatus.CLOSED, CourseStatus.FINISHED)),
            Course.starts_at <= now + timedelta(days=1),
            Course.ends_at >= now - timedelta(days=60),
        )
        .order_by(Course.starts_at.desc(), Course.id)
        .limit(limit)
    )
    if not scope.everywhere:
        stmt = stmt.where(Course.organizer_unit_id.in_(scope.unit_ids))
    return list((await session.execute(stmt)).scalars())


async def sheet(session: AsyncSession, *, actor_id: int | None, course_id: int) -> Sheet:
    course = await organizer_course(session, actor_id=actor_id, course_id=course_id)
    return await _sheet(session, course)


async def _sheet(session: AsyncSession, course: Course) -> Sheet:
    stmt = (
        select(Registration, Person)
        .join(Person, Person.id == Registration.person_id)
        .where(Registration.course_id == course.id, Registration.status.in_(PARTICIPANTS))
    )
    pairs = list(await session.execute(stmt))
    marks: dict[int, set[int]] = {r.id: set() for r, _p in pairs}
    if marks:
        rows = await session.execute(
            select(Attendance.registration_id, Attendance.session_no).where(
                Attendance.registration_id.in_(marks), Attendance.present.is_(True)
            )
        )
        for reg_id, session_no in rows:
            marks[reg_id].add(session_no)
    people = [
        Participant(r.id, p.id, p.full_name, p.personal_id, r.status, frozenset(marks[r.id]))
        for r, p in pairs
    ]
    people.sort(key=lambda p: (vn_sort_key(p.name), p.personal_id))
    return Sheet(course, intervals(course), people)


# -- marking ----------------------------------------------------------------------------------


async def set_mark(
    session: AsyncSession,
    *,
    registration_id: int,
    session_no: int,
    present: bool,
    source: str,
    by: int | None,
    now: datetime,
) -> None:
    row = (
        await session.execute(
            select(Attendance).where(
                Attendance.registration_id == registration_id,
                Attendance.session_no == session_no,
            )
        )
    ).scalar_one_or_none()
    if row is None:
        session.add(
            Attendance(
                registration_id=registration_id,
                session_no=session_no,
                present=present,
                source=source,
                marked_by_id=by,
                marked_at=now,
            )
        )
    elif row.present != present:
        row.present, row.source, row.marked_by_id, row.marked_at = present, source, by, now
    await session.flush()


async def toggle(
    session: AsyncSession,
    *,
    actor_id: int | None,
    course_id: int,
    registration_id: int,
    session_no: int,
    now: datetime,
    present: bool | None = None,
) -> bool:
    """Set one participant's mark for one session to `present` (None: flip it); organizer,
    audited when it changes. Returns the mark. The registration row is locked, so the same
    button pressed several times at once marks (and audits) once."""
    course = await organizer_course(session, actor_id=actor_id, course_id=course_id)
    reg = (
        await session.execute(
            select(Registration)
            .where(Registration.id == registration_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if (
        reg is None
        or reg.course_id != course.id
        or reg.status not in PARTICIPANTS
        or not 0 <= session_no < len(intervals(course))
    ):
        raise DomainError(Refusal.NOT_FOUND)
    current = await session.scalar(
        select(Attendance.present).where(
            Attendance.registration_id == reg.id, Attendance.session_no == session_no
        )
    )
    if present is None:
        present = not current
    elif present == bool(current):
        return present  # already so: pressed twice
    await set_mark(
        session,
        registration_id=reg.id,
        session_no=session_no,
        present=present,
        source="organizer",
        by=actor_id,
        now=now,
    )
    person = await session.get(Person, reg.person_id)
    assert person is not None
    await roles.audit(
        session,
        actor_person_id=actor_id,
        actor=await roles.actor_label(session, actor_id),
        action="attendance",
        target=f"{course.code} #{session_no + 1}: {person.full_name} ({person.personal_id})",
        now=now,
        present=present,
    )
    return present


# -- check-in codes ---------------------------------------------------------------------------


async def new_checkin_code(
    session: AsyncSession, *, actor_id: int | None, course_id: int, session_no: int, now: datetime
) -> CodeView:
    """A fresh code for one session, replacing earlier ones; refused once the session is over."""
    course = await organizer_course(session, actor_id=actor_id, course_id=course_id)
    spans = intervals(course)
    if not 0 <= session_no < len(spans):
        raise DomainError(Refusal.NOT_FOUND)
    start, end = spans[session_no]
    valid_from, valid_until = start - CHECKIN_EARLY, end + CHECKIN_LATE
    if now > valid_until:
        raise DomainError(Refusal.CLOSED)
    await session.execute(
        delete(CheckinCode).where(
            CheckinCode.course_id == course.id, CheckinCode.session_no == session_no
        )
    )
    while True:  # another course's live code may hash the same; draw again
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CHECKIN_CODE_LENGTH))
        taken = await session.scalar(
            select(CheckinCode.id).where(CheckinCode.code_hash == hash_code(code))
        )
        if taken is None:
            break
    session.add(
        CheckinCode(
            course_id=course.id,
            session_no=session_no,
            code_hash=hash_code(code),
            valid_from=valid_from,
            valid_until=valid_until,
            created_by_id=actor_id,
        )
    )
    await roles.audit(
        session,
        actor_person_id=actor_id,
        actor=await roles.actor_label(session, actor_id),
        action="checkin_code",
        target=f"{course.code} #{session_no + 1}",
        now=now,
    )
    return CodeView(code, session_no, valid_from, valid_until)


async def checkin(
    session: AsyncSession, *, person_id: int, code: str, now: datetime
) -> CheckinResult:
    """A participant checks in with the code the organizer shows during the session."""
    row = (
        await session.execute(select(CheckinCode).where(CheckinCode.code_hash == hash_code(code)))
    ).scalar_one_or_none()
    if row is None:
        return CheckinResult(CheckinStatus.BAD_CODE)
    course = await session.get(Course, row.course_id)
    assert course is not None
    if now < row.valid_from:
        return CheckinResult(CheckinStatus.NOT_YET, course.title, row.session_no, row.valid_from)
    if now > row.valid_until:
        return CheckinResult(CheckinStatus.EXPIRED, course.title, row.session_no)
    reg = (
        await session.execute(
            select(Registration)
            .where(
                Registration.course_id == course.id,
                Registration.person_id == person_id,
                Registration.status.in_((S.REGISTERED, S.ATTENDED)),
            )
            # Locked: the same code sent several times at once checks in once.
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).scalar_one_or_none()
    if reg is None:
        return CheckinResult(CheckinStatus.NOT_REGISTERED, course.title, row.session_no)
    already = await session.scalar(
        select(Attendance.present).where(
            Attendance.registration_id == reg.id, Attendance.session_no == row.session_no
        )
    )
    if already:
        return CheckinResult(CheckinStatus.ALREADY, course.title, row.session_no)
    await set_mark(
        session,
        registration_id=reg.id,
        session_no=row.session_no,
        present=True,
        source="checkin",
        by=person_id,
        now=now,
    )
    return CheckinResult(CheckinStatus.CHECKED_IN, course.title, row.session_no)


# -- spreadsheets -----------------------------------------------------------------------------


def sheet_columns(spans: Sequence[tuple[datetime, datetime]], tz: ZoneInfo) -> list[Column]:
    """Personal ID, name (ignored), and one column per session: "Buổi 1 05/12 07:30"."""
    columns = [
        Column("personal_id", "Số CCCD", "Personal ID", True, "", "", ("CCCD", "Citizen ID")),
        Column("full_name", "Họ và tên", "Full name", False, "", "", ("Họ tên", "Name")),
    ]
    for i, (start, _end) in enumerate(spans):
        local = start.astimezone(tz)
        columns.append(
            Column(
                f"s{i}",
                f"Buổi {i + 1} {local:%d/%m %H:%M}",
                f"Session {i + 1}",
                False,
                "",
                "",
                (f"Buổi {i + 1}", f"Buoi {i + 1}", f"{local:%d/%m/%Y}"),
                as_text=True,
            )
        )
    return columns


async def write_sheet(
    session: AsyncSession, *, actor_id: int | None, course_id: int, path: Path, tz: ZoneInfo
) -> Sheet:
    """An XLSX of the participants with their marks so far (x = present), to fill and upload."""
    found = await sheet(session, actor_id=actor_id, course_id=course_id)
    columns = sheet_columns(found.sessions, tz)
    rows = [
        [
            p.personal_id,
            p.name,
            *("x" if i in p.present else "" for i in range(len(found.sessions))),
        ]
        for p in found.participants
    ]
    await asyncio.to_thread(write_rows_xlsx, path, [c.vi for c in columns], rows, found.course.code)
    return found


async def upload(
    session: AsyncSession,
    *,
    actor_id: int | None,
    course_id: int,
    path: Path,
    now: datetime,
    tz: ZoneInfo,
) -> UploadReport:
    """Marks from a sheet (x/1/có present; blank/0/không/vắng absent), all or nothing: any bad
    row and nothing is written, every bad row listed. Raises sheets.SheetError."""
    found = await sheet(session, actor_id=actor_id, course_id=course_id)
    columns = sheet_columns(found.sessions, tz)
    table = await asyncio.to_thread(read_table, path, columns)
    by_id = {p.personal_id: p for p in found.participants}
    header = {c.key: c.vi for c in columns}
    report = UploadReport(rows=len(table.rows), unknown_headers=table.unknown_headers)
    seen: dict[str, int] = {}
    marks: list[tuple[int, int, bool]] = []

    def fail(row: int, key: str, code: str, value: str, other_row: int | None = None) -> None:
        report.errors.append(
            RowError(row, header[key], code, value[:200], key=key, other_row=other_row)
        )

    for row, cells in table.rows:
        raw = " ".join(cells.get("personal_id", "").split())
        pid = valid_personal_id(raw) if raw else None
        if not raw:
            fail(row, "personal_id", Problem.REQUIRED, raw)
        elif pid is None:
            fail(row, "personal_id", Problem.BAD_PERSONAL_ID, raw)
        elif pid in seen:
            fail(row, "personal_id", Problem.DUPLICATE_IN_FILE, raw, other_row=seen[pid])
        elif pid not in by_id:
            fail(row, "personal_id", NOT_REGISTERED, raw)
        if pid is not None:
            seen.setdefault(pid, row)
        for i in range(len(found.sessions)):
            key = f"s{i}"
            if key not in cells:
                continue  # a column left out keeps its marks
            value = fold(cells[key])
            if value not in _PRESENT and value not in _ABSENT:
                fail(row, key, BAD_MARK, cells[key])
            elif pid in by_id:
                marks.append((by_id[pid].registration_id, i, value in _PRESENT))
    if report.errors:
        return report
    await _write_marks(session, marks, by=actor_id, now=now)
    report.marks = len(marks)
    await roles.audit(
        session,
        actor_person_id=actor_id,
        actor=await roles.actor_label(session, actor_id),
        action="attendance_upload",
        target=found.course.code,
        now=now,
        rows=report.rows,
        marks=report.marks,
    )
    return report


async def _write_marks(
    session: AsyncSession, marks: list[tuple[int, int, bool]], *, by: int | None, now: datetime
) -> None:
    """Upsert many marks with one read and one flush (a sheet holds thousands)."""
    reg_ids = {reg_id for reg_id, _no, _present in marks}
    stmt = select(Attendance).where(Attendance.registration_id.in_(reg_ids))
    existing = {
        (a.registration_id, a.session_no): a for a in (await session.execute(stmt)).scalars()
    }
    for reg_id, session_no, present in marks:
        row = existing.get((reg_id, session_no))
        if row is None:
            session.add(
                Attendance(
                    registration_id=reg_id,
                    session_no=session_no,
                    present=present,
                    source="upload",
                    marked_by_id=by,
                    marked_at=now,
                )
            )
        elif row.present != present:
            row.present, row.source, row.marked_by_id, row.marked_at = present, "upload", by, now
    await session.flush()
