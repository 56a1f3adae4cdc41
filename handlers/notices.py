"""The words and choices of a due notification, in the recipient's language, from current data.

The drainer (schedules/notifications.py) asks for the `notice` of a row `prepare` found still
relevant and hands it to the person's channel, which renders the choices (inline buttons on
Telegram, numbered lines on Zalo); a picked choice runs the same flow as anywhere else.
"""

from __future__ import annotations

from datetime import datetime
from html import escape

from domain import reminders as r
from domain.standards import RuleStatus, State, grants
from handlers import actions as cb
from handlers.core import Choice, Say
from handlers.render import join_link, rule_title
from locales import Translator
from storage.models import Course


def _where(course: Course) -> str:
    return escape(course.place or course.link or "—")


def _old(t: Translator, params: dict[str, object]) -> str:
    """What a changed course was before, when the row recorded it."""
    parts = []
    if params.get("starts_at"):
        parts.append(t.datetime(datetime.fromisoformat(str(params["starts_at"]))))
    if params.get("place"):
        parts.append(escape(str(params["place"])))
    return ", ".join(parts)


def render(t: Translator, ready: r.Ready) -> str:
    """The message text (HTML) of a notification that `prepare` found still relevant."""
    text = _render(t, ready)
    course = ready.course
    if ready.note.kind in _TO_REGISTRANTS and course is not None and course.place and course.link:
        # A blended course's place is shown above; its link would otherwise reach the
        # registrants only inside Telegram's .ics file, which Zalo cannot send.
        text += "\n" + join_link(t, course)
    return text


_TO_REGISTRANTS = (r.COURSE_START, r.PROMOTED, r.COURSE_CHANGED)


def _render(t: Translator, ready: r.Ready) -> str:
    _ = t.gettext
    note, course = ready.note, ready.course
    kind = note.kind
    if course is not None:
        course_args = {
            "title": escape(course.title),
            "when": t.datetime(course.starts_at),
            "where": _where(course),
            "deadline": t.datetime(course.registration_deadline),
        }
    if kind == r.COURSE_START and course is not None:
        return _("⏰ Reminder: <b>%(title)s</b> starts %(when)s at %(where)s.") % course_args
    if kind == r.PROMOTED and course is not None and note.params.get("why") == r.APPROVAL_DROPPED:
        return (
            _(
                "✅ <b>%(title)s</b> no longer needs the unit head's approval, so your request "
                "is accepted: you are registered, starting %(when)s at %(where)s."
            )
            % course_args
        )
    if kind == r.PROMOTED and course is not None:
        return (
            _(
                "🎉 A seat freed up: you are now registered for <b>%(title)s</b>, starting "
                "%(when)s at %(where)s."
            )
            % course_args
        )
    if kind == r.COURSE_CHANGED and course is not None:
        text = _("📢 <b>%(title)s</b> has changed: it now starts %(when)s at %(where)s.") % (
            course_args
        )
        old = _old(t, note.params)
        return text + ("\n" + _("Before: %(old)s.") % {"old": old} if old else "")
    if kind == r.COURSE_CANCELLED and course is not None:
        return (
            _(
                "❌ <b>%(title)s</b> (%(when)s) has been cancelled. Your place in it no longer "
                "holds; see /courses for other courses."
            )
            % course_args
        )
    if kind == r.REGISTRATION_DEADLINE and course is not None and ready.rule is not None:
        return _(
            "📝 Registration for <b>%(title)s</b> closes %(deadline)s. It would help you meet "
            "the standard: %(rule)s."
        ) % {**course_args, "rule": escape(rule_title(t, ready.rule))}
    if kind == r.STANDARD_DEADLINE and ready.rule is not None:
        return _(
            "📋 You have until %(deadline)s to meet the standard: %(rule)s. /status shows "
            "courses that close the gap."
        ) % {"deadline": t.date(ready.deadline), "rule": escape(rule_title(t, ready.rule))}
    if kind == r.HOURS_BEHIND:
        return _(
            "📚 You have %(done)d of %(target)d training hours this year. /courses lists "
            "courses you can still join before 31/12."
        ) % {"done": ready.hours_done or 0, "target": ready.hours_target or 0}
    if kind == r.REVIEW_MEETING:
        return _review(t, ready)
    if kind in (r.COURSE_COMPLETED, r.CLAIM_RESULT):
        return _record_change(t, ready)
    if kind in NOMINATION_KINDS and course is not None:
        return _nomination(t, ready, course_args)
    raise ValueError(f"cannot word a {kind} notification")


