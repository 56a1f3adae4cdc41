"""Reports for an organizer's scope and a year: headcount, qualifications, standards, training
and secondments, each counted by the database.

Everything is aggregated in SQL, in a handful of queries, so a province of a million people
costs a few scans rather than a million objects. Per person, one grouped pass over
`qualifications` yields the highest education and political-theory rank held, whether an
IT/language/... certificate is held, and a flag per standard ("holds a qualification at least
level X in one of these fields"); every table below counts over that.

"At least level X" is the ordered vocabulary of domain.vocab turned into an IN list of the
acceptable codes (so `cu_nhan` counts as `cao_cap`, exactly as `meets()` says). A standard's
field keywords are matched the way domain.standards does it, by folding each distinct field
text once in Python and listing the matching texts, so the SQL and the per-person check agree.

Headcount and qualifications are the roster as it is now (there is no history of it); the year
selects courses, training records, secondments and the plan figure.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    distinct,
    false,
    func,
    or_,
    select,
    true,
)
from sqlalchemy.ext.asyncio import AsyncSession

from domain import roles
from domain.errors import DomainError, Refusal
from domain.import_rows import POSITION_GROUP
from domain.numbers import percent
from domain.secondments import PostingsAt
from domain.secondments import by_unit as postings_by_unit
from domain.text import fold
from domain.tiers import Tiers
from domain.tiers import breakdown as tier_breakdown
from domain.vocab import (
    COURSE_CATEGORY,
    EDUCATION,
    POLITICAL_THEORY,
    STATE_MANAGEMENT,
    Vocab,
    VocabError,
    level_vocab,
    meets,
)
from storage.models import (
    Course,
    CourseStatus,
    Person,
    Position,
    Qualification,
    Registration,
    RegistrationStatus,
    Role,
    Secondment,
    StandardRule,
    TrainingPlan,
    TrainingRecord,
    Unit,
)
from storage.repos.roster import UnitRepo

log = logging.getLogger(__name__)

REFRESHER = "refresher_hours"
# Registrations that count as taking part in a course (not waitlisted, cancelled, declined...).
ENROLLED = (
    RegistrationStatus.REGISTERED,
    RegistrationStatus.ATTENDED,
    RegistrationStatus.COMPLETED,
    RegistrationStatus.NO_SHOW,
)
HELD = (CourseStatus.OPEN, CourseStatus.CLOSED, CourseStatus.FINISHED)
# Certificates counted per position besides the two level breakdowns.
HOLDING_KINDS = ("state_management", "it", "foreign_language", "digital_skills")
# The thresholds the seed figures use: university or higher; intermediate theory or higher.
EDUCATION_THRESHOLD = "dai_hoc"
POLITICAL_THRESHOLD = "trung_cap"
SECONDMENT_KINDS = ("secondment", "rotation")
# Kinds whose levels are ordered: the per-person facts column of each, and its vocabulary.
RANKED: dict[str, tuple[str, Vocab]] = {
    "education": ("edu", EDUCATION),
    "political_theory": ("pt", POLITICAL_THEORY),
    "state_management": ("sm", STATE_MANAGEMENT),
}


def group_label(group: str | None, lang: str = "vi") -> str:
    """A position group's name; a group outside the vocabulary shows its code."""
    if not group:
        return "Chưa có chức danh" if lang == "vi" else "No position"
    return POSITION_GROUP.label(group, lang) if group in POSITION_GROUP else group


# -- results ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Level:
    """A column of a level breakdown: one rank; codes of equal rank share it."""

    rank: int
    codes: tuple[str, ...]


@dataclass(frozen=True)
class Breakdown:
    """A position (or, with `position` None, a whole group) by the highest level held."""

    group: str | None
    position: str | None  # None for a group's row; "" for people without a position
    name_vi: str
    name_en: str
    total: int
    counts: tuple[int, ...]  # per Level of the table, highest first
    none: int  # holds no level of this kind
    at_least: int  # at or above the table's threshold

    @property
    def below(self) -> int:
        return self.total - self.at_least - self.none

    @property
    def share(self) -> Decimal | None:
        return percent(self.at_least, self.total)


@dataclass(frozen=True)
class LevelTable:
    kind: str
    threshold: str
    levels: tuple[Level, ...]
    positions: tuple[Breakdown, ...]
    groups: tuple[Breakdown, ...]
    total: Breakdown

    def position(self, code: str) -> Breakdown:
        return next(b for b in self.positions if b.position == code)

    def group(self, code: str | None) -> Breakdown:
        return next(b for b in self.groups if b.group == code)


