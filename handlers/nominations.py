"""Answering a nomination, and deciding on a registration request. Confirm (or approve) and
decline are choices; declining asks for the reason as the chat's next message (an owed step,
handlers/router.py), or declines without one.

A unit head's every step is checked on the server: the role here (a refusal is audited), the
scope and the request's state by the domain.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from html import escape

from domain import nominations, roles
from domain.errors import DomainError
from handlers import actions as cb
from handlers.core import Choice, Ctx, Menu, Say
from handlers.flows import not_linked, registered
from handlers.render import refusal, refusal_alert
from storage.models import Course, Role

REASON = "reason"  # the chat owes why it declines; data: {"declining": NOMINATION | APPROVAL, "id"}
NOMINATION = "nomination"  # id: the course the person was nominated for
APPROVAL = "approval"  # id: the registration awaiting the unit head
# A reason is owed briefly: text typed later (a search, say) must not decline anything.
REASON_TTL = timedelta(minutes=5)


async def require_role(ctx: Ctx, role: Role, action: str) -> list[Say] | None:
    """None when the person holds `role`; otherwise the refusal to send, audited and logged."""
    async with ctx.db.begin() as session:
        try:
            await roles.require(session, person_id=ctx.person_id, role=role)
            return None
        except DomainError as error:
            refused = error
            await roles.audit(
                session,
                actor_person_id=ctx.person_id,
                actor=ctx.actor,
                action=action,
                result="refused",
                role=role.value,
            )
    return [Say(refusal(ctx.t, refused), alert=refusal_alert(ctx.t, refused))]


def _failed(ctx: Ctx, error: DomainError) -> list[Say]:
    return [Say(refusal(ctx.t, error), alert=refusal_alert(ctx.t, error))]


def _ask_reason(ctx: Ctx, what: str, ident: int, text: str, skip: str) -> list[Say]:
    """Owe the reason as the chat's next message, or decline without one, or keep it."""
    owe_reason(ctx, {"declining": what, "id": str(ident)})
    choices = [
        Choice(ctx._("Decline without a reason"), cb.build(skip, ident)),
        Choice(ctx._("No, keep it"), cb.build(cb.DISMISS)),
    ]
    return [Say(text, choices)]


def owe_reason(ctx: Ctx, owed: Mapping[str, str]) -> None:
    """The chat's next message, within REASON_TTL, is the reason (a pushed notice drops it)."""
    ctx.dialogs.owe(ctx.chat_id, REASON, ctx.now, owed, ttl=REASON_TTL)


def _declined(ctx: Ctx, course: Course) -> list[Say]:
    ctx.wake()
    text = ctx._("Declined: %(title)s.") % {"title": escape(course.title)}
    return [Say(text, edit=True, menu=Menu.MAIN)]


# -- the nominee answers ----------------------------------------------------------------------


async def _answer(ctx: Ctx, course_id: str, reason: str | None, *, accept: bool) -> list[Say]:
    """Confirm (the held seat becomes a registration) or decline (it goes to the waitlist and
    the domain tells the nominator why)."""
    if ctx.person_id is None:
        return not_linked(ctx)
    try:
        async with ctx.db.begin() as session:
            done = await nominations.answer(
                session,
                person_id=ctx.person_id,
                course_id=int(course_id),
                accept=accept,
                reason=reason,
                now=ctx.now,
                policy=ctx.settings.reminder_policy(),
            )
    except DomainError as error:
        return _failed(ctx, error)
    if accept:
        return registered(ctx, done.course)
    return _declined(ctx, done.course)


async def accept_nomination(ctx: Ctx, arg: str) -> list[Say]:
    return await _answer(ctx, arg, None, accept=True)


