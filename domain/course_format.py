"""The courses sheet format: its columns and example, and one row read into a course's
values, audience and sessions (domain/importing.py writes them)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from domain.import_rows import (
    POSITION_GROUP,
    SESSION,
    WHEN_NOTE,
    YES_NO,
    Cells,
    Problem,
    _col,
    local_to_utc,
    one_of,
    parse_when,
    tokens,
)
from domain.sheets import Column
from domain.text import fold
from domain.vocab import (
    COURSE_CATEGORY,
    COURSE_MODE,
    QUALIFICATION_KIND,
    Vocab,
    VocabError,
    level_vocab,
)
from storage.repos.roster import (
    UnitIndex,
)

COURSE_COLUMNS: tuple[Column, ...] = (
    _col("code", "Mã khóa học", "Course code",
         ("Mã riêng của khóa học; là khóa để cập nhật.", "The course's own code; the key."),
         "Mã lớp", "Mã", "Code", required=True),
    _col("title", "Tên khóa học", "Title", ("Tên lớp bồi dưỡng.", "Course title."),
         "Tên lớp", "Tên lớp bồi dưỡng", "Course title", required=True),
    _col("category", "Loại", "Category", one_of(COURSE_CATEGORY), "Loại khóa học",
         "Nội dung bồi dưỡng", "Lĩnh vực", required=True),
    _col("organizer", "Đơn vị tổ chức", "Organizer", ("Mã hoặc tên đơn vị.", "Unit code or name."),
         "Cơ quan tổ chức", "Organizer unit"),
    _col("mode", "Hình thức", "Mode", one_of(COURSE_MODE), "Hình thức học"),
    _col("place", "Địa điểm", "Place", ("Nơi học.", "Where it takes place."), "Location",
         "Venue"),
    _col("link", "Đường dẫn", "Link", ("Link học trực tuyến (https://...).",
                                       "Online link (https://...)."), "Link học", "URL"),
    _col("starts", "Bắt đầu", "Starts", WHEN_NOTE, "Thời gian bắt đầu", "Ngày bắt đầu",
         "Start", "Starts at", required=True, text=True),
    _col("ends", "Kết thúc", "Ends", WHEN_NOTE, "Thời gian kết thúc", "Ngày kết thúc", "End",
         "Ends at", required=True, text=True),
    _col("sessions", "Các buổi học", "Sessions",
         ("Tùy chọn: dd/mm/yyyy HH:MM-HH:MM; cách nhau bởi dấu chấm phẩy.",
          "Optional: dd/mm/yyyy HH:MM-HH:MM; separated by semicolons."),
         "Lịch học", "Buổi học", "Schedule", text=True),
    _col("capacity", "Số chỗ", "Capacity", ("Số người tối đa.", "Maximum participants."),
         "Số lượng", "Chỉ tiêu", "Seats", required=True, text=False),
    _col("registration_deadline", "Hạn đăng ký", "Registration deadline",
         (WHEN_NOTE[0] + " Trống: đến lúc bắt đầu.", WHEN_NOTE[1] + " Blank: until start."),
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
         one_of(Vocab("kinds", [t for t in QUALIFICATION_KIND if t.code != "refresher_hours"])),
         "Loại văn bằng chứng chỉ", "Grants"),
    _col("grants_level", "Công nhận trình độ", "Grants level",
         ("Ví dụ: Trung cấp (lý luận chính trị), Chuyên viên (quản lý nhà nước).",
          "E.g. Intermediate (political theory), Specialist (state management)."),
         "Trình độ được công nhận"),
    _col("requires_approval", "Cần duyệt", "Requires approval", one_of(YES_NO), "Phải duyệt",
         "Approval"),
)  # fmt: skip


COURSE_EXAMPLE = {
    "code": "KNS-01", "title": "Kỹ năng số cho công chức cấp xã",
    "category": "Kỹ năng số", "organizer": "LS-SNV", "mode": "Trực tiếp",
    "place": "Hội trường Sở Nội vụ", "starts": "05/12/2026 07:30", "ends": "06/12/2026 17:00",
    "sessions": "05/12/2026 07:30-11:30; 06/12/2026 13:30-17:00", "capacity": "40",
    "registration_deadline": "01/12/2026", "audience_units": "", "audience_groups": "Công chức",
    "hours": "16", "grants_kind": "Kỹ năng số", "grants_level": "", "requires_approval": "Không",
}  # fmt: skip


def course_example(today: date) -> dict[str, str]:
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


_LINK = re.compile(r"https?://\S+", re.IGNORECASE)


COURSE_BY_KEY = {c.key: c for c in COURSE_COLUMNS}


_AUDIENCE_KEYS = ("units", "groups", "positions")
Span = tuple[datetime, datetime]


def course_search_text(title: str, category: str, place: str | None) -> str:
    """What course search matches: folded title, category labels (both languages), place."""
    labels = []
    if category in COURSE_CATEGORY:
        labels = [COURSE_CATEGORY.label(category, "vi"), COURSE_CATEGORY.label(category, "en")]
    return fold(" ".join([title, *labels, place or ""]))


def audience_parts(value: Mapping[str, Any] | None) -> dict[str, list[str]]:
    return {k: list((value or {}).get(k) or []) for k in _AUDIENCE_KEYS}


@dataclass
class CourseIn:
    row: int
    code: str
    values: dict[str, Any]
    audience: dict[str, list[str]]  # only the parts whose columns are present
    sessions: list[Span] | None  # None: the column is absent


def _session(piece: str, tz: ZoneInfo) -> Span | None:
    m = SESSION.fullmatch(piece)
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
    for token in tokens(cells.values.get("audience_groups", "")):
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


def parse_course(
    cells: Cells, units: UnitIndex, positions: dict[str, int | None],
    position_codes: dict[int, str], groups: set[str], tz: ZoneInfo,
) -> CourseIn | None:  # fmt: skip
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
               for t in tokens(cells.values["audience_units"])]  # fmt: skip
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
    return CourseIn(cells.row, code, values, audience, sessions)


COURSE_HEADERS = {
    "title": "title", "category": "category", "organizer_unit_id": "organizer", "mode": "mode",
    "place": "place", "link": "link", "starts_at": "starts", "ends_at": "ends",
    "capacity": "capacity", "registration_deadline": "registration_deadline", "hours": "hours",
    "grants_kind": "grants_kind", "grants_level": "grants_level",
    "requires_approval": "requires_approval",
}  # fmt: skip
COURSE_HEADERS = {field: COURSE_BY_KEY[key].vi for field, key in COURSE_HEADERS.items()}
