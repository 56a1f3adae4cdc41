"""One pace for every message the bot sends: replies to users, reminders and broadcasts.

Telegram allows about 30 messages a second per bot and answers 429 above it. Background
senders (the reminder and broadcast drainers) wait their turn on the shared pacer before each
send; replies that handlers send pass through `PacedLimiter`, which gives them the next free
slot ahead of the background queue. So a broadcast running at the full pace neither delays a
reply by more than a slot or two nor pushes the total over the limit with it.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Callable, Coroutine
from contextvars import ContextVar
from datetime import timedelta
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

from schedules.pacing import Pacer

log = logging.getLogger(__name__)

# Set by PriorityPacer.wait in the waiting task: its next send has already had its turn.
_paced: ContextVar[bool] = ContextVar("paced", default=False)
# Methods Telegram counts against the per-bot message limit.
_COUNTED = ("send", "copymessage", "copymessages", "forwardmessage", "forwardmessages")
_UNCOUNTED = frozenset({"sendchataction"})
MAX_RETRIES = 3


class PriorityPacer(Pacer):
    """The shared pacer: at most `floor(rate)` sends in any one-second window, at least half an
    interval apart, with a fast lane: `wait(urgent=True)` takes the next free slot ahead of
    the background senders queued on the lock.

    A window, not a fixed grid: a sender that wakes a few milliseconds late does not lose its
    slot for good (re-basing a grid on every late wake-up cost a fifth of the rate under
    load), yet no window ever holds more than the cap, whatever the lateness.
    """

    WINDOW = 1.0

    def __init__(self, rate: float) -> None:
        super().__init__(rate)
        self.per_window = max(1, int(rate))
        self.gap = self.interval * 0.8
        self._slots: collections.deque[float] = collections.deque(maxlen=self.per_window)
        self._hold_until = 0.0

    def _free(self, now: float) -> float:
        """The earliest moment a send may go, given the slots already taken."""
        slot = max(now, self._hold_until)
        if self._slots:
            slot = max(slot, self._slots[-1] + self.gap)
        if len(self._slots) == self.per_window:
            slot = max(slot, self._slots[0] + self.WINDOW)
        return slot

    async def wait(self, *, urgent: bool = False) -> None:
        if urgent:
            now = time.monotonic()
            slot = self._free(now)
            self._slots.append(slot)
            if slot > now:
                await asyncio.sleep(slot - now)
        else:
            async with self._lock:
                # Sleep until the slot is free; an urgent send may take it meanwhile.
                now = time.monotonic()
                slot = self._free(now)
                while slot > now:
                    await asyncio.sleep(slot - now)
                    now = time.monotonic()
                    slot = self._free(now)
                self._slots.append(now)
        _paced.set(True)

    def hold(self, seconds: float) -> None:
        """Send nothing for `seconds`: Telegram answered 429, so our pace was not enough."""
        self._hold_until = max(self._hold_until, time.monotonic() + seconds)


def take_turn() -> bool:
    """Whether the current task has just waited its turn on the pacer (and use it up)."""
    if _paced.get():
        _paced.set(False)
        return True
    return False


def _seconds(value: float | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class PacedLimiter(BaseRateLimiter[None]):
    """Every counted send goes out on the pacer: already paced by a drainer, or as urgent."""

    def __init__(self, pacer: PriorityPacer) -> None:
        self.pacer = pacer

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        name = endpoint.lower()
        counted = name.startswith(_COUNTED) and name not in _UNCOUNTED
        if not counted:
            return await callback(*args, **kwargs)
        if take_turn():
            # A drainer's send: it handles 429 itself (reschedules the row), but everyone
            # else must pause too.
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                self.pacer.hold(_seconds(exc.retry_after))
                raise
        for attempt in range(MAX_RETRIES + 1):
            await self.pacer.wait(urgent=True)
            take_turn()
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                self.pacer.hold(_seconds(exc.retry_after))
                if attempt == MAX_RETRIES:
                    raise
                log.warning("flood limit on %s: retrying in %s s", endpoint, exc.retry_after)
        raise AssertionError("unreachable")
