"""/status: the standards of the person's position and how they stand against each."""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, CommandHandler, MessageHandler, filters

from bot.context import BotContext
from bot.telegram.adapter import keyboard
from bot.telegram.common import reply, require_person
from bot.telegram.menus import menu_pattern
from domain.secondments import current_postings
from domain.standards import status_of
from handlers import actions as cb
from handlers.core import Choice
from handlers.render import postings_text, status_text
from storage.db import reading


async def status(update: Update, context: BotContext) -> None:
    """Show each applicable standard with its state, basis and courses that close gaps."""
    person_id = await require_person(update, context)
    if person_id is None:
        return
    now = context.now()
    today = now.astimezone(context.settings.tz).date()
    async with reading(context.db) as session:
        statuses = await status_of(
            session,
            person_id=person_id,
            now=now,
            today=today,
            hours_target=context.settings.annual_hours_target,
        )
        postings = await current_postings(session, person_id=person_id, today=today)
    text, choices = status_text(context.t, statuses)
    if postings:
        text = postings_text(context.t, postings) + "\n\n" + text
    claim = context.t.gettext("✏️ Report a mistake or claim a qualification")
    choices.append(Choice(claim, cb.build(cb.CLAIM_START)))
    await reply(update, text, keyboard(choices))


def register(app: Application) -> None:
    app.add_handler(CommandHandler("status", status))
    app.add_handler(MessageHandler(filters.Regex(menu_pattern("status")), status))
