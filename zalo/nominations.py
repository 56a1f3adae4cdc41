"""Answering a nomination on Zalo: the counterpart of handlers/nominations.py for the person
nominated. Confirm and decline are numbered choices; declining asks for the reason as the
chat's next message (zalo/conversation.py hands it over), or without one.
"""

from __future__ import annotations

from html import escape

from domain import nominations
from domain.errors import DomainError
from handlers.render import refusal
from zalo.dialog import Choice
from zalo.flows import Ctx, Say, main_menu, not_linked, registered

REASON = "reason"  # the chat owes why it declines a nomination; data: {"course": id}


async def accept_nomination(ctx: Ctx, arg: str) -> list[Say]:
    """Confirm a nomination: the held seat becomes a registration."""
    if ctx.person_id is None:
        return not_linked(ctx)
    try:
        async with ctx.db.begin() as session:
            done = await nominations.answer(
                session,
                person_id=ctx.person_id,
                course_id=int(arg),
                accept=True,
                reason=None,
                now=ctx.now,
                policy=ctx.settings.reminder_policy(),
            )
    except DomainError as error:
        return [Say(refusal(ctx.t, error))]
    return [Say(registered(ctx.t, done.course), main_menu(ctx.t))]


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
        return [Say(refusal(ctx.t, error))]
    _ = ctx._
    cid = pending.course.id
    ctx.dialogs.expect(ctx.chat_id, REASON, ctx.now, course=str(cid))
    text = _(
        "Why do you decline <b>%(title)s</b>? Type the reason in one message, or choose below."
    ) % {"title": escape(pending.course.title)}
    choices = [
        Choice(_("Decline without a reason"), f"nomskip:{cid}"),
        Choice(_("No, keep it"), "no"),
    ]
    return [Say(text, choices)]


async def decline_without_reason(ctx: Ctx, arg: str) -> list[Say]:
    return await decline_nomination(ctx, arg, None)


async def decline_nomination(ctx: Ctx, arg: str, reason: str | None) -> list[Say]:
    """Decline: the seat goes to the waitlist and the domain tells the nominator why."""
    if ctx.person_id is None:
        return not_linked(ctx)
    try:
        async with ctx.db.begin() as session:
            done = await nominations.answer(
                session,
                person_id=ctx.person_id,
                course_id=int(arg),
                accept=False,
                reason=reason,
                now=ctx.now,
                policy=ctx.settings.reminder_policy(),
            )
    except DomainError as error:
        return [Say(refusal(ctx.t, error))]
    text = ctx._("Declined: %(title)s.") % {"title": escape(done.course.title)}
    return [Say(text, main_menu(ctx.t))]
