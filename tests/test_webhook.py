"""Telegram webhook mode (issue 17, "Ingress"): settings, the claim on each update, and the
real `boiduong run` process serving PTB's webhook against the stand-in Bot API.

The tests post to TELEGRAM_WEBHOOK_LISTEN over plain HTTP, as the TLS reverse proxy in front of
the bot does; the public https URL is only what setWebhook is told.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.redelivery import KEEP, PRUNE_EVERY, Redelivery
from config.settings import SettingsError, load_settings
from storage.db import create_engine, make_sessionmaker
from storage.models import ProcessedUpdate
from storage.repos.updates import UpdateRepo
from tests.conftest import POSTGRES_URL
from tests.test_e2e import _cli, _env

TOKEN = "123456:WEBHOOK-TEST-TOKEN"
URL = "https://bot.example.vn/tg/hook.v1"


# -- settings ------------------------------------------------------------------------------------


def _settings(**values: str) -> Any:
    return load_settings(None, _env_file=None, **values)


def test_no_url_means_long_polling() -> None:
    settings = _settings()
    assert settings.telegram_webhook_url is None
    assert settings.telegram_webhook_listen == "0.0.0.0:8443"
    # An empty line in .env is "not set", not a malformed URL.
    blank = _settings(telegram_webhook_url="", telegram_webhook_secret="")
    assert blank.telegram_webhook_url is None and blank.telegram_webhook_secret is None


@pytest.mark.parametrize(
    ("values", "name", "words"),
    [
        ({"telegram_webhook_url": URL}, "TELEGRAM_WEBHOOK_SECRET", "required"),
        ({"telegram_webhook_url": "http://bot.example.vn/tg"}, "TELEGRAM_WEBHOOK_URL", "https"),
        ({"telegram_webhook_url": "http://127.0.0.1:8443/tg"}, "TELEGRAM_WEBHOOK_URL", "https"),
        ({"telegram_webhook_url": "https:///tg"}, "TELEGRAM_WEBHOOK_URL", "https://HOST"),
        ({"telegram_webhook_url": "https://bot.example.vn:9000/tg"}, "TELEGRAM_WEBHOOK_URL",
         "443, 80, 88 and 8443"),
        ({"telegram_webhook_url": "https://bot.example.vn:x/tg"}, "TELEGRAM_WEBHOOK_URL", "URL"),
        ({"telegram_webhook_url": "https://bot.example.vn/t(g)+"}, "TELEGRAM_WEBHOOK_URL", "path"),
        ({"telegram_webhook_url": "https://bot.example.vn/tg?a=1"}, "TELEGRAM_WEBHOOK_URL",
         "query"),
        ({"telegram_webhook_url": URL, "telegram_webhook_secret": "has space"},
         "TELEGRAM_WEBHOOK_SECRET", "1–256"),
        ({"telegram_webhook_url": URL, "telegram_webhook_secret": "x" * 257},
         "TELEGRAM_WEBHOOK_SECRET", "1–256"),
        ({"telegram_webhook_secret": "ünïcode"}, "TELEGRAM_WEBHOOK_SECRET", "A–Z"),
        ({"telegram_webhook_listen": "8443"}, "TELEGRAM_WEBHOOK_LISTEN", "HOST:PORT"),
    ],
)  # fmt: skip
def test_a_bad_webhook_setting_is_one_line_naming_it(
    values: dict[str, str], name: str, words: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        _settings(**values)
    message = str(caught.value)
    assert "\n" not in message and f"{name}: " in message and words in message, message
    assert "has space" not in message and "x" * 257 not in message  # the secret is not shown


def test_the_longest_and_shortest_secrets_pass() -> None:
    for secret in ("a", "A-z_09" * 42 + "abcd"):
        assert _settings(telegram_webhook_url=URL, telegram_webhook_secret=secret)


async def test_run_refuses_a_url_without_its_secret(tmp_path: Path) -> None:
    env = _env(tmp_path / "x.db", BOT_TOKEN=TOKEN, TELEGRAM_WEBHOOK_URL=URL)
    code, out, err = await _cli(tmp_path, env, "run")
    assert code == 2, (code, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "TELEGRAM_WEBHOOK_SECRET" in lines[0], err
    assert not (tmp_path / "x.db").exists()


# -- the claim on each update --------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


async def _keys(db: async_sessionmaker[AsyncSession]) -> set[str]:
    async with db() as s:
        return set((await s.execute(select(ProcessedUpdate.update_key))).scalars())


async def test_an_update_is_claimed_once(db: async_sessionmaker[AsyncSession]) -> None:
    ledger = Redelivery(db)
    assert await ledger.first("telegram", "1:100")
    assert not await ledger.first("telegram", "1:100")
    assert not await Redelivery(db).first("telegram", "1:100")  # another process: the same
    # Another update, another bot, another channel: claims of their own.
    assert await ledger.first("telegram", "1:101")
    assert await ledger.first("telegram", "2:100")
    assert await ledger.first("zalo", "1:100")


async def test_claims_older_than_a_day_are_pruned_hourly(
    db: async_sessionmaker[AsyncSession],
) -> None:
    clock = Clock()
    ledger = Redelivery(db, clock=clock)
    assert await ledger.first("telegram", "1:1")  # the first claim prunes (nothing yet)
    clock.now += KEEP - timedelta(minutes=1)
    assert await ledger.first("telegram", "1:2")  # pruned: nothing is a day old yet
    assert await _keys(db) == {"1:1", "1:2"}
    clock.now += timedelta(minutes=2)
    assert await ledger.first("telegram", "1:3")  # within the hour: no prune, though due
    assert await _keys(db) == {"1:1", "1:2", "1:3"}
    clock.now += PRUNE_EVERY
    assert await ledger.first("telegram", "1:4")
    assert await _keys(db) == {"1:2", "1:3", "1:4"}
    assert not await ledger.first("telegram", "1:2")  # still remembered


async def _engines_like(engine: AsyncEngine, count: int) -> list[AsyncEngine]:
    """Engines of their own (as other processes would have) on the test's database."""
    if engine.dialect.name == "sqlite":
        url = engine.url.render_as_string(hide_password=False)
        return [create_engine(url) for _ in range(count)]
    async with engine.connect() as conn:
        schema = (await conn.execute(text("SELECT current_schema()"))).scalar_one()
    args = {"server_settings": {"search_path": schema}}
    return [create_engine(POSTGRES_URL, connect_args=args) for _ in range(count)]


