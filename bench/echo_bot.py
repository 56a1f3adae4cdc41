"""python-telegram-bot's plain echo bot, the yardstick of bench/updates_http.py: long polling
against the Bot API at TELEGRAM_BASE_URL with BOT_TOKEN, every text answered with itself.
PTB's defaults throughout; ECHO_POOL sets its connection pool (256 by default, as ours): a burst
of 256 new connections to the stand-in at once costs the echo bot more than it costs ours, whose
sends are paced."""

from __future__ import annotations

import os
from typing import Any

from telegram import Update
from telegram.ext import ApplicationBuilder, MessageHandler, filters


async def echo(update: Update, context: Any) -> None:
    """Answer a text with the same text."""
    assert update.effective_message is not None
    await update.effective_message.reply_text(update.effective_message.text or "")


def main() -> None:
    app = (
        ApplicationBuilder().token(os.environ["BOT_TOKEN"])
        .connection_pool_size(int(os.environ.get("ECHO_POOL", "256")))
        .base_url(os.environ["TELEGRAM_BASE_URL"]).concurrent_updates(True).build()
    )  # fmt: skip
    app.add_handler(MessageHandler(filters.TEXT, echo))
    app.run_polling()


if __name__ == "__main__":
    main()
