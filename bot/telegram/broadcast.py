"""/broadcast (handlers/broadcast.py) on Telegram: the command, its buttons, and a photo or
document sent as the message
(adapter.OwedStep and adapter.OwedUpload hand them to the flow)."""

from __future__ import annotations

from telegram.ext import Application

from bot.telegram.adapter import actions, commands
from handlers import actions as cb


def register(app: Application) -> None:
    commands(app, ("broadcast",))
    actions(app, (cb.BC_AUDIENCE, cb.BC_RULE, cb.BC_ACK, cb.BC_SEND, cb.BC_WHEN, cb.BC_CANCEL,
                  cb.BC_REFRESH, cb.BC_RECEIVED))  # fmt: skip
