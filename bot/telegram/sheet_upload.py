"""Spreadsheets sent in chat on Telegram: the neutral limits and wording (handlers/sheets.py)
for the handlers not yet written as flows, and a bad-rows list sent as a document."""

from __future__ import annotations

from collections.abc import Sequence

from telegram import Document, Update

from handlers import sheets
from handlers.sheets import CHAT_MAX_ROWS, ErrorRow, check, error_list, limit_text, too_large_text
from locales import Translator

__all__ = ["CHAT_MAX_ROWS", "ErrorRow", "check", "limit_text", "too_large", "too_large_text"]


def too_large(doc: Document) -> bool:
    """Whether Telegram says the file is over the limit: refused before it is downloaded."""
    return sheets.too_large(doc.file_size)


async def send_error_list(
    update: Update, t: Translator, rows: Sequence[ErrorRow], name: str
) -> None:
    """Every bad row as an XLSX, for a list longer than the message shows."""
    chat = update.effective_chat
    assert chat is not None
    listing = await error_list(t, rows, name)
    await chat.send_document(listing.content, filename=listing.name, caption=listing.caption)
