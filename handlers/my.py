"""/my: upcoming registrations, waitlist places, and this year's completed training."""

from __future__ import annotations

from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, CommandHandler, MessageHandler, filters

from bot.context import BotContext
from domain.records import overview
from handlers import callbacks as cb
from handlers.common import reply, require_person
from handlers.menus import menu_pattern
from handlers.render import short
from storage.models import RegistrationStatus


async def my(update: Update, context: BotContext) -> None:
    """Show what the person is registered for and their training hours this year."""
    person_id = await require_person(update, context)
    if person_id is None:
        return
    async with context.db.begin() as session:
        view = await overview(
            session,
            person_id=person_id,
            now=context.now(),
            hours_target=context.settings.annual_hours_target,
        )
    t = context.t
    _ = t.gettext
    lines = [_("<b>Your registrations</b>")]
    for item in view.upcoming:
        if item.status == RegistrationStatus.REGISTERED:
            state = _("registered")
        elif item.status == RegistrationStatus.NOMINATED:
            state = _("nominated — please confirm")
        elif item.status == RegistrationStatus.PENDING_APPROVAL:
            state = _("awaiting approval")
        else:
            state = _("waitlist no. %(n)d") % {"n": item.waitlist_position or 0}
        lines.append(
            f"• {escape(item.course.title)}\n  {t.datetime(item.course.starts_at)} · {state}"
        )
    if not view.upcoming:
        lines.append(_("You have no upcoming courses. Tap 📚 Courses to find one."))
    lines.append("\n" + _("<b>Training completed this year</b>"))
    for record in view.completed:
        lines.append(f"• {escape(record.title)} ({t.date(record.ends_on)}, {record.hours}h)")
    lines.append(
        _("Hours: %(done)d of the %(target)d-hour yearly target.")
        % {"done": view.hours_done, "target": view.hours_target}
    )
    rows = [
        [
            InlineKeyboardButton(
                short(i.course.title), callback_data=cb.build(cb.COURSE, i.course.id)
            )
        ]
        for i in view.upcoming
    ]
    await reply(update, "\n".join(lines), InlineKeyboardMarkup(rows) if rows else None)


def register(app: Application) -> None:
    app.add_handler(CommandHandler("my", my))
    app.add_handler(MessageHandler(filters.Regex(menu_pattern("my")), my))