@dataclass(frozen=True)
class Holding:
    """How many people of a position (or group) hold each of HOLDING_KINDS."""

    group: str | None
    position: str | None
    name_vi: str
    name_en: str
    total: int
    counts: tuple[int, ...]  # per HOLDING_KINDS


@dataclass(frozen=True)
class Headcount:
    unit_code: str
    unit_name: str
    position: str | None
    name_vi: str
    name_en: str
    count: int


@dataclass(frozen=True)
class StandardRow:
    """A standard: who it applies to, who meets it, and where the others stand."""

    code: str
    title_vi: str
    title_en: str
    deadline: date | None  # the grace date, or 31/12 of the year for yearly hours
    applicable: int
    met: int
    within: int  # not met, deadline not passed
    past: int  # not met, deadline passed
    open: int  # not met, no deadline

    @property
    def share(self) -> Decimal | None:
        return percent(self.met, self.applicable)


@dataclass(frozen=True)
class CategoryRow:
    category: str
    courses: int
    enrolled: int
    attended: int
    completed: int
    no_show: int
    hours: int  # course hours × completions

    @property
    def completion_rate(self) -> Decimal | None:
        return percent(self.completed, self.enrolled)

    @property
    def no_show_rate(self) -> Decimal | None:
        return percent(self.no_show, self.enrolled)


@dataclass(frozen=True)
class PlanRow:
    """A training category's plan for the year against participations done."""

    category: str
    planned: int
    done: int
    courses_planned: int | None

    @property
    def share(self) -> Decimal | None:
        return percent(self.done, self.planned)


@dataclass(frozen=True)
class Training:
    """Courses of the year with people of the scope enrolled, and training completed."""

    categories: tuple[CategoryRow, ...]
    total: CategoryRow
    participations: int  # training records ending in the year (ours and from elsewhere)
    people_trained: int
    hours: int
    plan: int | None
    plans: tuple[PlanRow, ...] = ()  # per category, where the plan has categories

    @property
    def plan_share(self) -> Decimal | None:
        return percent(self.participations, self.plan) if self.plan else None


@dataclass(frozen=True)
class SecondmentRow:
    kind: str
    active: int  # under way at some point of the year
    started: int
    ended: int


@dataclass(frozen=True)
class Report:
    year: int
    as_of: date
    scope: tuple[str, ...]  # names of the root units; empty: everywhere
    people: int
    headcount: tuple[Headcount, ...]
    education: LevelTable
    political: LevelTable
    # Positions, then groups, then the total (position None, group "").
    holdings: tuple[Holding, ...]
    standards: tuple[StandardRow, ...]
    training: Training
    secondments: tuple[SecondmentRow, ...]
    tiers: Tiers | None = None  # by government tier and by person type
    postings: tuple[PostingsAt, ...] = ()  # under way on `as_of`, by host and home unit


# -- services -----------------------------------------------------------------------------------


async def for_organizer(
    session: AsyncSession,
    *,
    person_id: int | None,
    year: int,
    as_of: date,
    tz: ZoneInfo,
    hours_target: int,
) -> Report:
    """The report for the organizer's scope (everywhere for an administrator), audited."""
    found = await roles.require(session, person_id=person_id, role=Role.ORGANIZER)
    roots = None
    if not found.everywhere and person_id is not None:
        grants = await roles.grants_of(session, person_id)
        roots = sorted(
            {g.unit_id for g in grants if g.unit_id is not None and Role.ORGANIZER in
             roles.IMPLIES[g.role]}
        )  # fmt: skip
    report = await build(
        session, roots=roots, year=year, as_of=as_of, tz=tz, hours_target=hours_target
    )
    await roles.audit(
        session,
        actor_person_id=person_id,
        actor=await roles.actor_label(session, person_id),
        action="report",
        target=f"{year}: " + (", ".join(report.scope) or "*"),
    )
    return report


