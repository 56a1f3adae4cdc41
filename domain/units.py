"""The unit tree as the province keeps it: import and export a unit list, and the changes of a
reorganisation (merge, rename, move, close), each audited.

A unit list has one row per unit: code (the key), name, kind and the parent's code or exact
name. Rows may come in any order (a parent after its children); the import is all or nothing
and re-importing updates names, kinds and parents by code. Merged units stay as inactive
pointers to their successor, so old rosters, reports and audit entries still resolve.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain import roles
from domain.errors import DomainError, Refusal
from domain.import_rows import Cells, Change, ImportReport, Problem, RowError, _col
from domain.sheets import Column, read_table, write_rows_xlsx, write_template
from domain.text import fold
from domain.vocab import UNIT_KIND, VocabError
from storage.models import Person, Unit
from storage.repos.roster import MergeResult, UnitRepo, name_key

log = logging.getLogger(__name__)

_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-]{0,39}")
_KIND_NOTE = (
    "Một trong: " + ", ".join(t.vi for t in UNIT_KIND) + ". \"Thành phố\" không kèm chữ nào: "
    "trực thuộc trung ương khi không có đơn vị cấp trên, thuộc tỉnh khi có.",
    "One of: " + ", ".join(t.en for t in UNIT_KIND) + ". A bare \"Thành phố\" is a centrally "
    "run city without a parent and a provincial city with one.",
)
UNIT_COLUMNS: tuple[Column, ...] = (
    _col("code", "Mã đơn vị", "Code",
         ("Mã riêng của đơn vị (chữ, số, dấu - . _); là khóa để cập nhật.",
          "The unit's own code (letters, digits, - . _); the key."),
         "Mã", "Unit code", required=True, text=True),
    _col("name", "Tên đơn vị", "Name", ("Tên đầy đủ, ví dụ: Xã Đề Thám.",
                                        "Full name, e.g. Xã Đề Thám."),
         "Tên", "Unit name", required=True),
    _col("kind", "Cấp", "Kind", _KIND_NOTE, "Loại đơn vị", "Cấp hành chính", "Loại", "Type",
         required=True),
    _col("parent", "Đơn vị cấp trên", "Parent",
         ("Mã hoặc tên đúng của đơn vị cấp trên; để trống nếu là cấp cao nhất.",
          "Code or exact name of the parent unit; blank for a root."),
         "Mã đơn vị cấp trên", "Cấp trên", "Trực thuộc", "Parent code", text=True),
)  # fmt: skip
UNIT_EXAMPLES = [
    {"code": "LS", "name": "Tỉnh Lạng Sơn", "kind": "Tỉnh", "parent": ""},
    {"code": "LS-SNV", "name": "Sở Nội vụ tỉnh Lạng Sơn", "kind": "Sở, ban, ngành",
     "parent": "LS"},
    {"code": "LS-X001", "name": "Xã Đề Thám", "kind": "Xã", "parent": "LS"},
]  # fmt: skip
_BY_KEY = {c.key: c for c in UNIT_COLUMNS}
_BARE_CITY = "thanh pho"


def write_units_template(path: Path) -> None:
    """The blank unit list with example rows (a province, a department, a commune)."""
    write_template(path, "Danh mục đơn vị (Units)", UNIT_COLUMNS,
                   "Hướng dẫn điền (How to fill in)", example_rows=UNIT_EXAMPLES)  # fmt: skip


@dataclass
class _UnitIn:
    row: int
    code: str
    name: str
    kind: str
    parent: str  # as written; resolved after every row is read


def _kind(cells: Cells) -> str | None:
    raw = cells.raw("kind")
    if not raw:
        cells.fail("kind", Problem.REQUIRED)
        return None
    if " ".join(fold(raw).split()) == _BARE_CITY:
        return "provincial_city" if cells.raw("parent") else "central_city"
    try:
        return UNIT_KIND.parse(raw)
    except VocabError as exc:
        cells.fail("kind", Problem.UNKNOWN_VALUE, vocab=exc.vocab_name)
        return None


def _parse(cells: Cells) -> _UnitIn | None:
    code = cells.text("code", 40, required=True)
    if code is not None and not _CODE.fullmatch(code):
        cells.fail("code", Problem.BAD_CODE)
    name = cells.text("name", 200, required=True)
    kind = _kind(cells)
    parent = cells.raw("parent")
    if not cells.ok or code is None or name is None or kind is None:
        return None
    return _UnitIn(cells.row, code, name, kind, parent)


async def import_units(
    session: AsyncSession, *, path: Path, dry_run: bool, now: datetime, actor: str = "cli"
) -> ImportReport:
    """Validate a unit list, then create or update units by code (all or nothing).

    Raises domain.sheets.SheetError when the file cannot be read as a unit list.
    """
    table = await asyncio.to_thread(read_table, path, UNIT_COLUMNS)
    report = ImportReport("units", dry_run, len(table.rows), unknown_headers=table.unknown_headers)
    parsed: list[_UnitIn] = []
    first_row: dict[str, int] = {}
    for row, values in table.rows:
        cells = Cells(row, values, _BY_KEY, report.errors)
        unit = _parse(cells)
        code = cells.raw("code").casefold()
        if code and (seen := first_row.setdefault(code, row)) != row:
            cells.fail("code", Problem.DUPLICATE_IN_FILE, other_row=seen)
            continue
        if unit is not None and cells.ok:
            parsed.append(unit)

    stored = {u.code.casefold(): u for u in (await session.execute(select(Unit))).scalars()}
    by_id = {u.id: u for u in stored.values()}
    index = await UnitRepo(session).index()
    in_file = {u.code.casefold(): u for u in parsed}
    names: dict[str, str | None] = {}
    for u in parsed:
        key = name_key(u.name)
        names[key] = None if key in names and names[key] != u.code else u.code
    # The tree after the import: code -> parent code (None for a root).
    parent_of: dict[str, str | None] = {
        code: by_id[u.parent_id].code.casefold() if u.parent_id in by_id else None
        for code, u in stored.items()
    }
    for u in parsed:
        old = stored.get(u.code.casefold())
        if old is not None and old.merged_into_id is not None:
            successor = by_id.get(old.merged_into_id)
            new_code = successor.code if successor else ""
            report.errors.append(
                RowError(u.row, _BY_KEY["code"].vi, Problem.UNIT_MERGED, new_code, key="code")
            )
            continue
        parent_code = _resolve_parent(u.parent, in_file, names, index)
        if parent_code is _UNKNOWN:
            report.errors.append(RowError(u.row, _BY_KEY["parent"].vi, Problem.UNKNOWN_UNIT,
                                          u.parent[:200], key="parent"))  # fmt: skip
            continue
        parent_of[u.code.casefold()] = parent_code
    for u in parsed:
        if _in_cycle(u.code.casefold(), parent_of):
            report.errors.append(RowError(u.row, _BY_KEY["parent"].vi, Problem.UNIT_CYCLE,
                                          u.parent[:200], key="parent"))  # fmt: skip
    if report.errors:
        report.errors.sort(key=lambda e: e.row)  # listed in the file's order, as people read it
        return report

    created: list[_UnitIn] = []
    changed: list[tuple[Unit, _UnitIn, dict[str, Any]]] = []
    for u in parsed:
        old = stored.get(u.code.casefold())
        parent_code = parent_of[u.code.casefold()]
        if old is None:
            created.append(u)
            report.changes.append(Change(u.row, u.code, "created"))
            continue
        old_parent = by_id[old.parent_id].code.casefold() if old.parent_id in by_id else None
        diff: dict[str, Any] = {}
        shown: list[tuple[str, str, str]] = []
        if old.name != u.name:
            diff["name"] = u.name
            shown.append((_BY_KEY["name"].vi, old.name, u.name))
        if old.kind != u.kind:
            diff["kind"] = u.kind
            shown.append((_BY_KEY["kind"].vi, _kind_label(old.kind), _kind_label(u.kind)))
        if old_parent != parent_code:
            diff["parent"] = parent_code
            shown.append((_BY_KEY["parent"].vi, _shown_code(old_parent, stored),
                          _shown_code(parent_code, stored, in_file)))  # fmt: skip
        if diff:
            changed.append((old, u, diff))
            report.changes.append(Change(u.row, u.code, "updated", tuple(shown)))
        else:
            report.unchanged += 1
    report.created, report.updated = len(created), len(changed)
    if dry_run:
        return report

    new_units = {u.code.casefold(): Unit(code=u.code, name=u.name, kind=u.kind, active=True)
                 for u in created}  # fmt: skip
    session.add_all(new_units.values())
    await session.flush()
    every = {**stored, **new_units}
    for u in created:
        parent = parent_of[u.code.casefold()]
        new_units[u.code.casefold()].parent_id = every[parent].id if parent else None
    for old, _u, diff in changed:
        old.name = diff.get("name", old.name)
        old.kind = diff.get("kind", old.kind)
        if "parent" in diff:
            old.parent_id = every[diff["parent"]].id if diff["parent"] else None
    await session.flush()
    await roles.audit(session, actor_person_id=None, actor=actor, action="units.import",
                      target=path.name[:200], now=now, created=report.created,
                      updated=report.updated)  # fmt: skip
    report.written = True
    log.info("unit import: %d created, %d updated, %d unchanged",
             report.created, report.updated, report.unchanged)  # fmt: skip
    return report


_UNKNOWN = "\0unknown"  # a parent that names no unit (or several): never a unit code


def _resolve_parent(
    raw: str, in_file: dict[str, _UnitIn], names: dict[str, str | None], index: Any
) -> str | None:
    """The parent's code (casefolded), None for a root, _UNKNOWN when unknown or ambiguous."""
    if not raw:
        return None
    key = raw.strip().casefold()
    if key in in_file:
        return key
    if (code := names.get(name_key(raw))) is not None:
        return code.casefold()
    unit_id, _ambiguous = index.resolve(raw)
    if unit_id is None:
        return _UNKNOWN
    return str(index.code_of[unit_id]).casefold()


