"""What the organizer's course handlers share: the role gate with audited refusals, and the
texts and buttons of a course as its organizer sees it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from html import escape
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot.context import BotContext
from bot.telegram.common import reply, require_role
from domain import course_admin, roles
from domain.course_admin import AdminPage, AdminView
from domain.course_draft import GRANTABLE, Invalid, Problem
from domain.errors import DomainError, Refusal
from domain.importing import POSITION_GROUP
from domain.vocab import COURSE_CATEGORY, QUALIFICATION_KIND, level_vocab
from handlers import actions as cb
from handlers.render import grants_text, label, refusal, short, unit_choices
from locales import Translator
from storage.models import Course, CourseStatus, Role

T = TypeVar("T")


async def allowed(update: Update, context: BotContext, action: str) -> bool:
    """The organizer gate every command, answer and button press goes through first."""
    return await require_role(update, context, Role.ORGANIZER, action) is not None


async def act(
    update: Update,
    context: BotContext,
    action: str,
    call: Callable[[AsyncSession], Awaitable[T]],
) -> T | None:
    """Run one domain call in one transaction; a refusal is answered, and audited when the
    course belongs to a unit outside the organizer's scope. None when refused."""
    try:
        async with context.db.begin() as session:
            return await call(session)
    except DomainError as error:
        if error.code == Refusal.FORBIDDEN:
            async with context.db.begin() as session:
                user = update.effective_user
                await roles.audit(
                    session,
                    actor_person_id=context.person_id,
                    actor=f"telegram:{user.id if user else '?'}",
                    action=action,
                    target=str(error.details.get("course", "")),
                    result="refused",
                )
        text = organizer_refusal(context.t, error)
    except Invalid as error:
        text = invalid_text(context.t, error)
    if update.callback_query is not None:
        await update.callback_query.answer(text[:200], show_alert=True)
    else:
        await reply(update, text)
    return None


async def load_view(
    update: Update, context: BotContext, action: str, course_id: int
) -> AdminView | None:
    """Pass the organizer gate, then load the course's admin view (scope re-checked);
    None after a refusal has been answered."""
    if not await allowed(update, context, action):
        return None
    person_id = context.person_id
    assert person_id is not None
    return await act(
        update,
        context,
        action,
        lambda s: course_admin.admin_view(s, person_id=person_id, course_id=course_id),
    )


def organizer_refusal(t: Translator, error: DomainError) -> str:
    _ = t.gettext
    if error.code == Refusal.CLOSED:
        return _("This course is cancelled or finished; it cannot be changed.")
    if error.code == Refusal.DEADLINE_PASSED:
        return _("The registration deadline has passed. Change the deadline first.")
    return refusal(t, error)


def invalid_text(t: Translator, error: Invalid) -> str:
    _ = t.gettext
    v = {"value": escape(error.value)}
    texts = {
        Problem.EMPTY: lambda: _("Please type an answer."),
        Problem.TOO_LONG: lambda: _("That is too long (at most %(value)s characters).") % v,
        Problem.BAD_MOMENT: lambda: (
            _("“%(value)s” is not a date and time like 05/12/2026 07:30.") % v
        ),
        Problem.PAST: lambda: (
            _("%(value)s is already past. Please give a later time.") % v
            if error.value
            else _("That time is already past. Please start again.")
        ),
        Problem.END_BEFORE_START: lambda: _("The end must be after the start (%(value)s).") % v,
        Problem.BAD_SESSION: lambda: (
            _("“%(value)s” is not a session like 05/12/2026 07:30-11:30.") % v
        ),
        Problem.SESSION_OUTSIDE: lambda: (
            _("The session %(value)s is outside the course's dates.") % v
        ),
        Problem.BAD_NUMBER: lambda: (
            _("Please type a whole number of at least %(min)d.")
            % {"min": error.details.get("minimum", 0)}
        ),
        Problem.DEADLINE_AFTER_END: lambda: _(
            "The registration deadline cannot be after the course ends."
        ),
        Problem.UNKNOWN_CATEGORY: lambda: _("Please pick a category with the buttons."),
        Problem.UNKNOWN_AUDIENCE: lambda: (
            unit_choices(t, error.value, error.details["matches"])
            if error.details.get("matches")
            else _("“%(value)s” is not a unit code, position or group I know.") % v
        ),
        Problem.UNKNOWN_GRANT: lambda: _(
            "Please choose what completing it grants with the buttons."
        ),
        Problem.BELOW_REGISTERED: lambda: (
            _("%(n)d people are registered already; the capacity cannot be smaller.")
            % {"n": error.details.get("taken", 0)}
        ),
    }
    return texts[error.code]()


def status_label(t: Translator, status: CourseStatus) -> str:
    _ = t.gettext
    return {
        CourseStatus.DRAFT: _("draft"),
        CourseStatus.OPEN: _("🟢 registration open"),
        CourseStatus.CLOSED: _("🔒 registration closed"),
        CourseStatus.CANCELLED: _("❌ cancelled"),
        CourseStatus.FINISHED: _("finished"),
    }[status]


def audience_text(t: Translator, audience: dict[str, list[str]]) -> str:
    if not any(audience.values()):
        return t.gettext("everyone")
    groups = [
        POSITION_GROUP.label(g, t.lang) if g in POSITION_GROUP else g
        for g in audience.get("groups", [])
    ]
    return ", ".join([*audience.get("units", []), *groups, *audience.get("positions", [])])


