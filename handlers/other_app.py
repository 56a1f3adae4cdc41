"""/zalo on Telegram, /telegram on Zalo: a one-time code that links the person's other chat app."""

from __future__ import annotations

from datetime import timedelta

from domain.linking import code_for_person
from handlers.core import Ctx, Say
from handlers.flows import not_linked

OTHER = {"telegram": "zalo", "zalo": "telegram"}  # a channel → the command of the other app


async def code(ctx: Ctx, arg: str) -> list[Say]:
    """Show a one-time code to send to this bot in the other app."""
    if ctx.person_id is None:
        return not_linked(ctx)
    async with ctx.db.begin() as session:
        made = await code_for_person(
            session,
            person_id=ctx.person_id,
            now=ctx.now,
            ttl=timedelta(hours=ctx.settings.link_code_ttl_hours),
        )
    if made is None:  # the person left the roster since the chat was linked
        return not_linked(ctx)
    text = ctx._(
        "Your one-time code: <b>%(code)s</b> (valid until %(time)s). In the other app, send "
        "it to this bot: on Telegram type <code>/start %(code)s</code>, on Zalo type the code."
    ) % {"code": made[0], "time": ctx.t.datetime(made[1])}
    return [Say(text)]