def _in_cycle(code: str, parent_of: dict[str, str | None]) -> bool:
    seen = {code}
    parent = parent_of.get(code)
    while parent is not None:
        if parent in seen:
            return True
        seen.add(parent)
        parent = parent_of.get(parent)
    return False


def _kind_label(code: str) -> str:
    return UNIT_KIND.label(code) if code in UNIT_KIND else code


def _shown_code(code: str | None, *tables: dict[str, Any]) -> str:
    for table in tables:
        if code in table:
            return str(table[code].code)
    return code or ""


# --- export ---------------------------------------------------------------------------------


async def export_units(session: AsyncSession, *, path: Path) -> int:
    """Write the active units, parents before children, as a unit list that imports back
    unchanged; returns how many."""
    units = list((await session.execute(select(Unit).where(Unit.active.is_(True)))).scalars())
    by_id = {u.id: u for u in units}
    children: dict[int | None, list[Unit]] = {}
    for u in units:
        parent = u.parent_id if u.parent_id in by_id else None
        children.setdefault(parent, []).append(u)
    ordered: list[Unit] = []
    stack = sorted(children.get(None, []), key=lambda u: u.code, reverse=True)
    while stack:
        unit = stack.pop()
        ordered.append(unit)
        stack.extend(sorted(children.get(unit.id, []), key=lambda u: u.code, reverse=True))
    rows = [
        (u.code, u.name, _kind_label(u.kind), by_id[u.parent_id].code if u.parent_id in by_id
         else "")
        for u in ordered
    ]  # fmt: skip
    headers = [c.vi + (" (*)" if c.required else "") for c in UNIT_COLUMNS]
    await asyncio.to_thread(write_rows_xlsx, path, headers, rows, "Dữ liệu")
    return len(rows)


