"""A local stand-in for the Zalo Bot Platform API over HTTP, for tests.

Serves `/bot<token>/<method>` on 127.0.0.1 inside the test's event loop, shaped after the
documented API: getUpdates hands out **one** queued update per call or answers 408 after its
`timeout`; send methods refuse text outside 1–2,000 characters; setWebhook wants an https URL
and an 8–256 character secret; polling while a webhook is set is refused. Optional: a send
rate limit answered with 429 "Quota exceeded", and injected failures.

    async with StandInZalo() as zalo:
        client = ZaloClient(zalo.token, base_url=zalo.base_url)
        zalo.push(zalo.text_update("u1", "xin chào"))
        await zalo.wait_for(lambda m, p: m == "sendMessage")

`post_webhook` plays Zalo delivering an update to the bot's webhook, wrapped or flat.
`image_update` carries the URL of a photo the stand-in itself serves (`files`, under
`/files/<name>`; a name not there answers 404), as Zalo's CDN serves a user's photo.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import json
import secrets
import struct
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.context import Resources
from bot.telegram.sender import TelegramSender
from bot.zalo.client import ZaloClient
from bot.zalo.conversation import ZaloBot
from bot.zalo.sender import ZaloSender
from config.settings import Settings
from handlers.dialog import ChatState, Choice
from schedules.notifications import drain_once
from schedules.pacing import Pacer

Predicate = Callable[[str, dict[str, Any]], bool]
MAX_TEXT = 2000
_ids = itertools.count(1)


def png(width: int = 4, height: int = 3) -> bytes:
    """A real PNG, all red: what a phone's photo of a certificate stands in for."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = (b"\x00" + b"\xff\x00\x00" * width) * height
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


PHOTO = png()


def _answer(status: int, body: dict[str, Any]) -> web.Response:
    return web.json_response(body, status=status, dumps=lambda b: json.dumps(b, ensure_ascii=False))


def _error(code: int, description: str) -> web.Response:
    return _answer(code, {"ok": False, "error_code": code, "description": description})


