"""Roster and course imports from spreadsheets: check every row, then write all or nothing.

Channel-agnostic: the services return an ImportReport of counts and coded row errors, and the
caller (CLI, a future upload handler) renders them. A file with any bad row writes nothing.
Re-importing the same file is idempotent: rows are keyed by personal ID (people) or code
(courses) and only real differences count as updates.

Only the columns a file has are imported: a column left out keeps the stored values, a blank
cell in a present column clears the value.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import re
from collections.abc import Awaitable, Callable, Container, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from domain import reminders, roles
from domain.level_history import HISTORY, highest, record_levels
from domain.phones import normalize_phone, valid_personal_id
from domain.reminders import Policy
from domain.sheets import Column, read_table, write_template
from domain.text import fold
from domain.vocab import (
    CIVIL_SERVICE_RANK,
    COURSE_CATEGORY,
    COURSE_MODE,
    EDUCATION,
    GENDER,
    PERSON_TYPE,
    POLITICAL_THEORY,
    QUALIFICATION_KIND,
    STATE_MANAGEMENT,
    Term,
    Vocab,
    VocabError,
    level_vocab,
    match_key,
)
from storage.models import Course, CourseSession, CourseStatus
from storage.repos.roster import (
    ROSTER_SOURCE,
    PersonRepo,
    PositionRepo,
    UnitIndex,
    UnitRepo,
    chunks,
)

log = logging.getLogger(__name__)

Progress = Callable[[str, int], None]  # (stage: "read" | "validated" | "written", rows)


class Problem(enum.StrEnum):
    REQUIRED = "required"
    TOO_LONG = "too_long"
    BAD_PERSONAL_ID = "bad_personal_id"
    BAD_PHONE = "bad_phone"
    BAD_DATE = "bad_date"
    FUTURE_DATE = "future_date"
    BAD_NUMBER = "bad_number"
    BAD_LINK = "bad_link"
    BAD_SESSIONS = "bad_sessions"
    UNKNOWN_VALUE = "unknown_value"
    UNKNOWN_UNIT = "unknown_unit"
    AMBIGUOUS_UNIT = "ambiguous_unit"
    UNKNOWN_POSITION = "unknown_position"
    AMBIGUOUS_POSITION = "ambiguous_position"
    UNKNOWN_AUDIENCE = "unknown_audience"
    UNKNOWN_GROUP = "unknown_group"
    UNIT_CYCLE = "unit_cycle"
    UNIT_MERGED = "unit_merged"
    BAD_CODE = "bad_code"
    PHONE_TWICE = "phone_twice"
    PHONE_TAKEN = "phone_taken"
    POSTGRADUATE = "postgraduate"
    BAD_OLD_ID = "bad_old_id"
    DUPLICATE_IN_FILE = "duplicate_in_file"
    END_BEFORE_START = "end_before_start"
    SESSION_OUTSIDE_COURSE = "session_outside_course"
    DEADLINE_AFTER_END = "deadline_after_end"
    UNKNOWN_PERSON = "unknown_person"
    REVIEW_INTERVAL = "review_interval"


@dataclass(frozen=True)
class RowError:
    """One bad cell: spreadsheet row, the column's header (as in the template), a code."""

    row: int
    column: str
    code: str
    value: str
    key: str = ""  # the column key
    vocab: str = ""  # unknown_value: the vocabulary (domain.vocab.VOCABULARIES) to choose from
    other_row: int | None = None  # duplicate_in_file: the first row with the same key


@dataclass(frozen=True)
class Change:
    """What an import does to one row's record: "created", or "updated" with each changed
    column's header and its old and new value as text (for a dry run's row-by-row list)."""

    row: int
    key: str
    action: str
    fields: tuple[tuple[str, str, str], ...] = ()


