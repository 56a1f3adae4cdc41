"""Secondments and rotations (biệt phái, luân chuyển): import, the person's view, outcomes.

The person's post and staffing stay with the home unit; the host unit gives them a division
and a field of work, and reviews them every 3–6 months. An import is all or nothing and
re-importing updates a secondment by (person, start date). Review outcomes, early ends and
extensions are recorded here and audited; the reminders planner reads the next review date.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from domain import roles
from domain.errors import DomainError, Refusal
from domain.import_rows import Cells, ImportReport, Problem, _col
from domain.importing import note_change, write_changes
from domain.phones import valid_personal_id
from domain.reminders import add_months, next_review
from domain.sheets import Column, read_table, write_template
from domain.vocab import Term, Vocab
from storage.models import Person, Role, Secondment, Unit
from storage.repos.roster import UnitRepo

log = logging.getLogger(__name__)

SECONDMENT_KIND = Vocab(
    "secondment_kind",
    [
        Term("secondment", "Biệt phái", "Secondment", 0, ("cử biệt phái", "seconded")),
        Term("rotation", "Luân chuyển", "Rotation", 0, ("luân chuyển cán bộ", "rotated")),
    ],
)
# The four levels of the yearly evaluation of cadres and civil servants.
REVIEW_RATING = Vocab(
    "review_rating",
    [
        Term("excellent", "Hoàn thành xuất sắc nhiệm vụ", "Excellent", 0,
             ("xuất sắc", "hoàn thành xuất sắc")),
        Term("good", "Hoàn thành tốt nhiệm vụ", "Good", 0, ("tốt", "hoàn thành tốt")),
        Term("done", "Hoàn thành nhiệm vụ", "Satisfactory", 0, ("hoàn thành", "đạt")),
        Term("not_done", "Không hoàn thành nhiệm vụ", "Unsatisfactory", 0,
             ("không hoàn thành", "không đạt")),
    ],
)  # fmt: skip
REVIEW_MONTHS = (3, 6)  # the review meeting comes every 3 to 6 months

_NOTE_DATE = ("Ngày dạng dd/mm/yyyy.", "Date as dd/mm/yyyy.")
SECONDMENT_COLUMNS: tuple[Column, ...] = (
    _col("personal_id", "Số CCCD", "Personal ID",
         ("12 chữ số, người đã có trong danh sách cán bộ.", "12 digits; someone on the roster."),
         "CCCD", "Số căn cước công dân", "Citizen ID", required=True, text=True),
    _col("kind", "Hình thức", "Kind",
         ("Biệt phái hoặc Luân chuyển.", "Secondment (biệt phái) or rotation (luân chuyển)."),
         "Biệt phái / luân chuyển", "Loại", "Type", required=True),
    _col("home_unit", "Đơn vị công tác", "Home unit",
         ("Nơi giữ biên chế, mã hoặc tên; trống: đơn vị trong danh sách cán bộ.",
          "Where the post stays, code or name; blank: the roster's unit."),
         "Đơn vị cử", "Đơn vị gốc", "Nơi giữ biên chế", "From unit"),
    _col("host_unit", "Đơn vị đến", "Host unit",
         ("Mã hoặc tên đơn vị nơi đến công tác.", "Code or name of the unit they go to."),
         "Đơn vị tiếp nhận", "Nơi biệt phái", "Nơi luân chuyển", "To unit", required=True),
    _col("host_division", "Bộ phận công tác", "Host division",
         ("Phòng, ban hoặc bộ phận ở đơn vị đến.", "Division or section at the host unit."),
         "Bộ phận", "Phòng, ban", "Division"),
    _col("field_of_work", "Lĩnh vực công tác", "Field of work",
         ("Việc được giao, ví dụ: Địa chính - Xây dựng.", "The work given, e.g. land records."),
         "Lĩnh vực", "Nhiệm vụ được giao", "Field"),
    _col("starts_on", "Ngày bắt đầu", "Start", _NOTE_DATE, "Từ ngày", "Bắt đầu", "From",
         required=True, text=True),
    _col("ends_on", "Ngày kết thúc dự kiến", "Planned end", _NOTE_DATE, "Đến ngày",
         "Kết thúc", "Ngày kết thúc", "Until", "End", text=True),
    _col("review_every_months", "Đánh giá sau mỗi (tháng)", "Review every (months)",
         ("Từ 3 đến 6; trống: 6.", "3 to 6; blank: 6."), "Định kỳ đánh giá (tháng)",
         "Review every", "Review months", text=False),
    _col("decision_no", "Số quyết định", "Decision number",
         ("Ví dụ: 125/QĐ-UBND.", "E.g. 125/QĐ-UBND."), "Quyết định", "Decision", text=True),
)  # fmt: skip
SECONDMENT_EXAMPLES = [
    {"personal_id": "020085001234", "kind": "Biệt phái", "home_unit": "LS-X001",
     "host_unit": "LS-SNV", "host_division": "Phòng Xây dựng chính quyền",
     "field_of_work": "Công tác cán bộ cấp xã", "starts_on": "01/07/2026",
     "ends_on": "30/06/2027", "review_every_months": "3", "decision_no": "125/QĐ-UBND"},
]  # fmt: skip
_BY_KEY = {c.key: c for c in SECONDMENT_COLUMNS}
_FIELDS = ("kind", "from_unit_id", "to_unit_id", "host_division", "field_of_work", "ends_on",
           "review_every_months", "decision_no")  # fmt: skip


def write_secondments_template(path: Path) -> None:
    write_template(path, "Danh sách biệt phái, luân chuyển (Secondments and rotations)",
                   SECONDMENT_COLUMNS, "Hướng dẫn điền (How to fill in)",
                   example_rows=SECONDMENT_EXAMPLES)  # fmt: skip


async def people_by_personal_id(session: AsyncSession, ids: set[str]) -> dict[str, tuple[int, int]]:
    """personal ID → (person id, unit id) for the IDs of a file."""
    found: dict[str, tuple[int, int]] = {}
    wanted = list(ids)
    for i in range(0, len(wanted), 500):
        stmt = select(Person.personal_id, Person.id, Person.unit_id).where(
            Person.personal_id.in_(wanted[i : i + 500])
        )
        for pid, person_id, unit_id in (await session.execute(stmt)).all():
            found[pid] = (person_id, unit_id)
    return found


def _shown(key: str, value: Any, names: dict[int, str]) -> str:
    if value is None:
        return ""
    if key in ("from_unit_id", "to_unit_id"):
        return names.get(value, str(value))
    if key == "kind":
        return SECONDMENT_KIND.label(value)
    if isinstance(value, date):
        return f"{value:%d/%m/%Y}"
    return str(value)


_LABELS = {"kind": "kind", "from_unit_id": "home_unit", "to_unit_id": "host_unit",
           "host_division": "host_division", "field_of_work": "field_of_work",
           "ends_on": "ends_on", "review_every_months": "review_every_months",
           "decision_no": "decision_no"}  # fmt: skip


async def import_secondments(
    session: AsyncSession, *, path: Path, dry_run: bool, now: datetime, actor: str = "cli"
) -> ImportReport:
    """Validate a secondments list, then create or update by (person, start): all or nothing."""
    table = await asyncio.to_thread(read_table, path, SECONDMENT_COLUMNS)
    report = ImportReport("secondments", dry_run, len(table.rows),
                          unknown_headers=table.unknown_headers)  # fmt: skip
    ids = {pid for _r, v in table.rows if (pid := valid_personal_id(v.get("personal_id", "")))}
    people = await people_by_personal_id(session, ids)
    units = await UnitRepo(session).index()
    first_row: dict[tuple[str, date], int] = {}
    wanted: list[tuple[int, str, int, date, dict[str, Any]]] = []
    for row, values in table.rows:
        cells = Cells(row, values, _BY_KEY, report.errors)
        pid = cells.person("personal_id", people)
        person = people.get(pid) if pid else None
        kind = cells.vocab("kind", SECONDMENT_KIND, required=True)
        home = cells.unit("home_unit", units)
        host = cells.unit("host_unit", units)
        if host is None and not cells.raw("host_unit"):
            cells.fail("host_unit", Problem.REQUIRED)
        starts = cells.date("starts_on")
        if starts is None and not cells.raw("starts_on"):
            cells.fail("starts_on", Problem.REQUIRED)
        ends = cells.date("ends_on")
        if starts and ends and ends <= starts:
            cells.fail("ends_on", Problem.END_BEFORE_START)
        every = cells.integer("review_every_months")
        if every is not None and not REVIEW_MONTHS[0] <= every <= REVIEW_MONTHS[1]:
            cells.fail("review_every_months", Problem.REVIEW_INTERVAL)
        division = cells.text("host_division", 200)
        work = cells.text("field_of_work", 200)
        decision = cells.text("decision_no", 60)
        if pid and starts and (seen := first_row.setdefault((pid, starts), row)) != row:
            cells.fail("starts_on", Problem.DUPLICATE_IN_FILE, other_row=seen)
        if cells.ok and pid and person and kind and host and starts:
            wanted.append((row, pid, person[0], starts, {
                "kind": kind, "from_unit_id": home or person[1], "to_unit_id": host,
                "host_division": division, "field_of_work": work, "ends_on": ends,
                "review_every_months": every or REVIEW_MONTHS[1], "decision_no": decision,
            }))  # fmt: skip
    if report.errors:
        return report
    person_ids = {w[2] for w in wanted}
    stored: dict[tuple[int, date], Secondment] = {}
    for i in range(0, len(person_ids), 500):
        chunk = list(person_ids)[i : i + 500]
        stmt = select(Secondment).where(Secondment.person_id.in_(chunk))
        for sec in (await session.execute(stmt)).scalars():
            stored[(sec.person_id, sec.starts_on)] = sec
    names = units.code_of
    updates: list[tuple[Secondment, dict[str, Any]]] = []
    for row, pid, person_id, starts, fields in wanted:
        key = f"{pid} {starts:%d/%m/%Y}"
        old = stored.get((person_id, starts))
        diff = note_change(
            report, row=row, key=key, old=old, fields=fields,
            header=lambda k: _BY_KEY[_LABELS[k]].vi, shown=lambda k, v: _shown(k, v, names),
        )  # fmt: skip
        if old is not None and diff:
            updates.append((old, diff))
    if dry_run:
        return report
    # A new interval counts the next review again from the start, unless one was recorded.
    updates = [
        (sec, {**diff, "next_review_on": None}
         if "review_every_months" in diff and sec.last_review_on is None else diff)
        for sec, diff in updates
    ]  # fmt: skip
    new = [Secondment(person_id=person_id, starts_on=starts, **fields)
           for _r, _p, person_id, starts, fields in wanted if (person_id, starts) not in stored]
    await write_changes(session, report, new=new, updates=updates,
                        action="secondments.import", target=path.name, actor=actor, now=now)
    return report


# -- the person's view -------------------------------------------------------------------------


@dataclass(frozen=True)
class Posting:
    """A secondment or rotation under way, as the person sees it in /status."""

    kind: str  # "secondment" | "rotation"
    host: str
    division: str | None
    field_of_work: str | None
    ends_on: date | None
    next_review: date | None


async def current_postings(session: AsyncSession, *, person_id: int, today: date) -> list[Posting]:
    """The person's secondments and rotations that have begun and not ended."""
    stmt = (
        select(Secondment, Unit.name)
        .join(Unit, Unit.id == Secondment.to_unit_id)
        .where(Secondment.person_id == person_id, Secondment.starts_on <= today)
        .order_by(Secondment.starts_on)
    )
    return [
        Posting(
            sec.kind,
            name,
            sec.host_division,
            sec.field_of_work,
            sec.ends_on,
            next_review(sec, today),
        )
        for sec, name in (await session.execute(stmt)).all()
        if sec.ends_on is None or sec.ends_on >= today
    ]


