"""/my and its menu button (handlers/my.py)."""

from __future__ import annotations

from telegram.ext import Application

from bot.telegram.adapter import commands, menu_buttons


def register(app: Application) -> None:
    commands(app, ("my",))
    menu_buttons(app, ("my",))
