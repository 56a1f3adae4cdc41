"""Runs before every handler (group -1): who is talking, and in which language."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.ext import Application, ApplicationHandlerStop, TypeHandler

from bot.context import BotContext
from bot.telegram.adapter import dialogs
from domain.linking import account_for
from locales import Translator, pick_language

CHANNEL = "telegram"
log = logging.getLogger(__name__)


async def identify(update: Update, context: BotContext) -> None:
    """Load or create the chat account and choose the language for this update; answer and
    stop a button press that carries no data."""
    user, chat = update.effective_user, update.effective_chat
    if user is None:
        return
    async with context.db.begin() as session:
        account = await account_for(
            session,
            channel=CHANNEL,
            chat_user_id=str(user.id),
            chat_id=str(chat.id if chat else user.id),
            now=context.now(),
        )
        context.account_id, context.person_id = account.id, account.person_id
        stored = account.language
        await dialogs(context).load(str(chat.id if chat else user.id), context.now(), session)
    lang = pick_language(stored, user.language_code, context.settings.default_language)
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