class StandInZalo:
    def __init__(
        self,
        token: str = "1234567890:stand-in-zalo-token",
        *,
        rate_limit_per_second: float | None = None,
        poll_cap: float = 0.5,
    ) -> None:
        self.token = token
        self.rate_limit_per_second = rate_limit_per_second
        self.poll_cap = poll_cap  # a test need not wait Zalo's full long-poll timeout
        self.base_url = ""
        self.files_url = ""
        self.files: dict[str, bytes] = {"photo.png": PHOTO}
        self.downloads: list[str] = []  # names of files fetched, found or not
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.rejected: list[tuple[str, dict[str, Any], str]] = []
        self.webhook: dict[str, str] | None = None
        self.too_many = 0
        self._updates: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._failures: dict[str, collections.deque[int]] = collections.defaultdict(
            collections.deque
        )
        self._sends: collections.deque[float] = collections.deque()
        self._changed = asyncio.Condition()
        self._cursor = 0
        self._runner: web.AppRunner | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    async def __aenter__(self) -> StandInZalo:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/files/{name}", self._file)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}/bot"
        self.files_url = f"http://127.0.0.1:{port}/files/"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # -- what a test does --------------------------------------------------------------------

    def push(self, update: dict[str, Any]) -> None:
        self._updates.put_nowait(update)

    def fail(self, method: str, *codes: int) -> None:
        """Answer the next calls of `method` with these error codes, one each."""
        self._failures[method].extend(codes)

    @staticmethod
    def text_update(
        user_id: str, text: str, *, chat_type: str = "PRIVATE", message_id: str | None = None
    ) -> dict[str, Any]:
        return StandInZalo._update("message.text.received", user_id, chat_type, message_id, text)

    def image_update(
        self, user_id: str, name: str = "photo.png", caption: str | None = None
    ) -> dict[str, Any]:
        """The user sends a photo; its URL is that of `files[name]` here."""
        update = StandInZalo._update("message.image.received", user_id, "PRIVATE", None, None)
        update["message"]["photo"] = self.files_url + name
        if caption is not None:
            update["message"]["caption"] = caption
        return update

    @staticmethod
    def sticker_update(user_id: str) -> dict[str, Any]:
        update = StandInZalo._update("message.sticker.received", user_id, "PRIVATE", None, None)
        update["message"]["sticker"] = "abc"
        return update

    @staticmethod
    def _update(
        event: str, user_id: str, chat_type: str, message_id: str | None, text: str | None
    ) -> dict[str, Any]:
        message: dict[str, Any] = {
            "from": {"id": user_id, "display_name": f"Người {user_id}", "is_bot": False},
            "chat": {"id": user_id, "chat_type": chat_type},
            "message_id": message_id or secrets.token_hex(16),
            "date": 1764000000000 + next(_ids),
        }
        if text is not None:
            message["text"] = text
        return {"event_name": event, "message": message}

    def sent_to(self, chat_id: str) -> list[str]:
        return [
            str(p.get("text"))
            for m, p in self.calls
            if m == "sendMessage" and str(p.get("chat_id")) == chat_id
        ]

    async def wait_for(self, predicate: Predicate, timeout: float = 10.0) -> dict[str, Any]:  # noqa: ASYNC109
        """The params of the first call after the previous match that satisfies `predicate`."""

        async def find() -> dict[str, Any]:
            async with self._changed:
                while True:
                    for index in range(self._cursor, len(self.calls)):
                        method, params = self.calls[index]
                        try:
                            ok = predicate(method, params)
                        except (KeyError, TypeError, IndexError):
                            ok = False
                        if ok:
                            self._cursor = index + 1
                            return params
                    await self._changed.wait()

        try:
            return await asyncio.wait_for(find(), timeout)
        except TimeoutError:
            raise TimeoutError(
                f"no matching call in {timeout} s; last {self.calls[-6:]}, "
                f"rejected {self.rejected[-3:]}"
            ) from None

    async def reply_to(self, chat_id: str, timeout: float = 10.0) -> str:  # noqa: ASYNC109
        """The next message the bot sends to `chat_id`."""
        params = await self.wait_for(
            lambda m, p: m == "sendMessage" and p["chat_id"] == chat_id, timeout
        )
        return str(params["text"])

    async def post_webhook(
        self, url: str, update: dict[str, Any], *, secret: str | None, wrapped: bool = True
    ) -> int:
        """Deliver `update` to the bot's webhook as Zalo does; returns the HTTP status."""
        body = {"ok": True, "result": update} if wrapped else update
        headers = {"X-Bot-Api-Secret-Token": secret} if secret is not None else {}
        async with httpx.AsyncClient() as http:
            response = await http.post(url, json=body, headers=headers)
        return response.status_code

    # -- the API -----------------------------------------------------------------------------

    async def _file(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        self.downloads.append(name)
        if name not in self.files:
            return web.Response(status=404, text="Not Found")
        return web.Response(body=self.files[name], content_type="image/png")

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        method = request.match_info["method"]
        params: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            if request.content_type == "application/json":
                body = await request.json()
                if not isinstance(body, dict):
                    return _error(400, "Bad Request")
                params.update(body)
            else:
                params.update(dict(await request.post()))
        try:
            return await self._dispatch(method, params)
        finally:
            async with self._changed:
                self._changed.notify_all()

    async def _dispatch(self, method: str, params: dict[str, Any]) -> web.Response:
        if self._failures[method]:
            code = self._failures[method].popleft()
            self.calls.append((method, params))
            return _error(code, "Quota exceeded" if code == 429 else "injected failure")
        handler = getattr(self, "_m_" + method, None)
        if handler is None:
            return _error(404, "Not Found: unknown method")
        problem = self._check(method, params)
        if problem:
            self.rejected.append((method, params, problem))
            return _error(400, problem)
        if method.startswith("send") and method != "sendChatAction" and self._over_rate():
            self.too_many += 1
            return _error(429, "Quota exceeded")
        if method != "getUpdates":
            self.calls.append((method, params))
        result = await handler(params)
        if isinstance(result, web.Response):
            return result
        return _answer(200, {"ok": True, "result": result})

    def _check(self, method: str, params: dict[str, Any]) -> str | None:
        if method in ("sendMessage", "sendPhoto", "sendChatAction", "sendSticker"):
            if not isinstance(params.get("chat_id"), str) or not params["chat_id"]:
                return "Bad Request: chat_id is required"
        if method == "sendMessage":
            text = params.get("text")
            if not isinstance(text, str) or not 1 <= len(text) <= MAX_TEXT:
                return "Bad Request: text must be 1-2000 characters"
        if method == "sendPhoto":
            if not str(params.get("photo", "")).startswith(("http://", "https://")):
                return "Bad Request: photo must be a URL"
            if len(str(params.get("caption") or "")) > MAX_TEXT:
                return "Bad Request: caption too long"
        if method == "setWebhook":
            if not str(params.get("url", "")).startswith("https://"):
                return "Bad Request: url must be https"
            if not 8 <= len(str(params.get("secret_token", ""))) <= 256:
                return "Bad Request: secret_token must be 8-256 characters"
        return None

    def _over_rate(self) -> bool:
        if self.rate_limit_per_second is None:
            return False
        now = asyncio.get_running_loop().time()
        while self._sends and now - self._sends[0] >= 1.0:
            self._sends.popleft()
        if len(self._sends) >= max(1, int(self.rate_limit_per_second)):
            return True
        self._sends.append(now)
        return False

    async def _m_getMe(self, params: dict[str, Any]) -> Any:
        return {"id": "9001", "account_name": "bot.boiduong", "account_type": "BASIC"}

    async def _m_getUpdates(self, params: dict[str, Any]) -> Any:
        if self.webhook is not None:
            return _error(400, "Bad Request: webhook is active, delete it before polling")
        wait = min(float(params.get("timeout") or 0), self.poll_cap)
        try:
            update = await asyncio.wait_for(self._updates.get(), wait)
        except TimeoutError:
            return _error(408, "Request timeout")
        self.calls.append(("getUpdates", params))
        return update

    async def _m_setWebhook(self, params: dict[str, Any]) -> Any:
        self.webhook = {"url": params["url"], "secret_token": params["secret_token"]}
        return {"url": params["url"], "updated_at": 1764000000000}

    async def _m_deleteWebhook(self, params: dict[str, Any]) -> Any:
        self.webhook = None
        return {"url": "", "updated_at": 1764000000000}

    async def _m_getWebhookInfo(self, params: dict[str, Any]) -> Any:
        return {"url": (self.webhook or {}).get("url", ""), "updated_at": 1764000000000}

    async def _m_sendMessage(self, params: dict[str, Any]) -> Any:
        return {"message_id": secrets.token_hex(16), "date": 1764000000000}

    async def _m_sendPhoto(self, params: dict[str, Any]) -> Any:
        return {"message_id": secrets.token_hex(16), "date": 1764000000000}

    async def _m_sendChatAction(self, params: dict[str, Any]) -> Any:
        return {}


@dataclass
class Zalo:
    """A Zalo bot of ours talking to a stand-in: what a test drives (fixture `zalo`)."""

    srv: StandInZalo
    client: ZaloClient
    bot: ZaloBot
    db: async_sessionmaker[AsyncSession]
    settings: Settings

    async def say(self, user: str, text: str) -> list[str]:
        """Send `text` as `user` and return every message the bot answered with."""
        before = len(self.srv.sent_to(user))
        await self.bot.handle(self.srv.text_update(user, text))
        return self.srv.sent_to(user)[before:]

    async def offer(self, user: str, choices: Sequence[Choice]) -> None:
        """Make `choices` the chat's current list between its turns, as an answer of the bot
        would (the state is a database row: loaded, changed and written back)."""
        dialogs, now = self.bot.dialogs, datetime.now(UTC)
        async with dialogs.turn(user):
            await dialogs.load(user, now)
            dialogs.offer(user, choices, now)
            await dialogs.save(user, now)

    async def dialog(self, user: str) -> ChatState:
        """The chat's stored conversation state, as its next update will find it."""
        dialogs, now = self.bot.dialogs, datetime.now(UTC)
        async with dialogs.turn(user):
            await dialogs.load(user, now)
            state = dialogs.state(user, now)
            dialogs.drop(user)
        return state

    def sender(self) -> ZaloSender:
        return ZaloSender(self.client, self.bot.dialogs, Pacer(1000))

    async def drain(self, bot: Any = None) -> int:
        res = Resources(settings=self.settings, db=self.db)
        telegram = [TelegramSender(bot, Pacer(1000))] if bot is not None else []
        return await drain_once(res, [*telegram, self.sender()])
