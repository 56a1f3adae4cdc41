"""/broadcast (handlers/broadcast.py) on Telegram: the command, its buttons, and the message
(text with its formatting, a photo or a document) and answers typed while a step is owed."""

from __future__ import annotations

from telegram.ext import Application, filters

from bot.telegram.adapter import actions, commands, steps
from handlers import actions as cb
from handlers import broadcast


def register(app: Application) -> None:
    commands(app, ("broadcast",))
    actions(app, (cb.BC_AUDIENCE, cb.BC_RULE, cb.BC_ACK, cb.BC_SEND, cb.BC_WHEN, cb.BC_CANCEL,
                  cb.BC_REFRESH, cb.BC_RECEIVED))  # fmt: skip
    # Before the spreadsheet import and the search: the message may be a document or any text.
    text = filters.TEXT & ~filters.COMMAND
    steps(app, broadcast.STEPS, text | filters.PHOTO | filters.Document.ALL, broadcast.stop)
