"""/organize: an organizer's courses, each with choices to edit, close or reopen
registration, cancel, list the registrants and export them as XLSX.

Every flow passes the organizer gate first (commands and picked choices alike) in the same
transaction as its domain call (handlers/guard.py), and the domain re-checks that the
course's unit is in the organizer's scope.
"""

from __future__ import annotations

import tempfile
from html import escape
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from domain import course_admin
from domain.course_admin import AdminPage, AdminView, Changed, Registrant
from domain.roles import Scope
from handlers import actions as cb
from handlers.core import Choice, Ctx, File, Say
from handlers.guard import Refused, guarded
from handlers.organizer import admin_card, admin_choices, my_courses_page, organizer_refusal
from locales import Translator
from storage.models import Course

PEOPLE_PAGE = 10


async def organize(ctx: Ctx, arg: str) -> list[Say]:
    """List the courses the organizer manages, with a choice for each."""

    async def page(session: AsyncSession, scope: Scope) -> AdminPage:
        return await course_admin.my_courses(session, person_id=scope.person_id, now=ctx.now,
                                             page=int(arg or 0),
                                             page_size=ctx.settings.page_size)  # fmt: skip

    found = await guarded(ctx, "organize", page, words=organizer_refusal)
    if isinstance(found, Refused):
        return found.shown()
    text, choices = my_courses_page(ctx.t, found)
    return [Say(text, choices, edit=bool(arg))]


async def _view(ctx: Ctx, action: str, course_id: int) -> AdminView | Refused:
    async def view(session: AsyncSession, scope: Scope) -> AdminView:
        return await course_admin.admin_view(
            session, person_id=scope.person_id, course_id=course_id
        )

    return await guarded(ctx, action, view, words=organizer_refusal)


async def show(ctx: Ctx, arg: str) -> list[Say]:
    """Show a course's admin card with what can be done with it."""
    view = await _view(ctx, "course_view", int(arg))
    if isinstance(view, Refused):
        return view.shown()
    return [Say(admin_card(ctx.t, view), admin_choices(ctx.t, view.course), edit=True)]


async def _toggle(ctx: Ctx, course_id: int, *, open_: bool) -> list[Say]:
    async def toggle(session: AsyncSession, scope: Scope) -> AdminView:
        return await course_admin.set_registration(
            session, person_id=scope.person_id, course_id=course_id, open_=open_, now=ctx.now
        )

    action = "course_reopen" if open_ else "course_close"
    view = await guarded(ctx, action, toggle, words=organizer_refusal)
    if isinstance(view, Refused):
        return view.shown()
    _ = ctx._
    done = _("Registration reopened.") if open_ else _("Registration closed.")
    card = admin_card(ctx.t, view)
    return [Say(card, admin_choices(ctx.t, view.course), edit=True, alert=done)]


async def close(ctx: Ctx, arg: str) -> list[Say]:
    """Close registration."""
    return await _toggle(ctx, int(arg), open_=False)


async def reopen(ctx: Ctx, arg: str) -> list[Say]:
    """Reopen registration."""
    return await _toggle(ctx, int(arg), open_=True)


async def ask_cancel(ctx: Ctx, arg: str) -> list[Say]:
    """Ask to confirm cancelling a course, saying how many people will be told."""
    view = await _view(ctx, "course_cancel", int(arg))
    if isinstance(view, Refused):
        return view.shown()
    _, cid = ctx._, view.course.id
    text = _(
        "Cancel <b>%(title)s</b>? %(n)d registered or waitlisted people will be told at "
        "once. This cannot be undone."
    ) % {"title": escape(view.course.title), "n": view.registered + view.waitlisted}
    choices = [
        Choice(_("Yes, cancel the course"), cb.build(cb.ORG_CANCEL_CONFIRM, cid)),
        Choice(_("No, keep it"), cb.build(cb.ORG_COURSE, cid), joined=True),
    ]
    return [Say(text, choices, edit=True)]


