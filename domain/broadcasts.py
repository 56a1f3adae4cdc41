"""Broadcasts: a message an organizer sends to an audience chosen by units, positions, a
standard people are missing, or a course's registrants or waitlist, within their scope.

A broadcast is a row (draft → scheduled → sending → done, or cancelled) and one delivery row
per recipient, unique per (broadcast, person), created when the organizer confirms: the count
they confirmed is exactly who is sent to. schedules/broadcasts.py delivers the rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain import rich_text, roles
from domain.errors import DomainError, Refusal
from domain.recipients import Audience, resolve
from domain.reminders import Policy, out_of_quiet_hours
from domain.sheets import write_rows_xlsx
from storage.models import (
    Broadcast,
    BroadcastDelivery,
    BroadcastStatus,
    ChatAccount,
    DeliveryState,
    Person,
    Position,
    Role,
    Unit,
)
from storage.repos.broadcasts import BroadcastRepo
from storage.repos.roster import chunks

TEXT_LIMIT = 4096  # Telegram's limit for a message, after entities are parsed
CAPTION_LIMIT = 1024  # and for the caption of a photo or document
# A chosen time this far in the past is a typo, not "now".
PAST_TOLERANCE = timedelta(minutes=1)


@dataclass(frozen=True)
class Preview:
    broadcast_id: int
    total: int
    linked: int  # of `total`, how many have a chat with the bot


@dataclass(frozen=True)
class Confirmed:
    broadcast_id: int
    total: int
    starts_at: datetime
    sending_now: bool
    moved_by_quiet_hours: bool


@dataclass(frozen=True)
class Progress:
    broadcast_id: int
    status: BroadcastStatus
    total: int
    sent: int
    blocked: int
    not_linked: int
    failed: int
    cancelled: int
    waiting: int  # pending or being sent
    acked: int
    ask_ack: bool
    by_channel: dict[str, int] = field(default_factory=dict)  # delivered per channel

    @property
    def done(self) -> int:
        return self.total - self.waiting


@dataclass(frozen=True)
class NotReached:
    full_name: str
    personal_id: str
    phone: str | None
    unit: str
    position: str | None
    state: DeliveryState
    error: str | None


# -- who may act --------------------------------------------------------------------------------


async def _scope(session: AsyncSession, actor_person_id: int | None, operator: bool) -> roles.Scope:
    """The command-line operator acts everywhere; a chat user needs the organizer role."""
    if operator:
        return roles.Scope(0, Role.ADMIN, True, frozenset())
    return await roles.require(session, person_id=actor_person_id, role=Role.ORGANIZER)


async def _own(
    session: AsyncSession, broadcast_id: int, scope: roles.Scope, *, lock: bool = False
) -> Broadcast:
    """The broadcast, if it exists and the actor made it (administrators: any)."""
    broadcast = await BroadcastRepo(session).get(broadcast_id, lock=lock)
    if broadcast is None:
        raise DomainError(Refusal.NOT_FOUND, problem="broadcast")
    if not scope.everywhere and broadcast.created_by_id != scope.person_id:
        raise DomainError(Refusal.FORBIDDEN, role=Role.ORGANIZER.value, problem="not_yours")
    return broadcast


async def _draft(session: AsyncSession, broadcast_id: int, scope: roles.Scope) -> Broadcast:
    broadcast = await _own(session, broadcast_id, scope, lock=True)
    if broadcast.status != BroadcastStatus.DRAFT:
        raise DomainError(Refusal.CLOSED, problem="not_draft")
    return broadcast


async def _audit(
    session: AsyncSession, actor_person_id: int | None, actor: str | None, action: str,
    broadcast: Broadcast, **details: Any,
) -> None:  # fmt: skip
    await roles.audit(
        session,
        actor_person_id=actor_person_id,
        actor=actor or await roles.actor_label(session, actor_person_id),
        action=action,
        target=f"broadcast #{broadcast.id}",
        **details,
    )


# -- composing ----------------------------------------------------------------------------------


def text_problem(plain_length: int, media_kind: str | None) -> str | None:
    """Why a message cannot be broadcast as it is ("empty", "too_long"), or None."""
    if plain_length == 0 and media_kind is None:
        return "empty"
    if plain_length > (CAPTION_LIMIT if media_kind else TEXT_LIMIT):
        return "too_long"
    return None


async def create_draft(
    session: AsyncSession,
    *,
    actor_person_id: int | None,
    text: str,
    plain_length: int,
    media_kind: str | None = None,
    media_file_id: str | None = None,
    report_chat_id: str | None = None,
    operator: bool = False,
) -> int:
    """A draft holding the message (Telegram HTML); the audience is chosen next."""
    scope = await _scope(session, actor_person_id, operator)
    if (wrong := rich_text.problem(text)) is not None:
        # Refused now, or every delivery would fail with "can't parse entities".
        raise DomainError(Refusal.CLOSED, problem="html", issue=wrong.issue.value,
                          tag=wrong.tag, at=wrong.at, near=wrong.near)  # fmt: skip
    if (problem := text_problem(plain_length, media_kind)) is not None:
        raise DomainError(Refusal.CLOSED, problem=problem)
    broadcast = Broadcast(
        created_by_id=scope.person_id or None,
        text=text,
        media_kind=media_kind,
        media_file_id=media_file_id,
        audience={},
        status=BroadcastStatus.DRAFT,
        report_chat_id=report_chat_id,
    )
    BroadcastRepo(session).add(broadcast)
    await session.flush()
    return broadcast.id


async def attach_file(
    session: AsyncSession,
    *,
    actor_person_id: int | None,
    broadcast_id: int,
    media_file_id: str,
    operator: bool = False,
) -> None:
    """Give a draft created with a `media_kind` the chat app's id of its file: the command
    line uploads the file with the organizer's preview, which needs the draft to exist."""
    scope = await _scope(session, actor_person_id, operator)
    broadcast = await _draft(session, broadcast_id, scope)
    broadcast.media_file_id = media_file_id
    await session.flush()


