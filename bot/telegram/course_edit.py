"""Editing one field of a course from its admin card: title, dates and sessions, place or
link, capacity, registration deadline, and the details /newcourse asks for (category,
audience, hours, what completing grants, the approval rule) with the same questions, buttons
and checks. A new time or place is told to every registrant; a detail is told to nobody."""

from __future__ import annotations

import enum
import warnings
from datetime import datetime
from html import escape
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
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
from bot.telegram.common import reply
from bot.telegram.organizer_common import (
    act,
    admin_buttons,
    admin_card,
    allowed,
    audience_text,
    choice_options,
    invalid_text,
    load_view,
)
from domain import course_admin
from domain import course_draft as d
from domain.course_admin import Edit, Field
from domain.course_draft import Invalid, Problem
from domain.vocab import level_vocab
from handlers import actions as cb
from handlers.render import label
from locales import Translator
from storage.models import Course

EDITING = "course_edit"
ACTION = "course_edit"


class Step(enum.IntEnum):
    VALUE = 0  # the one answer (typed or pressed) of every field but the dates
    STARTS = 1
    ENDS = 2
    SESSIONS = 3


# The fields answered with buttons, and the kind of choice (callbacks.ORG_EDIT_CHOICE) each
# one offers; the category may be typed too, as in /newcourse.
CHOICES = {Field.CATEGORY: "cat", Field.GRANTS: "g", Field.APPROVAL: "a"}


def _labels(t: Translator) -> list[tuple[Field, str]]:
    _ = t.gettext
    return [
        (Field.TITLE, _("Title")),
        (Field.WHEN, _("Dates and sessions")),
        (Field.WHERE, _("Place or link")),
        (Field.CAPACITY, _("Capacity")),
        (Field.DEADLINE, _("Registration deadline")),
        (Field.CATEGORY, _("Kind of training")),
        (Field.AUDIENCE, _("Who may register")),
        (Field.HOURS, _("Training hours")),
        (Field.GRANTS, _("What completing grants")),
        (Field.APPROVAL, _("Unit head's approval")),
    ]


def _choices(course_id: int, kind: str, options: list[tuple[str, str]]) -> InlineKeyboardMarkup:
    rows = [
        [
            InlineKeyboardButton(
                text, callback_data=cb.build(cb.ORG_EDIT_CHOICE, f"{course_id}:{kind}:{code}")
            )
        ]
        for code, text in options
    ]
    return InlineKeyboardMarkup(rows)


def _prompt(t: Translator, c: Course, field: Field) -> tuple[str, InlineKeyboardMarkup | None]:
    """The current value and the question (the one /newcourse asks, for a detail)."""
    _ = t.gettext
    grants = label(t, c.grants_kind) or _("Only the training hours")
    now = {
        Field.CATEGORY: label(t, c.category),
        Field.AUDIENCE: escape(audience_text(t, c.audience)),
        Field.HOURS: str(c.hours),
        Field.GRANTS: f"{grants} ({label(t, c.grants_level)})" if c.grants_level else grants,
        Field.APPROVAL: _("✅ Registration needs the unit head's approval.")
        if c.requires_approval
        else _("Registration needs no approval."),
    }
    questions = {
        Field.CATEGORY: _("Which kind of training is it?"),
        Field.AUDIENCE: _(
            "Who may register? Type all, or unit codes, positions or groups (leaders, civil "
            "servants, mass organisations, part-time), separated by commas."
        ),
        Field.HOURS: _("How many training hours does it count for? (0 if none)"),
        Field.GRANTS: _("What does completing it grant?"),
        Field.APPROVAL: _("Does registration need the unit head's approval?"),
    }
    kind = CHOICES.get(field)
    markup = _choices(c.id, kind, choice_options(t, kind)) if kind else None
    text = _("Now: %(now)s") % {"now": now[field]} + "\n" + questions[field]
    return text, markup


def _state(context: BotContext) -> dict[str, Any]:
    assert context.user_data is not None
    state = context.user_data.setdefault(EDITING, {})
    assert isinstance(state, dict)
    return state


async def menu(update: Update, context: BotContext) -> None:
    """Offer the fields an organizer can change."""
    query = update.callback_query
    assert query is not None
    view = await load_view(update, context, ACTION, cb.number(query.data))
    if view is None:
        return
    await query.answer()
    _, course_id = context.t.gettext, view.course.id
    buttons = [
        InlineKeyboardButton(text, callback_data=cb.build(cb.ORG_EDIT_FIELD, f"{course_id}:{key}"))
        for key, text in _labels(context.t)
    ]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    rows.append(
        [InlineKeyboardButton(_("« Back"), callback_data=cb.build(cb.ORG_COURSE, course_id))]
    )
    text = _("What do you want to change in <b>%(title)s</b>?") % {
        "title": escape(view.course.title)
    }
    await reply(update, text, InlineKeyboardMarkup(rows), edit=True)


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
    if field in prompts:
        await reply(update, prompts[field] + "\n" + _("/cancel to stop."))
    else:
        text, markup = _prompt(t, c, field)
        await reply(update, text + "\n" + _("/cancel to stop."), markup)
    return Step.STARTS if field == Field.WHEN else Step.VALUE


