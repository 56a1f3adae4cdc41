"""Runs before every handler (group -1): who is talking, and in which language."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.ext import Application, ApplicationHandlerStop, TypeHandler

from bot.context import BotContext
from bot.telegram.adapter import dialogs
from handlers import caller as callers
from locales import Translator, pick_language

CHANNEL = "telegram"
log = logging.getLogger(__name__)


async def identify(update: Update, context: BotContext) -> None:
    """Load or create the chat account (written only when it changed, handlers/caller.py)
    and choose the language for this update; answer and stop a button press without data."""
    user, chat = update.effective_user, update.effective_chat
    if user is None:
        return
    caller = await callers.identify(
        context.db,
        dialogs(context),
        channel=CHANNEL,
        chat_user_id=str(user.id),
        chat_id=str(chat.id if chat else user.id),
        now=context.now(),
    )
    context.account_id, context.person_id = caller.account_id, caller.person_id
    lang = pick_language(caller.language, user.language_code, context.settings.default_language)
    context.t = Translator(lang, context.settings.tz)
    query = update.callback_query
    if query is not None and not query.data and not query.game_short_name:
        # PTB's CallbackQueryHandler takes a query without data as matching *any* pattern, so
        # the first feature registered would get it and fail parsing it (a forged client can
        # omit the data; bench/soak.py found it).
        log.warning("callback query without data from user %s", user.id)
        await query.answer(context.t.gettext("This button is no longer valid."), show_alert=True)
        raise ApplicationHandlerStop


def register(app: Application) -> None:
    app.add_handler(TypeHandler(Update, identify), group=-1)