async def discard_draft(
    session: AsyncSession, *, actor_person_id: int | None, broadcast_id: int, operator: bool = False
) -> None:
    """Delete a draft that will not be sent; a draft has no delivery rows and no audit yet."""
    scope = await _scope(session, actor_person_id, operator)
    await session.delete(await _draft(session, broadcast_id, scope))
    await session.flush()


async def choose_audience(
    session: AsyncSession,
    *,
    actor_person_id: int | None,
    broadcast_id: int,
    audience: Audience,
    now: datetime,
    today: date,
    hours_target: int,
    operator: bool = False,
) -> Preview:
    """Set the draft's audience and count it exactly (an unknown code raises NOT_FOUND)."""
    scope = await _scope(session, actor_person_id, operator)
    broadcast = await _draft(session, broadcast_id, scope)
    people = await resolve(
        session, scope=scope, audience=audience, now=now, today=today, hours_target=hours_target
    )
    broadcast.audience = audience.to_json()
    broadcast.total = len(people)
    await session.flush()
    return Preview(broadcast.id, len(people), await _linked(session, people))


async def ask_ack(
    session: AsyncSession,
    *,
    actor_person_id: int | None,
    broadcast_id: int,
    on: bool,
    now: datetime,
    today: date,
    hours_target: int,
    operator: bool = False,
) -> Preview:
    """Whether recipients get a "received" button; returns the audience counted afresh."""
    scope = await _scope(session, actor_person_id, operator)
    broadcast = await _draft(session, broadcast_id, scope)
    broadcast.ask_ack = on
    people = await resolve(
        session,
        scope=scope,
        audience=Audience.from_json(broadcast.audience),
        now=now,
        today=today,
        hours_target=hours_target,
    )
    broadcast.total = len(people)
    await session.flush()
    return Preview(broadcast.id, len(people), await _linked(session, people))


async def get(
    session: AsyncSession, *, actor_person_id: int | None, broadcast_id: int, operator: bool = False
) -> Broadcast:
    """The broadcast, for its own author (or an administrator)."""
    scope = await _scope(session, actor_person_id, operator)
    return await _own(session, broadcast_id, scope)


