"""The kind of a Telegram update, as the update counter labels it (config/instruments.py).

Here, in the assembly, because it reads python-telegram-bot's Update: config imports no
channel library.
"""

from __future__ import annotations

from telegram import Update


def telegram_kind(update: object) -> str:
    """A few coarse kinds, so the label stays small whatever people send."""
    if not isinstance(update, Update):
        return "other"
    if update.callback_query is not None:
        return "callback"
    message = update.message
    if message is None:
        return "other"
    if message.text is not None:
        return "command" if message.text.startswith("/") else "text"
    if message.contact is not None:
        return "contact"
    if message.document is not None or message.photo:
        return "file"
    return "other"
