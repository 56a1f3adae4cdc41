"""/privacy (what we store, unlink) and /language."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, ReplyKeyboardRemove, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot.context import BotContext
from bot.telegram.common import reply, require_person
from bot.telegram.help import forget_role_menu, sync_role_menu
from bot.telegram.menus import main_menu
from domain import linking, records
from handlers import actions as cb
from handlers.render import privacy_lines
from locales import Translator


async def privacy(update: Update, context: BotContext) -> None:
    """Say what is stored about the person, and offer to unlink this chat."""
    person_id = await require_person(update, context)
    if person_id is None:
        return
    async with context.db.begin() as session:
        view = await records.privacy(session, person_id=person_id)
    assert view is not None
    _ = context.t.gettext
    text = "\n".join(
        [
            *privacy_lines(context.t, view),
            _(
                "This comes from your unit's roster, kept by the Department of Home Affairs. "
                "We use it only to check standards and manage training. Unlinking removes the link "
                "between this Telegram account and your record; the roster itself stays."
            ),
        ]
    )
    markup = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    _("Unlink this Telegram account"), callback_data=cb.build(cb.UNLINK)
                )
            ]
        ]
    )
    await reply(update, text, markup)


async def ask_unlink(update: Update, context: BotContext) -> None:
    """Confirm before unlinking."""
    query = update.callback_query
    assert query is not None
    await query.answer()
    _ = context.t.gettext
    markup = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(_("Yes, unlink"), callback_data=cb.build(cb.UNLINK_CONFIRM)),
                InlineKeyboardButton(_("No"), callback_data=cb.build(cb.DISMISS)),
            ]
        ]
    )
    await reply(update, _("Unlink this Telegram account from your record?"), markup)


async def unlink(update: Update, context: BotContext) -> None:
    """Remove the link between this chat and the roster person."""
    query = update.callback_query
    assert query is not None and context.account_id is not None
    await query.answer()
    async with context.db.begin() as session:
        done = await linking.unlink(session, account_id=context.account_id)
    if done and update.effective_chat is not None:
        await forget_role_menu(context.bot, str(update.effective_chat.id), context.bot_data)
    _ = context.t.gettext
    await reply(
        update,
        _("Unlinked. Send /start to link again.") if done else _("This chat was not linked."),
        edit=True,
    )
    await reply(update, _("Goodbye for now."), ReplyKeyboardRemove())


async def language(update: Update, context: BotContext) -> None:
    """Offer the two languages."""
    markup = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("Tiếng Việt", callback_data=cb.build(cb.LANGUAGE, "vi")),
                InlineKeyboardButton("English", callback_data=cb.build(cb.LANGUAGE, "en")),
            ]
        ]
    )
    await reply(update, context.t.gettext("Choose your language:"), markup)


async def set_language(update: Update, context: BotContext) -> None:
    """Store the chosen language and answer in it."""
    query = update.callback_query
    assert query is not None and query.data is not None and context.account_id is not None
    lang = query.data.split(":", 1)[1]
    async with context.db.begin() as session:
        await linking.set_language(session, account_id=context.account_id, language=lang)
    context.t = Translator(lang, context.settings.tz)
    await query.answer()
    await reply(update, context.t.gettext("Language set to English."), edit=True)
    if context.person_id is not None:
        await reply(update, context.t.gettext("Menu updated."), main_menu(context.t))
        await sync_role_menu(context.bot, context.resources, context.person_id, context.bot_data)


def register(app: Application) -> None:
    app.add_handler(CommandHandler("privacy", privacy))
    app.add_handler(CommandHandler("language", language))
    app.add_handler(CallbackQueryHandler(ask_unlink, pattern=cb.pattern(cb.UNLINK)))
    app.add_handler(CallbackQueryHandler(unlink, pattern=cb.pattern(cb.UNLINK_CONFIRM)))
    app.add_handler(CallbackQueryHandler(set_language, pattern=cb.pattern(cb.LANGUAGE)))
