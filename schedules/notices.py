"""The words and buttons of a due notification, in the recipient's language, from current data."""

from __future__ import annotations

from datetime import datetime
from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.i18n import Translator
from domain import reminders as r
from handlers import callbacks as cb
from handlers.render import rule_title
from storage.models import Course


def category_label(t: Translator, category: str) -> str:
    _ = t.gettext
    return {
        "course": _("Course start reminders"),
        "deadline": _("Registration deadlines of useful courses"),
        "standard": _("Standards deadlines"),
        "hours": _("Yearly training hours"),
        "review": _("Secondment review meetings"),
    }[category]


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
        return _(
            "🗓 The periodic review meeting of your secondment to %(unit)s is due on %(date)s."
        ) % {"unit": escape(ready.unit_name or "—"), "date": t.date(ready.review_on)}
    raise ValueError(f"cannot word a {kind} notification")


def buttons(t: Translator, ready: r.Ready) -> InlineKeyboardMarkup | None:
    """View the course, cancel a registration, and turn this category of reminders off."""
    _ = t.gettext
    note = ready.note
    rows = []
    if note.course_id is not None and note.kind != r.COURSE_CANCELLED:
        row = [
            InlineKeyboardButton(
                _("View course"), callback_data=cb.build(cb.COURSE, note.course_id)
            )
        ]
        if note.kind in (r.COURSE_START, r.PROMOTED, r.COURSE_CHANGED):
            row.append(
                InlineKeyboardButton(
                    _("Cancel registration"), callback_data=cb.build(cb.CANCEL, note.course_id)
                )
            )
        rows.append(row)
    category = r.KINDS[note.kind].category
    if category is not None:
        rows.append(
            [
                InlineKeyboardButton(
                    _("🔕 Turn these reminders off"),
                    callback_data=cb.build(cb.REMINDER_OFF, category),
                )
            ]
        )
    return InlineKeyboardMarkup(rows) if rows else None
