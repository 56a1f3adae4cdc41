"""/reminders and its buttons, and the "turn these off" button under a reminder
(handlers/reminders.py)."""

from __future__ import annotations

from telegram.ext import Application

from bot.telegram.adapter import actions, commands
from handlers import actions as cb


def register(app: Application) -> None:
    commands(app, ("reminders",))
    actions(app, ("reminders",))  # the main menu offered as choices
    actions(app, (cb.REMINDER_TOGGLE, cb.REMINDER_OFF, cb.REMINDER_VIA))
