"""Who is writing: the chat's account and conversation state, read when an update arrives.

Most updates come from a known chat that was used a moment ago, so both are read in a read
transaction, which on SQLite takes no write lock (storage.db.reading): updates of different
chats are answered side by side instead of one by one. The account is written, in a write
transaction of its own, only when something about it changed: first contact, a new chat id,
a deactivated chat writing again, or a linked chat's last use to move (domain.linking).
Nothing is cached between updates: several workers share the database, and a link, an
unlink or a change of language made by any of them counts from the next update on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain import linking
from handlers.dialog import Dialogs
from storage.db import reading
from storage.repos.accounts import AccountRepo


@dataclass(frozen=True)
class Caller:
    account_id: int
    person_id: int | None
    language: str | None  # the language the person chose, if any


async def identify(
    db: async_sessionmaker[AsyncSession],
    dialogs: Dialogs,
    *,
    channel: str,
    chat_user_id: str,
    chat_id: str,
    now: datetime,
) -> Caller:
    """The chat's account (created on first contact) with its conversation state loaded."""
    async with reading(db) as session:
        account = await AccountRepo(session).find(channel, chat_user_id)
        await dialogs.load(chat_id, now, session)
        if account is not None and linking.unchanged(account, chat_id=chat_id, now=now):
            return Caller(account.id, account.person_id, account.language)
    async with db.begin() as session:
        account = await linking.account_for(
            session, channel=channel, chat_user_id=chat_user_id, chat_id=chat_id, now=now
        )
        return Caller(account.id, account.person_id, account.language)
