"""The clock of a process without Telegram (one serving only Zalo): what PTB's JobQueue runs
otherwise (bot/jobs.py), as plain asyncio loops.

The notification drainer, the broadcast drainer, the reminder planner and the expiry of held
seats each run in a loop of their own, so that a long broadcast does not hold reminders up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from config.resources import Resources
from schedules.broadcasts import drain_broadcasts
from schedules.channels import Sender
from schedules.notifications import EXPIRE_INTERVAL, drain_once, expire_all, plan_all

log = logging.getLogger(__name__)


async def run_schedules(res: Resources, senders: Sequence[Sender], stop: asyncio.Event) -> None:
    """Run every scheduled job on `senders` until `stop` is set."""
    settings = res.settings
    drain = settings.drain_interval_seconds

    def running() -> bool:
        return not stop.is_set()

    def broadcasts() -> Awaitable[int]:
        return drain_broadcasts(res, senders, running=running)

    expire = EXPIRE_INTERVAL.total_seconds()
    loops = [
        _every(stop, lambda: drain_once(res, senders, running=running), drain, first=0),
        _every(stop, broadcasts, drain, first=0),
        _every(stop, lambda: expire_all(res), expire, first=drain),
    ]
    if settings.worker == 0:  # one of several workers plans for all
        loops.append(_every(stop, lambda: plan_all(res), settings.plan_interval_minutes * 60,
                            first=5))  # fmt: skip
    await asyncio.gather(*loops)


async def _every(
    stop: asyncio.Event, work: Callable[[], Awaitable[Any]], seconds: float, *, first: float
) -> None:
    """Run `work` after `first` seconds, then `seconds` after each run ends, until `stop`."""
    delay = first
    while True:
        try:
            await asyncio.wait_for(stop.wait(), timeout=delay)
            return
        except TimeoutError:
            pass
        try:
            await work()
        except Exception:  # a bad tick must not end the loop; the rows stay the truth
            log.exception("scheduled work failed")
        delay = seconds
