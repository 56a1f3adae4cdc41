"""A restart in the middle of a conversation: the real `boiduong run` process, killed with
SIGKILL after a few answers to /newcourse and started again, asks the same question and
creates the course with every answer given before the kill. The draft lives in the chat's
row of the dialogs table, not in the process (issue 16).

The process runs against the local stand-in Bot API (tests/standin.py); every wait has a
timeout and the process is always killed.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from config.settings import Settings
from domain import roles
from storage.models import ChatAccount, Course, Dialog, Role
from tests.factories import make_person, make_unit
from tests.standin import Predicate, StandInBotAPI

pytestmark = pytest.mark.databases("sqlite")

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "123456:RESTART-TEST-TOKEN"
USER: dict[str, Any] = {"id": 5151, "is_bot": False, "first_name": "Tổ", "language_code": "vi"}
CHAT = USER["id"]
TZ = ZoneInfo("Asia/Ho_Chi_Minh")
STEP = 10.0  # seconds allowed for the bot to answer one action
START = 30.0  # the interpreter, the imports and the migrations check


def _day(days: int) -> str:
    return (datetime.now(TZ) + timedelta(days=days)).strftime("%d/%m/%Y")


def _env(db_file: str, srv: StandInBotAPI) -> dict[str, str]:
    names = {name.lower() for name in Settings.model_fields}
    env = {k: v for k, v in os.environ.items() if k.lower() not in names}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.update(PYTHONIOENCODING="utf-8", PTB_TIMEDELTA="1", BOT_TOKEN=TOKEN,
               DATABASE_URL=f"sqlite+aiosqlite:///{db_file}",
               TELEGRAM_BASE_URL=srv.base_url,
               TELEGRAM_BASE_FILE_URL=srv.base_file_url)  # fmt: skip
    return env


@asynccontextmanager
async def _bot(srv: StandInBotAPI, env: dict[str, str], log: Path) -> AsyncIterator[Any]:
    """`boiduong run`, polling the stand-in; killed (SIGKILL) on the way out if still running."""
    since = len(srv.api.calls)
    with log.open("ab") as err:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "run", cwd=log.parent, env=env,
            stdin=asyncio.subprocess.DEVNULL, stdout=err, stderr=err,
        )  # fmt: skip
    try:
        # Polling has begun once a long poll is made.
        await srv.wait_for(lambda m, p: m == "getUpdates" and p["timeout"] > 0, START, since=since)
        yield proc
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGKILL)
            await asyncio.wait_for(proc.wait(), STEP)


def _answer(expected: str) -> Predicate:
    # A reminder the bot pushes meanwhile (the organizer is a civil servant too) is no answer.
    return lambda m, p: (
        m in ("sendMessage", "editMessageText") and p["chat_id"] == CHAT and expected in p["text"]
    )


async def _say(srv: StandInBotAPI, text: str, expected: str) -> str:
    """Type `text`; the bot's answer, which says `expected`."""
    since = len(srv.api.calls)
    srv.api.push(srv.api.message_update(USER, text))
    _, sent = await srv.wait_for(_answer(expected), STEP, since=since)
    return str(sent["text"])


async def _press(srv: StandInBotAPI, data: str, expected: str) -> str:
    """Press the newest button carrying `data`; the bot's answer, which says `expected`."""
    message = next(
        m for m in reversed(srv.api.sent_to(CHAT))
        for row in (m.get("reply_markup") or {}).get("inline_keyboard", [])
        for b in row if b.get("callback_data") == data
    )  # fmt: skip
    since = len(srv.api.calls)
    srv.api.push(srv.api.callback_update(USER, message["message_id"], data))
    _, sent = await srv.wait_for(_answer(expected), STEP, since=since)
    return str(sent["text"])


async def _owed(db: async_sessionmaker[AsyncSession]) -> str | None:
    async with db() as s:
        state = (
            await s.execute(select(Dialog.state).where(Dialog.chat_id == str(CHAT)))
        ).scalar_one_or_none()
    return None if state is None else state.get("expect")


async def test_a_bot_killed_in_the_middle_of_newcourse_continues_after_restart(
    db: async_sessionmaker[AsyncSession], db_engine: AsyncEngine, tmp_path: Path
) -> None:
    async with db.begin() as s:
        unit = await make_unit(s, code="LS-X1", name="Xã Tân Thanh")
        person = await make_person(s, unit=unit, full_name="Lý Thị Tổ Chức")
        await roles.grant(s, person_id=person.id, role=Role.ORGANIZER, unit_id=unit.id, by="t")
        s.add(ChatAccount(channel="telegram", chat_user_id=str(CHAT), chat_id=str(CHAT),
                          person_id=person.id, linked_at=datetime.now(UTC)))  # fmt: skip
    assert db_engine.url.database is not None
    log = tmp_path / "bot.log"
    async with StandInBotAPI(token=TOKEN) as srv:
        srv.api.add_user(USER)
        env = _env(db_engine.url.database, srv)
        async with _bot(srv, env, log) as first:
            await _say(srv, "/newcourse", "bước 1/13")
            await _say(srv, "Chuyển đổi số cấp xã", "bước 2/13")
            await _press(srv, "on:cat:digital_skills", "bước 3/13")
            await _say(srv, f"{_day(20)} 07:30", "bước 4/13")
            # Killed once the answer is written down (the row) and the update confirmed (the
            # next poll's offset), as a crash after a finished update would be.
            for _ in range(int(STEP * 10)):
                if await _owed(db) == "newcourse.ends":
                    break
                await asyncio.sleep(0.1)
            assert await _owed(db) == "newcourse.ends"
            await srv.wait_for(lambda m, p: m == "getUpdates" and p.get("offset", 0) > 4,
                               STEP, since=0)  # fmt: skip
            first.send_signal(signal.SIGKILL)
            assert await asyncio.wait_for(first.wait(), STEP) == -signal.SIGKILL

        async with _bot(srv, env, log):
            # The same question, the end, after the start given before the kill; then on.
            await _say(srv, f"{_day(21)} 17:00", "bước 5/13")
            await _say(srv, "-", "bước 6/13")  # no sessions
            await _say(srv, "Hội trường UBND xã", "bước 7/13")
            await _say(srv, "40", "bước 8/13")
            await _say(srv, "-", "bước 9/13")  # registration until the start
            await _say(srv, "tất cả", "bước 10/13")
            await _say(srv, "8", "bước 11/13")
            await _press(srv, "on:g:-", "bước 13/13")
            preview = await _press(srv, "on:a:no", "Chuyển đổi số cấp xã")
            assert "Số chỗ: 40" in preview and "Kỹ năng số" in preview, preview
            await _press(srv, "onc", "Đã tạo khóa học")
        assert srv.rejected == [], srv.rejected

    async with db() as s:
        course = (await s.execute(select(Course))).scalar_one()
    assert (course.title, course.category, course.capacity) == (
        "Chuyển đổi số cấp xã", "digital_skills", 40)  # fmt: skip
    assert course.starts_at.astimezone(TZ).strftime("%d/%m/%Y %H:%M") == f"{_day(20)} 07:30"
    assert "Traceback" not in log.read_text(encoding="utf-8", errors="replace")
