"""Notification rows: created by the domain, claimed and marked by the drainer."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Notification, NotificationState


class NotificationRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_once(self, notification: Notification) -> bool:
        """Add unless a row with the same dedupe key exists; True when added."""
        stmt = select(Notification.id).where(Notification.dedupe_key == notification.dedupe_key)
        if (await self.session.execute(stmt)).first() is not None:
            return False
        # Another transaction may add the same key between the look and the insert (two
        # presses at once on PostgreSQL): the savepoint lets the loser carry on without it.
        try:
            async with self.session.begin_nested():
                self.session.add(notification)
                await self.session.flush()
        except IntegrityError:
            return False
        return True

    async def drop_pending(self, *, person_id: int, course_id: int, kinds: tuple[str, ...]) -> int:
        stmt = delete(Notification).where(
            Notification.person_id == person_id,
            Notification.course_id == course_id,
            Notification.kind.in_(kinds),
            Notification.state == NotificationState.PENDING,
        )
        result = await self.session.execute(stmt)
        return int(getattr(result, "rowcount", 0) or 0)

    async def claim_due(
        self, *, now: datetime, limit: int, lease: timedelta, urgent_only: bool = False
    ) -> list[Notification]:
        """Claim due rows (pending, or sending whose lease ran out) for this drainer.

        During quiet hours only urgent rows are claimed; the rest wait for the morning.

        SKIP LOCKED lets two bot processes on PostgreSQL share the work without ever taking
        the same row; SQLite ignores it and relies on BEGIN IMMEDIATE and one process.
        """
        stmt = (
            select(Notification)
            .where(
                Notification.due_at <= now,
                or_(
                    Notification.state == NotificationState.PENDING,
                    (Notification.state == NotificationState.SENDING)
                    & (Notification.claimed_until < now),
                ),
            )
            .where(Notification.urgent.is_(True) if urgent_only else true())
            .order_by(Notification.due_at, Notification.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        rows = list((await self.session.execute(stmt)).scalars())
        for row in rows:
            row.state = NotificationState.SENDING
            row.claimed_until = now + lease
            row.attempts += 1
        await self.session.flush()
        return rows

    async def release(self, ids: list[int]) -> None:
        """Claimed rows not sent after all (the drainer stops): pending again, as if never
        claimed, for whichever drainer comes next."""
        await self.session.execute(
            update(Notification)
            .where(Notification.id.in_(ids), Notification.state == NotificationState.SENDING)
            .values(
                state=NotificationState.PENDING,
                claimed_until=None,
                attempts=Notification.attempts - 1,
            )
        )

    async def get(self, notification_id: int) -> Notification | None:
        return await self.session.get(Notification, notification_id)
