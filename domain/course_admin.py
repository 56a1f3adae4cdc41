"""Organizers manage their courses: create, edit, close and reopen registration, cancel,
import a courses file, and list or export who registered.

Every service first checks the actor's role and that the course's organizer unit is in their
scope (administrators act everywhere), and every change leaves an audit row. A change of time
or place, or a cancellation, tells everyone registered or waitlisted (notification rows) and
replaces their reminders, in the same transaction. A change of category, audience, hours, what
completing grants or the approval rule tells nobody and leaves existing registrations and
training records as they are: it applies to what happens next. One exception: when approval
is no longer required, the requests still waiting for it are registered as far as seats allow
(each person told), since nobody would decide them any more and they would lose their seat.
"""

from __future__ import annotations

import asyncio
import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain import registration, reminders, roles
from domain.course_draft import (
    Draft,
    Invalid,
    Problem,
    Span,
    Where,
    check_audience,
    check_hours,
    parse_grants,
)
from domain.course_format import COURSE_COLUMNS, course_search_text
from domain.errors import DomainError, Refusal
from domain.import_rows import ImportReport
from domain.importing import import_courses
from domain.reminders import APPROVAL_DROPPED, Policy, notify_promoted
from domain.sheets import read_table, write_rows_xlsx
from domain.text import fold, vn_sort_key
from domain.vocab import COURSE_CATEGORY
from storage.models import (
    Course,
    CourseSession,
    CourseStatus,
    Person,
    Position,
    Registration,
    RegistrationStatus,
    Role,
    Unit,
)
from storage.repos.courses import CourseRepo, RegistrationRepo
from storage.repos.roster import UnitRepo, chunks

# Registrations an organizer sees in the list: everyone holding, awaiting or having used a seat.
LISTED = (
    RegistrationStatus.REGISTERED,
    RegistrationStatus.PENDING_APPROVAL,
    RegistrationStatus.NOMINATED,
    RegistrationStatus.WAITLISTED,
    RegistrationStatus.ATTENDED,
    RegistrationStatus.COMPLETED,
    RegistrationStatus.NO_SHOW,
)
# How long after its end a course stays in the organizer's list.
RECENT = timedelta(days=30)
_CODE_STOP_WORDS = frozenset({"va", "cac", "cho", "ve"})


class Field(enum.StrEnum):
    """What an organizer can edit in chat."""

    TITLE = "title"
    WHEN = "when"
    WHERE = "where"
    CAPACITY = "capacity"
    DEADLINE = "deadline"
    CATEGORY = "category"
    AUDIENCE = "audience"
    HOURS = "hours"
    GRANTS = "grants"
    APPROVAL = "approval"


# Fields that describe the course rather than when or where it is: nobody is told of a
# change, and registrations and training records already written stay as they were.
DETAILS = frozenset({Field.CATEGORY, Field.AUDIENCE, Field.HOURS, Field.GRANTS, Field.APPROVAL})


@dataclass(frozen=True)
class AdminView:
    course: Course
    registered: int
    waitlisted: int


@dataclass(frozen=True)
class AdminPage:
    items: list[AdminView]
    page: int
    pages: int
    total: int


@dataclass(frozen=True)
class Changed:
    course: Course
    notified: int = 0  # people told of a new time or place (or of the cancellation)
    promoted: int = 0  # waitlisted people who got a seat (a larger capacity)
    registered: int = 0  # requests pending approval registered once it was no longer required


@dataclass(frozen=True)
class Registrant:
    full_name: str
    unit: str
    position: str
    phone: str
    status: RegistrationStatus
    waitlist_no: int | None  # place in the queue, for the waitlisted


@dataclass(frozen=True)
class ImportOutcome:
    report: ImportReport
    forbidden_rows: list[int]  # rows naming a course or organizer unit outside the scope

    @property
    def ok(self) -> bool:
        return self.report.ok and not self.forbidden_rows


# -- who may act --------------------------------------------------------------------------------


