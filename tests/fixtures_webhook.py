"""What the webhook and workers tests share: the bot's webhook settings and a fresh
PostgreSQL database for processes that cannot share a test schema."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from storage.db import create_engine
from tests.conftest import POSTGRES_URL

TOKEN = "123456:WEBHOOK-TEST-TOKEN"
SECRET = "s3cret_Token-17"
URL = "https://bot.example.vn/tg/hook.v1"
HEADER = "X-Telegram-Bot-Api-Secret-Token"
START = 60.0  # the interpreter, the imports and the migrations, on two shared cores
STEP = 10.0


@asynccontextmanager
async def postgres_database() -> AsyncIterator[str]:
    """A fresh PostgreSQL database (two processes cannot share a test schema's search_path)."""
    name = f"wh_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL, connect_args={"timeout": 5}, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    except (OSError, SQLAlchemyError) as exc:
        await admin.dispose()
        pytest.skip(f"PostgreSQL unreachable at {POSTGRES_URL}: {exc}")
    try:
        yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        await admin.dispose()
