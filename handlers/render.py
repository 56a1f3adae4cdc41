"""Turning domain results into short HTML messages in the user's language."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape, unescape

from domain import claims
from domain.attendance import CheckinResult, CheckinStatus
from domain.catalog import CourseView, Page
from domain.errors import DomainError, Refusal
from domain.records import Overview, PrivacyView
from domain.secondments import Posting
from domain.standards import RuleStatus, State
from domain.unit_search import MAX_OFFERED, UnitMatch
from handlers import actions as cb
from handlers.dialog import Choice
from locales import Translator
from storage.models import Course, RegistrationStatus, StandardRule

BUTTON_TITLE = 48  # long titles wrap badly on small phones


def _catalogue_labels(t: Translator) -> dict[str, str]:
    _ = t.gettext
    return {
        "political_theory": _("Political theory"),
        "defence_security": _("Defence and security"),
        "state_management": _("State management"),
        "job_skills": _("Job-position skills"),
        "digital_skills": _("Digital skills"),
        "it": _("IT"),
        "foreign_language": _("Foreign language"),
        "ethnic_language": _("Ethnic minority language"),
        "culture": _("Culture and tourism"),
        "education": _("Professional qualification"),
        "refresher_hours": _("Refresher hours"),
        "in_person": _("in person"),
        "online": _("online"),
        "blended": _("in person and online"),
        "so_cap": _("elementary"),
        "trung_cap": _("intermediate"),
        "cao_cap": _("advanced"),
        "cu_nhan": _("bachelor"),
        "cao_dang": _("college"),
        "dai_hoc": _("university"),
        "thac_si": _("master"),
        "tien_si": _("doctorate"),
        "chuyen_vien": _("specialist"),
        "chuyen_vien_chinh": _("principal specialist"),
        "chuyen_vien_cao_cap": _("senior specialist"),
    }


def label(t: Translator, code: str | None) -> str:
    if not code:
        return ""
    return _catalogue_labels(t).get(code, code)


def short(text: str, limit: int = BUTTON_TITLE) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def rule_title(t: Translator, rule: StandardRule) -> str:
    return rule.title_en if t.lang == "en" and rule.title_en else rule.title_vi


def grants_text(t: Translator, course: Course) -> str:
    parts = []
    if course.grants_kind:
        kind = label(t, course.grants_kind)
        parts.append(f"{kind} ({label(t, course.grants_level)})" if course.grants_level else kind)
    if course.hours:
        parts.append(
            t.ngettext("%(n)d training hour", "%(n)d training hours", course.hours)
            % {"n": course.hours}
        )
    return ", ".join(parts)


def course_card(t: Translator, view: CourseView) -> str:
    _ = t.gettext
    c = view.course
    lines = [f"<b>{escape(c.title)}</b>", escape(label(t, c.category))]
    when = (
        t.datetime(c.starts_at)
        if t.local_date(c.starts_at) == t.local_date(c.ends_at)
        else f"{t.datetime(c.starts_at)} – {t.datetime(c.ends_at)}"
    )
    lines.append(_("🗓 When: %(when)s") % {"when": when})
    if len(c.sessions) > 1:
        lines.append(_("   %(n)d sessions") % {"n": len(c.sessions)})
    where = c.place or c.link or "—"
    lines.append(
        _("📍 Where: %(where)s (%(mode)s)") % {"where": escape(where), "mode": label(t, c.mode)}
    )
    if view.my_status == RegistrationStatus.REGISTERED and c.link and c.link != where:
        lines.append(join_link(t, c))
    if view.organizer:
        lines.append(_("🏛 Organizer: %(org)s") % {"org": escape(view.organizer)})
    if view.seats_left:
        lines.append(
            _("🪑 Seats left: %(left)d of %(cap)d") % {"left": view.seats_left, "cap": c.capacity}
        )
    else:
        lines.append(full_text(t, view.waitlisted, card=True))
    lines.append(
        _("⏰ Register by: %(deadline)s") % {"deadline": t.datetime(c.registration_deadline)}
    )
    granted = grants_text(t, c)
    if granted:
        lines.append(_("🎓 Completing it gives: %(grants)s") % {"grants": escape(granted)})
    if view.my_status == RegistrationStatus.REGISTERED:
        lines.append(_("✅ You are registered."))
    elif view.my_status == RegistrationStatus.WAITLISTED:
        lines.append(
            _("⏳ You are number %(n)d on the waitlist.") % {"n": view.my_waitlist_position or 0}
        )
    elif view.my_status == RegistrationStatus.NOMINATED:
        lines.append(
            _("📨 Your unit nominated you: a seat is held until %(until)s. Please confirm.")
            % {"until": t.datetime(view.my_hold_until)}
        )
    elif view.my_status == RegistrationStatus.PENDING_APPROVAL:
        lines.append(
            _("⏳ Awaiting your unit head's approval (until %(until)s); your seat is held.")
            % {"until": t.datetime(view.my_hold_until)}
        )
    return "\n".join(lines)


def course_choices(t: Translator, view: CourseView) -> list[Choice]:
    """What the person may do with the course on its card."""
    _ = t.gettext
    cid = view.course.id
    back = Choice(_("« All courses"), cb.build(cb.PAGE, 0))
    if view.my_status == RegistrationStatus.NOMINATED:
        yes = Choice(_("✅ Confirm"), cb.build(cb.NOM_ACCEPT, cid))
        no = Choice(_("✖️ Decline"), cb.build(cb.NOM_DECLINE, cid), joined=True)
        return [yes, no, back]
    if view.my_status == RegistrationStatus.PENDING_APPROVAL:
        first = Choice(_("Withdraw request"), cb.build(cb.CANCEL, cid))
    elif view.my_status in (RegistrationStatus.REGISTERED, RegistrationStatus.WAITLISTED):
        first = Choice(_("Cancel registration"), cb.build(cb.CANCEL, cid))
    elif view.seats_left:
        first = Choice(_("✍️ Register"), cb.build(cb.REGISTER, cid))
    else:
        first = Choice(_("✍️ Join the waitlist"), cb.build(cb.REGISTER, cid))
    return [first, back]


def join_link(t: Translator, course: Course) -> str:
    """The online or blended course's link, for the people registered for it."""
    return t.gettext("🔗 Online link: %(link)s") % {"link": escape(course.link or "")}


