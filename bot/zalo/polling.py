"""Long polling: one update per getUpdates call, 408 when nothing is new, back-off on errors.

Polling and a webhook exclude each other, so the webhook is deleted first. Each update is
answered in its own task (a slow answer never holds the next poll); ZaloBot keeps one chat's
updates in order.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from bot.zalo.client import ZaloError, ZaloUnauthorized
from bot.zalo.conversation import ZaloBot

log = logging.getLogger(__name__)

POLL_TIMEOUT = 30  # seconds Zalo holds a getUpdates call open
BACKOFF_FIRST = 1.0
BACKOFF_MAX = 60.0


class Poller:
    def __init__(
        self,
        bot: ZaloBot,
        *,
        timeout: int = POLL_TIMEOUT,
        backoff_first: float = BACKOFF_FIRST,
        backoff_max: float = BACKOFF_MAX,
    ) -> None:
        self.bot = bot
        self.timeout = timeout
        self.backoff_first = backoff_first
        self.backoff_max = backoff_max
        self.errors = 0  # consecutive failed polls (exposed for tests and logs)
        self._tasks: set[asyncio.Task[Any]] = set()

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until `stop` is set; answers still running are awaited before returning."""
        client = self.bot.client
        await self._retrying(client.delete_webhook, stop)
        me = await self._retrying(client.get_me, stop)
        if me is not None:
            log.info("zalo bot %s is polling", me.get("account_name") or me.get("id"))
        delay = self.backoff_first
        while not stop.is_set():
            poll = asyncio.ensure_future(client.get_updates(timeout=self.timeout))
            halt = asyncio.ensure_future(stop.wait())
            await asyncio.wait({poll, halt}, return_when=asyncio.FIRST_COMPLETED)
            halt.cancel()
            if not poll.done():
                poll.cancel()
                break
            try:
                update = poll.result()
            except ZaloUnauthorized:
                log.error("the Zalo token was refused (401); check ZALO_BOT_TOKEN")
                raise
            except ZaloError as exc:
                self.errors += 1
                log.warning("zalo getUpdates failed (%s); retrying in %.1f s", exc, delay)
                await _sleep(delay, stop)
                delay = min(delay * 2, self.backoff_max)
                continue
            self.errors, delay = 0, self.backoff_first
            if update is not None:
                task = asyncio.create_task(self.bot.handle(update))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _retrying(self, call: Any, stop: asyncio.Event) -> Any:
        delay = self.backoff_first
        while not stop.is_set():
            try:
                return await call()
            except ZaloUnauthorized:
                log.error("the Zalo token was refused (401); check ZALO_BOT_TOKEN")
                raise
            except ZaloError as exc:
                log.warning("zalo %s failed (%s); retrying in %.1f s", call.__name__, exc, delay)
                await _sleep(delay, stop)
                delay = min(delay * 2, self.backoff_max)
        return None


async def _sleep(seconds: float, stop: asyncio.Event) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        pass
