"""/reviews: an organizer records the outcome of a secondment's review meeting.

The list shows the secondments and rotations touching the organizer's units, the most
urgent meeting first; a button gives the rating, the next message the meeting's
conclusions (or /skip). Recording moves the next review date N months on.
"""

from __future__ import annotations

import enum
import warnings
from datetime import date, timedelta

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)
from telegram.warnings import PTBUserWarning

from bot.context import BotContext
from bot.telegram.common import reply, require_role
from domain import secondments
from domain.errors import DomainError
from domain.secondments import REVIEW_RATING
from handlers import actions as cb
from handlers.render import refusal, short
from storage.models import Role

SHOWN = 20  # buttons in one list
RATINGS = [t.code for t in REVIEW_RATING]


class Step(enum.IntEnum):
    NOTE = 1


def _today(context: BotContext) -> date:
    return context.now().astimezone(context.settings.tz).date()


async def listing(update: Update, context: BotContext) -> None:
    """List the review meetings of the organizer's units, most urgent first."""
    if await require_role(update, context, Role.ORGANIZER, "reviews") is None:
        return
    today = _today(context)
    async with context.db.begin() as session:
        items = await secondments.reviews_for(session, actor_id=context.person_id, today=today)
    t = context.t
    if not items:
        await reply(update, t.gettext("No secondment or rotation is under way in your units."))
        return
    rows = []
    for item in items[:SHOWN]:
        mark = "❗" if item.due < today else "🗓"
        label = f"{mark} {t.date(item.due)} · {short(item.name, 24)} · {short(item.host, 20)}"
        rows.append([InlineKeyboardButton(label, callback_data=cb.build(cb.REVIEW_VIEW,
                                                                        item.secondment_id))])
    text = t.gettext("<b>Review meetings</b> (❗ overdue). Choose one to record its outcome.")
    await reply(update, text, InlineKeyboardMarkup(rows))


async def ratings(update: Update, context: BotContext) -> None:
    """Offer the four ratings of the meeting."""
    query = update.callback_query
    assert query is not None
    if await require_role(update, context, Role.ORGANIZER, "reviews") is None:
        return
    await query.answer()
    sid = cb.number(query.data)
    rows = [
        [InlineKeyboardButton(REVIEW_RATING.label(code, context.t.lang),
                              callback_data=cb.build(cb.REVIEW_RATE, f"{sid}:{i}"))]
        for i, code in enumerate(RATINGS)
    ]  # fmt: skip
    await reply(update, context.t.gettext("How did the person do?"), InlineKeyboardMarkup(rows))


async def rated(update: Update, context: BotContext) -> int:
    """Keep the rating and ask for the meeting's conclusions."""
    query = update.callback_query
    assert query is not None and context.user_data is not None
    if await require_role(update, context, Role.ORGANIZER, "reviews") is None:
        return ConversationHandler.END
    await query.answer()
    sid, index = (int(p) for p in cb.parts(query.data))
    context.user_data["review"] = (sid, RATINGS[index])
    await reply(update, context.t.gettext(
        "Write the meeting's conclusions in one message, or send /skip."))  # fmt: skip
    return Step.NOTE


async def noted(update: Update, context: BotContext) -> int:
    """Record the meeting with the typed conclusions (or none after /skip)."""
    assert context.user_data is not None and update.effective_message is not None
    pending = context.user_data.pop("review", None)
    if pending is None:
        return ConversationHandler.END
    text = update.effective_message.text or ""
    note = "" if text.strip() == "/skip" else text.strip()
    try:
        async with context.db.begin() as session:
            nxt = await secondments.review_as_organizer(
                session, actor_id=context.person_id, secondment_id=pending[0],
                rating=pending[1], note=note, today=_today(context), now=context.now(),
            )  # fmt: skip
    except DomainError as error:
        await reply(update, refusal(context.t, error))
        return ConversationHandler.END
    t = context.t
    done = t.gettext("✅ Review recorded.")
    if nxt is not None:
        done += " " + t.gettext("Next review meeting: %(review)s") % {"review": t.date(nxt)}
    await reply(update, done)
    return ConversationHandler.END


async def cancel(update: Update, context: BotContext) -> int:
    """Drop the review being recorded."""
    if context.user_data is not None:
        context.user_data.pop("review", None)
    await reply(update, context.t.gettext("Cancelled."))
    return ConversationHandler.END


def register(app: Application) -> None:
    app.add_handler(CommandHandler("reviews", listing))
    app.add_handler(CallbackQueryHandler(ratings, pattern=cb.pattern(cb.REVIEW_VIEW)))
    with warnings.catch_warnings():
        # Buttons lead this conversation; tracking it per chat is what we want.
        warnings.filterwarnings("ignore", ".*CallbackQueryHandler", PTBUserWarning)
        app.add_handler(
            ConversationHandler(
                entry_points=[CallbackQueryHandler(rated, pattern=cb.pattern(cb.REVIEW_RATE))],
                states={Step.NOTE: [
                    CommandHandler("skip", noted),
                    MessageHandler(filters.TEXT & ~filters.COMMAND, noted),
                ]},
                fallbacks=[CommandHandler("cancel", cancel)],
                allow_reentry=True,
                conversation_timeout=timedelta(minutes=30),
                name="secondment_review",
            )
        )  # fmt: skip

