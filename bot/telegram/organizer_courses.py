"""/organize: an organizer's courses, each with buttons to edit, close or reopen
registration, cancel, list the registrants and export them as XLSX.

Every handler passes the organizer gate first (commands and button presses alike) and the
domain re-checks that the course's unit is in the organizer's scope.
"""

from __future__ import annotations

import tempfile
from html import escape
from pathlib import Path

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot.context import BotContext
from bot.telegram.common import reply
from bot.telegram.organizer_common import (
    act,
    admin_buttons,
    admin_card,
    allowed,
    load_view,
    my_courses_page,
)
from domain import course_admin
from domain.course_admin import Registrant
from handlers import actions as cb
from locales import Translator
from storage.models import Course

PEOPLE_PAGE = 10


async def organize(update: Update, context: BotContext) -> None:
    """List the courses the organizer manages, with a button for each."""
    if not await allowed(update, context, "organize"):
        return
    page = cb.number(update.callback_query.data) if update.callback_query else 0
    if update.callback_query is not None:
        await update.callback_query.answer()
    person_id = context.person_id
    assert person_id is not None
    result = await act(
        update,
        context,
        "organize",
        lambda s: course_admin.my_courses(
            s,
            person_id=person_id,
            now=context.now(),
            page=page,
            page_size=context.settings.page_size,
        ),
    )
    if result is not None:
        text, markup = my_courses_page(context.t, result)
        await reply(update, text, markup, edit=update.callback_query is not None)


async def show(update: Update, context: BotContext) -> None:
    """Show a course's admin card with its management buttons."""
    query = update.callback_query
    assert query is not None
    view = await load_view(update, context, "course_view", cb.number(query.data))
    if view is not None:
        await query.answer()
        await reply(
            update, admin_card(context.t, view), admin_buttons(context.t, view.course), edit=True
        )


async def toggle(update: Update, context: BotContext) -> None:
    """Close registration, or reopen it."""
    query = update.callback_query
    assert query is not None and query.data is not None
    open_ = query.data.startswith(cb.ORG_REOPEN + ":")
    action = "course_reopen" if open_ else "course_close"
    if not await allowed(update, context, action):
        return
    person_id, course_id = context.person_id, cb.number(query.data)
    assert person_id is not None
    view = await act(
        update,
        context,
        action,
        lambda s: course_admin.set_registration(
            s, person_id=person_id, course_id=course_id, open_=open_, now=context.now()
        ),
    )
    if view is not None:
        _ = context.t.gettext
        await query.answer(_("Registration reopened.") if open_ else _("Registration closed."))
        await reply(
            update, admin_card(context.t, view), admin_buttons(context.t, view.course), edit=True
        )


async def ask_cancel(update: Update, context: BotContext) -> None:
    """Ask to confirm cancelling a course, saying how many people will be told."""
    query = update.callback_query
    assert query is not None
    view = await load_view(update, context, "course_cancel", cb.number(query.data))
    if view is None:
        return
    await query.answer()
    _ = context.t.gettext
    text = _(
        "Cancel <b>%(title)s</b>? %(n)d registered or waitlisted people will be told at "
        "once. This cannot be undone."
    ) % {"title": escape(view.course.title), "n": view.registered + view.waitlisted}
    markup = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    _("Yes, cancel the course"),
                    callback_data=cb.build(cb.ORG_CANCEL_CONFIRM, view.course.id),
                ),
                InlineKeyboardButton(
                    _("No, keep it"), callback_data=cb.build(cb.ORG_COURSE, view.course.id)
                ),
            ]
        ]
    )
    await reply(update, text, markup, edit=True)


async def confirm_cancel(update: Update, context: BotContext) -> None:
    """Cancel the course; registrants are told by the notification drainer."""
    query = update.callback_query
    assert query is not None
    if not await allowed(update, context, "course_cancel"):
        return
    person_id, course_id = context.person_id, cb.number(query.data)
    assert person_id is not None
    done = await act(
        update,
        context,
        "course_cancel",
        lambda s: course_admin.cancel_course(
            s,
            person_id=person_id,
            course_id=course_id,
            now=context.now(),
            policy=context.settings.reminder_policy(),
        ),
    )
    if done is None:
        return
    await query.answer()
    text = context.t.gettext("❌ <b>%(title)s</b> is cancelled; %(n)d people will be told.") % {
        "title": escape(done.course.title),
        "n": done.notified,
    }
    await reply(update, text, edit=True)
    context.wake()


