"""Nominating people for a course (/nominate), answering a nomination, approving requests.

/nominate: a unit head (or organizer) picks a course, then people of their units who miss
what it gives (toggle buttons, page by page), how long seats are held, and sends. Nominees
confirm or decline; unit heads approve or decline self-registrations. Declining asks for a
reason as the next message (/skip for none, /cancel to keep things as they are).
"""

from __future__ import annotations

import enum
from html import escape
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
)

from bot.context import BotContext
from bot.telegram.adapter import actions
from bot.telegram.common import reply, require_role
from domain import nominations
from domain.errors import DomainError
from domain.nominations import Candidate, Choice, Nominating
from handlers import actions as cb
from handlers.render import refusal_alert, rule_title, short
from locales import Translator
from storage.models import Role

PICKING = "nominate"  # user_data: {"course": id, "picked": [ids], "page": n, "hold": hours}
PER_PAGE = 8
MAX_UNIT_BUTTONS = 8  # more units than this: the list is long enough to page through
HOLDS = (24, 72, 168, 0)  # hours a nominee's seat may be held; 0 = until registration closes


class Step(enum.IntEnum):
    REASON = 0


# -- rendering --------------------------------------------------------------------------------


def _course_list(t: Translator, choices: list[Choice]) -> tuple[str, InlineKeyboardMarkup | None]:
    _ = t.gettext
    if not choices:
        return _("No open course would close a gap of anyone in your units."), None
    lines = [_("<b>Nominate people</b>: pick a course.")]
    for c in choices:
        lines.append(
            f"• <b>{escape(c.course.title)}</b> ({t.local_date(c.course.starts_at)}): "
            + _("%(standard)d miss the standard it grants, %(hours)d need only training "
                "hours, %(left)d seats left")
            % {"standard": c.missing_standard, "hours": c.candidates - c.missing_standard,
               "left": c.seats_left}
        )  # fmt: skip
    rows = [
        [
            InlineKeyboardButton(
                short(c.course.title), callback_data=cb.build(cb.NOM_COURSE, c.course.id)
            )
        ]
        for c in choices
    ]
    return "\n".join(lines), InlineKeyboardMarkup(rows)


