"""/newcourse: an organizer creates a course one answer at a time, sees a preview, confirms.

Each answer is checked as it comes (with a message in the user's language when it cannot be
used) and every step, typed or pressed, passes the organizer gate again on the server.
"""

from __future__ import annotations

import enum
import warnings
from collections.abc import Callable
from datetime import datetime
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
    choice_options,
    course_facts,
    invalid_text,
)
from domain import course_admin
from domain import course_draft as d
from domain.course_draft import Draft, Invalid
from domain.vocab import COURSE_CATEGORY, level_vocab
from handlers import actions as cb
from locales import Translator

DRAFT = "new_course"
ACTION = "course_create"


class Step(enum.IntEnum):
    TITLE = 0
    CATEGORY = 1
    STARTS = 2
    ENDS = 3
    SESSIONS = 4
    WHERE = 5
    CAPACITY = 6
    DEADLINE = 7
    AUDIENCE = 8
    HOURS = 9
    GRANTS = 10
    LEVEL = 11
    APPROVAL = 12
    PREVIEW = 13


Markup = InlineKeyboardMarkup | None
# The steps answered with buttons, and their kind of choice (organizer_common.choice_options).
_CHOICES = {Step.CATEGORY: "cat", Step.GRANTS: "g", Step.LEVEL: "l", Step.APPROVAL: "a"}


def _choices(kind: str, options: list[tuple[str, str]]) -> InlineKeyboardMarkup:
    rows = [
        [InlineKeyboardButton(text, callback_data=cb.build(cb.NEW_CHOICE, f"{kind}:{code}"))]
        for code, text in options
    ]
    return InlineKeyboardMarkup(rows)


def _prompt(t: Translator, step: Step, draft: Draft) -> tuple[str, Markup]:
    """The question for a step, numbered so the organizer sees how far along they are."""
    _ = t.gettext
    texts = {
        Step.TITLE: _("What is the course's title?"),
        Step.CATEGORY: _("Which kind of training is it?"),
        Step.STARTS: _("When does it start? Type the date and time like 05/12/2026 07:30."),
        Step.ENDS: _("When does it end? Type the date and time like 06/12/2026 17:00."),
        Step.SESSIONS: _(
            "Its sessions, one per line, like 05/12/2026 07:30-11:30. "
            "Type - if the course is one block."
        ),
        Step.WHERE: _("Where does it take place? Type the place, an https:// link, or both."),
        Step.CAPACITY: _("How many seats?"),
        Step.DEADLINE: _(
            "Registration deadline, like 01/12/2026 17:00? Type - for until the start."
        ),
        Step.AUDIENCE: _(
            "Who may register? Type all, or unit codes, positions or groups (leaders, civil "
            "servants, mass organisations, part-time), separated by commas."
        ),
        Step.HOURS: _("How many training hours does it count for? (0 if none)"),
        Step.GRANTS: _("What does completing it grant?"),
        Step.LEVEL: _("Which level?"),
        Step.APPROVAL: _("Does registration need the unit head's approval?"),
    }
    markup: Markup = None
    if step in _CHOICES:
        kind = _CHOICES[step]
        markup = _choices(kind, choice_options(t, kind, draft.grants_kind))
    head = _("New course, step %(n)d of %(total)d") % {"n": step + 1, "total": len(Step) - 1}
    return f"<i>{head}</i>\n{texts[step]}", markup


def _draft(context: BotContext) -> Draft:
    assert context.user_data is not None
    draft = context.user_data.get(DRAFT)
    if not isinstance(draft, Draft):
        draft = context.user_data[DRAFT] = Draft()
    return draft


async def _ask(update: Update, context: BotContext, step: Step) -> Step:
    if step == Step.PREVIEW:
        return await _preview(update, context)
    text, markup = _prompt(context.t, step, _draft(context))
    await reply(update, text, markup)
    return step