def _edit(state: dict[str, Any], text: str, now: datetime) -> Edit:
    field: Field = state["field"]
    if field == Field.TITLE:
        return Edit(field, title=d.parse_title(text))
    if field == Field.WHERE:
        return Edit(field, where=d.parse_where(text))
    if field == Field.CAPACITY:
        return Edit(field, capacity=d.parse_count(text, minimum=1))
    if field == Field.CATEGORY:
        return Edit(field, category=d.parse_category(text))
    if field == Field.HOURS:
        return Edit(field, hours=d.parse_hours(text))
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
    if update.callback_query is not None:
        await update.callback_query.answer()
    changed, view = done
    _ = context.t.gettext
    text = _("✅ Saved.")
    if changed.registered:
        text += " " + context.t.ngettext(
            "%(n)d request waiting for approval no longer needs it and is now registered; "
            "the person will be told.",
            "%(n)d requests waiting for approval no longer need it and are now registered; "
            "the people will be told.",
            changed.registered,
        ) % {"n": changed.registered}
    elif edit.field in (Field.AUDIENCE, Field.APPROVAL):
        text += " " + _("Registrations made before this change stay as they are.")
    if edit.field in (Field.HOURS, Field.GRANTS):
        text += " " + _(
            "Training records already written stay as they are; completions recorded from "
            "now on follow the new value."
        )
    if changed.notified:
        text += " " + _("%(n)d registered or waitlisted people will be told.") % {
            "n": changed.notified
        }
    if changed.promoted:
        text += " " + _("%(n)d people from the waitlist got a seat.") % {"n": changed.promoted}
    await reply(
        update, text + "\n\n" + admin_card(context.t, view), admin_buttons(context.t, view.course)
    )
    if changed.notified or changed.promoted or changed.registered:
        context.wake()
    _state(context).clear()
    return ConversationHandler.END


async def value(update: Update, context: BotContext) -> int:
    """Take the typed new value of any field but the dates and save it."""
    if not await allowed(update, context, ACTION):
        return ConversationHandler.END
    assert update.effective_message is not None
    state, text = _state(context), update.effective_message.text or ""
    if state.get("field") in (Field.GRANTS, Field.APPROVAL):
        await reply(update, context.t.gettext("Please choose with the buttons above, or /cancel."))
        return Step.VALUE
    try:
        if state.get("field") == Field.AUDIENCE:
            async with context.db.begin() as session:
                edit = Edit(Field.AUDIENCE, audience=await d.parse_audience(session, text))
        else:
            edit = _edit(state, text, context.now())
    except Invalid as error:
        await reply(update, invalid_text(context.t, error))
        return Step.VALUE
    return await _apply(update, context, edit)


def _chosen(state: dict[str, Any], kind: str, code: str) -> Edit | None:
    """The edit a pressed choice makes (its value is checked again when saved); None when
    the chosen qualification has levels, to be asked next."""
    if kind == "cat":
        return Edit(Field.CATEGORY, category=code)
    if kind == "g" and code in d.GRANTABLE and level_vocab(code):
        state["grants_kind"] = code
        return None
    if kind == "g":
        return Edit(Field.GRANTS, grants=(None if code == "-" else code, None))
    if kind == "l":
        return Edit(Field.GRANTS, grants=(state["grants_kind"], code))
    if code not in ("yes", "no"):
        raise Invalid(Problem.EMPTY, code)
    return Edit(Field.APPROVAL, approval=code == "yes")


async def choose(update: Update, context: BotContext) -> int:
    """Take a pressed choice (category, what completing grants, its level, approval) of the
    course being edited; a button of another course or step is refused."""
    query = update.callback_query
    assert query is not None
    if not await allowed(update, context, ACTION):
        return ConversationHandler.END
    course_id, kind, code = cb.parts(query.data)
    state, _ = _state(context), context.t.gettext
    # The field's own choice; once a qualification with levels was picked, its level too.
    expected = {CHOICES.get(state.get("field", "")), "l" if state.get("grants_kind") else None}
    try:
        if int(course_id) != state.get("course_id") or kind not in expected:
            raise Invalid(Problem.EMPTY, code)
        edit = _chosen(state, kind, code)
    except Invalid:
        await query.answer(_("This button is no longer valid."), show_alert=True)
        return Step.VALUE
    if edit is not None:
        return await _apply(update, context, edit)
    await query.answer()
    options = choice_options(context.t, "l", state["grants_kind"])
    await reply(update, _("Which level?"), _choices(int(course_id), "l", options))
    return Step.VALUE


async def stale(update: Update, context: BotContext) -> None:
    """A choice button of a finished (or someone else's) edit."""
    query = update.callback_query
    assert query is not None
    if await allowed(update, context, ACTION):
        await query.answer(context.t.gettext("This button is no longer valid."), show_alert=True)


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
                Step.VALUE: [
                    MessageHandler(text, value),
                    CallbackQueryHandler(choose, pattern=cb.pattern(cb.ORG_EDIT_CHOICE)),
                ],
                Step.STARTS: [MessageHandler(text, when)],
            },
            fallbacks=[CommandHandler("cancel", stop)],
            allow_reentry=True,
            name="course_edit",
        )
    app.add_handler(handler)
    # Before organizer_courses (handlers/__init__.py), so this menu is the one that answers.
    app.add_handler(CallbackQueryHandler(menu, pattern=cb.pattern(cb.ORG_EDIT)))
    app.add_handler(CallbackQueryHandler(stale, pattern=cb.pattern(cb.ORG_EDIT_CHOICE)))