# -- the report: by host and home unit, with reviews overdue ---------------------------------


@dataclass(frozen=True)
class PostingsAt:
    """Secondments or rotations under way on a day, from one home unit to one host unit."""

    kind: str
    host: str
    home: str
    people: int
    overdue: int  # whose review meeting fell due before the day and was not recorded


def review_due(sec: Secondment) -> date:
    """When the review meeting is due that has not been recorded yet."""

    if sec.next_review_on is not None:
        return sec.next_review_on
    return add_months(sec.last_review_on or sec.starts_on, sec.review_every_months)


async def by_unit(session: AsyncSession, *, touches: Any, on: date) -> tuple[PostingsAt, ...]:
    """Under way on `on`, touching the scope (`touches`: a condition on Secondment and
    Person), by kind, host and home unit; with how many reviews are overdue."""

    host, home = aliased(Unit), aliased(Unit)
    stmt = (
        select(Secondment, host.name, home.name)
        .join(Person, Person.id == Secondment.person_id)
        .join(host, host.id == Secondment.to_unit_id)
        .outerjoin(home, home.id == func.coalesce(Secondment.from_unit_id, Person.unit_id))
        .where(touches, Secondment.starts_on <= on,
               (Secondment.ends_on.is_(None)) | (Secondment.ends_on >= on))
    )  # fmt: skip
    rows: dict[tuple[str, str, str], list[int]] = {}
    for sec, host_name, home_name in await session.execute(stmt):
        acc = rows.setdefault((sec.kind, host_name, home_name or ""), [0, 0])
        acc[0] += 1
        acc[1] += review_due(sec) < on
    return tuple(PostingsAt(k, h, m, n, o) for (k, h, m), (n, o) in sorted(rows.items()))