@dataclass
class ImportReport:
    kind: str
    dry_run: bool
    total_rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    unknown_headers: list[str] = field(default_factory=list)
    written: bool = False
    # People registered or waitlisted for a course whose time or place changed: they are told.
    notified: int = 0
    changes: list[Change] = field(default_factory=list)
    # Degree studies: a postgraduate study the unit sends someone to brings a commitment to
    # serve: (row, study, months, until).
    commitments: list[tuple[int, str, int, date]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


# --- column specs ---------------------------------------------------------------------------

YES_NO = Vocab(
    "yes_no",
    [
        Term("yes", "Có", "Yes", 0, ("x", "y", "1", "true", "đúng", "đã có", "cần", "cần duyệt")),
        Term("no", "Không", "No", 0, ("n", "0", "false", "sai", "chưa", "chưa có", "không cần")),
    ],
)
# Position groups a standard or course audience can target; positions carry one each.
POSITION_GROUP = Vocab(
    "position_group",
    [
        Term("leader", "Lãnh đạo", "Leaders", 0, ("cán bộ lãnh đạo", "lãnh đạo xã", "leader")),
        Term("civil_servant", "Công chức", "Civil servants", 0,
             ("công chức xã", "civil servant", "civil_servants")),
        Term("mass_org", "Mặt trận và các đoàn thể", "Fatherland Front and mass organisations",
             0, ("đoàn thể", "mặt trận", "tổ chức chính trị xã hội", "người đứng đầu đoàn thể",
                 "mass organization", "mass organizations", "mass organisation",
                 "mass organisations", "mass org")),
        Term("part_time", "Không chuyên trách", "Part-time officials", 0,
             ("người hoạt động không chuyên trách", "part time", "part time official")),
        Term("public_employee", "Viên chức", "Public employees", 0,
             ("public employee", "viên chức sự nghiệp")),
    ],
)  # fmt: skip


def _choices(vocab: Vocab) -> tuple[str, str]:
    return (
        "Một trong: " + ", ".join(t.vi for t in vocab) + ".",
        "One of: " + ", ".join(t.en for t in vocab) + ".",
    )


_DATE_NOTE = ("Ngày dạng dd/mm/yyyy.", "Date as dd/mm/yyyy.")
_WHEN_NOTE = (
    "dd/mm/yyyy hoặc dd/mm/yyyy HH:MM, giờ Việt Nam.",
    "dd/mm/yyyy or dd/mm/yyyy HH:MM, Vietnam time.",
)


def _col(key: str, vi: str, en: str, notes: tuple[str, str], *aliases: str,
         required: bool = False, text: bool | None = None) -> Column:  # fmt: skip
    return Column(key, vi, en, required, notes[0], notes[1], aliases, as_text=text)


ROSTER_COLUMNS: tuple[Column, ...] = (
    _col("personal_id", "Số CCCD", "Personal ID",
         ("12 chữ số căn cước công dân; là khóa để cập nhật.", "12-digit citizen ID; the key."),
         "CCCD", "Số căn cước công dân", "Căn cước công dân", "Số định danh cá nhân",
         "Citizen ID", "ID number", required=True),
    _col("full_name", "Họ và tên", "Full name", ("Họ tên đầy đủ.", "Full name."),
         "Họ tên", "Name", required=True),
    _col("date_of_birth", "Ngày sinh", "Date of birth", _DATE_NOTE,
         "Ngày tháng năm sinh", "DOB", "Birth date", "Birthday"),
    _col("gender", "Giới tính", "Gender", _choices(GENDER), "Sex"),
    _col("phone", "Số điện thoại", "Phone",
         ("Số di động để liên kết tài khoản chat.", "Mobile number, used to link the chat."),
         "Điện thoại", "SĐT", "Di động", "Phone number", "Mobile"),
    _col("unit", "Đơn vị", "Unit",
         ("Mã đơn vị hoặc tên đơn vị đúng như trong danh mục.",
          "Unit code, or the unit's exact name."),
         "Mã đơn vị", "Đơn vị công tác", "Tên đơn vị", "Unit code", required=True),
    _col("person_type", "Loại", "Type", _choices(PERSON_TYPE), "Loại cán bộ, công chức",
         "Đối tượng", "Person type", "Category"),
    _col("rank", "Ngạch", "Rank", _choices(CIVIL_SERVICE_RANK),
         "Ngạch công chức", "Ngạch, bậc", "Civil service rank", "Grade"),
    _col("position", "Chức vụ, chức danh", "Position",
         ("Mã hoặc tên chức vụ, chức danh (tiếng Việt hoặc tiếng Anh).",
          "Position code or name (Vietnamese or English)."),
         "Chức danh", "Mã chức vụ", "Chức vụ", "Title", "Position code"),
    _col("job_position", "Vị trí việc làm", "Job position", ("Ghi tự do.", "Free text."),
         "VTVL"),
    _col("old_id", "Số CMND cũ", "Old ID number",
         ("Không bắt buộc: số chứng minh nhân dân 9 chữ số cũ, để đối chiếu.",
          "Optional: the old 9-digit identity card number, for reference."),
         "CMND", "Số CMND", "Chứng minh nhân dân", "Old ID", "CMND number", text=True),
    _col("joined_on", "Ngày vào cơ quan", "Date joined", _DATE_NOTE, "Ngày tuyển dụng",
         "Ngày bắt đầu công tác", "Joined on", "Start date", text=True),
    _col("general_education", "Giáo dục phổ thông", "General education",
         ("Ví dụ 12/12.", "E.g. 12/12."), "Trình độ giáo dục phổ thông", "GDPT", text=True),
    _col("education_level", "Trình độ chuyên môn", "Professional qualification",
         _choices(EDUCATION), "Chuyên môn", "Trình độ đào tạo", "Education level", "Degree"),
    _col("education_field", "Chuyên ngành đào tạo", "Field of study",
         ("Ví dụ: Luật, Quản lý văn hóa.", "E.g. Law, Cultural management."),
         "Chuyên ngành", "Ngành đào tạo", "Field", "Major"),
    _col("political_theory", "Lý luận chính trị", "Political theory",
         _choices(POLITICAL_THEORY), "Trình độ lý luận chính trị", "LLCT"),
    _col("state_management", "Quản lý nhà nước", "State management",
         _choices(STATE_MANAGEMENT), "Trình độ quản lý nhà nước", "QLNN"),
    _col("it_certificate", "Tin học", "IT certificate",
         ("Tên chứng chỉ (ví dụ: Ứng dụng CNTT cơ bản), hoặc Có/Không.",
          "Certificate name (e.g. Basic IT skills), or Yes/No."),
         "Trình độ tin học", "Chứng chỉ tin học", "IT"),
    _col("foreign_language", "Ngoại ngữ", "Foreign language",
         ("Ví dụ: Tiếng Anh B1.", "E.g. English B1."), "Trình độ ngoại ngữ", "Language"),
    _col("digital_skills", "Kỹ năng số", "Digital skills",
         ("Có/Không, hoặc tên chứng chỉ.", "Yes/No, or the certificate's name."),
         "Chứng chỉ kỹ năng số", "Bồi dưỡng kỹ năng số"),
)  # fmt: skip

COURSE_COLUMNS: tuple[Column, ...] = (
    _col("code", "Mã khóa học", "Course code",
         ("Mã riêng của khóa học; là khóa để cập nhật.", "The course's own code; the key."),
         "Mã lớp", "Mã", "Code", required=True),
    _col("title", "Tên khóa học", "Title", ("Tên lớp bồi dưỡng.", "Course title."),
         "Tên lớp", "Tên lớp bồi dưỡng", "Course title", required=True),
    _col("category", "Loại", "Category", _choices(COURSE_CATEGORY), "Loại khóa học",
         "Nội dung bồi dưỡng", "Lĩnh vực", required=True),
    _col("organizer", "Đơn vị tổ chức", "Organizer", ("Mã hoặc tên đơn vị.", "Unit code or name."),
         "Cơ quan tổ chức", "Organizer unit"),
    _col("mode", "Hình thức", "Mode", _choices(COURSE_MODE), "Hình thức học"),
    _col("place", "Địa điểm", "Place", ("Nơi học.", "Where it takes place."), "Location",
         "Venue"),
    _col("link", "Đường dẫn", "Link", ("Link học trực tuyến (https://...).",
                                       "Online link (https://...)."), "Link học", "URL"),
    _col("starts", "Bắt đầu", "Starts", _WHEN_NOTE, "Thời gian bắt đầu", "Ngày bắt đầu",
         "Start", "Starts at", required=True, text=True),
    _col("ends", "Kết thúc", "Ends", _WHEN_NOTE, "Thời gian kết thúc", "Ngày kết thúc", "End",
         "Ends at", required=True, text=True),
    _col("sessions", "Các buổi học", "Sessions",
         ("Tùy chọn: dd/mm/yyyy HH:MM-HH:MM; cách nhau bởi dấu chấm phẩy.",
          "Optional: dd/mm/yyyy HH:MM-HH:MM; separated by semicolons."),
         "Lịch học", "Buổi học", "Schedule", text=True),
    _col("capacity", "Số chỗ", "Capacity", ("Số người tối đa.", "Maximum participants."),
         "Số lượng", "Chỉ tiêu", "Seats", required=True, text=False),
    _col("registration_deadline", "Hạn đăng ký", "Registration deadline",
         (_WHEN_NOTE[0] + " Trống: đến lúc bắt đầu.", _WHEN_NOTE[1] + " Blank: until start."),
         "Hạn chót đăng ký", "Deadline", text=True),
    _col("audience_units", "Đơn vị được tham gia", "Audience units",
         ("Mã hoặc tên đơn vị, cách nhau bởi dấu phẩy (gồm đơn vị cấp dưới). Trống: tất cả.",
          "Unit codes or names, comma-separated (subunits included). Blank: everyone."),
         "Đơn vị tham gia", "Audience unit"),
    _col("audience_groups", "Đối tượng", "Audience",
         ("Nhóm (" + ", ".join(t.vi for t in POSITION_GROUP) + ") hoặc chức vụ, cách nhau "
          "bởi dấu phẩy. Trống: tất cả.",
          "Groups (" + ", ".join(t.en for t in POSITION_GROUP) + ") or positions, "
          "comma-separated. Blank: everyone."),
         "Đối tượng tham gia", "Audience groups", "Audience positions"),
    _col("hours", "Số giờ", "Hours", ("Số giờ bồi dưỡng được tính.", "Training hours counted."),
         "Số tiết", "Thời lượng", text=False),
    _col("grants_kind", "Công nhận loại", "Grants kind",
         _choices(Vocab("kinds", [t for t in QUALIFICATION_KIND if t.code != "refresher_hours"])),
         "Loại văn bằng chứng chỉ", "Grants"),
    _col("grants_level", "Công nhận trình độ", "Grants level",
         ("Ví dụ: Trung cấp (lý luận chính trị), Chuyên viên (quản lý nhà nước).",
          "E.g. Intermediate (political theory), Specialist (state management)."),
         "Trình độ được công nhận"),
    _col("requires_approval", "Cần duyệt", "Requires approval", _choices(YES_NO), "Phải duyệt",
         "Approval"),
)  # fmt: skip

ROSTER_EXAMPLE = {
    "personal_id": "020085001234", "full_name": "Hoàng Thị Lan", "date_of_birth": "15/03/1988",
    "gender": "Nữ", "phone": "0912345678", "unit": "LS-X001", "person_type": "Công chức",
    "rank": "Chuyên viên", "position": "Công chức Văn hóa - Xã hội", "old_id": "",
    "job_position": "Văn hóa - Xã hội",
    "joined_on": "01/09/2012", "general_education": "12/12", "education_level": "Đại học",
    "education_field": "Quản lý văn hóa", "political_theory": "Trung cấp",
    "state_management": "Chuyên viên", "it_certificate": "Ứng dụng CNTT cơ bản",
    "foreign_language": "Tiếng Anh B1", "digital_skills": "Có",
}  # fmt: skip
COURSE_EXAMPLE = {
    "code": "KNS-01", "title": "Kỹ năng số cho công chức cấp xã",
    "category": "Kỹ năng số", "organizer": "LS-SNV", "mode": "Trực tiếp",
    "place": "Hội trường Sở Nội vụ", "starts": "05/12/2026 07:30", "ends": "06/12/2026 17:00",
    "sessions": "05/12/2026 07:30-11:30; 06/12/2026 13:30-17:00", "capacity": "40",
    "registration_deadline": "01/12/2026", "audience_units": "", "audience_groups": "Công chức",
    "hours": "16", "grants_kind": "Kỹ năng số", "grants_level": "", "requires_approval": "Không",
}  # fmt: skip


@dataclass(frozen=True)
class Template:
    columns: tuple[Column, ...]
    title: str
    notes_title: str
    example: dict[str, str]


TEMPLATES = {
    "roster": Template(ROSTER_COLUMNS, "Danh sách cán bộ, công chức cấp xã (Roster)",
                       "Hướng dẫn điền (How to fill in)", ROSTER_EXAMPLE),
    "courses": Template(COURSE_COLUMNS, "Danh sách khóa bồi dưỡng (Courses)",
                        "Hướng dẫn điền (How to fill in)", COURSE_EXAMPLE),
}  # fmt: skip


def _course_example(today: date) -> dict[str, str]:
    """The courses template's example, a month ahead so that it imports as it is."""
    start = today + timedelta(days=30)
    end = start + timedelta(days=1)
    day = "%d/%m/%Y"
    return {
        **COURSE_EXAMPLE,
        "starts": f"{start:{day}} 07:30", "ends": f"{end:{day}} 17:00",
        "sessions": f"{start:{day}} 07:30-11:30; {end:{day}} 13:30-17:00",
        "registration_deadline": f"{start - timedelta(days=4):{day}}",
    }  # fmt: skip


def write_import_template(kind: str, path: Path, *, today: date) -> None:
    """Write the blank XLSX template (with one example row) for "roster" or "courses";
    `today` is the local date the courses example is dated from."""
    t = TEMPLATES[kind]
    example = t.example
    if kind == "courses":
        example = _course_example(today)
    write_template(path, t.title, t.columns, t.notes_title, example_rows=[example])


# --- cell parsing ---------------------------------------------------------------------------

_TIME = r"(\d{1,2})[:hH](\d{2})?"
_DMY = re.compile(r"(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})(?:[ T]+" + _TIME + r"(?::\d{2})?)?")
_YMD = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]+" + _TIME + r"(?::\d{2})?)?")
_SESSION = re.compile(r"(\d{1,2}[/.\-]\d{1,2}[/.\-]\d{4})\s+" + _TIME + r"\s*[-–—]\s*" + _TIME)
_INTEGER = re.compile(r"\d+(?:\.0+)?")
_LINK = re.compile(r"https?://\S+", re.IGNORECASE)
_LIST_SPLIT = re.compile(r"[,;\n]")
_CEFR = re.compile(r"\b([abc][12])\b")
_OLD_LEVEL = re.compile(r"\b([abc])$")


