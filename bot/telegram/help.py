"""/help, answers for anything unrecognised, the command menus, and the error handler."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection
from typing import Any

from telegram import Bot, BotCommand, BotCommandScopeChat, Update
from telegram.error import TelegramError
from telegram.ext import Application, CallbackQueryHandler, MessageHandler, filters

from bot.context import BotContext, Resources
from bot.telegram.adapter import actions, commands, menu_buttons
from bot.telegram.common import reply
from domain import roles
from handlers.core import Ctx
from locales import LANGUAGES, Translator, pick_language
from storage.db import reading
from storage.models import Role
from storage.repos.accounts import AccountRepo

log = logging.getLogger(__name__)
MENUS = "role_menus"  # bot_data: chat id -> (person id, language, roles) of the menu last set

COMMANDS = (
    "start", "status", "courses", "my", "checkin", "reminders", "language", "privacy", "help",
)  # fmt: skip


# What each role adds to the menu of its holder's own chat (the checks are in the handlers).
ROLE_COMMANDS: dict[Role, tuple[str, ...]] = {
    Role.UNIT_HEAD: ("nominate", "noshows"),
    Role.ORGANIZER: ("organize", "newcourse", "nominate", "broadcast", "attendance", "complete",
                     "noshows", "claims", "reviews", "report"),
    Role.ADMIN: ("grant", "revoke", "audit"),
}  # fmt: skip


def command_menu(t: Translator, held: Collection[Role] = ()) -> list[BotCommand]:
    """Everyone's commands, then those of the roles held (an administrator's include the
    organizer's, as the role does)."""
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
        "organize": _("Organizer: my courses"),
        "newcourse": _("Organizer: create a course"),
        "nominate": _("Nominate people for a course"),
        "broadcast": _("Organizer: message an audience"),
        "attendance": _("Organizer: attendance"),
        "complete": _("Organizer: finish a course, record completion"),
        "noshows": _("Registered people who did not attend"),
        "claims": _("Organizer: training claims to review"),
        "reviews": _("Organizer: secondment review meetings"),
        "report": _("Organizer: figures for my units"),
        "grant": _("Administrator: give a role"),
        "revoke": _("Administrator: take a role back"),
        "audit": _("Administrator: the audit log"),
    }
    names = list(COMMANDS)
    for role in (Role.UNIT_HEAD, Role.ORGANIZER, Role.ADMIN):
        if any(role in roles.IMPLIES[h] for h in held):
            names += [n for n in ROLE_COMMANDS[role] if n not in names]
    return [BotCommand(name, descriptions[name]) for name in names]


async def set_commands(app: Application) -> None:
    """Localized command menus; users without a matching app language get Vietnamese. People
    who hold a role get their commands in their own chat's menu soon after (a job, so that a
    province's hundreds of unit heads do not hold the start up)."""
    settings = app.bot_data["resources"].settings
    for lang in LANGUAGES:
        commands = command_menu(Translator(lang, settings.tz))
        await app.bot.set_my_commands(commands, language_code=lang)
        if lang == settings.default_language:
            await app.bot.set_my_commands(commands)
    if app.job_queue is not None:
        app.job_queue.run_once(_sync_job, when=1, name="role-menus")


async def _sync_job(context: BotContext) -> None:
    await sync_role_menus(context.application)


async def sync_role_menus(app: Application) -> None:
    """Every role holder's menu, a few a second (Telegram publishes no limit for this)."""
    res: Resources = app.bot_data["resources"]
    async with reading(res.db) as session:
        holders = await roles.holders(session)
    for person_id in holders:
        await sync_role_menu(app.bot, res, person_id, app.bot_data)
        await asyncio.sleep(0.05)


