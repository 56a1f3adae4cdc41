"""The roster's sheet format: its columns and example, and one row read into a person's
values and qualifications (domain/importing.py writes them)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from domain.import_rows import DATE_NOTE, YES_NO, Cells, Problem, _col, one_of
from domain.phones import normalize_phone, valid_personal_id
from domain.sheets import Column
from domain.text import fold
from domain.vocab import (
    CIVIL_SERVICE_RANK,
    EDUCATION,
    GENDER,
    PERSON_TYPE,
    POLITICAL_THEORY,
    STATE_MANAGEMENT,
    Vocab,
    VocabError,
    match_key,
)
from storage.repos.roster import (
    UnitIndex,
)

ROSTER_COLUMNS: tuple[Column, ...] = (
    _col("personal_id", "Số CCCD", "Personal ID",
         ("12 chữ số căn cước công dân; là khóa để cập nhật.", "12-digit citizen ID; the key."),
         "CCCD", "Số căn cước công dân", "Căn cước công dân", "Số định danh cá nhân",
         "Citizen ID", "ID number", required=True),
    _col("full_name", "Họ và tên", "Full name", ("Họ tên đầy đủ.", "Full name."),
         "Họ tên", "Name", required=True),
    _col("date_of_birth", "Ngày sinh", "Date of birth", DATE_NOTE,
         "Ngày tháng năm sinh", "DOB", "Birth date", "Birthday"),
    _col("gender", "Giới tính", "Gender", one_of(GENDER), "Sex"),
    _col("phone", "Số điện thoại", "Phone",
         ("Số di động để liên kết tài khoản chat.", "Mobile number, used to link the chat."),
         "Điện thoại", "SĐT", "Di động", "Phone number", "Mobile"),
    _col("unit", "Đơn vị", "Unit",
         ("Mã đơn vị hoặc tên đơn vị đúng như trong danh mục.",
          "Unit code, or the unit's exact name."),
         "Mã đơn vị", "Đơn vị công tác", "Tên đơn vị", "Unit code", required=True),
    _col("person_type", "Loại", "Type", one_of(PERSON_TYPE), "Loại cán bộ, công chức",
         "Đối tượng", "Person type", "Category"),
    _col("rank", "Ngạch", "Rank", one_of(CIVIL_SERVICE_RANK),
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
    _col("joined_on", "Ngày vào cơ quan", "Date joined", DATE_NOTE, "Ngày tuyển dụng",
         "Ngày bắt đầu công tác", "Joined on", "Start date", text=True),
    _col("general_education", "Giáo dục phổ thông", "General education",
         ("Ví dụ 12/12.", "E.g. 12/12."), "Trình độ giáo dục phổ thông", "GDPT", text=True),
    _col("education_level", "Trình độ chuyên môn", "Professional qualification",
         one_of(EDUCATION), "Chuyên môn", "Trình độ đào tạo", "Education level", "Degree"),
    _col("education_field", "Chuyên ngành đào tạo", "Field of study",
         ("Ví dụ: Luật, Quản lý văn hóa.", "E.g. Law, Cultural management."),
         "Chuyên ngành", "Ngành đào tạo", "Field", "Major"),
    _col("political_theory", "Lý luận chính trị", "Political theory",
         one_of(POLITICAL_THEORY), "Trình độ lý luận chính trị", "LLCT"),
    _col("state_management", "Quản lý nhà nước", "State management",
         one_of(STATE_MANAGEMENT), "Trình độ quản lý nhà nước", "QLNN"),
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


_CEFR = re.compile(r"\b([abc][12])\b")
_OLD_LEVEL = re.compile(r"\b([abc])$")


ROSTER_BY_KEY = {c.key: c for c in ROSTER_COLUMNS}
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
class PersonIn:
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


def parse_person(
    cells: Cells, units: UnitIndex, positions: dict[str, int | None], today: date
) -> PersonIn | None:
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
    return PersonIn(cells.row, personal_id, values, {q for q in found if q is not None})


_FIELD_KEY = {field: key for key, field in _PERSON_FIELDS.items()}
QUAL_HEADER = "Trình độ (qualifications)"


def field_header(field: str) -> str:
    return ROSTER_BY_KEY[_FIELD_KEY[field]].vi