def parse_when(text: str) -> tuple[date, time | None] | None:
    """A dd/mm/yyyy (or ISO) date with an optional HH:MM / 7h30 time; None if not one."""
    m = _DMY.fullmatch(text)
    if m:
        d, mo, y = int(m[1]), int(m[2]), int(m[3])
    elif m := _YMD.fullmatch(text):
        y, mo, d = int(m[1]), int(m[2]), int(m[3])
    else:
        return None
    try:
        day = date(y, mo, d)
        clock = time(int(m[4]), int(m[5] or 0)) if m[4] is not None else None
    except ValueError:
        return None
    if not 1900 <= y <= 2100:
        return None
    return day, clock


def local_to_utc(day: date, clock: time, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, clock, tz).astimezone(UTC)


class Cells:
    """One row's cells and the parsers for them; every problem is appended to `errors`."""

    def __init__(
        self, row: int, values: dict[str, str], columns: Mapping[str, Column],
        errors: list[RowError],
    ) -> None:  # fmt: skip
        self.row, self.values, self.columns, self.errors = row, values, columns, errors
        self.ok = True
        self._raw: dict[str, str] = {}

    def present(self, key: str) -> bool:
        return key in self.values

    def raw(self, key: str) -> str:
        if (done := self._raw.get(key)) is None:
            done = self._raw[key] = " ".join(self.values.get(key, "").split())
        return done

    def fail(self, key: str, code: Problem, value: str | None = None, **extra: Any) -> None:
        self.ok = False
        shown = self.raw(key) if value is None else value
        self.errors.append(
            RowError(self.row, self.columns[key].vi, code, shown[:200], key=key, **extra)
        )

    def text(self, key: str, max_len: int, *, required: bool = False) -> str | None:
        value = self.raw(key)
        if not value:
            if required:
                self.fail(key, Problem.REQUIRED)
            return None
        if len(value) > max_len:
            self.fail(key, Problem.TOO_LONG)
            return None
        return value

    def vocab(self, key: str, vocab: Vocab, *, required: bool = False) -> str | None:
        try:
            code = vocab.parse(self.raw(key))
        except VocabError as exc:
            self.fail(key, Problem.UNKNOWN_VALUE, vocab=exc.vocab_name)
            return None
        if code is None and required:
            self.fail(key, Problem.REQUIRED)
        return code

    def date(self, key: str, *, latest: date | None = None) -> date | None:
        value = self.raw(key)
        if not value:
            return None
        parsed = parse_when(value)
        if parsed is None or parsed[1] not in (None, time(0)):
            self.fail(key, Problem.BAD_DATE)
            return None
        if latest is not None and parsed[0] > latest:
            self.fail(key, Problem.FUTURE_DATE)
            return None
        return parsed[0]

    def moment(self, key: str, tz: ZoneInfo, *, end_of_day: bool = False) -> datetime | None:
        """A date and time in `tz` as aware UTC; a bare date is its start (or last minute)."""
        value = self.raw(key)
        if not value:
            return None
        parsed = parse_when(value)
        if parsed is None:
            self.fail(key, Problem.BAD_DATE)
            return None
        day, clock = parsed
        return local_to_utc(day, clock or (time(23, 59) if end_of_day else time(0)), tz)

    def integer(self, key: str, *, minimum: int = 0) -> int | None:
        value = self.raw(key)
        if not value:
            return None
        if not _INTEGER.fullmatch(value) or int(float(value)) < minimum:
            self.fail(key, Problem.BAD_NUMBER)
            return None
        return int(float(value))

    def person(self, key: str, known: Container[str]) -> str | None:
        """A personal-ID cell naming someone on the roster (`known` IDs): the ID, or None with
        the problem noted (missing, not a CCCD, nobody on the roster)."""
        raw = self.raw(key)
        personal_id = valid_personal_id(raw)
        if not raw:
            self.fail(key, Problem.REQUIRED)
        elif personal_id is None:
            self.fail(key, Problem.BAD_PERSONAL_ID)
        elif personal_id not in known:
            self.fail(key, Problem.UNKNOWN_PERSON)
        else:
            return personal_id
        return None

    def unit(self, key: str, units: UnitIndex, token: str | None = None) -> int | None:
        raw = self.raw(key) if token is None else token
        if not raw:
            return None
        unit_id, ambiguous = units.resolve(raw)
        if unit_id is None:
            self.fail(key, Problem.AMBIGUOUS_UNIT if ambiguous else Problem.UNKNOWN_UNIT, raw)
        return unit_id