def full_text(t: Translator, waitlisted: int, *, card: bool = False) -> str:
    """A full course, and how many wait: "nobody yet" rather than "waitlist 0"."""
    _ = t.gettext
    if card:
        if not waitlisted:
            return _("🪑 Full; nobody is on the waitlist yet.")
        return _("🪑 Full; waitlist: %(n)d") % {"n": waitlisted}
    if not waitlisted:
        return _("full, waitlist open")
    return _("full, waitlist %(n)d") % {"n": waitlisted}


def register_question(t: Translator, view: CourseView) -> tuple[str, str]:
    """The confirmation before registering, and its yes: a full course's is the waitlist."""
    _ = t.gettext
    title = {"title": escape(view.course.title)}
    if view.seats_left:
        return _("Register for <b>%(title)s</b>?") % title, _("✅ Yes, register")
    question = _(
        "<b>%(title)s</b> is full. Join its waitlist? You will be told as soon as a seat "
        "frees up."
    )
    return question % title, _("✅ Yes, join the waitlist")


def course_line(t: Translator, view: CourseView) -> str:
    c = view.course
    seats = (
        t.gettext("%(n)d seats left") % {"n": view.seats_left}
        if view.seats_left
        else full_text(t, view.waitlisted)
    )
    return f"• <b>{escape(c.title)}</b>\n  {t.local_date(c.starts_at)} · {seats}"


def course_page(
    t: Translator, page: Page, *, action: str, heading: str
) -> tuple[str, list[Choice]]:
    if not page.items:
        return heading + "\n\n" + t.gettext("No open courses found."), []
    lines = [heading, ""] + [course_line(t, v) for v in page.items]
    if page.pages > 1:
        lines.append("")
        lines.append(
            t.gettext("Page %(page)d of %(pages)d") % {"page": page.page + 1, "pages": page.pages}
        )
    choices = [Choice(short(v.course.title), cb.build(cb.COURSE, v.course.id)) for v in page.items]
    if page.page > 0:
        choices.append(Choice("◀️", cb.build(action, page.page - 1)))
    if page.page + 1 < page.pages:
        choices.append(Choice("▶️", cb.build(action, page.page + 1), joined=page.page > 0))
    return "\n".join(lines), choices


def no_match(t: Translator, query: str, open_total: int) -> str:
    """A search that found nothing: say so, and how many courses are open."""
    _ = t.gettext
    text = _("No course matches «%(q)s».") % {"q": escape(query)}
    if not open_total:
        return text + "\n" + _("No open courses found.")
    return (
        text
        + "\n"
        + t.ngettext(
            "%(n)d course is open to you: choose below to see it, or try other words.",
            "%(n)d courses are open to you: choose below to see them, or try other words.",
            open_total,
        )
        % {"n": open_total}
    )


def greeting(t: Translator, *, linked: bool) -> str:
    """The answer to a greeting or a question without a subject: what the bot can do."""
    _ = t.gettext
    if not linked:
        return _(
            "Hello! I help commune-level cadres and civil servants find and register for "
            "training courses. Please link your account first: send /start."
        )
    return _(
        "Hello! Choose from the menu below, or type a few words of a course title "
        "(for example: kỹ năng số) to find it."
    )


