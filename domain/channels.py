"""Which chat account a message to a person goes to, when they linked more than one channel.

A person may link one account per channel (Telegram, Zalo). Notices go to the channel they
chose (`Person.preferred_channel`), else to the one they used last (`ChatAccount.last_used_at`,
set on use by domain.linking), among the channels the sending process serves.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ChatAccount, Person
from storage.repos.accounts import AccountRepo

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


async def preferred_channel(session: AsyncSession, person_id: int) -> str | None:
    person = await session.get(Person, person_id)
    return person.preferred_channel if person is not None else None


async def set_preferred_channel(
    session: AsyncSession, *, person_id: int, channel: str | None
) -> None:
    """Send notices to `channel` from now on; None: to whichever was used last."""
    person = await session.get(Person, person_id)
    if person is None:
        raise LookupError(f"person {person_id} does not exist")
    person.preferred_channel = channel
    await session.flush()


async def linked_channels(session: AsyncSession, person_id: int) -> list[str]:
    return sorted({a.channel for a in await AccountRepo(session).of_person(person_id)})


def _last_used(account: ChatAccount) -> tuple[datetime, int]:
    # An account linked but never used since counts as used when it was linked.
    return (account.last_used_at or account.linked_at or _EPOCH, account.id)


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
    return max(accounts, key=_last_used)


LEFT_FOR_OTHERS = timedelta(minutes=1)


async def elsewhere(
    session: AsyncSession, *, person_id: int, served: Collection[str], used: Collection[str]
) -> bool:
    """Whether the person is to be reached on an app the deployment `used` but this process
    does not serve (their chosen one, or the only one they can be reached on): the process
    serving it delivers, so the row is left for it (put off by LEFT_FOR_OTHERS). Both
    processes must run. One process serving every app never asks the database here."""
    if all(c in served for c in used):
        return False
    best = await reachable_account(session, person_id=person_id, channels=used)
    return best is not None and best.channel not in served
