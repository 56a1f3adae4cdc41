"""Who may do what: roles scoped to a unit subtree, checked on the server for every step,
and the audit log every organizer action (allowed or refused) leaves behind."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain import unit_search
from domain.errors import DomainError, Refusal
from storage.models import AuditEntry, Person, Role, RoleGrant, Unit
from storage.repos.people import PeopleRepo

log = logging.getLogger(__name__)

# What each role also allows: an administrator can do everything an organizer or a unit
# head can, everywhere; an organizer can do what a unit head can in their subtree.
IMPLIES: dict[Role, tuple[Role, ...]] = {
    Role.ADMIN: (Role.ADMIN, Role.ORGANIZER, Role.UNIT_HEAD),
    Role.ORGANIZER: (Role.ORGANIZER, Role.UNIT_HEAD),
    Role.UNIT_HEAD: (Role.UNIT_HEAD,),
}


@dataclass(frozen=True)
class Scope:
    """Where a role holder may act: everywhere, or in these units (subtrees included)."""

    person_id: int
    role: Role
    everywhere: bool
    unit_ids: frozenset[int]

    def covers(self, unit_id: int | None) -> bool:
        return self.everywhere or (unit_id is not None and unit_id in self.unit_ids)


async def subtree(session: AsyncSession, roots: Iterable[int]) -> frozenset[int]:
    """The units below `roots`, roots included, at any depth (one recursive query)."""
    roots = list(roots)
    if not roots:
        return frozenset()
    tree = select(Unit.id).where(Unit.id.in_(roots)).cte("tree", recursive=True)
    tree = tree.union(select(Unit.id).where(Unit.parent_id == tree.c.id))
    return frozenset((await session.execute(select(tree.c.id))).scalars())


async def grants_of(session: AsyncSession, person_id: int) -> list[RoleGrant]:
    stmt = select(RoleGrant).where(RoleGrant.person_id == person_id).order_by(RoleGrant.id)
    return list((await session.execute(stmt)).scalars())


async def holders(session: AsyncSession) -> list[int]:
    """Everyone who holds a role, by person id."""
    stmt = select(RoleGrant.person_id).distinct().order_by(RoleGrant.person_id)
    return list((await session.execute(stmt)).scalars())


async def scope(session: AsyncSession, *, person_id: int | None, role: Role) -> Scope | None:
    """The person's scope for `role`, or None when they do not hold it (or a higher one)."""
    if person_id is None:
        return None
    grants = [g for g in await grants_of(session, person_id) if role in IMPLIES[g.role]]
    if not grants:
        return None
    if any(g.role == Role.ADMIN or g.unit_id is None for g in grants):
        return Scope(person_id, role, True, frozenset())
    units = await subtree(session, {g.unit_id for g in grants if g.unit_id is not None})
    return Scope(person_id, role, False, units)


async def require(
    session: AsyncSession, *, person_id: int | None, role: Role, unit_id: int | None = None
) -> Scope:
    """The scope, or DomainError(FORBIDDEN) when the person may not act (there)."""
    found = await scope(session, person_id=person_id, role=role)
    if found is None or (unit_id is not None and not found.covers(unit_id)):
        raise DomainError(Refusal.FORBIDDEN, role=role.value)
    return found


async def grant(
    session: AsyncSession, *, person_id: int, role: Role, unit_id: int | None, by: str
) -> bool:
    """Give a role (an administrator's has no unit); False when the person already has it."""
    if role == Role.ADMIN:
        unit_id = None
    elif unit_id is None:
        raise DomainError(Refusal.NOT_FOUND, what="unit")
    existing = (
        await session.execute(
            select(RoleGrant).where(
                RoleGrant.person_id == person_id,
                RoleGrant.role == role,
                RoleGrant.unit_id.is_(None) if unit_id is None else RoleGrant.unit_id == unit_id,
            )
        )
    ).scalar_one_or_none()
    if existing is not None:
        return False
    session.add(RoleGrant(person_id=person_id, role=role, unit_id=unit_id, granted_by=by))
    await session.flush()
    return True


async def revoke(session: AsyncSession, *, person_id: int, role: Role, unit_id: int | None) -> int:
    """Take a role away (from every unit when `unit_id` is None); returns how many went."""
    stmt = select(RoleGrant).where(RoleGrant.person_id == person_id, RoleGrant.role == role)
    if unit_id is not None:
        stmt = stmt.where(RoleGrant.unit_id == unit_id)
    rows = list((await session.execute(stmt)).scalars())
    for row in rows:
        await session.delete(row)
    await session.flush()
    return len(rows)


async def audit(
    session: AsyncSession,
    *,
    actor_person_id: int | None,
    actor: str,
    action: str,
    target: str = "",
    result: str = "ok",
    now: datetime | None = None,
    **details: Any,
) -> None:
    """Record an organizer action; refusals are recorded too (and logged as warnings)."""
    if result == "refused":
        log.warning("refused %s by %s on %s", action, actor, target or "-")
    entry = AuditEntry(
        actor_person_id=actor_person_id,
        actor=actor[:120],
        action=action[:40],
        target=target[:200],
        result=result,
        details=details,
    )
    if now is not None:
        entry.at = now
    session.add(entry)
    await session.flush()


async def actor_label(session: AsyncSession, person_id: int | None) -> str:
    """How the audit log names a person: name and personal ID."""
    person = await session.get(Person, person_id) if person_id is not None else None
    return f"{person.full_name} ({person.personal_id})" if person else "unknown"


async def recent_audit(session: AsyncSession, *, limit: int = 20) -> list[AuditEntry]:
    stmt = select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)
    return list((await session.execute(stmt)).scalars())


async def change_role(
    session: AsyncSession,
    *,
    actor_person_id: int | None,
    actor: str,
    personal_id: str,
    role: Role,
    unit_code: str | None,
    give: bool,
) -> bool:
    """Grant or revoke a role by personal ID and unit (its code or part of its name),
    audited; False if nothing changed.

    Raises DomainError(NOT_FOUND) naming what was not found ("person" or "unit"); a unit
    name several units share comes with their `matches`, to choose from by code.
    """
    person = await PeopleRepo(session).by_personal_id(personal_id)
    if person is None:
        raise DomainError(Refusal.NOT_FOUND, what="person")
    unit_id = None
    if unit_code:
        matches = await unit_search.find(session, unit_code)
        if len(matches) != 1:
            raise DomainError(Refusal.NOT_FOUND, what="unit", matches=matches)
        unit_id, unit_code = matches[0].id, matches[0].code
    if give:
        changed = await grant(session, person_id=person.id, role=role, unit_id=unit_id, by=actor)
    else:
        changed = await revoke(session, person_id=person.id, role=role, unit_id=unit_id) > 0
    await audit(
        session,
        actor_person_id=actor_person_id,
        actor=actor,
        action="grant" if give else "revoke",
        target=f"{person.full_name} ({personal_id}): {role.value}"
        + (f" @ {unit_code}" if unit_code else ""),
        result="ok" if changed else "unchanged",
    )
    return changed
