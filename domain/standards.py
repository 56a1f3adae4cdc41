"""Whether a person meets each standard of their position, and which courses close a gap.

The rules are rows (storage.models.StandardRule) that an administrator edits; this module
only knows how to compare a person's record with a rule.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.audience import applies, in_audience
from domain.text import fold
from domain.vocab import EDUCATION, level_vocab, meets
from storage.models import (
    Course,
    DegreeStudy,
    Qualification,
    RegistrationStatus,
    StandardRule,
)
from storage.repos.courses import CourseRepo, RegistrationRepo
from storage.repos.people import PeopleRepo

REFRESHER = "refresher_hours"
IN_PROGRESS_STATUSES = (RegistrationStatus.REGISTERED, RegistrationStatus.ATTENDED)


class State(enum.StrEnum):
    MET = "met"
    IN_PROGRESS = "in_progress"
    MISSING = "missing"  # not met; due by `deadline` when the rule has one
    OVERDUE = "overdue"
    NOT_APPLICABLE = "not_applicable"


@dataclass(frozen=True)
class RuleStatus:
    rule: StandardRule
    state: State
    deadline: date | None = None
    hours_done: int | None = None
    hours_target: int | None = None
    closing: list[Course] = field(default_factory=list)
    until: date | None = None  # in progress through a degree study ending then


def holds(rule: StandardRule, quals: Sequence[Qualification]) -> bool:
    vocab = level_vocab(rule.requires_kind)
    for q in quals:
        if q.kind != rule.requires_kind:
            continue
        if (
            rule.requires_level
            and vocab is not None
            and not meets(vocab, q.level, rule.requires_level)
        ):
            continue
        if rule.requires_fields and not any(k in fold(q.field or "") for k in rule.requires_fields):
            continue
        return True
    return False


def study_meets(rule: StandardRule, study: DegreeStudy) -> bool:
    """Whether finishing a degree study would meet an education standard."""
    if rule.requires_kind != "education":
        return False
    if rule.requires_level and not meets(EDUCATION, study.level, rule.requires_level):
        return False
    if rule.requires_fields:
        return any(k in fold(study.field or "") for k in rule.requires_fields)
    return True


def grants(rule: StandardRule, course: Course) -> bool:
    """Whether completing the course would satisfy the rule."""
    if rule.requires_kind == REFRESHER:
        return course.hours > 0
    if course.grants_kind != rule.requires_kind:
        return False
    vocab = level_vocab(rule.requires_kind)
    if rule.requires_level and vocab is not None:
        if not course.grants_level or not meets(vocab, course.grants_level, rule.requires_level):
            return False
    if rule.requires_fields:
        return any(k in course.search_text for k in rule.requires_fields)
    return True


async def status_of(
    session: AsyncSession,
    *,
    person_id: int,
    now: datetime,
    today: date,
    hours_target: int,
    max_courses: int = 3,
) -> list[RuleStatus]:
    """Every active rule with the person's state; gaps carry up to `max_courses` open courses."""
    people = PeopleRepo(session)
    person = await people.get(person_id)
    if person is None:
        return []
    codes = [u.code for u in await people.unit_chain(person.unit_id)]
    quals = await people.qualifications(person_id)
    rules = list(
        (
            await session.execute(
                select(StandardRule).where(StandardRule.active.is_(True)).order_by(StandardRule.id)
            )
        ).scalars()
    )
    ongoing = [
        c
        for _r, c in await RegistrationRepo(session).of_person(person_id, IN_PROGRESS_STATUSES)
        if c.ends_at >= now
    ]
    studies = list((await session.execute(select(DegreeStudy).where(
        DegreeStudy.person_id == person_id, DegreeStudy.starts_on <= today,
        DegreeStudy.expected_end >= today,
    ))).scalars())  # fmt: skip
    courses = CourseRepo(session)
    result: list[RuleStatus] = []
    for rule in rules:
        if not applies(rule, person, codes):
            result.append(RuleStatus(rule, State.NOT_APPLICABLE))
            continue
        done = target = None
        if rule.requires_kind == REFRESHER:
            target = rule.requires_hours if rule.requires_hours is not None else hours_target
            done = await people.hours_in_year(person_id, today.year)
            met = done >= target
            deadline: date | None = date(today.year, 12, 31)
            planned = done + sum(c.hours for c in ongoing if c.ends_at.year == today.year)
            in_progress = planned >= target
        else:
            met = holds(rule, quals)
            deadline = rule.grace_until
            in_progress = any(grants(rule, c) for c in ongoing)
        if met:
            result.append(RuleStatus(rule, State.MET, hours_done=done, hours_target=target))
            continue
        studying = [st.expected_end for st in studies if study_meets(rule, st)]
        if in_progress or studying:
            state = State.IN_PROGRESS
        elif deadline is not None and deadline < today:
            state = State.OVERDUE
        else:
            state = State.MISSING
        closing: list[Course] = []
        if state != State.IN_PROGRESS:
            taken = {c.id for c in ongoing}
            for course in await courses.granting(kind=rule.requires_kind, now=now):
                if (
                    course.id not in taken
                    and grants(rule, course)
                    and in_audience(course, person, codes)
                ):
                    closing.append(course)
                    if len(closing) == max_courses:
                        break
        until = min(studying) if studying and not in_progress else None
        result.append(RuleStatus(rule, state, deadline, done, target, closing, until))
    return result