# --- reorganisation -------------------------------------------------------------------------


@dataclass(frozen=True)
class MergeOutcome:
    into: str
    created: bool
    merged: tuple[str, ...]
    moved: MergeResult


async def _unit(session: AsyncSession, code: str, *, lock: bool = False) -> Unit:
    """An active unit by code; `lock` holds its row until the transaction ends, so two
    administrators changing it at once act one after the other (a no-op on SQLite, whose
    writers queue anyway) and the second sees what the first did."""
    unit = await UnitRepo(session).by_code(code, lock=lock)
    if unit is None or not unit.active:
        raise DomainError(Refusal.NOT_FOUND, what="unit", unit=code)
    return unit


async def merge_units(
    session: AsyncSession,
    *,
    olds: list[str],
    into: str,
    name: str | None,
    parent: str | None,
    kind: str | None,
    actor: str,
    now: datetime,
) -> MergeOutcome:
    """Merge units into one (created when new); everything they hold moves to it.

    Raises DomainError: NOT_FOUND (what=unit, code) for an unknown or inactive unit or
    parent; INVALID for a new unit without a name, or a unit merged into itself.
    """
    # Locked in code order, so two merges sharing units cannot wait on each other forever.
    locked = {code: await _unit(session, code, lock=True) for code in sorted(set(olds))}
    sources = [locked[code] for code in dict.fromkeys(olds)]
    repo = UnitRepo(session)
    target = await repo.by_code(into)
    created = target is None
    parent_unit = await _unit(session, parent) if parent else None
    if target is None:
        if not name:
            raise DomainError(Refusal.INVALID, what="name")
        target = await repo.create(
            code=into, name=name, kind=kind or sources[0].kind,
            parent_id=parent_unit.id if parent_unit else sources[0].parent_id,
        )  # fmt: skip
    else:
        if not target.active:
            raise DomainError(Refusal.NOT_FOUND, what="unit", unit=into)
        if name:
            target.name = name
        if parent_unit is not None:
            target.parent_id = parent_unit.id
        if kind:
            target.kind = kind
    if any(s.id == target.id for s in sources):
        raise DomainError(Refusal.INVALID, what="into")
    for source in sources:
        below = await roles.subtree(session, [source.id])
        if parent_unit is not None and (parent_unit.id in below or parent_unit.id == target.id):
            raise DomainError(Refusal.INVALID, what="cycle")
        if target.id in below and parent_unit is None:
            # A unit inside a merged one takes its place, or the children moved to it would
            # hang the tree in a loop (A → C → NEW: C moves under NEW, still under C).
            target.parent_id = source.parent_id
    total = MergeResult(0, 0, 0, 0, 0, 0)
    for source in sources:
        total = total + await repo.merge(source, target)
    await roles.audit(
        session, actor_person_id=None, actor=actor, action="units.merge",
        target=f"{', '.join(s.code for s in sources)} → {target.code}"[:200], now=now,
        created=created, people=total.people, courses=total.courses,
        roles=total.roles, secondments=total.secondments, plans=total.plans,
    )  # fmt: skip
    return MergeOutcome(target.code, created, tuple(s.code for s in sources), total)


