"""The periodic planner: the standards, hours and review reminders every linked person is owed.

Set-based: each standard rule is resolved once into plain values (which units, positions,
levels and field spellings count; which courses are under way or offered; what each row
says and when it falls due) and storage adds every person's rows with one statement per rule
over a range of people. Review meetings concern a few thousand secondments: they are worked
out here, in memory, and added in batches. Nothing is updated or removed: a row whose key
exists stays as it is, and `prepare` checks every row against current data when it is due.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from domain.reminders import (
    HOURS_BEHIND,
    REGISTRATION_DEADLINE,
    REVIEW_MEETING,
    STANDARD_DEADLINE,
    Policy,
    add_months,
    at_local,
    next_review,
    out_of_quiet_hours,
)
from domain.standards import REFRESHER, grants
from domain.text import fold
from domain.vocab import EDUCATION, level_vocab, meets
from storage.models import Course, NotificationState, Role, Secondment
from storage.repos.planning import Closing, Hours, Match, Owed, PlanningRepo, RulePlan, Who

# Who is told of a review meeting besides the person: the host unit's head and the home
# unit's organizer (the nearest grant up the tree, so a province-wide organizer counts).
HOST_HEAD, HOME_ORGANIZER = "host_head", "home_organizer"
UNIT_DEPTH = 12  # the deepest unit chain a scope looks at (PeopleRepo.unit_chain)
MAX_COURSES = 3  # courses offered per gap (status_of's default)
OVERSEEN_AHEAD = timedelta(days=31 * 6)  # role holders hear of secondments starting this soon


@dataclass(frozen=True)
class Plan:
    """A pass worked out: the rules as values, the review rows, the people to go over."""

    rules: list[RulePlan]
    reviews: list[dict[str, Any]]
    people: tuple[int, int] | None  # the range of person ids
    linked: int
    now: datetime
    dialect: str  # the range a transaction covers depends on it

    def chunks(self, size: int) -> list[tuple[int, int]]:
        if self.people is None:
            return []
        low, high = self.people
        return [(start, min(start + size - 1, high)) for start in range(low, high + 1, size)]


async def work_out(
    session: AsyncSession, *, now: datetime, policy: Policy, hours_target: int
) -> Plan:
    """Resolve the rules and the review meetings; only reads."""
    repo = PlanningRepo(session)
    today = now.astimezone(policy.tz).date()
    units = await repo.units()
    chains = {uid: _chain(units, uid) for uid in units}
    positions = await repo.positions()
    ending_after = await repo.courses_ending_after(now)
    offered = await repo.open_courses(now)
    rules = []
    for rule in await repo.active_rules():
        who = _who(rule.applies_to, chains, positions)
        refresher = rule.requires_kind == REFRESHER
        holds = hours = studies = None
        granting: list[int] = []
        if refresher:
            target = rule.requires_hours if rule.requires_hours is not None else hours_target
            this_year = [c.id for c in ending_after if c.ends_at.year == today.year]
            hours = Hours(target, date(today.year, 1, 1), date(today.year, 12, 31), this_year)
        else:
            fields = await repo.qualification_fields(rule.requires_kind)
            vocab = level_vocab(rule.requires_kind)
            levels = _levels(vocab, rule.requires_level) if vocab is not None else None
            holds = Match(rule.requires_kind, levels, _fields(rule.requires_fields, fields))
            granting = [c.id for c in ending_after if grants(rule, c)]
            if rule.requires_kind == "education":
                study_fields = await repo.study_fields(today)
                studies = Match(
                    None,
                    _levels(EDUCATION, rule.requires_level),
                    _fields(rule.requires_fields, study_fields),
                )
        rows: list[Owed] = []
        deadline = date(today.year, 12, 31) if refresher else rule.grace_until
        if refresher:
            day, month = policy.hours_day
            if today >= date(today.year, month, day):
                rows.append(
                    Owed(
                        HOURS_BEHIND,
                        f"{HOURS_BEHIND}:",
                        f":{rule.id}:{today.year}",
                        _plan_due(date(today.year, month, day), now, policy),
                        {"rule_id": rule.id, "year": today.year},
                    )
                )
        elif deadline is not None and deadline >= today:  # missing, not overdue
            for days in _grace_offsets(deadline, today, policy.grace_days):
                rows.append(
                    Owed(
                        STANDARD_DEADLINE,
                        f"{STANDARD_DEADLINE}:",
                        f":{rule.id}:{deadline}:{days}",
                        _plan_due(deadline - timedelta(days=days), now, policy),
                        {"rule_id": rule.id, "days": days},
                    )
                )
        closing = [
            _closing(rule.id, c, chains, positions, now, policy)
            for c in offered
            if (c.hours > 0 if refresher else c.grants_kind == rule.requires_kind)
            and grants(rule, c)
        ]
        rules.append(
            RulePlan(today, who, holds, hours, granting, studies, rows, closing, MAX_COURSES)
        )
    reviews = await _reviews(repo, units, today=today, now=now, policy=policy)
    people, linked = await repo.person_id_range(), await repo.count_linked()
    return Plan(rules, reviews, people, linked, now, repo.dialect)


async def add_range(session: AsyncSession, plan: Plan, *, low: int, high: int) -> int:
    """Add what the rules owe the linked people with ids in [low, high], rule by rule in the
    order of their ids (a course offered for two gaps is reminded of once, for the first)."""
    repo = PlanningRepo(session)
    added = 0
    for rule in plan.rules:
        added += await repo.add_for_rule(rule, low=low, high=high, now=plan.now)
    return added


async def add_reviews(session: AsyncSession, plan: Plan) -> int:
    return await PlanningRepo(session).add_rows(plan.reviews)


# -- resolving a rule into values -------------------------------------------------------------


def _chain(units: dict[int, tuple[str, int | None]], unit_id: int) -> list[str]:
    """The codes of the unit and its ancestors, like PeopleRepo.unit_chain."""
    codes: list[str] = []
    current: int | None = unit_id
    while current is not None and len(codes) < UNIT_DEPTH and current in units:
        code, current = units[current]
        codes.append(code)
    return codes


def _who(scope: Any, chains: dict[int, list[str]], positions: dict[int, tuple[str, str]]) -> Who:
    """The scope (domain.audience.matches) as the values a person's columns must take."""
    scope = scope or {}
    units, ranks, types = (
        scope.get("units") or [],
        scope.get("ranks") or [],
        scope.get("types") or [],
    )
    groups, codes = scope.get("groups") or [], scope.get("positions") or []
    return Who(
        unit_ids=[u for u, chain in chains.items() if set(units) & set(chain)] if units else None,
        ranks=list(ranks) or None,
        types=list(types) or None,
        position_ids=(
            [p for p, (code, group) in positions.items() if group in groups or code in codes]
            if groups or codes
            else None
        ),
    )


