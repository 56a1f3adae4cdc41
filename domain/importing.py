"""Roster and course import services: read a file in its sheet format (domain/roster_format.py,
domain/course_format.py, on domain/import_rows.py), then write all rows or nothing.

Channel-agnostic: the services return an ImportReport of counts and coded row errors, and the
caller (CLI, a future upload handler) renders them. A file with any bad row writes nothing.
Re-importing the same file is idempotent: rows are keyed by personal ID (people) or code
(courses) and only real differences count as updates.

Only the columns a file has are imported: a column left out keeps the stored values, a blank
cell in a present column clears the value.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from domain import reminders, roles
from domain.course_format import (
    COURSE_BY_KEY,
    COURSE_COLUMNS,
    COURSE_EXAMPLE,
    COURSE_HEADERS,
    CourseIn,
    Span,
    audience_parts,
    course_example,
    course_search_text,
    parse_course,
)
from domain.import_rows import Cells, Change, ImportReport, Problem, RowError
from domain.level_history import HISTORY, highest, record_levels
from domain.reminders import Policy
from domain.roster_format import (
    QUAL_COLUMNS,
    QUAL_HEADER,
    ROSTER_BY_KEY,
    ROSTER_COLUMNS,
    ROSTER_EXAMPLE,
    PersonIn,
    Qual,
    field_header,
    parse_person,
)
from domain.sheets import Column, read_table, write_template
from domain.text import fold
from storage.models import Course, CourseSession, CourseStatus
from storage.repos.roster import (
    ROSTER_SOURCE,
    PersonRepo,
    PositionRepo,
    UnitRepo,
    chunks,
)

log = logging.getLogger(__name__)


Progress = Callable[[str, int], None]  # (stage: "read" | "validated" | "written", rows)


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


def write_import_template(kind: str, path: Path, *, today: date) -> None:
    """Write the blank XLSX template (with one example row) for "roster" or "courses";
    `today` is the local date the courses example is dated from."""
    t = TEMPLATES[kind]
    example = t.example
    if kind == "courses":
        example = course_example(today)
    write_template(path, t.title, t.columns, t.notes_title, example_rows=[example])


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


def _notify(progress: Progress | None, stage: str, rows: int) -> None:
    if progress is not None:
        progress(stage, rows)


@dataclass(frozen=True)
class _Names:
    """How a dry run shows stored ids: unit and position codes."""

    unit_codes: dict[int, str]
    positions: dict[int, str]


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
    people: list[PersonIn] = []
    first_row: dict[str, int] = {}
    phone_row: dict[str, tuple[int, str]] = {}
    for row, values in table.rows:
        cells = Cells(row, values, ROSTER_BY_KEY, report.errors)
        person = parse_person(cells, units, positions, today)
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
        report.errors.append(RowError(row, ROSTER_BY_KEY["phone"].vi, Problem.PHONE_TAKEN,
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
    created: list[PersonIn] = []
    changed: list[tuple[int, PersonIn]] = []
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
            shown = [(field_header(k), _shown(k, old[k], names), _shown(k, p.values[k], names))
                     for k in diff]  # fmt: skip
            if mine != p.quals:
                shown.append((QUAL_HEADER, _quals_text(mine), _quals_text(p.quals)))
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


_COURSE_FIELDS = (
    "title", "category", "organizer_unit_id", "mode", "place", "link", "starts_at", "ends_at",
    "capacity", "registration_deadline", "hours", "grants_kind", "grants_level",
    "requires_approval",
)  # fmt: skip
_NEW_COURSE: dict[str, Any] = {
    "organizer_unit_id": None, "mode": "in_person", "place": None, "link": None, "hours": 0,
    "grants_kind": None, "grants_level": None, "requires_approval": False,
}  # fmt: skip


_WHEN_WHERE = ("starts_at", "ends_at", "place", "link")


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
    courses: list[CourseIn] = []
    first_row: dict[str, int] = {}
    for row, values in table.rows:
        cells = Cells(row, values, COURSE_BY_KEY, report.errors)
        course = parse_course(cells, units, positions, position_codes, groups, policy.tz)
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
        merged["audience"] = {**audience_parts(old.audience if old else None), **c.audience}
        if old is None:
            created.append({"code": c.code, **merged})
            new_sessions[c.code] = c.sessions or []
            report.changes.append(Change(c.row, c.code, "created"))
            continue
        old_sessions = [(s.starts_at, s.ends_at) for s in old.sessions]
        sessions = c.sessions if c.sessions is not None and c.sessions != old_sessions else None
        same = all(getattr(old, k) == val for k, val in merged.items() if k != "audience")
        if same and audience_parts(old.audience) == merged["audience"] and sessions is None:
            report.unchanged += 1
        else:
            changed.append((old, merged, sessions))
            shown = tuple(
                (COURSE_HEADERS.get(k, k), _shown_value(getattr(old, k), policy.tz),
                 _shown_value(v, policy.tz))
                for k, v in merged.items()
                if k in COURSE_HEADERS and getattr(old, k) != v
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