async def ask_decline_reason(ctx: Ctx, arg: str) -> list[Say]:
    """Before declining a nomination, ask why: the next typed message is the reason."""
    if ctx.person_id is None:
        return not_linked(ctx)
    try:
        async with ctx.db.begin() as session:
            pending = await nominations.pending_nomination(
                session, person_id=ctx.person_id, course_id=int(arg), now=ctx.now
            )
    except DomainError as error:
        return _failed(ctx, error)
    text = ctx._(
        "Why do you decline <b>%(title)s</b>? Type the reason in one message, or choose below."
    ) % {"title": escape(pending.course.title)}
    return _ask_reason(ctx, NOMINATION, pending.course.id, text, cb.NOM_SKIP)


async def decline_without_reason(ctx: Ctx, arg: str) -> list[Say]:
    return await decline_nomination(ctx, arg, None)


async def decline_nomination(ctx: Ctx, arg: str, reason: str | None) -> list[Say]:
    return await _answer(ctx, arg, reason, accept=False)


# -- the unit head decides ----------------------------------------------------------------------


async def _decide(ctx: Ctx, reg_id: str, reason: str | None, *, approve: bool) -> list[Say]:
    """Approve (the person is registered) or decline (the seat goes to the waitlist) a
    self-registration; the domain tells the person."""
    action = "approve" if approve else "decline"
    if (refused := await require_role(ctx, Role.UNIT_HEAD, action)) is not None:
        return refused
    try:
        async with ctx.db.begin() as session:
            done = await nominations.decide(
                session,
                actor_id=ctx.person_id,
                reg_id=int(reg_id),
                approve=approve,
                reason=reason,
                now=ctx.now,
                policy=ctx.settings.reminder_policy(),
            )
    except DomainError as error:
        return _failed(ctx, error)
    if not approve:
        return _declined(ctx, done.course)
    text = ctx._("✅ Approved: %(who)s is registered for <b>%(title)s</b>.") % {
        "who": escape(done.person_name),
        "title": escape(done.course.title),
    }
    ctx.wake()
    return [Say(text, edit=True, menu=Menu.MAIN)]


async def approve_request(ctx: Ctx, arg: str) -> list[Say]:
    return await _decide(ctx, arg, None, approve=True)


async def ask_request_reason(ctx: Ctx, arg: str) -> list[Say]:
    """Before declining a self-registration, ask why: the next typed message is the reason."""
    if (refused := await require_role(ctx, Role.UNIT_HEAD, "decline")) is not None:
        return refused
    try:
        async with ctx.db.begin() as session:
            pending = await nominations.pending_approval(
                session, actor_id=ctx.person_id, reg_id=int(arg), now=ctx.now
            )
    except DomainError as error:
        return _failed(ctx, error)
    text = ctx._(
        "Why decline <b>%(title)s</b> for %(who)s? Type the reason in one message, or choose below."
    ) % {"title": escape(pending.course.title), "who": escape(pending.person_name)}
    return _ask_reason(ctx, APPROVAL, int(arg), text, cb.APPROVE_SKIP)


async def decline_request_without_reason(ctx: Ctx, arg: str) -> list[Say]:
    return await decline_request(ctx, arg, None)


async def decline_request(ctx: Ctx, arg: str, reason: str | None) -> list[Say]:
    return await _decide(ctx, arg, reason, approve=False)


# -- the reason typed as the next message -------------------------------------------------------

_DECLINES: dict[str, Callable[[Ctx, str, str | None], Awaitable[list[Say]]]] = {
    NOMINATION: decline_nomination,
    APPROVAL: decline_request,
}


async def decline_owed(ctx: Ctx, owed: Mapping[str, str], reason: str) -> list[Say]:
    """Decline what the chat was asked a reason for (REASON's data), with this reason;
    "/skip" declines without one, "/cancel" keeps it."""
    word = reason.strip().lower()
    if word == "/cancel":
        return [Say(ctx._("OK, nothing changed."), menu=Menu.MAIN)]
    given = None if word == "/skip" else reason
    return await _DECLINES[owed["declining"]](ctx, owed["id"], given)