async def _label(session: AsyncSession, person_id: int | None) -> str:
    return await roles.actor_label(session, person_id)


async def _audit(
    session: AsyncSession,
    person_id: int | None,
    action: str,
    course: Course | str,
    **details: Any,
) -> None:
    target = course if isinstance(course, str) else f"{course.code}: {course.title}"
    await roles.audit(
        session,
        actor_person_id=person_id,
        actor=await _label(session, person_id),
        action=action,
        target=target,
        result="ok",
        **details,
    )


async def managed(
    session: AsyncSession, *, person_id: int | None, course_id: int, lock: bool = False
) -> Course:
    """The course, when the person organizes it (its unit in their scope); else DomainError."""
    scope = await roles.require(session, person_id=person_id, role=Role.ORGANIZER)
    repo = CourseRepo(session)
    course = await (repo.lock(course_id) if lock else repo.get(course_id))
    if course is None:
        raise DomainError(Refusal.NOT_FOUND)
    if not scope.covers(course.organizer_unit_id):
        raise DomainError(Refusal.FORBIDDEN, role=Role.ORGANIZER.value, course=course.code)
    return course


async def organizer_unit(session: AsyncSession, *, person_id: int) -> int | None:
    """The unit a new course is organized by: the person's own unit when it is in their
    scope, else the first unit they were made organizer for."""
    scope = await roles.require(session, person_id=person_id, role=Role.ORGANIZER)
    person = await session.get(Person, person_id)
    if person is not None and scope.covers(person.unit_id):
        return person.unit_id
    grants = [g for g in await roles.grants_of(session, person_id) if g.unit_id is not None]
    return grants[0].unit_id if grants else None


# -- listing ------------------------------------------------------------------------------------


async def my_courses(
    session: AsyncSession, *, person_id: int, now: datetime, page: int, page_size: int
) -> AdminPage:
    """Courses the person organizes that have not ended more than a month ago, soonest first."""
    scope = await roles.require(session, person_id=person_id, role=Role.ORGANIZER)
    where = [Course.ends_at >= now - RECENT]
    if not scope.everywhere:
        where.append(Course.organizer_unit_id.in_(sorted(scope.unit_ids)))
    total = int((await session.execute(select(func.count()).where(*where))).scalar_one())
    pages = max(math.ceil(total / page_size), 1)
    page = min(max(page, 0), pages - 1)
    stmt = (
        select(Course)
        .where(*where)
        .order_by(Course.starts_at, Course.id)
        .offset(page * page_size)
        .limit(page_size)
    )
    courses = list((await session.execute(stmt)).scalars())
    counts = await RegistrationRepo(session).counts([c.id for c in courses])
    items = [
        AdminView(
            c,
            counts.get((c.id, RegistrationStatus.REGISTERED.value), 0),
            counts.get((c.id, RegistrationStatus.WAITLISTED.value), 0),
        )
        for c in courses
    ]
    return AdminPage(items, page, pages, total)


async def admin_view(session: AsyncSession, *, person_id: int, course_id: int) -> AdminView:
    course = await managed(session, person_id=person_id, course_id=course_id)
    counts = await RegistrationRepo(session).counts([course.id])
    return AdminView(
        course,
        counts.get((course.id, RegistrationStatus.REGISTERED.value), 0),
        counts.get((course.id, RegistrationStatus.WAITLISTED.value), 0),
    )


# -- creating -----------------------------------------------------------------------------------


def _code_prefix(category: str) -> str:
    words = fold(COURSE_CATEGORY.label(category, "vi")).replace(",", " ").split()
    return "".join(w[0] for w in words if w not in _CODE_STOP_WORDS).upper()[:6] or "KH"


async def _new_code(session: AsyncSession, category: str, starts_at: datetime) -> str:
    """A readable unique code like KNS-2026-03 (category initials, year, number)."""
    stem = f"{_code_prefix(category)}-{starts_at.year}-"
    taken = set(
        (await session.execute(select(Course.code).where(Course.code.startswith(stem)))).scalars()
    )
    n = 1
    while f"{stem}{n:02d}" in taken:
        n += 1
    return f"{stem}{n:02d}"