def _plain(_field: str, value: Any) -> str:
    return "" if value is None else str(value)


def note_change(
    report: ImportReport,
    *,
    row: int,
    key: str,
    old: Any | None,
    fields: Mapping[str, Any],
    header: Callable[[str], str],
    shown: Callable[[str, Any], str] = _plain,
) -> dict[str, Any]:
    """Count what importing `fields` does to the stored record `old` (None: a new one) and list
    it for the dry run (column header, old and new value as text); returns the fields that
    change (empty when nothing does)."""
    if old is None:
        report.created += 1
        report.changes.append(Change(row, key, "created"))
        return dict(fields)
    diff = {k: v for k, v in fields.items() if getattr(old, k) != v}
    if not diff:
        report.unchanged += 1
        return diff
    report.updated += 1
    report.changes.append(Change(row, key, "updated", tuple(
        (header(k), shown(k, getattr(old, k)), shown(k, v)) for k, v in diff.items()
    )))  # fmt: skip
    return diff


async def write_changes(
    session: AsyncSession,
    report: ImportReport,
    *,
    new: Iterable[Any],
    updates: Iterable[tuple[Any, Mapping[str, Any]]],
    action: str,
    target: str,
    actor: str,
    now: datetime,
) -> None:
    """Add the new records, apply the changed fields, flush and leave one audit entry with
    the counts: the end of every import that upserts ORM records by key."""
    session.add_all(new)
    for record, diff in updates:
        for k, v in diff.items():
            setattr(record, k, v)
    await session.flush()
    await roles.audit(session, actor_person_id=None, actor=actor, action=action,
                      target=target[:200], now=now, created=report.created,
                      updated=report.updated)  # fmt: skip
    report.written = True


def _tokens(text: str) -> list[str]:
    return [t.strip() for t in _LIST_SPLIT.split(text) if t.strip()]


def _notify(progress: Progress | None, stage: str, rows: int) -> None:
    if progress is not None:
        progress(stage, rows)


# --- roster ---------------------------------------------------------------------------------