def _levels(vocab: Any, need: str | None) -> list[str] | None:
    """The level codes that meet `need`; None when any level does."""
    if not need:
        return None
    return [t.code for t in vocab if meets(vocab, t.code, need)]


def _fields(keywords: Sequence[str], spellings: Sequence[str | None]) -> list[str | None] | None:
    """The field spellings on record that contain one of the folded keywords; None: any."""
    if not keywords:
        return None
    return [f for f in spellings if any(k in fold(f or "") for k in keywords)]


def _closing(
    rule_id: int,
    course: Course,
    chains: dict[int, list[str]],
    positions: dict[int, tuple[str, str]],
    now: datetime,
    policy: Policy,
) -> Closing:
    closes = course.registration_deadline.astimezone(policy.tz).date()
    due = _plan_due(closes - timedelta(days=policy.deadline_days), now, policy)
    row = Owed(
        REGISTRATION_DEADLINE,
        f"{REGISTRATION_DEADLINE}:",
        f":{course.id}",
        due,
        {"rule_id": rule_id},
        course.id,
    )
    return Closing(
        course.id, _who(course.audience, chains, positions), row, due < course.registration_deadline
    )


def _plan_due(day: date, now: datetime, policy: Policy) -> datetime:
    """Morning of `day`, or now if that has passed (outside quiet hours either way).

    Whatever is planned late is still checked against current data when it is sent.
    """
    return out_of_quiet_hours(max(at_local(day, policy.morning, policy.tz), now), policy)