async def draft(
    session: AsyncSession, *, actor_person_id: int | None, broadcast_id: int
) -> Broadcast:
    """The actor's own draft, before a question about it is asked (a sent, scheduled or
    cancelled one is refused: its buttons outlive it)."""
    scope = await _scope(session, actor_person_id, False)
    return await _draft(session, broadcast_id, scope)


async def _linked(session: AsyncSession, person_ids: Sequence[int]) -> int:
    """How many of these people have linked the bot on any app (Telegram, Zalo)."""
    linked = 0
    for part in chunks(person_ids):
        stmt = select(func.count(func.distinct(ChatAccount.person_id))).where(
            ChatAccount.active.is_(True),
            ChatAccount.person_id.in_(part),
        )
        linked += int((await session.execute(stmt)).scalar_one())
    return linked


def parse_local(text: str, tz: ZoneInfo) -> datetime | None:
    """'05/12/2026 07:30' in local time as aware UTC, or None when it is not like that."""
    try:
        moment = datetime.strptime(" ".join(text.split()), "%d/%m/%Y %H:%M")
    except ValueError:
        return None
    return moment.replace(tzinfo=tz).astimezone(UTC)


# -- sending --------------------------------------------------------------------------------------


async def confirm(
    session: AsyncSession,
    *,
    actor_person_id: int | None,
    broadcast_id: int,
    now: datetime,
    today: date,
    send_at: datetime | None,
    policy: Policy,
    hours_target: int,
    actor: str | None = None,
    operator: bool = False,
) -> Confirmed:
    """Create one delivery row per recipient and send now or at `send_at`.

    Nothing is sent in quiet hours: a time inside them (or "now" at night) moves to their end.
    The audience is resolved again here, so the rows match what the organizer confirmed
    unless the roster changed in between (the report then shows the real count).
    """
    scope = await _scope(session, actor_person_id, operator)
    broadcast = await _draft(session, broadcast_id, scope)
    if send_at is not None and send_at < now - PAST_TOLERANCE:
        raise DomainError(Refusal.DEADLINE_PASSED, problem="past")
    wanted = max(send_at or now, now)
    starts = out_of_quiet_hours(wanted, policy)
    people = await resolve(
        session,
        scope=scope,
        audience=Audience.from_json(broadcast.audience),
        now=now,
        today=today,
        hours_target=hours_target,
    )
    if not people:
        raise DomainError(Refusal.NOT_FOUND, problem="nobody")
    await BroadcastRepo(session).add_deliveries(broadcast.id, people)
    sending_now = starts <= now
    broadcast.total = len(people)
    broadcast.send_at = starts
    broadcast.status = BroadcastStatus.SENDING if sending_now else BroadcastStatus.SCHEDULED
    await _audit(
        session, actor_person_id, actor, "broadcast", broadcast,
        recipients=len(people), send_at=starts.isoformat(), audience=broadcast.audience,
    )  # fmt: skip
    return Confirmed(broadcast.id, len(people), starts, sending_now, starts != wanted)


async def cancel(
    session: AsyncSession,
    *,
    actor_person_id: int | None,
    broadcast_id: int,
    now: datetime,
    actor: str | None = None,
    operator: bool = False,
) -> Progress:
    """Stop a draft, a scheduled or a running broadcast; rows already sent stay sent."""
    scope = await _scope(session, actor_person_id, operator)
    broadcast = await _own(session, broadcast_id, scope, lock=True)
    if broadcast.status in (BroadcastStatus.DONE, BroadcastStatus.CANCELLED):
        raise DomainError(Refusal.CLOSED, problem="finished")
    was = broadcast.status
    broadcast.status = BroadcastStatus.CANCELLED
    stopped = await BroadcastRepo(session).cancel_open(broadcast.id)
    if was != BroadcastStatus.SENDING:  # nothing went out: no report is owed
        broadcast.finished_at = now
    await session.flush()
    if was != BroadcastStatus.DRAFT:
        await _audit(session, actor_person_id, actor, "broadcast-cancel", broadcast,
                     not_sent=stopped)  # fmt: skip
    return await progress(session, broadcast_id=broadcast.id)