def check_draft(draft: Draft) -> None:
    """The whole draft once more, as the confirm button may come long after the answers."""
    if not draft.title or draft.category not in COURSE_CATEGORY:
        raise Invalid(Problem.EMPTY)
    if draft.starts_at is None or draft.ends_at is None or draft.registration_deadline is None:
        raise Invalid(Problem.EMPTY)
    if draft.ends_at <= draft.starts_at:
        raise Invalid(Problem.END_BEFORE_START)
    if draft.registration_deadline > draft.ends_at:
        raise Invalid(Problem.DEADLINE_AFTER_END)
    if any(s < draft.starts_at or e > draft.ends_at for s, e in draft.sessions):
        raise Invalid(Problem.SESSION_OUTSIDE)
    if draft.capacity < 1 or draft.hours < 0:
        raise Invalid(Problem.BAD_NUMBER)


def course_from(draft: Draft) -> Course:
    """The course a draft describes, not added to any session (for a preview)."""
    assert draft.starts_at is not None and draft.ends_at is not None
    return Course(
        code="",
        title=draft.title,
        search_text=course_search_text(draft.title, draft.category, draft.where.place),
        category=draft.category,
        mode=draft.where.mode,
        place=draft.where.place,
        link=draft.where.link,
        starts_at=draft.starts_at,
        ends_at=draft.ends_at,
        capacity=draft.capacity,
        registration_deadline=draft.registration_deadline or draft.starts_at,
        audience=draft.audience,
        hours=draft.hours,
        grants_kind=draft.grants_kind,
        grants_level=draft.grants_level,
        requires_approval=draft.requires_approval,
        status=CourseStatus.OPEN,
        queue_seq=0,
    )


async def create_course(
    session: AsyncSession, *, person_id: int, draft: Draft, now: datetime
) -> AdminView:
    """Create an open course from a confirmed draft, organized by the person's unit."""
    unit_id = await organizer_unit(session, person_id=person_id)
    check_draft(draft)
    if draft.registration_deadline is not None and draft.registration_deadline <= now:
        raise Invalid(Problem.PAST, "")
    course = course_from(draft)
    course.code = await _new_code(session, course.category, course.starts_at)
    course.organizer_unit_id = unit_id
    course.updated_at = now
    session.add(course)
    await session.flush()
    session.add_all(
        CourseSession(course_id=course.id, starts_at=s, ends_at=e) for s, e in draft.sessions
    )
    await session.flush()
    await session.refresh(course, ["sessions"])
    await _audit(session, person_id, "course_create", course)
    return AdminView(course, 0, 0)


# -- editing ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Edit:
    """One edit from chat: the field and its parsed new value(s)."""

    field: Field
    title: str | None = None
    when: tuple[datetime, datetime, list[Span]] | None = None
    where: Where | None = None
    capacity: int | None = None
    deadline: datetime | None = None
    category: str | None = None
    audience: dict[str, list[str]] | None = None  # {} means everyone
    hours: int | None = None
    grants: tuple[str | None, str | None] | None = None  # (kind, level); (None, None): hours only
    approval: bool | None = None


def _editable(course: Course) -> None:
    if course.status in (CourseStatus.CANCELLED, CourseStatus.FINISHED):
        raise DomainError(Refusal.CLOSED)


def _detail(course: Course, field: Field) -> Any:
    """A detail's stored value, for the audit row (JSON)."""
    values = {
        Field.CATEGORY: course.category,
        Field.AUDIENCE: course.audience,
        Field.HOURS: course.hours,
        Field.GRANTS: [course.grants_kind, course.grants_level],
        Field.APPROVAL: course.requires_approval,
    }
    return values[field]


