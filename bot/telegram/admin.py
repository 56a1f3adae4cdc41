"""Administrators in chat: /grant and /revoke roles, /audit to read the newest log entries."""

from __future__ import annotations

from html import escape

from telegram import Update
from telegram.ext import Application, CommandHandler

from bot.context import BotContext
from bot.telegram.common import reply, require_role
from bot.telegram.help import sync_role_menu
from domain import roles
from domain.errors import DomainError
from handlers.render import unit_choices
from storage.models import Role
from storage.repos.people import PeopleRepo

ROLES = {r.value: r for r in Role}


async def change_role(update: Update, context: BotContext) -> None:
    """/grant or /revoke PERSONAL_ID ROLE [UNIT]: administrators only; a unit by code or name."""
    assert update.message is not None and update.message.text is not None
    give = update.message.text.lstrip("/").lower().startswith("grant")
    if await require_role(update, context, Role.ADMIN, "grant" if give else "revoke") is None:
        return
    _ = context.t.gettext
    args = context.args or []
    if len(args) < 2 or args[1] not in ROLES or (give and args[1] != Role.ADMIN and len(args) < 3):
        await reply(update, _("Usage: /grant PERSONAL_ID admin|organizer|unit_head UNIT_CODE"))
        return
    try:
        async with context.db.begin() as session:
            actor = await roles.actor_label(session, context.person_id)
            changed = await roles.change_role(
                session,
                actor_person_id=context.person_id,
                actor=actor,
                personal_id=args[0],
                role=ROLES[args[1]],
                unit_code=" ".join(args[2:]) or None,
                give=give,
            )
    except DomainError as error:
        matches = error.details.get("matches")
        if isinstance(matches, list) and matches:
            await reply(update, unit_choices(context.t, " ".join(args[2:]), matches))
        elif error.details.get("what") == "person":
            await reply(update, _("No such person."))
        else:
            await reply(update, _("No such unit."))
        return
    await reply(update, _("Done.") if changed else _("Nothing changed."))
    if changed:
        async with context.db() as session:
            person = await PeopleRepo(session).by_personal_id(args[0])
        assert person is not None
        await sync_role_menu(context.bot, context.resources, person.id, context.bot_data)


async def audit(update: Update, context: BotContext) -> None:
    """Show the newest 20 audit entries to an administrator."""
    if await require_role(update, context, Role.ADMIN, "audit") is None:
        return
    async with context.db.begin() as session:
        entries = await roles.recent_audit(session, limit=20)
    lines = [context.t.gettext("<b>Audit log, newest first</b>")]
    for e in entries:
        lines.append(
            f"{context.t.datetime(e.at)} · {escape(e.result)} · {escape(e.action)} · "
            f"{escape(e.actor)} → {escape(e.target)}"
        )
        if sum(len(line) + 1 for line in lines) > 3800:  # stay inside one Telegram message
            lines.pop()
            break
    await reply(update, "\n".join(lines))


def register(app: Application) -> None:
    app.add_handler(CommandHandler(["grant", "revoke"], change_role))
    app.add_handler(CommandHandler("audit", audit))