async def sync_role_menu(bot: Bot, res: Resources, person_id: int, bot_data: Any) -> None:
    """Give the person's Telegram chat the menu of the roles they hold now (or the common
    one back), in their language. Done at start-up, on /grant and /revoke in chat, on the
    person's /help (so a change made on the command line shows by then), on linking and on
    a change of language; Telegram is asked only when what the chat shows changes."""
    async with reading(res.db) as session:
        account = await AccountRepo(session).linked_to("telegram", person_id)
        held = frozenset(g.role for g in await roles.grants_of(session, person_id))
    if account is None or not account.active:
        return
    lang = pick_language(account.language, None, res.settings.default_language)
    shown: dict[str, tuple[int, str, frozenset[Role]]] = bot_data.setdefault(MENUS, {})
    if shown.get(account.chat_id) == (person_id, lang, held):
        return  # the chat shows this already (after a restart, each chat is asked once)
    scope = BotCommandScopeChat(int(account.chat_id))
    try:
        if held:
            await bot.set_my_commands(command_menu(Translator(lang, res.settings.tz), held),
                                      scope=scope)  # fmt: skip
        else:
            await bot.delete_my_commands(scope=scope)
    except TelegramError as error:  # e.g. the person blocked the bot: the menu can wait
        log.warning("could not set the command menu of person %s: %s", person_id, error)
        return
    shown[account.chat_id] = (person_id, lang, held)


async def forget_role_menu(bot: Bot, chat_id: str, bot_data: Any) -> None:
    """The common menu back in a chat that no longer speaks for its person (unlinked)."""
    bot_data.setdefault(MENUS, {}).pop(chat_id, None)
    try:
        await bot.delete_my_commands(scope=BotCommandScopeChat(int(chat_id)))
    except TelegramError as error:
        log.warning("could not reset the command menu of chat %s: %s", chat_id, error)


async def follow_link(update: Update, context: BotContext, ctx: Ctx) -> None:
    """After a flow that may link, unlink or move a link: chats that lost their person get
    the common command menu back, and a newly linked person gets their role's."""
    await _follow(context, ctx, always=False)


async def refresh_menu(update: Update, context: BotContext, ctx: Ctx) -> None:
    """After /help or a change of language: the person's command menu, should it differ."""
    await _follow(context, ctx, always=True)


async def _follow(context: BotContext, ctx: Ctx, *, always: bool) -> None:
    for chat_id in ctx.unlinked:
        await forget_role_menu(context.bot, chat_id, context.bot_data)
    if ctx.person_id is not None and (always or ctx.person_id != context.person_id):
        await sync_role_menu(context.bot, context.resources, ctx.person_id, context.bot_data)


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
    """Log the failure, answer a pressed button, forget what the update changed of the chat's
    conversation (it is not written back, so a retry finds the step as it was) and apologise
    in the user's language."""
    log.error("error while handling an update", exc_info=context.error)
    if isinstance(update, Update) and update.effective_chat is not None:
        dialogs = context.bot_data.get("dialogs")
        if dialogs is not None:
            dialogs.drop(str(update.effective_chat.id))
        try:
            if update.callback_query is not None:
                await update.callback_query.answer()
        except Exception:  # already answered, or too late to
            log.debug("could not answer the button after the error", exc_info=True)
        try:
            await update.effective_chat.send_message(
                context.t.gettext("Sorry, something went wrong. Please try again in a moment.")
            )
        except Exception:  # the apology itself failed; the log has the cause
            log.exception("could not send the apology")


def register(app: Application) -> None:
    """/help and its menu button (handlers/help.py), then the person's command menu."""
    commands(app, ("help",), after=refresh_menu)
    actions(app, ("help",), after=refresh_menu)  # the main menu offered as choices
    menu_buttons(app, ("help",), after=refresh_menu)
    app.add_error_handler(on_error)


def register_fallbacks(app: Application) -> None:
    """Catch-alls; registered after every feature so they only see what nobody handled."""
    app.add_handler(MessageHandler(filters.COMMAND, unknown_command))
    app.add_handler(CallbackQueryHandler(stale_button))
    app.add_handler(
        MessageHandler(~filters.TEXT & ~filters.CONTACT & ~filters.StatusUpdate.ALL, not_text)
    )
