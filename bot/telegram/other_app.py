"""/zalo: a one-time code that links the person's Zalo account (or another chat app) too."""

from __future__ import annotations

from datetime import timedelta

from telegram import Update
from telegram.ext import Application, CommandHandler

from bot.context import BotContext
from bot.telegram.common import reply, require_person
from domain.linking import code_for_person


async def code(update: Update, context: BotContext) -> None:
    """Show a one-time code to type in the bot's Zalo chat."""
    person_id = await require_person(update, context)
    if person_id is None:
        return
    async with context.db.begin() as session:
        made = await code_for_person(
            session,
            person_id=person_id,
            now=context.now(),
            ttl=timedelta(hours=context.settings.link_code_ttl_hours),
        )
    assert made is not None  # the linked person exists
    text = context.t.gettext(
        "Your one-time code: <b>%(code)s</b> (valid until %(time)s). In the other app, send "
        "it to this bot: on Telegram type <code>/start %(code)s</code>, on Zalo type the code."
    ) % {"code": made[0], "time": context.t.datetime(made[1])}
    await reply(update, text)


def register(app: Application) -> None:
    app.add_handler(CommandHandler("zalo", code))
