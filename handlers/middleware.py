"""Runs before every handler (group -1): who is talking, and in which language."""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, TypeHandler

from bot.context import BotContext
from bot.i18n import Translator, pick_language
from domain.linking import account_for

CHANNEL = "telegram"


async def identify(update: Update, context: BotContext) -> None:
    """Load or create the chat account and choose the language for this update."""
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
    lang = pick_language(stored, user.language_code, context.settings.default_language)
    context.t = Translator(lang, context.settings.tz)


def register(app: Application) -> None:
    app.add_handler(TypeHandler(Update, identify), group=-1)
