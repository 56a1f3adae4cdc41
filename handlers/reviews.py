"""/reviews: an organizer records the outcome of a secondment's review meeting.

The list shows the secondments and rotations touching the organizer's units, the most urgent
meeting first; a choice gives the rating, the next message the meeting's conclusions (or
/skip, or the choice to record none, which a channel without commands can pick). Recording
moves the next review date N months on. Every step is one guarded action.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from domain import secondments
from domain.roles import Scope
from domain.secondments import REVIEW_RATING, ReviewItem
from handlers import actions as cb
from handlers.core import Choice, Ctx, Say
from handlers.guard import Refused, allowed, guarded
from handlers.render import short

SHOWN = 20  # choices in one list
RATINGS = [t.code for t in REVIEW_RATING]
NOTE = "reviews.note"  # the meeting's conclusions, typed as the next message


def _today(ctx: Ctx) -> date:
    return ctx.now.astimezone(ctx.settings.tz).date()


async def listing(ctx: Ctx, arg: str) -> list[Say]:
    """List the review meetings of the organizer's units, most urgent first."""
    today = _today(ctx)

    async def meetings(session: AsyncSession, scope: Scope) -> list[ReviewItem]:
        return await secondments.reviews_for(session, actor_id=ctx.person_id, today=today)

    items = await guarded(ctx, "reviews", meetings)
    if isinstance(items, Refused):
        return items.said()
    t = ctx.t
    if not items:
        return [Say(t.gettext("No secondment or rotation is under way in your units."))]
    choices = []
    for item in items[:SHOWN]:
        mark = "❗" if item.due < today else "🗓"
        label = f"{mark} {t.date(item.due)} · {short(item.name, 24)} · {short(item.host, 20)}"
        choices.append(Choice(label, cb.build(cb.REVIEW_VIEW, item.secondment_id)))
    text = t.gettext("<b>Review meetings</b> (❗ overdue). Choose one to record its outcome.")
    return [Say(text, choices)]


async def ratings(ctx: Ctx, arg: str) -> list[Say]:
    """Offer the four ratings of the meeting."""
    gate = await allowed(ctx, "reviews")
    if isinstance(gate, Refused):
        return gate.shown()
    sid = int(arg)
    choices = [
        Choice(REVIEW_RATING.label(code, ctx.t.lang), cb.build(cb.REVIEW_RATE, f"{sid}:{i}"))
        for i, code in enumerate(RATINGS)
    ]
    return [Say(ctx._("How did the person do?"), choices)]


def _rating(arg: str) -> tuple[int, str]:
    """The secondment and the rating of "<secondment>:<rating index>"."""
    sid, _sep, index = arg.partition(":")
    if not index.isdigit() or int(index) >= len(RATINGS):
        raise ValueError(arg)
    return int(sid), RATINGS[int(index)]


async def rated(ctx: Ctx, arg: str) -> list[Say]:
    """Keep the rating and ask for the meeting's conclusions."""
    gate = await allowed(ctx, "reviews")
    if isinstance(gate, Refused):
        return gate.shown()
    sid, rating = _rating(arg)
    ctx.expect(NOTE, secondment=sid, rating=rating)
    text = ctx._("Write the meeting's conclusions in one message, or send /skip.")
    return [Say(text, [Choice(ctx._("Record without conclusions"),
                              cb.build(cb.REVIEW_SKIP, arg))])]  # fmt: skip


async def without_note(ctx: Ctx, arg: str) -> list[Say]:
    """Record the meeting with no conclusions (the choice under the question), while its
    conclusions are still owed: a meeting is recorded once."""
    sid, rating = _rating(arg)
    owed = ctx.step(NOTE)
    if owed is None or (owed[1].get("secondment"), owed[1].get("rating")) != (sid, rating):
        return [Say(alert=ctx._("This review no longer waits for its conclusions. Send /reviews "
                                "to record a meeting."))]
    ctx.expect(None)  # a pressed button leaves the typed step owed
    return await _record(ctx, sid, rating, "")


async def noted(ctx: Ctx, step: str, data: dict[str, Any], text: str) -> list[Say]:
    """Record the meeting with the typed conclusions (or none after /skip)."""
    note = "" if text.strip().lower() == "/skip" else text.strip()
    return await _record(ctx, int(data["secondment"]), str(data["rating"]), note)


async def _record(ctx: Ctx, sid: int, rating: str, note: str) -> list[Say]:
    today = _today(ctx)

    async def record(session: AsyncSession, scope: Scope) -> date | None:
        return await secondments.review_as_organizer(
            session, actor_id=ctx.person_id, secondment_id=sid, rating=rating, note=note,
            today=today, now=ctx.now,
        )  # fmt: skip

    nxt = await guarded(ctx, "secondment.review", record)
    if isinstance(nxt, Refused):
        return nxt.said()
    t = ctx.t
    done = t.gettext("✅ Review recorded.")
    if nxt is not None:
        done += " " + t.gettext("Next review meeting: %(review)s") % {"review": t.date(nxt)}
    return [Say(done)]
