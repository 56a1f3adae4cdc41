"""Units as organizers name them in chat: a code ("LS-X001") or part of a name, typed with or
without accents ("de tham" for "Xã Đề Thám").

A code is exact (any case). Otherwise every unit still in charge (not merged away) whose
folded name contains the folded words at word boundaries is a match; several matches are
offered to choose from, by code. Names are compared in Python: a province has a few thousand
units, and folding Vietnamese in SQL differs between SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from domain.text import fold
from storage.models import Unit

__all__ = ["Resolved", "UnitMatch", "find", "resolve_many"]

MAX_OFFERED = 8


@dataclass(frozen=True)
class UnitMatch:
    id: int
    code: str
    name: str
    parent: str | None  # the parent unit's name, to tell apart communes of the same name


def _key(text: str) -> str:
    return " ".join(re.sub(r"[\W_]+", " ", fold(text)).split())


async def _units(session: AsyncSession) -> list[UnitMatch]:
    parent = aliased(Unit)
    stmt = (
        select(Unit.id, Unit.code, Unit.name, parent.name)
        .outerjoin(parent, parent.id == Unit.parent_id)
        .where(Unit.merged_into_id.is_(None))
        .order_by(Unit.name, Unit.id)
    )
    return [UnitMatch(*row) for row in await session.execute(stmt)]


def _named(units: list[UnitMatch], text: str) -> list[UnitMatch]:
    key = _key(text)
    if not key:
        return []
    exact = [u for u in units if u.code.casefold() == " ".join(text.split()).casefold()]
    if exact:
        return exact
    pattern = re.compile(rf"(?:^| ){re.escape(key)}(?:$| )")
    hits = [u for u in units if pattern.search(_key(u.name))]
    # A name typed in full wins over longer names that contain it ("Xã Tân Lập" and "Xã Tân
    # Lập Mới" when "xa tan lap" is typed).
    whole = [u for u in hits if _key(u.name) == key]
    return whole or hits


async def find(session: AsyncSession, text: str) -> list[UnitMatch]:
    """The units `text` names: the one with that code, else those whose name contains it."""
    return _named(await _units(session), text)


@dataclass(frozen=True)
class Resolved:
    codes: list[str]  # the units named so far, by code
    unclear: tuple[str, list[UnitMatch]] | None = None  # a part naming none or several


async def resolve_many(session: AsyncSession, text: str) -> Resolved:
    """Units typed as codes separated by spaces, or names (or codes) separated by commas."""
    units = await _units(session)
    by_code = {u.code.casefold(): u for u in units}
    codes: list[str] = []
    for piece in (p for p in re.split(r"[,;\n]+", text) if p.strip()):
        words = piece.split()
        if all(w.casefold() in by_code for w in words):
            codes += [by_code[w.casefold()].code for w in words]
            continue
        matches = _named(units, piece)
        if len(matches) != 1:
            return Resolved(codes, (" ".join(words), matches))
        codes.append(matches[0].code)
    return Resolved(list(dict.fromkeys(codes)))
