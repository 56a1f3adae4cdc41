"""The reminder planner's SQL: one INSERT … SELECT per rule over a range of people.

The domain (domain/planner.py) resolves each standard rule into plain values — which units,
positions, levels and field spellings count, which courses, what each row says and when it
falls due — and this module turns them into set-based statements. The unique dedupe key
does the rest: `ON CONFLICT DO NOTHING` keeps every row that exists as it is, and makes two
passes at once (two processes on PostgreSQL) add each row once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ColumnElement,
    Integer,
    String,
    and_,
    any_,
    cast,
    false,
    func,
    literal,
    not_,
    or_,
    select,
    text,
    true,
    union_all,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Select

from storage.models import (
    ChatAccount,
    Course,
    CourseStatus,
    DegreeStudy,
    Notification,
    NotificationState,
    Person,
    Position,
    Qualification,
    Registration,
    RegistrationStatus,
    Role,
    RoleGrant,
    Secondment,
    StandardRule,
    TrainingRecord,
    Unit,
    UTCDateTime,
)

IN_PROGRESS = (RegistrationStatus.REGISTERED, RegistrationStatus.ATTENDED)
COLUMNS = (
    "dedupe_key",
    "person_id",
    "kind",
    "course_id",
    "params",
    "due_at",
    "state",
    "urgent",
    "attempts",
    "created_at",
)


@dataclass(frozen=True)
class Who:
    """A scope resolved to values; None means anyone, an empty list no one."""

    unit_ids: Sequence[int] | None = None
    ranks: Sequence[str | None] | None = None
    types: Sequence[str | None] | None = None
    position_ids: Sequence[int] | None = None


@dataclass(frozen=True)
class Match:
    """Which of a person's qualifications (or degree studies) count; None: any."""

    kind: str | None
    levels: Sequence[str] | None = None
    fields: Sequence[str | None] | None = None


@dataclass(frozen=True)
class Owed:
    """One row to add for each person: its key is `prefix` + the person's id + `suffix`."""

    kind: str
    prefix: str
    suffix: str
    due_at: datetime
    params: Mapping[str, Any]
    course_id: int | None = None


@dataclass(frozen=True)
class Closing:
    """A course open for registration that would close the gap, in the order offered."""

    course_id: int
    who: Who
    row: Owed
    in_time: bool  # False: offered, but its reminder would come after registration closes


@dataclass(frozen=True)
class Hours:
    """A yearly-hours rule: done this year, and with ongoing courses ending this year."""

    target: int
    first_day: date
    last_day: date
    ongoing_course_ids: Sequence[int]


@dataclass(frozen=True)
class RulePlan:
    """What one rule owes, as values: who it applies to, what meets or is under way, rows."""

    today: date
    who: Who
    holds: Match | None  # None for a yearly-hours rule
    hours: Hours | None
    granting_ongoing: Sequence[int]  # registered for one of these: under way
    studies: Match | None  # a current degree study that counts: under way
    rows: Sequence[Owed]  # for everyone with the gap
    closing: Sequence[Closing] = field(default_factory=tuple)
    max_courses: int = 3


class PlanningRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.dialect = session.get_bind().dialect.name

    # -- reading what the rules are resolved against -------------------------------------------

    async def active_rules(self) -> list[StandardRule]:
        stmt = select(StandardRule).where(StandardRule.active.is_(True)).order_by(StandardRule.id)
        return list((await self.session.execute(stmt)).scalars())

    async def units(self) -> dict[int, tuple[str, int | None]]:
        """unit id → (code, parent id)."""
        rows = await self.session.execute(select(Unit.id, Unit.code, Unit.parent_id))
        return {uid: (code, parent) for uid, code, parent in rows}

    async def positions(self) -> dict[int, tuple[str, str]]:
        """position id → (code, group)."""
        rows = await self.session.execute(select(Position.id, Position.code, Position.group))
        return {pid: (code, group) for pid, code, group in rows}

    async def qualification_fields(self, kind: str) -> list[str | None]:
        stmt = select(Qualification.field).where(Qualification.kind == kind).distinct()
        return list((await self.session.execute(stmt)).scalars())

    async def study_fields(self, today: date) -> list[str | None]:
        stmt = select(DegreeStudy.field).where(*_current(today)).distinct()
        return list((await self.session.execute(stmt)).scalars())

    async def courses_ending_after(self, now: datetime) -> list[Course]:
        """Courses a registration makes "under way": not ended yet, whatever their status."""
        stmt = select(Course).where(Course.ends_at >= now).order_by(Course.id)
        return list((await self.session.execute(stmt)).scalars())

    async def open_courses(self, now: datetime) -> list[Course]:
        """Courses open for registration, in the order they are offered (CourseRepo.granting)."""
        stmt = (
            select(Course)
            .where(Course.status == CourseStatus.OPEN, Course.registration_deadline > now)
            .order_by(Course.starts_at, Course.id)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def current_secondments(self, today: date) -> list[Secondment]:
        stmt = (
            select(Secondment)
            .where(Secondment.ends_on.is_(None) | (Secondment.ends_on >= today))
            .order_by(Secondment.id)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def role_grants(self, roles: Sequence[Role]) -> list[tuple[int, Role, int]]:
        """(person, role, unit) of grants tied to a unit."""
        stmt = select(RoleGrant.person_id, RoleGrant.role, RoleGrant.unit_id).where(
            RoleGrant.role.in_(roles), RoleGrant.unit_id.is_not(None)
        )
        return [(p, r, u) for p, r, u in await self.session.execute(stmt) if u is not None]

    async def units_of(self, person_ids: Sequence[int]) -> dict[int, int]:
        if not person_ids:
            return {}
        stmt = select(Person.id, Person.unit_id).where(self._among(Person.id, person_ids))
        return {pid: uid for pid, uid in await self.session.execute(stmt)}

    async def linked_among(self, person_ids: Sequence[int]) -> set[int]:
        if not person_ids:
            return set()
        stmt = select(Person.id).where(_linked(), self._among(Person.id, person_ids))
        return set((await self.session.execute(stmt)).scalars())

    async def count_linked(self) -> int:
        stmt = select(func.count()).select_from(Person).where(_linked())
        return int((await self.session.execute(stmt)).scalar_one())

    async def person_id_range(self) -> tuple[int, int] | None:
        low, high = (
            await self.session.execute(select(func.min(Person.id), func.max(Person.id)))
        ).one()
        return None if low is None else (int(low), int(high))

    # -- writing --------------------------------------------------------------------------------

    async def add_for_rule(self, plan: RulePlan, *, low: int, high: int, now: datetime) -> int:
        """Add the rows `plan` owes to the linked people with ids in [low, high]."""
        if not plan.rows and not any(c.in_time for c in plan.closing):
            return 0
        people, hours = self._people(plan, low, high)
        gap = (
            select(
                Person.id,
                Person.unit_id,
                Person.position_id,
                Person.civil_service_rank,
                Person.person_type,
            )
            .select_from(people)
            .where(Person.id.between(low, high), _linked(), self._who(plan.who, Person))
            .where(*hours, *self._no_gap_closed(plan, now))
            .cte("gap", nesting=True)
            .prefix_with("MATERIALIZED")
        )
        parts: list[Select[Any]] = [
            select(*self._row(row, gap.c.id, now)).select_from(gap) for row in plan.rows
        ]
        if (closing := self._closing(plan, gap, now)) is not None:
            parts.append(closing)
        if not parts:
            return 0
        rows = union_all(*parts).subquery("owed")
        # In key order, the unique index is probed leaf after leaf rather than all over: on
        # a table of millions of rows that is most of a pass that finds everything there.
        query = (
            select(*(rows.c[name] for name in COLUMNS)).where(true()).order_by(rows.c.dedupe_key)
        )
        insert = (postgresql.insert if self.dialect == "postgresql" else sqlite.insert)(
            Notification
        )
        stmt = insert.from_select(list(COLUMNS), query).on_conflict_do_nothing(
            index_elements=["dedupe_key"]
        )
        if self.dialect == "postgresql":
            # Its cost estimate is that of a report, but the statement takes well under a
            # second: compiling it with JIT took seconds, longer than running it.
            await self.session.execute(text("SET LOCAL jit = off"))
            # Ranking the courses offered sorts a row per person and course: in memory.
            await self.session.execute(text("SET LOCAL work_mem = '64MB'"))
        result = await self.session.execute(stmt)
        return int(getattr(result, "rowcount", 0) or 0)

    async def add_rows(self, rows: Sequence[Mapping[str, Any]]) -> int:
        """Add the rows whose dedupe key is free; returns how many were added."""
        added = 0
        for start in range(0, len(rows), 500):
            insert = (postgresql.insert if self.dialect == "postgresql" else sqlite.insert)(
                Notification
            )
            stmt = insert.values(list(rows[start : start + 500])).on_conflict_do_nothing(
                index_elements=["dedupe_key"]
            )
            result = await self.session.execute(stmt)
            added += int(getattr(result, "rowcount", 0) or 0)
        return added

    # -- the pieces of a statement --------------------------------------------------------------

    def _among(self, col: Any, values: Sequence[Any]) -> ColumnElement[bool]:
        """`col` is one of `values` (None included); one parameter however long the list.

        PostgreSQL takes an array, SQLite a JSON list read by json_each: both avoid one bound
        parameter per value (a scope may name thousands of units or field spellings).
        """
        present = [v for v in values if v is not None]
        test: ColumnElement[bool] = false()
        if present:
            if self.dialect == "postgresql":
                item = String() if isinstance(present[0], str) else Integer()
                test = col == any_(
                    cast(literal(present, postgresql.ARRAY(item)), postgresql.ARRAY(item))
                )
            else:
                each = func.json_each(literal(json.dumps(present))).table_valued("value")
                test = col.in_(select(each.c.value))
        if None in values:
            test = or_(test, col.is_(None))
        return test

    def _who(self, who: Who, cols: Any) -> ColumnElement[bool]:
        tests: list[ColumnElement[bool]] = []
        if who.unit_ids is not None:
            tests.append(self._among(cols.unit_id, who.unit_ids))
        if who.ranks is not None:
            tests.append(self._among(cols.civil_service_rank, who.ranks))
        if who.types is not None:
            tests.append(self._among(cols.person_type, who.types))
        if who.position_ids is not None:
            tests.append(self._among(cols.position_id, who.position_ids))
        return and_(true(), *tests)

    def _matches(self, match: Match, level: Any, field_col: Any) -> list[ColumnElement[bool]]:
        tests: list[ColumnElement[bool]] = []
        if match.levels is not None:
            tests.append(self._among(level, match.levels))
        if match.fields is not None:
            tests.append(self._among(field_col, match.fields))
        return tests

    def _people(self, plan: RulePlan, low: int, high: int) -> tuple[Any, list[ColumnElement[bool]]]:
        """People, with this year's hours beside them for a yearly-hours rule: added up once
        per range (a join), not once per person (a subquery per row)."""
        h = plan.hours
        if h is None:
            return Person, []
        t = TrainingRecord
        done_q = (
            select(t.person_id, func.sum(t.hours).label("hours"))
            .where(
                t.person_id.between(low, high), t.ends_on >= h.first_day, t.ends_on <= h.last_day
            )
            .group_by(t.person_id)
            .subquery("done")
        )
        people: Any = Person.__table__.outerjoin(done_q, done_q.c.person_id == Person.id)
        done = func.coalesce(done_q.c.hours, 0)
        tests = [done < h.target]
        if h.ongoing_course_ids:
            r = Registration
            planned_q = (
                select(r.person_id, func.sum(Course.hours).label("hours"))
                .join(Course, Course.id == r.course_id)
                .where(
                    r.person_id.between(low, high),
                    r.status.in_(IN_PROGRESS),
                    self._among(r.course_id, h.ongoing_course_ids),
                )
                .group_by(r.person_id)
                .subquery("planned")
            )
            people = people.outerjoin(planned_q, planned_q.c.person_id == Person.id)
            tests.append(done + func.coalesce(planned_q.c.hours, 0) < h.target)
        return people, tests

    def _no_gap_closed(self, plan: RulePlan, now: datetime) -> list[ColumnElement[bool]]:
        """Not met and nothing under way: the person has the gap."""
        tests: list[ColumnElement[bool]] = []
        if plan.holds is not None:
            q = Qualification
            tests.append(
                not_(
                    select(q.id)
                    .where(
                        q.person_id == Person.id,
                        q.kind == plan.holds.kind,
                        *self._matches(plan.holds, q.level, q.field),
                    )
                    .exists()
                )
            )
        if plan.granting_ongoing:
            r = Registration
            tests.append(
                not_(
                    select(r.id)
                    .where(
                        r.person_id == Person.id,
                        r.status.in_(IN_PROGRESS),
                        self._among(r.course_id, plan.granting_ongoing),
                    )
                    .exists()
                )
            )
        if plan.studies is not None:
            st = DegreeStudy
            tests.append(
                not_(
                    select(st.id)
                    .where(
                        st.person_id == Person.id,
                        *_current(plan.today),
                        *self._matches(plan.studies, st.level, st.field),
                    )
                    .exists()
                )
            )
        return tests

    def _row(self, row: Owed, person_id: Any, now: datetime) -> list[Any]:
        key = literal(row.prefix) + cast(person_id, String) + literal(row.suffix)
        return [
            key.label("dedupe_key"),
            person_id.label("person_id"),
            literal(row.kind).label("kind"),
            cast(literal(row.course_id), Integer).label("course_id"),
            literal(dict(row.params), JSON()).label("params"),
            literal(row.due_at, UTCDateTime()).label("due_at"),
            literal(NotificationState.PENDING.value).label("state"),
            literal(False, Boolean()).label("urgent"),
            literal(0).label("attempts"),
            literal(now, UTCDateTime()).label("created_at"),
        ]

    def _closing(self, plan: RulePlan, gap: Any, now: datetime) -> Select[Any] | None:
        """The first `max_courses` offered courses each person is in the audience of and not
        already registered for; rows only for those whose reminder comes in time."""
        if not any(c.in_time for c in plan.closing):
            return None
        offers = []
        for position, course in enumerate(plan.closing):
            r = Registration
            taken = (
                select(r.id)
                .where(
                    r.person_id == gap.c.id,
                    r.course_id == course.course_id,
                    r.status.in_(IN_PROGRESS),
                )
                .exists()
            )
            # A course too late for a reminder still takes its place among the first ones.
            offers.append(
                select(
                    *self._row(course.row, gap.c.id, now),
                    literal(course.in_time, Boolean()).label("in_time"),
                    literal(position).label("offered"),
                )
                .select_from(gap)
                .where(self._who(course.who, gap.c), not_(taken))
            )
        offered = union_all(*offers).subquery("offered")
        rank = func.row_number().over(partition_by=offered.c.person_id, order_by=offered.c.offered)
        ranked = select(
            *(offered.c[n] for n in COLUMNS), offered.c.in_time, rank.label("nth")
        ).subquery("ranked")
        return select(*(ranked.c[n] for n in COLUMNS)).where(
            ranked.c.nth <= plan.max_courses, ranked.c.in_time.is_(True)
        )


def _linked() -> ColumnElement[bool]:
    """An active person with an active chat account: the only ones a reminder can reach."""
    # Not correlated: chat_accounts has no index led by person_id, and both databases turn
    # an uncorrelated IN into one lookup table (SQLite) or a hashed semi-join (PostgreSQL).
    accounts = select(ChatAccount.person_id).where(ChatAccount.active.is_(True))
    return and_(Person.active.is_(True), Person.id.in_(accounts))


def _current(today: date) -> list[ColumnElement[bool]]:
    return [DegreeStudy.starts_on <= today, DegreeStudy.expected_end >= today]
