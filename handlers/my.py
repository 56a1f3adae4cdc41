"""/my: upcoming registrations, waitlist places, and this year's completed training."""

from __future__ import annotations

from domain.records import overview
from handlers import actions as cb
from handlers.core import Choice, Ctx, Menu, Say
from handlers.flows import not_linked
from handlers.render import my_text, short
from storage.db import reading


async def my(ctx: Ctx, arg: str) -> list[Say]:
    """Show what the person is registered for and their training hours this year; each
    upcoming course is a choice that opens its card (the main menu where there is none)."""
    if ctx.person_id is None:
        return not_linked(ctx)
    async with reading(ctx.db) as session:
        view = await overview(
            session,
            person_id=ctx.person_id,
            now=ctx.now,
            hours_target=ctx.settings.annual_hours_target,
        )
    choices = [
        Choice(short(i.course.title), cb.build(cb.COURSE, i.course.id), aliases=(i.course.title,))
        for i in view.upcoming
    ]
    return [Say(my_text(ctx.t, view), choices, menu=Menu.MAIN)]
