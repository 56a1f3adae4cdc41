"""Claims on incoming updates, so each is handled once whichever process receives it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ProcessedUpdate


class UpdateRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def claim(self, channel: str, update_key: str, now: datetime) -> bool:
        """Insert the update's key; False when it was there already (handled, or being handled
        by another worker). On PostgreSQL a second insert of an uncommitted key waits for the
        first transaction, so of simultaneous claims exactly one wins."""
        postgres = self.session.get_bind().dialect.name == "postgresql"
        insert = postgresql.insert if postgres else sqlite.insert
        stmt = (
            insert(ProcessedUpdate)
            .values(channel=channel, update_key=update_key, received_at=now)
            .on_conflict_do_nothing()
        )
        result = await self.session.execute(stmt)
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def prune(self, before: datetime) -> int:
        """Forget claims older than `before`; the number forgotten."""
        stmt = delete(ProcessedUpdate).where(ProcessedUpdate.received_at < before)
        result = await self.session.execute(stmt)
        return int(result.rowcount)  # type: ignore[attr-defined]
