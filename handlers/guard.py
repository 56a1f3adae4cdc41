"""One guarded action for organizer and administrator steps, on every channel: the role
check and the domain call in one transaction, then the result, or the refusal worded for the
person (a pop-up answering a pressed choice, a message otherwise) and audited once, the actor
named as `ctx.actor` ("telegram:123", "zalo:abc")."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from html import unescape
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from domain import roles
from domain.errors import DomainError, Refusal
from handlers.core import Ctx, Say
from handlers.render import refusal
from locales import Translator
from storage.models import Role

T = TypeVar("T")
Wording = Callable[[Translator, DomainError], str]
Call = Callable[[AsyncSession, roles.Scope], Awaitable[T]]


@dataclass(frozen=True)
class Refused:
    """What to answer instead of a result."""

    says: list[Say]


async def role_only(session: AsyncSession, scope: roles.Scope) -> roles.Scope:
    """The call of a step that only passes the gate (e.g. the question that opens a flow)."""
    return scope


async def guarded(
    ctx: Ctx,
    role: Role,
    action: str,
    call: Call[T],
    *,
    alert: bool = False,
    wording: Wording = refusal,
    audit: str | None = None,
) -> T | Refused:
    """`call(session, scope)` for a holder of `role`, in one transaction; `audit` (a target)
    records the success too. A refusal is answered as `wording` puts it, as a pop-up when
    `alert` (a pressed choice), and audited when it is one of role or scope."""
    try:
        async with ctx.db.begin() as session:
            scope = await roles.require(session, person_id=ctx.person_id, role=role)
            result = await call(session, scope)
            if audit is not None:
                await roles.audit(session, actor_person_id=ctx.person_id, actor=ctx.actor,
                                  action=action, target=audit)  # fmt: skip
            return result
    except DomainError as error:
        if error.code == Refusal.FORBIDDEN:
            async with ctx.db.begin() as session:
                await roles.audit(
                    session,
                    actor_person_id=ctx.person_id,
                    actor=ctx.actor,
                    action=action,
                    result="refused",
                    target=str(error.details.get("value", "")),
                    role=role.value,
                )
        text = wording(ctx.t, error)
    if alert:
        return Refused([Say(alert=unescape(text)[:200])])
    return Refused([Say(text)])
