"""A small async client of the Zalo Bot Platform API (`<base><token>/<method>`, JSON answers).

Zalo's API is about eight methods and resembles Telegram's, without buttons, offsets or rate
figures; owning these few lines is safer than depending on an unmaintained fork.
"""

from __future__ import annotations

import asyncio
import logging
import mimetypes
import posixpath
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx

from config.instruments import RATE_LIMITED, SENDS
from domain.claims import is_heif
from handlers.core import Downloaded, DownloadFailed

log = logging.getLogger(__name__)

MAX_TEXT = 2000  # sendMessage text and sendPhoto caption, in characters
NOTHING_NEW = 408  # getUpdates: the long poll ended without an update
DOWNLOAD_TIMEOUT = 30.0  # seconds for a whole download, however slowly it trickles
# The photo formats kept as evidence, by their first bytes (the header may be missing or wrong).
IMAGE_TYPES: dict[str, Callable[[bytes], bool]] = {
    "image/jpeg": lambda b: b.startswith(b"\xff\xd8\xff"),
    "image/png": lambda b: b.startswith(b"\x89PNG\r\n\x1a\n"),
    "image/gif": lambda b: b.startswith((b"GIF87a", b"GIF89a")),
    "image/webp": lambda b: b[:4] == b"RIFF" and b[8:12] == b"WEBP",
    "image/heic": is_heif,  # the same brands as evidence sent on Telegram
}


class ZaloError(Exception):
    """The API answered `ok: false` (or an HTTP error without a body)."""

    def __init__(self, code: int, description: str) -> None:
        super().__init__(f"{code}: {description}")
        self.code = code
        self.description = description


class ZaloForbidden(ZaloError):
    """403: the user cannot be messaged (blocked the bot, or never talked to it)."""


class ZaloRateLimited(ZaloError):
    """429 "Quota exceeded": Zalo gives no retry-after, so callers back off on their own."""


class ZaloUnauthorized(ZaloError):
    """401: the token is wrong or revoked; retrying cannot help."""


class ZaloNetworkError(ZaloError):
    """No answer from the API (connection refused, timeout, reset)."""


_BY_CODE: dict[int, type[ZaloError]] = {
    401: ZaloUnauthorized,
    403: ZaloForbidden,
    429: ZaloRateLimited,
}


