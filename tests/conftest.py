"""Shared fixtures: a fresh, migrated database per test, on SQLite and on PostgreSQL.

`db` (an async_sessionmaker), `db_engine` and `blank_engine` (not migrated) run each test twice:
on a temp-file SQLite database and in a throw-away schema of the PostgreSQL server at
TEST_POSTGRES_URL (default postgresql+asyncpg://postgres@127.0.0.1:5432/test). The PostgreSQL
half is skipped, with the reason, when the server cannot be reached.
`@pytest.mark.databases("sqlite")` keeps a test to the named databases (the others are
deselected, not skipped).
The Telegram fixtures `tg`, `chat` and `broadcasting` come from tests/harness.py.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.zalo.client import ZaloClient
from bot.zalo.conversation import ZaloBot
from config.settings import Settings
from storage.db import create_engine, make_sessionmaker, upgrade
from tests.harness import broadcasting as broadcasting
from tests.harness import chat as chat
from tests.harness import tg as tg
from tests.zalo_standin import StandInZalo, Zalo

# Opt in to timedelta durations as ./dev does; conftest loads before any test imports telegram.
os.environ.setdefault("PTB_TIMEDELTA", "1")
DATABASES = ("sqlite", "postgresql")
POSTGRES_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
# Set once per run: a down server costs one connection timeout, not one per test.
_postgres_down: str | None = None


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "databases(*names): run a `db` test only on these databases (sqlite, postgresql)"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    keep: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        marker = item.get_closest_marker("databases")
        callspec = getattr(item, "callspec", None)
        params = callspec.params if callspec is not None else {}
        param = params.get("db_engine", params.get("blank_engine"))
        if marker is not None and param is not None and param not in marker.args:
            dropped.append(item)
        else:
            keep.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


async def _admin(sql: str) -> None:
    admin = create_engine(POSTGRES_URL, connect_args={"timeout": 5})
    try:
        async with admin.begin() as conn:
            await conn.execute(text(sql))
    finally:
        await admin.dispose()


async def _postgres_engine(schema: str) -> AsyncEngine:
    global _postgres_down
    if _postgres_down is not None:
        pytest.skip(_postgres_down)
    try:
        await _admin(f'CREATE SCHEMA "{schema}"')
    except (OSError, SQLAlchemyError) as exc:
        _postgres_down = f"PostgreSQL unreachable at {POSTGRES_URL}: {type(exc).__name__}: {exc}"
        pytest.skip(_postgres_down)
    # Every connection of this engine sees only the test's schema, so tables, the
    # alembic_version row and sequences are all private to the test.
    return create_engine(POSTGRES_URL, connect_args={"server_settings": {"search_path": schema}})


@asynccontextmanager
async def _blank_engine(database: str, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    schema = None
    if database == "sqlite":
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'test.db'}")
    else:
        schema = f"t_{uuid.uuid4().hex}"
        engine = await _postgres_engine(schema)
    try:
        yield engine
    finally:
        await engine.dispose()
        if schema is not None:
            await _admin(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=DATABASES)
async def db_engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """A migrated, empty database of its own for this test."""
    async with _blank_engine(request.param, tmp_path) as engine:
        await upgrade(engine)
        yield engine


@pytest.fixture(params=DATABASES)
async def blank_engine(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[AsyncEngine]:
    """A database of its own with no tables yet, for tests that run migrations themselves."""
    async with _blank_engine(request.param, tmp_path) as engine:
        yield engine


@pytest.fixture
async def db(db_engine: AsyncEngine) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """The session factory of the test's database; use `async with db.begin() as s:`."""
    yield make_sessionmaker(db_engine)


@pytest.fixture
async def zalo(db: async_sessionmaker[AsyncSession]) -> AsyncIterator[Zalo]:
    """Our Zalo bot on the database under test, talking to a fresh stand-in Zalo API."""
    async with StandInZalo() as srv:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            zalo_bot_token=srv.token,  # type: ignore[arg-type]
            zalo_base_url=srv.base_url,
        )
        client = ZaloClient(srv.token, base_url=srv.base_url)
        try:
            yield Zalo(srv, client, ZaloBot(settings, db, client), db, settings)
        finally:
            await client.aclose()
