"""Webhook mode: Zalo POSTs each update to our https URL with the secret in a header.

The secret (`X-Bot-Api-Secret-Token`) is compared in constant time; bodies come wrapped
(`{"ok": true, "result": {...}}`) or flat (the update itself), and both are accepted. Zalo is
answered at once and the update is handled in the background, so a slow answer never makes
Zalo deliver it again; repeated deliveries that do arrive are dropped by ZaloBot. The server is
tornado's, already installed with python-telegram-bot's webhook extra; put it behind a TLS
reverse proxy (nginx, Caddy) that forwards the public URL to ZALO_WEBHOOK_LISTEN.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
from typing import Any
from urllib.parse import urlsplit

from tornado.httpserver import HTTPServer
from tornado.web import Application, RequestHandler, stream_request_body

from bot.zalo.conversation import ZaloBot

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Bot-Api-Secret-Token"
MAX_BODY = 1024 * 1024
# A Zalo update is a few objects deep; json.loads recurses once per level, and 100,000 levels
# raise RecursionError from the middle of the parser. Deeper bodies are refused before parsing.
MAX_DEPTH = 32
# Bodies over MAX_BODY are read to the end, dropped, and answered 413: a client gets the answer
# only once it has sent its body. Tornado closes the connection without a word past this size.
_HARD_BODY_LIMIT = 64 * 1024 * 1024
_JSON_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def too_deep(raw: bytes) -> bool:
    """Whether brackets outside strings nest deeper than MAX_DEPTH; one linear pass."""
    depth = 0
    for m in _JSON_TOKEN.finditer(raw):
        token = m.group()
        if token in (b"[", b"{"):
            depth += 1
            if depth > MAX_DEPTH:
                return True
        elif token in (b"]", b"}"):
            depth -= 1
    return False


def unwrap(body: Any) -> dict[str, Any] | None:
    """The update inside a wrapped body, or the flat body itself; None if neither."""
    if not isinstance(body, dict):
        return None
    inner = body.get("result")
    if isinstance(inner, dict) and "event_name" in inner:
        return inner
    return body if "event_name" in body else None


class Webhook:
    """Checks and accepts deliveries; `accept` is the whole protocol, the server only wraps it."""

    def __init__(self, bot: ZaloBot, secret: str) -> None:
        self.bot = bot
        self._secret = secret.encode()
        self._tasks: set[asyncio.Task[Any]] = set()

    def accept(self, secret: str | None, raw: bytes, *, too_large: bool = False) -> int:
        """The HTTP status to answer with; a good update is queued for handling."""
        if secret is None or not hmac.compare_digest(secret.encode(), self._secret):
            log.warning("zalo webhook call with a wrong or missing secret refused")
            return 403
        if too_large or len(raw) > MAX_BODY:
            return 413
        try:
            update = None if too_deep(raw) else unwrap(json.loads(raw))
        except (ValueError, RecursionError):
            update = None
        if update is None:
            return 400
        task = asyncio.create_task(self.bot.handle(update))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return 200

    async def drain(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


@stream_request_body
class _Handler(RequestHandler):
    """Reads the body as it comes, keeping at most MAX_BODY bytes of it."""

    def initialize(self, webhook: Webhook) -> None:
        self.webhook = webhook
        self._body = bytearray()
        self._over = False

    def data_received(self, chunk: bytes) -> None:
        if len(self._body) + len(chunk) > MAX_BODY:
            self._over = True
        if not self._over:
            self._body += chunk

    def post(self) -> None:
        secret = self.request.headers.get(SECRET_HEADER)
        self._answer(self.webhook.accept(secret, bytes(self._body), too_large=self._over))

    def _answer(self, status: int) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"ok": status == 200}))


async def serve(
    bot: ZaloBot, *, url: str, secret: str, listen: str, stop: asyncio.Event, register: bool = True
) -> None:
    """Register the webhook with Zalo (unless another worker does) and answer deliveries until
    `stop` is set."""
    webhook = Webhook(bot, secret)
    path = urlsplit(url).path or "/"
    host, _, port = listen.rpartition(":")
    app = Application([(path, _Handler, {"webhook": webhook})])
    server = HTTPServer(app, max_body_size=_HARD_BODY_LIMIT)
    server.listen(int(port), address=host)
    try:
        if register:
            await bot.client.set_webhook(url, secret)
            log.info("zalo webhook set to %s", url)
        log.info("zalo webhook listening on %s", listen)
        await stop.wait()
    finally:
        server.stop()
        await server.close_all_connections()
        await webhook.drain()