async def for_unit(
    session: AsyncSession,
    *,
    unit_code: str | None,
    actor: str,
    year: int,
    as_of: date,
    tz: ZoneInfo,
    hours_target: int,
) -> Report:
    """The report for a unit's subtree (everything when `unit_code` is None), audited;
    DomainError(NOT_FOUND) for an unknown code."""
    roots = None
    if unit_code:
        # A merged unit's code reports on its successor, where its people now are.
        unit_id, _ambiguous = (await UnitRepo(session).index()).resolve(unit_code)
        if unit_id is None:
            raise DomainError(Refusal.NOT_FOUND, what="unit")
        roots = [unit_id]
    report = await build(
        session, roots=roots, year=year, as_of=as_of, tz=tz, hours_target=hours_target
    )
    await roles.audit(
        session, actor_person_id=None, actor=actor, action="report",
        target=f"{year}: " + (unit_code or "*"),
    )  # fmt: skip
    return report


async def build(
    session: AsyncSession,
    *,
    roots: Sequence[int] | None,
    year: int,
    as_of: date,
    tz: ZoneInfo,
    hours_target: int,
) -> Report:
    """Aggregate everything for the units below `roots` (None: everywhere) and `year`."""
    q = _Queries(roots, year, tz)
    scope_names: tuple[str, ...] = ()
    if roots is not None:
        names = await session.execute(select(Unit.name).where(Unit.id.in_(roots)).order_by(Unit.id))
        scope_names = tuple(names.scalars())
    rules = list(
        (
            await session.execute(
                select(StandardRule).where(StandardRule.active.is_(True)).order_by(StandardRule.id)
            )
        ).scalars()
    )
    headcount = await _headcount(session, q)
    people_rows, rule_totals = await _people(session, q, rules, as_of, hours_target)
    education = _level_table(EDUCATION, EDUCATION_THRESHOLD, "edu", people_rows)
    political = _level_table(POLITICAL_THEORY, POLITICAL_THRESHOLD, "pt", people_rows)
    return Report(
        year=year,
        as_of=as_of,
        scope=scope_names,
        people=education.total.total,
        headcount=headcount,
        education=education,
        political=political,
        holdings=_holdings(people_rows),
        standards=rule_totals,
        training=await _training(session, q, roots),
        secondments=await _secondments(session, q),
        tiers=await tier_breakdown(session, people_filter=q.people()),
        postings=await postings_by_unit(session, touches=_touches(q), on=as_of),
    )


# -- queries ------------------------------------------------------------------------------------


class _Queries:
    """The scope and the period as SQL pieces shared by every query of one report."""

    def __init__(self, roots: Sequence[int] | None, year: int, tz: ZoneInfo) -> None:
        self.everywhere = roots is None
        self.roots = list(roots or [])
        self.first = date(year, 1, 1)
        self.last = date(year, 12, 31)
        # Courses belong to the year by their local start: 31/12 23:30 in Hà Nội is that year.
        self.starts = datetime.combine(self.first, time(), tz).astimezone(UTC)
        self.ends = datetime.combine(date(year + 1, 1, 1), time(), tz).astimezone(UTC)

        # The scope's units: the roots and everything below them, one recursive CTE that
        # every query of the report refers to (one object, so it is emitted once per query).
        tree = select(Unit.id).where(Unit.id.in_(self.roots)).cte("scope_units", recursive=True)
        self._tree = tree.union(select(Unit.id).where(Unit.parent_id == tree.c.id))

    def units(self) -> Select[tuple[int]]:
        return select(self._tree.c.id)

    def people(self) -> ColumnElement[bool]:
        """Active people of the scope (a condition on Person)."""
        if self.everywhere:
            return Person.active.is_(True)
        return and_(Person.active.is_(True), Person.unit_id.in_(self.units()))

    def unit_in_scope(self, column: Any) -> ColumnElement[bool]:
        return true() if self.everywhere else column.in_(self.units())


async def _headcount(session: AsyncSession, q: _Queries) -> tuple[Headcount, ...]:
    stmt = (
        select(
            Unit.code, Unit.name, Position.code, Position.name_vi, Position.name_en,
            func.count(Person.id),
        )
        .select_from(Person)
        .join(Unit, Unit.id == Person.unit_id)
        .outerjoin(Position, Position.id == Person.position_id)
        .where(q.people())
        .group_by(Unit.id, Unit.code, Unit.name, Position.id, Position.code, Position.name_vi,
                  Position.name_en)
        .order_by(Unit.code, Position.id.nulls_last())
    )  # fmt: skip
    return tuple(
        Headcount(u_code, u_name, p_code, p_vi or "", p_en or "", int(n))
        for u_code, u_name, p_code, p_vi, p_en, n in await session.execute(stmt)
    )


