"""/reminders: which kinds of reminders a person gets and, with two apps linked, where to.

Each category is switched with a choice; the "turn these reminders off" choice under a
reminder (schedules/) turns its category off at once.
"""

from __future__ import annotations

from domain import channels, reminders
from handlers import actions as cb
from handlers.core import APPS, Choice, Ctx, Say
from handlers.flows import not_linked
from handlers.render import category_label


async def show(ctx: Ctx, arg: str) -> list[Say]:
    """Show each category of reminders with a choice to switch it."""
    return await _settings(ctx, edit=False)


async def toggle(ctx: Ctx, arg: str) -> list[Say]:
    """Switch one category and show the settings again, in place of the pressed message."""
    if ctx.person_id is None:
        return not_linked(ctx)
    if arg in reminders.CATEGORIES:
        async with ctx.db.begin() as session:
            on = arg in await reminders.opted_out(session, ctx.person_id)
            await reminders.set_category(session, person_id=ctx.person_id, category=arg, on=on)
    return await _settings(ctx, edit=True)


async def turn_off(ctx: Ctx, arg: str) -> list[Say]:
    """Turn off the category of the reminder whose choice was picked."""
    if ctx.person_id is None:
        return not_linked(ctx)
    if arg not in reminders.CATEGORIES:
        return await _settings(ctx, edit=False)
    async with ctx.db.begin() as session:
        await reminders.set_category(session, person_id=ctx.person_id, category=arg, on=False)
    text = ctx._("🔕 No more of these: %(name)s. /reminders turns them back on.") % {
        "name": category_label(ctx.t, arg)
    }
    return [Say(text)]


async def choose_channel(ctx: Ctx, arg: str) -> list[Say]:
    """Send reminders to one linked app, or to the one used last."""
    if ctx.person_id is None:
        return not_linked(ctx)
    async with ctx.db.begin() as session:
        if arg == "last" or arg in await channels.linked_channels(session, ctx.person_id):
            channel = None if arg == "last" else arg
            await channels.set_preferred_channel(session, person_id=ctx.person_id, channel=channel)
    return await _settings(ctx, edit=True)


async def _settings(ctx: Ctx, *, edit: bool) -> list[Say]:
    if ctx.person_id is None:
        return not_linked(ctx)
    async with ctx.db.begin() as session:
        off = await reminders.opted_out(session, ctx.person_id)
        linked = await channels.linked_channels(session, ctx.person_id)
        preferred = await channels.preferred_channel(session, ctx.person_id)
    _ = ctx._
    lines = [_("<b>Your reminders</b>")]
    choices = []
    for category in reminders.CATEGORIES:
        on = category not in off
        name = category_label(ctx.t, category)
        state = _("🔔 %(name)s: on") if on else _("🔕 %(name)s: off")
        lines.append(state % {"name": name})
        action = _("Turn off: %(name)s") if on else _("Turn on: %(name)s")
        choices.append(Choice(action % {"name": name}, cb.build(cb.REMINDER_TOGGLE, category)))
    lines.append(
        _("Notices that a course changed or was cancelled, or that you got a seat, always come.")
    )
    if len(linked) > 1:
        where = APPS.get(preferred or "", _("the app you used last"))
        lines.append(_("Reminders are sent to: %(where)s.") % {"where": where})
        for channel in linked:
            if channel != preferred:
                label = _("Send reminders to %(app)s") % {"app": APPS.get(channel, channel)}
                choices.append(Choice(label, cb.build(cb.REMINDER_VIA, channel)))
        if preferred is not None:
            last = _("Send reminders to the app I used last")
            choices.append(Choice(last, cb.build(cb.REMINDER_VIA, "last")))
    return [Say("\n".join(lines), choices, edit=edit)]
