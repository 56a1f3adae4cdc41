"""Who a broadcast reaches: the audience an organizer picks (units, positions, a standard
people are missing, a course's registrants or waitlist) and its resolution to people, always
inside the organizer's scope. domain/broadcasts.py keeps the broadcast itself.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from domain import roles
from domain.audience import applies
from domain.errors import DomainError, Refusal
from domain.standards import IN_PROGRESS_STATUSES, REFRESHER, grants, holds
from storage.models import (
    Course,
    Person,
    Position,
    Qualification,
    Registration,
    RegistrationStatus,
    Role,
    StandardRule,
    TrainingRecord,
    Unit,
)
from storage.repos.roster import chunks

REGISTRANTS = (RegistrationStatus.REGISTERED, RegistrationStatus.ATTENDED)


@dataclass(frozen=True)
class Audience:
    """Who receives a broadcast; every filter given narrows it, none means everyone in scope."""

    units: tuple[str, ...] = ()
    positions: tuple[str, ...] = ()
    missing: str | None = None  # code of a standard the recipients do not meet
    course: str | None = None  # code of a course: its registrants, or its waitlist
    waitlist: bool = False

    @property
    def everyone(self) -> bool:
        return not (self.units or self.positions or self.missing or self.course)

    def to_json(self) -> dict[str, Any]:
        return {
            "units": list(self.units),
            "positions": list(self.positions),
            "missing": self.missing,
            "course": self.course,
            "waitlist": self.waitlist,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Audience:
        data = data or {}
        return cls(
            units=tuple(data.get("units") or ()),
            positions=tuple(data.get("positions") or ()),
            missing=data.get("missing"),
            course=data.get("course"),
            waitlist=bool(data.get("waitlist")),
        )


async def resolve(
    session: AsyncSession,
    *,
    scope: roles.Scope,
    audience: Audience,
    now: datetime,
    today: date,
    hours_target: int,
) -> list[int]:
    """Active people in the scope matching every filter of the audience, by id.

    Set-based: one query for units, positions and course, then (for a standard) the rule is
    checked against qualifications, hours and ongoing courses loaded in chunks, not per person.
    """
    stmt = select(Person.id).where(Person.active.is_(True)).order_by(Person.id)
    if not scope.everywhere:
        stmt = stmt.where(Person.unit_id.in_(sorted(scope.unit_ids)))
    if audience.units:
        roots = []
        for code in audience.units:
            unit_id = (
                await session.execute(select(Unit.id).where(Unit.code == code))
            ).scalar_one_or_none()
            if unit_id is None:
                raise DomainError(Refusal.NOT_FOUND, problem="unit", value=code)
            if not scope.covers(unit_id):
                raise DomainError(Refusal.FORBIDDEN, role=Role.ORGANIZER.value, value=code)
            roots.append(unit_id)
        stmt = stmt.where(Person.unit_id.in_(sorted(await roles.subtree(session, roots))))
    if audience.positions:
        found = dict(
            (await session.execute(
                select(Position.code, Position.id).where(Position.code.in_(audience.positions))
            )).all()
        )  # fmt: skip
        for code in audience.positions:
            if code not in found:
                raise DomainError(Refusal.NOT_FOUND, problem="position", value=code)
        stmt = stmt.where(Person.position_id.in_(sorted(found.values())))
    if audience.course:
        course_id = (
            await session.execute(select(Course.id).where(Course.code == audience.course))
        ).scalar_one_or_none()
        if course_id is None:
            raise DomainError(Refusal.NOT_FOUND, problem="course", value=audience.course)
        statuses = (RegistrationStatus.WAITLISTED,) if audience.waitlist else REGISTRANTS
        stmt = stmt.where(
            Person.id.in_(
                select(Registration.person_id).where(
                    Registration.course_id == course_id, Registration.status.in_(statuses)
                )
            )
        )
    people = list((await session.execute(stmt)).scalars())
    if audience.missing:
        rule = (
            await session.execute(
                select(StandardRule).where(
                    StandardRule.code == audience.missing, StandardRule.active.is_(True)
                )
            )
        ).scalar_one_or_none()
        if rule is None:
            raise DomainError(Refusal.NOT_FOUND, problem="rule", value=audience.missing)
        people = await missing(
            session, rule=rule, person_ids=people, now=now, today=today, hours_target=hours_target
        )
    return people


async def missing(
    session: AsyncSession,
    *,
    rule: StandardRule,
    person_ids: Sequence[int],
    now: datetime,
    today: date,
    hours_target: int,
) -> list[int]:
    """Of these people, those the rule applies to who do not meet it and have no course under
    way that would close the gap: the "missing" and "overdue" of domain.standards.status_of."""
    units = {
        uid: (code, parent)
        for uid, code, parent in (
            await session.execute(select(Unit.id, Unit.code, Unit.parent_id))
        ).all()
    }
    chains: dict[int, list[str]] = {}

    def chain(unit_id: int) -> list[str]:
        if unit_id not in chains:
            codes: list[str] = []
            current: int | None = unit_id
            while current in units and len(codes) < 12:
                code, parent = units[current]
                codes.append(code)
                current = parent
            chains[unit_id] = codes
        return chains[unit_id]

    result: list[int] = []
    for part in chunks(person_ids):
        people = (
            await session.execute(
                select(Person).options(joinedload(Person.position)).where(Person.id.in_(part))
            )
        ).scalars()
        ids = [p.id for p in people if applies(rule, p, chain(p.unit_id))]
        if not ids:
            continue
        ongoing: dict[int, list[Course]] = defaultdict(list)
        for pid, course in (
            await session.execute(
                select(Registration.person_id, Course)
                .join(Course, Course.id == Registration.course_id)
                .where(
                    Registration.person_id.in_(ids),
                    Registration.status.in_(IN_PROGRESS_STATUSES),
                    Course.ends_at >= now,
                )
            )
        ).all():
            ongoing[pid].append(course)
        if rule.requires_kind == REFRESHER:
            target = rule.requires_hours if rule.requires_hours is not None else hours_target
            done = dict(
                (await session.execute(
                    select(TrainingRecord.person_id, func.sum(TrainingRecord.hours))
                    .where(
                        TrainingRecord.person_id.in_(ids),
                        TrainingRecord.ends_on >= date(today.year, 1, 1),
                        TrainingRecord.ends_on <= date(today.year, 12, 31),
                    )
                    .group_by(TrainingRecord.person_id)
                )).all()
            )  # fmt: skip
            for pid in ids:
                hours = int(done.get(pid) or 0)
                planned = hours + sum(c.hours for c in ongoing[pid] if c.ends_at.year == today.year)
                if hours < target and planned < target:
                    result.append(pid)
            continue
        quals: dict[int, list[Qualification]] = defaultdict(list)
        for q in (
            await session.execute(
                select(Qualification).where(
                    Qualification.person_id.in_(ids), Qualification.kind == rule.requires_kind
                )
            )
        ).scalars():
            quals[q.person_id].append(q)
        for pid in ids:
            if not holds(rule, quals[pid]) and not any(grants(rule, c) for c in ongoing[pid]):
                result.append(pid)
    return sorted(result)


async def choices(session: AsyncSession) -> tuple[list[StandardRule], list[Position]]:
    """Active standards and the positions, for the organizer to pick from."""
    rules = (
        await session.execute(
            select(StandardRule).where(StandardRule.active.is_(True)).order_by(StandardRule.id)
        )
    ).scalars()
    positions = (await session.execute(select(Position).order_by(Position.code))).scalars()
    return list(rules), list(positions)


@dataclass(frozen=True)
class AudienceNames:
    """What an organizer reads instead of the codes an audience is kept by."""

    units: dict[str, str]  # code -> name
    positions: dict[str, Position]
    rule: StandardRule | None
    course: str | None  # the course's title


async def names_of(session: AsyncSession, audience: Audience) -> AudienceNames:
    """The names of the units, positions, standard and course an audience names by code."""
    rows = await session.execute(select(Unit.code, Unit.name).where(Unit.code.in_(audience.units)))
    units = {code: name for code, name in rows}
    positions = (
        await session.execute(select(Position).where(Position.code.in_(audience.positions)))
    ).scalars()
    rule = None
    if audience.missing:
        rule = (
            await session.execute(
                select(StandardRule).where(StandardRule.code == audience.missing).limit(1)
            )
        ).scalar_one_or_none()
    title = None
    if audience.course:
        title = (
            await session.execute(select(Course.title).where(Course.code == audience.course))
        ).scalar_one_or_none()
    return AudienceNames(units, {p.code: p for p in positions}, rule, title)
