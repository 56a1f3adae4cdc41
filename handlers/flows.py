"""A course's card, registering and cancelling (asked, then confirmed), for every channel; and
what several features share: the main menu and how to link.

Each flow calls one domain service in one transaction and returns the messages to send
(`Say`); an adapter renders them. Actions are "name:argument" strings (handlers/actions.py),
re-checked on the server like a button press.
"""

from __future__ import annotations

from datetime import timedelta
from html import escape

from domain import catalog, registration
from domain.catalog import CourseView
from domain.errors import DomainError
from domain.ics import course_ics
from domain.registration import Outcome
from handlers import actions as cb
from handlers.core import Choice, Ctx, File, Menu, Say
from handlers.render import (
    course_card,
    course_choices,
    join_link,
    label,
    refusal,
    refusal_alert,
    register_question,
)
from locales import Translator
from storage.models import Course


def main_menu(t: Translator) -> list[Choice]:
    _ = t.gettext
    return [
        Choice(_("📋 My standards"), "status"),
        Choice(_("📚 Courses"), "courses"),
        Choice(_("🗓 My registrations"), "my"),
        Choice(_("Which reminders I get"), "reminders"),
        Choice(_("Tiếng Việt / English"), "language"),
        Choice(_("What is stored about me"), "privacy"),
        Choice(_("❓ Help"), "help"),
    ]


def not_linked(ctx: Ctx) -> list[Say]:
    """How to link, for a person who is not linked yet."""
    if ctx.contact:
        text = ctx._(
            "I don't know who you are yet. Send /start and share your phone number, "
            "or type /start followed by the code your organizer gave you."
        )
        return [Say(text, alert=ctx._("Please link your account first."), menu=Menu.CONTACT)]
    text = ctx._(
        "You are not linked yet. Type the link code your organizer gave you, or "
        "your phone number as on your unit's roster."
    )
    return [Say(text)]


async def show_course(ctx: Ctx, arg: str) -> list[Say]:
    try:
        async with ctx.db.begin() as session:
            view = await catalog.card(session, course_id=int(arg), person_id=ctx.person_id)
    except DomainError as error:
        return [Say(refusal(ctx.t, error), alert=refusal_alert(ctx.t, error))]
    return [_card(ctx.t, view)]


def _card(t: Translator, view: CourseView) -> Say:
    """handlers/render.py's course_card, its buttons as numbered choices."""
    text = course_card(t, view)
    if len(view.course.sessions) > 1 or _one_day(t, view.course):
        # The card shows neither each session nor when a one-day course ends.
        text += "\n\n" + schedule(t, view.course)
    return Say(text, course_choices(t, view))


def _one_day(t: Translator, course: Course) -> bool:
    return t.local_date(course.starts_at) == t.local_date(course.ends_at)


def schedule(t: Translator, course: Course, *, place: bool = False) -> str:
    """Each session's date and hours in local time: what the .ics file on Telegram holds,
    as Zalo cannot send files."""
    spans = [(s.starts_at, s.ends_at) for s in course.sessions]
    lines = [t.gettext("🗓 Schedule:")]
    for start, end in spans or [(course.starts_at, course.ends_at)]:
        if t.local_date(start) == t.local_date(end):
            lines.append(f"• {t.local_date(start)}, {t.time(start)}–{t.time(end)}")
        else:
            lines.append(f"• {t.datetime(start)} – {t.datetime(end)}")
    if place:
        where = course.place or course.link or "—"
        lines.append(
            t.gettext("📍 Where: %(where)s (%(mode)s)")
            % {"where": escape(where), "mode": label(t, course.mode)}
        )
        if course.link and course.link != where:
            lines.append(join_link(t, course))
    return "\n".join(lines)