def course_facts(t: Translator, c: Course, *, sessions: int) -> list[str]:
    """Every field of a course, one line each: the preview and the admin card both use it."""
    _ = t.gettext
    lines = [f"<b>{escape(c.title)}</b>", escape(label(t, c.category))]
    lines.append(
        _("🗓 When: %(when)s") % {"when": f"{t.datetime(c.starts_at)} – {t.datetime(c.ends_at)}"}
    )
    if sessions:
        lines.append(_("   %(n)d sessions") % {"n": sessions})
    where = " · ".join(x for x in (c.place, c.link) if x) or "—"
    lines.append(
        _("📍 Where: %(where)s (%(mode)s)") % {"where": escape(where), "mode": label(t, c.mode)}
    )
    lines.append(_("🪑 Capacity: %(n)d") % {"n": c.capacity})
    lines.append(
        _("⏰ Register by: %(deadline)s") % {"deadline": t.datetime(c.registration_deadline)}
    )
    lines.append(_("👥 For: %(who)s") % {"who": escape(audience_text(t, c.audience))})
    lines.append(
        _("🎓 Completing it gives: %(grants)s") % {"grants": escape(grants_text(t, c) or "—")}
    )
    lines.append(
        _("✅ Registration needs the unit head's approval.")
        if c.requires_approval
        else _("Registration needs no approval.")
    )
    return lines


def choice_options(
    t: Translator, kind: str, grants_kind: str | None = None
) -> list[tuple[str, str]]:
    """The (code, label) buttons of a choice a course is created or edited with: its category
    ("cat"), what completing grants ("g"), the level of that ("l"), the approval rule ("a")."""
    _ = t.gettext
    if kind == "cat":
        return [(c.code, label(t, c.code)) for c in COURSE_CATEGORY]
    if kind == "g":
        kinds = [(k.code, label(t, k.code)) for k in QUALIFICATION_KIND if k.code in GRANTABLE]
        return [("-", _("Only the training hours")), *kinds]
    if kind == "l":
        return [(c.code, label(t, c.code)) for c in level_vocab(grants_kind or "") or []]
    return [("yes", _("Yes, the unit head approves")), ("no", _("No"))]


def admin_card(t: Translator, view: AdminView) -> str:
    _ = t.gettext
    c = view.course
    lines = course_facts(t, c, sessions=len(c.sessions))
    lines.insert(1, f"<code>{escape(c.code)}</code> · {status_label(t, c.status)}")
    lines.append(
        _("Registered: %(reg)d of %(cap)d · waitlist: %(wait)d")
        % {"reg": view.registered, "cap": c.capacity, "wait": view.waitlisted}
    )
    return "\n".join(lines)


def admin_buttons(t: Translator, course: Course) -> InlineKeyboardMarkup:
    _ = t.gettext

    def button(text: str, action: str) -> InlineKeyboardButton:
        return InlineKeyboardButton(text, callback_data=cb.build(action, course.id))

    people = InlineKeyboardButton(
        _("👥 Registrants"), callback_data=cb.build(cb.ORG_PEOPLE, f"{course.id}:0")
    )
    rows = [[people, button(_("📥 Export XLSX"), cb.ORG_EXPORT)]]
    if course.status not in (CourseStatus.CANCELLED, CourseStatus.FINISHED):
        toggle = (
            button(_("🔒 Close registration"), cb.ORG_CLOSE)
            if course.status == CourseStatus.OPEN
            else button(_("🔓 Reopen registration"), cb.ORG_REOPEN)
        )
        rows.insert(0, [button(_("✏️ Edit"), cb.ORG_EDIT), toggle])
        rows.append([button(_("❌ Cancel the course"), cb.ORG_CANCEL)])
    rows.append([InlineKeyboardButton(_("« My courses"), callback_data=cb.build(cb.ORG_LIST, 0))])
    return InlineKeyboardMarkup(rows)


def my_courses_page(t: Translator, page: AdminPage) -> tuple[str, InlineKeyboardMarkup | None]:
    _ = t.gettext
    heading = _("<b>Courses you organize: %(n)d</b>") % {"n": page.total}
    footer = _("New course: /newcourse · or send me a courses file (XLSX) to import.")
    if not page.items:
        return f"{heading}\n\n{footer}", None
    lines = [heading, ""]
    for v in page.items:
        lines.append(
            f"• <b>{escape(v.course.title)}</b> (<code>{escape(v.course.code)}</code>)\n  "
            f"{t.local_date(v.course.starts_at)} · {status_label(t, v.course.status)} · "
            + _("%(reg)d/%(cap)d, waitlist %(wait)d")
            % {"reg": v.registered, "cap": v.course.capacity, "wait": v.waitlisted}
        )
    if page.pages > 1:
        lines.append(_("Page %(page)d of %(pages)d") % {"page": page.page + 1, "pages": page.pages})
    lines += ["", footer]
    rows = [
        [
            InlineKeyboardButton(
                short(v.course.title), callback_data=cb.build(cb.ORG_COURSE, v.course.id)
            )
        ]
        for v in page.items
    ]
    nav = []
    if page.page > 0:
        nav.append(InlineKeyboardButton("◀️", callback_data=cb.build(cb.ORG_LIST, page.page - 1)))
    if page.page + 1 < page.pages:
        nav.append(InlineKeyboardButton("▶️", callback_data=cb.build(cb.ORG_LIST, page.page + 1)))
    if nav:
        rows.append(nav)
    return "\n".join(lines), InlineKeyboardMarkup(rows)
