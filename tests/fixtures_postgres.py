"""The test PostgreSQL server's administration: databases of a test's own, made and dropped."""

from __future__ import annotations

from sqlalchemy import text

from storage.db import create_engine
from tests.conftest import POSTGRES_URL


async def admin(sql: str) -> None:
    """Run `sql` outside a transaction (CREATE/DROP DATABASE) on the test server."""
    engine = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT", connect_args={"timeout": 5})
    try:
        async with engine.connect() as conn:
            await conn.execute(text(sql))
    finally:
        await engine.dispose()
