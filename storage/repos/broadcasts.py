"""Broadcasts and their delivery rows: created by the domain, claimed and marked by the drainer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    Broadcast,
    BroadcastDelivery,
    BroadcastStatus,
    ChatAccount,
    DeliveryState,
)

OPEN_STATES = (DeliveryState.PENDING, DeliveryState.SENDING)
CHANNEL = "telegram"


@dataclass(frozen=True)
class Claimed:
    """A claimed row and where to reach its recipient (account fields None: not linked)."""

    delivery_id: int
    broadcast_id: int
    person_id: int
    account_id: int | None
    chat_id: str | None
    active: bool
    language: str | None
    channel: str = "telegram"


class BroadcastRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, broadcast_id: int, *, lock: bool = False) -> Broadcast | None:
        if lock:
            # Fresh under the lock, whatever this session read before (see CourseRepo.lock).
            stmt = (
                select(Broadcast)
                .where(Broadcast.id == broadcast_id)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
            return (await self.session.execute(stmt)).scalar_one_or_none()
        return await self.session.get(Broadcast, broadcast_id)

    def add(self, broadcast: Broadcast) -> None:
        self.session.add(broadcast)

    async def add_deliveries(self, broadcast_id: int, person_ids: Sequence[int]) -> None:
        """One pending row per person; the unique key makes a second row impossible."""
        for start in range(0, len(person_ids), 5000):
            chunk = person_ids[start : start + 5000]
            await self.session.execute(
                insert(BroadcastDelivery),
                [{"broadcast_id": broadcast_id, "person_id": p} for p in chunk],
            )

    async def cancel_open(self, broadcast_id: int) -> int:
        """Pending rows will not be sent (a row being sent right now finishes)."""
        result = await self.session.execute(
            update(BroadcastDelivery)
            .where(
                BroadcastDelivery.broadcast_id == broadcast_id,
                BroadcastDelivery.state == DeliveryState.PENDING,
            )
            .values(state=DeliveryState.CANCELLED)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def start_due(self, now: datetime) -> list[int]:
        """Scheduled broadcasts whose time has come become `sending`."""
        stmt = (
            select(Broadcast)
            .where(Broadcast.status == BroadcastStatus.SCHEDULED, Broadcast.send_at <= now)
            .with_for_update(skip_locked=True)
        )
        started = list((await self.session.execute(stmt)).scalars())
        for b in started:
            b.status = BroadcastStatus.SENDING
        await self.session.flush()
        return [b.id for b in started]

    async def expire_leases(self, now: datetime, reason: str) -> int:
        """Rows left `sending` by a process that stopped mid-send: their fate is unknown.

        They are failed with `reason`, never sent again: Telegram may already have delivered
        them, and a broadcast must not arrive twice. The report lists them to be phoned.
        """
        result = await self.session.execute(
            update(BroadcastDelivery)
            .where(
                BroadcastDelivery.state == DeliveryState.SENDING,
                BroadcastDelivery.claimed_until < now,
            )
            .values(state=DeliveryState.FAILED, last_error=reason, claimed_until=None)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def claim_next(self, *, now: datetime, lease: timedelta) -> Claimed | None:
        """The next due row of a broadcast being sent, claimed (`sending`) with a lease, with
        the recipient's chat account if they have one. One UPDATE … RETURNING: this runs once
        per message, and on SQLite every writer queues behind it.

        SKIP LOCKED lets two bot processes on PostgreSQL share a broadcast without ever taking
        the same row; SQLite ignores it and relies on BEGIN IMMEDIATE and one process.
        """
        due = (
            select(BroadcastDelivery.id)
            .join(Broadcast, Broadcast.id == BroadcastDelivery.broadcast_id)
            .where(
                Broadcast.status == BroadcastStatus.SENDING,
                BroadcastDelivery.state == DeliveryState.PENDING,
                (BroadcastDelivery.due_at.is_(None)) | (BroadcastDelivery.due_at <= now),
            )
            .order_by(BroadcastDelivery.id)
            .limit(1)
            .with_for_update(skip_locked=True, of=BroadcastDelivery)
            .scalar_subquery()
        )
        stmt = (
            update(BroadcastDelivery)
            .where(BroadcastDelivery.id == due)
            .values(
                state=DeliveryState.SENDING,
                claimed_until=now + lease,
                attempts=BroadcastDelivery.attempts + 1,
            )
            .returning(
                BroadcastDelivery.id, BroadcastDelivery.broadcast_id, BroadcastDelivery.person_id
            )
            .execution_options(synchronize_session=False)
        )
        row = (await self.session.execute(stmt)).first()
        if row is None:
            return None
        account = (
            await self.session.execute(
                select(ChatAccount.id, ChatAccount.chat_id, ChatAccount.active,
                       ChatAccount.language)
                .where(ChatAccount.channel == CHANNEL, ChatAccount.person_id == row[2])
            )
        ).first()  # fmt: skip
        if account is None:
            return Claimed(row[0], row[1], row[2], None, None, False, None)
        return Claimed(row[0], row[1], row[2], account[0], account[1], account[2], account[3])

    async def mark(
        self,
        delivery_id: int,
        state: DeliveryState,
        error: str | None,
        *,
        message_id: int | None = None,
        sent_at: datetime | None = None,
        due_at: datetime | None = None,
        uncount: bool = False,
        channel: str | None = None,
    ) -> None:
        """Record how a claimed row ended (one UPDATE, no load)."""
        values: dict[str, Any] = {"state": state, "last_error": error, "claimed_until": None}
        if message_id is not None:
            values["sent_message_id"] = message_id
        if sent_at is not None:
            values.update(sent_at=sent_at, channel=channel)
        if due_at is not None:
            values["due_at"] = due_at
        if uncount:
            values["attempts"] = BroadcastDelivery.attempts - 1
        await self.session.execute(
            update(BroadcastDelivery)
            .where(BroadcastDelivery.id == delivery_id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )

    async def delivery(self, delivery_id: int) -> BroadcastDelivery | None:
        return await self.session.get(BroadcastDelivery, delivery_id)

    async def delivery_of(self, broadcast_id: int, person_id: int) -> BroadcastDelivery | None:
        stmt = select(BroadcastDelivery).where(
            BroadcastDelivery.broadcast_id == broadcast_id,
            BroadcastDelivery.person_id == person_id,
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def counts(self, broadcast_id: int) -> tuple[dict[DeliveryState, int], int]:
        """Rows per state, and how many recipients pressed "received"."""
        stmt = (
            select(BroadcastDelivery.state, func.count(), func.count(BroadcastDelivery.acked_at))
            .where(BroadcastDelivery.broadcast_id == broadcast_id)
            .group_by(BroadcastDelivery.state)
        )
        by_state: dict[DeliveryState, int] = {}
        acked = 0
        for state, n, n_acked in (await self.session.execute(stmt)).all():
            by_state[DeliveryState(state)] = int(n)
            acked += int(n_acked)
        return by_state, acked

    async def sent_by_channel(self, broadcast_id: int) -> dict[str, int]:
        """Delivered rows per channel (Telegram, Zalo), for the report."""
        stmt = (
            select(BroadcastDelivery.channel, func.count())
            .where(
                BroadcastDelivery.broadcast_id == broadcast_id,
                BroadcastDelivery.state == DeliveryState.SENT,
            )
            .group_by(BroadcastDelivery.channel)
        )
        return {str(ch or "telegram"): int(n) for ch, n in (await self.session.execute(stmt)).all()}

    async def in_progress(self) -> list[Broadcast]:
        """Broadcasts being sent, and stopped ones whose report is still owed."""
        stmt = (
            select(Broadcast)
            .where(
                Broadcast.status.in_((BroadcastStatus.SENDING, BroadcastStatus.CANCELLED)),
                Broadcast.finished_at.is_(None),
            )
            .order_by(Broadcast.id)
        )
        return list((await self.session.execute(stmt)).scalars())

    async def open_rows(self, broadcast_id: int) -> int:
        stmt = select(func.count()).where(
            BroadcastDelivery.broadcast_id == broadcast_id,
            BroadcastDelivery.state.in_(OPEN_STATES),
        )
        return int((await self.session.execute(stmt)).scalar_one())

    async def finish(self, broadcast_id: int, now: datetime) -> bool:
        """Mark the broadcast finished once; False when another drainer got there first."""
        result = await self.session.execute(
            update(Broadcast)
            .where(Broadcast.id == broadcast_id, Broadcast.finished_at.is_(None))
            .values(finished_at=now)
        )
        if not getattr(result, "rowcount", 0):
            return False
        await self.session.execute(
            update(Broadcast)
            .where(Broadcast.id == broadcast_id, Broadcast.status == BroadcastStatus.SENDING)
            .values(status=BroadcastStatus.DONE)
        )
        return True
