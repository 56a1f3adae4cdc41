"""Small pieces several handlers share: replying in either kind of update, the link gate."""

from __future__ import annotations

import logging

from telegram import InlineKeyboardMarkup, ReplyKeyboardMarkup, ReplyKeyboardRemove, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest

from bot.context import BotContext
from handlers.menus import contact_menu

log = logging.getLogger(__name__)

Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove | None


async def reply(update: Update, text: str, markup: Markup = None, *, edit: bool = False) -> None:
    """Answer a message, or edit the message whose button was pressed when `edit`."""
    query = update.callback_query
    if edit and query is not None and query.message is not None:
        inline = markup if isinstance(markup, InlineKeyboardMarkup) else None
        try:
            await query.edit_message_text(text, parse_mode=ParseMode.HTML, reply_markup=inline)
        except BadRequest as exc:  # pressing the same button twice: nothing to change
            if "not modified" not in str(exc).lower():
                raise
        return
    chat = update.effective_chat
    assert chat is not None
    await chat.send_message(text, parse_mode=ParseMode.HTML, reply_markup=markup)


async def require_person(update: Update, context: BotContext) -> int | None:
    """The linked person's id, or None after telling the user how to link."""
    if context.person_id is not None:
        return context.person_id
    if update.callback_query is not None:
        await update.callback_query.answer(context.t.gettext("Please link your account first."))
    await reply(
        update,
        context.t.gettext(
            "I don't know who you are yet. Send /start and share your phone number, "
            "or type /start followed by the code your organizer gave you."
        ),
        contact_menu(context.t),
    )
    return None
