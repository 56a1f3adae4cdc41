"""/nominate: a unit head (or organizer) picks a course, then people of their units who miss
what it gives (page by page, filtered by the gap the course closes or by unit), how long
seats are held, and sends. The nominees confirm or decline (handlers/nominations.py).

The draft (course, people picked, page, filters, hold) is kept in the chat's dialog row
(handlers/dialog.py `Dialogs.keep`), so picking continues after a restart or on another
worker, on either channel; the role is checked again at every step (handlers/guard.py).
"""

from __future__ import annotations

from html import escape
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from domain import nominations, roles
from domain.nominations import Candidate, Nominating
from handlers import actions as cb
from handlers.core import Choice, Ctx, Say
from handlers.guard import Refused, guarded
from handlers.render import rule_title, short
from storage.models import Role

DRAFT = "nominate"  # kept: {"course": id, "picked": [ids], "page": n, "hold": h, "gap", "unit"}
ACTION = "nominate"  # how a refusal is audited
PER_PAGE = 8
MAX_UNIT_CHOICES = 8  # more units than this: the list is long enough to page through
HOLDS = (24, 72, 168, 0)  # hours a nominee's seat may be held; 0 = until registration closes


def _draft(ctx: Ctx) -> dict[str, Any] | None:
    draft = ctx.dialog.kept.get(DRAFT)
    return dict(draft, picked=list(draft["picked"])) if isinstance(draft, dict) else None


def _keep(ctx: Ctx, draft: dict[str, Any]) -> None:
    ctx.dialogs.keep(ctx.chat_id, ctx.now, **{DRAFT: draft})


def _start_again(ctx: Ctx) -> list[Say]:
    return [Say(alert=ctx._("Please start again with /nominate."))]


# -- /nominate ----------------------------------------------------------------------------------


async def start(ctx: Ctx, arg: str) -> list[Say]:
    """/nominate: list open courses that would close a gap of someone in your units."""

    async def listing(session: AsyncSession, scope: roles.Scope) -> list[nominations.Choice]:
        return await nominations.courses_to_nominate(
            session, actor_id=ctx.person_id, now=ctx.now,
            hours_target=ctx.settings.annual_hours_target,
        )  # fmt: skip

    choices = await guarded(ctx, ACTION, listing, role=Role.UNIT_HEAD)
    if isinstance(choices, Refused):
        return choices.shown()
    _ = ctx._
    if not choices:
        return [Say(_("No open course would close a gap of anyone in your units."))]
    lines = [_("<b>Nominate people</b>: pick a course.")]
    for c in choices:
        lines.append(
            f"• <b>{escape(c.course.title)}</b> ({ctx.t.local_date(c.course.starts_at)}): "
            + _("%(standard)d miss the standard it grants, %(hours)d need only training "
                "hours, %(left)d seats left")
            % {"standard": c.missing_standard, "hours": c.candidates - c.missing_standard,
               "left": c.seats_left}
        )  # fmt: skip
    picks = [Choice(short(c.course.title), cb.build(cb.NOM_COURSE, c.course.id),
                    aliases=(c.course.title,)) for c in choices]  # fmt: skip
    return [Say("\n".join(lines), picks)]


async def pick_course(ctx: Ctx, arg: str) -> list[Say]:
    """Start picking people for the chosen course."""
    draft = {"course": int(arg), "picked": [], "page": 0, "hold": None, "gap": 0, "unit": 0}
    return await _show(ctx, draft)


async def toggle(ctx: Ctx, arg: str) -> list[Say]:
    """Pick or unpick one person."""
    if (draft := _draft(ctx)) is None:
        return _start_again(ctx)
    person_id, picked = int(arg), draft["picked"]
    if person_id in picked:
        picked.remove(person_id)
    else:
        picked.append(person_id)
    return await _show(ctx, draft)


async def by_gap(ctx: Ctx, arg: str) -> list[Say]:
    """Show only people missing the standard the course grants (1), only hours (2), all (0)."""
    return await _filter(ctx, "gap", int(arg))


async def by_unit(ctx: Ctx, arg: str) -> list[Say]:
    """Show only the people of one unit (0: every unit)."""
    return await _filter(ctx, "unit", int(arg))


async def _filter(ctx: Ctx, key: str, value: int) -> list[Say]:
    if (draft := _draft(ctx)) is None:
        return _start_again(ctx)
    draft[key], draft["page"] = value, 0
    return await _show(ctx, draft)


