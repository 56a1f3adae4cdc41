"""Even spacing of sends, one pacer per channel (each channel has its own limits)."""

from __future__ import annotations

import asyncio
import time


class Pacer:
    """Spaces sends evenly at `rate` per second, so the bot stays under a channel's limit by
    itself instead of waiting for 429s. One per channel and process; every sender shares it."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        async with self._lock:
            now = time.monotonic()
            if self._next > now:
                await asyncio.sleep(self._next - now)
            self._next = max(self._next, now) + self.interval
