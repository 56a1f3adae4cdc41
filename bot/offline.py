"""An in-memory Telegram Bot API, for the offline console chat and for fast tests.

`OfflineBotAPI` keeps chats, messages, files and the getUpdates queue in memory and fails the way
Telegram does when a call does not fit that state (unknown chat, message to edit not found, message
not modified, stale callback query, ...). Checking parameters against the published spec is left to
an optional `validator` (the tests plug in one built from the spec file), so production code does
not depend on it. `OfflineRequest` lets a real `telegram.Bot` talk to it in-process.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import json
import logging
import mimetypes
import re
import threading
import time
from collections.abc import Awaitable, Callable
from html.parser import HTMLParser
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit

from telegram.request import BaseRequest, RequestData

log = logging.getLogger(__name__)

BOT_ID = 100_000
BOT_USER: dict[str, Any] = {
    "id": BOT_ID,
    "is_bot": True,
    "first_name": "Boi duong",
    "username": "boiduong_bot",
}
MAX_UPLOAD = 50 * 1024 * 1024  # bots may upload up to 50 MB
MAX_DOWNLOAD = 20 * 1024 * 1024  # ... and download (getFile) up to 20 MB
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
# Fields sent JSON-serialized or as numbers/booleans by the methods implemented here; the Bot API
# server decodes form values by field type, so strings arriving for these fields are decoded too.
_JSON_FIELDS = frozenset(
    "reply_markup entities caption_entities commands scope menu_button link_preview_options "
    "reply_parameters allowed_updates".split()
)
_INT_FIELDS = frozenset("chat_id message_id offset limit timeout cache_time".split())
_BOOL_FIELDS = frozenset(
    "show_alert drop_pending_updates disable_notification protect_content".split()
)
_COMMAND = re.compile(r"/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]+)?(?=\s|$)")
_API_PATH = re.compile(r"/bot([^/]+)/([^/]+)$")
_FILE_PATH = re.compile(r"/file/bot([^/]+)/(.+)$")

Params = dict[str, Any]


class BotAPIError(Exception):
    """A refused call, carrying what Telegram would answer."""

    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(f"{code} {description}")
        self.code = code
        self.description = description
        self.retry_after = retry_after

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.code,
            "description": self.description,
        }
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def utf16_len(text: str) -> int:
    """Telegram measures text and entity offsets in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


class _HTMLText(HTMLParser):
    """Lenient HTML-to-entities conversion for display; strict checking is the validator's job."""

    _SIMPLE: ClassVar[dict[str, str]] = {
        **dict.fromkeys(("b", "strong"), "bold"),
        **dict.fromkeys(("i", "em"), "italic"),
        **dict.fromkeys(("u", "ins"), "underline"),
        **dict.fromkeys(("s", "strike", "del"), "strikethrough"),
        **dict.fromkeys(("tg-spoiler", "span"), "spoiler"),
        **{tag: tag for tag in ("code", "pre", "blockquote")},
    }

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.units = 0
        self.open: list[tuple[str, dict[str, str | None], int]] = []
        self.entities: list[dict[str, Any]] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)
        self.units += utf16_len(data)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.open.append((tag, dict(attrs), self.units))

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.open) - 1, -1, -1):
            if self.open[i][0] == tag:
                name, attrs, start = self.open.pop(i)
                self._close(name, attrs, start)
                return

    def _close(self, tag: str, attrs: dict[str, str | None], start: int) -> None:
        entity: dict[str, Any] = {
            "type": self._SIMPLE.get(tag, ""),
            "offset": start,
            "length": self.units - start,
        }
        language = (attrs.get("class") or "").removeprefix("language-")
        if tag == "code" and any(name == "pre" for name, _, _ in self.open):
            # <pre><code class="language-x"> is one pre entity with a language
            pre = next(a for name, a, _ in reversed(self.open) if name == "pre")
            pre["language"] = language or None
            return
        if tag == "pre" and attrs.get("language"):
            entity["language"] = attrs["language"]
        elif tag == "a":
            entity.update(type="text_link", url=attrs.get("href") or "")
        elif tag == "blockquote" and "expandable" in attrs:
            entity["type"] = "expandable_blockquote"
        elif tag == "tg-emoji":
            entity.update(type="custom_emoji", custom_emoji_id=attrs.get("emoji-id") or "")
        elif tag == "tg-time":
            entity.update(type="date_time", unix_time=int(attrs.get("unix") or 0))
            if attrs.get("format"):
                entity["date_time_format"] = attrs["format"]
        if entity["type"] and entity["length"] > 0:
            self.entities.append(entity)