_ROSTER_BY_KEY = {c.key: c for c in ROSTER_COLUMNS}
# Which qualification kind each column feeds; a file without the column leaves that kind alone.
QUAL_COLUMNS = {
    "education_level": "education",
    "political_theory": "political_theory", "state_management": "state_management",
    "it_certificate": "it", "foreign_language": "foreign_language",
    "digital_skills": "digital_skills",
}  # fmt: skip
_PERSON_FIELDS = {
    "full_name": "full_name", "date_of_birth": "date_of_birth", "gender": "gender",
    "phone": "phone", "unit": "unit_id", "position": "position_id",
    "job_position": "job_position", "joined_on": "joined_on",
    "general_education": "general_education", "person_type": "person_type",
    "rank": "civil_service_rank", "old_id": "old_id_number",
}  # fmt: skip
# Words left after a level that say nothing of a field: "Tiến sỹ học" is a typo, not a degree.
_NOT_A_FIELD = frozenset({"hoc", "tro", "len", "nganh", "chuyen", "va", "tuong", "duong"})
_POSTGRADUATE = frozenset({"sau dai hoc", "tren dai hoc", "post graduate", "postgraduate"})
_OLD_ID = re.compile(r"\d{9}")
_EXCEL_DAY_MONTH = re.compile(r"(\d{1,2})/(\d{1,2})/\d{4}")

Qual = tuple[str, str, str]  # kind, level, field


@dataclass
class _PersonIn:
    row: int
    personal_id: str
    values: dict[str, Any]  # Person columns whose file column is present
    quals: set[Qual]


def _exact(cells: Cells, key: str, vocab: Vocab) -> str | None:
    """A level cell that must be a level and nothing more ("Cao cấp lý luận xyz" is not)."""
    try:
        code, rest = vocab.parse_exact(cells.raw(key))
    except VocabError:
        code, rest = None, "?"
    if rest:
        cells.fail(key, Problem.UNKNOWN_VALUE, vocab=vocab.name)
        return None
    return code


def _education(cells: Cells) -> Qual | None:
    raw = cells.raw("education_level")
    if match_key(raw) in _POSTGRADUATE:
        cells.fail("education_level", Problem.POSTGRADUATE, vocab=EDUCATION.name)
        return None
    try:
        level, rest = EDUCATION.parse_exact(raw)
    except VocabError:
        level, rest = None, ""
        cells.fail("education_level", Problem.UNKNOWN_VALUE, vocab=EDUCATION.name)
    if rest and not set(rest.split()) - _NOT_A_FIELD:
        cells.fail("education_level", Problem.UNKNOWN_VALUE, vocab=EDUCATION.name)
        return None
    fld = cells.text("education_field", 200) or ""
    if level is None:
        if fld and not raw:
            cells.fail("education_level", Problem.REQUIRED)
        return None
    if not fld:
        # "Đại học Luật" in the level column: the words after the level are the field.
        words = raw.split()
        for n in range(1, len(words)):
            try:
                if EDUCATION.parse(" ".join(words[:n])) == level:
                    fld = " ".join(words[n:])[:200]
                    break
            except VocabError:
                continue
    return ("education", level, fld)


def _certificate(cells: Cells, key: str, kind: str) -> Qual | None:
    """IT, language and digital-skills cells: Yes/No or a certificate's name (levels are free
    text for these kinds, so a short level is derived and the full name kept as the field)."""
    raw = cells.text(key, 200)
    if raw is None:
        return None
    try:
        answer = YES_NO.parse(raw)
    except VocabError:
        answer = None
    else:
        if answer == "no" or answer is None:
            return None
        return (kind, "co_ban", "")
    folded = fold(raw)
    if kind == "foreign_language":
        m = _CEFR.search(folded) or _OLD_LEVEL.search(folded)
        return (kind, m[1].upper() if m else "khac", raw)
    advanced = "nang cao" in folded or "advanced" in folded
    return (kind, "nang_cao" if advanced else "co_ban", raw)


def _parse_person(
    cells: Cells, units: UnitIndex, positions: dict[str, int | None], today: date
) -> _PersonIn | None:
    raw_id = cells.raw("personal_id")
    personal_id = None
    if not raw_id:
        cells.fail("personal_id", Problem.REQUIRED)
    elif (personal_id := valid_personal_id(raw_id)) is None:
        cells.fail("personal_id", Problem.BAD_PERSONAL_ID)
    v: dict[str, Any] = {"full_name": cells.text("full_name", 120, required=True)}
    v["date_of_birth"] = cells.date("date_of_birth", latest=today)
    v["gender"] = cells.vocab("gender", GENDER)
    phone_raw = cells.raw("phone")
    v["phone"] = normalize_phone(phone_raw) if phone_raw else None
    if phone_raw and v["phone"] is None:
        cells.fail("phone", Problem.BAD_PHONE)
    v["unit_id"] = cells.unit("unit", units)
    if cells.present("unit") and not cells.raw("unit"):
        cells.fail("unit", Problem.REQUIRED)
    v["position_id"] = None
    if position := cells.raw("position"):
        key = fold(position)
        v["position_id"] = positions.get(key)
        if v["position_id"] is None:
            problem = Problem.AMBIGUOUS_POSITION if key in positions else Problem.UNKNOWN_POSITION
            cells.fail("position", problem)
    v["job_position"] = cells.text("job_position", 200)
    v["joined_on"] = cells.date("joined_on", latest=today)
    general = cells.raw("general_education")
    if m := _EXCEL_DAY_MONTH.fullmatch(general):
        general = f"{int(m[1])}/{int(m[2])}"  # Excel turned "12/12" into 12 December
    v["general_education"] = general or None
    if len(general) > 20:
        cells.fail("general_education", Problem.TOO_LONG)
    v["person_type"] = cells.vocab("person_type", PERSON_TYPE)
    v["civil_service_rank"] = _exact(cells, "rank", CIVIL_SERVICE_RANK)
    v["old_id_number"] = cells.raw("old_id") or None
    if v["old_id_number"] and not _OLD_ID.fullmatch(v["old_id_number"]):
        cells.fail("old_id", Problem.BAD_OLD_ID)
    found: list[Qual | None] = [_education(cells)]
    for kind, vocab in (("political_theory", POLITICAL_THEORY),
                        ("state_management", STATE_MANAGEMENT)):  # fmt: skip
        level = _exact(cells, kind, vocab)
        found.append((kind, level, "") if level is not None else None)
    found.append(_certificate(cells, "it_certificate", "it"))
    found.append(_certificate(cells, "foreign_language", "foreign_language"))
    found.append(_certificate(cells, "digital_skills", "digital_skills"))
    if personal_id is None:
        return None
    present = {_PERSON_FIELDS[k] for k in cells.values if k in _PERSON_FIELDS}
    values = {k: val for k, val in v.items() if k in present}
    return _PersonIn(cells.row, personal_id, values, {q for q in found if q is not None})


