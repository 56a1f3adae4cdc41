"""/start and the shared contact: linking the chat to a roster person (handlers/link.py)."""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, MessageHandler, filters

from bot.context import BotContext
from bot.telegram.adapter import commands, ctx_of, render
from bot.telegram.help import follow_link
from handlers import link
from handlers.core import Contact


async def contact(update: Update, context: BotContext) -> None:
    """Link when the user shares their own phone number and it matches the roster."""
    message = update.effective_message
    assert message is not None and message.contact is not None
    owner = message.contact.user_id
    shared = Contact(message.contact.phone_number, str(owner) if owner is not None else None)
    ctx = ctx_of(update, context)
    await render(update, context, await link.contact(ctx, shared))
    await follow_link(update, context, ctx)


def register(app: Application) -> None:
    commands(app, ("start",), after=follow_link)
    app.add_handler(MessageHandler(filters.CONTACT, contact))