def render_text(text: str, parse_mode: str | None, entities: Any = None) -> tuple[str, list[Any]]:
    """The text and entities Telegram would store for `text` sent with `parse_mode`."""
    if not parse_mode or parse_mode.lower() != "html":
        return text, list(entities or [])
    parser = _HTMLText()
    parser.feed(text)
    parser.close()
    return "".join(parser.parts), sorted(parser.entities, key=lambda e: (e["offset"], -e["length"]))


def decode_params(params: Params) -> Params:
    """Decode string values of known typed fields the way the Bot API server does."""
    out = dict(params)
    for name, value in params.items():
        if not isinstance(value, str):
            continue
        if name in _JSON_FIELDS:
            try:
                out[name] = json.loads(value)
            except ValueError:
                raise BotAPIError(400, f"Bad Request: can't parse {name} JSON object") from None
        elif name in _INT_FIELDS and re.fullmatch(r"-?\d+", value):
            out[name] = int(value)
        elif name in _BOOL_FIELDS and value.lower() in ("true", "false"):
            out[name] = value.lower() == "true"
    return out


def merge_uploads(params: Params, files: dict[str, Params]) -> Params:
    """Put uploaded files where they belong: under their own name or where attach://name points."""
    used: set[str] = set()

    def resolve(value: Any) -> Any:
        if isinstance(value, str) and value.startswith("attach://") and value[9:] in files:
            used.add(value[9:])
            return files[value[9:]]
        if isinstance(value, list):
            return [resolve(v) for v in value]
        if isinstance(value, dict) and not _is_upload(value):
            return {k: resolve(v) for k, v in value.items()}
        return value

    out = {name: resolve(value) for name, value in params.items()}
    out.update({name: f for name, f in files.items() if name not in used and name not in out})
    return out


def _message_text(p: Params) -> tuple[str, list[Any]]:
    text, entities = render_text(str(p.get("text", "")), p.get("parse_mode"), p.get("entities"))
    if not text.strip():
        raise BotAPIError(400, "Bad Request: message text is empty")
    if utf16_len(text) > 4096:
        raise BotAPIError(400, "Bad Request: message is too long")
    return text, entities


def _is_upload(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("content"), bytes)


def _chat_of(user: Params) -> Params:
    chat = {"id": user["id"], "type": "private", "first_name": user.get("first_name", "")}
    chat.update({k: user[k] for k in ("last_name", "username") if k in user})
    return chat


def _inline(markup: Any) -> Params | None:
    """Only inline keyboards are part of a Message; reply keyboards live in the client."""
    return markup if isinstance(markup, dict) and "inline_keyboard" in markup else None


def _document(stored: Params) -> Params:
    keys = ("file_name", "mime_type", "file_id", "file_unique_id", "file_size")
    return {k: stored[k] for k in keys if stored.get(k) is not None}


def _png_size(content: bytes) -> tuple[int, int]:
    if content[:8] == b"\x89PNG\r\n\x1a\n" and len(content) >= 24:
        return int.from_bytes(content[16:20], "big"), int.from_bytes(content[20:24], "big")
    return 0, 0


