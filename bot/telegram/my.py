"""/my: upcoming registrations, waitlist places, and this year's completed training."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, CommandHandler, MessageHandler, filters

from bot.context import BotContext
from bot.telegram.common import reply, require_person
from bot.telegram.menus import menu_pattern
from domain.records import overview
from handlers import actions as cb
from handlers.render import my_text, short
from storage.db import reading


async def my(update: Update, context: BotContext) -> None:
    """Show what the person is registered for and their training hours this year."""
    person_id = await require_person(update, context)
    if person_id is None:
        return
    async with reading(context.db) as session:
        view = await overview(
            session,
            person_id=person_id,
            now=context.now(),
            hours_target=context.settings.annual_hours_target,
        )
    t = context.t
    text = my_text(t, view)
    rows = [
        [
            InlineKeyboardButton(
                short(i.course.title), callback_data=cb.build(cb.COURSE, i.course.id)
            )
        ]
        for i in view.upcoming
    ]
    await reply(update, text, InlineKeyboardMarkup(rows) if rows else None)


def register(app: Application) -> None:
    app.add_handler(CommandHandler("my", my))
    app.add_handler(MessageHandler(filters.Regex(menu_pattern("my")), my))
