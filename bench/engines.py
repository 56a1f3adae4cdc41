"""Throw-away databases for benchmarks: a temp SQLite file, or a fresh PostgreSQL schema
(dropped afterwards), like tests/conftest.py makes for each test."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import create_engine

POSTGRES_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


@asynccontextmanager
async def sqlite_engine(name: str = "bench.db") -> AsyncIterator[AsyncEngine]:
    with tempfile.TemporaryDirectory() as tmp:
        engine = create_engine(f"sqlite+aiosqlite:///{Path(tmp) / name}")
        try:
            yield engine
        finally:
            await engine.dispose()


async def _admin(url: str, sql: str) -> None:
    admin = create_engine(url, connect_args={"timeout": 5})
    try:
        async with admin.begin() as conn:
            await conn.execute(text(sql))
    finally:
        await admin.dispose()


@asynccontextmanager
async def postgres_engine(url: str) -> AsyncIterator[AsyncEngine]:
    schema = f"bench_{uuid.uuid4().hex}"
    await _admin(url, f'CREATE SCHEMA "{schema}"')
    engine = create_engine(url, connect_args={"server_settings": {"search_path": schema}})
    try:
        yield engine
    finally:
        await engine.dispose()
        await _admin(url, f'DROP SCHEMA "{schema}" CASCADE')