def _rank(vocab: Vocab) -> ColumnElement[Any]:
    return case({t.code: t.rank for t in vocab}, value=Qualification.level, else_=None)


def _levels(vocab: Vocab) -> tuple[Level, ...]:
    ranks = sorted({t.rank for t in vocab}, reverse=True)
    return tuple(Level(r, tuple(t.code for t in vocab if t.rank == r)) for r in ranks)


async def _field_matches(
    session: AsyncSession, rules: Iterable[StandardRule]
) -> dict[int, list[str]]:
    """Per rule with field keywords: the stored field texts that contain one, once folded."""
    wanted = [r for r in rules if r.requires_fields and r.requires_kind != REFRESHER]
    if not wanted:
        return {}
    kinds = sorted({r.requires_kind for r in wanted})
    rows = await session.execute(
        select(Qualification.kind, Qualification.field)
        .where(Qualification.kind.in_(kinds))
        .group_by(Qualification.kind, Qualification.field)
    )
    fields: dict[str, list[tuple[str, str]]] = {}
    for kind, raw in rows:
        fields.setdefault(kind, []).append((raw or "", fold(raw or "")))
    return {
        r.id: [
            raw
            for raw, folded in fields.get(r.requires_kind, [])
            if any(str(k) in folded for k in r.requires_fields)
        ]
        for r in wanted
    }


def _holds(rule: StandardRule, matching: dict[int, list[str]]) -> ColumnElement[bool]:
    """SQL for "this qualification row satisfies the rule" (domain.standards.holds)."""
    cond = [Qualification.kind == rule.requires_kind]
    vocab = level_vocab(rule.requires_kind)
    if rule.requires_level and vocab is not None:
        try:
            ok = [t.code for t in vocab if meets(vocab, t.code, rule.requires_level)]
        except VocabError:
            log.warning("standard %s needs unknown level %r", rule.code, rule.requires_level)
            ok = []
        cond.append(Qualification.level.in_(ok) if ok else false())
    if rule.requires_fields:
        texts = matching.get(rule.id, [])
        cond.append(Qualification.field.in_(texts) if texts else false())
    return and_(*cond)


def _met(rule: StandardRule, facts: Any) -> ColumnElement[bool]:
    """SQL for "the person's facts satisfy the (qualification) rule"."""
    if rule.requires_fields:
        return facts.c[f"r{rule.id}"] == 1
    if rule.requires_kind in RANKED and rule.requires_level:
        prefix, vocab = RANKED[rule.requires_kind]
        if rule.requires_level not in vocab:
            log.warning("standard %s needs unknown level %r", rule.code, rule.requires_level)
            return false()
        # meets(): a rank at or above the required one (unknown stored levels have none).
        return facts.c[prefix] >= vocab.term(rule.requires_level).rank
    return facts.c[f"has_{rule.requires_kind}"] == 1


def _applies(
    rule: StandardRule, group: Any, position: Any, unit_ids: dict[int, frozenset[int]]
) -> ColumnElement[bool]:
    """SQL for "the rule applies to this person" (domain.audience.matches)."""
    scope = rule.applies_to or {}
    cond: list[ColumnElement[bool]] = [true()]
    if scope.get("units"):
        ids = unit_ids.get(rule.id, frozenset())
        cond.append(Person.unit_id.in_(sorted(ids)) if ids else false())
    groups, positions = list(scope.get("groups") or []), list(scope.get("positions") or [])
    if groups or positions:
        cond.append(or_(group.in_(groups), position.in_(positions)))
    if ranks := list(scope.get("ranks") or []):
        cond.append(Person.civil_service_rank.in_(ranks))
    if types := list(scope.get("types") or []):
        cond.append(Person.person_type.in_(types))
    return and_(*cond)


