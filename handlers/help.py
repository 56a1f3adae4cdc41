"""/help, answers for anything unrecognised, the command menu, and the error handler."""

from __future__ import annotations

import logging

from telegram import BotCommand, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.context import BotContext
from bot.i18n import LANGUAGES, Translator
from domain import roles
from handlers.common import reply
from handlers.menus import contact_menu, main_menu, menu_pattern
from storage.models import Role

log = logging.getLogger(__name__)

COMMANDS = (
    "start", "status", "courses", "my", "checkin", "reminders", "language", "privacy", "help",
)  # fmt: skip


def command_menu(t: Translator) -> list[BotCommand]:
    _ = t.gettext
    descriptions = {
        "start": _("Start and link your account"),
        "status": _("Standards of my position"),
        "courses": _("Open training courses"),
        "my": _("My registrations and hours"),
        "checkin": _("Check in at a course session with its code"),
        "reminders": _("Which reminders I get"),
        "language": _("Tiếng Việt / English"),
        "privacy": _("What is stored about me"),
        "help": _("How to use this bot"),
    }
    return [BotCommand(name, descriptions[name]) for name in COMMANDS]


async def set_commands(app: Application) -> None:
    """Localized command menus; users without a matching app language get Vietnamese."""
    settings = app.bot_data["resources"].settings
    for lang in LANGUAGES:
        commands = command_menu(Translator(lang, settings.tz))
        await app.bot.set_my_commands(commands, language_code=lang)
        if lang == settings.default_language:
            await app.bot.set_my_commands(commands)


async def help_(update: Update, context: BotContext) -> None:
    """Explain what the bot does and how to use it."""
    _ = context.t.gettext
    text = _(
        "<b>How to use this bot</b>\n"
        "📋 <b>My standards</b> (/status): which standards of your position you meet, and "
        "courses that close the gaps.\n"
        "📚 <b>Courses</b> (/courses): open courses you can join. You can also just type "
        "words from a course title, with or without accents, e.g. <i>boi duong chinh tri</i>.\n"
        "🗓 <b>My registrations</b> (/my): your courses, waitlist places and yearly hours.\n"
        "/language: Tiếng Việt / English. /privacy: what we store about you."
    )
    text += "\n" + _("🔔 /reminders: choose which reminders you get (never at night).")
    text += "\n" + _("📱 /zalo: a code to use this bot on Zalo too.")
    text += "\n\n" + _("Problems with your record? Contact your unit's personnel officer.")
    async with context.db.begin() as session:
        grants = await roles.grants_of(session, context.person_id) if context.person_id else []
    if grants:  # only people with a role see what organizers can do
        text += "\n\n" + _(
            "<b>For organizers</b>\n"
            "/organize: your courses (edit, close, cancel, registrants) · /newcourse · "
            "/nominate: send people to a course · /broadcast: message an audience · "
            "/attendance and /complete · /noshows · /claims: record claims to review · "
            "/report: figures for your units"
        )
        if any(g.role == Role.ADMIN for g in grants):
            text += "\n" + _("/grant, /revoke: roles · /audit: the audit log")
    menu = main_menu(context.t) if context.person_id is not None else contact_menu(context.t)
    await reply(update, text, menu)


async def unknown_command(update: Update, context: BotContext) -> None:
    """Never stay silent on an unknown command."""
    await reply(
        update, context.t.gettext("I don't know that command. Send /help to see what I can do.")
    )


async def not_text(update: Update, context: BotContext) -> None:
    """Stickers, photos and the like: say what works instead."""
    await reply(update, context.t.gettext("Please type a message or use the menu buttons."))


async def stale_button(update: Update, context: BotContext) -> None:
    """A button this bot no longer understands (old message or forged data)."""
    query = update.callback_query
    assert query is not None
    log.warning("unrecognised callback data from user %s: %r", query.from_user.id, query.data)
    await query.answer(context.t.gettext("This button is no longer valid."), show_alert=True)


async def on_error(update: object, context: BotContext) -> None:
    """Log the failure and apologise in the user's language."""
    log.error("error while handling an update", exc_info=context.error)
    if isinstance(update, Update) and update.effective_chat is not None:
        try:
            await update.effective_chat.send_message(
                context.t.gettext("Sorry, something went wrong. Please try again in a moment.")
            )
        except Exception:  # the apology itself failed; the log has the cause
            log.exception("could not send the apology")


def register(app: Application) -> None:
    app.add_handler(CommandHandler("help", help_))
    app.add_handler(MessageHandler(filters.Regex(menu_pattern("help")), help_))
    app.add_error_handler(on_error)


def register_fallbacks(app: Application) -> None:
    """Catch-alls; registered after every feature so they only see what nobody handled."""
    app.add_handler(MessageHandler(filters.COMMAND, unknown_command))
    app.add_handler(CallbackQueryHandler(stale_button))
    app.add_handler(
        MessageHandler(~filters.TEXT & ~filters.CONTACT & ~filters.StatusUpdate.ALL, not_text)
    )