_FIELD_KEY = {field: key for key, field in _PERSON_FIELDS.items()}
_QUAL_HEADER = "Trình độ (qualifications)"


@dataclass(frozen=True)
class _Names:
    """How a dry run shows stored ids: unit and position codes."""

    unit_codes: dict[int, str]
    positions: dict[int, str]


def _field_header(field: str) -> str:
    return _ROSTER_BY_KEY[_FIELD_KEY[field]].vi


def _shown(field: str, value: Any, names: _Names) -> str:
    if value is None:
        return ""
    if field == "unit_id":
        return names.unit_codes.get(value, str(value))
    if field == "position_id":
        return names.positions.get(value, str(value))
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    return str(value)


def _quals_text(quals: set[Qual]) -> str:
    return "; ".join(" ".join(x for x in q if x) for q in sorted(quals))


async def import_roster(
    session: AsyncSession,
    *,
    path: Path,
    dry_run: bool,
    now: datetime,
    tz: ZoneInfo,
    progress: Progress | None = None,
    as_of: date | None = None,
) -> ImportReport:
    """Validate every row of a roster file, then create or update people by personal ID.

    The levels it learns are kept with the date (today, or `as_of` for an older roster
    loaded to compare with past years). Raises domain.sheets.SheetError when the file itself
    cannot be read as a roster.
    """
    # Parsing a big workbook takes a while: keep the event loop (a bot, a webhook) responsive.
    table = await asyncio.to_thread(read_table, path, ROSTER_COLUMNS)
    report = ImportReport("roster", dry_run, len(table.rows), unknown_headers=table.unknown_headers)
    _notify(progress, "read", report.total_rows)
    units = await UnitRepo(session).index()
    positions = await PositionRepo(session).lookup(fold)
    today = now.astimezone(tz).date()
    people: list[_PersonIn] = []
    first_row: dict[str, int] = {}
    phone_row: dict[str, tuple[int, str]] = {}
    for row, values in table.rows:
        cells = Cells(row, values, _ROSTER_BY_KEY, report.errors)
        person = _parse_person(cells, units, positions, today)
        if person is None:
            continue
        # Checked even for rows with other problems, so every problem shows in one pass.
        if (seen := first_row.setdefault(person.personal_id, row)) != row:
            cells.fail("personal_id", Problem.DUPLICATE_IN_FILE, other_row=seen)
        # One phone on two people would link whoever shares it first to either of them.
        phone = person.values.get("phone")
        if phone:
            other = phone_row.setdefault(phone, (row, person.personal_id))
            if other[0] != row and other[1] != person.personal_id:
                cells.fail("phone", Problem.PHONE_TWICE, other_row=other[0])
        if cells.ok:
            people.append(person)
    repo = PersonRepo(session)
    in_file = {p.personal_id for p in people}
    for row, personal_id, holder in await repo.phone_holders(
        {phone: (p.row, p.personal_id) for p in people if (phone := p.values.get("phone"))},
        exclude=in_file,
    ):
        report.errors.append(RowError(row, _ROSTER_BY_KEY["phone"].vi, Problem.PHONE_TAKEN,
                                      holder, key="phone"))  # fmt: skip
        people = [p for p in people if p.personal_id != personal_id]
    _notify(progress, "validated", report.total_rows)

    existing = await repo.existing(p.personal_id for p in people)
    held = await repo.qualifications(e["id"] for e in existing.values())
    kinds = sorted({QUAL_COLUMNS[k] for k in table.columns if k in QUAL_COLUMNS})
    learnt = {
        p.personal_id: {kind: highest(HISTORY[kind][0], [q[1] for q in p.quals if q[0] == kind])
                        for kind in kinds if kind in HISTORY}
        for p in people
    }  # fmt: skip
    names = _Names(units.code_of, {p.id: p.code for p in await PositionRepo(session).all()})
    created: list[_PersonIn] = []
    changed: list[tuple[int, _PersonIn]] = []
    for p in people:
        old = existing.get(p.personal_id)
        if old is None:
            created.append(p)
            report.changes.append(Change(p.row, p.personal_id, "created"))
            continue
        quals = held[old["id"]]
        # A qualification already granted by a course or claim is held; don't add it twice.
        p.quals -= {(q.kind, q.level, q.field) for q in quals if q.source != ROSTER_SOURCE}
        mine = {(q.kind, q.level, q.field) for q in quals
                if q.source == ROSTER_SOURCE and q.kind in kinds}  # fmt: skip
        diff = [k for k, val in p.values.items() if old[k] != val]
        if old["active"] and not diff and mine == p.quals:
            report.unchanged += 1
        else:
            changed.append((old["id"], p))
            shown = [(_field_header(k), _shown(k, old[k], names), _shown(k, p.values[k], names))
                     for k in diff]  # fmt: skip
            if mine != p.quals:
                shown.append((_QUAL_HEADER, _quals_text(mine), _quals_text(p.quals)))
            report.changes.append(Change(p.row, p.personal_id, "updated", tuple(shown)))
    report.created, report.updated = len(created), len(changed)
    if report.errors or dry_run:
        return report

    blank = dict.fromkeys(PersonRepo.COLUMNS)
    ids = await repo.insert_many(
        [
            {"personal_id": p.personal_id, **blank, **p.values, "active": True, "updated_at": now}
            for p in created
        ]
    )
    await repo.update_many(
        [{"id": pid, **p.values, "active": True, "updated_at": now} for pid, p in changed]
    )
    targets = [(ids[p.personal_id], p) for p in created] + changed
    await repo.replace_roster_qualifications(
        [pid for pid, _p in changed],
        kinds,
        [
            {"person_id": pid, "kind": k, "level": level, "field": fld}
            for pid, p in targets
            for k, level, fld in sorted(p.quals)
        ],
    )
    await session.flush()
    person_ids = {**{k: int(v["id"]) for k, v in existing.items()}, **ids}
    await record_levels(session, learnt_on=as_of or today, levels={
        person_ids[pid]: by_kind for pid, by_kind in learnt.items() if by_kind})  # fmt: skip
    report.written = True
    _notify(progress, "written", len(targets))
    log.info("roster import: %d created, %d updated, %d unchanged",
             report.created, report.updated, report.unchanged)  # fmt: skip
    return report


# --- courses --------------------------------------------------------------------------------

