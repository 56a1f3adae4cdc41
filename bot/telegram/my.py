"""/my and its menu button (handlers/my.py)."""

from __future__ import annotations

from telegram.ext import Application

from bot.telegram.adapter import actions, commands, menu_buttons


def register(app: Application) -> None:
    commands(app, ("my",))
    actions(app, ("my",))  # the main menu offered as choices
    menu_buttons(app, ("my",))
