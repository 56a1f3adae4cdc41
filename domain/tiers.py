"""The breakdown a province reports upward: people by government tier and by person type.

Each person belongs to the tier of the nearest unit of theirs (their own unit included) whose
kind sets one (UNIT_TIER): a commune's division counts at commune level, a department's
division at provincial level. Counts come from one grouped query; the tier of each unit is
worked out in Python from the unit tree (a few thousand rows). Shares have two decimals,
with trailing zeros dropped (17.51, 55.4), as the provinces publish them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.vocab import EDUCATION, PERSON_TYPE, POLITICAL_THEORY, UNIT_TIER, Vocab
from storage.models import Person, Qualification, Unit

TIERS = ("province", "district", "commune", "")  # "": no unit above sets a tier
# Education columns by rank (Thạc sĩ/Tiến sĩ; Đại học; Cao đẳng/Trung cấp; Sơ cấp), highest
# first; political theory likewise (Cao cấp/Cử nhân; Trung cấp; Sơ cấp). "None" is the rest.
EDUCATION_BANDS = (("postgraduate", 4), ("university", 3), ("college_vocational", 1),
                   ("elementary", 0))  # fmt: skip
POLITICAL_BANDS = (("advanced", 3), ("intermediate", 2), ("elementary", 1))
TYPES = (*PERSON_TYPE.codes, "")


def share(part: int, whole: int) -> Decimal | None:
    """`part` of `whole` in percent, two decimals, halves up, trailing zeros dropped."""
    if whole <= 0:
        return None
    value = (Decimal(100 * part) / Decimal(whole)).quantize(Decimal("0.01"), ROUND_HALF_UP)
    return value.normalize() if value != value.to_integral() else value.quantize(Decimal(1))


@dataclass(frozen=True)
class TierRow:
    key: str  # a tier, or a person type; "" for the unknown, "total" for the total
    people: int
    education: tuple[int, ...]  # per EDUCATION_BANDS, then none
    political: tuple[int, ...]  # per POLITICAL_BANDS, then none

    def edu_share(self, i: int) -> Decimal | None:
        return share(self.education[i], self.people)

    def pt_share(self, i: int) -> Decimal | None:
        return share(self.political[i], self.people)


@dataclass(frozen=True)
class Tiers:
    tiers: tuple[TierRow, ...]  # TIERS that have people, then the total
    types: tuple[TierRow, ...]  # person types that have people, then the total

    def tier(self, key: str) -> TierRow:
        return next(r for r in self.tiers if r.key == key)

    def type(self, key: str) -> TierRow:
        return next(r for r in self.types if r.key == key)

    def people_share(self, row: TierRow) -> Decimal | None:
        return share(row.people, self.tiers[-1].people)


def _band(rank: int | None, bands: Sequence[tuple[str, int]]) -> int:
    if rank is None:
        return len(bands)
    for i, (_name, floor) in enumerate(bands):
        if rank >= floor:
            return i
    return len(bands)


def _rank(vocab: Vocab) -> Any:
    return case({t.code: t.rank for t in vocab}, value=Qualification.level, else_=None)


async def unit_tiers(session: AsyncSession) -> dict[int, str]:
    """unit id → its tier ("" when neither it nor any unit above has a tier-setting kind)."""
    units = {uid: (parent, kind) for uid, parent, kind in
             await session.execute(select(Unit.id, Unit.parent_id, Unit.kind))}  # fmt: skip
    tiers: dict[int, str] = {}

    def tier_of(uid: int) -> str:
        path, seen, found = [], set(), ""
        cur: int | None = uid
        while cur is not None and cur in units and cur not in seen:
            if cur in tiers:
                found = tiers[cur]
                break
            seen.add(cur)
            path.append(cur)
            parent, kind = units[cur]
            if kind in UNIT_TIER:
                found = UNIT_TIER[kind]
                break
            cur = parent
        for u in path:
            tiers[u] = found
        return found

    for uid in units:
        tier_of(uid)
    return tiers


async def breakdown(session: AsyncSession, *, people_filter: Any) -> Tiers:
    """Active people (under `people_filter`, a condition on Person) by tier and by type."""
    facts = (
        select(
            Qualification.person_id.label("person_id"),
            func.max(case((Qualification.kind == "education", _rank(EDUCATION)))).label("edu"),
            func.max(case((Qualification.kind == "political_theory", _rank(POLITICAL_THEORY))))
            .label("pt"),
        )
        .group_by(Qualification.person_id)
        .subquery("facts")
    )
    stmt = (
        select(Person.unit_id, Person.person_type, facts.c.edu, facts.c.pt, func.count())
        .outerjoin(facts, facts.c.person_id == Person.id)
        .where(Person.active.is_(True), people_filter)
        .group_by(Person.unit_id, Person.person_type, facts.c.edu, facts.c.pt)
    )
    tiers = await unit_tiers(session)
    by_tier: dict[str, list[Any]] = {}
    by_type: dict[str, list[Any]] = {}
    width_e, width_p = len(EDUCATION_BANDS) + 1, len(POLITICAL_BANDS) + 1
    for unit_id, person_type, edu, pt, n in await session.execute(stmt):
        e, p = _band(edu, EDUCATION_BANDS), _band(pt, POLITICAL_BANDS)
        ptype = person_type if person_type in PERSON_TYPE else ""
        for table, key in ((by_tier, tiers.get(unit_id, "")), (by_type, ptype)):
            acc = table.setdefault(key, [0, [0] * width_e, [0] * width_p])
            acc[0] += n
            acc[1][e] += n
            acc[2][p] += n

    def rows(table: dict[str, list[Any]], order: Sequence[str]) -> tuple[TierRow, ...]:
        out = [TierRow(k, table[k][0], tuple(table[k][1]), tuple(table[k][2]))
               for k in order if k in table]  # fmt: skip
        out.append(TierRow(
            "total", sum(r.people for r in out),
            tuple(sum(r.education[i] for r in out) for i in range(width_e)),
            tuple(sum(r.political[i] for r in out) for i in range(width_p)),
        ))  # fmt: skip
        return tuple(out)

    return Tiers(rows(by_tier, TIERS), rows(by_type, TYPES))