_COURSE_BY_KEY = {c.key: c for c in COURSE_COLUMNS}
_COURSE_FIELDS = (
    "title", "category", "organizer_unit_id", "mode", "place", "link", "starts_at", "ends_at",
    "capacity", "registration_deadline", "hours", "grants_kind", "grants_level",
    "requires_approval",
)  # fmt: skip
_NEW_COURSE: dict[str, Any] = {
    "organizer_unit_id": None, "mode": "in_person", "place": None, "link": None, "hours": 0,
    "grants_kind": None, "grants_level": None, "requires_approval": False,
}  # fmt: skip
_AUDIENCE_KEYS = ("units", "groups", "positions")
Span = tuple[datetime, datetime]


_WHEN_WHERE = ("starts_at", "ends_at", "place", "link")


def course_search_text(title: str, category: str, place: str | None) -> str:
    """What course search matches: folded title, category labels (both languages), place."""
    labels = []
    if category in COURSE_CATEGORY:
        labels = [COURSE_CATEGORY.label(category, "vi"), COURSE_CATEGORY.label(category, "en")]
    return fold(" ".join([title, *labels, place or ""]))


def _audience(value: Mapping[str, Any] | None) -> dict[str, list[str]]:
    return {k: list((value or {}).get(k) or []) for k in _AUDIENCE_KEYS}


@dataclass
class _CourseIn:
    row: int
    code: str
    values: dict[str, Any]
    audience: dict[str, list[str]]  # only the parts whose columns are present
    sessions: list[Span] | None  # None: the column is absent


def _session(piece: str, tz: ZoneInfo) -> Span | None:
    m = _SESSION.fullmatch(piece)
    parsed = parse_when(m[1]) if m else None
    if m is None or parsed is None:
        return None
    try:
        begin, end = time(int(m[2]), int(m[3] or 0)), time(int(m[4]), int(m[5] or 0))
    except ValueError:
        return None
    return local_to_utc(parsed[0], begin, tz), local_to_utc(parsed[0], end, tz)


def _sessions(
    cells: Cells, starts: datetime | None, ends: datetime | None, tz: ZoneInfo
) -> list[Span]:
    result: list[Span] = []
    for piece in re.split(r"[;\n]", cells.values.get("sessions", "")):
        piece = " ".join(piece.split())
        if not piece:
            continue
        span = _session(piece, tz)
        if span is None:
            cells.fail("sessions", Problem.BAD_SESSIONS, piece)
        elif span[1] <= span[0]:
            cells.fail("sessions", Problem.END_BEFORE_START, piece)
        elif starts and ends and (span[0] < starts or span[1] > ends):
            cells.fail("sessions", Problem.SESSION_OUTSIDE_COURSE, piece)
        else:
            result.append(span)
    return sorted(result)


def _audience_groups(
    cells: Cells, positions: dict[str, int | None], position_codes: dict[int, str],
    groups: set[str],
) -> dict[str, list[str]]:  # fmt: skip
    found: dict[str, list[str]] = {"groups": [], "positions": []}
    for token in _tokens(cells.values.get("audience_groups", "")):
        pid = positions.get(fold(token))
        if pid is not None:
            found["positions"].append(position_codes[pid])
            continue
        try:
            group = POSITION_GROUP.parse(token)
        except VocabError:
            group = token if token in groups else None
        if group is None:
            cells.fail("audience_groups", Problem.UNKNOWN_AUDIENCE, token)
        else:
            found["groups"].append(group)
    return {k: list(dict.fromkeys(v)) for k, v in found.items()}


def _parse_course(
    cells: Cells, units: UnitIndex, positions: dict[str, int | None],
    position_codes: dict[int, str], groups: set[str], tz: ZoneInfo,
) -> _CourseIn | None:  # fmt: skip
    code = cells.text("code", 40, required=True)
    v: dict[str, Any] = {
        "title": cells.text("title", 300, required=True),
        "category": cells.vocab("category", COURSE_CATEGORY, required=True),
        "organizer_unit_id": cells.unit("organizer", units),
        "mode": cells.vocab("mode", COURSE_MODE) or "in_person",
        "place": cells.text("place", 300),
        "link": cells.text("link", 500),
        "hours": cells.integer("hours") or 0,
        "requires_approval": cells.vocab("requires_approval", YES_NO) == "yes",
    }
    if v["link"] and not _LINK.fullmatch(v["link"]):
        cells.fail("link", Problem.BAD_LINK)
    starts = cells.moment("starts", tz)
    ends = cells.moment("ends", tz, end_of_day=True)
    for key, value in (("starts", starts), ("ends", ends)):
        if value is None and not cells.raw(key):
            cells.fail(key, Problem.REQUIRED)
    if starts and ends and ends <= starts:
        cells.fail("ends", Problem.END_BEFORE_START)
    v["starts_at"], v["ends_at"] = starts, ends
    v["capacity"] = cells.integer("capacity", minimum=1)
    if v["capacity"] is None and not cells.raw("capacity"):
        cells.fail("capacity", Problem.REQUIRED)
    deadline = cells.moment("registration_deadline", tz, end_of_day=True)
    if deadline and ends and deadline > ends:
        cells.fail("registration_deadline", Problem.DEADLINE_AFTER_END)
    v["registration_deadline"] = deadline or starts
    kind = cells.vocab("grants_kind", QUALIFICATION_KIND)
    if kind == "refresher_hours":  # hours count by themselves; this is not a qualification
        cells.fail("grants_kind", Problem.UNKNOWN_VALUE, vocab=QUALIFICATION_KIND.name)
    level_raw = cells.raw("grants_level")
    level = None
    if level_raw and not cells.raw("grants_kind"):
        cells.fail("grants_kind", Problem.REQUIRED)
    elif level_raw and kind is not None:
        vocab = level_vocab(kind)
        level = cells.vocab("grants_level", vocab) if vocab else cells.text("grants_level", 40)
    v["grants_kind"], v["grants_level"] = kind, level
    audience: dict[str, list[str]] = {}
    if cells.present("audience_units"):
        ids = [cells.unit("audience_units", units, t)
               for t in _tokens(cells.values["audience_units"])]  # fmt: skip
        audience["units"] = list(dict.fromkeys(units.code_of[i] for i in ids if i is not None))
    if cells.present("audience_groups"):
        audience.update(_audience_groups(cells, positions, position_codes, groups))
    sessions = _sessions(cells, starts, ends, tz) if cells.present("sessions") else None
    if code is None:
        return None
    # Columns left out of the file keep the stored values (see the module docstring).
    optional = {"organizer_unit_id": "organizer", "mode": "mode", "place": "place", "link": "link",
            "hours": "hours", "requires_approval": "requires_approval",
            "grants_kind": "grants_kind", "grants_level": "grants_level",
            "registration_deadline": "registration_deadline"}  # fmt: skip
    values = {k: val for k, val in v.items() if k not in optional or cells.present(optional[k])}
    return _CourseIn(cells.row, code, values, audience, sessions)