class OfflineBotAPI:
    """In-memory Telegram: private chats with the users seen in built updates, and one bot."""

    def __init__(
        self,
        token: str = "offline",
        validator: Callable[[str, dict[str, Any]], None] | None = None,
    ) -> None:
        self.token = token
        self.validator = validator
        self.calls: list[tuple[str, Params]] = []  # accepted calls, parameters decoded
        self.rejected: list[tuple[str, Params, str]] = []  # refused by the validator
        self.failed: list[tuple[str, Params, str]] = []  # refused by Telegram-side state
        self.webhook_url = ""
        self.commands: dict[tuple[str, str], list[Params]] = {}
        self.menu_buttons: dict[int | None, Params] = {}
        self._chats: dict[int, Params] = {}
        self._blocked: set[int] = set()
        self._keyboards: dict[int, Params] = {}
        self._messages: dict[tuple[int, int], Params] = {}
        self._next_message_id: dict[int, int] = {}
        self._files: dict[str, Params] = {}  # file_id -> File JSON plus "content"
        self._queries: set[str] = set()
        self._ids = itertools.count(1)
        self._updates: list[Params] = []
        self._next_update_id = 1
        self._allowed: list[str] | None = None
        self._lock = threading.Lock()  # the console pushes updates from its input thread
        self._wakeup: tuple[asyncio.AbstractEventLoop, asyncio.Event] | None = None
        self._poll_generation = 0
        self._stopped = False
        # Bot API methods are the _m_<name> coroutines; Telegram matches names case-insensitively.
        self._methods: dict[str, tuple[str, Callable[[Params], Awaitable[Any]]]] = {
            name[3:].lower(): (name[3:], getattr(self, name))
            for name in dir(type(self))
            if name.startswith("_m_")
        }

    # -- the API ---------------------------------------------------------------------------------

    async def call(self, method: str, params: dict[str, Any]) -> Any:
        """Run one Bot API call; raises BotAPIError with Telegram's code and description."""
        name, handler = self._methods.get(method.lower(), (method, None))
        try:
            params = decode_params(params)
            if self.validator is not None:
                self.validator(name, params)
        except BotAPIError as exc:
            self.rejected.append((name, params, exc.description))
            log.warning("rejected %s: %s", name, exc.description)
            raise
        try:
            if handler is None:
                # Telegram answers 404 to unknown methods; a real method missing here looks alike.
                log.warning("method %s is unknown or not implemented offline", method)
                raise BotAPIError(404, "Not Found")
            result = await handler(params)
        except BotAPIError as exc:
            self.failed.append((name, params, exc.description))
            raise
        self.calls.append((name, params))
        return result

    async def _m_getMe(self, p: Params) -> Params:
        return {
            **BOT_USER,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    async def _m_getUpdates(self, p: Params) -> list[Params]:
        if self.webhook_url:
            raise BotAPIError(
                409,
                "Conflict: can't use getUpdates method while webhook is "
                "active; use deleteWebhook to delete the webhook first",
            )
        limit = min(max(int(p.get("limit", 100)), 1), 100)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(int(p.get("timeout", 0)), 0)
        with self._lock:
            if "allowed_updates" in p:
                self._allowed = list(p["allowed_updates"]) or None
            self._confirm(p.get("offset"))
        self._poll_generation += 1
        generation = self._poll_generation
        event = self._event()
        event.set()  # an older long poll ends with 409, as on Telegram
        while True:
            with self._lock:
                batch = [copy.deepcopy(u) for u in self._updates[:limit]]
            if batch or self._stopped:
                return batch
            if generation != self._poll_generation:
                raise BotAPIError(
                    409,
                    "Conflict: terminated by other getUpdates request; make "
                    "sure that only one bot instance is running",
                )
            remaining = deadline - loop.time()
            if remaining <= 0:
                return []
            event.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)

    async def _m_deleteWebhook(self, p: Params) -> bool:
        self.webhook_url = ""
        if p.get("drop_pending_updates"):
            with self._lock:
                self._updates.clear()
        return True

    async def _m_setWebhook(self, p: Params) -> bool:
        self.webhook_url = str(p.get("url", ""))
        return True

    async def _m_setMyCommands(self, p: Params) -> bool:
        self.commands[self._scope_key(p)] = list(p.get("commands", []))
        return True

    async def _m_getMyCommands(self, p: Params) -> list[Params]:
        return copy.deepcopy(self.commands.get(self._scope_key(p), []))

    async def _m_deleteMyCommands(self, p: Params) -> bool:
        self.commands.pop(self._scope_key(p), None)
        return True

    async def _m_setChatMenuButton(self, p: Params) -> bool:
        self.menu_buttons[p.get("chat_id")] = p.get("menu_button") or {"type": "default"}
        return True

    async def _m_getChatMenuButton(self, p: Params) -> Params:
        return copy.deepcopy(self.menu_buttons.get(p.get("chat_id"), {"type": "commands"}))

    async def _m_sendMessage(self, p: Params) -> Params:
        chat_id = self._chat_id(p)
        text, entities = _message_text(p)
        content: Params = {"text": text}
        if entities:
            content["entities"] = entities
        return self._send(chat_id, p, content)

    async def _m_sendDocument(self, p: Params) -> Params:
        chat_id = self._chat_id(p)
        stored = self._take_file(p.get("document"), "documents")
        return self._send(chat_id, p, {"document": _document(stored), **self._caption(p)})

    async def _m_sendPhoto(self, p: Params) -> Params:
        chat_id = self._chat_id(p)
        stored = self._take_file(p.get("photo"), "photos")
        width, height = _png_size(stored["content"])
        photo = {k: stored[k] for k in ("file_id", "file_unique_id", "file_size")}
        return self._send(
            chat_id, p, {"photo": [{**photo, "width": width, "height": height}], **self._caption(p)}
        )

    async def _m_sendChatAction(self, p: Params) -> bool:
        self._chat_id(p)
        return True

    async def _m_editMessageText(self, p: Params) -> Params:
        msg = self._editable(p)
        if "text" not in msg:
            raise BotAPIError(400, "Bad Request: there is no text in the message to edit")
        text, entities = _message_text(p)
        markup = _inline(p.get("reply_markup"))  # no reply_markup removes the inline keyboard
        if (text, entities, markup) == (
            msg["text"],
            msg.get("entities", []),
            _inline(msg.get("reply_markup")),
        ):
            raise BotAPIError(400, NOT_MODIFIED)
        msg["text"] = text
        msg.pop("entities", None)
        if entities:
            msg["entities"] = entities
        return self._edited(msg, markup)

    async def _m_editMessageReplyMarkup(self, p: Params) -> Params:
        msg = self._editable(p)
        markup = _inline(p.get("reply_markup"))
        if markup == _inline(msg.get("reply_markup")):
            raise BotAPIError(400, NOT_MODIFIED)
        return self._edited(msg, markup)

    async def _m_deleteMessage(self, p: Params) -> bool:
        key = (self._chat_id(p), int(p.get("message_id", 0)))
        if self._messages.pop(key, None) is None:
            raise BotAPIError(400, "Bad Request: message to delete not found")
        return True

    async def _m_answerCallbackQuery(self, p: Params) -> bool:
        query_id = str(p.get("callback_query_id", ""))
        if query_id not in self._queries:
            raise BotAPIError(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is invalid",
            )
        self._queries.discard(query_id)
        return True

    async def _m_getFile(self, p: Params) -> Params:
        stored = self._files.get(str(p.get("file_id", "")))
        if stored is None:
            raise BotAPIError(400, "Bad Request: invalid file_id")
        if stored["file_size"] > MAX_DOWNLOAD:
            raise BotAPIError(400, "Bad Request: file is too big")
        return {k: stored[k] for k in ("file_id", "file_unique_id", "file_size", "file_path")}

    async def _m_close(self, p: Params) -> bool:
        return True

    async def _m_logOut(self, p: Params) -> bool:
        return True

    # -- playing the users -----------------------------------------------------------------------

    def add_user(self, user: Params) -> None:
        """Make `user`'s private chat known, as if they had started the bot."""
        self._chats[int(user["id"])] = _chat_of(user)
        self._blocked.discard(int(user["id"]))

    def block(self, user_id: int) -> None:
        """The user blocks the bot: sends to them fail with 403 Forbidden from now on."""
        self._blocked.add(user_id)

    def message_update(self, user: Params, text: str) -> Params:
        content: Params = {"text": text}
        if command := _COMMAND.match(text):
            content["entities"] = [
                {"type": "bot_command", "offset": 0, "length": utf16_len(command.group())}
            ]
        return self._user_message(user, content)

    def contact_update(
        self, user: Params, phone_number: str, contact_user_id: int | None
    ) -> Params:
        contact: Params = {"phone_number": phone_number, "first_name": user.get("first_name", "")}
        if contact_user_id is not None:
            contact["user_id"] = contact_user_id
        return self._user_message(user, {"contact": contact})

    def document_update(self, user: Params, file_name: str, content: bytes) -> Params:
        stored = self._store_file({"filename": file_name, "content": content}, "documents")
        return self._user_message(user, {"document": _document(stored)})

    def photo_update(self, user: Params, content: bytes, caption: str = "") -> Params:
        """The user sends a photo (one size; PNG bytes give it a width and height)."""
        stored = self._store_file({"filename": "photo.jpg", "content": content}, "photos")
        width, height = _png_size(stored["content"])
        size = {k: stored[k] for k in ("file_id", "file_unique_id", "file_size")}
        content_: Params = {"photo": [{**size, "width": width, "height": height}]}
        if caption:
            content_["caption"] = caption
        return self._user_message(user, content_)

    def callback_update(self, user: Params, message_id: int, data: str) -> Params:
        msg = self._messages.get((int(user["id"]), message_id))
        if msg is None or msg["from"]["id"] != BOT_ID:
            raise LookupError(f"no bot message {message_id} in chat {user['id']}")
        buttons = (_inline(msg.get("reply_markup")) or {}).get("inline_keyboard", [])
        if not any(b.get("callback_data") == data for row in buttons for b in row):
            raise ValueError(f"message {message_id} has no button with callback_data {data!r}")
        query_id = str(10**15 + next(self._ids))
        self._queries.add(query_id)
        query = {
            "id": query_id,
            "from": user,
            "message": self._result(msg),
            "chat_instance": str(hash((BOT_ID, user["id"])) & 0xFFFFFFFF),
            "data": data,
        }
        return self._update({"callback_query": query})

    def push(self, update: Params) -> None:
        """Queue an update for getUpdates (callable from another thread too)."""
        with self._lock:
            self._updates.append(update)
        self._wake()

    def stop_waiting(self) -> None:
        """End every long poll now and make later ones return at once (server shutdown)."""
        self._stopped = True
        self._wake()

    # -- looking at the chats --------------------------------------------------------------------

    def sent_to(self, chat_id: int) -> list[Params]:
        """The bot's messages currently visible in the chat, oldest first, as edited."""
        return [
            copy.deepcopy(m)
            for (c, _), m in sorted(self._messages.items())
            if c == chat_id and m["from"]["id"] == BOT_ID
        ]

    def last_message(self, chat_id: int) -> Params:
        sent = self.sent_to(chat_id)
        if not sent:
            raise LookupError(f"the bot has no message in chat {chat_id}")
        return sent[-1]

    def reply_keyboard(self, chat_id: int) -> Params | None:
        """The reply keyboard the user's client currently shows, if any."""
        return copy.deepcopy(self._keyboards.get(chat_id))

    def file_bytes(self, file_path: str) -> bytes:
        for stored in self._files.values():
            if stored["file_path"] == file_path:
                return bytes(stored["content"])
        raise KeyError(file_path)

    def file_content(self, file_id: str) -> bytes:
        return bytes(self._files[file_id]["content"])

    # -- internals -------------------------------------------------------------------------------

    def _chat_id(self, p: Params) -> int:
        chat_id = p.get("chat_id")
        if isinstance(chat_id, str) and re.fullmatch(r"-?\d+", chat_id):
            chat_id = int(chat_id)
        if not isinstance(chat_id, int) or chat_id not in self._chats:
            log.warning(
                "chat %r is unknown: only users seen in built updates or add_user() "
                "have a chat with the bot",
                chat_id,
            )
            raise BotAPIError(400, "Bad Request: chat not found")
        if chat_id in self._blocked:
            raise BotAPIError(403, "Forbidden: bot was blocked by the user")
        return chat_id

    def _new_message(self, chat_id: int, sender: Params, content: Params) -> Params:
        message_id = self._next_message_id.get(chat_id, 1)
        self._next_message_id[chat_id] = message_id + 1
        msg = {
            "message_id": message_id,
            "from": dict(sender),
            "chat": dict(self._chats[chat_id]),
            "date": int(time.time()),
            **content,
        }
        self._messages[(chat_id, message_id)] = msg
        return msg

    def _send(self, chat_id: int, p: Params, content: Params) -> Params:
        reply = p.get("reply_parameters")
        if isinstance(reply, dict):
            replied = self._messages.get((chat_id, int(reply.get("message_id", 0))))
            if replied is not None:
                content["reply_to_message"] = self._result(replied)
            elif not reply.get("allow_sending_without_reply"):
                raise BotAPIError(400, "Bad Request: message to be replied not found")
        markup = p.get("reply_markup")
        if isinstance(markup, dict) and "keyboard" in markup:
            self._keyboards[chat_id] = markup
        elif isinstance(markup, dict) and markup.get("remove_keyboard"):
            self._keyboards.pop(chat_id, None)
        if markup is not None:
            content["reply_markup"] = markup  # kept for sent_to(); results show inline ones only
        return self._result(self._new_message(chat_id, BOT_USER, content))

    def _caption(self, p: Params) -> Params:
        if not p.get("caption"):
            return {}
        text, entities = render_text(
            str(p["caption"]), p.get("parse_mode"), p.get("caption_entities")
        )
        return {"caption": text, **({"caption_entities": entities} if entities else {})}

    def _editable(self, p: Params) -> Params:
        if "inline_message_id" in p:
            raise BotAPIError(400, "Bad Request: MESSAGE_ID_INVALID")  # no inline mode offline
        if "message_id" not in p:
            raise BotAPIError(400, "Bad Request: message identifier is not specified")
        msg = self._messages.get((self._chat_id(p), int(p["message_id"])))
        if msg is None:
            raise BotAPIError(400, "Bad Request: message to edit not found")
        if msg["from"]["id"] != BOT_ID:
            raise BotAPIError(400, "Bad Request: message can't be edited")
        return msg

    def _edited(self, msg: Params, markup: Params | None) -> Params:
        msg.pop("reply_markup", None)
        if markup is not None:
            msg["reply_markup"] = markup
        msg["edit_date"] = int(time.time())
        return self._result(msg)

    @staticmethod
    def _result(msg: Params) -> Params:
        result = copy.deepcopy(msg)
        if _inline(result.get("reply_markup")) is None:
            result.pop("reply_markup", None)
        return result

    def _take_file(self, value: Any, folder: str) -> Params:
        if _is_upload(value):
            return self._store_file(value, folder)
        if isinstance(value, str) and value in self._files:
            return self._files[value]
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            raise BotAPIError(400, "Bad Request: failed to get HTTP URL content")  # no network
        raise BotAPIError(400, "Bad Request: wrong file identifier/HTTP URL specified")

    def _store_file(self, upload: Params, folder: str) -> Params:
        content = bytes(upload["content"])
        if not content:
            raise BotAPIError(400, "Bad Request: file must be non-empty")
        if len(content) > MAX_UPLOAD:
            raise BotAPIError(413, "Request Entity Too Large")
        n = next(self._ids)
        name = str(upload.get("filename") or f"file_{n}")
        suffix = re.sub(r"[^A-Za-z0-9.]", "", name[name.rfind(".") :]) if "." in name else ""
        stored: Params = {
            "file_id": f"OFFLINE{folder[:3].upper()}{n:08d}",
            "file_unique_id": f"u{n}",
            "file_size": len(content),
            "file_path": f"{folder}/file_{n}{suffix}",
            "file_name": name,
            "mime_type": mimetypes.guess_type(name)[0],
            "content": content,
        }
        self._files[stored["file_id"]] = stored
        return stored

    def _user_message(self, user: Params, content: Params) -> Params:
        if int(user["id"]) not in self._chats:
            self.add_user(user)
        msg = self._new_message(int(user["id"]), user, content)
        return self._update({"message": copy.deepcopy(msg)})

    def _update(self, body: Params) -> Params:
        with self._lock:
            update_id = self._next_update_id
            self._next_update_id += 1
        return {"update_id": update_id, **body}

    def _confirm(self, offset: Any) -> None:
        if isinstance(offset, int) and offset < 0:
            self._updates = self._updates[offset:]  # the last -offset updates; older ones forgotten
        elif isinstance(offset, int):
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        if self._allowed:
            allowed = set(self._allowed)
            self._updates = [u for u in self._updates if set(u) - {"update_id"} <= allowed]

    @staticmethod
    def _scope_key(p: Params) -> tuple[str, str]:
        scope = p.get("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(p.get("language_code") or "")

    def _event(self) -> asyncio.Event:
        loop = asyncio.get_running_loop()
        if self._wakeup is None or self._wakeup[0] is not loop:
            self._wakeup = (loop, asyncio.Event())  # an Event is bound to one loop
        return self._wakeup[1]

    def _wake(self) -> None:
        if self._wakeup is None:
            return
        loop, event = self._wakeup
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            event.set()
        elif not loop.is_closed():
            loop.call_soon_threadsafe(event.set)


class OfflineRequest(BaseRequest):
    """A PTB request that hands each call to an OfflineBotAPI in-process, without a network.

    PTB builds the exceptions (BadRequest, Forbidden, RetryAfter, ...) from the status code and
    body returned here, exactly as for HTTP. Give it to both `request` and `get_updates_request`:
    otherwise PTB polls api.telegram.org with its default HTTPXRequest.
    """

    def __init__(self, api: OfflineBotAPI) -> None:
        self.api = api

    @property
    def read_timeout(self) -> float | None:
        return None

    async def initialize(self) -> None:
        """Nothing to open."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        path = unquote(urlsplit(url).path)  # File URLs arrive percent-encoded (":" in the token)
        if method == "GET" and (found := _FILE_PATH.search(path)):
            if found.group(1) != self.api.token:
                return _answer(BotAPIError(401, "Unauthorized").payload(), 401)
            try:
                return 200, self.api.file_bytes(found.group(2))
            except KeyError:
                return _answer(BotAPIError(404, "Not Found").payload(), 404)
        found = _API_PATH.search(path)
        if found is None:
            return _answer(BotAPIError(404, "Not Found").payload(), 404)
        if found.group(1) != self.api.token:
            log.warning("token in %s is not OfflineBotAPI(token=...)", found.group(2))
            return _answer(BotAPIError(401, "Unauthorized").payload(), 401)
        try:
            result = await self.api.call(found.group(2), _request_params(request_data))
        except BotAPIError as exc:
            return _answer(exc.payload(), exc.code)
        return _answer({"ok": True, "result": result}, 200)


def _request_params(request_data: RequestData | None) -> Params:
    """What Telegram's server would decode from PTB's request: JSON values and uploaded files."""
    if request_data is None:
        return {}
    # .parameters are the values before PTB JSON-encodes them; a round trip makes them plain JSON
    # types (tuples become lists, enums their values) just as the server would see them.
    params: Params = json.loads(json.dumps(request_data.parameters))
    files: dict[str, Params] = {}
    for part, field in request_data.multipart_data.items():
        filename, content = field[0], field[1]
        if hasattr(content, "read"):
            content = content.read()  # PTB may pass an open file handle
        files[str(part)] = {"filename": filename, "content": bytes(content)}
    return merge_uploads(params, files)


def _answer(body: Params, status: int) -> tuple[int, bytes]:
    return status, json.dumps(body, ensure_ascii=False).encode()
