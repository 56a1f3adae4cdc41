"""/help: what the bot does and how to ask for it on this channel."""

from __future__ import annotations

from domain import roles
from handlers.core import APPS, Ctx, Menu, Say
from handlers.flows import not_linked
from handlers.other_app import OTHER
from storage.db import reading
from storage.models import Role


async def help_(ctx: Ctx, arg: str) -> list[Say]:
    """Explain what the bot does and how to use it; role holders also get their commands."""
    _ = ctx._
    lines = [_("<b>How to use this bot</b>")]
    if ctx.buttons:  # the menu's buttons and the /commands
        lines.append(_(
            "📋 <b>My standards</b> (/status): which standards of your position you meet, and "
            "courses that close the gaps.\n"
            "📚 <b>Courses</b> (/courses): open courses you can join. You can also just type "
            "words from a course title, with or without accents, e.g. <i>boi duong chinh tri</i>.\n"
            "🗓 <b>My registrations</b> (/my): your courses, waitlist places and yearly hours.\n"
            "/language: Tiếng Việt / English. /privacy: what we store about you."
        ))  # fmt: skip
        lines.append(_(
            "🔔 /reminders: choose which reminders you get. At night only urgent changes to a "
            "course about to start are sent."
        ))  # fmt: skip
    else:  # numbered choices, and words typed at any time
        lines.append(_(
            "Reply with the number of a choice, or type its name, with or without accents. "
            "You can also type these words at any time:\n"
            "• <b>status</b>: which standards of your position you meet, and courses that close "
            "the gaps;\n"
            "• <b>courses</b>: open courses you can join; or type words from a course title, "
            "e.g. <i>boi duong chinh tri</i>;\n"
            "• <b>my</b>: your courses, waitlist places and yearly hours;\n"
            "• <b>reminders</b>: which reminders you get (at night only urgent changes to a "
            "course about to start);\n"
            "• <b>language</b>: Tiếng Việt / English;\n"
            "• <b>privacy</b>: what is stored about you, and unlinking this account;\n"
            "• <b>help</b>: this message."
        ))  # fmt: skip
    lines.append(
        _("• <b>diem danh</b> and the code shown in the room: check in at a course session.")
    )
    other = OTHER.get(ctx.channel)
    if other is not None:
        lines.append(
            _("📱 /%(command)s: a code to use this bot on %(app)s too.")
            % {"command": other, "app": APPS[other]}
        )
    text = (
        "\n".join(lines)
        + "\n\n"
        + _("Problems with your record? Contact your unit's personnel officer.")
    )
    text += await _organizers(ctx)
    if ctx.person_id is None and not ctx.contact:  # how to link, where no button shows it
        return [Say(text), *not_linked(ctx)]
    return [Say(text, menu=Menu.MAIN if ctx.person_id is not None else Menu.CONTACT)]


async def _organizers(ctx: Ctx) -> str:
    """The commands of the roles the person holds, where the organizers' flows run (their
    multi-step screens still need buttons)."""
    if ctx.person_id is None or not ctx.buttons:
        return ""
    async with reading(ctx.db) as session:
        grants = await roles.grants_of(session, ctx.person_id)
    if not grants:  # only people with a role see what organizers can do
        return ""
    _ = ctx._
    text = "\n\n" + _(
        "<b>For organizers</b>\n"
        "/organize: your courses (edit, close, cancel, registrants) · /newcourse · "
        "/nominate: send people to a course · /broadcast: message an audience · "
        "/attendance and /complete · /noshows · /claims: record claims to review · "
        "/report: figures for your units"
    )
    if any(g.role == Role.ADMIN for g in grants):
        text += "\n" + _("/grant, /revoke: roles · /audit: the audit log")
    return text