async def test_ten_simultaneous_deliveries_are_handled_once(db_engine: AsyncEngine) -> None:
    """Ten workers, each with an engine of its own, claim one update at the same moment:
    exactly one wins. Repeated over 20 updates."""
    engines = await _engines_like(db_engine, 10)
    try:
        workers = [Redelivery(make_sessionmaker(e)) for e in engines]
        for n, worker in enumerate(workers):  # connected and pruned, so the claims start together
            assert await worker.first("telegram", f"warm:{n}")
        for update_id in range(20):
            barrier = asyncio.Barrier(len(workers))

            async def deliver(
                worker: Redelivery, update_id: int = update_id, barrier: asyncio.Barrier = barrier
            ) -> bool:
                await barrier.wait()
                return await worker.first("telegram", f"1:{update_id}")

            won = await asyncio.gather(*(deliver(w) for w in workers))
            assert sum(won) == 1, (update_id, won)
    finally:
        for engine in engines:
            await engine.dispose()


async def test_a_claim_in_flight_holds_back_the_second(db_engine: AsyncEngine) -> None:
    """While one worker's claim is not yet committed, another's waits for it, and then loses
    (or wins, when the first rolled back): never both."""
    db = make_sessionmaker(db_engine)
    for commit in (True, False):
        key = f"1:{int(commit)}"
        async with db() as first:
            await first.begin()
            assert await UpdateRepo(first).claim("telegram", key, datetime.now(UTC))
            second = asyncio.create_task(Redelivery(db).first("telegram", key))
            await asyncio.sleep(0.5)
            assert not second.done()
            await (first.commit() if commit else first.rollback())
        assert await asyncio.wait_for(second, 10) is (not commit)
