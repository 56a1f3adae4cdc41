"""Small pieces several handlers share: replying in either kind of update, the link gate."""

from __future__ import annotations

import logging

from telegram import InlineKeyboardMarkup, ReplyKeyboardMarkup, ReplyKeyboardRemove, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest

from bot.context import BotContext
from bot.telegram.adapter import ctx_of
from bot.telegram.menus import contact_menu
from domain import roles
from handlers.guard import Refused, allowed
from storage.models import Role

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


async def require_role(
    update: Update, context: BotContext, role: Role, action: str, *, unit_id: int | None = None
) -> roles.Scope | None:
    """The sender's scope for `role`, or None after refusing them: the one gate of
    handlers/guard.py (audited and logged), answered as a pop-up or a message.

    Every organizer handler calls this first, for commands and button presses alike, so a
    replayed or forged button of an organizer's message is refused like a typed command.
    """
    scope = await allowed(ctx_of(update, context), action, role=role, unit_id=unit_id)
    if not isinstance(scope, Refused):
        return scope
    if update.callback_query is not None:
        await update.callback_query.answer(scope.alert, show_alert=True)
    else:
        await reply(update, scope.text)
    return None
