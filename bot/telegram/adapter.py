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
from datetime import UTC, datetime
from html import escape
from pathlib import PurePosixPath
from typing import Any

from telegram import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    ReplyKeyboardRemove,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import (
    Application,
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot.context import BotContext
from bot.telegram.menus import contact_menu, main_menu, menu_pattern
from handlers import actions as cb
from handlers import router
from handlers.core import (
    Choice,
    Ctx,
    Downloaded,
    DownloadFailed,
    Fetch,
    Flow,
    Menu,
    Say,
    Upload,
)
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
    return dialogs_of(context.application)


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
        buttons=True,
        files=True,
        contact=True,
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
        if say.file is not None and say.file.attached:
            await _attached(context, say, int(say.chat_id or chat.id))
            continue
        if say.upload is not None:
            await _upload(context, say, int(say.chat_id or chat.id))
        elif say.text:
            await _text(update, context, say, chat.id)
        elif say.edit and say.chat_id is None and query is not None:
            await _rechoose(query, say.choices)  # only the choices change
        elif say.file is None and query is None and say.alert:
            # No press to answer: the notice is a message.
            await _text(update, context, Say(escape(say.alert), menu=say.menu), chat.id)
        if say.file is not None:
            await context.bot.send_document(
                int(say.chat_id or chat.id),
                say.file.ref or say.file.content,
                filename=say.file.name,
                caption=say.file.caption or None,
            )


async def _rechoose(query: CallbackQuery, choices: Sequence[Choice]) -> None:
    """Change only the buttons under the pressed message (its text may be a caption)."""
    if query.message is None:
        return
    try:
        await query.edit_message_reply_markup(keyboard(choices))
    except BadRequest as exc:  # pressed twice: the buttons are already so
        if "not modified" not in str(exc).lower():
            raise


async def _attached(context: BotContext, say: Say, chat_id: int) -> None:
    """A photo or document with the say's text as its caption and its choices under it: by
    the file id Telegram gave it, or uploaded (a photo Telegram will not take as a photo goes
    as a file)."""
    file = say.file
    assert file is not None
    media: str | bytes = file.ref or file.content
    name, markup, html = (None if file.ref else file.name), keyboard(say.choices), ParseMode.HTML
    if file.photo:
        try:
            await context.bot.send_photo(chat_id, media, say.text, filename=name,
                                         parse_mode=html, reply_markup=markup)  # fmt: skip
            return
        except BadRequest:
            if file.ref:
                raise
    await context.bot.send_document(chat_id, media, say.text, filename=name, parse_mode=html,
                                    reply_markup=markup)  # fmt: skip


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


async def _upload(context: BotContext, say: Say, chat_id: int) -> None:
    """A photo or document Telegram already holds, with the text as its caption."""
    assert say.upload is not None
    send = context.bot.send_photo if say.upload.kind == "photo" else context.bot.send_document
    await send(chat_id, say.upload.file_id, caption=say.text or None, parse_mode=ParseMode.HTML,
               reply_markup=keyboard(say.choices))  # fmt: skip


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


def the_rest(app: Application) -> None:
    """Every command and action of handlers.router that no feature module wired: a command or
    choice added to the router works on Telegram without touching this adapter."""
    wired_commands: set[str] = set()
    wired_actions: set[str] = set()
    for handlers in app.handlers.values():
        for handler in handlers:
            if isinstance(handler, CommandHandler):
                wired_commands |= set(handler.commands)
            elif isinstance(handler, CallbackQueryHandler) and handler.pattern is not None:
                wired_actions.add(str(getattr(handler.pattern, "pattern", handler.pattern)))
    commands(app, [c for c in router.COMMANDS if c not in wired_commands])
    actions(app, [a for a in router.ACTIONS if cb.pattern(a).pattern not in wired_actions])


def menu_buttons(app: Application, names: Iterable[str], *, after: After | None = None) -> None:
    """The main menu's buttons (their labels, in any language) go to the flows of these
    commands; registered before the conversations, so a button works in the middle of one."""
    for name in names:
        handler = flow_handler(router.ACTIONS[name], arg=lambda _update: "", after=after)
        app.add_handler(MessageHandler(filters.Regex(menu_pattern(name)), handler))


def _command(text: str) -> str:
    return text.split(maxsplit=1)[0].split("@", 1)[0].lower() if text.startswith("/") else ""


def _cancels(text: str) -> bool:
    return _command(text) == "/cancel"


class OwedStep(BaseHandler[Update, BotContext, None]):
    """Text from a chat that owes a step of a flow (handlers.router.STEPS: the next answer of
    /newcourse, a course's new value), or /cancel to leave it. Registered after the features,
    so their commands and menu buttons still answer, and before the free-text search."""

    def __init__(self, dialogs: Dialogs) -> None:
        super().__init__(self.answer)
        self.dialogs = dialogs

    def check_update(self, update: object) -> bool:
        if not isinstance(update, Update) or update.message is None:
            return False
        message, chat = update.message, update.effective_chat
        # Other commands leave the step to run as usual; /skip is a step's own answer.
        if chat is None or not message.text or _command(message.text) not in ("", "/cancel",
                                                                              "/skip"):
            return False
        # The middleware (group -1) has loaded the chat's state by now.
        return self.dialogs.state(str(chat.id), datetime.now(UTC)).expect in router.STEPS

    async def answer(self, update: Update, context: BotContext) -> None:
        """Hand the text (its formatting as HTML) to the owed step's flow, or leave the step
        on /cancel."""
        message = update.message
        assert message is not None and message.text is not None
        ctx = ctx_of(update, context)
        ctx.html = message.text_html
        step = router.owed(ctx)
        if _cancels(message.text):
            says = await router.cancel(ctx, "")
        else:
            says = await router.typed(ctx, message.text, step)
        await render(update, context, says)


def owed_steps(app: Application) -> None:
    app.add_handler(OwedStep(dialogs_of(app)))


class OwedUpload(BaseHandler[Update, BotContext, None]):
    """Anything but text from a chat that owes a photo or file (handlers.router.UPLOADS: a
    claim's evidence, an attendance sheet, a broadcast's message): a photo or document goes to
    the step's flow, anything else is told what is owed. Registered before the features that
    take files unasked (the courses import), so the step owed has them first."""

    def __init__(self, dialogs: Dialogs) -> None:
        super().__init__(self.answer)
        self.dialogs = dialogs

    def check_update(self, update: object) -> bool:
        if not isinstance(update, Update) or update.message is None:
            return False
        message, chat = update.message, update.effective_chat
        if chat is None or message.text is not None or message.contact is not None:
            return False
        if message.effective_attachment is None:
            return False  # a service message (a member joined, a pin)
        return self.dialogs.state(str(chat.id), datetime.now(UTC)).expect in router.UPLOADS

    async def answer(self, update: Update, context: BotContext) -> None:
        """Hand the photo or document (and its caption, with its formatting as HTML) to the
        owed step's flow."""
        message = update.message
        assert message is not None
        ctx = ctx_of(update, context)
        ctx.html = message.caption_html if message.caption else ""
        says = await router.upload(ctx, sent(context, message))
        await render(update, context, says or [])


def sent(context: BotContext, message: Message) -> Upload | None:
    """The photo (its largest size) or document of a message, fetched only when asked."""
    caption = message.caption or ""
    if message.photo:
        largest = message.photo[-1]
        return Upload("photo", largest.file_id, largest.file_size,
                      fetcher(context, largest.file_id, largest.file_size), caption=caption)
    if message.document is not None:
        doc = message.document
        return Upload("document", doc.file_id, doc.file_size,
                      fetcher(context, doc.file_id, doc.file_size), doc.file_name or "", caption)
    return None


def owed_uploads(app: Application) -> None:
    app.add_handler(OwedUpload(dialogs_of(app)))


def dialogs_of(app: Application) -> Dialogs:
    found = app.bot_data.get("dialogs")
    if not isinstance(found, Dialogs):
        found = app.bot_data["dialogs"] = Dialogs(app.bot_data["resources"].db, CHANNEL)
    return found


def fetcher(context: BotContext, file_id: str, size: int | None = None) -> Fetch:
    """Download a file sent in chat by its file id, refused (DownloadFailed TOO_LARGE) over
    the limit: before downloading when Telegram told its `size`, else by getFile's."""

    async def fetch(limit: int) -> Downloaded:
        if (size or 0) > limit:
            raise DownloadFailed(f"{size} bytes", DownloadFailed.TOO_LARGE)
        file = await context.bot.get_file(file_id)
        if (file.file_size or 0) > limit:
            raise DownloadFailed(f"{file.file_size} bytes", DownloadFailed.TOO_LARGE)
        content = bytes(await file.download_as_bytearray())
        return Downloaded(content, PurePosixPath(file.file_path or "").name, "")

    return fetch
