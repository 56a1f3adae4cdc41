"""Roster writes: units, positions and people in bulk, for imports and administration.

Imports touch thousands of rows, so these helpers read and write with set-based statements
(IN-lists chunked for SQLite's bound-variable limit, executemany INSERT/UPDATE) and hand back
plain dicts instead of ORM objects. Like every repository they flush, never commit.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import astuple, dataclass
from typing import Any, TypeVar, cast

from sqlalchemy import Table, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    Course,
    Person,
    Position,
    Qualification,
    Role,
    RoleGrant,
    Secondment,
    StandardRule,
    TrainingPlan,
    Unit,
)

log = logging.getLogger(__name__)

# SQLite before 3.32 allowed 999 bound variables per statement; 500 leaves room for the
# other parameters of the statement on every version and costs PostgreSQL nothing.
CHUNK = 500
ROSTER_SOURCE = "roster"

T = TypeVar("T")


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def name_key(name: str) -> str:
    """How a unit name is compared: NFC, single spaces, any case, diacritics kept.

    Diacritics stay because "Xã Tân Lập" and "Xã Tân Lạp" can both exist in a province.
    """
    return " ".join(unicodedata.normalize("NFC", name).split()).casefold()


@dataclass(frozen=True)
class UnitIndex:
    """Unit codes and names resolved to the id of the unit now in charge.

    A merged unit resolves to its successor, so rosters still written with pre-merger codes
    land on the right unit. A name shared by several units maps to None (ambiguous).
    """

    by_code: dict[str, int]
    by_name: dict[str, int | None]
    code_of: dict[int, str]

    def resolve(self, raw: str) -> tuple[int | None, bool]:
        """(unit id, ambiguous) for a unit code (any case) or an exact unit name."""
        unit_id = self.by_code.get(raw.strip().casefold())
        if unit_id is not None:
            return unit_id, False
        key = name_key(raw)
        if key not in self.by_name:
            return None, False
        unit_id = self.by_name[key]
        return unit_id, unit_id is None


@dataclass(frozen=True)
class MergeResult:
    people: int
    courses: int
    children: int
    secondments: int
    roles: int = 0
    plans: int = 0

    def __add__(self, other: MergeResult) -> MergeResult:
        return MergeResult(*(a + b for a, b in zip(astuple(self), astuple(other), strict=True)))


class UnitRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_code(self, code: str, *, lock: bool = False) -> Unit | None:
        stmt = select(Unit).where(Unit.code == code)
        if lock:
            stmt = stmt.with_for_update().execution_options(populate_existing=True)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def code_map(self) -> dict[str, int]:
        """Every unit code with its id (merged units included, unresolved)."""
        rows = await self.session.execute(select(Unit.code, Unit.id))
        return {code: unit_id for code, unit_id in rows}

    async def index(self) -> UnitIndex:
        """All units, for resolving import cells in memory (a few thousand rows at most)."""
        stmt = select(Unit.id, Unit.code, Unit.name, Unit.merged_into_id)
        rows = list(await self.session.execute(stmt))
        successor = {uid: merged for uid, _c, _n, merged in rows}

        def final(uid: int) -> int:
            seen = {uid}
            while (nxt := successor.get(uid)) is not None and nxt not in seen:
                seen.add(nxt)
                uid = nxt
            return uid

        by_code: dict[str, int | None] = {}
        by_name: dict[str, int | None] = {}
        for uid, code, name, _m in rows:
            target = final(uid)
            for table, key in ((by_code, code.casefold()), (by_name, name_key(name))):
                if key in table and table[key] != target:
                    table[key] = None
                else:
                    table[key] = target
        codes = {uid: code for uid, code, _n, _m in rows}
        return UnitIndex(
            by_code={k: v for k, v in by_code.items() if v is not None},
            by_name=by_name,
            code_of={uid: codes[final(uid)] for uid in codes},
        )

    async def create(
        self, *, code: str, name: str, kind: str, parent_id: int | None = None
    ) -> Unit:
        unit = Unit(code=code, name=name, kind=kind, parent_id=parent_id, active=True)
        self.session.add(unit)
        await self.session.flush()
        return unit

    async def rename(self, unit: Unit, name: str) -> None:
        unit.name = name
        await self.session.flush()

    async def merge(self, old: Unit, into: Unit) -> MergeResult:
        """Merge `old` into `into`: people, organized courses, child units and secondments
        move; course audiences naming the old code name the new one; `old` stays as an
        inactive pointer so history and old spreadsheets still resolve."""
        if old.id == into.id:
            raise ValueError("a unit cannot be merged into itself")
        s = self.session
        people = await s.execute(
            update(Person).where(Person.unit_id == old.id).values(unit_id=into.id)
        )
        organized = await s.execute(
            update(Course)
            .where(Course.organizer_unit_id == old.id)
            .values(organizer_unit_id=into.id)
        )
        children = await s.execute(
            update(Unit)
            .where(Unit.parent_id == old.id, Unit.id != into.id)
            .values(parent_id=into.id)
        )
        moved = 0
        for column in (Secondment.to_unit_id, Secondment.from_unit_id):
            result = await s.execute(
                update(Secondment).where(column == old.id).values({column.key: into.id})
            )
            moved += _rowcount(result)
        roles = await self._move_grants(old, into)
        plans = await self._move_plans(old, into)
        # Audiences and rule scopes are JSON lists; JSON containment differs between SQLite
        # and PostgreSQL, and courses and rules number in the hundreds, so filter them here.
        courses = _rowcount(organized)
        for row in (await s.execute(select(Course))).scalars():
            if _rename_unit_code(row, "audience", old.code, into.code):
                courses += 1
        for rule in (await s.execute(select(StandardRule))).scalars():
            _rename_unit_code(rule, "applies_to", old.code, into.code)
        if into.parent_id == old.id:
            into.parent_id = old.parent_id  # a child absorbing its parent takes its place
        old.merged_into_id = into.id
        old.active = False
        await s.flush()
        log.info("merged unit %s into %s", old.code, into.code)
        return MergeResult(
            _rowcount(people), courses, _rowcount(children), moved, roles, plans
        )

    async def _move_grants(self, old: Unit, into: Unit) -> int:
        """Role grants on `old` move to `into`; one the person already holds there is dropped."""
        s = self.session
        stmt = select(RoleGrant).where(RoleGrant.unit_id == old.id)
        grants = list((await s.execute(stmt)).scalars())
        held: set[tuple[int, Role]] = set(
            (await s.execute(
                select(RoleGrant.person_id, RoleGrant.role).where(RoleGrant.unit_id == into.id)
            )).all()
        )  # fmt: skip
        for grant in grants:
            if (grant.person_id, grant.role) in held:
                await s.delete(grant)
            else:
                grant.unit_id = into.id
                held.add((grant.person_id, grant.role))
        return len(grants)

    async def _move_plans(self, old: Unit, into: Unit) -> int:
        """Yearly plan figures of `old` move to `into`, added to a figure it has for the year."""
        s = self.session
        plans = list(
            (await s.execute(select(TrainingPlan).where(TrainingPlan.unit_id == old.id))).scalars()
        )
        for plan in plans:
            same = (await s.execute(
                select(TrainingPlan).where(
                    TrainingPlan.unit_id == into.id, TrainingPlan.year == plan.year,
                    TrainingPlan.category.is_(None) if plan.category is None
                    else TrainingPlan.category == plan.category,
                )
            )).scalar_one_or_none()  # fmt: skip
            if same is None:
                plan.unit_id = into.id
            else:
                same.participants += plan.participants
                if plan.courses is not None:
                    same.courses = (same.courses or 0) + plan.courses
                await s.delete(plan)
            await s.flush()
        return len(plans)


class PositionRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_code(self, code: str) -> Position | None:
        stmt = select(Position).where(Position.code == code)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def all(self) -> list[Position]:
        return list((await self.session.execute(select(Position).order_by(Position.id))).scalars())

    async def lookup(self, key: Callable[[str], str]) -> dict[str, int | None]:
        """Code, Vietnamese name and English name, each as `key` makes it (the domain's
        folding: storage knows no text rules) -> position id (None if two share it)."""
        table: dict[str, int | None] = {}
        rows = await self.session.execute(
            select(Position.id, Position.code, Position.name_vi, Position.name_en)
        )
        for pid, *spellings in rows:
            for spelling in spellings:
                folded = key(spelling)
                table[folded] = pid if table.get(folded, pid) == pid else None
        return table

    async def groups(self) -> set[str]:
        return set((await self.session.execute(select(Position.group).distinct())).scalars())


@dataclass(frozen=True)
class QualRow:
    kind: str
    level: str
    field: str
    source: str


class PersonRepo:
    """Bulk reads and writes of people and their roster-sourced qualifications."""

    COLUMNS = (
        "full_name", "date_of_birth", "gender", "phone", "unit_id", "position_id",
        "job_position", "joined_on", "general_education", "active", "person_type",
        "civil_service_rank", "old_id_number",
    )  # fmt: skip

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def existing(self, personal_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """personal_id -> {"id": ..., and every column in COLUMNS} for those on file."""
        wanted = sorted(set(personal_ids))
        cols = [Person.id, Person.personal_id, *(getattr(Person, c) for c in self.COLUMNS)]
        found: dict[str, dict[str, Any]] = {}
        for part in chunks(wanted):
            stmt = select(*cols).where(Person.personal_id.in_(part))
            for row in await self.session.execute(stmt):
                values = row._asdict()
                found[values.pop("personal_id")] = values
        return found

    async def phone_holders(
        self, phones: dict[str, tuple[int, str]], *, exclude: set[str]
    ) -> list[tuple[int, str, str]]:
        """Phones of a file (phone -> (row, personal ID)) already on another active person who
        is not in the file (`exclude`): (row, personal ID, "Name (their personal ID)")."""
        found: list[tuple[int, str, str]] = []
        wanted = sorted(phones)
        cols = (Person.phone, Person.personal_id, Person.full_name)
        for part in chunks(wanted):
            stmt = select(*cols).where(Person.phone.in_(part), Person.active.is_(True))
            for phone, holder_id, name in await self.session.execute(stmt):
                row, personal_id = phones[str(phone)]
                if holder_id != personal_id and holder_id not in exclude:
                    found.append((row, personal_id, f"{name} ({holder_id})"))
        return sorted(found)

    async def qualifications(self, person_ids: Iterable[int]) -> dict[int, list[QualRow]]:
        ids = sorted(set(person_ids))
        result: dict[int, list[QualRow]] = {pid: [] for pid in ids}
        cols = (Qualification.person_id, Qualification.kind, Qualification.level,
                Qualification.field, Qualification.source)  # fmt: skip
        for part in chunks(ids):
            for pid, kind, level, fld, source in await self.session.execute(
                select(*cols).where(Qualification.person_id.in_(part))
            ):
                result[pid].append(QualRow(kind, level, fld, source))
        return result

    async def insert_many(self, rows: Sequence[dict[str, Any]]) -> dict[str, int]:
        """Insert people (dicts with personal_id and COLUMNS); returns personal_id -> id."""
        if not rows:
            return {}
        # A plain Core executemany, then the ids by personal ID: INSERT .. RETURNING over tens of
        # thousands of rows spends its time splicing the returned batches together (measured:
        # 24 of 31 s for 5,000 people on SQLite), the ids' SELECT takes milliseconds.
        await self.session.execute(insert(_table(Person)), list(rows))
        found = await self.existing(r["personal_id"] for r in rows)
        return {personal_id: values["id"] for personal_id, values in found.items()}

    async def update_many(self, rows: Sequence[dict[str, Any]]) -> None:
        """Update people by primary key; every dict carries "id" and the same other keys."""
        if rows:
            await self.session.execute(update(Person), list(rows))

    async def replace_roster_qualifications(
        self, person_ids: Sequence[int], kinds: Sequence[str], rows: Sequence[dict[str, Any]]
    ) -> None:
        """Delete the people's roster-sourced qualifications of `kinds`, then insert `rows`.

        Qualifications from courses or approved claims are never touched; the caller leaves
        out rows that would duplicate one of them.
        """
        if kinds:
            for part in chunks(person_ids):
                await self.session.execute(
                    delete(Qualification).where(
                        Qualification.person_id.in_(part),
                        Qualification.source == ROSTER_SOURCE,
                        Qualification.kind.in_(kinds),
                    )
                )
        if rows:
            await self.session.execute(
                insert(_table(Qualification)), [{**r, "source": ROSTER_SOURCE} for r in rows]
            )


def _rename_unit_code(row: Any, attr: str, old: str, new: str) -> bool:
    """Replace a unit code in a JSON scope's "units" list; True when it was there."""
    scope = getattr(row, attr) or {}
    units = list(scope.get("units") or [])
    if old not in units:
        return False
    units = [new if u == old else u for u in units]
    setattr(row, attr, {**scope, "units": list(dict.fromkeys(units))})
    return True


def _table(model: type[Any]) -> Table:
    """The model's table, for Core inserts (the ORM's bulk path costs ~2× on big imports)."""
    return cast(Table, model.__table__)


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
