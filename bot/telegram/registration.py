"""Register for a course or cancel, each after a confirmation; refusals change nothing."""

from __future__ import annotations

import logging
from datetime import timedelta
from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler

from bot.context import BotContext
from bot.telegram import callbacks as cb
from bot.telegram.common import reply, require_person
from bot.telegram.render import (
    course_buttons,
    course_card,
    refusal,
    refusal_alert,
    register_question,
)
from domain import catalog, registration
from domain.errors import DomainError
from domain.ics import course_ics
from domain.registration import Outcome
from schedules.notifications import kick_drainer

log = logging.getLogger(__name__)


def _confirm(t_yes: str, t_no: str, action: str, course_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(t_yes, callback_data=cb.build(action, course_id)),
                InlineKeyboardButton(t_no, callback_data=cb.build(cb.DISMISS)),
            ]
        ]
    )


async def ask(update: Update, context: BotContext) -> None:
    """Ask to confirm registering for, or cancelling, the course on the pressed button."""
    query = update.callback_query
    assert query is not None and query.data is not None
    if await require_person(update, context) is None:
        return
    try:
        async with context.db.begin() as session:
            view = await catalog.card(session, course_id=cb.number(query.data), person_id=None)
    except DomainError as error:
        await query.answer(refusal_alert(context.t, error), show_alert=True)
        return
    await query.answer()
    _ = context.t.gettext
    title = escape(view.course.title)
    if query.data.startswith(cb.REGISTER + ":"):
        text, yes = register_question(context.t, view)
        markup = _confirm(yes, _("No"), cb.REGISTER_CONFIRM, view.course.id)
    else:
        text = _("Cancel your registration for <b>%(title)s</b>?") % {"title": title}
        markup = _confirm(_("Yes, cancel it"), _("No, keep it"), cb.CANCEL_CONFIRM, view.course.id)
    await reply(update, text, markup)


async def confirm_register(update: Update, context: BotContext) -> None:
    """Register (or waitlist) after confirmation and send the calendar file."""
    query = update.callback_query
    assert query is not None
    person_id = await require_person(update, context)
    if person_id is None:
        return
    _ = context.t.gettext
    try:
        async with context.db.begin() as session:
            result = await registration.register(
                session,
                person_id=person_id,
                course_id=cb.number(query.data),
                now=context.now(),
                policy=context.settings.reminder_policy(),
            )
            view = await catalog.card(session, course_id=result.course_id, person_id=person_id)
    except DomainError as error:
        await query.answer(refusal_alert(context.t, error), show_alert=True)
        await reply(update, refusal(context.t, error), edit=True)
        return
    await query.answer()
    title = escape(view.course.title)
    if result.outcome == Outcome.WAITLISTED:
        text = _(
            "⏳ The course is full. You are number %(n)d on the waitlist for <b>%(title)s</b>; "
            "I will tell you at once if a seat frees up."
        ) % {"n": result.waitlist_position or 0, "title": title}
        await reply(update, text, edit=True)
        return
    if result.outcome in (Outcome.PENDING_APPROVAL, Outcome.NOMINATED):
        card, markup = course_card(context.t, view), course_buttons(context.t, view)
        if result.outcome == Outcome.PENDING_APPROVAL and not result.already:
            card = _("📨 Your request was sent to your unit head for approval.") + "\n\n" + card
            kick_drainer(context.application)
        await reply(update, card, markup, edit=True)
        return
    text = _("✅ You are registered for <b>%(title)s</b>, starting %(when)s.") % {
        "title": title,
        "when": context.t.datetime(view.course.starts_at),
    }
    await reply(update, text, edit=True)
    if not result.already:
        assert update.effective_chat is not None
        await update.effective_chat.send_document(
            course_ics(view.course, now=context.now()),
            filename=f"khoa-hoc-{view.course.id}.ics",
            caption=_("Open this file to add the course to your phone's calendar."),
        )


async def confirm_cancel(update: Update, context: BotContext) -> None:
    """Cancel after confirmation; a freed seat goes to the first person on the waitlist."""
    query = update.callback_query
    assert query is not None
    person_id = await require_person(update, context)
    if person_id is None:
        return
    try:
        async with context.db.begin() as session:
            result = await registration.cancel(
                session,
                person_id=person_id,
                course_id=cb.number(query.data),
                now=context.now(),
                cutoff=timedelta(hours=context.settings.cancel_cutoff_hours),
                policy=context.settings.reminder_policy(),
            )
    except DomainError as error:
        await query.answer(refusal_alert(context.t, error), show_alert=True)
        await reply(update, refusal(context.t, error), edit=True)
        return
    await query.answer()
    await reply(update, context.t.gettext("Your registration is cancelled."), edit=True)
    if result.promoted_person_id is not None:
        kick_drainer(context.application)


async def dismiss(update: Update, context: BotContext) -> None:
    """Close a confirmation prompt without doing anything."""
    query = update.callback_query
    assert query is not None
    await query.answer()
    await reply(update, context.t.gettext("OK, nothing changed."), edit=True)


def register(app: Application) -> None:
    app.add_handler(CallbackQueryHandler(ask, pattern=cb.pattern(cb.REGISTER)))
    app.add_handler(CallbackQueryHandler(ask, pattern=cb.pattern(cb.CANCEL)))
    app.add_handler(CallbackQueryHandler(confirm_register, pattern=cb.pattern(cb.REGISTER_CONFIRM)))
    app.add_handler(CallbackQueryHandler(confirm_cancel, pattern=cb.pattern(cb.CANCEL_CONFIRM)))
    app.add_handler(CallbackQueryHandler(dismiss, pattern=cb.pattern(cb.DISMISS)))
