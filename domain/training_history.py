"""Training people did before the bot existed, or outside it, loaded from a spreadsheet.

Each row becomes a training record that hours this year, standards and every report count
like training finished in the bot; what it granted becomes a qualification (source
"training"). All or nothing; a row matching a stored record (same person and certificate
number, or same person, title and dates) updates it instead of adding a second one.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain import roles
from domain.completion import grant_qualification
from domain.import_rows import Cells, Change, ImportReport, Problem, _col
from domain.phones import valid_personal_id
from domain.secondments import people_by_personal_id
from domain.sheets import Column, read_table, write_template
from domain.vocab import COURSE_CATEGORY, QUALIFICATION_KIND, Vocab, level_vocab
from storage.models import TrainingRecord

SOURCE = "training"
_DATE = ("Ngày dạng dd/mm/yyyy.", "Date as dd/mm/yyyy.")
_GRANTABLE = Vocab("kinds", [t for t in QUALIFICATION_KIND if t.code != "refresher_hours"])
TRAINING_COLUMNS: tuple[Column, ...] = (
    _col("personal_id", "Số CCCD", "Personal ID",
         ("12 chữ số, người đã có trong danh sách cán bộ.", "12 digits; someone on the roster."),
         "CCCD", "Số căn cước công dân", "Citizen ID", required=True, text=True),
    _col("title", "Tên khóa học", "Title", ("Tên lớp đào tạo, bồi dưỡng đã học.",
                                            "The course's title."),
         "Tên lớp", "Nội dung", "Course title", required=True),
    _col("category", "Loại", "Category",
         ("Một trong: " + ", ".join(t.vi for t in COURSE_CATEGORY) + ".",
          "One of: " + ", ".join(t.en for t in COURSE_CATEGORY) + "."),
         "Nội dung bồi dưỡng", "Loại khóa học", "Lĩnh vực"),
    _col("organizer", "Cơ sở đào tạo", "Organizer",
         ("Nơi tổ chức, ví dụ: Trường Chính trị tỉnh.", "Who ran it, e.g. the political school."),
         "Đơn vị tổ chức", "Nơi học", "Cơ quan tổ chức"),
    _col("starts_on", "Từ ngày", "From", _DATE, "Ngày bắt đầu", "Bắt đầu", "Start", text=True),
    _col("ends_on", "Đến ngày", "To", _DATE, "Ngày kết thúc", "Kết thúc", "End",
         required=True, text=True),
    _col("hours", "Số giờ", "Hours", ("Số giờ (tiết) được tính.", "Hours counted."),
         "Số tiết", "Thời lượng", text=False),
    _col("certificate_no", "Số chứng chỉ", "Certificate number",
         ("Số hiệu văn bằng, chứng chỉ, giấy chứng nhận.", "The certificate's number."),
         "Số giấy chứng nhận", "Số văn bằng", "Certificate", text=True),
    _col("grants_kind", "Công nhận loại", "Grants kind",
         ("Không bắt buộc. Một trong: " + ", ".join(t.vi for t in _GRANTABLE) + ".",
          "Optional. One of: " + ", ".join(t.en for t in _GRANTABLE) + "."),
         "Văn bằng, chứng chỉ", "Grants"),
    _col("grants_level", "Công nhận trình độ", "Grants level",
         ("Ví dụ: Trung cấp (lý luận chính trị), Chuyên viên (quản lý nhà nước).",
          "E.g. Intermediate (political theory), Specialist (state management)."),
         "Trình độ được công nhận"),
)  # fmt: skip
TRAINING_EXAMPLES = [
    {"personal_id": "020085001234", "title": "Trung cấp lý luận chính trị - hành chính",
     "category": "Lý luận chính trị", "organizer": "Trường Chính trị tỉnh Lạng Sơn",
     "starts_on": "06/03/2023", "ends_on": "15/12/2023", "hours": "",
     "certificate_no": "TC-2023-0456", "grants_kind": "Lý luận chính trị",
     "grants_level": "Trung cấp"},
    {"personal_id": "020085001234", "title": "Bồi dưỡng kỹ năng số cho công chức cấp xã",
     "category": "Kỹ năng số", "organizer": "Sở Khoa học và Công nghệ",
     "starts_on": "10/06/2025", "ends_on": "12/06/2025", "hours": "24",
     "certificate_no": "", "grants_kind": "", "grants_level": ""},
]  # fmt: skip
_BY_KEY = {c.key: c for c in TRAINING_COLUMNS}
_FIELDS = ("title", "category", "organizer", "starts_on", "ends_on", "hours", "certificate_no",
           "grants_kind", "grants_level")  # fmt: skip


def write_training_template(path: Path) -> None:
    write_template(path, "Quá trình đào tạo, bồi dưỡng (Training history)", TRAINING_COLUMNS,
                   "Hướng dẫn điền (How to fill in)", example_rows=TRAINING_EXAMPLES)  # fmt: skip


def _grants(cells: Cells) -> tuple[str | None, str | None]:
    kind = cells.vocab("grants_kind", _GRANTABLE)
    level_raw, level = cells.raw("grants_level"), None
    if level_raw and not cells.raw("grants_kind"):
        cells.fail("grants_kind", Problem.REQUIRED)
    elif level_raw and kind is not None:
        vocab = level_vocab(kind)
        level = cells.vocab("grants_level", vocab) if vocab else cells.text("grants_level", 40)
    return kind, level


def _title_key(title: str) -> str:
    return " ".join(title.split()).casefold()


def _shown(value: Any) -> str:
    if value is None:
        return ""
    return f"{value:%d/%m/%Y}" if hasattr(value, "strftime") else str(value)


async def import_training(
    session: AsyncSession, *, path: Path, dry_run: bool, now: datetime, tz: ZoneInfo,
    actor: str = "cli",
) -> ImportReport:
    """Validate a training history, then add or update records (all or nothing); dates in
    the future of `tz`'s today are refused."""
    table = await asyncio.to_thread(read_table, path, TRAINING_COLUMNS)
    report = ImportReport("training", dry_run, len(table.rows),
                          unknown_headers=table.unknown_headers)  # fmt: skip
    ids = {pid for _r, v in table.rows if (pid := valid_personal_id(v.get("personal_id", "")))}
    people = await people_by_personal_id(session, ids)
    today = now.astimezone(tz).date()
    first_row: dict[tuple[Any, ...], int] = {}
    wanted: list[tuple[int, str, int, dict[str, Any]]] = []
    for row, values in table.rows:
        cells = Cells(row, values, _BY_KEY, report.errors)
        pid = cells.person("personal_id", people)
        v: dict[str, Any] = {
            "title": cells.text("title", 300, required=True),
            "category": cells.vocab("category", COURSE_CATEGORY),
            "organizer": cells.text("organizer", 200),
            "starts_on": cells.date("starts_on", latest=today),
            "ends_on": cells.date("ends_on", latest=today),
            "hours": cells.integer("hours") or 0,
            "certificate_no": cells.text("certificate_no", 60),
        }
        v["grants_kind"], v["grants_level"] = _grants(cells)
        if v["ends_on"] is None and not cells.raw("ends_on"):
            cells.fail("ends_on", Problem.REQUIRED)
        if v["starts_on"] and v["ends_on"] and v["ends_on"] < v["starts_on"]:
            cells.fail("ends_on", Problem.END_BEFORE_START)
        if not (cells.ok and pid and v["title"] and v["ends_on"]):
            continue
        dup = (pid, v["certificate_no"]) if v["certificate_no"] else (
            pid, _title_key(v["title"]), v["starts_on"], v["ends_on"])  # fmt: skip
        if (seen := first_row.setdefault(dup, row)) != row:
            column = "certificate_no" if v["certificate_no"] else "title"
            cells.fail(column, Problem.DUPLICATE_IN_FILE, other_row=seen)
            continue
        wanted.append((row, pid, people[pid][0], v))
    if report.errors:
        return report
    by_cert: dict[tuple[int, str], TrainingRecord] = {}
    by_title: dict[tuple[int, str, Any, Any], TrainingRecord] = {}
    person_ids = sorted({w[2] for w in wanted})
    for i in range(0, len(person_ids), 500):
        stmt = select(TrainingRecord).where(TrainingRecord.person_id.in_(person_ids[i : i + 500]))
        for rec in (await session.execute(stmt)).scalars():
            if rec.certificate_no:
                by_cert[(rec.person_id, rec.certificate_no)] = rec
            by_title[(rec.person_id, _title_key(rec.title), rec.starts_on, rec.ends_on)] = rec
    updates: list[tuple[TrainingRecord, dict[str, Any]]] = []
    new: list[tuple[int, dict[str, Any]]] = []
    for row, pid, person_id, v in wanted:
        key = f"{pid} {v['title'][:60]} {v['ends_on']:%d/%m/%Y}"
        old = (by_cert.get((person_id, v["certificate_no"])) if v["certificate_no"] else None) \
            or by_title.get((person_id, _title_key(v["title"]), v["starts_on"], v["ends_on"]))
        if old is None:
            new.append((person_id, v))
            report.changes.append(Change(row, key, "created"))
            continue
        diff = {k: x for k, x in v.items() if getattr(old, k) != x}
        if diff:
            updates.append((old, diff))
            shown = tuple((_BY_KEY[k].vi, _shown(getattr(old, k)), _shown(x))
                          for k, x in diff.items())  # fmt: skip
            report.changes.append(Change(row, key, "updated", shown))
        else:
            report.unchanged += 1
    report.created, report.updated = len(new), len(updates)
    if dry_run:
        return report
    session.add_all(TrainingRecord(person_id=person_id, **v) for person_id, v in new)
    for rec, diff in updates:
        for k, x in diff.items():
            setattr(rec, k, x)
    await session.flush()
    for _row, _pid, person_id, v in wanted:
        if v["grants_kind"]:
            await grant_qualification(
                session, person_id=person_id, kind=v["grants_kind"], level=v["grants_level"],
                field=v["title"], obtained_on=v["ends_on"], source=SOURCE,
            )  # fmt: skip
    await roles.audit(session, actor_person_id=None, actor=actor, action="training.import",
                      target=path.name[:200], now=now, created=report.created,
                      updated=report.updated)  # fmt: skip
    report.written = True
    return report