def _state(t: Translator, s: RuleStatus) -> str:
    _ = t.gettext
    if s.state == State.MET:
        return _("met")
    if s.state == State.IN_PROGRESS and s.until is not None:
        return _("in progress (studying) until %(month)s") % {"month": f"{s.until:%m/%Y}"}
    if s.state == State.IN_PROGRESS:
        return _("in progress (registered for a course)")
    if s.state == State.OVERDUE:
        return _("overdue since %(date)s") % {"date": t.date(s.deadline)}
    if s.deadline:
        return _("missing, due by %(date)s") % {"date": t.date(s.deadline)}
    return _("missing")


def status_text(t: Translator, statuses: list[RuleStatus]) -> tuple[str, list[Choice]]:
    _ = t.gettext
    applicable = [s for s in statuses if s.state != State.NOT_APPLICABLE]
    icons = {State.MET: "✅", State.IN_PROGRESS: "⏳", State.MISSING: "⚠️", State.OVERDUE: "❌"}
    lines = [_("<b>Your standards</b>")]
    closing: dict[int, tuple[Course, list[str]]] = {}  # a course once, with every gap it closes
    for s in applicable:
        line = f"\n{icons[s.state]} <b>{escape(rule_title(t, s.rule))}</b>: {_state(t, s)}"
        if s.hours_target is not None:
            line += "\n   " + _("%(done)d of %(target)d hours this year") % {
                "done": s.hours_done or 0,
                "target": s.hours_target,
            }
        if s.rule.basis:
            line += f"\n   <i>{escape(short(s.rule.basis, 140))}</i>"
        lines.append(line)
        for c in s.closing:
            closing.setdefault(c.id, (c, []))[1].append(rule_title(t, s.rule))
    if not applicable:
        lines.append(_("No standard applies to your position yet."))
    skipped = len(statuses) - len(applicable)
    if skipped:
        lines.append(
            "\n"
            + t.ngettext(
                "%(n)d other standard does not apply to your position.",
                "%(n)d other standards do not apply to your position.",
                skipped,
            )
            % {"n": skipped}
        )
    if closing:
        lines.append("\n" + _("Courses that close your gaps:"))
        lines += [
            "📚 "
            + _("<b>%(title)s</b> — closes: %(gaps)s")
            % {"title": escape(c.title), "gaps": escape("; ".join(gaps))}
            for c, gaps in closing.values()
        ]
    choices = [
        Choice("📚 " + short(c.title), cb.build(cb.COURSE, c.id), aliases=(c.title,))
        for c, _gaps in closing.values()
    ]
    return "\n".join(lines), choices


def postings_text(t: Translator, postings: Sequence[Posting]) -> str:
    """The person's secondments and rotations under way: host, until when, next review."""
    _ = t.gettext
    lines = []
    for p in postings:
        args = {"unit": escape(p.host), "division": escape(p.division or ""),
                "until": t.date(p.ends_on) if p.ends_on else "—",
                "review": t.date(p.next_review) if p.next_review else "—"}  # fmt: skip
        if p.kind == "rotation":
            line = _("🔄 Rotated to <b>%(unit)s</b> until %(until)s.") % args
        else:
            line = _("🔄 Seconded to <b>%(unit)s</b> until %(until)s.") % args
        if p.division:
            line += "\n   " + _("Division: %(division)s") % args
        if p.field_of_work:
            line += "\n   " + _("Field of work: %(field)s") % {"field": escape(p.field_of_work)}
        line += "\n   " + _("Next review meeting: %(review)s") % args
        lines.append(line)
    return "\n".join(lines)


def refusal(t: Translator, error: DomainError) -> str:
    _ = t.gettext
    d = error.details
    texts: dict[Refusal, Callable[[], str]] = {
        Refusal.NOT_LINKED: lambda: _("Please link your account first: send /start."),
        Refusal.NOT_FOUND: lambda: _("This course no longer exists."),
        Refusal.CLOSED: lambda: _("Registration for this course is closed."),
        Refusal.DEADLINE_PASSED: lambda: _("The registration deadline has passed."),
        Refusal.OUTSIDE_AUDIENCE: lambda: _(
            "This course is for another audience (unit or position). "
            "Ask your organizer if you think this is wrong."
        ),
        Refusal.CLASH: lambda: (
            _("It clashes with a course you are registered for: %(title)s.")
            % {"title": escape(str(d.get("title", "")))}
        ),
        Refusal.NOT_REGISTERED: lambda: _("You are not registered for this course."),
        Refusal.TOO_LATE_TO_CANCEL: lambda: _(
            "It is too late to cancel online; please contact the organizer."
        ),
        Refusal.FORBIDDEN: lambda: (
            _("Only an administrator can do this.")
            if d.get("role") == "admin"
            else _(
                "Only organizers can do this. If you should be one, ask your Department of "
                "Home Affairs."
            )
        ),
        Refusal.NOT_PENDING: lambda: _(
            "This has already been answered, or the time to answer has passed."
        ),
    }
    return texts[error.code]()


