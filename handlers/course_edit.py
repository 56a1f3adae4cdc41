"""Editing one field of a course from its admin card: title, dates and sessions, place or
link, capacity, registration deadline. A new time or place is told to every registrant."""

from __future__ import annotations

import enum
import warnings
from datetime import datetime
from html import escape
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)
from telegram.warnings import PTBUserWarning

from bot.context import BotContext
from domain import course_admin
from domain import course_draft as d
from domain.course_admin import Edit, Field
from domain.course_draft import Invalid
from handlers import callbacks as cb
from handlers.common import reply
from handlers.organizer_common import (
    act,
    admin_buttons,
    admin_card,
    allowed,
    invalid_text,
    load_view,
)
from schedules.notifications import kick_drainer

EDITING = "course_edit"
ACTION = "course_edit"


class Step(enum.IntEnum):
    VALUE = 0  # the one answer of title, place, capacity, deadline
    STARTS = 1
    ENDS = 2
    SESSIONS = 3


def _state(context: BotContext) -> dict[str, Any]:
    assert context.user_data is not None
    state = context.user_data.setdefault(EDITING, {})
    assert isinstance(state, dict)
    return state


async def start(update: Update, context: BotContext) -> int:
    """Ask for the new value of the chosen field, showing the current one."""
    query = update.callback_query
    assert query is not None
    course_id, field = int(cb.parts(query.data)[0]), Field(cb.parts(query.data)[1])
    view = await load_view(update, context, ACTION, course_id)
    if view is None:
        return ConversationHandler.END
    await query.answer()
    c, t, _ = view.course, context.t, context.t.gettext
    state = _state(context)
    state.clear()
    state.update(course_id=course_id, field=field, starts=c.starts_at, ends=c.ends_at)
    prompts = {
        Field.TITLE: _("Now: %(now)s\nType the new title.") % {"now": escape(c.title)},
        Field.WHEN: _("Now: %(now)s\nType the new start, like 05/12/2026 07:30.")
        % {"now": f"{t.datetime(c.starts_at)} – {t.datetime(c.ends_at)}"},
        Field.WHERE: _("Now: %(now)s\nType the new place, an https:// link, or both.")
        % {"now": escape(" · ".join(x for x in (c.place, c.link) if x) or "—")},
        Field.CAPACITY: _("Now: %(now)s\nType the new number of seats.") % {"now": c.capacity},
        Field.DEADLINE: _(
            "Now: %(now)s\nType the new registration deadline, like 01/12/2026 17:00."
        )
        % {"now": t.datetime(c.registration_deadline)},
    }
    await reply(update, prompts[field] + "\n" + _("/cancel to stop."))
    return Step.STARTS if field == Field.WHEN else Step.VALUE


def _edit(state: dict[str, Any], text: str, now: datetime) -> Edit:
    field: Field = state["field"]
    if field == Field.TITLE:
        return Edit(field, title=d.parse_title(text))
    if field == Field.WHERE:
        return Edit(field, where=d.parse_where(text))
    if field == Field.CAPACITY:
        return Edit(field, capacity=d.parse_count(text, minimum=1))
    deadline = d.parse_deadline(text, starts=state["starts"], ends=state["ends"], now=now)
    return Edit(field, deadline=deadline)


async def _apply(update: Update, context: BotContext, edit: Edit) -> int:
    state, person_id = _state(context), context.person_id
    assert person_id is not None

    async def call(s: AsyncSession) -> tuple[course_admin.Changed, course_admin.AdminView]:
        changed = await course_admin.edit_course(
            s,
            person_id=person_id,
            course_id=state["course_id"],
            edit=edit,
            now=context.now(),
            policy=context.settings.reminder_policy(),
        )
        return changed, await course_admin.admin_view(
            s, person_id=person_id, course_id=changed.course.id
        )

    done = await act(update, context, ACTION, call)
    if done is None:
        return Step.STARTS if edit.field == Field.WHEN else Step.VALUE
    changed, view = done
    _ = context.t.gettext
    text = _("✅ Saved.")
    if changed.notified:
        text += " " + _("%(n)d registered or waitlisted people will be told.") % {
            "n": changed.notified
        }
    if changed.promoted:
        text += " " + _("%(n)d people from the waitlist got a seat.") % {"n": changed.promoted}
    await reply(
        update, text + "\n\n" + admin_card(context.t, view), admin_buttons(context.t, view.course)
    )
    if changed.notified or changed.promoted:
        kick_drainer(context.application)
    _state(context).clear()
    return ConversationHandler.END


async def value(update: Update, context: BotContext) -> int:
    """Take the new title, place, capacity or deadline and save it."""
    if not await allowed(update, context, ACTION):
        return ConversationHandler.END
    assert update.effective_message is not None
    try:
        edit = _edit(_state(context), update.effective_message.text or "", context.now())
    except Invalid as error:
        await reply(update, invalid_text(context.t, error))
        return Step.VALUE
    return await _apply(update, context, edit)


async def when(update: Update, context: BotContext) -> int:
    """Take the new start, then the end, then the sessions; save after the last."""
    if not await allowed(update, context, ACTION):
        return ConversationHandler.END
    assert update.effective_message is not None
    state, text, now, _ = (
        _state(context),
        update.effective_message.text or "",
        context.now(),
        context.t.gettext,
    )
    step = state.get("step", Step.STARTS)
    try:
        if step == Step.STARTS:
            state["new_starts"] = d.parse_moment(text, now=now)
            state["step"] = Step.ENDS
            await reply(update, _("Type the new end, like 06/12/2026 17:00."))
            return Step.STARTS
        if step == Step.ENDS:
            state["new_ends"] = d.parse_end(text, starts=state["new_starts"], now=now)
            state["step"] = Step.SESSIONS
            await reply(
                update,
                _(
                    "Type the sessions, one per line, like 05/12/2026 07:30-11:30, "
                    "or - if the course is one block."
                ),
            )
            return Step.STARTS
        spans = d.parse_sessions(text, starts=state["new_starts"], ends=state["new_ends"])
    except Invalid as error:
        await reply(update, invalid_text(context.t, error))
        return Step.STARTS
    return await _apply(
        update, context, Edit(Field.WHEN, when=(state["new_starts"], state["new_ends"], spans))
    )


async def stop(update: Update, context: BotContext) -> int:
    """Leave the course as it was."""
    _state(context).clear()
    await reply(update, context.t.gettext("OK, nothing changed."))
    return ConversationHandler.END


def register(app: Application) -> None:
    text = filters.TEXT & ~filters.COMMAND
    with warnings.catch_warnings():
        # One edit at a time per user and chat; see course_create for the per_message warning.
        warnings.simplefilter("ignore", PTBUserWarning)
        handler = ConversationHandler(
            entry_points=[CallbackQueryHandler(start, pattern=cb.pattern(cb.ORG_EDIT_FIELD))],
            states={
                Step.VALUE: [MessageHandler(text, value)],
                Step.STARTS: [MessageHandler(text, when)],
            },
            fallbacks=[CommandHandler("cancel", stop)],
            allow_reentry=True,
            name="course_edit",
        )
    app.add_handler(handler)
