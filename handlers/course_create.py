"""/newcourse: an organizer creates a course one answer at a time, sees a preview, confirms.

Each answer is checked as it comes (with a message in the person's language when it cannot
be used) and every step, typed or picked, passes the organizer gate again (handlers/guard.py).
The draft so far is the data of the step the chat owes, `newcourse.<step>`: a row of the
dialogs table, so a restart (or another worker) continues at the same question.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from domain import course_admin
from domain import course_draft as d
from domain.course_draft import Draft, Where
from domain.roles import Scope
from domain.vocab import COURSE_CATEGORY, level_vocab
from handlers import actions as cb
from handlers.core import Choice, Ctx, Say
from handlers.guard import Refused, allowed, guarded
from handlers.organizer import admin_card, admin_choices, choice_options, course_facts
from locales import Translator

ACTION = "course_create"
PREFIX = "newcourse."
# An organizer called away for the afternoon finds the draft where they left it.
DRAFT_TTL = timedelta(hours=24)
ORDER = ("title", "category", "starts", "ends", "sessions", "where", "capacity", "deadline",
         "audience", "hours", "grants", "level", "approval")  # fmt: skip
PREVIEW = "preview"
STEPS = tuple(PREFIX + step for step in (*ORDER, PREVIEW))
# The steps answered with a choice, and their kind of choice (handlers.organizer.choice_options);
# the category may be typed too.
CHOICES = {"category": "cat", "grants": "g", "level": "l", "approval": "a"}
PICKED_ONLY = ("grants", "level", "approval", PREVIEW)


def _question(t: Translator, step: str) -> str:
    _ = t.gettext
    return {
        "title": _("What is the course's title?"),
        "category": _("Which kind of training is it?"),
        "starts": _("When does it start? Type the date and time like 05/12/2026 07:30."),
        "ends": _("When does it end? Type the date and time like 06/12/2026 17:00."),
        "sessions": _(
            "Its sessions, one per line, like 05/12/2026 07:30-11:30. "
            "Type - if the course is one block."
        ),
        "where": _("Where does it take place? Type the place, an https:// link, or both."),
        "capacity": _("How many seats?"),
        "deadline": _(
            "Registration deadline, like 01/12/2026 17:00? Type - for until the start."
        ),
        "audience": _(
            "Who may register? Type all, or unit codes, positions or groups (leaders, civil "
            "servants, mass organisations, part-time), separated by commas."
        ),
        "hours": _("How many training hours does it count for? (0 if none)"),
        "grants": _("What does completing it grant?"),
        "level": _("Which level?"),
        "approval": _("Does registration need the unit head's approval?"),
    }[step]


# -- the draft, as the step's data ---------------------------------------------------------------


def _at(value: datetime | None) -> datetime:
    assert value is not None
    return value


def dump(draft: Draft) -> dict[str, Any]:
    """The draft as JSON values, the data of the step the chat owes."""

    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value is not None else None

    return {
        "title": draft.title,
        "category": draft.category,
        "starts_at": iso(draft.starts_at),
        "ends_at": iso(draft.ends_at),
        "sessions": [[a.isoformat(), b.isoformat()] for a, b in draft.sessions],
        "place": draft.where.place,
        "link": draft.where.link,
        "capacity": draft.capacity,
        "deadline": iso(draft.registration_deadline),
        "audience": draft.audience,
        "hours": draft.hours,
        "grants_kind": draft.grants_kind,
        "grants_level": draft.grants_level,
        "requires_approval": draft.requires_approval,
    }


def load(data: dict[str, Any]) -> Draft:
    def moment(value: Any) -> datetime | None:
        return datetime.fromisoformat(value) if value else None

    return Draft(
        title=str(data.get("title", "")),
        category=str(data.get("category", "")),
        starts_at=moment(data.get("starts_at")),
        ends_at=moment(data.get("ends_at")),
        sessions=[(_at(moment(a)), _at(moment(b))) for a, b in data.get("sessions", [])],
        where=Where(data.get("place"), data.get("link")),
        capacity=int(data.get("capacity", 0)),
        registration_deadline=moment(data.get("deadline")),
        audience=dict(data.get("audience") or {}),
        hours=int(data.get("hours", 0)),
        grants_kind=data.get("grants_kind"),
        grants_level=data.get("grants_level"),
        requires_approval=bool(data.get("requires_approval")),
    )


Parser = Callable[[Draft, str, datetime, ZoneInfo], None]  # draft, text, now, zone

PARSERS: dict[str, Parser] = {
    "title": lambda dr, s, now, tz: setattr(dr, "title", d.parse_title(s)),
    "category": lambda dr, s, now, tz: setattr(dr, "category", d.parse_category(s)),
    "starts": lambda dr, s, now, tz: setattr(dr, "starts_at", d.parse_moment(s, now=now, tz=tz)),
    "ends": lambda dr, s, now, tz: setattr(
        dr, "ends_at", d.parse_end(s, starts=_at(dr.starts_at), now=now, tz=tz)
    ),
    "sessions": lambda dr, s, now, tz: setattr(
        dr, "sessions", d.parse_sessions(s, starts=_at(dr.starts_at), ends=_at(dr.ends_at), tz=tz)
    ),
    "where": lambda dr, s, now, tz: setattr(dr, "where", d.parse_where(s)),
    "capacity": lambda dr, s, now, tz: setattr(dr, "capacity", d.parse_count(s, minimum=1)),
    "deadline": lambda dr, s, now, tz: setattr(
        dr,
        "registration_deadline",
        d.parse_deadline(s, starts=_at(dr.starts_at), ends=_at(dr.ends_at), now=now, tz=tz),
    ),
    "hours": lambda dr, s, now, tz: setattr(dr, "hours", d.parse_hours(s)),
}


# -- asking --------------------------------------------------------------------------------------


def _owe(ctx: Ctx, step: str, draft: Draft) -> None:
    # A pushed notice does not drop a half-typed course.
    ctx.dialogs.owe(
        ctx.chat_id, PREFIX + step, ctx.now, dump(draft), ttl=DRAFT_TTL, survives_push=True
    )


def _next(step: str, draft: Draft) -> str:
    if step == "grants":
        return "level" if level_vocab(draft.grants_kind or "") else "approval"
    if step == "approval":
        return PREVIEW
    return ORDER[ORDER.index(step) + 1]


def _choices(t: Translator, step: str, draft: Draft) -> list[Choice]:
    if step == PREVIEW:
        return [
            Choice(t.gettext("✅ Create the course"), cb.build(cb.NEW_CONFIRM)),
            Choice(t.gettext("Cancel"), cb.build(cb.NEW_ABORT), joined=True),
        ]
    kind = CHOICES.get(step)
    if kind is None:
        return []
    return [
        Choice(text, cb.build(cb.NEW_CHOICE, f"{kind}:{code}"))
        for code, text in choice_options(t, kind, draft.grants_kind)
    ]


def _ask(ctx: Ctx, step: str, draft: Draft) -> list[Say]:
    """Owe `step` and ask it, numbered so the organizer sees how far along they are."""
    _owe(ctx, step, draft)
    _ = ctx._
    if step == PREVIEW:
        facts = course_facts(ctx.t, course_admin.course_from(draft), sessions=len(draft.sessions))
        text = _("<b>Please check the new course:</b>") + "\n\n" + "\n".join(facts)
        return [Say(text, _choices(ctx.t, step, draft))]
    n = {"n": ORDER.index(step) + 1, "total": len(ORDER)}
    head = _("New course, step %(n)d of %(total)d") % n
    return [Say(f"<i>{head}</i>\n{_question(ctx.t, step)}", _choices(ctx.t, step, draft))]


def _stale(ctx: Ctx) -> list[Say]:
    return [Say(alert=ctx._("This button is no longer valid."))]


# -- the flows -----------------------------------------------------------------------------------


async def start(ctx: Ctx, arg: str) -> list[Say]:
    """Begin a new course: ask for its title."""
    gate = await allowed(ctx, ACTION)
    if isinstance(gate, Refused):
        return gate.shown()
    return _ask(ctx, ORDER[0], Draft())


async def typed(ctx: Ctx, step: str, data: dict[str, Any], text: str) -> list[Say]:
    """Take the answer typed at `step`: check it, keep it, ask the next question."""
    name, draft = step.removeprefix(PREFIX), load(data)
    if name in PICKED_ONLY:
        _owe(ctx, name, draft)
        please = ctx._("Please choose with the buttons above, or /cancel.")
        return [Say(please, _choices(ctx.t, name, draft))]

    async def parse(session: AsyncSession, scope: Scope) -> None:
        if name == "audience":
            draft.audience = await d.parse_audience(session, text)
        else:
            PARSERS[name](draft, text, ctx.now, ctx.settings.tz)

    done = await guarded(ctx, ACTION, parse)
    if isinstance(done, Refused):
        if not done.forbidden:
            _owe(ctx, name, draft)  # the same question again
        return done.said()
    return _ask(ctx, _next(name, draft), draft)


def _pick(draft: Draft, kind: str, code: str) -> bool:
    """Put a picked choice into the draft; False when it is not one of the choices."""
    if kind == "cat" and code in COURSE_CATEGORY:
        draft.category = code
    elif kind == "g" and (code == "-" or code in d.GRANTABLE):
        draft.grants_kind, draft.grants_level = (None if code == "-" else code), None
    elif kind == "l" and code in (level_vocab(draft.grants_kind or "") or ()):
        draft.grants_level = code
    elif kind == "a" and code in ("yes", "no"):
        draft.requires_approval = code == "yes"
    else:
        return False
    return True


async def choose(ctx: Ctx, arg: str) -> list[Say]:
    """Take a picked choice: category, what completing grants, level, approval."""
    gate = await allowed(ctx, ACTION)
    if isinstance(gate, Refused):
        return gate.shown()
    owed = ctx.step(PREFIX)
    if owed is None:
        return _stale(ctx)
    name, draft = owed[0].removeprefix(PREFIX), load(owed[1])
    kind, _sep, code = arg.partition(":")
    if CHOICES.get(name) != kind or not _pick(draft, kind, code):
        _owe(ctx, name, draft)  # a choice of another step: this one is still owed
        return _stale(ctx)
    return _ask(ctx, _next(name, draft), draft)


async def confirm(ctx: Ctx, arg: str) -> list[Say]:
    """Create the previewed course and show its admin card."""
    owed = ctx.step(PREFIX)
    if owed is None or owed[0] != PREFIX + PREVIEW:
        if owed is not None:  # a choice of another step: this one is still owed
            _owe(ctx, owed[0].removeprefix(PREFIX), load(owed[1]))
        gate = await allowed(ctx, ACTION)
        return gate.shown() if isinstance(gate, Refused) else _stale(ctx)
    draft = load(owed[1])

    async def create(session: AsyncSession, scope: Scope) -> course_admin.AdminView:
        return await course_admin.create_course(
            session, person_id=scope.person_id, draft=draft, now=ctx.now
        )

    view = await guarded(ctx, ACTION, create)
    if isinstance(view, Refused):
        if not view.forbidden:
            _owe(ctx, PREVIEW, draft)
        return view.shown()
    ctx.expect(None)
    text = ctx._("✅ Course created and open for registration:") + "\n\n"
    return [Say(text + admin_card(ctx.t, view), admin_choices(ctx.t, view.course), edit=True)]


def cancelled(ctx: Ctx) -> list[Say]:
    return [Say(ctx._("OK, no course was created."), edit=True)]


async def abort(ctx: Ctx, arg: str) -> list[Say]:
    """Drop the draft."""
    if (ctx.dialog.expect or "").startswith(PREFIX):
        ctx.expect(None)
    return cancelled(ctx)
