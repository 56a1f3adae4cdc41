"""How much the senders still owe: open reminder and broadcast rows, counted in SQL (for
/metrics; each query is one COUNT over the state index)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    Broadcast,
    BroadcastDelivery,
    DeliveryState,
    Notification,
    NotificationState,
)


@dataclass(frozen=True)
class Backlog:
    table: str  # "notifications" or "broadcast_deliveries"
    pending: int
    sending: int
    oldest_due: datetime | None  # the oldest pending row already due, if any


async def backlog(session: AsyncSession, *, now: datetime) -> list[Backlog]:
    notes = await _counts(session, Notification, NotificationState)
    oldest_note = await session.scalar(
        select(func.min(Notification.due_at)).where(
            Notification.state == NotificationState.PENDING, Notification.due_at <= now
        )
    )
    deliveries = await _counts(session, BroadcastDelivery, DeliveryState)
    # A delivery has a due time of its own only once retried; before that its broadcast's.
    due = func.coalesce(BroadcastDelivery.due_at, Broadcast.send_at, Broadcast.created_at)
    oldest_delivery = await session.scalar(
        select(func.min(due))
        .join(Broadcast, Broadcast.id == BroadcastDelivery.broadcast_id)
        .where(BroadcastDelivery.state == DeliveryState.PENDING, due <= now)
    )
    return [
        Backlog("notifications", *notes, oldest_note),
        Backlog("broadcast_deliveries", *deliveries, oldest_delivery),
    ]


async def _counts(
    session: AsyncSession, model: type[Notification] | type[BroadcastDelivery], states: Any
) -> tuple[int, int]:
    """(pending, sending) rows of the table."""
    open_states = [states.PENDING, states.SENDING]
    rows = await session.execute(
        select(model.state, func.count()).where(model.state.in_(open_states)).group_by(model.state)
    )
    counts = {str(state): int(n) for state, n in rows.tuples()}
    return counts.get("pending", 0), counts.get("sending", 0)
