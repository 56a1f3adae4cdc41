"""What every spreadsheet import shares: the row problems and the report, the columns' notes,
and reading one row's cells into checked values (every problem noted, nothing raised).

The roster and course formats (domain/roster_format.py, domain/course_format.py) and the
other imports (units, positions, secondments, plans, training history, degree studies) are
built from these; domain/importing.py writes what they read.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Container, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from domain.phones import valid_personal_id
from domain.sheets import Column
from domain.vocab import (
    Term,
    Vocab,
    VocabError,
)
from storage.repos.roster import (
    UnitIndex,
)


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


def one_of(vocab: Vocab) -> tuple[str, str]:
    return (
        "Một trong: " + ", ".join(t.vi for t in vocab) + ".",
        "One of: " + ", ".join(t.en for t in vocab) + ".",
    )


DATE_NOTE = ("Ngày dạng dd/mm/yyyy.", "Date as dd/mm/yyyy.")
WHEN_NOTE = (
    "dd/mm/yyyy hoặc dd/mm/yyyy HH:MM, giờ Việt Nam.",
    "dd/mm/yyyy or dd/mm/yyyy HH:MM, Vietnam time.",
)


def _col(key: str, vi: str, en: str, notes: tuple[str, str], *aliases: str,
         required: bool = False, text: bool | None = None) -> Column:  # fmt: skip
    return Column(key, vi, en, required, notes[0], notes[1], aliases, as_text=text)


_TIME = r"(\d{1,2})[:hH](\d{2})?"
_DMY = re.compile(r"(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})(?:[ T]+" + _TIME + r"(?::\d{2})?)?")
_YMD = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]+" + _TIME + r"(?::\d{2})?)?")
SESSION = re.compile(r"(\d{1,2}[/.\-]\d{1,2}[/.\-]\d{4})\s+" + _TIME + r"\s*[-–—]\s*" + _TIME)
_INTEGER = re.compile(r"\d+(?:\.0+)?")


_LIST_SPLIT = re.compile(r"[,;\n]")


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


def tokens(text: str) -> list[str]:
    return [t.strip() for t in _LIST_SPLIT.split(text) if t.strip()]
