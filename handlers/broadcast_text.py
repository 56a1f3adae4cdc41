"""What /broadcast says (handlers/broadcast.py) and what its drainer says
(schedules/broadcasts.py): refusals, the audience in words, progress, the report, and the
choices that outlive the conversation (Received, Cancel, Update)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import cast

from domain import recipients
from domain.broadcasts import Progress
from domain.errors import DomainError, Refusal
from domain.recipients import Audience
from domain.unit_search import UnitMatch
from handlers import actions as cb
from handlers.core import Choice
from handlers.organizer import unclear_unit
from handlers.render import refusal, rule_title
from locales import Translator


def html_problem_text(t: Translator, error: DomainError) -> str:
    """What is wrong with the organizer's HTML, and where; they are asked to send it again."""
    _ = t.gettext
    tag, close = escape(f"<{error.details['tag']}>"), escape(f"</{error.details['tag']}>")
    issues = {
        "bare_lt": lambda: _("a “%(char)s” that starts no tag (write %(fix)s)")
        % {"char": escape("<"), "fix": escape("&lt;")},
        "bare_amp": lambda: _("an “%(char)s” that starts no entity (write %(fix)s)")
        % {"char": escape("&"), "fix": escape("&amp;")},
        "unknown_tag": lambda: _("the tag %(tag)s is not supported") % {"tag": tag},
        "bad_attribute": lambda: _("the tag %(tag)s has attributes Telegram does not accept")
        % {"tag": tag},
        "unclosed": lambda: _("the tag %(tag)s is never closed") % {"tag": tag},
        "misnested": lambda: _("%(tag)s closes before the tags opened inside it")
        % {"tag": close},
        "stray_close": lambda: _("%(tag)s closes no open tag") % {"tag": close},
    }
    return _(
        "Telegram would refuse this message: %(what)s, at character %(at)d (“%(near)s”). "
        "Please correct it and send the message again."
    ) % {
        "what": issues[str(error.details["issue"])](),
        "at": int(str(error.details["at"])),
        "near": escape(str(error.details["near"])),
    }


def problem_text(t: Translator, error: DomainError) -> str:
    """Why the step was refused, in the organizer's words."""
    _ = t.gettext
    value = escape(str(error.details.get("value", "")))
    texts = {
        "unit": lambda: _("There is no unit with the code %(value)s.") % {"value": value},
        "position": lambda: _("There is no position with the code %(value)s.") % {"value": value},
        "course": lambda: _("There is no course with the code %(value)s.") % {"value": value},
        "rule": lambda: _("There is no active standard %(value)s.") % {"value": value},
        "broadcast": lambda: _("This broadcast no longer exists."),
        "not_yours": lambda: _("This broadcast was written by another organizer."),
        "not_draft": lambda: _("This broadcast was already sent, scheduled or cancelled."),
        "finished": lambda: _("This broadcast has already finished."),
        "empty": lambda: _("Please send some text, a photo or a document."),
        "too_long": lambda: _(
            "That is too long: at most 4096 characters, or 1024 under a photo or document."
        ),
        "past": lambda: _("That time is already past. Please give a later time."),
        "nobody": lambda: _("Nobody matches this audience. Send /broadcast to start again."),
    }
    problem = error.details.get("problem")
    if problem == "html":
        return html_problem_text(t, error)
    if problem == "unclear":  # a typed unit name matching no unit, or several
        matches = cast(Sequence[UnitMatch], error.details["matches"])
        return unclear_unit(t, str(error.details["typed"]), matches)
    if error.code == Refusal.FORBIDDEN and value:
        return _("The unit %(value)s is outside your scope.") % {"value": value}
    if isinstance(problem, str) and problem in texts:
        return texts[problem]()
    return refusal(t, error)


