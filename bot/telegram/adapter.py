"""The Telegram side of the conversation layer (handlers/): a PTB update in, a flow's `Say`s
out as HTML messages, inline keyboards and documents.

Choices become inline buttons whose callback data is the choice's action (handlers/actions.py
builds and checks it); a pressed button is answered (with the flow's alert, if any) and its
message edited where the flow asks. The chat's conversation state is loaded by the middleware
and written back after the update (bot/app.py), so a restart or another worker continues it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, ReplyKeyboardRemove, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot.context import BotContext
from bot.telegram.menus import contact_menu, main_menu, menu_pattern
from handlers import actions as cb
from handlers import router
from handlers.core import Choice, Ctx, Flow, Menu, Say
from handlers.dialog import Dialogs

CHANNEL = "telegram"
Handler = Callable[[Update, BotContext], Coroutine[Any, Any, None]]
After = Callable[[Update, BotContext, Ctx], Awaitable[None]]
log = logging.getLogger(__name__)


def keyboard(choices: Sequence[Choice]) -> InlineKeyboardMarkup | None:
    """Inline buttons in the flow's rows; None for no choices (Telegram refuses an empty one)."""
    rows = Say(choices=list(choices)).rows()
    if not rows:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(c.label, callback_data=c.action) for c in row] for row in rows]
    )


def dialogs(context: BotContext) -> Dialogs:
    found = context.bot_data.get("dialogs")
    if not isinstance(found, Dialogs):
        found = context.bot_data["dialogs"] = Dialogs(context.db, CHANNEL)
    return found


def ctx_of(update: Update, context: BotContext) -> Ctx:
    """The flow's view of this update (the middleware has identified the account)."""
    user, chat = update.effective_user, update.effective_chat
    assert user is not None and context.account_id is not None
    return Ctx(
        settings=context.settings,
        db=context.db,
        dialogs=dialogs(context),
        channel=CHANNEL,
        chat_id=str(chat.id if chat else user.id),
        user_id=str(user.id),
        account_id=context.account_id,
        person_id=context.person_id,
        t=context.t,
        now=context.now(),
        wake=context.bot_data.get("wake") or (lambda: None),
        shares_contact=True,
        buttons=True,
    )


async def render(update: Update, context: BotContext, says: Iterable[Say]) -> None:
    """Send (or edit into the pressed message) what a flow answered."""
    says = list(says)
    query = update.callback_query
    if query is not None:
        alert = next((s.alert for s in says if s.alert), None)
        await query.answer(alert, show_alert=alert is not None)
    chat = update.effective_chat
    assert chat is not None
    for say in says:
        if not say.text and say.file is None:
            continue  # an alert alone
        if say.text:
            await _text(update, context, say, chat.id)
        if say.file is not None:
            await context.bot.send_document(
                int(say.chat_id or chat.id),
                say.file.content,
                filename=say.file.name,
                caption=say.file.caption or None,
            )


async def _text(update: Update, context: BotContext, say: Say, chat_id: int) -> None:
    inline = keyboard(say.choices)
    query = update.callback_query
    if say.edit and say.chat_id is None and query is not None and query.message is not None:
        try:
            await query.edit_message_text(say.text, parse_mode=ParseMode.HTML, reply_markup=inline)
        except BadRequest as exc:  # the same button pressed twice: nothing to change
            if "not modified" not in str(exc).lower():
                raise
        return
    if say.chat_id is not None and say.chat_id != str(chat_id):  # another chat, e.g. relinked
        try:
            await context.bot.send_message(
                int(say.chat_id), say.text, parse_mode=ParseMode.HTML, reply_markup=inline
            )
        except TelegramError as exc:  # it may have blocked the bot; this chat's answer stands
            log.info("could not tell chat %s: %s", say.chat_id, exc)
        return
    markup: Any = inline
    if inline is None and say.menu is Menu.MAIN:
        markup = main_menu(context.t)
    elif inline is None and say.menu is Menu.CONTACT:
        markup = contact_menu(context.t)
    elif inline is None and say.menu is Menu.REMOVE:
        markup = ReplyKeyboardRemove()
    target = int(say.chat_id) if say.chat_id is not None else chat_id
    await context.bot.send_message(target, say.text, parse_mode=ParseMode.HTML, reply_markup=markup)


def flow_handler(
    flow: Flow, *, arg: Callable[[Update], str] | None = None, after: After | None = None
) -> Handler:
    """A PTB callback running `flow`: for a command its text after the command, for a
    button the action's argument. `after` runs once the answer is sent."""

    async def handle(update: Update, context: BotContext) -> None:
        if arg is not None:
            value = arg(update)
        elif update.callback_query is not None:
            value = (update.callback_query.data or "").partition(":")[2]
        else:
            value = " ".join(context.args or [])
        ctx = ctx_of(update, context)
        says = await flow(ctx, value)
        context.t = ctx.t  # a flow may have switched the language: the menus follow
        await render(update, context, says)
        if after is not None:
            await after(update, context, ctx)

    handle.__doc__ = flow.__doc__
    return handle


def actions(app: Application, names: Iterable[str], *, after: After | None = None) -> None:
    """Button presses of these actions go to their flows in handlers.router.ACTIONS; each
    press is matched by the action's anchored pattern (handlers/actions.py)."""
    for name in names:
        handler = flow_handler(router.ACTIONS[name], after=after)
        app.add_handler(CallbackQueryHandler(handler, pattern=cb.pattern(name)))


def commands(app: Application, names: Iterable[str], *, after: After | None = None) -> None:
    """These commands go to their flows in handlers.router.ACTIONS."""
    for name in names:
        app.add_handler(CommandHandler(name, flow_handler(router.ACTIONS[name], after=after)))


def menu_buttons(app: Application, names: Iterable[str], *, after: After | None = None) -> None:
    """The main menu's buttons (their labels, in any language) go to the flows of these
    commands; registered before the conversations, so a button works in the middle of one."""
    for name in names:
        handler = flow_handler(router.ACTIONS[name], arg=lambda _update: "", after=after)
        app.add_handler(MessageHandler(filters.Regex(menu_pattern(name)), handler))