async def acknowledge(
    session: AsyncSession, *, person_id: int, broadcast_id: int, now: datetime
) -> bool:
    """A recipient pressed "received"; False when they were not sent this broadcast."""
    row = await BroadcastRepo(session).delivery_of(broadcast_id, person_id)
    if row is None or row.state != DeliveryState.SENT:
        return False
    if row.acked_at is None:
        row.acked_at = now
        await session.flush()
    return True


async def progress(session: AsyncSession, *, broadcast_id: int) -> Progress:
    repo = BroadcastRepo(session)
    broadcast = await repo.get(broadcast_id)
    if broadcast is None:
        raise DomainError(Refusal.NOT_FOUND, problem="broadcast")
    counts, acked = await repo.counts(broadcast_id)
    total = sum(counts.values()) or broadcast.total
    return Progress(
        broadcast_id=broadcast.id,
        status=broadcast.status,
        total=total,
        sent=counts.get(DeliveryState.SENT, 0),
        blocked=counts.get(DeliveryState.BLOCKED, 0),
        not_linked=counts.get(DeliveryState.NOT_LINKED, 0),
        failed=counts.get(DeliveryState.FAILED, 0),
        cancelled=counts.get(DeliveryState.CANCELLED, 0),
        waiting=counts.get(DeliveryState.PENDING, 0) + counts.get(DeliveryState.SENDING, 0),
        acked=acked,
        ask_ack=broadcast.ask_ack,
        by_channel=await repo.sent_by_channel(broadcast_id),
    )


async def progress_for(
    session: AsyncSession, *, actor_person_id: int | None, broadcast_id: int
) -> Progress:
    """The progress of one's own broadcast (administrators: any)."""
    scope = await _scope(session, actor_person_id, False)
    await _own(session, broadcast_id, scope)
    return await progress(session, broadcast_id=broadcast_id)


# -- the report -----------------------------------------------------------------------------------


async def not_reached(session: AsyncSession, *, broadcast_id: int) -> list[NotReached]:
    """Everyone the broadcast did not reach, to be phoned: blocked, not linked, failed."""
    stmt = (
        select(BroadcastDelivery, Person, Unit.name, Position.name_vi)
        .join(Person, Person.id == BroadcastDelivery.person_id)
        .join(Unit, Unit.id == Person.unit_id)
        .outerjoin(Position, Position.id == Person.position_id)
        .where(
            BroadcastDelivery.broadcast_id == broadcast_id,
            BroadcastDelivery.state.in_(
                (DeliveryState.BLOCKED, DeliveryState.NOT_LINKED, DeliveryState.FAILED)
            ),
        )
        .order_by(Unit.name, Person.full_name, Person.id)
    )
    return [
        NotReached(p.full_name, p.personal_id, p.phone, unit, pos, d.state, d.last_error)
        for d, p, unit, pos in (await session.execute(stmt)).all()
    ]


NOT_REACHED_HEADERS = (
    "Họ và tên",
    "Số CCCD",
    "Số điện thoại",
    "Đơn vị",
    "Chức danh",
    "Lý do chưa nhận được",
    "Chi tiết",
)
REASONS_VI = {
    DeliveryState.BLOCKED: "Đã chặn bot",
    DeliveryState.NOT_LINKED: "Chưa liên kết với bot",
    DeliveryState.FAILED: "Gửi không thành công",
}


def write_not_reached(path: Path, rows: Sequence[NotReached]) -> None:
    """The list to phone, with Vietnamese headers, as XLSX (Excel keeps Vietnamese readable)."""
    table = [
        (r.full_name, r.personal_id, r.phone or "", r.unit, r.position or "",
         REASONS_VI.get(r.state, r.state.value), r.error or "")
        for r in rows
    ]  # fmt: skip
    write_rows_xlsx(path, NOT_REACHED_HEADERS, table, "Chưa nhận được")
