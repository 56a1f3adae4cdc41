"""A strict local stand-in for the Telegram Bot API over HTTP, for end-to-end tests.

It serves `/bot<token>/<method>` and `/file/bot<token>/<path>` on 127.0.0.1 from an
`OfflineBotAPI` that checks every call against the published spec, inside the test's event loop:

    async with StandInBotAPI(token="123:ABC") as srv:
        ...start the bot with base_url=srv.base_url, base_file_url=srv.base_file_url...
        srv.api.push(srv.api.message_update(user, "/start"))
        method, params = await srv.wait_for(lambda m, p: m == "sendMessage")
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import math
from collections.abc import Callable
from types import TracebackType
from typing import Any

from aiohttp import web

from bot.offline import MAX_UPLOAD, BotAPIError, OfflineBotAPI, merge_uploads
from tests.botapi.validator import SpecValidator

log = logging.getLogger(__name__)

Predicate = Callable[[str, dict[str, Any]], bool]
# Telegram's flood limits apply to messages sent, not to edits, answers or polling.
_UNLIMITED_SENDS = frozenset({"sendchataction"})


def _json(status: int, body: dict[str, Any]) -> web.Response:
    return web.json_response(body, status=status, dumps=lambda b: json.dumps(b, ensure_ascii=False))


class StandInBotAPI:
    """An aiohttp server on a free local port; `api` is the OfflineBotAPI behind it."""

    def __init__(
        self,
        token: str = "123:ABC",
        *,
        rate_limit_per_second: float | None = None,
        validator: SpecValidator | None = None,
    ) -> None:
        self.token = token
        self.validator = validator or SpecValidator()
        self.api = OfflineBotAPI(token=token, validator=self.validator)
        self.rate_limit_per_second = rate_limit_per_second
        self.too_many = 0  # calls answered 429 by the rate limit
        self.base_url = ""
        self.base_file_url = ""
        self._sends: collections.deque[float] = collections.deque()
        self._runner: web.AppRunner | None = None
        self._changed: asyncio.Condition | None = None
        self._cursor = 0

    @property
    def rejected(self) -> list[tuple[str, dict[str, Any], str]]:
        """Calls the validator refused: (method, params, description)."""
        return self.api.rejected

    async def start(self) -> None:
        self._changed = asyncio.Condition()
        app = web.Application(client_max_size=MAX_UPLOAD + 1024 * 1024)
        app.router.add_route("GET", "/bot{token}/{method}", self._handle_api)
        app.router.add_route("POST", "/bot{token}/{method}", self._handle_api)
        app.router.add_route("GET", "/file/bot{token}/{path:.+}", self._handle_file)
        # A short shutdown grace: long polls are ended by stop_waiting() before cleanup.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}/bot"
        self.base_file_url = f"http://127.0.0.1:{port}/file/bot"
        log.info("stand-in Bot API listening on %s", self.base_url)

    async def stop(self) -> None:
        self.api.stop_waiting()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> StandInBotAPI:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def wait_for(
        self,
        predicate: Predicate,
        timeout: float = 10.0,  # noqa: ASYNC109 -- the e2e tests' documented signature
        *,
        since: int | None = None,
    ) -> tuple[str, dict[str, Any]]:
        """The first accepted call matching `predicate`, waiting for it if need be.

        The search starts after the call returned by the previous wait_for (or at index `since`
        of api.calls), so a test can wait for replies one after another without re-matching old
        ones. A predicate raising KeyError/TypeError/IndexError counts as "no match", so
        `lambda m, p: "Chào" in p["text"]` may be used while getUpdates calls go by.
        """
        assert self._changed is not None, "start the stand-in first"
        changed = self._changed
        start = self._cursor if since is None else since

        async def find() -> tuple[str, dict[str, Any]]:
            nonlocal start
            async with changed:
                while True:
                    calls = self.api.calls
                    for index in range(start, len(calls)):
                        if _matches(predicate, *calls[index]):
                            self._cursor = index + 1
                            return calls[index]
                    start = len(calls)
                    await changed.wait()

        try:
            return await asyncio.wait_for(find(), timeout)
        except TimeoutError:
            recent = [m for m, _ in self.api.calls[-10:]]
            raise TimeoutError(
                f"no matching call within {timeout} s; last calls {recent}, "
                f"rejected {[(m, d) for m, _, d in self.rejected]}, "
                f"failed {[(m, d) for m, _, d in self.api.failed]}"
            ) from None

    async def _handle_api(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _json(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
        method = request.match_info["method"]
        try:
            self._check_rate(method)
            raw, files = await _read_params(request)
            try:
                params = merge_uploads(self.validator.decode(method, raw), files)
            except BotAPIError as exc:
                self.api.rejected.append((method, raw, exc.description))
                raise
            result = await self.api.call(method, params)
        except BotAPIError as exc:
            return _json(exc.code, exc.payload())
        finally:
            await self._notify()
        return _json(200, {"ok": True, "result": result})

    async def _handle_file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _json(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
        try:
            content = self.api.file_bytes(request.match_info["path"])
        except KeyError:
            return _json(404, {"ok": False, "error_code": 404, "description": "Not Found"})
        return web.Response(body=content, content_type="application/octet-stream")

    def _check_rate(self, method: str) -> None:
        """A strict sliding one-second window over send methods."""
        name = method.lower()
        if self.rate_limit_per_second is None or not name.startswith(
            ("send", "copymessage", "forwardmessage")
        ):
            return
        if name in _UNLIMITED_SENDS:
            return
        now = asyncio.get_running_loop().time()
        while self._sends and now - self._sends[0] >= 1.0:
            self._sends.popleft()
        if len(self._sends) >= max(1, int(self.rate_limit_per_second)):
            self.too_many += 1
            retry_after = max(1, math.ceil(1.0 - (now - self._sends[0])))
            raise BotAPIError(429, f"Too Many Requests: retry after {retry_after}", retry_after)
        self._sends.append(now)

    async def _notify(self) -> None:
        if self._changed is not None:
            async with self._changed:
                self._changed.notify_all()


def _matches(predicate: Predicate, method: str, params: dict[str, Any]) -> bool:
    try:
        return bool(predicate(method, params))
    except (KeyError, TypeError, IndexError):
        return False


async def _read_params(request: web.Request) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Query string plus body (form, multipart or JSON), as the Bot API accepts them."""
    raw: dict[str, Any] = dict(request.query)
    files: dict[str, dict[str, Any]] = {}
    if request.method != "POST" or not request.body_exists:
        return raw, files
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            raise BotAPIError(400, "Bad Request: can't parse JSON request body") from None
        if not isinstance(body, dict):
            raise BotAPIError(400, "Bad Request: JSON request body must be an object")
        raw.update(body)
        return raw, files
    form = await request.post()
    for name, value in form.items():
        if isinstance(value, web.FileField):
            files[name] = {"filename": value.filename, "content": value.file.read()}
        else:
            raw[name] = value
    return raw, files
