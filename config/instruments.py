"""The bot's Prometheus instruments, served by bot/metrics.py at /metrics.

Module-level, as prometheus_client intends (one registry per process); this module imports
nothing but the library, so the update loop, the senders of every channel and the planner can
count without pulling in the server.
"""

from __future__ import annotations

import re
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

UPDATES = Counter("boiduong_updates", "Updates received, by channel and kind", ["channel", "kind"])
UPDATE_SECONDS = Histogram(
    "boiduong_update_seconds",
    "Time to handle one update, from its arrival to the end of its handlers",
    ["channel"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
DUPLICATES = Counter(
    "boiduong_duplicate_updates",
    "Updates dropped unhandled: redelivered, or taken by another worker; by channel",
    ["channel"],
)
SENDS = Counter("boiduong_sends", "Messages sent (and accepted), by channel", ["channel"])
RATE_LIMITED = Counter(
    "boiduong_rate_limited", "Sends answered 429 (too many requests), by channel", ["channel"]
)
PLANNER_SECONDS = Histogram(
    "boiduong_planner_pass_seconds",
    "Time of one reminder planner pass over every linked person",
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600),
)
BACKLOG = Gauge("boiduong_backlog_rows", "Open reminder and broadcast rows", ["table", "state"])
OLDEST_DUE = Gauge(
    "boiduong_oldest_due_age_seconds",
    "Age of the oldest pending row already due (0 when none is)",
    ["table"],
)
DATABASE_UP = Gauge("boiduong_database_up", "1 when the last scrape could query the database")

_ZALO_EVENT = re.compile(r"message(\.[a-z_]{1,20}){1,3}")


def zalo_kind(update: dict[str, Any]) -> str:
    name = str(update.get("event_name") or "")
    return name if _ZALO_EVENT.fullmatch(name) else "other"
