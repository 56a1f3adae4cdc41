"""Register for a course or cancel (handlers/flows.py), on Telegram's buttons."""

from __future__ import annotations

from telegram.ext import Application

from bot.telegram.adapter import actions
from handlers import actions as cb


def register(app: Application) -> None:
    actions(
        app, (cb.COURSE, cb.REGISTER, cb.CANCEL, cb.REGISTER_CONFIRM, cb.CANCEL_CONFIRM, cb.DISMISS)
    )