_COURSE_HEADERS = {
    "title": "title", "category": "category", "organizer_unit_id": "organizer", "mode": "mode",
    "place": "place", "link": "link", "starts_at": "starts", "ends_at": "ends",
    "capacity": "capacity", "registration_deadline": "registration_deadline", "hours": "hours",
    "grants_kind": "grants_kind", "grants_level": "grants_level",
    "requires_approval": "requires_approval",
}  # fmt: skip
_COURSE_HEADERS = {field: _COURSE_BY_KEY[key].vi for field, key in _COURSE_HEADERS.items()}


def _shown_value(value: Any, tz: ZoneInfo) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(tz).strftime("%d/%m/%Y %H:%M")
    return str(value)


async def import_courses(
    session: AsyncSession,
    *,
    path: Path,
    dry_run: bool,
    now: datetime,
    policy: Policy,
    progress: Progress | None = None,
) -> ImportReport:
    """Validate every row of a courses file, then create or update courses by code; times
    are read in the policy's zone (the settings' one).

    New courses open for registration; an existing course keeps its status and seats taken.
    When an existing course's time or place changes, everyone registered or waitlisted is
    told and their reminders are replaced, in the same transaction.
    Raises domain.sheets.SheetError when the file itself cannot be read as a course list.
    """
    table = await asyncio.to_thread(read_table, path, COURSE_COLUMNS)
    report = ImportReport("courses", dry_run, len(table.rows),
                          unknown_headers=table.unknown_headers)  # fmt: skip
    _notify(progress, "read", report.total_rows)
    units = await UnitRepo(session).index()
    position_repo = PositionRepo(session)
    positions = await position_repo.lookup(fold)
    position_codes = {p.id: p.code for p in await position_repo.all()}
    groups = await position_repo.groups()
    courses: list[_CourseIn] = []
    first_row: dict[str, int] = {}
    for row, values in table.rows:
        cells = Cells(row, values, _COURSE_BY_KEY, report.errors)
        course = _parse_course(cells, units, positions, position_codes, groups, policy.tz)
        if course is None:
            continue
        if (seen := first_row.setdefault(course.code, row)) != row:
            cells.fail("code", Problem.DUPLICATE_IN_FILE, other_row=seen)
        if cells.ok:
            courses.append(course)
    _notify(progress, "validated", report.total_rows)

    existing: dict[str, Course] = {}
    for codes in chunks([c.code for c in courses]):
        query = select(Course).where(Course.code.in_(codes))
        query = query.options(selectinload(Course.sessions))
        existing.update((c.code, c) for c in (await session.execute(query)).scalars())
    created: list[dict[str, Any]] = []
    new_sessions: dict[str, list[Span]] = {}
    changed: list[tuple[Course, dict[str, Any], list[Span] | None]] = []
    for c in courses:
        old = existing.get(c.code)
        base = _NEW_COURSE if old is None else {k: getattr(old, k) for k in _COURSE_FIELDS}
        merged = {**base, **c.values}
        merged.setdefault("registration_deadline", merged["starts_at"])
        merged["search_text"] = course_search_text(
            merged["title"], merged["category"], merged["place"]
        )
        merged["audience"] = {**_audience(old.audience if old else None), **c.audience}
        if old is None:
            created.append({"code": c.code, **merged})
            new_sessions[c.code] = c.sessions or []
            report.changes.append(Change(c.row, c.code, "created"))
            continue
        old_sessions = [(s.starts_at, s.ends_at) for s in old.sessions]
        sessions = c.sessions if c.sessions is not None and c.sessions != old_sessions else None
        same = all(getattr(old, k) == val for k, val in merged.items() if k != "audience")
        if same and _audience(old.audience) == merged["audience"] and sessions is None:
            report.unchanged += 1
        else:
            changed.append((old, merged, sessions))
            shown = tuple(
                (_COURSE_HEADERS.get(k, k), _shown_value(getattr(old, k), policy.tz),
                 _shown_value(v, policy.tz))
                for k, v in merged.items()
                if k in _COURSE_HEADERS and getattr(old, k) != v
            )
            report.changes.append(Change(c.row, c.code, "updated", shown))
    report.created, report.updated = len(created), len(changed)
    if report.errors or dry_run:
        return report

    ids: dict[str, int] = {}
    if created:
        stmt = insert(Course).returning(Course.code, Course.id)
        rows = [{**r, "status": CourseStatus.OPEN, "queue_seq": 0, "updated_at": now}
                for r in created]  # fmt: skip
        ids = {code: cid for code, cid in await session.execute(stmt, rows)}
    moved: list[tuple[Course, dict[str, str | None]]] = []
    for old, merged, spans in changed:
        before = {"starts_at": old.starts_at.isoformat(), "place": old.place or old.link}
        if spans is not None or any(getattr(old, k) != merged[k] for k in _WHEN_WHERE):
            moved.append((old, before))
        for k, val in merged.items():
            setattr(old, k, val)
        old.updated_at = now
    await session.flush()
    replaced = [old.id for old, _m, s in changed if s is not None]
    for part in chunks(replaced):
        await session.execute(delete(CourseSession).where(CourseSession.course_id.in_(part)))
    session_rows = [
        {"course_id": ids[code], "starts_at": s, "ends_at": e}
        for code, spans in new_sessions.items()
        for s, e in spans
    ] + [
        {"course_id": old.id, "starts_at": s, "ends_at": e}
        for old, _m, spans in changed
        if spans is not None
        for s, e in spans
    ]
    if session_rows:
        await session.execute(insert(CourseSession), session_rows)
    await session.flush()
    # Updated courses' loaded session lists are stale after the Core writes above.
    for old, _m, s in changed:
        if s is not None:
            session.expire(old, ["sessions"])
    for moved_course, before in moved:
        report.notified += await reminders.course_changed(
            session, course=moved_course, policy=policy, now=now, before=before
        )
    report.written = True
    _notify(progress, "written", len(created) + len(changed))
    log.info("course import: %d created, %d updated, %d unchanged",
             report.created, report.updated, report.unchanged)  # fmt: skip
    return report


IMPORTERS: dict[str, Callable[..., Awaitable[ImportReport]]] = {
    "roster": import_roster, "courses": import_courses,
}