async def _set_detail(session: AsyncSession, course: Course, edit: Edit) -> None:
    """Check a detail's new value once more (it may come from any channel) and store it."""
    if edit.field == Field.CATEGORY:
        if edit.category is None or edit.category not in COURSE_CATEGORY:
            raise Invalid(Problem.UNKNOWN_CATEGORY, edit.category or "")
        course.category = edit.category
    elif edit.field == Field.AUDIENCE:
        if edit.audience is None:
            raise Invalid(Problem.EMPTY)
        course.audience = await check_audience(session, edit.audience)
    elif edit.field == Field.HOURS:
        if edit.hours is None:
            raise Invalid(Problem.EMPTY)
        course.hours = check_hours(edit.hours)
    elif edit.field == Field.GRANTS:
        if edit.grants is None:
            raise Invalid(Problem.EMPTY)
        course.grants_kind, course.grants_level = parse_grants(*edit.grants)
    elif edit.field == Field.APPROVAL:
        if edit.approval is None:
            raise Invalid(Problem.EMPTY)
        course.requires_approval = edit.approval


async def edit_course(
    session: AsyncSession,
    *,
    person_id: int,
    course_id: int,
    edit: Edit,
    now: datetime,
    policy: Policy,
) -> Changed:
    """Apply one edit. A new time or place is told to everyone registered or waitlisted and
    their reminders are replaced; a larger capacity gives seats to the waitlist in order.
    A detail (DETAILS) is stored for what comes next: nobody is told, nothing else moves;
    except that turning approval off registers the requests still waiting for it."""
    course = await managed(session, person_id=person_id, course_id=course_id, lock=True)
    _editable(course)
    before = {"starts_at": course.starts_at.isoformat(), "place": course.place or course.link}
    moved = False
    values: dict[str, Any] = {}  # a detail's value before and after, for the audit row
    approval_dropped = edit.field == Field.APPROVAL and course.requires_approval
    if edit.field in DETAILS:
        values["before"] = _detail(course, edit.field)
        await _set_detail(session, course, edit)
        values["after"] = _detail(course, edit.field)
    elif edit.title is not None:
        course.title = edit.title
    elif edit.when is not None:
        starts, ends, spans = edit.when
        moved = (starts, ends) != (course.starts_at, course.ends_at) or spans != [
            (s.starts_at, s.ends_at) for s in course.sessions
        ]
        course.starts_at, course.ends_at = starts, ends
        # A deadline after the new end would let people register for a finished course.
        if course.registration_deadline > ends:
            course.registration_deadline = starts
        await session.execute(delete(CourseSession).where(CourseSession.course_id == course.id))
        session.add_all(
            CourseSession(course_id=course.id, starts_at=s, ends_at=e) for s, e in spans
        )
    elif edit.where is not None:
        moved = (edit.where.place, edit.where.link) != (course.place, course.link)
        course.place, course.link, course.mode = edit.where.place, edit.where.link, edit.where.mode
    elif edit.capacity is not None:
        # Seats held for nominees and pending approvals are taken too.
        taken = await RegistrationRepo(session).held(course.id)
        if edit.capacity < taken:
            raise Invalid(Problem.BELOW_REGISTERED, str(edit.capacity), taken=taken)
        course.capacity = edit.capacity
    elif edit.deadline is not None:
        if edit.deadline > course.ends_at:
            raise Invalid(Problem.DEADLINE_AFTER_END)
        course.registration_deadline = edit.deadline
    course.search_text = course_search_text(course.title, course.category, course.place)
    course.updated_at = now
    await session.flush()
    await session.refresh(course, ["sessions"])
    promoted = (
        await registration.promote_waitlist(session, course=course, now=now, policy=policy)
        if edit.capacity is not None
        else []
    )
    notified = (
        await reminders.course_changed(
            session, course=course, policy=policy, now=now, before=before
        )
        if moved
        else 0
    )
    registered = (
        await _register_pending(session, course=course, now=now, policy=policy)
        if approval_dropped and not course.requires_approval
        else 0
    )
    await _audit(session, person_id, f"course_edit_{edit.field.value}", course,
                 notified=notified, promoted=len(promoted), registered=registered,
                 **values)  # fmt: skip
    return Changed(course, notified, len(promoted), registered)


