"""/status: the standards of the person's position and how they stand against each."""

from __future__ import annotations

from domain.secondments import current_postings
from domain.standards import status_of
from handlers import actions as cb
from handlers.core import Choice, Ctx, Say
from handlers.flows import not_linked
from handlers.render import postings_text, status_text
from storage.db import reading


async def status(ctx: Ctx, arg: str) -> list[Say]:
    """Show each applicable standard with its state, basis and courses that close gaps."""
    if ctx.person_id is None:
        return not_linked(ctx)
    today = ctx.now.astimezone(ctx.settings.tz).date()
    async with reading(ctx.db) as session:
        statuses = await status_of(
            session,
            person_id=ctx.person_id,
            now=ctx.now,
            today=today,
            hours_target=ctx.settings.annual_hours_target,
        )
        postings = await current_postings(session, person_id=ctx.person_id, today=today)
    text, choices = status_text(ctx.t, statuses)
    if postings:
        text = postings_text(ctx.t, postings) + "\n\n" + text
    claim = ctx._("✏️ Report a mistake or claim a qualification")
    choices.append(Choice(claim, cb.build(cb.CLAIM_START)))
    return [Say(text, choices)]
