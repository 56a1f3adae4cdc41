"""Conversation state rows: read one chat's, write it back, forget expired ones."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Dialog, utcnow


class DialogRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def state(self, channel: str, chat_id: str, now: datetime) -> dict[str, Any] | None:
        """The chat's stored state, or None when there is none or it has expired."""
        stmt = select(Dialog.state).where(
            Dialog.channel == channel, Dialog.chat_id == chat_id, Dialog.expires_at > now
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def put(
        self, channel: str, chat_id: str, state: dict[str, Any], expires_at: datetime
    ) -> None:
        """Write the chat's state (the last writer wins: one chat's updates are answered in
        turn, and a first row written twice at once is updated instead of inserted)."""
        if await self._update(channel, chat_id, state, expires_at):
            return
        try:
            async with self.session.begin_nested():
                self.session.add(
                    Dialog(channel=channel, chat_id=chat_id, state=state, expires_at=expires_at)
                )
        except IntegrityError:
            await self._update(channel, chat_id, state, expires_at)

    async def _update(
        self, channel: str, chat_id: str, state: dict[str, Any], expires_at: datetime
    ) -> bool:
        result = await self.session.execute(
            update(Dialog)
            .where(Dialog.channel == channel, Dialog.chat_id == chat_id)
            .values(state=state, expires_at=expires_at, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0))

    async def forget(self, channel: str, chat_id: str) -> None:
        await self.session.execute(
            delete(Dialog).where(Dialog.channel == channel, Dialog.chat_id == chat_id)
        )

    async def purge(self, now: datetime) -> int:
        result = await self.session.execute(delete(Dialog).where(Dialog.expires_at <= now))
        return int(getattr(result, "rowcount", 0) or 0)