async def _register_pending(
    session: AsyncSession, *, course: Course, now: datetime, policy: Policy
) -> int:
    """Approval is no longer required: register the requests still waiting for it, first come
    first served, in the seats they hold, and tell each person as when a seat frees up (their
    reminders are planned too). Should the course have fewer seats than that (a courses file
    may lower the capacity), the rest wait in the queue where they stood. Returns how many were
    registered. The caller holds the course lock."""
    stmt = (
        select(Registration)
        .where(
            Registration.course_id == course.id,
            Registration.status == RegistrationStatus.PENDING_APPROVAL,
        )
        .order_by(Registration.queue_seq)
    )
    pending = list((await session.execute(stmt)).scalars())
    seats = course.capacity - (await RegistrationRepo(session).held(course.id) - len(pending))
    registered = 0
    for reg in pending:
        reg.hold_until = None
        if registered >= seats:
            reg.status = RegistrationStatus.WAITLISTED
            continue
        reg.status, reg.decided_at = RegistrationStatus.REGISTERED, now
        registered += 1
        await session.flush()
        await notify_promoted(session, reg=reg, course=course, policy=policy, now=now,
                              why=APPROVAL_DROPPED)  # fmt: skip
    await session.flush()
    return registered


async def set_registration(
    session: AsyncSession, *, person_id: int, course_id: int, open_: bool, now: datetime
) -> AdminView:
    """Close registration (nobody new may register or join the waitlist) or reopen it."""
    course = await managed(session, person_id=person_id, course_id=course_id, lock=True)
    _editable(course)
    if open_ and course.registration_deadline <= now:
        raise DomainError(Refusal.DEADLINE_PASSED, deadline=course.registration_deadline)
    wanted = CourseStatus.OPEN if open_ else CourseStatus.CLOSED
    if course.status != wanted:  # a second press (or one at the same time) changes nothing
        course.status = wanted
        course.updated_at = now
        await session.flush()
        await _audit(session, person_id, "course_reopen" if open_ else "course_close", course)
    return await admin_view(session, person_id=person_id, course_id=course.id)


async def cancel_course(
    session: AsyncSession, *, person_id: int, course_id: int, now: datetime, policy: Policy
) -> Changed:
    """Cancel: everyone registered or waitlisted is told at once, their reminders dropped."""
    course = await managed(session, person_id=person_id, course_id=course_id)
    told = await registration.cancel_course(session, course_id=course.id, now=now, policy=policy)
    await _audit(session, person_id, "course_cancel", course, notified=told)
    return Changed(course, told)


# -- registrants --------------------------------------------------------------------------------


async def _registrants(session: AsyncSession, course: Course, lang: str) -> list[Registrant]:
    stmt = (
        select(Registration, Person, Unit.name, Position)
        .join(Person, Person.id == Registration.person_id)
        .join(Unit, Unit.id == Person.unit_id)
        .outerjoin(Position, Position.id == Person.position_id)
        .where(Registration.course_id == course.id, Registration.status.in_(LISTED))
    )
    rows = list(await session.execute(stmt))
    queue = sorted(
        (r.queue_seq, r.id) for r, *_ in rows if r.status == RegistrationStatus.WAITLISTED
    )
    place = {reg_id: n for n, (_seq, reg_id) in enumerate(queue, start=1)}
    result = [
        Registrant(
            full_name=person.full_name,
            unit=unit_name,
            position=(position.name_en if lang == "en" else position.name_vi) if position else "",
            phone=person.phone or "",
            status=reg.status,
            waitlist_no=place.get(reg.id),
        )
        for reg, person, unit_name, position in rows
    ]
    return sorted(result, key=lambda r: vn_sort_key(r.full_name))