# -- outcomes: a review held, an early end, an extension -----------------------------------


class Outcome(enum.StrEnum):
    REVIEWED = "reviewed"
    ENDED = "ended"
    EXTENDED = "extended"


def _no_secondment(personal_id: str) -> DomainError:
    """The person has no secondment or rotation under way."""
    return DomainError(Refusal.NOT_FOUND, what="secondment", personal_id=personal_id)


def _bad_date(day: date) -> DomainError:
    """The date does not fit the secondment (before its start, or the same end as now)."""
    return DomainError(Refusal.INVALID, what="date", value=day.isoformat())


async def current_of(session: AsyncSession, *, personal_id: str, today: date) -> Secondment:
    """The person's secondment under way today (the latest begun), or NoSecondment."""
    stmt = (
        select(Secondment)
        .join(Person, Person.id == Secondment.person_id)
        .where(Person.personal_id == personal_id, Secondment.starts_on <= today)
        .order_by(Secondment.starts_on.desc())
    )
    for sec in (await session.execute(stmt)).scalars():
        if sec.ends_on is None or sec.ends_on >= today:
            return sec
    raise _no_secondment(personal_id)


async def record_review(
    session: AsyncSession, *, secondment: Secondment, held_on: date, rating: str, note: str,
    next_on: date | None, now: datetime, actor: str, actor_person_id: int | None = None,
) -> date | None:  # fmt: skip
    """Record a review meeting's outcome; the next review moves to `next_on` or N months on."""

    if held_on < secondment.starts_on or (next_on is not None and next_on <= held_on):
        raise _bad_date(held_on)
    secondment.last_review_on, secondment.last_review_rating = held_on, rating
    secondment.last_review_note = note or None
    nxt = next_on or add_months(held_on, secondment.review_every_months)
    if secondment.ends_on is not None and nxt > secondment.ends_on:
        nxt = secondment.ends_on
    secondment.next_review_on = nxt
    await session.flush()
    await roles.audit(session, actor_person_id=actor_person_id, actor=actor,
                      action="secondment.review", target=str(secondment.id), now=now,
                      held_on=held_on.isoformat(), rating=rating,
                      next_review_on=nxt.isoformat())  # fmt: skip
    return nxt


