"""/start: link the chat to a roster person by shared contact or by an organizer's code."""

from __future__ import annotations

import logging
from datetime import timedelta
from html import escape

from telegram import Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import Application, CommandHandler, MessageHandler, filters

from bot.context import BotContext
from bot.telegram.common import reply
from bot.telegram.help import forget_role_menu, sync_role_menu
from bot.telegram.menus import contact_menu, main_menu
from domain.linking import LinkResult, LinkStatus, link_by_code, link_by_contact
from locales import Translator

log = logging.getLogger(__name__)


async def start(update: Update, context: BotContext) -> None:
    """Greet a linked user, link with a code, or ask an unlinked one for their phone number."""
    if context.args:
        await _link_with_code(update, context, context.args[0])
        return
    _ = context.t.gettext
    if context.person_id is not None:
        await reply(update, _("Welcome back! Choose from the menu below."), main_menu(context.t))
        return
    await reply(
        update,
        _(
            "Hello! I help commune civil servants check their standards and register for "
            "training.\n\nTo begin, tap <b>📱 Share my phone number</b> below. Your number must "
            "match the one on your unit's roster.\n\nIf your organizer gave you a code, type "
            "/start followed by the code, for example: <code>/start ABCD234567</code>"
        ),
        contact_menu(context.t),
    )


async def contact(update: Update, context: BotContext) -> None:
    """Link when the user shares their own phone number and it matches the roster."""
    message = update.effective_message
    assert message is not None and message.contact is not None and context.account_id
    async with context.db.begin() as session:
        result = await link_by_contact(
            session,
            account_id=context.account_id,
            contact_user_id=message.contact.user_id,
            phone=message.contact.phone_number,
            now=context.now(),
        )
    await _answer(update, context, result)


async def _link_with_code(update: Update, context: BotContext, code: str) -> None:
    assert context.account_id is not None
    s = context.settings
    async with context.db.begin() as session:
        result = await link_by_code(
            session,
            account_id=context.account_id,
            code=code,
            now=context.now(),
            max_failures=s.link_max_failures,
            lockout=timedelta(minutes=s.link_lockout_minutes),
        )
    if result.status != LinkStatus.LINKED:
        log.warning("link code refused for account %s: %s", context.account_id, result.status)
    await _answer(update, context, result)
    if result.previous_chat_id:
        await _tell_previous_chat(context, result.previous_chat_id, result.previous_language)
        await forget_role_menu(context.bot, result.previous_chat_id, context.bot_data)


async def _answer(update: Update, context: BotContext, result: LinkResult) -> None:
    t: Translator = context.t
    _ = t.gettext
    if result.status in (LinkStatus.LINKED, LinkStatus.ALREADY_LINKED):
        context.person_id = result.person_id
        if result.person_id is not None:  # an organizer linking a new phone gets their menu
            await sync_role_menu(context.bot, context.resources, result.person_id,
                                 context.bot_data)  # fmt: skip
        text = _(
            "✅ Linked. Hello, %(name)s! Use the menu below to check your standards "
            "and find courses."
        ) % {"name": escape(result.person_name)}
        await reply(update, text, main_menu(t))
        return
    texts = {
        LinkStatus.FOREIGN_CONTACT: _(
            "Please share <b>your own</b> phone number with the button below, not someone "
            "else's contact."
        ),
        LinkStatus.NO_MATCH: _(
            "This phone number is not on the roster. Ask your unit's personnel officer to "
            "update it, or to give you a link code (then type /start CODE)."
        ),
        LinkStatus.AMBIGUOUS: _(
            "This phone number belongs to more than one person on the roster. Please ask "
            "your organizer for a link code and type /start CODE."
        ),
        LinkStatus.LINKED_ELSEWHERE: _(
            "This person is already linked to another Telegram account. To move the link "
            "here, ask your organizer for a code and type /start CODE."
        ),
        LinkStatus.BAD_CODE: _("This code is wrong, used or expired. Attempts left: %(n)d.")
        % {"n": result.attempts_left or 0},
        LinkStatus.LOCKED: _("Too many wrong codes. Please try again after %(time)s.")
        % {"time": t.datetime(result.locked_until)},
    }
    await reply(update, texts[result.status], contact_menu(t))


async def _tell_previous_chat(context: BotContext, chat_id: str, lang: str | None) -> None:
    t = Translator(lang or context.settings.default_language, context.settings.tz)
    try:
        await context.bot.send_message(
            int(chat_id),
            t.gettext(
                "Your roster record was linked to another Telegram account with an "
                "organizer's code, so this chat is no longer linked. If this was not you, "
                "contact your organizer."
            ),
            parse_mode=ParseMode.HTML,
        )
    except TelegramError as exc:  # the old chat may have blocked the bot; the link stands
        log.info("could not tell chat %s about relinking: %s", chat_id, exc)


def register(app: Application) -> None:
    app.add_handler(CommandHandler("start", start))
    app.add_handler(MessageHandler(filters.CONTACT, contact))
