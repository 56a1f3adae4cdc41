"""Qualification levels over the years: what each roster import learnt, and when.

A roster import records, for each person in the file, their highest education and political
theory level when it differs from the last one known on that date (or none is known yet).
The report compares the shares at the threshold (university or higher; intermediate
political theory or higher) at the end of an earlier year with those of the report's year
("+13.1 points since 2017"). An older roster imported with `--as-of` fills in the past.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.numbers import percent
from domain.vocab import EDUCATION, POLITICAL_THEORY, Vocab
from storage.models import Person, QualificationLevel, Unit

HISTORY: dict[str, tuple[Vocab, str]] = {
    "education": (EDUCATION, "dai_hoc"),
    "political_theory": (POLITICAL_THEORY, "trung_cap"),
}


def highest(vocab: Vocab, levels: Sequence[str]) -> str:
    """The highest of these level codes ("" when none is in the vocabulary)."""
    known = [lv for lv in levels if lv in vocab]
    return max(known, key=lambda lv: vocab.term(lv).rank) if known else ""


async def record_levels(
    session: AsyncSession, *, levels: Mapping[int, Mapping[str, str]], learnt_on: date
) -> int:
    """Add a row per person and kind whose level differs from the last one known on
    `learnt_on`; `levels` maps person id → kind → level code ("" for none). Returns rows."""
    ids = list(levels)
    known: dict[tuple[int, str], tuple[date, int, str]] = {}
    for i in range(0, len(ids), 500):
        stmt = select(QualificationLevel).where(
            QualificationLevel.person_id.in_(ids[i : i + 500]),
            QualificationLevel.learnt_on <= learnt_on,
        )
        for r in (await session.execute(stmt)).scalars():
            key = (r.person_id, r.kind)
            if key not in known or (r.learnt_on, r.id) > known[key][:2]:
                known[key] = (r.learnt_on, r.id, r.level)
    rows = [
        {"person_id": pid, "kind": kind, "level": level, "learnt_on": learnt_on}
        for pid, by_kind in levels.items()
        for kind, level in by_kind.items()
        if (pid, kind) not in known or known[(pid, kind)][2] != level
    ]
    for i in range(0, len(rows), 5_000):
        await session.execute(insert(QualificationLevel), rows[i : i + 5_000])
    return len(rows)


@dataclass(frozen=True)
class Shares:
    """People with a known level at a date, and the share at or above the threshold."""

    on: date
    people: int
    education: Decimal | None
    political: Decimal | None


async def shares_on(session: AsyncSession, *, roots: Sequence[int] | None, on: date) -> Shares:
    """The threshold shares among the scope's people (by their unit now) as learnt by `on`."""

    ql = QualificationLevel
    ranked = (
        select(ql.person_id, ql.kind, ql.level, func.row_number().over(
            partition_by=(ql.person_id, ql.kind), order_by=(ql.learnt_on.desc(), ql.id.desc()),
        ).label("rn"))
        .where(ql.learnt_on <= on)
    )  # fmt: skip
    if roots is not None:
        tree = select(Unit.id).where(Unit.id.in_(roots)).cte("levels_scope", recursive=True)
        tree = tree.union(select(Unit.id).where(Unit.parent_id == tree.c.id))
        ranked = ranked.join(Person, Person.id == ql.person_id).where(
            Person.unit_id.in_(select(tree.c.id))
        )
    sub = ranked.subquery("ranked")
    stmt = (
        select(sub.c.kind, sub.c.level, func.count())
        .where(sub.c.rn == 1)
        .group_by(sub.c.kind, sub.c.level)
    )
    totals: dict[str, list[int]] = {}
    for kind, level, n in await session.execute(stmt):
        vocab, threshold = HISTORY.get(kind, (None, ""))
        if vocab is None:
            continue
        acc = totals.setdefault(kind, [0, 0])
        acc[0] += n
        if level in vocab and vocab.term(level).rank >= vocab.term(threshold).rank:
            acc[1] += n
    edu, pt = totals.get("education", [0, 0]), totals.get("political_theory", [0, 0])
    return Shares(on, edu[0], percent(edu[1], edu[0]), percent(pt[1], pt[0]))