def _people_page(
    t: Translator, view: Nominating, state: dict[str, Any]
) -> tuple[str, InlineKeyboardMarkup]:
    _ = t.gettext
    people, picked = _filtered(view.candidates, state), set(state["picked"])
    pages = max((len(people) + PER_PAGE - 1) // PER_PAGE, 1)
    page = state["page"] = min(max(state["page"], 0), pages - 1)
    chunk = people[page * PER_PAGE : (page + 1) * PER_PAGE]
    lines = [
        _("<b>%(title)s</b>: %(left)d seats left. Picked: %(n)d.")
        % {"title": escape(view.course.title), "left": view.seats_left, "n": len(picked)},
        _("People of your units who miss what it gives:"),
    ]
    if not view.candidates:
        lines[1] = _("Nobody in your units misses what this course gives.")
    elif not people:
        lines[1] = _("Nobody matches this filter.")
    rows = _filter_rows(t, view.candidates, state)
    for c in chunk:
        gaps = ", ".join(rule_title(t, g) for g in c.gaps)
        lines.append(f"• {escape(c.full_name)} ({escape(c.unit_name)}): {escape(gaps)}")
        mark = "✅" if c.person_id in picked else "⬜"
        label = short(f"{mark} {c.full_name} · {c.unit_name}")
        rows.append(
            [InlineKeyboardButton(label, callback_data=cb.build(cb.NOM_TOGGLE, c.person_id))]
        )
    nav = []
    if page > 0:
        nav.append(InlineKeyboardButton("◀️", callback_data=cb.build(cb.NOM_PAGE, page - 1)))
    if page + 1 < pages:
        nav.append(InlineKeyboardButton("▶️", callback_data=cb.build(cb.NOM_PAGE, page + 1)))
    if nav:
        rows.append(nav)
    if picked:
        rows.append([InlineKeyboardButton(_("Next »"), callback_data=cb.build(cb.NOM_REVIEW))])
    return "\n".join(lines), InlineKeyboardMarkup(rows)


def _filtered(people: list[Candidate], state: dict[str, Any]) -> list[Candidate]:
    """The candidates the organizer's filters leave: by the gap the course closes, by unit."""
    gap, unit = state.get("gap", 0), state.get("unit", 0)
    return [
        c for c in people
        if (gap == 0 or c.hours_only == (gap == 2)) and (unit == 0 or c.unit_id == unit)
    ]  # fmt: skip


def _filter_rows(
    t: Translator, people: list[Candidate], state: dict[str, Any]
) -> list[list[InlineKeyboardButton]]:
    """Filter buttons: who misses the standard the course grants or only hours, and, when the
    people come from a few units, one button per unit; the active filter is marked."""
    _ = t.gettext
    if not people:
        return []
    standard = sum(1 for c in people if not c.hours_only)
    gap = state.get("gap", 0)
    gaps = [(0, _("All (%(n)d)") % {"n": len(people)}),
            (1, _("Missing the standard (%(n)d)") % {"n": standard}),
            (2, _("Hours only (%(n)d)") % {"n": len(people) - standard})]  # fmt: skip
    rows = [[InlineKeyboardButton(("• " if g == gap else "") + label,
                                  callback_data=cb.build(cb.NOM_GAP, g))
             for g, label in gaps]]  # fmt: skip
    units = dict.fromkeys((c.unit_id, c.unit_name) for c in people)
    if 1 < len(units) <= MAX_UNIT_BUTTONS:
        unit = state.get("unit", 0)
        buttons = [InlineKeyboardButton(("• " if unit == 0 else "") + _("Every unit"),
                                        callback_data=cb.build(cb.NOM_UNIT, 0))]  # fmt: skip
        buttons += [
            InlineKeyboardButton(("• " if unit == uid else "") + short(name, 24),
                                 callback_data=cb.build(cb.NOM_UNIT, uid))
            for uid, name in units
        ]  # fmt: skip
        rows += [buttons[i : i + 3] for i in range(0, len(buttons), 3)]
    return rows


def _review(
    t: Translator, view: Nominating, state: dict[str, Any], now: Any
) -> tuple[str, InlineKeyboardMarkup]:
    _ = t.gettext
    picked = set(state["picked"])
    names = [c.full_name for c in view.candidates if c.person_id in picked]
    until = nominations.hold_until(view.course, now, state.get("hold"))
    text = t.ngettext(
        "Nominate %(n)d person for <b>%(title)s</b>?",
        "Nominate %(n)d people for <b>%(title)s</b>?",
        len(names),
    ) % {"n": len(names), "title": escape(view.course.title)}
    text += "\n" + escape(", ".join(names))
    text += "\n\n" + _("Seats are held until %(until)s for them to confirm.") % {
        "until": t.datetime(until)
    }
    labels = {24: _("1 day"), 72: _("3 days"), 168: _("7 days"), 0: _("until registration closes")}
    holds = [InlineKeyboardButton(labels[h], callback_data=cb.build(cb.NOM_HOLD, h)) for h in HOLDS]
    rows = [
        holds[:2],
        holds[2:],
        [InlineKeyboardButton(_("✅ Nominate"), callback_data=cb.build(cb.NOM_SEND))],
        [InlineKeyboardButton(_("« Back"), callback_data=cb.build(cb.NOM_PAGE, state["page"]))],
    ]
    return text, InlineKeyboardMarkup(rows)


# -- /nominate --------------------------------------------------------------------------------


async def start(update: Update, context: BotContext) -> None:
    """/nominate: list open courses that would close a gap of someone in your units."""
    if await require_role(update, context, Role.UNIT_HEAD, "nominate") is None:
        return
    async with context.db.begin() as session:
        choices = await nominations.courses_to_nominate(
            session,
            actor_id=context.person_id,
            now=context.now(),
            hours_target=context.settings.annual_hours_target,
        )
    await reply(update, *_course_list(context.t, choices))


async def _show(update: Update, context: BotContext, *, review: bool = False) -> None:
    """Render the picking list (or the summary) of the course being nominated for."""
    query, state = update.callback_query, (context.user_data or {}).get(PICKING)
    assert query is not None
    if state is None:
        await query.answer(context.t.gettext("Please start again with /nominate."), show_alert=True)
        return
    try:
        async with context.db.begin() as session:
            view = await nominations.nominating(
                session,
                actor_id=context.person_id,
                course_id=state["course"],
                now=context.now(),
                hours_target=context.settings.annual_hours_target,
            )
    except DomainError as error:
        await query.answer(refusal_alert(context.t, error), show_alert=True)
        return
    await query.answer()
    known = {c.person_id for c in view.candidates}
    state["picked"] = [p for p in state["picked"] if p in known]
    render = (
        _review(context.t, view, state, context.now())
        if review and state["picked"]
        else (_people_page(context.t, view, state))
    )
    await reply(update, *render, edit=True)


async def pick_course(update: Update, context: BotContext) -> None:
    """Start picking people for the chosen course."""
    if await require_role(update, context, Role.UNIT_HEAD, "nominate") is None:
        return
    assert context.user_data is not None
    course_id = cb.number(update.callback_query.data if update.callback_query else None)
    context.user_data[PICKING] = {"course": course_id, "picked": [], "page": 0, "hold": None}
    await _show(update, context)


async def toggle(update: Update, context: BotContext) -> None:
    """Pick or unpick one person."""
    if await require_role(update, context, Role.UNIT_HEAD, "nominate") is None:
        return
    state = (context.user_data or {}).get(PICKING)
    if state is not None:
        person_id = cb.number(update.callback_query.data if update.callback_query else None)
        picked = state["picked"]
        if person_id in picked:
            picked.remove(person_id)
        else:
            picked.append(person_id)
    await _show(update, context)


async def set_filter(update: Update, context: BotContext) -> None:
    """Show only people missing the standard the course grants (or only hours), or one unit."""
    if await require_role(update, context, Role.UNIT_HEAD, "nominate") is None:
        return
    state = (context.user_data or {}).get(PICKING)
    query = update.callback_query
    if state is not None and query is not None and query.data:
        key = "gap" if query.data.startswith(cb.NOM_GAP + ":") else "unit"
        state[key], state["page"] = cb.number(query.data), 0
    await _show(update, context)


async def turn_page(update: Update, context: BotContext) -> None:
    """Show another page of people (or go back to the list from the summary)."""
    if await require_role(update, context, Role.UNIT_HEAD, "nominate") is None:
        return
    state = (context.user_data or {}).get(PICKING)
    if state is not None:
        state["page"] = cb.number(update.callback_query.data if update.callback_query else None)
    await _show(update, context)


async def review(update: Update, context: BotContext) -> None:
    """Show whom you are about to nominate and how long seats are held."""
    if await require_role(update, context, Role.UNIT_HEAD, "nominate") is None:
        return
    await _show(update, context, review=True)


async def set_hold(update: Update, context: BotContext) -> None:
    """Choose how long nominees' seats are held."""
    if await require_role(update, context, Role.UNIT_HEAD, "nominate") is None:
        return
    state = (context.user_data or {}).get(PICKING)
    hours = cb.number(update.callback_query.data if update.callback_query else None)
    if state is not None and hours in HOLDS:
        state["hold"] = hours
    await _show(update, context, review=True)


async def send(update: Update, context: BotContext) -> None:
    """Nominate the picked people: seats held, each asked to confirm, all audited."""
    query = update.callback_query
    if query is None or await require_role(update, context, Role.UNIT_HEAD, "nominate") is None:
        return
    state = (context.user_data or {}).pop(PICKING, None)
    if state is None:
        await query.answer(context.t.gettext("Please start again with /nominate."), show_alert=True)
        return
    try:
        async with context.db.begin() as session:
            done = await nominations.nominate(
                session,
                actor_id=context.person_id,
                course_id=state["course"],
                person_ids=state["picked"],
                hold_hours=state.get("hold"),
                now=context.now(),
                hours_target=context.settings.annual_hours_target,
            )
    except DomainError as error:
        await query.answer(refusal_alert(context.t, error), show_alert=True)
        return
    await query.answer()
    await reply(update, _sent_text(context.t, done), edit=True)
    context.wake()


def _sent_text(t: Translator, done: nominations.Nominated) -> str:
    text = t.ngettext(
        "📨 %(n)d person nominated for <b>%(title)s</b>; seats held until %(until)s.",
        "📨 %(n)d people nominated for <b>%(title)s</b>; seats held until %(until)s.",
        len(done.nominated),
    ) % {
        "n": len(done.nominated),
        "title": escape(done.course.title),
        "until": t.datetime(done.hold_until),
    }
    if done.no_seat:
        text += "\n" + t.gettext("No seat was left for %(n)d of them.") % {"n": done.no_seat}
    if done.not_eligible:
        text += "\n" + t.gettext(
            "%(n)d could no longer be nominated (registered meanwhile or no longer missing it)."
        ) % {"n": done.not_eligible}
    return text


def register(app: Application) -> None:
    app.add_handler(CommandHandler("nominate", start))
    for action, callback in (
        (cb.NOM_COURSE, pick_course),
        (cb.NOM_TOGGLE, toggle),
        (cb.NOM_PAGE, turn_page),
        (cb.NOM_GAP, set_filter),
        (cb.NOM_UNIT, set_filter),
        (cb.NOM_REVIEW, review),
        (cb.NOM_HOLD, set_hold),
        (cb.NOM_SEND, send),
    ):
        app.add_handler(CallbackQueryHandler(callback, pattern=cb.pattern(action)))
    # The nominee's and the unit head's answers: handlers/nominations.py.
    actions(app, (cb.NOM_ACCEPT, cb.NOM_DECLINE, cb.NOM_SKIP, cb.APPROVE, cb.APPROVE_DECLINE,
                  cb.APPROVE_SKIP))  # fmt: skip
