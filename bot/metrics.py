"""Health and metrics over HTTP while the bot runs (METRICS_LISTEN=host:port).

`GET /healthz`: 200 when the database answers `SELECT 1` and the update loop runs, else 503.
`GET /metrics`: the Prometheus text format, written by prometheus_client. The counters are the
library's module-level instruments (its own idiom: one registry per process), which the update
loop, the senders and the planner add to; the backlog gauges are worked out at each scrape with
a few COUNT queries, so they are never stale and cost nothing between scrapes. The server is
tornado's (PTB's webhooks extra installs it) on the bot's own event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from tornado.httpserver import HTTPServer
from tornado.web import Application, RequestHandler

from config.instruments import BACKLOG, DATABASE_UP, OLDEST_DUE
from storage.db import reading
from storage.repos.backlog import backlog

log = logging.getLogger(__name__)

DATABASE_TIMEOUT = 3.0


@dataclass
class Health:
    db: async_sessionmaker[AsyncSession]
    alive: Callable[[], bool]  # the update loop runs


async def _database_answers(db: async_sessionmaker[AsyncSession]) -> bool:
    try:
        # A read-only transaction: on SQLite it does not wait for the write lock.
        async with asyncio.timeout(DATABASE_TIMEOUT), reading(db) as session:
            await session.execute(text("SELECT 1"))
    except Exception as exc:  # any failure means "not healthy", whatever the driver raises
        log.warning("health check: the database does not answer: %s", type(exc).__name__)
        return False
    return True


async def _refresh_backlog(db: async_sessionmaker[AsyncSession]) -> None:
    now = datetime.now(UTC)
    try:
        async with asyncio.timeout(DATABASE_TIMEOUT), reading(db) as session:
            found = await backlog(session, now=now)
    except Exception as exc:  # the counters are still worth serving without the gauges
        log.warning("metrics: cannot count the backlog: %s", type(exc).__name__)
        DATABASE_UP.set(0)
        return
    DATABASE_UP.set(1)
    for row in found:
        BACKLOG.labels(row.table, "pending").set(row.pending)
        BACKLOG.labels(row.table, "sending").set(row.sending)
        age = (now - row.oldest_due).total_seconds() if row.oldest_due else 0.0
        OLDEST_DUE.labels(row.table).set(max(0.0, age))


class _Healthz(RequestHandler):
    def initialize(self, health: Health) -> None:
        self.health = health

    async def get(self) -> None:
        database = await _database_answers(self.health.db)
        alive = self.health.alive()
        self.set_status(200 if database and alive else 503)
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish(
            f"database: {'ok' if database else 'down'}\nupdates: {'ok' if alive else 'stopped'}\n"
        )


class _Metrics(RequestHandler):
    def initialize(self, health: Health) -> None:
        self.health = health

    async def get(self) -> None:
        await _refresh_backlog(self.health.db)
        self.set_header("Content-Type", CONTENT_TYPE_LATEST)
        self.finish(generate_latest())


def _quiet_access_log(handler: RequestHandler) -> None:
    """Scrapes every few seconds would flood the log; only failures are written."""
    if handler.get_status() >= 500 and handler.request.path != "/healthz":
        log.warning("%s %s: %s", handler.request.method, handler.request.uri, handler.get_status())


async def start_metrics(listen: str, health: Health) -> HTTPServer:
    """Serve /healthz and /metrics on `listen` (host:port) from the running event loop."""
    host, _, port = listen.rpartition(":")
    app = Application(
        [(r"/healthz", _Healthz, {"health": health}), (r"/metrics", _Metrics, {"health": health})],
        log_function=_quiet_access_log,
    )
    server = HTTPServer(app)
    server.listen(int(port), address=host.strip("[]"))
    log.info("health and metrics on http://%s/healthz and /metrics", listen)
    return server


async def stop_metrics(server: HTTPServer | None) -> None:
    if server is not None:
        server.stop()
        await server.close_all_connections()
