"""Whether someone may be sent to postgraduate study: Decree 171/2025's conditions as data.

The conditions (storage.models.PostgraduateConditions, loaded from the rule book's
`postgraduate` section) are an age limit at the decision date when first sent, a minimum of
years of service and a commitment to serve a multiple of the study period afterwards. The
check returns reason codes and figures; the caller renders them.
"""

from __future__ import annotations

import calendar
import enum
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import DegreeStudy, Person, PostgraduateConditions

STATE_FUNDED = "state"


class Reason(enum.StrEnum):
    TOO_OLD = "pg_too_old"
    SHORT_SERVICE = "pg_short_service"
    NO_BIRTH_DATE = "pg_no_birth_date"
    NO_JOINED_DATE = "pg_no_joined_date"


@dataclass(frozen=True)
class Refusal:
    """One unmet condition: the code, the person's figure and the limit (None when unknown)."""

    reason: Reason
    actual: int | None = None
    limit: int | None = None


@dataclass(frozen=True)
class Eligibility:
    refusals: list[Refusal] = field(default_factory=list)
    age: int | None = None
    years_of_service: int | None = None

    @property
    def eligible(self) -> bool:
        return not self.refusals


@dataclass(frozen=True)
class Commitment:
    """The commitment to serve after a study: months, and the date it runs to."""

    study_months: int
    months: int
    until: date


def full_years(since: date, on: date) -> int:
    """Completed years from `since` to `on` (a birthday or anniversary counts on its day)."""
    return on.year - since.year - ((on.month, on.day) < (since.month, since.day))


def months_between(start: date, end: date) -> int:
    """Whole months from start to end, a part month counted as one."""
    months = (end.year - start.year) * 12 + end.month - start.month
    return months + (1 if end.day > start.day else 0)


def add_months(day: date, months: int) -> date:
    total = day.month - 1 + months
    year, month = day.year + total // 12, total % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


async def conditions(session: AsyncSession) -> PostgraduateConditions | None:
    """The conditions in force (None when the rule book has none)."""
    stmt = select(PostgraduateConditions).order_by(PostgraduateConditions.id).limit(1)
    return (await session.execute(stmt)).scalar_one_or_none()


def check(
    rules: PostgraduateConditions, *, date_of_birth: date | None, joined_on: date | None,
    decision_date: date, first_sending: bool = True,
) -> Eligibility:  # fmt: skip
    """The conditions applied to one person's dates (no database access)."""
    refusals: list[Refusal] = []
    age = full_years(date_of_birth, decision_date) if date_of_birth else None
    service = full_years(joined_on, decision_date) if joined_on else None
    limit = rules.max_age_first_sending
    if limit is not None and first_sending:
        if age is None:
            refusals.append(Refusal(Reason.NO_BIRTH_DATE, None, limit))
        elif age > limit:
            refusals.append(Refusal(Reason.TOO_OLD, age, limit))
    minimum = rules.min_years_of_service
    if minimum is not None:
        if service is None:
            refusals.append(Refusal(Reason.NO_JOINED_DATE, None, minimum))
        elif service < minimum:
            refusals.append(Refusal(Reason.SHORT_SERVICE, service, minimum))
    return Eligibility(refusals, age, service)


def commitment(rules: PostgraduateConditions, *, starts_on: date, expected_end: date) -> Commitment:
    study = months_between(starts_on, expected_end)
    months = study * rules.commitment_multiple
    return Commitment(study, months, add_months(expected_end, months))


async def sent_before(session: AsyncSession, *, person_id: int, levels: list[str],
                      before: date) -> bool:  # fmt: skip
    """Whether a state-funded postgraduate study of the person started before `before`: the
    age limit is for the first sending only."""
    stmt = select(DegreeStudy.id).where(
        DegreeStudy.person_id == person_id, DegreeStudy.level.in_(levels),
        DegreeStudy.funding == STATE_FUNDED, DegreeStudy.starts_on < before,
    ).limit(1)  # fmt: skip
    return (await session.execute(stmt)).first() is not None


async def postgraduate_eligibility(
    session: AsyncSession, person_id: int, decision_date: date
) -> Eligibility:
    """Whether the person may be sent to postgraduate study by a decision of that date."""
    rules = await conditions(session)
    if rules is None:
        return Eligibility()
    person = await session.get_one(Person, person_id)
    first = not await sent_before(session, person_id=person_id, levels=list(rules.levels),
                                  before=decision_date)  # fmt: skip
    return check(rules, date_of_birth=person.date_of_birth, joined_on=person.joined_on,
                 decision_date=decision_date, first_sending=first)  # fmt: skip
