"""/zalo: a one-time code that links the person's Zalo account too (handlers/other_app.py)."""

from __future__ import annotations

from telegram.ext import Application

from bot.telegram.adapter import commands


def register(app: Application) -> None:
    commands(app, ("zalo",))
