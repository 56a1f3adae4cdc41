"""/broadcast (handlers/broadcast.py) on Telegram: the command, its buttons, and a photo or
document sent as the message (typed answers reach the flow through adapter.OwedStep)."""

from __future__ import annotations

from telegram.ext import Application

from bot.telegram.adapter import actions, commands, owed_steps
from handlers import actions as cb
from handlers import broadcast


def register(app: Application) -> None:
    commands(app, ("broadcast",))
    actions(app, (cb.BC_AUDIENCE, cb.BC_RULE, cb.BC_ACK, cb.BC_SEND, cb.BC_WHEN, cb.BC_CANCEL,
                  cb.BC_REFRESH, cb.BC_RECEIVED))  # fmt: skip
    # Before the spreadsheet import: the message may be a document, even a spreadsheet.
    owed_steps(app, files=(broadcast.TEXT,))
