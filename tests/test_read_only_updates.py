"""Reading commands answer without the write lock (handlers/caller.py, storage.db.reading):
a long write elsewhere (an import, a broadcast being queued, another worker linking) does not
hold up /help, /status or /courses, and an update writes the chat account only when something
about it changed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from domain.linking import TOUCH_EVERY
from storage.models import ChatAccount, Person
from tests.harness import AN, Telegram, add_course, add_person, linked, said

pytestmark = pytest.mark.databases("sqlite")  # the write lock is SQLite's


async def _last_used(tg: Telegram) -> datetime | None:
    async with tg.db() as s:
        stmt = select(ChatAccount.last_used_at).where(ChatAccount.chat_user_id == str(AN["id"]))
        value = (await s.execute(stmt)).scalar_one()
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


async def test_reading_commands_are_answered_while_someone_else_writes(tg: Telegram) -> None:
    await add_person(tg.db)
    await add_course(tg.db, title="Kỹ năng số cơ bản")
    chat = await linked(tg, AN)
    async with tg.db.begin() as s:  # holds the write lock until the block ends
        await s.execute(update(Person).values(full_name=Person.full_name))
        for command, answer in (
            ("/help", "<b>How to use this bot</b>"),
            ("/status", "<b>Your standards</b>"),
            ("/courses", "📚 Open courses you can join: %(n)d"),
        ):
            await asyncio.wait_for(chat.send(command), timeout=10)
            assert chat.last_text.startswith(said(answer, n=1)), command


async def test_a_chat_is_marked_used_only_when_its_last_use_is_old(tg: Telegram) -> None:
    await add_person(tg.db)
    chat = await linked(tg, AN)
    linked_at = await _last_used(tg)
    assert linked_at is not None
    await chat.send("/help")
    assert await _last_used(tg) == linked_at  # used a moment ago: nothing written

    long_ago = linked_at - TOUCH_EVERY - timedelta(minutes=1)
    async with tg.db.begin() as s:
        await s.execute(update(ChatAccount).values(last_used_at=long_ago))
    await chat.send("/help")
    now = await _last_used(tg)
    assert now is not None and now > linked_at