async def change_end(
    session: AsyncSession, *, secondment: Secondment, ends_on: date, now: datetime, actor: str,
    actor_person_id: int | None = None,
) -> Outcome:  # fmt: skip
    """End early (the person comes home) or extend: the report and reminders follow."""
    if ends_on < secondment.starts_on:
        raise _bad_date(ends_on)
    before = secondment.ends_on
    outcome = Outcome.EXTENDED if before is None or ends_on > before else Outcome.ENDED
    if before is not None and ends_on == before:
        raise _bad_date(ends_on)
    secondment.ends_on = ends_on
    if secondment.next_review_on is not None and secondment.next_review_on > ends_on:
        secondment.next_review_on = None
    await session.flush()
    await roles.audit(session, actor_person_id=actor_person_id, actor=actor,
                      action=f"secondment.{outcome.value}", target=str(secondment.id), now=now,
                      before=before.isoformat() if before else "",
                      after=ends_on.isoformat())  # fmt: skip
    return outcome


# -- an organizer in chat: the reviews of their units, and recording one ----------------------


@dataclass(frozen=True)
class ReviewItem:
    secondment_id: int
    name: str
    kind: str
    host: str
    due: date  # the review meeting not recorded yet
    every_months: int


def _overseen(scope: roles.Scope, sec: Secondment, person_unit: int) -> bool:
    return any(scope.covers(u) for u in (sec.from_unit_id, sec.to_unit_id, person_unit))


