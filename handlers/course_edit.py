"""Editing one field of a course from its admin card: title, dates and sessions, place or
link, capacity, registration deadline, and the details /newcourse asks for (category,
audience, hours, what completing grants, the approval rule) with the same questions, choices
and checks. A new time or place is told to every registrant; a detail is told to nobody.

The field being edited is the step the chat owes (`courseedit.value`, or `courseedit.starts`
→ `.ends` → `.sessions` for the dates), kept in the dialogs table like every step.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from domain import course_admin
from domain import course_draft as d
from domain.course_admin import AdminView, Changed, Edit, Field
from domain.course_draft import Invalid, Problem
from domain.roles import Scope
from domain.vocab import level_vocab
from handlers import actions as cb
from handlers.core import Choice, Ctx, Say
from handlers.guard import Refused, allowed, guarded
from handlers.organizer import (
    admin_card,
    admin_choices,
    audience_text,
    choice_options,
    organizer_refusal,
)
from handlers.render import label
from locales import Translator
from storage.models import Course

ACTION = "course_edit"
PREFIX = "courseedit."
VALUE, STARTS, ENDS, SESSIONS = (PREFIX + s for s in ("value", "starts", "ends", "sessions"))
STEPS = (VALUE, STARTS, ENDS, SESSIONS)
EDIT_TTL = timedelta(hours=1)
# The fields answered with a choice, and the kind of choice (actions.ORG_EDIT_CHOICE) each
# one offers; the category may be typed too, as in /newcourse.
CHOICES = {Field.CATEGORY: "cat", Field.GRANTS: "g", Field.APPROVAL: "a"}


def _labels(t: Translator) -> list[tuple[Field, str]]:
    _ = t.gettext
    return [
        (Field.TITLE, _("Title")),
        (Field.WHEN, _("Dates and sessions")),
        (Field.WHERE, _("Place or link")),
        (Field.CAPACITY, _("Capacity")),
        (Field.DEADLINE, _("Registration deadline")),
        (Field.CATEGORY, _("Kind of training")),
        (Field.AUDIENCE, _("Who may register")),
        (Field.HOURS, _("Training hours")),
        (Field.GRANTS, _("What completing grants")),
        (Field.APPROVAL, _("Unit head's approval")),
    ]


def _choices(t: Translator, course_id: int, kind: str, grants_kind: str | None = None
             ) -> list[Choice]:  # fmt: skip
    return [
        Choice(text, cb.build(cb.ORG_EDIT_CHOICE, f"{course_id}:{kind}:{code}"))
        for code, text in choice_options(t, kind, grants_kind)
    ]


def _owe(ctx: Ctx, step: str, data: dict[str, Any]) -> None:
    ctx.dialogs.owe(ctx.chat_id, step, ctx.now, data, ttl=EDIT_TTL)


async def _view(ctx: Ctx, course_id: int) -> AdminView | Refused:
    async def view(session: AsyncSession, scope: Scope) -> AdminView:
        return await course_admin.admin_view(
            session, person_id=scope.person_id, course_id=course_id
        )

    return await guarded(ctx, ACTION, view, words=organizer_refusal)


async def menu(ctx: Ctx, arg: str) -> list[Say]:
    """Offer the fields an organizer can change."""
    view = await _view(ctx, int(arg))
    if isinstance(view, Refused):
        return view.shown()
    _, course_id = ctx._, view.course.id
    choices = [
        Choice(text, cb.build(cb.ORG_EDIT_FIELD, f"{course_id}:{key}"), joined=i % 2 == 1)
        for i, (key, text) in enumerate(_labels(ctx.t))
    ]
    choices.append(Choice(_("« Back"), cb.build(cb.ORG_COURSE, course_id)))
    text = _("What do you want to change in <b>%(title)s</b>?") % {
        "title": escape(view.course.title)
    }
    return [Say(text, choices, edit=True)]


def _prompt(t: Translator, c: Course, field: Field) -> Say:
    """The current value and the question (the one /newcourse asks, for a detail)."""
    _ = t.gettext
    plain = {
        Field.TITLE: _("Now: %(now)s\nType the new title.") % {"now": escape(c.title)},
        Field.WHEN: _("Now: %(now)s\nType the new start, like 05/12/2026 07:30.")
        % {"now": f"{t.datetime(c.starts_at)} – {t.datetime(c.ends_at)}"},
        Field.WHERE: _("Now: %(now)s\nType the new place, an https:// link, or both.")
        % {"now": escape(" · ".join(x for x in (c.place, c.link) if x) or "—")},
        Field.CAPACITY: _("Now: %(now)s\nType the new number of seats.") % {"now": c.capacity},
        Field.DEADLINE: _(
            "Now: %(now)s\nType the new registration deadline, like 01/12/2026 17:00."
        )
        % {"now": t.datetime(c.registration_deadline)},
    }
    stop = "\n" + _("/cancel to stop.")
    if field in plain:
        return Say(plain[field] + stop)
    grants = label(t, c.grants_kind) or _("Only the training hours")
    now = {
        Field.CATEGORY: label(t, c.category),
        Field.AUDIENCE: escape(audience_text(t, c.audience)),
        Field.HOURS: str(c.hours),
        Field.GRANTS: f"{grants} ({label(t, c.grants_level)})" if c.grants_level else grants,
        Field.APPROVAL: _("✅ Registration needs the unit head's approval.")
        if c.requires_approval
        else _("Registration needs no approval."),
    }
    questions = {
        Field.CATEGORY: _("Which kind of training is it?"),
        Field.AUDIENCE: _(
            "Who may register? Type all, or unit codes, positions or groups (leaders, civil "
            "servants, mass organisations, part-time), separated by commas."
        ),
        Field.HOURS: _("How many training hours does it count for? (0 if none)"),
        Field.GRANTS: _("What does completing it grant?"),
        Field.APPROVAL: _("Does registration need the unit head's approval?"),
    }
    kind = CHOICES.get(field)
    choices = _choices(t, c.id, kind) if kind else []
    text = _("Now: %(now)s") % {"now": now[field]} + "\n" + questions[field]
    return Say(text + stop, choices)


async def start(ctx: Ctx, arg: str) -> list[Say]:
    """Ask for the new value of the chosen field, showing the current one."""
    course_id, _sep, key = arg.partition(":")
    field = Field(key)
    view = await _view(ctx, int(course_id))
    if isinstance(view, Refused):
        return view.shown()
    c = view.course
    data = {"course_id": c.id, "field": field.value,
            "starts": c.starts_at.isoformat(), "ends": c.ends_at.isoformat()}  # fmt: skip
    _owe(ctx, STARTS if field == Field.WHEN else VALUE, data)
    return [_prompt(ctx.t, c, field)]


def _edit(data: dict[str, Any], text: str, now: datetime, *, tz: ZoneInfo) -> Edit:
    field = Field(data["field"])
    if field == Field.TITLE:
        return Edit(field, title=d.parse_title(text))
    if field == Field.WHERE:
        return Edit(field, where=d.parse_where(text))
    if field == Field.CAPACITY:
        return Edit(field, capacity=d.parse_count(text, minimum=1))
    if field == Field.CATEGORY:
        return Edit(field, category=d.parse_category(text))
    if field == Field.HOURS:
        return Edit(field, hours=d.parse_hours(text))
    starts, ends = (datetime.fromisoformat(data[k]) for k in ("starts", "ends"))
    return Edit(field, deadline=d.parse_deadline(text, starts=starts, ends=ends, now=now, tz=tz))


def _saved(ctx: Ctx, field: Field, changed: Changed, view: AdminView) -> list[Say]:
    """What the edit did, and the card as it is now."""
    _ = ctx._
    text = _("✅ Saved.")
    if changed.registered:
        text += " " + ctx.t.ngettext(
            "%(n)d request waiting for approval no longer needs it and is now registered; "
            "the person will be told.",
            "%(n)d requests waiting for approval no longer need it and are now registered; "
            "the people will be told.",
            changed.registered,
        ) % {"n": changed.registered}
    elif field in (Field.AUDIENCE, Field.APPROVAL):
        text += " " + _("Registrations made before this change stay as they are.")
    if field in (Field.HOURS, Field.GRANTS):
        text += " " + _(
            "Training records already written stay as they are; completions recorded from "
            "now on follow the new value."
        )
    if changed.notified:
        text += " " + _("%(n)d registered or waitlisted people will be told.") % {
            "n": changed.notified
        }
    if changed.promoted:
        text += " " + _("%(n)d people from the waitlist got a seat.") % {"n": changed.promoted}
    if changed.notified or changed.promoted or changed.registered:
        ctx.wake()
    card = admin_card(ctx.t, view)
    return [Say(text + "\n\n" + card, admin_choices(ctx.t, view.course))]


async def _apply(
    ctx: Ctx, step: str, data: dict[str, Any], edit: Edit | str, *, typed: bool
) -> list[Say]:
    """Save the edit (or the one `edit`, typed text, makes) in one guarded transaction; a
    value the course cannot take asks again."""

    async def call(session: AsyncSession, scope: Scope) -> tuple[Changed, AdminView]:
        if isinstance(edit, Edit):
            change = edit
        elif data["field"] == Field.AUDIENCE:
            change = Edit(Field.AUDIENCE, audience=await d.parse_audience(session, edit))
        else:
            change = _edit(data, edit, ctx.now, tz=ctx.settings.tz)
        changed = await course_admin.edit_course(session, person_id=scope.person_id,
                                                 course_id=int(data["course_id"]), edit=change,
                                                 now=ctx.now,
                                                 policy=ctx.settings.reminder_policy())  # fmt: skip
        view = await course_admin.admin_view(
            session, person_id=scope.person_id, course_id=changed.course.id
        )
        return changed, view

    done = await guarded(ctx, ACTION, call, words=organizer_refusal)
    if isinstance(done, Refused):
        if not done.forbidden:
            _owe(ctx, step, data)
        return done.said() if typed else done.shown()
    ctx.expect(None)
    return _saved(ctx, Field(data["field"]), *done)


async def value(ctx: Ctx, step: str, data: dict[str, Any], text: str) -> list[Say]:
    """Take the typed new value of any field but the dates and save it."""
    field = Field(data["field"])
    if field in (Field.GRANTS, Field.APPROVAL):
        _owe(ctx, step, data)
        kind = "l" if data.get("grants_kind") else CHOICES[field]
        choices = _choices(ctx.t, int(data["course_id"]), kind, data.get("grants_kind"))
        return [Say(ctx._("Please choose with the buttons above, or /cancel."), choices)]
    return await _apply(ctx, step, data, text, typed=True)


async def when(ctx: Ctx, step: str, data: dict[str, Any], text: str) -> list[Say]:
    """Take the new start, then the end, then the sessions; save after the last."""
    _ = ctx._

    async def parse(session: AsyncSession, scope: Scope) -> list[d.Span] | None:
        if step == STARTS:
            data["new_starts"] = d.parse_moment(text, now=ctx.now, tz=ctx.settings.tz).isoformat()
            return None
        starts = datetime.fromisoformat(data["new_starts"])
        if step == ENDS:
            ends = d.parse_end(text, starts=starts, now=ctx.now, tz=ctx.settings.tz)
            data["new_ends"] = ends.isoformat()
            return None
        ends = datetime.fromisoformat(data["new_ends"])
        return d.parse_sessions(text, starts=starts, ends=ends, tz=ctx.settings.tz)

    spans = await guarded(ctx, ACTION, parse)
    if isinstance(spans, Refused):
        if not spans.forbidden:
            _owe(ctx, step, data)
        return spans.said()
    if step == STARTS:
        _owe(ctx, ENDS, data)
        return [Say(_("Type the new end, like 06/12/2026 17:00."))]
    if step == ENDS:
        _owe(ctx, SESSIONS, data)
        return [Say(_("Type the sessions, one per line, like 05/12/2026 07:30-11:30, "
                      "or - if the course is one block."))]  # fmt: skip
    assert spans is not None
    moments = (datetime.fromisoformat(data["new_starts"]), datetime.fromisoformat(data["new_ends"]))
    return await _apply(ctx, step, data, Edit(Field.WHEN, when=(*moments, spans)), typed=True)


def _chosen(data: dict[str, Any], kind: str, code: str) -> Edit | None:
    """The edit a picked choice makes (its value is checked again when saved); None when the
    chosen qualification has levels, to be asked next."""
    if kind == "cat":
        return Edit(Field.CATEGORY, category=code)
    if kind == "g" and code in d.GRANTABLE and level_vocab(code):
        data["grants_kind"] = code
        return None
    if kind == "g":
        return Edit(Field.GRANTS, grants=(None if code == "-" else code, None))
    if kind == "l":
        return Edit(Field.GRANTS, grants=(data["grants_kind"], code))
    if code not in ("yes", "no"):
        raise Invalid(Problem.EMPTY, code)
    return Edit(Field.APPROVAL, approval=code == "yes")


async def choose(ctx: Ctx, arg: str) -> list[Say]:
    """Take a picked choice (category, what completing grants, its level, approval) of the
    course being edited; a choice of another course or step is refused."""
    gate = await allowed(ctx, ACTION)
    if isinstance(gate, Refused):
        return gate.shown()
    stale = [Say(alert=ctx._("This button is no longer valid."))]
    owed = ctx.step(PREFIX)
    if owed is None:
        return stale
    step, data = owed
    course_id, kind, code = arg.split(":")
    # The field's own choice; once a qualification with levels was picked, its level too.
    field = Field(data["field"])
    expected = {CHOICES.get(field), "l" if data.get("grants_kind") else None}
    try:
        if int(course_id) != data["course_id"] or kind not in expected:
            raise Invalid(Problem.EMPTY, code)
        edit = _chosen(data, kind, code)
    except Invalid:
        _owe(ctx, step, owed[1])  # still owed: a choice of another course or step
        return stale
    if edit is not None:
        return await _apply(ctx, step, data, edit, typed=False)
    _owe(ctx, step, data)
    choices = _choices(ctx.t, int(course_id), "l", data["grants_kind"])
    return [Say(ctx._("Which level?"), choices)]


def cancelled(ctx: Ctx) -> list[Say]:
    return [Say(ctx._("OK, nothing changed."))]
