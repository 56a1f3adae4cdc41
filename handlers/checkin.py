"""/checkin CODE (or "điểm danh CODE"): present at the session whose code the organizer shows."""

from __future__ import annotations

from domain import attendance
from handlers.core import Ctx, Menu, Say
from handlers.flows import not_linked
from handlers.render import checkin_text


async def checkin(ctx: Ctx, arg: str) -> list[Say]:
    """Mark the person present at the session of the code, typed with or without spaces."""
    if ctx.person_id is None:
        return not_linked(ctx)
    code = "".join(arg.split())
    if not code:
        if ctx.buttons:  # a /commands menu: commands start with a slash
            return [Say(ctx._("Send /checkin followed by the code shown in the room."))]
        return [Say(ctx._("Type “điểm danh” followed by the code shown in the room."))]
    async with ctx.db.begin() as session:
        result = await attendance.checkin(session, person_id=ctx.person_id, code=code, now=ctx.now)
    return [Say(checkin_text(ctx.t, result), menu=Menu.MAIN)]