async def _preview(update: Update, context: BotContext) -> Step:
    _ = context.t.gettext
    draft = _draft(context)
    facts = course_facts(context.t, course_admin.course_from(draft), sessions=len(draft.sessions))
    text = _("<b>Please check the new course:</b>") + "\n\n" + "\n".join(facts)
    markup = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    _("✅ Create the course"), callback_data=cb.build(cb.NEW_CONFIRM)
                ),
                InlineKeyboardButton(_("Cancel"), callback_data=cb.build(cb.NEW_ABORT)),
            ]
        ]
    )
    await reply(update, text, markup)
    return Step.PREVIEW


async def start(update: Update, context: BotContext) -> int:
    """Begin a new course: ask for its title."""
    if not await allowed(update, context, ACTION):
        return ConversationHandler.END
    assert context.user_data is not None
    context.user_data[DRAFT] = Draft()
    return await _ask(update, context, Step.TITLE)


Parser = Callable[[Draft, str, datetime], None]

PARSERS: dict[Step, Parser] = {
    Step.TITLE: lambda dr, s, now: setattr(dr, "title", d.parse_title(s)),
    Step.CATEGORY: lambda dr, s, now: setattr(dr, "category", d.parse_category(s)),
    Step.STARTS: lambda dr, s, now: setattr(dr, "starts_at", d.parse_moment(s, now=now)),
    Step.ENDS: lambda dr, s, now: setattr(
        dr, "ends_at", d.parse_end(s, starts=_at(dr.starts_at), now=now)
    ),
    Step.SESSIONS: lambda dr, s, now: setattr(
        dr, "sessions", d.parse_sessions(s, starts=_at(dr.starts_at), ends=_at(dr.ends_at))
    ),
    Step.WHERE: lambda dr, s, now: setattr(dr, "where", d.parse_where(s)),
    Step.CAPACITY: lambda dr, s, now: setattr(dr, "capacity", d.parse_count(s, minimum=1)),
    Step.DEADLINE: lambda dr, s, now: setattr(
        dr,
        "registration_deadline",
        d.parse_deadline(s, starts=_at(dr.starts_at), ends=_at(dr.ends_at), now=now),
    ),
    Step.HOURS: lambda dr, s, now: setattr(dr, "hours", d.parse_hours(s)),
}


def _at(value: datetime | None) -> datetime:
    assert value is not None
    return value


def _typed(step: Step) -> Callable[[Update, BotContext], Any]:
    """The handler for a typed answer at `step`: check it, store it, ask the next question."""

    async def answer(update: Update, context: BotContext) -> int:
        if not await allowed(update, context, ACTION):
            return ConversationHandler.END
        assert update.effective_message is not None
        text = update.effective_message.text or ""
        draft = _draft(context)
        try:
            if step == Step.AUDIENCE:
                async with context.db.begin() as session:
                    draft.audience = await d.parse_audience(session, text)
            else:
                PARSERS[step](draft, text, context.now())
        except Invalid as error:
            await reply(update, invalid_text(context.t, error))
            return step
        return await _ask(update, context, Step(step + 1))

    answer.__doc__ = f"Take the answer to step {step.name.lower()} and ask the next one."
    return answer


async def choose(update: Update, context: BotContext) -> int:
    """Take a pressed choice: category, what completing grants, level, approval."""
    query = update.callback_query
    assert query is not None
    if not await allowed(update, context, ACTION):
        return ConversationHandler.END
    kind, code = cb.parts(query.data)
    draft = _draft(context)
    if kind in ("cat", "g", "l", "a"):
        await query.answer()
    if kind == "cat" and code in COURSE_CATEGORY:
        draft.category = code
        return await _ask(update, context, Step.STARTS)
    if kind == "g" and (code == "-" or code in d.GRANTABLE):
        draft.grants_kind, draft.grants_level = (None if code == "-" else code), None
        return await _ask(update, context, Step.LEVEL if level_vocab(code) else Step.APPROVAL)
    if kind == "l" and code in (level_vocab(draft.grants_kind or "") or ()):
        draft.grants_level = code
        return await _ask(update, context, Step.APPROVAL)
    if kind == "a" and code in ("yes", "no"):
        draft.requires_approval = code == "yes"
        return await _ask(update, context, Step.PREVIEW)
    await query.answer(context.t.gettext("This button is no longer valid."), show_alert=True)
    return ConversationHandler.END


