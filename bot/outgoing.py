"""The one outgoing-message guard for Telegram: every message the bot sends or edits fits.

Handlers, reminders, broadcasts and reports all send through the application's bot, so the
guard is the bot itself (PTB supports subclassing ExtBot). After escaping, a text over 4,096
characters as read is sent as several messages, cut at line breaks where no tag or entity is
open, the buttons under the last one; a caption over 1,024 is cut the same way with "…"; an
inline keyboard without buttons is left off (Telegram refuses it). Our texts stay whole in
the code; only what would be refused is changed, so a long list of names or an organizer's
4,000-character unit code still gets an answer instead of "an error occurred".
"""

from __future__ import annotations

import html
import inspect
import logging
from typing import Any

from telegram import InlineKeyboardMarkup, Message
from telegram.constants import MessageLimit, ParseMode
from telegram.ext import ExtBot

from domain.rich_text import cut_html, plain_size, split_html

log = logging.getLogger(__name__)

TEXT_LIMIT = MessageLimit.MAX_TEXT_LENGTH  # 4096
CAPTION_LIMIT = MessageLimit.CAPTION_LENGTH  # 1024


def _is_html(parse_mode: Any) -> bool:
    return isinstance(parse_mode, str) and parse_mode.lower() == ParseMode.HTML.lower()


def pieces(text: str, parse_mode: Any, limit: int = TEXT_LIMIT) -> list[str]:
    """The text as messages Telegram accepts (one, unless it is too long)."""
    if _is_html(parse_mode):
        return [text] if plain_size(text) <= limit else split_html(text, limit) or [text]
    escaped = html.escape(text, quote=False)
    if plain_size(escaped) <= limit:
        return [text]
    return [html.unescape(p) for p in split_html(escaped, limit)] or [text]


def caption(text: str | None, parse_mode: Any) -> str | None:
    """The caption cut to what Telegram accepts, with "…" when cut."""
    if text is None:
        return None
    if _is_html(parse_mode):
        return cut_html(text, CAPTION_LIMIT)
    return html.unescape(cut_html(html.escape(text, quote=False), CAPTION_LIMIT))


def keyboard(markup: Any) -> Any:
    """An inline keyboard without its empty rows; None when no button is left."""
    if not isinstance(markup, InlineKeyboardMarkup):
        return markup
    rows = [row for row in markup.inline_keyboard if row]
    if not rows:
        return None
    return markup if len(rows) == len(markup.inline_keyboard) else InlineKeyboardMarkup(rows)


def _bind(method: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    bound = inspect.signature(method).bind_partial(*args, **kwargs)
    return dict(bound.arguments)


class GuardedBot(ExtBot[Any]):
    """ExtBot whose sends and edits always fit Telegram's limits (see the module)."""

    def __init__(self, *args: Any, registers_webhook: bool = True, **kwargs: Any) -> None:
        # Of several workers behind one webhook URL only worker 0 registers it (WORKER). PTB's
        # start_webhook always calls setWebhook before it listens; the others' call ends here.
        super().__init__(*args, **kwargs)
        self._registers_webhook = registers_webhook  # PTB freezes all but "_" attributes

    async def set_webhook(self, *args: Any, **kwargs: Any) -> bool:
        if not self._registers_webhook:
            log.info("the webhook is registered by worker 0; not here")
            return True
        return await super().set_webhook(*args, **kwargs)

    async def send_message(self, *args: Any, **kwargs: Any) -> Message:
        p = _bind(ExtBot.send_message, (self, *args), kwargs)
        p.pop("self")
        markup = keyboard(p.pop("reply_markup", None))
        parts = pieces(p.pop("text"), p.get("parse_mode"))
        if len(parts) > 1:
            log.info("a message of %d pieces to chat %s", len(parts), p.get("chat_id"))
        for part in parts[:-1]:
            await super().send_message(text=part, **p)
        return await super().send_message(text=parts[-1], reply_markup=markup, **p)

    async def edit_message_text(self, *args: Any, **kwargs: Any) -> Message | bool:
        p = _bind(ExtBot.edit_message_text, (self, *args), kwargs)
        p.pop("self")
        markup = keyboard(p.pop("reply_markup", None))
        parts = pieces(p.pop("text"), p.get("parse_mode"))
        chat_id = p.get("chat_id")
        if len(parts) == 1 or chat_id is None:  # an inline message has no chat to continue in
            text = parts[0] if len(parts) == 1 else cut_html(parts[0], TEXT_LIMIT)
            return await super().edit_message_text(text=text, reply_markup=markup, **p)
        edited = await super().edit_message_text(text=parts[0], **p)
        more = {k: p[k] for k in ("parse_mode", "link_preview_options") if k in p}
        for part in parts[1:-1]:
            await super().send_message(chat_id=chat_id, text=part, **more)
        await super().send_message(chat_id=chat_id, text=parts[-1], reply_markup=markup, **more)
        return edited

    async def send_photo(self, *args: Any, **kwargs: Any) -> Message:
        p = _bind(ExtBot.send_photo, (self, *args), kwargs)
        p.pop("self")
        p["caption"] = caption(p.get("caption"), p.get("parse_mode"))
        p["reply_markup"] = keyboard(p.get("reply_markup"))
        return await super().send_photo(**p)

    async def send_document(self, *args: Any, **kwargs: Any) -> Message:
        p = _bind(ExtBot.send_document, (self, *args), kwargs)
        p.pop("self")
        p["caption"] = caption(p.get("caption"), p.get("parse_mode"))
        p["reply_markup"] = keyboard(p.get("reply_markup"))
        return await super().send_document(**p)

    async def edit_message_caption(self, *args: Any, **kwargs: Any) -> Message | bool:
        p = _bind(ExtBot.edit_message_caption, (self, *args), kwargs)
        p.pop("self")
        p["caption"] = caption(p.get("caption"), p.get("parse_mode"))
        p["reply_markup"] = keyboard(p.get("reply_markup"))
        return await super().edit_message_caption(**p)

    async def edit_message_reply_markup(self, *args: Any, **kwargs: Any) -> Message | bool:
        p = _bind(ExtBot.edit_message_reply_markup, (self, *args), kwargs)
        p.pop("self")
        p["reply_markup"] = keyboard(p.get("reply_markup"))
        return await super().edit_message_reply_markup(**p)
