"""/privacy (what is stored about the person, unlinking this chat) and /language."""

from __future__ import annotations

from domain import linking, records
from handlers import actions as cb
from handlers.core import Choice, Ctx, Menu, Say
from handlers.flows import not_linked
from handlers.render import privacy_lines
from locales import Translator


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
                "between this %(app)s account and your record; the roster itself stays."
            )
            % {"app": ctx.app},
        ]
    )
    unlink_label = _("Unlink this %(app)s account") % {"app": ctx.app}
    return [Say(text, [Choice(unlink_label, cb.build(cb.UNLINK))])]


async def ask_unlink(ctx: Ctx, arg: str) -> list[Say]:
    """Confirm before unlinking."""
    if ctx.person_id is None:
        return not_linked(ctx)
    _ = ctx._
    choices = [
        Choice(_("Yes, unlink"), cb.build(cb.UNLINK_CONFIRM)),
        Choice(_("No, keep it"), cb.build(cb.DISMISS), joined=True),
    ]
    return [Say(_("Unlink this %(app)s account from your record?") % {"app": ctx.app}, choices)]


async def unlink(ctx: Ctx, arg: str) -> list[Say]:
    """Remove the link between this chat and the roster person, and say how to link again."""
    async with ctx.db.begin() as session:
        done = await linking.unlink(session, account_id=ctx.account_id)
    if not done:
        return [Say(ctx._("This chat was not linked."), edit=True), *not_linked(ctx)]
    ctx.person_id = None
    ctx.unlinked.append(ctx.chat_id)
    ctx.expect(None)
    _ = ctx._
    if ctx.contact:  # linking again is /start and the contact button
        # The confirmation is edited; the standing menu goes with a message of its own.
        return [
            Say(_("Unlinked. Send /start to link again."), edit=True),
            Say(_("Goodbye for now."), menu=Menu.REMOVE),
        ]
    text = _(
        "Unlinked. To link again, type the link code your organizer gave you, or your phone "
        "number as on your unit's roster."
    )
    return [Say(text, edit=True)]


async def language(ctx: Ctx, arg: str) -> list[Say]:
    """Offer the two languages."""
    choices = [
        Choice("Tiếng Việt", cb.build(cb.LANGUAGE, "vi")),
        Choice("English", cb.build(cb.LANGUAGE, "en"), joined=True),
    ]
    return [Say(ctx._("Choose your language:"), choices)]


async def set_language(ctx: Ctx, arg: str) -> list[Say]:
    """Store the chosen language and answer in it, with the menu in it."""
    if arg not in ("vi", "en"):
        return await language(ctx, "")
    async with ctx.db.begin() as session:
        await linking.set_language(session, account_id=ctx.account_id, language=arg)
    ctx.t = Translator(arg, ctx.settings.tz)
    says = [Say(ctx._("Language set to English."), edit=True)]
    if ctx.person_id is not None:
        says.append(Say(ctx._("Menu updated."), menu=Menu.MAIN))
    return says