async def rename_unit(
    session: AsyncSession, *, code: str, name: str, actor: str, now: datetime
) -> str:
    """Rename a unit; returns the old name."""
    unit = await _unit(session, code, lock=True)
    name = " ".join(name.split())
    if not name or len(name) > 200:
        raise DomainError(Refusal.INVALID, what="name")
    old = unit.name
    unit.name = name
    await session.flush()
    await roles.audit(session, actor_person_id=None, actor=actor, action="units.rename",
                      target=unit.code, now=now, old=old, new=name)  # fmt: skip
    return old


async def move_unit(
    session: AsyncSession, *, code: str, parent: str | None, actor: str, now: datetime
) -> None:
    """Put a unit under another parent (None: make it a root); refuses a cycle."""
    unit = await _unit(session, code, lock=True)
    target = await _unit(session, parent) if parent else None
    if target is not None:
        ancestor: Unit | None = target
        while ancestor is not None:
            if ancestor.id == unit.id:
                raise DomainError(Refusal.INVALID, what="cycle")
            ancestor = await session.get(Unit, ancestor.parent_id) if ancestor.parent_id else None
    unit.parent_id = target.id if target else None
    await session.flush()
    await roles.audit(
        session, actor_person_id=None, actor=actor, action="units.move", target=unit.code,
        now=now, parent=target.code if target else None,
    )  # fmt: skip


async def close_unit(
    session: AsyncSession, *, code: str, actor: str, now: datetime, limit: int = 20
) -> list[str]:
    """Close a unit that no longer has people or active sub-units.

    Returns [] when closed; otherwise who remains ("Name (personal ID)" for people, the code
    of each sub-unit), up to `limit`, and nothing changes.
    """
    unit = await _unit(session, code, lock=True)
    people = (
        await session.execute(
            select(Person.full_name, Person.personal_id)
            .where(Person.unit_id == unit.id, Person.active.is_(True))
            .order_by(Person.full_name)
            .limit(limit)
        )
    ).all()
    children = (
        await session.execute(
            select(Unit.code).where(Unit.parent_id == unit.id, Unit.active.is_(True)).limit(limit)
        )
    ).scalars()
    remaining = [f"{n} ({pid})" for n, pid in people] + list(children)
    if remaining:
        await roles.audit(session, actor_person_id=None, actor=actor, action="units.close",
                          target=unit.code, result="refused", now=now,
                          remaining=len(remaining))  # fmt: skip
        return remaining
    unit.active = False
    await session.flush()
    await roles.audit(session, actor_person_id=None, actor=actor, action="units.close",
                      target=unit.code, now=now)  # fmt: skip
    return []


__all__ = [
    "UNIT_COLUMNS",
    "MergeOutcome",
    "close_unit",
    "export_units",
    "import_units",
    "merge_units",
    "move_unit",
    "rename_unit",
    "write_units_template",
]