class ZaloClient:
    """One bot token; every method returns the `result` of the answer or raises ZaloError."""

    def __init__(
        self,
        token: str,
        *,
        base_url: str = "https://bot-api.zaloplatforms.com/bot",
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._url = f"{base_url}{token}/"
        self._timeout = timeout
        self._http = httpx.AsyncClient(timeout=timeout, transport=transport)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> ZaloClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def call(self, method: str, *, http_timeout: float | None = None, **params: Any) -> Any:
        """POST `params` as JSON to `method` and return the answer's `result`."""
        body = {k: v for k, v in params.items() if v is not None}
        try:
            response = await self._http.post(
                self._url + method,
                json=body,
                timeout=self._timeout if http_timeout is None else http_timeout,
            )
        except httpx.HTTPError as exc:
            raise ZaloNetworkError(0, f"{type(exc).__name__}: {exc}") from exc
        try:
            answer = response.json()
        except ValueError:
            answer = {"ok": False, "error_code": response.status_code, "description": "not JSON"}
        if not isinstance(answer, dict):
            raise ZaloError(response.status_code, "unexpected answer")
        counted = method.startswith("send") and method != "sendChatAction"
        if answer.get("ok"):
            if counted:
                SENDS.labels("zalo").inc()
            return answer.get("result")
        code = int(answer.get("error_code") or response.status_code or 0)
        if counted and code == 429:
            RATE_LIMITED.labels("zalo").inc()
        description = str(answer.get("description") or answer.get("message") or "")
        raise _BY_CODE.get(code, ZaloError)(code, description)

    async def get_me(self) -> dict[str, Any]:
        return dict(await self.call("getMe"))

    async def get_updates(self, *, timeout: int = 30) -> dict[str, Any] | None:  # noqa: ASYNC109 -- the API parameter
        """One update, or None when the long poll ended with nothing new (408)."""
        try:
            result = await self.call("getUpdates", http_timeout=timeout + 10, timeout=timeout)
        except ZaloError as exc:
            if exc.code == NOTHING_NEW:
                return None
            raise
        # Documented as one object; tolerate a list in case the platform starts batching.
        if isinstance(result, list):
            return result[0] if result else None
        return result if isinstance(result, dict) and result else None

    async def set_webhook(self, url: str, secret_token: str) -> Any:
        return await self.call("setWebhook", url=url, secret_token=secret_token)

    async def delete_webhook(self) -> Any:
        return await self.call("deleteWebhook")

    async def get_webhook_info(self) -> dict[str, Any]:
        return dict(await self.call("getWebhookInfo") or {})

    async def send_message(self, chat_id: str, text: str) -> dict[str, Any]:
        if not 1 <= len(text) <= MAX_TEXT:
            raise ValueError(f"text must be 1–{MAX_TEXT} characters, got {len(text)}")
        return dict(await self.call("sendMessage", chat_id=chat_id, text=text) or {})

    async def send_photo(self, chat_id: str, photo: str, caption: str | None = None) -> Any:
        if caption is not None and len(caption) > MAX_TEXT:
            raise ValueError(f"caption must be at most {MAX_TEXT} characters")
        return await self.call("sendPhoto", chat_id=chat_id, photo=photo, caption=caption)

    async def download_image(self, url: str, *, max_bytes: int) -> Downloaded:
        """The image at `url` (the photo of a `message.image.received` update), at most
        `max_bytes` long; read in pieces so a larger one is dropped without being held."""
        if urlsplit(url).scheme not in ("http", "https"):
            raise DownloadFailed(f"not an http(s) URL: {url[:100]}")
        chunks: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(DOWNLOAD_TIMEOUT):
                async with self._http.stream("GET", url, follow_redirects=True) as response:
                    if response.status_code != 200:
                        raise DownloadFailed(f"HTTP {response.status_code}")
                    mime = response.headers.get("content-type", "").split(";")[0].strip().lower()
                    if mime and mime not in IMAGE_TYPES:
                        raise DownloadFailed(
                            f"not a photo: {mime[:50]}", DownloadFailed.NOT_A_PHOTO
                        )
                    declared = response.headers.get("content-length", "")
                    if declared.isdigit() and int(declared) > max_bytes:
                        raise DownloadFailed(
                            f"{declared} bytes, more than {max_bytes}", DownloadFailed.TOO_LARGE
                        )
                    async for chunk in response.aiter_bytes():
                        size += len(chunk)
                        if size > max_bytes:
                            raise DownloadFailed(
                                f"more than {max_bytes} bytes", DownloadFailed.TOO_LARGE
                            )
                        chunks.append(chunk)
        except TimeoutError as exc:
            raise DownloadFailed(f"no complete answer in {DOWNLOAD_TIMEOUT} s") from exc
        except httpx.HTTPError as exc:
            raise DownloadFailed(f"{type(exc).__name__}: {exc}") from exc
        if not size:
            raise DownloadFailed("empty file")
        content = b"".join(chunks)
        sniffed = next((t for t, magic in IMAGE_TYPES.items() if magic(content)), None)
        if sniffed is None:  # whatever the header said: only photos are kept and shown
            raise DownloadFailed(f"not a photo ({mime or 'no type'})", DownloadFailed.NOT_A_PHOTO)
        mime = sniffed
        name = posixpath.basename(urlsplit(url).path)[-100:]
        if "." not in name:
            name = "photo" + (mimetypes.guess_extension(mime) or ".jpg")
        return Downloaded(content, name, mime)

    async def send_chat_action(self, chat_id: str, action: str = "typing") -> Any:
        return await self.call("sendChatAction", chat_id=chat_id, action=action)