def _people_text(t: Translator, course: Course, rows: list[Registrant], page: int) -> str:
    _ = t.gettext
    statuses = status_names(t)
    lines = [
        _("<b>Registrants of %(title)s: %(n)d</b>")
        % {"title": escape(course.title), "n": len(rows)}
    ]
    start = page * PEOPLE_PAGE
    for n, r in enumerate(rows[start : start + PEOPLE_PAGE], start=start + 1):
        status = statuses.get(r.status.value, r.status.value)
        if r.waitlist_no is not None:
            status += f" #{r.waitlist_no}"
        details = " · ".join(x for x in (r.unit, r.position, r.phone) if x)
        lines.append(f"{n}. <b>{escape(r.full_name)}</b> — {escape(details)} · {status}")
    if not rows:
        lines.append(_("Nobody has registered yet."))
    return "\n".join(lines)


async def people(update: Update, context: BotContext) -> None:
    """Show one page of the registrants, names in Vietnamese order."""
    query = update.callback_query
    assert query is not None
    if not await allowed(update, context, "registrants_view"):
        return
    course_id, page = (int(x) for x in cb.parts(query.data))
    person_id, lang = context.person_id, context.t.lang
    assert person_id is not None
    found = await act(
        update,
        context,
        "registrants_view",
        lambda s: course_admin.registrants(s, person_id=person_id, course_id=course_id, lang=lang),
    )
    if found is None:
        return
    await query.answer()
    course, rows = found
    pages = max((len(rows) + PEOPLE_PAGE - 1) // PEOPLE_PAGE, 1)
    page = min(page, pages - 1)
    nav = [
        InlineKeyboardButton(arrow, callback_data=cb.build(cb.ORG_PEOPLE, f"{course_id}:{p}"))
        for arrow, p in (("◀️", page - 1), ("▶️", page + 1))
        if 0 <= p < pages
    ]
    _ = context.t.gettext
    rows_kb = [nav] if nav else []
    rows_kb.append(
        [
            InlineKeyboardButton(
                _("📥 Export XLSX"), callback_data=cb.build(cb.ORG_EXPORT, course_id)
            ),
            InlineKeyboardButton(_("« Back"), callback_data=cb.build(cb.ORG_COURSE, course_id)),
        ]
    )
    await reply(
        update,
        _people_text(context.t, course, rows, page),
        InlineKeyboardMarkup(rows_kb),
        edit=True,
    )


def status_names(t: Translator) -> dict[str, str]:
    _ = t.gettext
    return {
        "registered": _("registered"),
        "waitlisted": _("waitlisted"),
        "pending_approval": _("awaiting approval"),
        "nominated": _("nominated"),
        "attended": _("attended"),
        "completed": _("completed"),
        "no_show": _("did not attend"),
    }


def export_headers(t: Translator) -> list[str]:
    _ = t.gettext
    return [
        _("No."),
        _("Full name"),
        _("Unit"),
        _("Position"),
        _("Phone"),
        _("Status"),
        _("Waitlist place"),
    ]


async def export(update: Update, context: BotContext) -> None:
    """Send the registrants as an XLSX document that opens in Excel with Vietnamese intact."""
    query = update.callback_query
    assert query is not None and update.effective_chat is not None
    if not await allowed(update, context, "registrants_export"):
        return
    person_id, course_id, t = context.person_id, cb.number(query.data), context.t
    assert person_id is not None
    found = await act(
        update,
        context,
        "registrants_export",
        lambda s: course_admin.registrants(
            s, person_id=person_id, course_id=course_id, lang=t.lang
        ),
    )
    if found is None:
        return
    await query.answer()
    course, rows = found
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"dang-ky-{course.code}.xlsx"
        course_admin.write_registrants(
            path,
            rows,
            headers=export_headers(t),
            status_labels=status_names(t),
            sheet_title=course.code,
        )
        await update.effective_chat.send_document(
            path.read_bytes(),
            filename=path.name,
            caption=t.gettext("Registrants of %(title)s: %(n)d")
            % {"title": course.title, "n": len(rows)},
        )


def register(app: Application) -> None:
    app.add_handler(CommandHandler("organize", organize))
    app.add_handler(CallbackQueryHandler(organize, pattern=cb.pattern(cb.ORG_LIST)))
    app.add_handler(CallbackQueryHandler(show, pattern=cb.pattern(cb.ORG_COURSE)))
    app.add_handler(CallbackQueryHandler(toggle, pattern=cb.pattern(cb.ORG_CLOSE)))
    app.add_handler(CallbackQueryHandler(toggle, pattern=cb.pattern(cb.ORG_REOPEN)))
    app.add_handler(CallbackQueryHandler(ask_cancel, pattern=cb.pattern(cb.ORG_CANCEL)))
    app.add_handler(CallbackQueryHandler(confirm_cancel, pattern=cb.pattern(cb.ORG_CANCEL_CONFIRM)))
    app.add_handler(CallbackQueryHandler(people, pattern=cb.pattern(cb.ORG_PEOPLE)))
    app.add_handler(CallbackQueryHandler(export, pattern=cb.pattern(cb.ORG_EXPORT)))
