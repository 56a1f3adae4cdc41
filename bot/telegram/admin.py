"""Administrators in chat: /grant, /revoke, /audit — Telegram's wiring of handlers/admin.py.
After a grant or a revocation the person's Telegram command menu follows their roles."""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application

from bot.context import BotContext
from bot.telegram.adapter import commands
from bot.telegram.help import sync_role_menu
from handlers.core import Ctx
from storage.repos.people import PeopleRepo


async def _follow_role(update: Update, context: BotContext, ctx: Ctx) -> None:
    """The named person's menu, should their roles now show another (asked only on a change)."""
    args = context.args or []
    if not args:
        return
    async with context.db() as session:
        person = await PeopleRepo(session).by_personal_id(args[0])
    if person is not None:
        await sync_role_menu(context.bot, context.resources, person.id, context.bot_data)


def register(app: Application) -> None:
    commands(app, ("grant", "revoke"), after=_follow_role)
    commands(app, ("audit",))
