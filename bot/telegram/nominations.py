"""Nominating people for a course (/nominate), answering a nomination, approving requests:
Telegram's wiring of the neutral flows (handlers/nominate.py, handlers/nominations.py)."""

from __future__ import annotations

from telegram.ext import Application

from bot.telegram.adapter import actions, commands
from handlers import actions as cb


def register(app: Application) -> None:
    commands(app, ("nominate",))
    # The unit head picks a course, people, a hold and sends (handlers/nominate.py).
    actions(app, (cb.NOM_COURSE, cb.NOM_TOGGLE, cb.NOM_PAGE, cb.NOM_GAP, cb.NOM_UNIT,
                  cb.NOM_REVIEW, cb.NOM_HOLD, cb.NOM_SEND))  # fmt: skip
    # The nominee's and the unit head's answers (handlers/nominations.py).
    actions(app, (cb.NOM_ACCEPT, cb.NOM_DECLINE, cb.NOM_SKIP, cb.APPROVE, cb.APPROVE_DECLINE,
                  cb.APPROVE_SKIP))  # fmt: skip
