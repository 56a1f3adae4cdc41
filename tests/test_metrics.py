"""METRICS_LISTEN: the real `boiduong run` against the stand-in Bot API answers /healthz and
/metrics on its own port; the update counters show a /start; /healthz turns 503 when the
database goes away (PostgreSQL, whose connections can be cut from outside)."""

from __future__ import annotations

import asyncio
import signal
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.exc import SQLAlchemyError

from tests.conftest import POSTGRES_URL
from tests.fixtures_postgres import admin
from tests.process import (
    STEP,
    STOP_TIMEOUT,
    TOKEN,
    USER,
    call_to,
    cli_env,
    command,
    menu_set,
    tail_file,
)
from tests.standin import StandInBotAPI

START_TIMEOUT = 60.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@asynccontextmanager
async def _running_bot(
    tmp_path: Path, srv: StandInBotAPI, database_url: str
) -> AsyncIterator[tuple[asyncio.subprocess.Process, str]]:
    """`boiduong run` with METRICS_LISTEN on a free port: (the process, its base URL)."""
    port = _free_port()
    env = cli_env(
        None,
        DATABASE_URL=database_url,
        BOT_TOKEN=TOKEN,
        TELEGRAM_BASE_URL=srv.base_url,
        TELEGRAM_BASE_FILE_URL=srv.base_file_url,
        METRICS_LISTEN=f"127.0.0.1:{port}",
    )
    err_path = tmp_path / "bot.err"
    with err_path.open("wb") as err:
        proc = await asyncio.create_subprocess_exec(
            *command("run"), cwd=tmp_path, env=env, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL, stderr=err,
        )  # fmt: skip
    try:
        try:
            await srv.wait_for(menu_set("en"), START_TIMEOUT, since=0)
        except TimeoutError as exc:
            raise AssertionError(f"the bot did not start:\n{tail_file(err_path)}") from exc
        yield proc, f"http://127.0.0.1:{port}"
    finally:
        if proc.returncode is None:
            proc.kill()
            await asyncio.wait_for(proc.wait(), STOP_TIMEOUT)


async def _status_within(client: httpx.AsyncClient, url: str, status: int) -> httpx.Response:
    """GET `url` until it answers `status` (within START_TIMEOUT), and return that answer."""
    answer = None
    for _ in range(int(START_TIMEOUT / 0.05)):
        try:
            answer = await client.get(url)
        except httpx.TransportError:
            answer = None  # the server is not listening yet
        if answer is not None and answer.status_code == status:
            return answer
        await asyncio.sleep(0.05)
    raise AssertionError(f"{url} never answered {status}; last: {answer and answer.text}")


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_healthz_and_metrics_answer_while_the_bot_runs(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'boiduong.db'}"
    async with (
        StandInBotAPI(token=TOKEN) as srv,
        _running_bot(tmp_path, srv, url) as (proc, base),
        httpx.AsyncClient(timeout=STEP) as client,
    ):
        healthy = await _status_within(client, base + "/healthz", 200)
        assert "database: ok" in healthy.text

        srv.api.push(srv.api.message_update(USER, "/start"))
        await srv.wait_for(call_to("sendMessage", USER["id"]), STEP)

        answer = await client.get(base + "/metrics")
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/plain")
        samples = _samples(answer.text)
        command = frozenset({("channel", "telegram"), ("kind", "command")})
        assert samples[("boiduong_updates_total", command)] >= 1
        telegram = frozenset({("channel", "telegram")})
        assert samples[("boiduong_update_seconds_count", telegram)] >= 1
        assert samples[("boiduong_sends_total", telegram)] >= 1
        pending = frozenset({("table", "notifications"), ("state", "pending")})
        assert samples[("boiduong_backlog_rows", pending)] == 0
        assert samples[("boiduong_database_up", frozenset())] == 1
        assert ("boiduong_oldest_due_age_seconds",
                frozenset({("table", "broadcast_deliveries")})) in samples  # fmt: skip

        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), STOP_TIMEOUT) == 0
    # Stopped: the port is closed with the bot.
    with pytest.raises(httpx.TransportError):
        async with httpx.AsyncClient(timeout=STEP) as client:
            await client.get(base + "/healthz")


async def test_healthz_is_503_when_the_database_is_gone(tmp_path: Path) -> None:
    name = f"hz_{uuid.uuid4().hex[:12]}"
    try:
        await admin(f'CREATE DATABASE "{name}"')
    except (OSError, SQLAlchemyError) as exc:
        pytest.skip(f"PostgreSQL unreachable at {POSTGRES_URL}: {exc}")
    try:
        url = f"{POSTGRES_URL.rsplit('/', 1)[0]}/{name}"
        async with (
            StandInBotAPI(token=TOKEN) as srv,
            _running_bot(tmp_path, srv, url) as (_proc, base),
            httpx.AsyncClient(timeout=STEP) as client,
        ):
            await _status_within(client, base + "/healthz", 200)
            # The database goes away: no new connections, the bot's own ones cut.
            await admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            await admin(
                f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
            )
            down = await _status_within(client, base + "/healthz", 503)
            assert "database: down" in down.text
            metrics = await client.get(base + "/metrics")
            assert metrics.status_code == 200  # the counters are still served
            assert _samples(metrics.text)[("boiduong_database_up", frozenset())] == 0
    finally:
        await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