async def turn_page(ctx: Ctx, arg: str) -> list[Say]:
    """Show another page of people (or go back to the list from the summary)."""
    if (draft := _draft(ctx)) is None:
        return _start_again(ctx)
    draft["page"] = int(arg)
    return await _show(ctx, draft)


async def review(ctx: Ctx, arg: str) -> list[Say]:
    """Show whom you are about to nominate and how long seats are held."""
    if (draft := _draft(ctx)) is None:
        return _start_again(ctx)
    return await _show(ctx, draft, review=True)


async def hold(ctx: Ctx, arg: str) -> list[Say]:
    """Choose how long nominees' seats are held."""
    if (draft := _draft(ctx)) is None:
        return _start_again(ctx)
    if int(arg) in HOLDS:
        draft["hold"] = int(arg)
    return await _show(ctx, draft, review=True)


async def send(ctx: Ctx, arg: str) -> list[Say]:
    """Nominate the picked people: seats held, each asked to confirm, all audited."""
    if (draft := _draft(ctx)) is None:
        return _start_again(ctx)

    async def nominate(session: AsyncSession, scope: roles.Scope) -> nominations.Nominated:
        return await nominations.nominate(
            session, actor_id=ctx.person_id, course_id=draft["course"],
            person_ids=draft["picked"], hold_hours=draft.get("hold"), now=ctx.now,
            hours_target=ctx.settings.annual_hours_target,
        )  # fmt: skip

    done = await guarded(ctx, ACTION, nominate, role=Role.UNIT_HEAD)
    if isinstance(done, Refused):
        return done.shown()
    ctx.dialog.kept.pop(DRAFT, None)  # sent: a replayed choice starts again
    ctx.wake()
    return [Say(_sent_text(ctx, done), edit=True)]


# -- rendering ----------------------------------------------------------------------------------


async def _show(ctx: Ctx, draft: dict[str, Any], *, review: bool = False) -> list[Say]:
    """The picking list (or the summary) of the course being nominated for; keeps the draft."""

    async def view(session: AsyncSession, scope: roles.Scope) -> Nominating:
        return await nominations.nominating(
            session, actor_id=ctx.person_id, course_id=draft["course"], now=ctx.now,
            hours_target=ctx.settings.annual_hours_target,
        )  # fmt: skip

    seen = await guarded(ctx, ACTION, view, role=Role.UNIT_HEAD)
    if isinstance(seen, Refused):
        return seen.shown()
    known = {c.person_id for c in seen.candidates}
    draft["picked"] = [p for p in draft["picked"] if p in known]
    if review and draft["picked"]:
        text, choices = _review(ctx, seen, draft)
    else:
        text, choices = _people_page(ctx, seen, draft)
    _keep(ctx, draft)
    return [Say(text, choices, edit=True)]


def _filtered(people: list[Candidate], draft: dict[str, Any]) -> list[Candidate]:
    """The candidates the filters leave: by the gap the course closes, by unit."""
    gap, unit = draft.get("gap", 0), draft.get("unit", 0)
    return [
        c for c in people
        if (gap == 0 or c.hours_only == (gap == 2)) and (unit == 0 or c.unit_id == unit)
    ]  # fmt: skip


