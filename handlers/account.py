"""Privacy on Zalo: what is stored about the person, and unlinking this Zalo account.

The counterpart of handlers/account.py: the same summary and the same domain calls, with the
Telegram buttons turned into numbered choices and a confirmation before unlinking.
"""

from __future__ import annotations

from domain import linking, records
from handlers.core import Choice, Ctx, Say
from handlers.flows import not_linked
from handlers.render import privacy_lines


async def privacy(ctx: Ctx, arg: str) -> list[Say]:
    """Say what is stored about the person, and offer to unlink this chat."""
    if ctx.person_id is None:
        return not_linked(ctx)
    async with ctx.db.begin() as session:
        view = await records.privacy(session, person_id=ctx.person_id)
    if view is None:
        return not_linked(ctx)
    _ = ctx._
    text = "\n".join(
        [
            *privacy_lines(ctx.t, view),
            _(
                "This comes from your unit's roster, kept by the Department of Home Affairs. "
                "We use it only to check standards and manage training. Unlinking removes the link "
                "between this Zalo account and your record; the roster itself stays."
            ),
        ]
    )
    return [Say(text, [Choice(_("Unlink this Zalo account"), "unlink")])]


async def ask_unlink(ctx: Ctx, arg: str) -> list[Say]:
    """Confirm before unlinking."""
    if ctx.person_id is None:
        return not_linked(ctx)
    _ = ctx._
    choices = [Choice(_("Yes, unlink"), "unlinkc"), Choice(_("No, keep it"), "x")]
    return [Say(_("Unlink this Zalo account from your record?"), choices)]


async def unlink(ctx: Ctx, arg: str) -> list[Say]:
    """Remove the link between this chat and the roster person, and say how to link again."""
    async with ctx.db.begin() as session:
        done = await linking.unlink(session, account_id=ctx.account_id)
    if not done:
        return [Say(ctx._("This chat was not linked.")), *not_linked(ctx)]
    ctx.person_id = None
    ctx.dialogs.expect(ctx.chat_id, None, ctx.now)
    text = ctx._(
        "Unlinked. To link again, type the link code your organizer gave you, or your phone "
        "number as on your unit's roster."
    )
    return [Say(text)]