def describe(t: Translator, a: Audience, names: recipients.AudienceNames) -> str:
    """The audience in words a person reads: names of units, positions and the standard."""
    _ = t.gettext
    parts = []
    if a.units:
        units = ", ".join(names.units.get(code, code) for code in a.units)
        parts.append(_("units %(codes)s") % {"codes": escape(units)})
    if a.positions:
        found = [names.positions.get(code) for code in a.positions]
        titles = [
            (p.name_en if t.lang == "en" else p.name_vi) if p else code
            for p, code in zip(found, a.positions, strict=True)
        ]
        parts.append(_("positions %(codes)s") % {"codes": escape(", ".join(titles))})
    if a.missing:
        rule = rule_title(t, names.rule) if names.rule else a.missing
        parts.append(_("missing the standard %(code)s") % {"code": escape(rule)})
    if a.course:
        text = _("waitlist of %(code)s") if a.waitlist else _("registrants of %(code)s")
        course = f"{names.course} ({a.course})" if names.course else a.course
        parts.append(text % {"code": escape(course)})
    return _("Audience: %(who)s") % {"who": "; ".join(parts) or _("everyone in your units")}


def progress_text(t: Translator, p: Progress, *, rate: float, paused_until: str | None) -> str:
    _ = t.gettext
    lines = [
        _("📣 <b>Broadcast #%(id)d</b>: sending") % {"id": p.broadcast_id},
        _("Sent %(done)d / %(total)d · blocked %(blocked)d · not linked %(not_linked)d · "
          "failed %(failed)d") % {"done": p.sent, "total": p.total, "blocked": p.blocked,
                                  "not_linked": p.not_linked, "failed": p.failed},
    ]  # fmt: skip
    if paused_until is not None:
        lines.append(_("Paused for quiet hours until %(time)s.") % {"time": paused_until})
    elif p.waiting:
        seconds = int(p.waiting / rate) + 1
        lines.append(
            _("About %(minutes)d min %(seconds)d s left.")
            % {"minutes": seconds // 60, "seconds": seconds % 60}
        )
    return "\n".join(lines)


def report_text(t: Translator, p: Progress) -> str:
    _ = t.gettext
    head = (
        _("📣 <b>Broadcast #%(id)d cancelled</b>")
        if p.cancelled
        else _("📣 <b>Broadcast #%(id)d finished</b>")
    )
    lines = [
        head % {"id": p.broadcast_id},
        _("Recipients: %(n)d") % {"n": p.total},
        _("✅ Delivered: %(n)d") % {"n": p.sent},
        _("🚫 Blocked the bot: %(n)d") % {"n": p.blocked},
        _("🔗 Not linked to the bot: %(n)d") % {"n": p.not_linked},
        _("⚠️ Failed: %(n)d") % {"n": p.failed},
    ]
    if set(p.by_channel) - {"telegram"}:  # people reached on Zalo too: say how many where
        lines.append(
            _("By app: Telegram %(telegram)d, Zalo %(zalo)d")
            % {"telegram": p.by_channel.get("telegram", 0), "zalo": p.by_channel.get("zalo", 0)}
        )
    if p.cancelled:
        lines.append(_("✖️ Not sent (cancelled): %(n)d") % {"n": p.cancelled})
    if p.ask_ack:
        lines.append(_("👍 Confirmed receipt: %(n)d of %(sent)d") % {"n": p.acked, "sent": p.sent})
    if p.blocked + p.not_linked + p.failed:
        lines.append(_("The people not reached are in the attached list, to phone them."))
    return "\n".join(lines)


def received_choice(t: Translator, broadcast_id: int) -> Choice:
    return Choice(t.gettext("✅ Received"), cb.build(cb.BC_RECEIVED, broadcast_id))


def cancel_choice(t: Translator, broadcast_id: int) -> Choice:
    return Choice(t.gettext("✖️ Cancel the broadcast"), cb.build(cb.BC_CANCEL, broadcast_id))


def refresh_choice(t: Translator, broadcast_id: int) -> Choice:
    return Choice(t.gettext("🔄 Update the receipts"), cb.build(cb.BC_REFRESH, broadcast_id))