async def reviews_for(
    session: AsyncSession, *, actor_id: int | None, today: date
) -> list[ReviewItem]:
    """Secondments under way that touch the organizer's units, the most urgent review first."""
    scope = await roles.require(session, person_id=actor_id, role=Role.ORGANIZER)
    stmt = (
        select(Secondment, Person.full_name, Person.unit_id, Unit.name)
        .join(Person, Person.id == Secondment.person_id)
        .join(Unit, Unit.id == Secondment.to_unit_id)
        .where(Secondment.starts_on <= today,
               (Secondment.ends_on.is_(None)) | (Secondment.ends_on >= today))
    )  # fmt: skip
    items = [
        ReviewItem(sec.id, name, sec.kind, host, review_due(sec), sec.review_every_months)
        for sec, name, unit_id, host in await session.execute(stmt)
        if _overseen(scope, sec, unit_id)
    ]
    return sorted(items, key=lambda i: (i.due, i.name))


async def review_as_organizer(
    session: AsyncSession, *, actor_id: int | None, secondment_id: int, rating: str, note: str,
    today: date, now: datetime,
) -> date | None:  # fmt: skip
    """Record a meeting held today, checked against the organizer's units; the next review."""
    scope = await roles.require(session, person_id=actor_id, role=Role.ORGANIZER)
    sec = await session.get(Secondment, secondment_id)
    person = await session.get(Person, sec.person_id) if sec else None
    if sec is None or person is None or (sec.ends_on is not None and sec.ends_on < today):
        raise DomainError(Refusal.NOT_FOUND, what="secondment")
    if not _overseen(scope, sec, person.unit_id):
        await roles.audit(session, actor_person_id=actor_id,
                          actor=await roles.actor_label(session, actor_id),
                          action="secondment.review", target=str(sec.id), result="refused",
                          now=now)  # fmt: skip
        raise DomainError(Refusal.FORBIDDEN)
    if rating not in REVIEW_RATING:
        raise DomainError(Refusal.INVALID, what="rating")
    return await record_review(
        session, secondment=sec, held_on=max(today, sec.starts_on), rating=rating,
        note=note[:2000], next_on=None, now=now,
        actor=await roles.actor_label(session, actor_id), actor_person_id=actor_id,
    )  # fmt: skip
