"""The Telegram side of the conversation layer (handlers/): a PTB update in, a flow's `Say`s
out as HTML messages, inline keyboards and documents.

Choices become inline buttons whose callback data is the choice's action (handlers/actions.py
builds and checks it); a pressed button is answered (with the flow's alert, if any) and its
message edited where the flow asks. The chat's conversation state is loaded by the middleware
and written back after the update (bot/app.py), so a restart or another worker continues it.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, ReplyKeyboardRemove, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.context import BotContext
from bot.telegram.menus import contact_menu, main_menu
from handlers import actions as cb
from handlers import router
from handlers.core import Choice, Ctx, Flow, Menu, Say, Upload
from handlers.dialog import Dialogs

CHANNEL = "telegram"
Handler = Callable[[Update, BotContext], Coroutine[Any, Any, None]]


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
        media=True,
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
        if say.upload is not None:
            await _upload(context, say, int(say.chat_id or chat.id))
        elif say.text:
            await _text(update, context, say, chat.id)
        elif say.edit and say.chat_id is None and query is not None and query.message:
            try:  # only the choices change
                await query.edit_message_reply_markup(reply_markup=keyboard(say.choices))
            except BadRequest as exc:
                if "not modified" not in str(exc).lower():
                    raise
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
    markup: Any = inline
    if inline is None and say.menu is Menu.MAIN:
        markup = main_menu(context.t)
    elif inline is None and say.menu is Menu.CONTACT:
        markup = contact_menu(context.t)
    elif inline is None and say.menu is Menu.REMOVE:
        markup = ReplyKeyboardRemove()
    target = int(say.chat_id) if say.chat_id is not None else chat_id
    await context.bot.send_message(target, say.text, parse_mode=ParseMode.HTML, reply_markup=markup)


async def _upload(context: BotContext, say: Say, chat_id: int) -> None:
    """A photo or document Telegram already holds, with the text as its caption."""
    assert say.upload is not None
    send = context.bot.send_photo if say.upload.kind == "photo" else context.bot.send_document
    await send(chat_id, say.upload.file_id, caption=say.text or None, parse_mode=ParseMode.HTML,
               reply_markup=keyboard(say.choices))  # fmt: skip


def flow_handler(flow: Flow, *, arg: Callable[[Update], str] | None = None) -> Handler:
    """A PTB callback running `flow`: for a command its text after the command, for a
    button the action's argument."""

    async def handle(update: Update, context: BotContext) -> None:
        if arg is not None:
            value = arg(update)
        elif update.callback_query is not None:
            value = (update.callback_query.data or "").partition(":")[2]
        else:
            value = " ".join(context.args or [])
        ctx = ctx_of(update, context)
        router.owed(ctx)  # a choice or a command leaves a step the chat owed, as on Zalo
        await render(update, context, await flow(ctx, value))

    handle.__doc__ = flow.__doc__
    return handle


def actions(app: Application, names: Iterable[str]) -> None:
    """Button presses of these actions go to their flows in handlers.router.ACTIONS; each
    press is matched by the action's anchored pattern (handlers/actions.py)."""
    for name in names:
        handler = flow_handler(router.ACTIONS[name])
        app.add_handler(CallbackQueryHandler(handler, pattern=cb.pattern(name)))


def commands(app: Application, names: Iterable[str]) -> None:
    for name in names:
        app.add_handler(CommandHandler(name, flow_handler(router.ACTIONS[name])))


class _Owed(MessageHandler[BotContext, None]):
    """A message matching `accepts` while the chat owes one of `steps` (the middleware, in
    group -1, has loaded the chat's dialog state before this is checked)."""

    def __init__(
        self, app: Application, steps: Iterable[str], accepts: filters.BaseFilter, callback: Handler
    ) -> None:
        super().__init__(accepts, callback)
        self.app = app
        self.steps = frozenset(steps)

    def check_update(self, update: object) -> Any:
        chat = update.effective_chat if isinstance(update, Update) else None
        found = self.app.bot_data.get("dialogs")
        if chat is None or not isinstance(found, Dialogs):
            return None
        if found.state(str(chat.id), datetime.now(UTC)).expect not in self.steps:
            return None
        return super().check_update(update)


async def _answer_owed(update: Update, context: BotContext) -> None:
    """The owed step's answer: its text with the formatting kept, and a photo or document."""
    msg = update.effective_message
    assert msg is not None
    ctx = ctx_of(update, context)
    if msg.photo:
        ctx.upload = Upload("photo", msg.photo[-1].file_id)
    elif msg.document:
        ctx.upload = Upload("document", msg.document.file_id)
    text = (msg.caption if ctx.upload else msg.text) or ""
    ctx.html = (msg.caption_html if ctx.upload else msg.text_html) if text else ""
    await render(update, context, await router.typed(ctx, text, router.owed(ctx)))


def steps(app: Application, names: Iterable[str], accepts: filters.BaseFilter, stop: Flow) -> None:
    """Messages `accepts` lets through answer these steps (handlers.router.STEPS) while the
    chat owes one; /cancel leaves them with `stop`."""
    app.add_handler(_Owed(app, names, filters.Regex(r"^/cancel(@\w+)?$"), flow_handler(stop)))
    app.add_handler(_Owed(app, names, accepts, _answer_owed))
