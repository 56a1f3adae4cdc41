"""/privacy (what we store, unlink after confirming) and /language (handlers/account.py)."""

from __future__ import annotations

from telegram.ext import Application

from bot.telegram.adapter import actions, commands
from bot.telegram.help import follow_link, refresh_menu
from handlers import actions as cb


def register(app: Application) -> None:
    commands(app, ("privacy", "language"))
    actions(app, ("privacy", "language"))  # the main menu offered as choices
    actions(app, (cb.UNLINK,))
    actions(app, (cb.UNLINK_CONFIRM,), after=follow_link)  # the role commands go
    actions(app, (cb.LANGUAGE,), after=refresh_menu)  # the role commands, in the new language
