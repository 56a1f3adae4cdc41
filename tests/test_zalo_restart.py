"""A Zalo conversation survives the bot being killed: the real `boiduong run` process, polling
the stand-in Zalo server, is stopped with SIGKILL in the middle of a conversation and started
again; the person's next message continues where they were, as the state is a database row.

The process is killed once its answer's state is written (it is written right after the
answer is sent). SQLite only: the process opens the test's database file.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.claims import CORRECTION
from handlers.dialog import ChatState, plain
from handlers.render import kind_label
from locales import Translator
from storage.models import ChatAccount, Claim, Registration
from tests.factories import make_course, make_person
from tests.process import BotProcess
from tests.zalo_standin import Zalo

pytestmark = pytest.mark.databases("sqlite")
VI = Translator("vi", ZoneInfo("Asia/Ho_Chi_Minh"))
STEP = 15.0  # seconds for the process to answer one message (a fresh start included)


def said(msgid: str) -> str:
    return plain(VI.gettext(msgid))


def number_of(message: str, label: str) -> str:
    """The number a numbered list in `message` gives `label`."""
    for line in message.splitlines():
        number, dot, rest = line.partition(". ")
        if dot and number.isdigit() and rest == label:
            return number
    raise AssertionError(f"{label!r} is not offered in:\n{message}")


async def on_zalo(zalo: Zalo, user: str) -> int:
    async with zalo.db.begin() as s:
        person = await make_person(s, full_name="Đinh Thị Hoa")
        s.add(ChatAccount(channel="zalo", chat_user_id=user, chat_id=user, person_id=person.id,
                          language="vi", linked_at=datetime.now(UTC)))  # fmt: skip
        return person.id


def bot_process(zalo: Zalo, engine: AsyncEngine, tmp_path: Path) -> BotProcess:
    return BotProcess(
        tmp_path, "run", "--channel", "zalo",
        DATABASE_URL=engine.url.render_as_string(hide_password=False),
        ZALO_BOT_TOKEN=zalo.srv.token, ZALO_BASE_URL=zalo.srv.base_url,
    )  # fmt: skip


async def stored(zalo: Zalo, user: str, ready: Callable[[ChatState], bool]) -> ChatState:
    """The chat's state once the running process has written what `ready` wants."""
    for _ in range(int(STEP / 0.05)):
        state = await zalo.dialog(user)
        if ready(state):
            return state
        await asyncio.sleep(0.05)
    raise AssertionError(f"the state of {user} was never written: {state}")


def offers(state: ChatState, action: str) -> bool:
    return action in [choice.action for choice in state.choices]


async def restart(zalo: Zalo, bot: BotProcess) -> None:
    """SIGKILL, start again, and wait until the new process polls (an update pushed before
    could go to the dead process's long poll, still open on the stand-in)."""
    await bot.kill()
    await bot.start()
    await zalo.srv.wait_for(lambda method, _params: method == "getMe", STEP)


async def test_a_numbered_choice_offered_before_a_kill_is_answered_after_the_restart(
    zalo: Zalo, db_engine: AsyncEngine, tmp_path: Path
) -> None:
    srv, soon = zalo.srv, datetime.now(UTC) + timedelta(days=5)
    person = await on_zalo(zalo, "k1")
    async with zalo.db.begin() as s:
        first = await make_course(s, title="Quản lý nhà nước", starts_at=soon)
        second = await make_course(s, title="Kỹ năng số", starts_at=soon + timedelta(days=2))
    async with bot_process(zalo, db_engine, tmp_path) as bot:
        try:
            srv.push(srv.text_update("k1", "khoa hoc"))
            listed = await srv.reply_to("k1", STEP)
            assert f"\n1. {first.title} (" in listed and f"\n2. {second.title} (" in listed
            await stored(zalo, "k1", lambda state: offers(state, f"c:{second.id}"))
            await restart(zalo, bot)
            srv.push(srv.text_update("k1", "2"))
            card = await srv.reply_to("k1", STEP)
            assert card.startswith(second.title), card
            srv.push(srv.text_update("k1", number_of(card, said("✍️ Register"))))
            asked = await srv.reply_to("k1", STEP)
            await stored(zalo, "k1", lambda state: offers(state, f"rc:{second.id}"))
            await restart(zalo, bot)  # killed again while "Register?" is asked
            srv.push(srv.text_update("k1", "1"))
            done = await srv.reply_to("k1", STEP)
        except (AssertionError, TimeoutError) as exc:
            raise AssertionError(f"{exc}\n--- bot stderr ---\n{bot.tail()}") from exc
    assert asked.startswith(f"Đăng ký khóa {second.title}?"), asked
    assert done.startswith(f"✅ Bạn đã đăng ký khóa {second.title}"), done
    async with zalo.db() as s:
        regs = (await s.execute(select(Registration.course_id).filter_by(person_id=person))).all()
    assert [r.course_id for r in regs] == [second.id]
    assert bot.starts == 3 and "Traceback" not in bot.tail(10_000)


async def test_a_claim_waiting_for_typed_details_continues_after_a_kill(
    zalo: Zalo, db_engine: AsyncEngine, tmp_path: Path
) -> None:
    srv = zalo.srv
    person = await on_zalo(zalo, "k2")
    note = "Ngày sinh ghi sai: đúng là 02/03/1985"
    async with bot_process(zalo, db_engine, tmp_path) as bot:
        try:
            srv.push(srv.text_update("k2", "tieu chuan"))
            status = await srv.reply_to("k2", STEP)
            claim = said("✏️ Report a mistake or claim a qualification")
            srv.push(srv.text_update("k2", number_of(status, claim)))
            kinds = await srv.reply_to("k2", STEP)
            srv.push(srv.text_update("k2", number_of(kinds, kind_label(VI, CORRECTION))))
            asked = await srv.reply_to("k2", STEP)
            assert asked == said("Describe what is wrong in your record and what it should be.")
            await stored(zalo, "k2", lambda state: state.expect == "claim_note")
            await restart(zalo, bot)
            srv.push(srv.text_update("k2", note))
            photo = await srv.reply_to("k2", STEP)
            assert photo == said("Now send a photo of the certificate or document.")
            await stored(zalo, "k2", lambda state: state.expect == "claim_photo")
            await restart(zalo, bot)  # and again while the photo is owed
            srv.push(srv.image_update("k2"))
            sent = await srv.reply_to("k2", STEP)
        except (AssertionError, TimeoutError) as exc:
            raise AssertionError(f"{exc}\n--- bot stderr ---\n{bot.tail()}") from exc
    assert sent.startswith("📨 "), sent
    assert bot.starts == 3 and "Traceback" not in bot.tail(10_000)
    async with zalo.db() as s:
        claims = (await s.execute(select(Claim).filter_by(person_id=person))).scalars().all()
    assert [(c.kind, c.note, c.evidence_kind) for c in claims] == [
        (CORRECTION, note, "zalo_photo")
    ]
