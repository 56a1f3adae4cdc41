"""A restart in the middle of /broadcast: the real `boiduong run` process is killed (SIGKILL,
no goodbye) after the organizer typed the message and chose the audience, and again while it
waits for a typed time; each time the process started anew continues at the same step, as the
draft and the step the chat owes live in the database. Against the strict stand-in Bot API;
every wait has a timeout and every process is killed in the end.
"""

from __future__ import annotations

import asyncio
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from domain import roles
from storage.models import AuditEntry, Broadcast, BroadcastDelivery, BroadcastStatus, Role
from storage.repos.dialogs import DialogRepo
from tests.factories import make_account, make_person, make_unit
from tests.process import BotProcess
from tests.standin import StandInBotAPI

TOKEN = "123456:RESTART-TEST-TOKEN"
TZ = ZoneInfo("Asia/Ho_Chi_Minh")
ORGANIZER: dict[str, Any] = {"id": 5151, "is_bot": False, "first_name": "Tổ", "language_code": "vi"}
CHAT = ORGANIZER["id"]
RECIPIENTS = (6001, 6002)
TEXT = "Họp giao ban sáng thứ Hai"
BOLD = [{"type": "bold", "offset": 0, "length": 12}]
STEP = 10.0  # seconds allowed for the bot to answer one action
START = 40.0  # an interpreter starting, imports, the migrations check


async def started(srv: StandInBotAPI, bot: BotProcess) -> None:
    """Start `boiduong run` and wait until it polls (its command menus are set just before)."""
    since = len(srv.api.calls)
    await bot.start()
    try:
        await srv.wait_for(lambda m, p: m == "setMyCommands", START, since=since)
    except TimeoutError as exc:
        raise AssertionError(f"{exc}\n--- bot stderr ---\n{bot.tail()}") from exc


def _data(message: dict[str, Any]) -> list[str]:
    markup = message.get("reply_markup") or {}
    return [b.get("callback_data", "") for row in markup.get("inline_keyboard", []) for b in row]


async def said(srv: StandInBotAPI, start: str) -> dict[str, Any]:
    """The bot's next message to the organizer starting `start`."""
    _, params = await srv.wait_for(
        lambda m, p: m == "sendMessage" and p["chat_id"] == CHAT and p["text"].startswith(start),
        STEP,
    )
    return params


async def press(srv: StandInBotAPI, data: str) -> None:
    message = next(m for m in reversed(srv.api.sent_to(CHAT)) if data in _data(m))
    update = srv.api.callback_update(ORGANIZER, message["message_id"], data)
    query, since = update["callback_query"]["id"], len(srv.api.calls)
    srv.api.push(update)
    await srv.wait_for(
        lambda m, p: m == "answerCallbackQuery" and p["callback_query_id"] == query, STEP,
        since=since,
    )


async def owes(db: async_sessionmaker[AsyncSession], step: str) -> None:
    """Wait until the chat's dialog row says it owes `step` (written after the answer)."""
    for _ in range(int(STEP / 0.05)):
        async with db() as s:
            raw = await DialogRepo(s).state("telegram", str(CHAT), datetime.now(UTC))
        if raw and raw.get("expect") == step:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the dialog never owed {step}")


@pytest.mark.databases("sqlite")
async def test_broadcast_continues_at_the_same_step_after_the_bot_is_killed(
    db_engine: AsyncEngine, db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    async with db.begin() as s:
        district = await make_unit(s, code="LS-TD", kind="district")
        commune = await make_unit(s, code="LS-X1", parent=district)
        org = await make_person(s, unit=district, full_name="Trần Tổ Chức")
        await make_account(s, person=org, chat_user_id=str(CHAT), language="vi")
        await roles.grant(s, person_id=org.id, role=Role.ORGANIZER, unit_id=district.id, by="t")
        for uid in RECIPIENTS:
            person = await make_person(s, unit=commune)
            await make_account(s, person=person, chat_user_id=str(uid), language="vi")
    file = db_engine.url.database
    assert file is not None
    when = (datetime.now(TZ) + timedelta(days=2)).replace(hour=10, minute=0)

    async with StandInBotAPI(token=TOKEN) as srv:
        for uid in (CHAT, *RECIPIENTS):
            srv.api.add_user({**ORGANIZER, "id": uid})
        bot = BotProcess(tmp_path, PTB_TIMEDELTA="1", BOT_TOKEN=TOKEN,
                         DATABASE_URL=f"sqlite+aiosqlite:///{file}",
                         TELEGRAM_BASE_URL=srv.base_url,
                         TELEGRAM_BASE_FILE_URL=srv.base_file_url)  # fmt: skip
        try:
            # The message typed, the audience chosen by unit; the bot asks about "Received".
            await started(srv, bot)
            srv.api.push(srv.api.message_update(ORGANIZER, "/broadcast"))
            await said(srv, "Gửi nội dung thông báo")
            update = srv.api.message_update(ORGANIZER, TEXT)
            update["message"]["entities"] = BOLD
            srv.api.push(update)
            draft = int(_data(await said(srv, "Ai sẽ nhận?"))[0].split(":")[1])
            await press(srv, f"bca:{draft}:unit")
            await said(srv, "Gõ tên đơn vị")
            srv.api.push(srv.api.message_update(ORGANIZER, "LS-X1"))
            ask = await said(srv, "Số người nhận: 2, trong đó 2 người đã liên kết bot.")
            assert _data(ask) == [f"bck:{draft}:1", f"bck:{draft}:0"]
            assert await bot.kill() == -signal.SIGKILL

            # Started again: "Yes" continues, the preview as recipients will see it; then a
            # time is asked for, and the bot killed again while that answer is owed.
            await started(srv, bot)
            await press(srv, f"bck:{draft}:1")
            preview = await said(srv, f"<b>{TEXT[:12]}</b>")  # (an hours reminder may come too)
            assert preview["text"] == f"<b>{TEXT[:12]}</b>{TEXT[12:]}"
            assert _data(preview) == [f"bok:{draft}"]
            summary = await said(srv, "⬆️")
            assert "Đối tượng: đơn vị" in summary["text"]
            await press(srv, f"bct:{draft}")
            await said(srv, "Gửi lúc nào?")
            await owes(db, "broadcast.when")
            assert await bot.kill() == -signal.SIGKILL

            # Started once more: the typed time is the owed answer; the broadcast is scheduled.
            await started(srv, bot)
            srv.api.push(srv.api.message_update(ORGANIZER, when.strftime("%d/%m/%Y %H:%M")))
            done = await said(srv, "🕒 Đã hẹn gửi lúc")
            assert done["text"].startswith(f"🕒 Đã hẹn gửi lúc {when:%d/%m/%Y %H:%M}, cho 2 người.")
            assert _data(done) == [f"bcx:{draft}"]
            assert await bot.stop() == 0
            assert bot.starts == 3 and "Traceback" not in bot.tail(10_000)
        finally:
            await bot.kill()  # still running only if the test failed

        assert srv.rejected == []
        # A killed process leaves its long poll behind: the stand-in ends it with 409.
        assert all(m == "getUpdates" and "Conflict" in d for m, _, d in srv.api.failed)

    async with db() as s:
        b = await s.get(Broadcast, draft)
        rows = (await s.execute(select(BroadcastDelivery))).scalars().all()
        audit = [(e.action, e.actor) for e in (await s.execute(select(AuditEntry))).scalars()]
    assert b is not None and b.status == BroadcastStatus.SCHEDULED and b.ask_ack
    assert b.audience["units"] == ["LS-X1"] and len(rows) == 2
    assert audit == [("broadcast", f"telegram:{CHAT}")]