async def confirm_cancel(ctx: Ctx, arg: str) -> list[Say]:
    """Cancel the course; registrants are told by the notification drainer."""

    async def cancel(session: AsyncSession, scope: Scope) -> Changed:
        return await course_admin.cancel_course(session, person_id=scope.person_id,
                                                course_id=int(arg), now=ctx.now,
                                                policy=ctx.settings.reminder_policy())  # fmt: skip

    done = await guarded(ctx, "course_cancel", cancel, words=organizer_refusal)
    if isinstance(done, Refused):
        return done.shown()
    ctx.wake()
    text = ctx._("❌ <b>%(title)s</b> is cancelled; %(n)d people will be told.") % {
        "title": escape(done.course.title),
        "n": done.notified,
    }
    return [Say(text, edit=True)]


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


def _people_text(
    t: Translator, course: Course, rows: list[Registrant], page: int, size: int = PEOPLE_PAGE
) -> str:
    _ = t.gettext
    statuses = status_names(t)
    lines = [
        _("<b>Registrants of %(title)s: %(n)d</b>")
        % {"title": escape(course.title), "n": len(rows)}
    ]
    start = page * size
    for n, r in enumerate(rows[start : start + size], start=start + 1):
        status = statuses.get(r.status.value, r.status.value)
        if r.waitlist_no is not None:
            status += f" #{r.waitlist_no}"
        details = " · ".join(x for x in (r.unit, r.position, r.phone) if x)
        lines.append(f"{n}. <b>{escape(r.full_name)}</b> — {escape(details)} · {status}")
    if not rows:
        lines.append(_("Nobody has registered yet."))
    return "\n".join(lines)


async def _registrants(
    ctx: Ctx, action: str, course_id: int
) -> tuple[Course, list[Registrant]] | Refused:
    async def registrants(session: AsyncSession, scope: Scope) -> tuple[Course, list[Registrant]]:
        return await course_admin.registrants(
            session, person_id=scope.person_id, course_id=course_id, lang=ctx.t.lang
        )

    return await guarded(ctx, action, registrants, words=organizer_refusal)


async def people(ctx: Ctx, arg: str) -> list[Say]:
    """Show one page of the registrants, names in Vietnamese order."""
    course_id, page = (int(x) for x in arg.split(":"))
    found = await _registrants(ctx, "registrants_view", course_id)
    if isinstance(found, Refused):
        return found.shown()
    course, rows = found
    pages = max((len(rows) + PEOPLE_PAGE - 1) // PEOPLE_PAGE, 1)
    page = min(page, pages - 1)
    choices = [
        Choice(arrow, cb.build(cb.ORG_PEOPLE, f"{course_id}:{p}"), joined=joined)
        for arrow, p, joined in (("◀️", page - 1, False), ("▶️", page + 1, page > 0))
        if 0 <= p < pages
    ]
    _ = ctx._
    choices += [
        Choice(_("📥 Export XLSX"), cb.build(cb.ORG_EXPORT, course_id)),
        Choice(_("« Back"), cb.build(cb.ORG_COURSE, course_id), joined=True),
    ]
    return [Say(_people_text(ctx.t, course, rows, page), choices, edit=True)]


async def export(ctx: Ctx, arg: str) -> list[Say]:
    """The registrants as an XLSX that opens in Excel with Vietnamese intact (where a channel
    cannot send files: the list itself)."""
    found = await _registrants(ctx, "registrants_export", int(arg))
    if isinstance(found, Refused):
        return found.shown()
    course, rows, t = *found, ctx.t
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"dang-ky-{course.code}.xlsx"
        course_admin.write_registrants(path, rows, headers=export_headers(t),
                                       status_labels=status_names(t),
                                       sheet_title=course.code)  # fmt: skip
        content = path.read_bytes()
    caption = t.gettext("Registrants of %(title)s: %(n)d") % {"title": course.title, "n": len(rows)}
    listing = _people_text(t, course, rows, 0, size=max(len(rows), 1))
    return [Say(file=File(path.name, content, caption, instead=listing))]