def _grace_offsets(deadline: date, today: date, days: tuple[int, ...]) -> list[int]:
    """Offsets still ahead, and the latest one already passed (said now, once)."""
    ahead = [d for d in days if deadline - timedelta(days=d) >= today]
    passed = [d for d in days if deadline - timedelta(days=d) < today]
    return [*ahead, min(passed)] if passed else ahead


# -- review meetings ----------------------------------------------------------------------------


async def _reviews(
    repo: PlanningRepo,
    units: dict[int, tuple[str, int | None]],
    *,
    today: date,
    now: datetime,
    policy: Policy,
) -> list[dict[str, Any]]:
    """Rows for the seconded person and the people overseeing their review, when linked."""
    secondments = await repo.current_secondments(today)
    holders: dict[tuple[int, Role], list[int]] = {}
    for person_id, role, unit_id in await repo.role_grants((Role.ORGANIZER, Role.UNIT_HEAD)):
        holders.setdefault((unit_id, role), []).append(person_id)
    home_of = await repo.units_of(
        sorted({s.person_id for s in secondments if s.from_unit_id is None})
    )

    def nearest(unit_id: int | None, role: Role) -> list[int]:
        seen: set[int] = set()
        while unit_id is not None and unit_id not in seen:
            seen.add(unit_id)
            if found := holders.get((unit_id, role)):
                return sorted(set(found))
            unit_id = units[unit_id][1] if unit_id in units else None
        return []

    told: dict[int, dict[int, str]] = {}
    for sec in secondments:
        if sec.starts_on > today + OVERSEEN_AHEAD:
            continue
        home = sec.from_unit_id if sec.from_unit_id is not None else home_of.get(sec.person_id)
        who = {pid: HOME_ORGANIZER for pid in nearest(home, Role.ORGANIZER)}
        for pid in nearest(sec.to_unit_id, Role.UNIT_HEAD):
            who[pid] = HOST_HEAD
        who.pop(sec.person_id, None)
        told[sec.id] = who
    everyone = {s.person_id for s in secondments} | {p for w in told.values() for p in w}
    linked = await repo.linked_among(sorted(everyone))
    rows: list[dict[str, Any]] = []
    for sec in secondments:
        review = next_review(sec, today)
        if review is None:
            continue
        recipients = [pid for pid in told.get(sec.id, {}) if pid in linked]
        if sec.person_id in linked:
            rows.append(_review_row(sec, review, sec.person_id, None, now, policy))
        for pid in recipients:
            rows.append(_review_row(sec, review, pid, told[sec.id][pid], now, policy))
    return rows


def _review_row(
    sec: Secondment, review: date, person_id: int, as_: str | None, now: datetime, policy: Policy
) -> dict[str, Any]:
    params: dict[str, Any] = {"secondment_id": sec.id, "review_on": review.isoformat()}
    if sec.next_review_on is None and sec.last_review_on is None:
        n = 1  # the key as first planned: the n-th meeting counted from the start
        while add_months(sec.starts_on, n * sec.review_every_months) < review:
            n += 1
        key = f"{REVIEW_MEETING}:{sec.id}:{n}"
    else:
        key = f"{REVIEW_MEETING}:{sec.id}:{review.isoformat()}"
    if as_ is not None:
        params["as"] = as_
        key += f":{person_id}"
    return {
        "dedupe_key": key[:120],
        "person_id": person_id,
        "kind": REVIEW_MEETING,
        "course_id": None,
        "params": params,
        "due_at": _plan_due(review - timedelta(days=policy.review_days), now, policy),
        "state": NotificationState.PENDING,
        "urgent": False,
        "attempts": 0,
        "created_at": now,
    }


__all__ = ["HOME_ORGANIZER", "HOST_HEAD", "Plan", "add_range", "add_reviews", "work_out"]