async def _people(
    session: AsyncSession,
    q: _Queries,
    rules: list[StandardRule],
    as_of: date,
    hours_target: int,
) -> tuple[list[dict[str, Any]], tuple[StandardRow, ...]]:
    """One row per position with every count the qualification tables and standards need."""
    matching = await _field_matches(session, rules)
    unit_ids: dict[int, frozenset[int]] = {}
    for rule in rules:
        codes = (rule.applies_to or {}).get("units") or []
        if codes:
            roots = (await session.execute(select(Unit.id).where(Unit.code.in_(codes)))).scalars()
            unit_ids[rule.id] = await roles.subtree(session, roots)
    # Per person, in one pass over their qualifications: the highest rank of each ranked kind,
    # whether any row of a kind is held, and, for standards that also name fields, whether a
    # row satisfies the standard. Level-only standards then compare ranks outside the pass,
    # which keeps the per-row work (the cost at a million people) to a few CASEs.
    has_kinds = list(HOLDING_KINDS)
    field_rules = [r for r in rules if r.requires_fields and r.requires_kind != REFRESHER]
    for rule in rules:
        if rule.requires_kind not in (*RANKED, *has_kinds, REFRESHER):
            has_kinds.append(rule.requires_kind)
        if rule.requires_kind in RANKED and not rule.requires_level:
            has_kinds.append(rule.requires_kind)
    facts_cols: list[Any] = [Qualification.person_id.label("person_id")]
    facts_cols += [
        func.max(case((Qualification.kind == kind, _rank(vocab)))).label(prefix)
        for kind, (prefix, vocab) in RANKED.items()
    ]
    facts_cols += [
        func.max(case((Qualification.kind == k, 1), else_=0)).label(f"has_{k}")
        for k in dict.fromkeys(has_kinds)
    ]
    facts_cols += [
        func.max(case((_holds(r, matching), 1), else_=0)).label(f"r{r.id}") for r in field_rules
    ]
    facts_q = select(*facts_cols).group_by(Qualification.person_id)
    if not q.everywhere:
        facts_q = facts_q.join(Person, Person.id == Qualification.person_id).where(q.people())
    facts = facts_q.subquery("facts")

    hours = None
    if any(r.requires_kind == REFRESHER for r in rules):
        hours_q = (
            select(TrainingRecord.person_id, func.sum(TrainingRecord.hours).label("h"))
            .where(TrainingRecord.ends_on >= q.first, TrainingRecord.ends_on <= q.last)
            .group_by(TrainingRecord.person_id)
        )
        if not q.everywhere:
            hours_q = hours_q.join(Person, Person.id == TrainingRecord.person_id).where(q.people())
        hours = hours_q.subquery("hours")

    def total(cond: ColumnElement[bool]) -> Any:
        return func.sum(case((cond, 1), else_=0))

    cols: dict[str, Any] = {"n": func.count(Person.id)}
    for prefix, vocab, threshold in (
        ("edu", EDUCATION, EDUCATION_THRESHOLD),
        ("pt", POLITICAL_THEORY, POLITICAL_THRESHOLD),
    ):
        column = facts.c[prefix]
        for level in _levels(vocab):
            cols[f"{prefix}_{level.rank}"] = total(column == level.rank)
        cols[f"{prefix}_none"] = total(column.is_(None))
        cols[f"{prefix}_ok"] = total(column >= vocab.term(threshold).rank)
    for k in HOLDING_KINDS:
        cols[f"has_{k}"] = total(facts.c[f"has_{k}"] == 1)
    group, code = Position.group, Position.code
    for rule in rules:
        applies = _applies(rule, group, code, unit_ids)
        if rule.requires_kind == REFRESHER:
            assert hours is not None
            target = rule.requires_hours if rule.requires_hours is not None else hours_target
            met: ColumnElement[bool] = func.coalesce(hours.c.h, 0) >= target
        else:
            met = _met(rule, facts)
        cols[f"a{rule.id}"] = total(applies)
        cols[f"m{rule.id}"] = total(and_(applies, met))

    stmt = (
        select(Position.group, Position.code, Position.name_vi, Position.name_en,
               *(c.label(k) for k, c in cols.items()))
        .select_from(Person)
        .outerjoin(Position, Position.id == Person.position_id)
        .outerjoin(facts, facts.c.person_id == Person.id)
        .where(q.people())
        .group_by(Position.id, Position.group, Position.code, Position.name_vi, Position.name_en)
        .order_by(Position.id)
    )  # fmt: skip
    if hours is not None:
        stmt = stmt.outerjoin(hours, hours.c.person_id == Person.id)
    rows = [dict(r._mapping) for r in await session.execute(stmt)]
    for row in rows:
        for key in cols:
            row[key] = int(row[key] or 0)
    order = {c: i for i, c in enumerate(POSITION_GROUP.codes)}
    rows.sort(
        key=lambda r: (r["group"] is None, order.get(r["group"], len(order)), r["group"] or "")
    )

    standards = []
    for rule in rules:
        applicable = sum(r[f"a{rule.id}"] for r in rows)
        met_n = sum(r[f"m{rule.id}"] for r in rows)
        deadline = q.last if rule.requires_kind == REFRESHER else rule.grace_until
        missing = applicable - met_n
        within = missing if deadline is not None and deadline >= as_of else 0
        past = missing if deadline is not None and deadline < as_of else 0
        standards.append(
            StandardRow(
                rule.code, rule.title_vi, rule.title_en, deadline, applicable, met_n,
                within, past, missing - within - past,
            )
        )  # fmt: skip
    return rows, tuple(standards)


