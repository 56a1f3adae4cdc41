"""A courses spreadsheet sent in chat (handlers/course_import.py), on Telegram: the document
is downloaded within the sheet size limit and handed to the flow, as is its Import button."""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, MessageHandler, filters

from bot.context import BotContext
from bot.telegram.adapter import ctx_of, fetcher, render, sent
from handlers import actions as cb
from handlers import course_import


async def upload(update: Update, context: BotContext) -> None:
    """Check a courses file and offer to import it."""
    message = update.effective_message
    assert message is not None and message.document is not None
    document = sent(context, message)
    assert document is not None
    says = await course_import.upload(ctx_of(update, context), document)
    await render(update, context, says)


async def confirm(update: Update, context: BotContext) -> None:
    """Import the previewed file."""
    query = update.callback_query
    assert query is not None
    says = await course_import.confirm(
        ctx_of(update, context), cb.argument(query.data), lambda ref: fetcher(context, ref)
    )
    await render(update, context, says)


def register(app: Application) -> None:
    suffixes = course_import.SUFFIXES
    sheets: filters.BaseFilter = filters.Document.FileExtension(suffixes[0])
    for suffix in suffixes[1:]:
        sheets = sheets | filters.Document.FileExtension(suffix)
    app.add_handler(MessageHandler(sheets, upload))
    app.add_handler(CallbackQueryHandler(confirm, pattern=cb.pattern(cb.ORG_IMPORT)))