async def ask(ctx: Ctx, arg: str, *, cancelling: bool) -> list[Say]:
    if ctx.person_id is None:
        return not_linked(ctx)
    try:
        async with ctx.db.begin() as session:
            view = await catalog.card(session, course_id=int(arg), person_id=None)
    except DomainError as error:
        return [Say(alert=refusal_alert(ctx.t, error), text=refusal(ctx.t, error))]
    _ = ctx._
    title, cid = escape(view.course.title), view.course.id
    if cancelling:
        text = _("Cancel your registration for <b>%(title)s</b>?") % {"title": title}
        yes = Choice(_("Yes, cancel it"), cb.build(cb.CANCEL_CONFIRM, cid))
        no = Choice(_("No, keep it"), cb.build(cb.DISMISS), joined=True)
    else:
        text, yes_label = register_question(ctx.t, view)
        yes = Choice(yes_label, cb.build(cb.REGISTER_CONFIRM, cid))
        no = Choice(_("No"), cb.build(cb.DISMISS), joined=True)
    return [Say(text, [yes, no])]


async def ask_register(ctx: Ctx, arg: str) -> list[Say]:
    return await ask(ctx, arg, cancelling=False)


async def ask_cancel(ctx: Ctx, arg: str) -> list[Say]:
    return await ask(ctx, arg, cancelling=True)


async def confirm_register(ctx: Ctx, arg: str) -> list[Say]:
    if ctx.person_id is None:
        return not_linked(ctx)
    _ = ctx._
    try:
        async with ctx.db.begin() as session:
            result = await registration.register(
                session,
                person_id=ctx.person_id,
                course_id=int(arg),
                now=ctx.now,
                policy=ctx.settings.reminder_policy(),
            )
            view = await catalog.card(session, course_id=result.course_id, person_id=ctx.person_id)
    except DomainError as error:
        return [Say(refusal(ctx.t, error), edit=True, alert=refusal_alert(ctx.t, error))]
    if result.outcome == Outcome.WAITLISTED:
        text = _(
            "⏳ The course is full. You are number %(n)d on the waitlist for <b>%(title)s</b>; "
            "I will tell you at once if a seat frees up."
        ) % {"n": result.waitlist_position or 0, "title": escape(view.course.title)}
        return [Say(text, edit=True, menu=Menu.MAIN)]
    if result.outcome in (Outcome.PENDING_APPROVAL, Outcome.NOMINATED):
        # The card says the seat is held and what happens next; its choices answer it.
        card = _card(ctx.t, view)
        card.edit = True
        if result.outcome == Outcome.PENDING_APPROVAL and not result.already:
            sent = _("📨 Your request was sent to your unit head for approval.")
            card.text = f"{sent}\n\n{card.text}"
            ctx.wake()
        return [card]
    return registered(ctx, view.course, new=not result.already)


def registered(ctx: Ctx, course: Course, *, new: bool = True) -> list[Say]:
    """Registered, with the course's calendar file (its schedule and place where a channel
    cannot send files)."""
    t = ctx.t
    text = t.gettext("✅ You are registered for <b>%(title)s</b>, starting %(when)s.") % {
        "title": escape(course.title),
        "when": t.datetime(course.starts_at),
    }
    says = [Say(text, edit=True, menu=Menu.MAIN)]
    if new:
        ics = File(
            f"khoa-hoc-{course.id}.ics",
            course_ics(course, now=ctx.now),
            caption=t.gettext("Open this file to add the course to your phone's calendar."),
            instead=schedule(t, course, place=True),
        )
        says.append(Say(file=ics))
    return says


async def confirm_cancel(ctx: Ctx, arg: str) -> list[Say]:
    if ctx.person_id is None:
        return not_linked(ctx)
    try:
        async with ctx.db.begin() as session:
            result = await registration.cancel(
                session,
                person_id=ctx.person_id,
                course_id=int(arg),
                now=ctx.now,
                cutoff=timedelta(hours=ctx.settings.cancel_cutoff_hours),
                policy=ctx.settings.reminder_policy(),
            )
    except DomainError as error:
        return [Say(refusal(ctx.t, error), edit=True, alert=refusal_alert(ctx.t, error))]
    if result.promoted_person_id is not None:
        ctx.wake()
    return [Say(ctx._("Your registration is cancelled."), edit=True, menu=Menu.MAIN)]


async def dismiss(ctx: Ctx, arg: str) -> list[Say]:
    return [Say(ctx._("OK, nothing changed."), edit=True, menu=Menu.MAIN)]