def refusal_alert(t: Translator, error: DomainError) -> str:
    """The refusal for a callback answer: plain text (no HTML entities), at most 200 characters."""
    return unescape(refusal(t, error))[:200]


def _mask(value: str | None, keep: int = 3) -> str:
    if not value:
        return "—"
    return "•" * max(len(value) - keep, 0) + value[-keep:]


def privacy_lines(t: Translator, view: PrivacyView) -> list[str]:
    """What we store about the person (identifiers masked); each channel adds its ending."""
    _ = t.gettext
    p = view.person
    # One per line under its own heading: "Qualifications: Professional qualification: ..."
    # read as a label repeated.
    quals = "".join(
        f"\n  • {escape(label(t, q.kind))}: {escape(label(t, q.level))}"
        for q in view.qualifications
    )
    position = "—"
    if p.position is not None:
        position = p.position.name_en if t.lang == "en" else p.position.name_vi
    return [
        _("<b>What we store about you</b>"),
        _("Name: %(v)s") % {"v": escape(p.full_name)},
        _("Personal ID: %(v)s") % {"v": _mask(p.personal_id)},
        _("Date of birth: %(v)s") % {"v": t.date(p.date_of_birth)},
        _("Phone: %(v)s") % {"v": _mask(p.phone)},
        _("Unit: %(v)s") % {"v": escape(p.unit.name)},
        _("Position: %(v)s") % {"v": escape(position)},
        _("Qualifications: %(v)s") % {"v": quals or "—"},
        _("Registrations: %(n)d; training records: %(m)d")
        % {"n": view.registrations, "m": view.trainings},
        "",
    ]


def my_text(t: Translator, view: Overview) -> str:
    """My registrations: upcoming courses and their state, training done, hours this year."""
    _ = t.gettext
    lines = [_("<b>Your registrations</b>")]
    for item in view.upcoming:
        if item.status == RegistrationStatus.REGISTERED:
            state = _("registered")
        elif item.status == RegistrationStatus.NOMINATED:
            state = _("nominated — please confirm")
        elif item.status == RegistrationStatus.PENDING_APPROVAL:
            state = _("awaiting approval")
        else:
            state = _("waitlist no. %(n)d") % {"n": item.waitlist_position or 0}
        lines.append(
            f"• {escape(item.course.title)}\n  {t.datetime(item.course.starts_at)} · {state}"
        )
    if not view.upcoming:
        lines.append(_("You have no upcoming courses. Tap 📚 Courses to find one."))
    if view.completed:
        lines.append("\n" + _("<b>Training completed this year</b>"))
    else:
        lines.append("\n" + _("No training completed this year yet."))
    for record in view.completed:
        lines.append(f"• {escape(record.title)} ({t.date(record.ends_on)}, {record.hours}h)")
    lines.append(
        _("Hours: %(done)d of the %(target)d-hour yearly target.")
        % {"done": view.hours_done, "target": view.hours_target}
    )
    return "\n".join(lines)


def checkin_text(t: Translator, result: CheckinResult) -> str:
    """The answer to a check-in with a session's code."""
    _ = t.gettext
    texts = {
        CheckinStatus.CHECKED_IN: _("✅ Checked in: <b>%(title)s</b>, session %(n)d."),
        CheckinStatus.ALREADY: _("You are already checked in for session %(n)d of %(title)s."),
        CheckinStatus.BAD_CODE: _("This code is not valid. Check it on the screen and try again."),
        CheckinStatus.NOT_YET: _("Check-in for session %(n)d of %(title)s opens %(when)s."),
        CheckinStatus.EXPIRED: _("Check-in for session %(n)d of %(title)s has closed."),
        CheckinStatus.NOT_REGISTERED: _("You are not registered for %(title)s."),
    }
    args = {"title": escape(result.title), "n": result.session_no + 1,
            "when": t.datetime(result.valid_from)}  # fmt: skip
    return texts[result.status] % args


def category_label(t: Translator, category: str) -> str:
    _ = t.gettext
    return {
        "course": _("Course start reminders"),
        "deadline": _("Registration deadlines of useful courses"),
        "standard": _("Standards deadlines"),
        "hours": _("Yearly training hours"),
        "review": _("Secondment review meetings"),
    }[category]


def kind_label(t: Translator, kind: str) -> str:
    """A record claim's kind."""
    _ = t.gettext
    return {
        claims.CORRECTION: _("Mistake in my record"),
        claims.QUALIFICATION: _("Qualification"),
        claims.TRAINING: _("Outside training"),
    }[kind]


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
