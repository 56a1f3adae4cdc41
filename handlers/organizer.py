"""How a course looks to its organizer, on every channel: its facts, its admin card and
choices, the list of one's courses, the wording of a typed value the course cannot take, and
the choices a course is created or edited with."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from domain.course_admin import AdminPage, AdminView
from domain.course_draft import GRANTABLE, Invalid, Problem
from domain.errors import DomainError, Refusal
from domain.import_rows import POSITION_GROUP
from domain.unit_search import MAX_OFFERED, UnitMatch
from domain.vocab import COURSE_CATEGORY, QUALIFICATION_KIND, level_vocab
from handlers import actions as cb
from handlers.core import Choice
from handlers.render import grants_text, label, refusal, short
from locales import Translator
from storage.models import Course, CourseStatus


def organizer_refusal(t: Translator, error: DomainError) -> str:
    """A refusal of an organizer's step (a closed course is one that cannot be changed)."""
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


def unit_choices(t: Translator, typed: str, matches: Sequence[UnitMatch]) -> str:
    """Several units answer to what was typed: offer them, each with the code to type."""
    lines = [
        t.gettext("Several units match “%(typed)s”. Type the code of the one you mean:")
        % {"typed": escape(typed)}
    ]
    for u in matches[:MAX_OFFERED]:
        parent = f" ({escape(u.parent)})" if u.parent else ""
        lines.append(f"<code>{escape(u.code)}</code> — {escape(u.name)}{parent}")
    more = len(matches) - MAX_OFFERED
    if more > 0:
        lines.append(t.gettext("… and %(n)d more: type more of the name.") % {"n": more})
    return "\n".join(lines)


def unclear_unit(t: Translator, typed: str, matches: Sequence[UnitMatch]) -> str:
    """A typed unit that names no unit, or several to choose from."""
    if matches:
        return unit_choices(t, typed, matches)
    return t.gettext("No unit has a name or code like “%(typed)s”. Please type it again.") % {
        "typed": escape(typed)
    }


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
    """The (code, label) choices a course is created or edited with: its category ("cat"),
    what completing grants ("g"), the level of that ("l"), the approval rule ("a")."""
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


def admin_choices(t: Translator, course: Course) -> list[Choice]:
    """What an organizer can do with a course from its card."""
    _ = t.gettext
    cid = course.id
    choices = []
    if course.status not in (CourseStatus.CANCELLED, CourseStatus.FINISHED):
        toggle = (
            Choice(_("🔒 Close registration"), cb.build(cb.ORG_CLOSE, cid), joined=True)
            if course.status == CourseStatus.OPEN
            else Choice(_("🔓 Reopen registration"), cb.build(cb.ORG_REOPEN, cid), joined=True)
        )
        choices += [Choice(_("✏️ Edit"), cb.build(cb.ORG_EDIT, cid)), toggle]
    choices += [
        Choice(_("👥 Registrants"), cb.build(cb.ORG_PEOPLE, f"{cid}:0")),
        Choice(_("📥 Export XLSX"), cb.build(cb.ORG_EXPORT, cid), joined=True),
    ]
    if course.status not in (CourseStatus.CANCELLED, CourseStatus.FINISHED):
        choices.append(Choice(_("❌ Cancel the course"), cb.build(cb.ORG_CANCEL, cid)))
    choices.append(Choice(_("« My courses"), cb.build(cb.ORG_LIST, 0)))
    return choices


def my_courses_page(t: Translator, page: AdminPage) -> tuple[str, list[Choice]]:
    _ = t.gettext
    heading = _("<b>Courses you organize: %(n)d</b>") % {"n": page.total}
    footer = _("New course: /newcourse · or send me a courses file (XLSX) to import.")
    if not page.items:
        return f"{heading}\n\n{footer}", []
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
    choices = [
        Choice(short(v.course.title), cb.build(cb.ORG_COURSE, v.course.id), (v.course.code,))
        for v in page.items
    ]
    if page.page > 0:
        choices.append(Choice("◀️", cb.build(cb.ORG_LIST, page.page - 1)))
    if page.page + 1 < page.pages:
        choices.append(Choice("▶️", cb.build(cb.ORG_LIST, page.page + 1), joined=page.page > 0))
    return "\n".join(lines), choices
