"""One guarded action for organizer and administrator steps, on every channel.

Every step (a command, a picked choice, a typed answer) runs the same way: the role check,
then the domain call in the same transaction, then its result, or the refusal worded in the
person's language. A refusal of the role or of the scope (a course of another unit) leaves
one audit entry naming the actor as the channel knows them (`ctx.actor`: "telegram:123",
"zalo:abc"); what an allowed call changes, the domain audits in that same transaction.

The server checks again at every step, so a replayed or forged choice is refused like a
typed command.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from domain import roles
from domain.course_draft import Invalid
from domain.errors import DomainError, Refusal
from handlers.core import Ctx, Say
from handlers.dialog import plain
from handlers.organizer import invalid_text
from handlers.render import refusal
from locales import Translator
from storage.models import Role

T = TypeVar("T")
Call = Callable[[AsyncSession, roles.Scope], Awaitable[T]]
Words = Callable[[Translator, DomainError], str]
ALERT_MAX = 200  # characters of a pop-up answering a pressed button (Telegram)


@dataclass(frozen=True)
class Refused:
    """Why a step was not done: as a message (HTML) and as a short plain notice."""

    text: str
    alert: str
    forbidden: bool = False  # the role or the scope: the person may not do this at all

    def said(self) -> list[Say]:
        """The refusal as the answer to typed text."""
        return [Say(self.text)]

    def shown(self) -> list[Say]:
        """The refusal answering a picked choice (a pop-up), or a command (a message)."""
        return [Say(alert=self.alert)]


def _refused(text: str, *, forbidden: bool = False) -> Refused:
    return Refused(text, plain(text)[:ALERT_MAX], forbidden)


async def guarded(
    ctx: Ctx,
    action: str,
    call: Call[T],
    *,
    role: Role = Role.ORGANIZER,
    unit_id: int | None = None,
    words: Words = refusal,
) -> T | Refused:
    """Run `call` for a holder of `role` (in `unit_id`'s subtree when given) in one
    transaction with the role check; a refusal is worded (by `words`) and, when it is the
    role or the scope, audited as `action`."""
    try:
        async with ctx.db.begin() as session:
            scope = await roles.require(
                session, person_id=ctx.person_id, role=role, unit_id=unit_id
            )
            return await call(session, scope)
    except DomainError as error:
        forbidden = error.code == Refusal.FORBIDDEN
        if forbidden:
            async with ctx.db.begin() as session:
                await roles.audit(
                    session,
                    actor_person_id=ctx.person_id,
                    actor=ctx.actor,
                    action=action,
                    # the course, or the unit out of scope (a broadcast's audience)
                    target=str(error.details.get("course") or error.details.get("value", "")),
                    result="refused",
                    role=role.value,
                )
        return _refused(words(ctx.t, error), forbidden=forbidden)
    except Invalid as error:
        return _refused(invalid_text(ctx.t, error))


async def _scope(session: AsyncSession, scope: roles.Scope) -> roles.Scope:
    return scope


async def allowed(
    ctx: Ctx, action: str, *, role: Role = Role.ORGANIZER, unit_id: int | None = None
) -> roles.Scope | Refused:
    """The person's scope for `role`, or the refusal (audited): the gate alone, for a step
    whose work needs no transaction of its own yet."""
    return await guarded(ctx, action, _scope, role=role, unit_id=unit_id)
