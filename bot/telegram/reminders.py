"""/reminders: which kinds of reminders a person gets, switched on and off with buttons."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot.context import BotContext
from bot.telegram.common import reply, require_person
from domain import reminders
from handlers import actions as cb
from handlers.render import category_label
from locales import Translator


def _settings_view(t: Translator, off: set[str]) -> tuple[str, InlineKeyboardMarkup]:
    _ = t.gettext
    lines = [_("<b>Your reminders</b>")]
    rows = []
    for category in reminders.CATEGORIES:
        on = category not in off
        name = category_label(t, category)
        state = _("🔔 %(name)s: on") if on else _("🔕 %(name)s: off")
        lines.append(state % {"name": name})
        action = _("Turn off: %(name)s") if on else _("Turn on: %(name)s")
        rows.append(
            [
                InlineKeyboardButton(
                    action % {"name": name}, callback_data=cb.build(cb.REMINDER_TOGGLE, category)
                )
            ]
        )
    lines.append(
        _("Notices that a course changed or was cancelled, or that you got a seat, always come.")
    )
    return "\n".join(lines), InlineKeyboardMarkup(rows)


async def show(update: Update, context: BotContext) -> None:
    """Show each category of reminders with a button to switch it."""
    person_id = await require_person(update, context)
    if person_id is None:
        return
    async with context.db.begin() as session:
        off = await reminders.opted_out(session, person_id)
    await reply(update, *_settings_view(context.t, off))


async def toggle(update: Update, context: BotContext) -> None:
    """Switch one category and show the settings again."""
    query = update.callback_query
    assert query is not None
    person_id = await require_person(update, context)
    if person_id is None:
        return
    category = cb.argument(query.data)
    async with context.db.begin() as session:
        on = category in await reminders.opted_out(session, person_id)
        await reminders.set_category(session, person_id=person_id, category=category, on=on)
        off = await reminders.opted_out(session, person_id)
    await query.answer()
    await reply(update, *_settings_view(context.t, off), edit=True)


async def turn_off(update: Update, context: BotContext) -> None:
    """Turn off the category of the reminder whose button was pressed."""
    query = update.callback_query
    assert query is not None
    person_id = await require_person(update, context)
    if person_id is None:
        return
    category = cb.argument(query.data)
    async with context.db.begin() as session:
        await reminders.set_category(session, person_id=person_id, category=category, on=False)
    _ = context.t.gettext
    await query.answer(_("Turned off. /reminders turns them back on."))
    await reply(
        update,
        _("🔕 No more of these: %(name)s. /reminders turns them back on.")
        % {"name": category_label(context.t, category)},
    )


def register(app: Application) -> None:
    app.add_handler(CommandHandler("reminders", show))
    app.add_handler(CallbackQueryHandler(toggle, pattern=cb.pattern(cb.REMINDER_TOGGLE)))
    app.add_handler(CallbackQueryHandler(turn_off, pattern=cb.pattern(cb.REMINDER_OFF)))
