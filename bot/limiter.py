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
import sys
import time
from collections.abc import Callable, Coroutine
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from telegram.error import BadRequest, NetworkError, RetryAfter
from telegram.ext import BaseRateLimiter

from config.instruments import RATE_LIMITED, SENDS
from schedules.pacing import Pacer

log = logging.getLogger(__name__)

# Set by PriorityPacer.wait in the waiting task: the slot its next send has been given.
_turn: ContextVar[_Slot | None] = ContextVar("turn", default=None)
# Methods Telegram counts against the per-bot message limit.
_COUNTED = ("send", "copymessage", "copymessages", "forwardmessage", "forwardmessages")
_UNCOUNTED = frozenset({"sendchataction"})
MAX_RETRIES = 3
# A slot handed out but not used by a send within this time was given up (the sender stopped
# or put its message off): it no longer holds the window open.
UNUSED_AFTER = 0.5
# Replies go first, but after this many in a row a background send gets its turn.
URGENT_STREAK = 10


@dataclass
class _Slot:
    start: float  # when the send was let go
    sending: bool = False  # a request took the slot
    end: float | None = None  # when its answer came: Telegram had counted it by then

    def counted_by(self, now: float) -> float:
        """The latest moment Telegram may have counted this send, as far as we know now."""
        if self.end is not None:
            return self.end
        if not self.sending and now - self.start > UNUSED_AFTER:
            return self.start
        return now  # still in flight: it may reach Telegram any moment


class PriorityPacer(Pacer):
    """The shared pacer: at most `floor(rate)` sends in any one-second window as Telegram
    counts them, at least 0.8 of an interval apart, with a fast lane: `wait(urgent=True)`
    takes the next free slot ahead of the background senders, who give way while any urgent
    sender waits.

    The window is kept on the answers, not on the departures. Telegram counts a send at some
    moment between its departure and its answer, so a send may leave only while fewer than
    `floor(rate)` earlier ones were answered less than a second ago or are still unanswered:
    then no one-second window of Telegram's holds more than `floor(rate)` of ours, however
    late a request leaves our process or is read on the other end (a pause of the event loop
    or of the server bunches requests; a window kept on departures gave a 429 on such a bunch
    now and then). The cost is one round trip a second: 29/s becomes about 28.8/s on a 5 ms
    round trip. A request without an answer holds one seat until it has one (after a timeout,
    a second longer: Telegram may still count it).
    """

    WINDOW = 1.0

    def __init__(self, rate: float) -> None:
        super().__init__(rate)
        self.per_window = max(1, int(rate))
        self.gap = self.interval * 0.8
        self._slots: collections.deque[_Slot] = collections.deque()
        self._hold_until = 0.0
        self._urgent = 0  # urgent senders waiting for a slot
        self._streak = 0  # slots taken by urgent senders in a row

    def _free(self, now: float) -> float:
        """The earliest moment a send may go, given the slots already taken: fewer than
        `per_window` sends may still be counted by Telegram in a second that includes a send
        leaving now. A send whose answer has not come may be counted any moment, so it holds
        one seat until it is answered (one slow request does not stop the others)."""
        self._slots = collections.deque(
            s for s in self._slots if s.counted_by(now) + self.WINDOW > now
        )
        slot = max(now, self._hold_until)
        if self._slots:
            slot = max(slot, self._slots[-1].start + self.gap)
        if len(self._slots) >= self.per_window:
            frees = sorted(s.counted_by(now) + self.WINDOW for s in self._slots)
            slot = max(slot, frees[len(frees) - self.per_window])
        return slot

    async def wait(self, *, urgent: bool = False) -> None:
        if (previous := _turn.get()) is not None and not previous.sending:
            previous.end = previous.start  # this task gave its last turn up
        if urgent:
            self._urgent += 1
            try:
                taken = await self._take(give_way=False)
            finally:
                self._urgent -= 1
        else:
            async with self._lock:  # background senders go one after another
                taken = await self._take(give_way=True)
        _turn.set(taken)

    async def _take(self, *, give_way: bool) -> _Slot:
        """Nap until a send may go (an answer may free a slot sooner than foreseen), then take
        the slot at that very moment: a slot is only ever taken by a send that is leaving.
        A background sender lets every urgent one waiting go first."""
        while True:
            now = time.monotonic()
            slot = self._free(now)
            if slot <= now and not (give_way and self._urgent and self._streak < URGENT_STREAK):
                taken = _Slot(now)
                self._slots.append(taken)
                self._streak = self._streak + 1 if not give_way else 0
                return taken
            delay = slot - now if slot > now else self.gap  # free, but urgent ones go first
            await asyncio.sleep(min(delay, 0.1))

    def hold(self, seconds: float) -> None:
        """Send nothing for `seconds`: Telegram answered 429, so our pace was not enough."""
        self._hold_until = max(self._hold_until, time.monotonic() + seconds)


def take_turn() -> _Slot | None:
    """The slot the current task has just waited for, if any (and use it up)."""
    slot = _turn.get()
    if slot is None or slot.sending:
        return None
    slot.sending = True
    return slot


def _answered(slot: _Slot) -> None:
    """The send's request is over. Without an answer (a timeout, a broken connection) Telegram
    may still count it a little later: it keeps its seat a second longer."""
    failed = sys.exc_info()[1]
    # BadRequest is a NetworkError too, but it is an answer.
    unanswered = isinstance(failed, NetworkError) and not isinstance(failed, BadRequest)
    slot.end = time.monotonic() + (PriorityPacer.WINDOW if unanswered else 0.0)


def _seconds(value: float | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


async def _send(
    callback: Callable[..., Coroutine[Any, Any, Any]], args: Any, kwargs: dict[str, Any]
) -> Any:
    """Make one counted send, counting it (or its 429) for /metrics."""
    try:
        result = await callback(*args, **kwargs)
    except RetryAfter:
        RATE_LIMITED.labels("telegram").inc()
        raise
    SENDS.labels("telegram").inc()
    return result


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
        if (slot := take_turn()) is not None:
            # A drainer's send: it handles 429 itself (reschedules the row), but everyone
            # else must pause too.
            try:
                return await _send(callback, args, kwargs)
            except RetryAfter as exc:
                self.pacer.hold(_seconds(exc.retry_after))
                raise
            finally:
                _answered(slot)
        for attempt in range(MAX_RETRIES + 1):
            await self.pacer.wait(urgent=True)
            slot = take_turn()
            try:
                return await _send(callback, args, kwargs)
            except RetryAfter as exc:
                self.pacer.hold(_seconds(exc.retry_after))
                if attempt == MAX_RETRIES:
                    raise
                log.warning("flood limit on %s: retrying in %s s", endpoint, exc.retry_after)
            finally:
                if slot is not None:
                    _answered(slot)
        raise AssertionError("unreachable")
