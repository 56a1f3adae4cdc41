"""/reviews on Telegram: an organizer records a secondment's review meeting
(handlers/reviews.py); the conclusions typed next are answered by adapter.OwedStep."""

from __future__ import annotations

from telegram.ext import Application

from bot.telegram.adapter import actions, commands
from handlers import actions as cb


def register(app: Application) -> None:
    commands(app, ("reviews",))
    actions(app, (cb.REVIEW_VIEW, cb.REVIEW_RATE, cb.REVIEW_SKIP))