def _people_page(ctx: Ctx, view: Nominating, draft: dict[str, Any]) -> tuple[str, list[Choice]]:
    _ = ctx._
    people, picked = _filtered(view.candidates, draft), set(draft["picked"])
    pages = max((len(people) + PER_PAGE - 1) // PER_PAGE, 1)
    page = draft["page"] = min(max(draft["page"], 0), pages - 1)
    chunk = people[page * PER_PAGE : (page + 1) * PER_PAGE]
    lines = [
        _("<b>%(title)s</b>: %(left)d seats left. Picked: %(n)d.")
        % {"title": escape(view.course.title), "left": view.seats_left, "n": len(picked)},
        _("People of your units who miss what it gives:"),
    ]
    if not view.candidates:
        lines[1] = _("Nobody in your units misses what this course gives.")
    elif not people:
        lines[1] = _("Nobody matches this filter.")
    choices = _filter_choices(ctx, view.candidates, draft)
    for c in chunk:
        gaps = ", ".join(rule_title(ctx.t, g) for g in c.gaps)
        mark = "✅" if c.person_id in picked else "⬜"
        if ctx.buttons:  # the text tells the gaps; the buttons hold the names
            lines.append(f"• {escape(c.full_name)} ({escape(c.unit_name)}): {escape(gaps)}")
            label = short(f"{mark} {c.full_name} · {c.unit_name}")
        else:  # each numbered line is a person with their gaps, picked by number or name
            label = f"{mark} {c.full_name} · {c.unit_name}: {gaps}"
        choices.append(Choice(label, cb.build(cb.NOM_TOGGLE, c.person_id),
                              aliases=(c.full_name,)))  # fmt: skip
    if page > 0:
        choices.append(Choice(ctx._("◀️ Previous page") if not ctx.buttons else "◀️",
                              cb.build(cb.NOM_PAGE, page - 1)))  # fmt: skip
    if page + 1 < pages:
        choices.append(Choice(ctx._("▶️ Next page") if not ctx.buttons else "▶️",
                              cb.build(cb.NOM_PAGE, page + 1), joined=page > 0))  # fmt: skip
    if picked:
        choices.append(Choice(_("Next »"), cb.build(cb.NOM_REVIEW)))
    return "\n".join(lines), choices


def _filter_choices(ctx: Ctx, people: list[Candidate], draft: dict[str, Any]) -> list[Choice]:
    """Filters: who misses the standard the course grants or only hours, and, when the people
    come from a few units, one per unit; the active filter is marked."""
    _ = ctx._
    if not people:
        return []
    standard = sum(1 for c in people if not c.hours_only)
    gap = draft.get("gap", 0)
    gaps = [(0, _("All (%(n)d)") % {"n": len(people)}),
            (1, _("Missing the standard (%(n)d)") % {"n": standard}),
            (2, _("Hours only (%(n)d)") % {"n": len(people) - standard})]  # fmt: skip
    choices = [Choice(("• " if g == gap else "") + label, cb.build(cb.NOM_GAP, g), joined=g > 0)
               for g, label in gaps]  # fmt: skip
    units = list(dict.fromkeys((c.unit_id, c.unit_name) for c in people))
    if 1 < len(units) <= MAX_UNIT_CHOICES:
        unit = draft.get("unit", 0)
        named = [(0, _("Every unit"))] + [(uid, short(name, 24)) for uid, name in units]
        choices += [Choice(("• " if unit == uid else "") + name, cb.build(cb.NOM_UNIT, uid),
                           joined=i % 3 > 0)
                    for i, (uid, name) in enumerate(named)]  # fmt: skip
    return choices


def _review(ctx: Ctx, view: Nominating, draft: dict[str, Any]) -> tuple[str, list[Choice]]:
    _ = ctx._
    picked = set(draft["picked"])
    names = [c.full_name for c in view.candidates if c.person_id in picked]
    until = nominations.hold_until(view.course, ctx.now, draft.get("hold"))
    text = ctx.t.ngettext(
        "Nominate %(n)d person for <b>%(title)s</b>?",
        "Nominate %(n)d people for <b>%(title)s</b>?",
        len(names),
    ) % {"n": len(names), "title": escape(view.course.title)}
    text += "\n" + escape(", ".join(names))
    text += "\n\n" + _("Seats are held until %(until)s for them to confirm.") % {
        "until": ctx.t.datetime(until)
    }
    labels = {24: _("1 day"), 72: _("3 days"), 168: _("7 days"), 0: _("until registration closes")}
    choices = [Choice(labels[h], cb.build(cb.NOM_HOLD, h), joined=i % 2 == 1)
               for i, h in enumerate(HOLDS)]  # fmt: skip
    choices += [
        Choice(_("✅ Nominate"), cb.build(cb.NOM_SEND)),
        Choice(_("« Back"), cb.build(cb.NOM_PAGE, draft["page"])),
    ]
    return text, choices


def _sent_text(ctx: Ctx, done: nominations.Nominated) -> str:
    t = ctx.t
    text = t.ngettext(
        "📨 %(n)d person nominated for <b>%(title)s</b>; seats held until %(until)s.",
        "📨 %(n)d people nominated for <b>%(title)s</b>; seats held until %(until)s.",
        len(done.nominated),
    ) % {
        "n": len(done.nominated),
        "title": escape(done.course.title),
        "until": t.datetime(done.hold_until),
    }
    if done.no_seat:
        text += "\n" + t.gettext("No seat was left for %(n)d of them.") % {"n": done.no_seat}
    if done.not_eligible:
        text += "\n" + t.gettext(
            "%(n)d could no longer be nominated (registered meanwhile or no longer missing it)."
        ) % {"n": done.not_eligible}
    return text
