"""Which chat account a message to a person goes to, when they linked more than one channel.

A person may link one account per channel (Telegram, Zalo). Notices go to the channel they
chose, else to the one they used last (`ChatAccount.linked_at` moves forward on use), among
the channels the sending process serves. The choice is kept as a row "prefer:<channel>" in
`reminder_opt_outs` (whose category column is free text), so no schema change is needed.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ChatAccount, ReminderOptOut
from storage.repos.accounts import AccountRepo

PREFIX = "prefer:"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


async def preferred_channel(session: AsyncSession, person_id: int) -> str | None:
    stmt = select(ReminderOptOut.category).where(
        ReminderOptOut.person_id == person_id, ReminderOptOut.category.startswith(PREFIX)
    )
    found = (await session.execute(stmt)).scalars().first()
    return found[len(PREFIX) :] if found else None


async def set_preferred_channel(
    session: AsyncSession, *, person_id: int, channel: str | None
) -> None:
    """Send notices to `channel` from now on; None: to whichever was used last."""
    await session.execute(
        delete(ReminderOptOut).where(
            ReminderOptOut.person_id == person_id, ReminderOptOut.category.startswith(PREFIX)
        )
    )
    if channel is not None:
        session.add(ReminderOptOut(person_id=person_id, category=PREFIX + channel))
    await session.flush()


async def linked_channels(session: AsyncSession, person_id: int) -> list[str]:
    return sorted({a.channel for a in await AccountRepo(session).of_person(person_id)})


async def reachable_account(
    session: AsyncSession, *, person_id: int, channels: Collection[str]
) -> ChatAccount | None:
    """The active linked account to reach the person on, among `channels`; None if none."""
    accounts = [a for a in await AccountRepo(session).of_person(person_id) if a.channel in channels]
    if not accounts:
        return None
    preferred = await preferred_channel(session, person_id)
    for account in accounts:
        if account.channel == preferred:
            return account
    return max(accounts, key=lambda a: (a.linked_at or _EPOCH, a.id))