def _grouped(rows: list[dict[str, Any]]) -> list[tuple[str | None, list[dict[str, Any]]]]:
    groups: dict[str | None, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(row["group"], []).append(row)
    return list(groups.items())


def _summed(rows: list[dict[str, Any]], keys: Iterable[str]) -> dict[str, int]:
    return {k: sum(int(r[k]) for r in rows) for k in keys}


def _level_table(
    vocab: Vocab, threshold: str, prefix: str, rows: list[dict[str, Any]]
) -> LevelTable:
    levels = _levels(vocab)
    keys = ["n", f"{prefix}_none", f"{prefix}_ok", *(f"{prefix}_{lv.rank}" for lv in levels)]

    def make(group: str | None, code: str | None, vi: str, en: str, v: dict[str, Any]) -> Breakdown:
        return Breakdown(
            group, code, vi, en, int(v["n"]),
            tuple(int(v[f"{prefix}_{lv.rank}"]) for lv in levels),
            int(v[f"{prefix}_none"]), int(v[f"{prefix}_ok"]),
        )  # fmt: skip

    positions = tuple(
        make(r["group"], r["code"] or "", r["name_vi"] or group_label(None), r["name_en"] or
             group_label(None, "en"), r)
        for r in rows
    )  # fmt: skip
    groups = tuple(
        make(g, None, group_label(g), group_label(g, "en"), _summed(members, keys))
        for g, members in _grouped(rows)
    )
    total = make("", None, "Tổng cộng", "Total", _summed(rows, keys))
    return LevelTable(vocab.name, threshold, levels, positions, groups, total)


def _holdings(rows: list[dict[str, Any]]) -> tuple[Holding, ...]:
    keys = ["n", *(f"has_{k}" for k in HOLDING_KINDS)]

    def make(group: str | None, code: str | None, vi: str, en: str, v: dict[str, Any]) -> Holding:
        return Holding(group, code, vi, en, int(v["n"]),
                       tuple(int(v[f"has_{k}"]) for k in HOLDING_KINDS))  # fmt: skip

    out = [
        make(r["group"], r["code"] or "", r["name_vi"] or group_label(None),
             r["name_en"] or group_label(None, "en"), r)
        for r in rows
    ]  # fmt: skip
    out += [
        make(g, None, group_label(g), group_label(g, "en"), _summed(members, keys))
        for g, members in _grouped(rows)
    ]
    out.append(make("", None, "Tổng cộng", "Total", _summed(rows, keys)))
    return tuple(out)


async def _training(session: AsyncSession, q: _Queries, roots: Sequence[int] | None) -> Training:
    def count(status: RegistrationStatus) -> Any:
        return func.sum(case((Registration.status == status, 1), else_=0))

    stmt = (
        select(
            Course.category,
            func.count(distinct(Course.id)),
            func.count(Registration.id),
            count(RegistrationStatus.ATTENDED),
            count(RegistrationStatus.COMPLETED),
            count(RegistrationStatus.NO_SHOW),
            func.sum(case((Registration.status == RegistrationStatus.COMPLETED, Course.hours),
                          else_=0)),
        )
        .select_from(Registration)
        .join(Course, Course.id == Registration.course_id)
        .join(Person, Person.id == Registration.person_id)
        .where(
            q.people(),
            Registration.status.in_(ENROLLED),
            Course.status.in_(HELD),
            Course.starts_at >= q.starts,
            Course.starts_at < q.ends,
        )
        .group_by(Course.category)
        .order_by(Course.category)
    )  # fmt: skip
    categories = tuple(
        CategoryRow(cat, *(int(v or 0) for v in values))
        for cat, *values in await session.execute(stmt)
    )
    total = CategoryRow(
        "",
        *(sum(getattr(c, f) for c in categories)
          for f in ("courses", "enrolled", "attended", "completed", "no_show", "hours")),
    )  # fmt: skip
    records = (
        select(
            func.count(TrainingRecord.id),
            func.count(distinct(TrainingRecord.person_id)),
            func.coalesce(func.sum(TrainingRecord.hours), 0),
        )
        .join(Person, Person.id == TrainingRecord.person_id)
        .where(q.people(), TrainingRecord.ends_on >= q.first, TrainingRecord.ends_on <= q.last)
    )
    participations, people_trained, hours = (await session.execute(records)).one()
    plan, plans = await _plans(session, q, roots)
    return Training(
        categories, total, int(participations), int(people_trained), int(hours), plan, plans
    )


async def _plans(
    session: AsyncSession, q: _Queries, roots: Sequence[int] | None
) -> tuple[int | None, tuple[PlanRow, ...]]:
    """The year's plan in total (a unit's total figure, or else the sum of its categories)
    and per category, against training records ending in the year by their category."""
    stmt = select(TrainingPlan.unit_id, TrainingPlan.category, TrainingPlan.participants,
                  TrainingPlan.courses).where(
        TrainingPlan.year == q.first.year,
        TrainingPlan.unit_id.is_(None) if roots is None else TrainingPlan.unit_id.in_(roots),
    )  # fmt: skip
    totals: dict[int | None, int] = {}
    by_unit: dict[int | None, int] = {}
    planned: dict[str, list[int]] = {}
    for unit_id, category, participants, courses in await session.execute(stmt):
        if category is None:
            totals[unit_id] = totals.get(unit_id, 0) + participants
            continue
        by_unit[unit_id] = by_unit.get(unit_id, 0) + participants
        row = planned.setdefault(category, [0, 0, 0])
        row[0] += participants
        row[1] += courses or 0
        row[2] += courses is not None
    units = set(totals) | set(by_unit)
    plan = sum(totals.get(u, by_unit.get(u, 0)) for u in units) if units else None
    if not planned:
        return plan, ()
    record_category = func.coalesce(TrainingRecord.category, Course.category)
    done_q = (
        select(record_category, func.count(TrainingRecord.id))
        .select_from(TrainingRecord)
        .join(Person, Person.id == TrainingRecord.person_id)
        .outerjoin(Course, Course.id == TrainingRecord.course_id)
        .where(q.people(), TrainingRecord.ends_on >= q.first, TrainingRecord.ends_on <= q.last)
        .group_by(record_category)
    )
    done = {c: int(n) for c, n in await session.execute(done_q)}
    rows = tuple(
        PlanRow(c, v[0], done.get(c, 0), v[1] if v[2] else None)
        for c, v in sorted(planned.items(), key=lambda kv: _category_order(kv[0]))
    )
    return plan, rows


def _category_order(code: str) -> tuple[int, str]:
    codes = [t.code for t in COURSE_CATEGORY]
    return (codes.index(code), code) if code in codes else (len(codes), code)


def _touches(q: _Queries) -> ColumnElement[bool]:
    """A secondment touches the scope: the person is of it, or goes to or comes from it."""
    if q.everywhere:
        return true()
    return or_(
        q.unit_in_scope(Person.unit_id),
        q.unit_in_scope(Secondment.to_unit_id),
        q.unit_in_scope(Secondment.from_unit_id),
    )


async def _secondments(session: AsyncSession, q: _Queries) -> tuple[SecondmentRow, ...]:
    """Secondments and rotations under way in the year that touch the scope: the person is
    of the scope, or they go to or come from one of its units."""

    def when(cond: ColumnElement[bool]) -> Any:
        return func.sum(case((cond, 1), else_=0))

    touches = _touches(q)
    stmt = (
        select(
            Secondment.kind,
            func.count(Secondment.id),
            when(Secondment.starts_on >= q.first),
            when(and_(Secondment.ends_on.is_not(None), Secondment.ends_on <= q.last)),
        )
        .join(Person, Person.id == Secondment.person_id)
        .where(
            touches,
            Secondment.starts_on <= q.last,
            or_(Secondment.ends_on.is_(None), Secondment.ends_on >= q.first),
        )
        .group_by(Secondment.kind)
    )
    found = {
        kind: (int(a), int(s or 0), int(e or 0)) for kind, a, s, e in await session.execute(stmt)
    }
    kinds = [*SECONDMENT_KINDS, *sorted(k for k in found if k not in SECONDMENT_KINDS)]
    return tuple(SecondmentRow(k, *found.get(k, (0, 0, 0))) for k in kinds)