async def registrants(
    session: AsyncSession, *, person_id: int, course_id: int, lang: str = "vi"
) -> tuple[Course, list[Registrant]]:
    """Who registered, waits or took part, names in Vietnamese order; the look is audited
    because the list shows phone numbers."""
    course = await managed(session, person_id=person_id, course_id=course_id)
    rows = await _registrants(session, course, lang)
    await _audit(session, person_id, "registrants_view", course, rows=len(rows))
    return course, rows


async def registrants_by_code(
    session: AsyncSession, *, code: str, actor: str, lang: str = "vi"
) -> tuple[Course, list[Registrant]]:
    """The same list for the operator's command line (no role: the console is trusted)."""
    course = await CourseRepo(session).by_code(code)
    if course is None:
        raise DomainError(Refusal.NOT_FOUND)
    rows = await _registrants(session, course, lang)
    await roles.audit(session, actor_person_id=None, actor=actor, action="registrants_export",
                      target=f"{course.code}: {course.title}", rows=len(rows))  # fmt: skip
    return course, rows


def write_registrants(
    path: Path,
    rows: Sequence[Registrant],
    *,
    headers: Sequence[str],
    status_labels: Mapping[str, str],
    sheet_title: str,
) -> None:
    """An XLSX of the registrants: No., name, unit, position, phone, status, waitlist place.

    XLSX stores text as UTF-8, so Excel shows Vietnamese as typed; phones stay text.
    """
    write_rows_xlsx(
        path,
        headers,
        (
            (n, r.full_name, r.unit, r.position, r.phone,
             status_labels.get(r.status.value, r.status.value), r.waitlist_no)
            for n, r in enumerate(rows, start=1)
        ),
        sheet_title,
    )  # fmt: skip


# -- importing a courses file from chat ---------------------------------------------------------


async def _forbidden_rows(session: AsyncSession, path: Path, scope: roles.Scope) -> list[int]:
    """Rows an organizer may not write: a course of another unit, or one that would be
    organized outside their scope (or by nobody)."""
    table = await asyncio.to_thread(read_table, path, COURSE_COLUMNS)
    units = await UnitRepo(session).index()
    codes = [v.get("code", "").strip() for _row, v in table.rows]
    existing: dict[str, int | None] = {}
    for part in chunks(codes):
        stmt = select(Course.code, Course.organizer_unit_id).where(Course.code.in_(part))
        existing.update((code, unit_id) for code, unit_id in await session.execute(stmt))
    bad = []
    for row, values in table.rows:
        code = values.get("code", "").strip()
        if code in existing and not scope.covers(existing[code]):
            bad.append(row)
            continue
        if "organizer" not in table.columns and code in existing:
            continue  # the column is absent: the stored organizer stays
        unit_id, _ambiguous = units.resolve(values.get("organizer", ""))
        if not values.get("organizer", "").strip() or (
            unit_id is not None and not scope.covers(unit_id)
        ):
            bad.append(row)
    return bad


async def import_file(
    session: AsyncSession,
    *,
    person_id: int,
    path: Path,
    dry_run: bool,
    now: datetime,
    policy: Policy,
) -> ImportOutcome:
    """The command line's all-or-nothing course import, for an organizer in chat: rows
    outside their scope are refused like bad rows. Raises SheetError for unreadable files."""
    scope = await roles.require(session, person_id=person_id, role=Role.ORGANIZER)
    forbidden = [] if scope.everywhere else await _forbidden_rows(session, path, scope)
    report = await import_courses(
        session, path=path, dry_run=dry_run or bool(forbidden), now=now, policy=policy
    )
    if not dry_run:
        await roles.audit(
            session,
            actor_person_id=person_id,
            actor=await _label(session, person_id),
            action="course_import",
            target=path.name,
            result="ok" if report.written else ("refused" if forbidden else "invalid"),
            created=report.created,
            updated=report.updated,
            notified=report.notified,
        )
    return ImportOutcome(report, forbidden)