def _review(t: Translator, ready: r.Ready) -> str:
    """A review meeting, to the person or to whoever holds it, in the words of its kind."""
    _ = t.gettext
    args = {"unit": escape(ready.unit_name or "—"), "date": t.date(ready.review_on),
            "name": escape(ready.subject or "—")}  # fmt: skip
    rotation = ready.secondment_kind == "rotation"
    if ready.note.params.get("as") and rotation:
        return _(
            "🗓 The periodic review meeting of %(name)s, rotated to %(unit)s, is due on "
            "%(date)s."
        ) % args
    if ready.note.params.get("as"):
        return _(
            "🗓 The periodic review meeting of %(name)s, seconded to %(unit)s, is due on "
            "%(date)s."
        ) % args
    if rotation:
        return _(
            "🗓 The periodic review meeting of your rotation to %(unit)s is due on %(date)s."
        ) % args
    return _(
        "🗓 The periodic review meeting of your secondment to %(unit)s is due on %(date)s."
    ) % args


def _record_change(t: Translator, ready: r.Ready) -> str:
    """A completed course, or the organizer's decision on a claim."""
    _ = t.gettext
    note, params = ready.note, ready.note.params
    if note.kind == r.COURSE_COMPLETED and ready.course is not None:
        text = _(
            "🎓 You completed <b>%(title)s</b>. It is now on your training record "
            "(%(hours)d hours)."
        ) % {"title": escape(ready.course.title), "hours": ready.course.hours}
        if params.get("certificate_no"):
            text += "\n" + _("Certificate number: %(number)s") % {
                "number": escape(str(params["certificate_no"]))
            }
        return text + "\n" + _("/status shows your standards now.")
    if params.get("approved") and params.get("kind") == "correction":
        return _(
            "✅ Your report of a mistake in your record was accepted; the roster will be "
            "corrected."
        )
    if params.get("approved"):
        return _(
            "✅ Your request about your record was approved and your record has been "
            "updated. /status shows your standards now."
        )
    return _("❌ Your request about your record was not approved. Reason: %(reason)s") % {
        "reason": escape(str(params.get("reason") or "—"))
    }


def notice(t: Translator, ready: r.Ready) -> Say:
    """The message of a notification, with its choices."""
    return Say(render(t, ready), choices(t, ready))


def choices(t: Translator, ready: r.Ready) -> list[Choice]:
    """Answer a nomination or a request, view the course, cancel a registration, and turn
    this category of reminders off."""
    _ = t.gettext
    note = ready.note
    found = _answer_choices(t, ready)
    if note.course_id is not None and note.kind not in (r.COURSE_CANCELLED, r.COURSE_COMPLETED):
        found.append(Choice(_("View course"), cb.build(cb.COURSE, note.course_id)))
        if note.kind in _TO_REGISTRANTS:
            found.append(
                Choice(_("Cancel registration"), cb.build(cb.CANCEL, note.course_id), joined=True)
            )
    category = r.KINDS[note.kind].category
    if category is not None:
        found.append(
            Choice(_("🔕 Turn these reminders off"), cb.build(cb.REMINDER_OFF, category))
        )
    return found


# -- nomination and approval (domain/nominations.py) --------------------------------------------

NOMINATION_KINDS = (
    r.NOMINATED,
    r.NOMINATION_EXPIRED,
    r.NOMINATION_ANSWER,
    r.APPROVAL_REQUEST,
    r.APPROVAL_RESULT,
)


