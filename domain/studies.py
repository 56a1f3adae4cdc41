"""Degree study (college, university, postgraduate) people are doing: import and status.

A study under way whose level (and field, where the standard names fields) would meet an
education standard makes that standard "in progress until MM/YYYY" in /status (see
domain/standards.py). All or nothing; re-importing updates a study by (person, level, start).
A postgraduate study the unit sends someone to (funding "state") is refused when the person
does not meet the sending conditions (domain/postgraduate.py) at the decision date, and the
commitment to serve it brings is reported.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain import postgraduate, roles
from domain.import_rows import Cells, Change, ImportReport, Problem, RowError, _col
from domain.phones import valid_personal_id
from domain.secondments import people_by_personal_id
from domain.sheets import Column, read_table, write_template
from domain.vocab import EDUCATION, Term, Vocab
from storage.models import DegreeStudy, Person

STUDY_MODE = Vocab("study_mode", [
    Term("in_service", "Vừa làm vừa học", "In-service", 0, ("tại chức", "vừa học vừa làm")),
    Term("distance", "Đào tạo từ xa", "Distance", 0, ("từ xa", "trực tuyến")),
    Term("full_time", "Chính quy", "Full-time", 0, ("tập trung",)),
])  # fmt: skip
FUNDING = Vocab("funding", [
    Term("state", "Được cử đi học", "State-funded", 0,
         ("cử đi học", "ngân sách nhà nước", "nhà nước", "ngân sách")),
    Term("self", "Tự túc", "Self-paid", 0, ("tự túc kinh phí", "tự đi học", "tự chi trả")),
])  # fmt: skip
_DATE = ("Ngày dạng dd/mm/yyyy.", "Date as dd/mm/yyyy.")
STUDY_COLUMNS: tuple[Column, ...] = (
    _col("personal_id", "Số CCCD", "Personal ID",
         ("12 chữ số, người đã có trong danh sách cán bộ.", "12 digits; someone on the roster."),
         "CCCD", "Citizen ID", required=True, text=True),
    _col("level", "Trình độ đang học", "Level studied",
         ("Cao đẳng, Đại học, Thạc sĩ hoặc Tiến sĩ.", "College, University, Master or Doctor."),
         "Trình độ", "Bậc học", "Level", required=True),
    _col("field", "Chuyên ngành", "Field of study", ("Ví dụ: Luật.", "E.g. Law."),
         "Ngành học", "Field"),
    _col("school", "Cơ sở đào tạo", "School", ("Trường đang theo học.", "The school."),
         "Trường", "School name"),
    _col("mode", "Hình thức", "Mode",
         ("Một trong: " + ", ".join(t.vi for t in STUDY_MODE) + ".",
          "One of: " + ", ".join(t.en for t in STUDY_MODE) + "."), "Hình thức học", "Study mode"),
    _col("starts_on", "Ngày bắt đầu", "Start", _DATE, "Từ ngày", "Start date",
         required=True, text=True),
    _col("expected_end", "Dự kiến tốt nghiệp", "Expected end", _DATE, "Ngày kết thúc dự kiến",
         "Đến ngày", "Expected graduation", required=True, text=True),
    _col("funding", "Kinh phí", "Funding",
         ("Một trong: " + ", ".join(t.vi for t in FUNDING) + ".",
          "One of: " + ", ".join(t.en for t in FUNDING) + "."), "Nguồn kinh phí"),
    _col("decision_date", "Ngày quyết định cử đi học", "Decision date",
         ("Ngày của quyết định cử đi học (để trống: ngày bắt đầu); điều kiện cử đi học sau đại "
          "học tính theo ngày này.", "Date of the decision to send (blank: the start); the "
          "postgraduate sending conditions are checked at this date."),
         "Ngày quyết định", "Decision", text=True),
)  # fmt: skip
STUDY_EXAMPLES = [
    {"personal_id": "020085001234", "level": "Thạc sĩ", "field": "Quản lý văn hóa",
     "school": "Trường Đại học Văn hóa Hà Nội", "mode": "Vừa làm vừa học",
     "starts_on": "15/10/2025", "expected_end": "30/06/2027", "funding": "Tự túc",
     "decision_date": ""},
]  # fmt: skip
_BY_KEY = {c.key: c for c in STUDY_COLUMNS}


def write_studies_template(path: Path) -> None:
    write_template(path, "Cán bộ đang học nâng cao trình độ (Degree studies)", STUDY_COLUMNS,
                   "Hướng dẫn điền (How to fill in)", example_rows=STUDY_EXAMPLES)  # fmt: skip


async def import_studies(
    session: AsyncSession, *, path: Path, dry_run: bool, now: datetime, actor: str = "cli"
) -> ImportReport:
    """Validate a list of studies, then add or update them (all or nothing)."""
    table = await asyncio.to_thread(read_table, path, STUDY_COLUMNS)
    report = ImportReport("studies", dry_run, len(table.rows),
                          unknown_headers=table.unknown_headers)  # fmt: skip
    ids = {pid for _r, v in table.rows if (pid := valid_personal_id(v.get("personal_id", "")))}
    people = await people_by_personal_id(session, ids)
    first_row: dict[tuple[str, str, date], int] = {}
    wanted: list[tuple[int, str, int, dict[str, Any], date]] = []
    for row, values in table.rows:
        cells = Cells(row, values, _BY_KEY, report.errors)
        pid = cells.person("personal_id", people)
        v: dict[str, Any] = {
            "level": cells.vocab("level", EDUCATION, required=True),
            "field": cells.text("field", 200) or "",
            "school": cells.text("school", 200),
            "mode": cells.vocab("mode", STUDY_MODE),
            "starts_on": cells.date("starts_on"),
            "expected_end": cells.date("expected_end"),
            "funding": cells.vocab("funding", FUNDING),
        }
        decided = cells.date("decision_date")
        for col in ("starts_on", "expected_end"):
            if v[col] is None and not cells.raw(col):
                cells.fail(col, Problem.REQUIRED)
        if v["starts_on"] and v["expected_end"] and v["expected_end"] <= v["starts_on"]:
            cells.fail("expected_end", Problem.END_BEFORE_START)
        if not (cells.ok and pid and v["level"] and v["starts_on"] and v["expected_end"]):
            continue
        key = (pid, v["level"], v["starts_on"])
        if (seen := first_row.setdefault(key, row)) != row:
            cells.fail("starts_on", Problem.DUPLICATE_IN_FILE, other_row=seen)
            continue
        wanted.append((row, pid, people[pid][0], v, decided or v["starts_on"]))
    if report.errors:
        return report
    person_ids = sorted({w[2] for w in wanted})
    stored: dict[tuple[int, str, date], DegreeStudy] = {}
    for i in range(0, len(person_ids), 500):
        stmt = select(DegreeStudy).where(DegreeStudy.person_id.in_(person_ids[i : i + 500]))
        for st in (await session.execute(stmt)).scalars():
            stored[(st.person_id, st.level, st.starts_on)] = st
    rules = await postgraduate.conditions(session)
    sent = [w for w in wanted if rules is not None and w[3]["level"] in rules.levels
            and w[3]["funding"] == postgraduate.STATE_FUNDED]  # fmt: skip
    if rules is not None and sent:
        await _check_sending(session, report, rules, sent, stored)
        if report.errors:
            return report
    new: list[tuple[int, dict[str, Any]]] = []
    pending: list[tuple[DegreeStudy, dict[str, Any]]] = []
    for row, pid, person_id, v, _decided in wanted:
        shown_key = f"{pid} {EDUCATION.label(v['level'])} {v['starts_on']:%d/%m/%Y}"
        old = stored.get((person_id, v["level"], v["starts_on"]))
        if old is None:
            new.append((person_id, v))
            report.changes.append(Change(row, shown_key, "created"))
            continue
        diff = {k: x for k, x in v.items() if getattr(old, k) != x}
        if not diff:
            report.unchanged += 1
            continue
        shown = tuple((_BY_KEY[k].vi, _text(getattr(old, k)), _text(x)) for k, x in diff.items())
        report.changes.append(Change(row, shown_key, "updated", shown))
        report.updated += 1
        pending.append((old, diff))
    report.created = len(new)
    if dry_run:
        return report
    for old, diff in pending:
        for k, x in diff.items():
            setattr(old, k, x)
    session.add_all(DegreeStudy(person_id=person_id, **v) for person_id, v in new)
    await session.flush()
    await roles.audit(session, actor_person_id=None, actor=actor, action="studies.import",
                      target=path.name[:200], now=now, created=report.created,
                      updated=report.updated)  # fmt: skip
    report.written = True
    return report


async def _check_sending(
    session: AsyncSession, report: ImportReport, rules: Any,
    sent: list[tuple[int, str, int, dict[str, Any], date]],
    stored: dict[tuple[int, str, date], DegreeStudy],
) -> None:  # fmt: skip
    """Refuse the state-funded postgraduate rows whose person does not meet the sending
    conditions at the decision date; note the commitment each one brings. A study already
    stored as sent was checked when it was first imported and is not checked again."""
    ids = sorted({w[2] for w in sent})
    people: dict[int, Person] = {}
    for i in range(0, len(ids), 500):
        stmt = select(Person).where(Person.id.in_(ids[i : i + 500]))
        people.update((p.id, p) for p in (await session.execute(stmt)).scalars())
    column = _BY_KEY["funding"].vi
    for row, pid, person_id, v, decided in sent:
        old = stored.get((person_id, v["level"], v["starts_on"]))
        if old is None or old.funding != postgraduate.STATE_FUNDED:
            person = people[person_id]
            first = not await postgraduate.sent_before(
                session, person_id=person_id, levels=list(rules.levels), before=v["starts_on"])
            result = postgraduate.check(
                rules, date_of_birth=person.date_of_birth, joined_on=person.joined_on,
                decision_date=decided, first_sending=first)  # fmt: skip
            for refusal in result.refusals:
                shown = "" if refusal.actual is None else (
                    f"{refusal.actual} > {refusal.limit}"
                    if refusal.reason is postgraduate.Reason.TOO_OLD
                    else f"{refusal.actual} < {refusal.limit}")  # fmt: skip
                report.errors.append(RowError(row, column, refusal.reason, shown, key="funding"))
        promise = postgraduate.commitment(rules, starts_on=v["starts_on"],
                                          expected_end=v["expected_end"])  # fmt: skip
        shown_key = f"{pid} {EDUCATION.label(v['level'])} {v['starts_on']:%d/%m/%Y}"
        report.commitments.append((row, shown_key, promise.months, promise.until))


def _text(value: Any) -> str:
    if value is None:
        return ""
    return f"{value:%d/%m/%Y}" if isinstance(value, date) else str(value)
