"""What a civil servant can do on Zalo, flow by flow: the same services and wording as the
Telegram handlers, with buttons turned into numbered choices.

Each flow reads the turn, calls one domain service in one transaction and returns the
messages to send (`Say`); zalo.conversation sends them. Actions are "name:argument" strings,
the counterpart of handlers/callbacks.py, re-checked on the server like a button press.
"""

from __future__ import annotations

from datetime import timedelta
from html import escape

from domain import attendance, catalog, channels, linking, registration, reminders
from domain.catalog import CourseView
from domain.errors import DomainError
from domain.ics import course_ics
from domain.records import overview
from domain.registration import Outcome
from domain.search import Intent, understand
from domain.secondments import current_postings
from domain.standards import status_of
from handlers import actions as cb
from handlers.core import Choice, Ctx, File, Menu, Say
from handlers.render import (
    category_label,
    checkin_text,
    course_card,
    course_choices,
    full_text,
    greeting,
    join_link,
    label,
    my_text,
    no_match,
    postings_text,
    refusal,
    refusal_alert,
    register_question,
    short,
    status_text,
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
    if ctx.shares_contact:
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


# -- standards, courses, registrations -------------------------------------------------------


async def status(ctx: Ctx, arg: str) -> list[Say]:
    if ctx.person_id is None:
        return not_linked(ctx)
    async with ctx.db.begin() as session:
        statuses = await status_of(
            session,
            person_id=ctx.person_id,
            now=ctx.now,
            today=ctx.now.astimezone(ctx.settings.tz).date(),
            hours_target=ctx.settings.annual_hours_target,
        )
        postings = await current_postings(
            session, person_id=ctx.person_id, today=ctx.now.astimezone(ctx.settings.tz).date()
        )
    text, _markup = status_text(ctx.t, statuses)
    if postings:
        text = postings_text(ctx.t, postings) + "\n\n" + text
    closing = {c.id: c for s in statuses for c in s.closing}
    choices = [_course_choice(c.id, c.title) for c in closing.values()]
    # As Telegram's button under /status; zalo/claims.py takes it from there.
    choices.append(Choice(ctx._("✏️ Report a mistake or claim a qualification"), "cl"))
    return [Say(text, choices)]


def _course_choice(course_id: int, title: str, detail: str = "") -> Choice:
    label = f"{short(title, 80)} ({detail})" if detail else short(title, 80)
    return Choice(label, f"c:{course_id}", aliases=(title,))


async def _page(ctx: Ctx, page: int, query: str) -> list[Say]:
    async with ctx.db.begin() as session:
        result = await catalog.page_of(
            session,
            person_id=ctx.person_id,
            now=ctx.now,
            page=page,
            page_size=ctx.settings.page_size,
            query=query,
        )
    _ = ctx._
    if query and not result.total:
        list_all = [Choice(_("📚 List open courses"), "p:0")] if result.open_total else []
        return [Say(no_match(ctx.t, query, result.open_total), list_all)]
    if query:
        heading = _("🔎 Courses matching “%(q)s”: %(n)d") % {"q": escape(query), "n": result.total}
        turn = "s"
    else:
        heading = _("📚 Open courses you can join: %(n)d") % {"n": result.total}
        turn = "p"
    if not result.items:
        return [Say(heading + "\n\n" + _("No open courses found."))]
    lines = [heading]
    if result.pages > 1:
        lines.append(
            _("Page %(page)d of %(pages)d") % {"page": result.page + 1, "pages": result.pages}
        )
    choices = []
    for v in result.items:
        seats = (
            _("%(n)d seats left") % {"n": v.seats_left}
            if v.seats_left
            else full_text(ctx.t, v.waitlisted)
        )
        detail = f"{ctx.t.local_date(v.course.starts_at)} · {seats}"
        choices.append(_course_choice(v.course.id, v.course.title, detail))
    if result.page > 0:
        choices.append(Choice(_("◀️ Previous page"), f"{turn}:{result.page - 1}"))
    if result.page + 1 < result.pages:
        choices.append(Choice(_("▶️ Next page"), f"{turn}:{result.page + 1}"))
    return [Say("\n".join(lines), choices)]


async def courses(ctx: Ctx, arg: str) -> list[Say]:
    return await _page(ctx, 0, "")


async def turn_page(ctx: Ctx, arg: str) -> list[Say]:
    return await _page(ctx, int(arg), "")


async def search(ctx: Ctx, text: str) -> list[Say]:
    """Answer free text as handlers/courses.py does: the menu to a greeting, else a search."""
    query = text.strip()[:100]
    intent = understand(query).intent
    if intent is Intent.CHATTER:
        return [Say(greeting(ctx.t, linked=ctx.person_id is not None), main_menu(ctx.t))]
    if intent is Intent.LIST:
        query = ""
    ctx.dialogs.state(ctx.chat_id, ctx.now).data["query"] = query
    return await _page(ctx, 0, query)


async def turn_search_page(ctx: Ctx, arg: str) -> list[Say]:
    query = ctx.dialogs.state(ctx.chat_id, ctx.now).data.get("query", "")
    return await _page(ctx, int(arg), query)


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


async def my(ctx: Ctx, arg: str) -> list[Say]:
    if ctx.person_id is None:
        return not_linked(ctx)
    async with ctx.db.begin() as session:
        view = await overview(
            session,
            person_id=ctx.person_id,
            now=ctx.now,
            hours_target=ctx.settings.annual_hours_target,
        )
    t = ctx.t
    text = my_text(t, view)
    choices = [_course_choice(i.course.id, i.course.title) for i in view.upcoming]
    return [Say(text, choices or main_menu(t))]


# -- reminders, where they go, language, help ------------------------------------------------


async def show_reminders(ctx: Ctx, arg: str) -> list[Say]:
    if ctx.person_id is None:
        return not_linked(ctx)
    async with ctx.db.begin() as session:
        off = await reminders.opted_out(session, ctx.person_id)
        linked = await channels.linked_channels(session, ctx.person_id)
        preferred = await channels.preferred_channel(session, ctx.person_id)
    _ = ctx._
    lines = [_("<b>Your reminders</b>")]
    choices = []
    for category in reminders.CATEGORIES:
        on = category not in off
        name = category_label(ctx.t, category)
        state = _("🔔 %(name)s: on") if on else _("🔕 %(name)s: off")
        lines.append(state % {"name": name})
        action = _("Turn off: %(name)s") if on else _("Turn on: %(name)s")
        choices.append(Choice(action % {"name": name}, f"rem:{category}"))
    lines.append(
        _("Notices that a course changed or was cancelled, or that you got a seat, always come.")
    )
    if len(linked) > 1:
        names = {"telegram": "Telegram", "zalo": "Zalo"}
        where = names.get(preferred or "", _("the app you used last"))
        lines.append(_("Reminders are sent to: %(where)s.") % {"where": where})
        for channel in linked:
            if channel != preferred:
                label = _("Send reminders to %(app)s") % {"app": names.get(channel, channel)}
                choices.append(Choice(label, f"via:{channel}"))
        if preferred is not None:
            choices.append(Choice(_("Send reminders to the app I used last"), "via:last"))
    return [Say("\n".join(lines), choices)]


async def toggle_reminder(ctx: Ctx, arg: str) -> list[Say]:
    if ctx.person_id is None:
        return not_linked(ctx)
    if arg not in reminders.CATEGORIES:
        return await show_reminders(ctx, "")
    async with ctx.db.begin() as session:
        on = arg in await reminders.opted_out(session, ctx.person_id)
        await reminders.set_category(session, person_id=ctx.person_id, category=arg, on=on)
    return await show_reminders(ctx, "")


async def reminders_off(ctx: Ctx, arg: str) -> list[Say]:
    """The "turn these reminders off" choice under a reminder."""
    if ctx.person_id is None:
        return not_linked(ctx)
    if arg not in reminders.CATEGORIES:
        return await show_reminders(ctx, "")
    async with ctx.db.begin() as session:
        await reminders.set_category(session, person_id=ctx.person_id, category=arg, on=False)
    text = ctx._("🔕 No more of these: %(name)s. /reminders turns them back on.") % {
        "name": category_label(ctx.t, arg)
    }
    return [Say(text)]


async def choose_channel(ctx: Ctx, arg: str) -> list[Say]:
    if ctx.person_id is None:
        return not_linked(ctx)
    async with ctx.db.begin() as session:
        if arg == "last" or arg in await channels.linked_channels(session, ctx.person_id):
            channel = None if arg == "last" else arg
            await channels.set_preferred_channel(session, person_id=ctx.person_id, channel=channel)
    return await show_reminders(ctx, "")


async def language(ctx: Ctx, arg: str) -> list[Say]:
    choices = [Choice("Tiếng Việt", "lang:vi"), Choice("English", "lang:en")]
    return [Say(ctx._("Choose your language:"), choices)]


async def set_language(ctx: Ctx, arg: str) -> list[Say]:
    if arg not in ("vi", "en"):
        return await language(ctx, "")
    async with ctx.db.begin() as session:
        await linking.set_language(session, account_id=ctx.account_id, language=arg)
    ctx.t = Translator(arg, ctx.settings.tz)
    return [Say(ctx._("Language set to English."), main_menu(ctx.t))]


async def help_(ctx: Ctx, arg: str) -> list[Say]:
    _ = ctx._
    text = _(
        "<b>How to use this bot on Zalo</b>\n"
        "Reply with the number of a choice, or type its name, with or without accents. "
        "You can also type these words at any time:\n"
        "• <b>status</b>: which standards of your position you meet, and courses that close "
        "the gaps;\n"
        "• <b>courses</b>: open courses you can join; or type words from a course title, "
        "e.g. <i>boi duong chinh tri</i>;\n"
        "• <b>my</b>: your courses, waitlist places and yearly hours;\n"
        "• <b>reminders</b>: which reminders you get (at night only urgent changes to a "
        "course about to start);\n"
        "• <b>language</b>: Tiếng Việt / English;\n"
        "• <b>privacy</b>: what is stored about you, and unlinking this Zalo account;\n"
        "• <b>help</b>: this message."
    )
    text += "\n" + _(
        "• <b>diem danh</b> and the code shown in the room: check in at a course session."
    )
    text += "\n\n" + _("Problems with your record? Contact your unit's personnel officer.")
    if ctx.person_id is None:
        return [Say(text), *not_linked(ctx)]
    return [Say(text, main_menu(ctx.t))]


async def checkin(ctx: Ctx, arg: str) -> list[Say]:
    """ "điểm danh CODE": present at the session whose code the organizer shows (/checkin)."""
    if ctx.person_id is None:
        return not_linked(ctx)
    code = "".join(arg.split())
    if not code:
        if ctx.shares_contact:  # Telegram, where commands start with a slash (as not_linked)
            return [Say(ctx._("Send /checkin followed by the code shown in the room."))]
        return [Say(ctx._("Type “điểm danh” followed by the code shown in the room."))]
    async with ctx.db.begin() as session:
        result = await attendance.checkin(session, person_id=ctx.person_id, code=code, now=ctx.now)
    return [Say(checkin_text(ctx.t, result), menu=Menu.MAIN)]


async def telegram_code(ctx: Ctx, arg: str) -> list[Say]:
    """A one-time code to link the person's Telegram account too."""
    if ctx.person_id is None:
        return not_linked(ctx)
    async with ctx.db.begin() as session:
        made = await linking.code_for_person(
            session,
            person_id=ctx.person_id,
            now=ctx.now,
            ttl=timedelta(hours=ctx.settings.link_code_ttl_hours),
        )
    if made is None:
        return not_linked(ctx)
    code, expires = made
    text = ctx._(
        "Your one-time code: <b>%(code)s</b> (valid until %(time)s). In the other app, send "
        "it to this bot: on Telegram type <code>/start %(code)s</code>, on Zalo type the code."
    ) % {"code": code, "time": ctx.t.datetime(expires)}
    return [Say(text)]