async def use_buttons(update: Update, context: BotContext) -> None:
    """A typed answer where a button is expected: say so (the conversation stays put)."""
    if await allowed(update, context, ACTION):
        await reply(update, context.t.gettext("Please choose with the buttons above, or /cancel."))


async def stale(update: Update, context: BotContext) -> None:
    """A button of a finished (or someone else's) new-course conversation."""
    query = update.callback_query
    assert query is not None
    if await allowed(update, context, ACTION):
        await query.answer(context.t.gettext("This button is no longer valid."), show_alert=True)


async def confirm(update: Update, context: BotContext) -> int:
    """Create the previewed course and show its admin card."""
    query = update.callback_query
    assert query is not None and context.user_data is not None
    if not await allowed(update, context, ACTION):
        return ConversationHandler.END
    draft, person_id = _draft(context), context.person_id
    assert person_id is not None

    async def create(session: AsyncSession) -> course_admin.AdminView:
        return await course_admin.create_course(
            session, person_id=person_id, draft=draft, now=context.now()
        )

    view = await act(update, context, ACTION, create)
    if view is None:
        return Step.PREVIEW
    await query.answer()
    context.user_data.pop(DRAFT, None)
    text = context.t.gettext("✅ Course created and open for registration:") + "\n\n"
    await reply(
        update, text + admin_card(context.t, view), admin_buttons(context.t, view.course), edit=True
    )
    return ConversationHandler.END


async def abort(update: Update, context: BotContext) -> int:
    """Drop the draft."""
    assert context.user_data is not None
    context.user_data.pop(DRAFT, None)
    if update.callback_query is not None:
        await update.callback_query.answer()
    await reply(update, context.t.gettext("OK, no course was created."), edit=True)
    return ConversationHandler.END


def register(app: Application) -> None:
    text = filters.TEXT & ~filters.COMMAND
    states: dict[object, list[Any]] = {
        step: [MessageHandler(text, _typed(step))]
        for step in Step
        if step in PARSERS or step == Step.AUDIENCE
    }
    states[Step.CATEGORY].append(CallbackQueryHandler(choose, pattern=cb.pattern(cb.NEW_CHOICE)))
    for step in (Step.GRANTS, Step.LEVEL, Step.APPROVAL):
        states[step] = [CallbackQueryHandler(choose, pattern=cb.pattern(cb.NEW_CHOICE))]
    states[Step.PREVIEW] = [CallbackQueryHandler(confirm, pattern=cb.pattern(cb.NEW_CONFIRM))]
    for step in (Step.GRANTS, Step.LEVEL, Step.APPROVAL, Step.PREVIEW):
        states[step].append(MessageHandler(text, use_buttons))
    with warnings.catch_warnings():
        # Choices are tracked per user and chat, not per message: the newest prompt is the
        # one that counts, which is what PTB's per_message warning is about.
        warnings.simplefilter("ignore", PTBUserWarning)
        handler = ConversationHandler(
            entry_points=[CommandHandler("newcourse", start)],
            states=states,
            fallbacks=[
                CommandHandler("cancel", abort),
                CallbackQueryHandler(abort, pattern=cb.pattern(cb.NEW_ABORT)),
            ],
            allow_reentry=True,
            name="new_course",
        )
    app.add_handler(handler)
    for action in (cb.NEW_CHOICE, cb.NEW_CONFIRM, cb.NEW_ABORT):
        app.add_handler(CallbackQueryHandler(stale, pattern=cb.pattern(action)))