def _gap_line(t: Translator, gap: RuleStatus, course: Course) -> str:
    _ = t.gettext
    if gap.state == State.OVERDUE:
        state = _("overdue since %(date)s") % {"date": t.date(gap.deadline)}
    elif gap.deadline:
        state = _("missing, due by %(date)s") % {"date": t.date(gap.deadline)}
    else:
        state = _("missing")
    mark = "🎯" if grants(gap.rule, course) else "•"
    return f"{mark} {escape(rule_title(t, gap.rule))}: {state}"


def _nomination(t: Translator, ready: r.Ready, args: dict[str, str]) -> str:
    _ = t.gettext
    note, course, params = ready.note, ready.course, ready.note.params
    assert course is not None
    until = t.datetime(ready.registration.hold_until if ready.registration else None)
    who = escape(ready.subject or "—")
    if note.kind == r.NOMINATED:
        return _(
            "📨 %(who)s has nominated you for <b>%(title)s</b>, starting %(when)s at "
            "%(where)s. A seat is held for you until %(until)s: please confirm or decline."
        ) % {**args, "who": who, "until": until}
    if note.kind == r.NOMINATION_EXPIRED:
        return _(
            "⌛ You did not answer the nomination for <b>%(title)s</b> in time, so the seat "
            "held for you has been given up."
        ) % args
    if note.kind == r.NOMINATION_ANSWER and params.get("outcome") == "declined":
        return _(
            "✖️ %(who)s declined the nomination for <b>%(title)s</b>. Reason: %(reason)s"
        ) % {**args, "who": who, "reason": escape(str(params.get("reason") or "—"))}
    if note.kind == r.NOMINATION_ANSWER:
        return _(
            "⌛ %(who)s did not answer the nomination for <b>%(title)s</b> in time; the seat "
            "was given up."
        ) % {**args, "who": who}
    if note.kind == r.APPROVAL_REQUEST:
        lines = [
            _(
                "🙋 %(who)s (%(unit)s) asks to join <b>%(title)s</b>, starting %(when)s. "
                "Please approve or decline by %(until)s; the seat is held until then."
            )
            % {**args, "who": who, "unit": escape(ready.unit_name or "—"), "until": until}
        ]
        if ready.gaps:
            lines.append(_("Standards not yet met (🎯 = this course meets it):"))
            lines += [_gap_line(t, gap, course) for gap in ready.gaps]
        else:
            lines.append(_("This person meets every standard of their position."))
        return "\n".join(lines)
    outcome = params.get("outcome")
    if outcome == "approved":
        return _(
            "✅ Your unit head approved your registration: you are registered for "
            "<b>%(title)s</b>, starting %(when)s at %(where)s."
        ) % args
    if outcome == "declined":
        return _(
            "❌ Your unit head declined your registration for <b>%(title)s</b>. Reason: "
            "%(reason)s"
        ) % {**args, "reason": escape(str(params.get("reason") or "—"))}
    return _(
        "⌛ Your request to join <b>%(title)s</b> was not decided in time, so the seat held "
        "for you has been given up. Please contact your unit head."
    ) % args


def _answer_choices(t: Translator, ready: r.Ready) -> list[Choice]:
    """Confirm/Decline under a nomination, Approve/Decline under an approval request."""
    _ = t.gettext
    note = ready.note
    if note.kind == r.NOMINATED and note.course_id is not None:
        yes, no = (cb.NOM_ACCEPT, _("✅ Confirm")), (cb.NOM_DECLINE, _("✖️ Decline"))
        value = note.course_id
    elif note.kind == r.APPROVAL_REQUEST and ready.registration is not None:
        yes, no = (cb.APPROVE, _("✅ Approve")), (cb.APPROVE_DECLINE, _("✖️ Decline"))
        value = ready.registration.id
    else:
        return []
    return [
        Choice(text, cb.build(action, value), joined=joined)
        for (action, text), joined in ((yes, False), (no, True))
    ]
