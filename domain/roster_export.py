"""The roster as a spreadsheet that imports back unchanged: `boiduong export roster`.

Columns are the roster template's, values written the way the import reads them (unit codes,
vocabulary labels, dates as dates, IDs and phones as text). Qualifications are the ones the
roster itself recorded: those granted by a course or an approved claim are the bot's own
record and stay out, so a re-import neither doubles nor drops them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain import roles
from domain.roster_format import QUAL_COLUMNS, ROSTER_COLUMNS
from domain.sheets import REQUIRED_MARK, write_rows_xlsx
from domain.text import fold
from domain.vocab import (
    CIVIL_SERVICE_RANK,
    EDUCATION,
    GENDER,
    PERSON_TYPE,
    POLITICAL_THEORY,
    STATE_MANAGEMENT,
    Vocab,
)
from storage.models import Person, Position, Qualification, Unit
from storage.repos.roster import ROSTER_SOURCE, chunks

_LEVELS: dict[str, Vocab] = {
    "political_theory": POLITICAL_THEORY, "state_management": STATE_MANAGEMENT,
}  # fmt: skip
_PERSON = {
    "personal_id": "personal_id", "full_name": "full_name", "date_of_birth": "date_of_birth",
    "gender": "gender", "phone": "phone", "person_type": "person_type",
    "rank": "civil_service_rank", "job_position": "job_position", "old_id": "old_id_number",
    "joined_on": "joined_on", "general_education": "general_education",
}  # fmt: skip


def _label(vocab: Vocab, code: str | None) -> str:
    return vocab.label(code) if code and code in vocab else (code or "")


def _quals(rows: list[tuple[str, str, str]]) -> dict[str, str]:
    """Cell text of each qualification column, from the roster-sourced rows of one person."""
    cells: dict[str, str] = {}
    by_kind = {kind: (level, fld) for kind, level, fld in rows}
    for key, kind in QUAL_COLUMNS.items():
        if kind not in by_kind:
            continue
        level, fld = by_kind[kind]
        if kind == "education":
            cells[key] = _label(EDUCATION, level)
            cells["education_field"] = fld
        elif kind in _LEVELS:
            cells[key] = _label(_LEVELS[kind], level)
        else:
            cells[key] = fld or "Có"
    return cells


async def export_roster(session: AsyncSession, *, path: Path, unit_code: str | None) -> int:
    """Write the active people (of a unit's subtree, or all) in the roster template's columns;
    returns how many. Raises LookupError for an unknown unit code."""
    query = select(Person).where(Person.active.is_(True))
    if unit_code:
        root = (
            await session.execute(select(Unit.id).where(Unit.code == unit_code))
        ).scalar_one_or_none()
        if root is None:
            raise LookupError(unit_code)
        query = query.where(Person.unit_id.in_(sorted(await roles.subtree(session, [root]))))
    people = list((await session.execute(query.order_by(Person.id))).scalars())
    units = dict((await session.execute(select(Unit.id, Unit.code))).all())
    positions = list((await session.execute(select(Position))).scalars())
    spellings: dict[str, int] = {}
    for p in positions:
        spellings[fold(p.name_vi)] = spellings.get(fold(p.name_vi), 0) + 1
    # A position's Vietnamese name reads best; its code where two positions share the name.
    position_cell = {
        p.id: p.name_vi if spellings[fold(p.name_vi)] == 1 else p.code for p in positions
    }
    quals: dict[int, list[tuple[str, str, str]]] = {}
    for part in chunks([p.id for p in people]):
        stmt = select(Qualification.person_id, Qualification.kind, Qualification.level,
                      Qualification.field).where(Qualification.person_id.in_(part),
                                                 Qualification.source == ROSTER_SOURCE)  # fmt: skip
        for pid, kind, level, fld in await session.execute(stmt):
            quals.setdefault(pid, []).append((kind, level, fld))

    def rows() -> Iterator[list[Any]]:
        for person in people:
            cells: dict[str, Any] = {key: getattr(person, attr) for key, attr in _PERSON.items()}
            cells["gender"] = _label(GENDER, person.gender)
            cells["person_type"] = _label(PERSON_TYPE, person.person_type)
            cells["rank"] = _label(CIVIL_SERVICE_RANK, person.civil_service_rank)
            cells["unit"] = units.get(person.unit_id, "")
            cells["position"] = position_cell.get(person.position_id or 0, "")
            cells.update(_quals(quals.get(person.id, [])))
            yield [cells.get(c.key) for c in ROSTER_COLUMNS]

    headers = [c.vi + (REQUIRED_MARK if c.required else "") for c in ROSTER_COLUMNS]
    await asyncio.to_thread(write_rows_xlsx, path, headers, rows(), "Dữ liệu")
    return len(people)
