"""The Zalo channel end to end against a local stand-in of the Zalo Bot API.

The bot's own client talks HTTP to tests/zalo_standin.py; updates arrive by long polling
(or are handed to ZaloBot.handle directly where the transport does not matter), and what the
user would read is what the stand-in received in sendMessage.
"""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from telegram import Update

from bot.app import OFFLINE_TOKEN
from bot.context import Resources
from bot.serve import serve
from bot.telegram.sender import TelegramSender
from bot.zalo.client import ZaloClient, ZaloError, ZaloRateLimited, ZaloUnauthorized
from bot.zalo.polling import Poller
from bot.zalo.webhook import serve as serve_webhook
from domain.channels import linked_channels, set_preferred_channel
from domain.linking import create_code
from handlers.dialog import Choice, Dialogs, OutOfRange, Picked, Replaced, Stale, split
from locales import Translator
from schedules.notifications import drain_once
from schedules.pacing import Pacer
from storage.models import ChatAccount, Notification, NotificationState, Registration
from tests.factories import make_course, make_person
from tests.fixtures_zalo import TZ, at, person_on_zalo
from tests.harness import build, recording_api, settings
from tests.zalo_standin import Zalo

pytestmark = pytest.mark.databases("sqlite")
# -- the client and the stand-in -----------------------------------------------------------


async def test_client_methods_against_the_stand_in(zalo: Zalo) -> None:
    c, srv = zalo.client, zalo.srv
    assert (await c.get_me())["account_name"] == "bot.boiduong"
    assert await c.get_updates(timeout=0) is None  # 408: nothing new
    srv.push(srv.text_update("u1", "xin chào"))
    update = await c.get_updates(timeout=1)
    assert update is not None and update["message"]["text"] == "xin chào"
    sent = await c.send_message("u1", "Chào bạn")
    assert isinstance(sent["message_id"], str)
    await c.send_chat_action("u1")
    await c.send_photo("u1", "https://example.org/a.png", caption="ảnh")
    with pytest.raises(ValueError):
        await c.send_message("u1", "x" * 2001)
    with pytest.raises(ZaloError) as refused:  # the stand-in itself refuses 2,001 characters
        await c.call("sendMessage", chat_id="u1", text="x" * 2001)
    assert refused.value.code == 400
    await c.set_webhook("https://bot.example.vn/zalo", "s3cret-token")
    assert (await c.get_webhook_info())["url"] == "https://bot.example.vn/zalo"
    with pytest.raises(ZaloError):
        await c.get_updates(timeout=0)  # polling while a webhook is set is refused
    await c.delete_webhook()
    srv.fail("sendMessage", 429)
    with pytest.raises(ZaloRateLimited):
        await c.send_message("u1", "again")
    async with ZaloClient("wrong:token", base_url=srv.base_url) as bad:
        with pytest.raises(ZaloUnauthorized):
            await bad.get_me()


async def test_polling_deletes_the_webhook_answers_and_backs_off(zalo: Zalo) -> None:
    srv = zalo.srv
    await zalo.client.set_webhook("https://bot.example.vn/zalo", "s3cret-token")
    srv.fail("getUpdates", 500, 502)
    poller = Poller(zalo.bot, timeout=1, backoff_first=0.05, backoff_max=0.2)
    stop = asyncio.Event()
    task = asyncio.create_task(poller.run(stop))
    srv.push(srv.text_update("u7", "help"))
    reply = await srv.reply_to("u7")
    assert reply.startswith("Cách dùng bot")  # HTML made plain
    methods = [m for m, _ in srv.calls]
    assert methods.index("deleteWebhook") < methods.index("getUpdates")
    assert methods.count("getUpdates") >= 3  # two failures, then the update
    assert srv.webhook is None
    started = asyncio.get_running_loop().time()
    stop.set()
    await asyncio.wait_for(task, 5)
    assert asyncio.get_running_loop().time() - started < 2  # stops without waiting a poll out


# -- numbered choices ----------------------------------------------------------------------


def test_choices_by_number_by_label_without_diacritics_and_stale() -> None:
    dialogs, now = Dialogs(None, "zalo", ttl=timedelta(minutes=30)), datetime.now(UTC)
    choices = [Choice("📚 Khóa học", "courses"), Choice("✍️ Đăng ký", "reg:4")]
    assert isinstance(dialogs.pick("c", "1", now), Stale)  # nothing offered yet
    dialogs.offer("c", choices, now)
    assert dialogs.pick("c", "2", now) == Picked("reg:4")
    assert dialogs.pick("c", " 1. ", now) == Picked("courses")
    assert dialogs.pick("c", "dang ky", now) == Picked("reg:4")
    assert dialogs.pick("c", "KHÓA HỌC", now) == Picked("courses")
    assert dialogs.pick("c", "7", now) == OutOfRange(2)
    assert dialogs.pick("c", "bồi dưỡng", now) is None  # not a choice: free text
    assert isinstance(dialogs.pick("c", "1", now + timedelta(minutes=31)), Stale)


def test_a_push_replacing_a_recent_list_asks_again_before_acting() -> None:
    dialogs, now = Dialogs(None, "zalo"), datetime.now(UTC)
    prompt = [Choice("Từ chối, không nêu lý do", "appskip:1"), Choice("Không, giữ lại", "no")]
    notice = [Choice("Phê duyệt", "appyes:2"), Choice("Từ chối", "appno:2")]
    dialogs.offer("c", prompt, now)
    dialogs.offer("c", notice, now + timedelta(seconds=30), pushed=True)
    soon = now + timedelta(seconds=40)
    assert dialogs.pick("c", "1", soon) == Replaced(2)  # meant for the prompt, perhaps
    assert dialogs.pick("c", "phe duyet", soon) == Replaced(2)  # a label too
    assert dialogs.pick("c", "lớp đủ người", soon) is None  # free text is not a pick
    assert dialogs.pick("c", "1", now + timedelta(seconds=91)) == Picked("appyes:2")  # guard over
    dialogs.offer("c", notice, soon)  # shown again in answer to the user: picks act
    assert dialogs.pick("c", "1", soon) == Picked("appyes:2")


def test_a_push_replacing_no_recent_list_is_answered_at_once() -> None:
    dialogs, now = Dialogs(None, "zalo"), datetime.now(UTC)
    notice = [Choice("Xác nhận", "nomyes:3")]
    dialogs.offer("a", notice, now, pushed=True)  # nothing offered before
    assert dialogs.pick("a", "1", now) == Picked("nomyes:3")
    dialogs.offer("b", [Choice("📚 Khóa học", "courses")], now)
    dialogs.offer("b", notice, now + timedelta(minutes=11), pushed=True)  # the menu is old
    assert dialogs.pick("b", "1", now + timedelta(minutes=11)) == Picked("nomyes:3")
    dialogs.offer("c", [Choice("📚 Khóa học", "courses")], now)
    dialogs.offer("c", [], now)  # the last answer offered nothing
    dialogs.offer("c", notice, now + timedelta(seconds=10), pushed=True)
    assert dialogs.pick("c", "1", now + timedelta(seconds=10)) == Picked("nomyes:3")


def test_typed_answers_expire_on_their_ttl_and_on_a_push_unless_kept() -> None:
    dialogs, now = Dialogs(None, "zalo"), datetime.now(UTC)
    notice = [Choice("Xác nhận", "nomyes:3")]
    dialogs.owe("c", "reason", now, {"id": "1"}, ttl=timedelta(minutes=5))
    assert dialogs.state("c", now + timedelta(minutes=4)).expect == "reason"
    assert dialogs.state("c", now + timedelta(minutes=5)).expect is None
    dialogs.owe("c", "reason", now, {"id": "1"}, ttl=timedelta(minutes=5))
    dialogs.offer("c", notice, now, pushed=True)
    assert (dialogs.state("c", now).expect, dialogs.state("c", now).data) == (None, {})
    dialogs.owe("c", "claim_photo", now, {"kind": "training"}, survives_push=True)
    dialogs.offer("c", notice, now, pushed=True)
    assert dialogs.state("c", now).expect == "claim_photo"
    dialogs.expect("c", "birth", now, phone="0912")  # the dialog's TTL, cleared by a push
    assert dialogs.state("c", now + timedelta(minutes=29)).expect == "birth"
    dialogs.offer("c", notice, now, pushed=True)
    assert dialogs.state("c", now).expect is None


async def test_a_notice_pushed_while_its_chat_is_answered_joins_the_answers_state(
    zalo: Zalo,
) -> None:
    """The list of whichever message went out last is current, as when the state was in memory."""
    dialogs, now = zalo.bot.dialogs, datetime.now(UTC)
    notice = [Choice("Xác nhận", "na:3"), Choice("Từ chối", "nd:3")]
    menu = [Choice("📚 Khóa học", "courses")]
    async with dialogs.turn("a"):  # an update of chat a is being answered
        await dialogs.push("a", notice, now)  # the notice goes out before the answer's reading
        await dialogs.load("a", now)
        dialogs.offer("a", menu, now)  # the answer goes out after the notice
        await dialogs.save("a", now)
    assert (await zalo.dialog("a")).choices == tuple(menu)
    async with dialogs.turn("b"):
        await dialogs.load("b", now)
        dialogs.offer("b", menu, now)
        await dialogs.push("b", notice, now)  # the notice goes out after the answer
        await dialogs.save("b", now)
    state = await zalo.dialog("b")
    assert state.choices == tuple(notice)
    assert state.guard_until is not None  # a "1" meant for the menu is asked again
    await dialogs.push("c", notice, now)  # no update in flight: written at once
    assert (await zalo.dialog("c")).choices == tuple(notice)


def test_long_text_is_split_at_line_breaks() -> None:
    lines = [f"Dòng {i}: " + "chữ " * 30 for i in range(60)]
    pieces = split("\n".join(lines))
    assert len(pieces) > 1
    assert all(1 <= len(p) <= 2000 for p in pieces)
    assert "\n".join(pieces).split("\n") == lines  # cut only between lines
    assert all(len(p) <= 2000 for p in split("x" * 4500))


async def test_a_stale_number_gets_a_clear_answer(zalo: Zalo) -> None:
    await person_on_zalo(zalo.db, "u1")
    replies = await zalo.say("u1", "3")
    assert "hết hạn" in replies[0]
    # The answer offered the main menu again; a restart keeps it (the state is a row).
    zalo.bot.dialogs = Dialogs(zalo.db, "zalo")
    replies = await zalo.say("u1", "2")
    assert replies[0].startswith("📚 Khóa học bạn tham gia được")


async def test_messages_typed_in_quick_succession_are_answered_in_turn(zalo: Zalo) -> None:
    """Each message finds the list the one before it offered, however fast they arrive."""
    srv = zalo.srv
    await person_on_zalo(zalo.db, "q1")
    async with zalo.db.begin() as s:
        await make_course(s, title="Quản lý nhà nước", starts_at=datetime.now(UTC) + timedelta(3))
    first = asyncio.create_task(zalo.bot.handle(srv.text_update("q1", "khoa hoc")))
    second = asyncio.create_task(zalo.bot.handle(srv.text_update("q1", "1")))
    await first  # the second is being answered now; a third arrives meanwhile
    third = asyncio.create_task(zalo.bot.handle(srv.text_update("q1", "1")))
    await asyncio.gather(second, third)
    listed, card, asked = srv.sent_to("q1")
    assert listed.startswith("📚 Khóa học bạn tham gia được")
    assert card.startswith("Quản lý nhà nước") and "1. ✍️ Đăng ký" in card
    assert asked.startswith("Đăng ký khóa Quản lý nhà nước?")


async def test_images_stickers_and_groups_get_a_polite_answer(zalo: Zalo) -> None:
    srv = zalo.srv
    await zalo.bot.handle(srv.image_update("u2"))
    await zalo.bot.handle(srv.sticker_update("u2"))
    assert srv.sent_to("u2") == ["Tôi chỉ đọc được chữ. Vui lòng gõ tin nhắn của bạn."] * 2
    await zalo.bot.handle(srv.text_update("g1", "status", chat_type="GROUP"))
    assert srv.sent_to("g1") == ["Vui lòng nhắn riêng cho tôi."]


# -- linking -------------------------------------------------------------------------------


async def test_link_by_code_then_status(zalo: Zalo) -> None:
    async with zalo.db.begin() as s:
        await make_person(s, personal_id="020123456789", full_name="Lò Thị Mai")
        made = await create_code(
            s, personal_id="020123456789", now=datetime.now(UTC), ttl=timedelta(hours=1)
        )
    assert made is not None
    welcome = await zalo.say("u3", "xin chào")
    assert "mã liên kết" in welcome[0]
    code = made[0]
    replies = await zalo.say("u3", f"{code[:5]} {code[5:].lower()}")
    assert "Lò Thị Mai" in replies[0] and "<b>" not in replies[0]
    assert "\n1. " in replies[0]  # the main menu, numbered
    status = await zalo.say("u3", "1")
    assert "Tiêu chuẩn" in status[0] or "tiêu chuẩn" in status[0]
    again = await zalo.say("u3", "chuan cua toi")  # the menu label, typed without accents
    assert again[0] == status[0]


async def test_wrong_codes_lock_the_chat(zalo: Zalo) -> None:
    for n in range(4):
        replies = await zalo.say("u4", "ABCDEFGHJK")
        assert f"{4 - n}" in replies[0]
    replies = await zalo.say("u4", "ABCDEFGHJK")
    assert "quá nhiều" in replies[0]


async def test_link_by_phone_and_birth_with_attempt_limit(zalo: Zalo) -> None:
    async with zalo.db.begin() as s:
        await make_person(
            s, full_name="Hà Văn Dũng", phone="0912345678", date_of_birth=date(1985, 3, 25)
        )
    asked = await zalo.say("u5", "0912 345 678")
    assert "ngày sinh" in asked[0]
    wrong = await zalo.say("u5", "26/03/1985")
    assert "không khớp" in wrong[0] and "4" in wrong[0]
    await zalo.say("u5", "0912345678")
    linked = await zalo.say("u5", "25-3-1985")
    assert "Hà Văn Dũng" in linked[0]
    for n in range(5):  # another chat guessing birth dates is stopped
        await zalo.say("u6", "0912345678")
        await zalo.say("u6", f"0{n + 1}/01/1990")
    await zalo.say("u6", "0912345678")
    locked = await zalo.say("u6", "25/03/1985")  # even the right answer waits now
    assert "quá nhiều" in locked[0]


# -- courses and registration --------------------------------------------------------------


async def test_register_by_typing_numbers_and_cancel(zalo: Zalo) -> None:
    person_id = await person_on_zalo(zalo.db, "u8")
    async with zalo.db.begin() as s:
        await make_course(s, title="Bồi dưỡng lý luận chính trị")
        course = await make_course(s, title="Kỹ năng số cho công chức xã")
        course_id = course.id
    listing = await zalo.say("u8", "khoa hoc")
    assert "1. " in listing[0] and "2. " in listing[0]
    number = "2" if listing[0].index("Kỹ năng số") > listing[0].index("2. ") else "1"
    card = await zalo.say("u8", number)
    assert "Kỹ năng số cho công chức xã" in card[0] and "1. ✍️ Đăng ký" in card[0]
    confirm = await zalo.say("u8", "dang ky")  # the label, typed without accents
    assert "1. ✅ Có, đăng ký" in confirm[0]
    done = await zalo.say("u8", "1")
    assert "Kỹ năng số cho công chức xã" in done[0]
    async with zalo.db() as s:
        reg = (await s.execute(select(Registration).filter_by(person_id=person_id))).scalar_one()
    assert reg.course_id == course_id and reg.status == "registered"
    mine = await zalo.say("u8", "my")
    assert "Kỹ năng số cho công chức xã" in mine[0]
    card = await zalo.say("u8", "1")
    assert "1. Hủy đăng ký" in card[0]
    await zalo.say("u8", "1")
    cancelled = await zalo.say("u8", "1")
    assert "hủy" in cancelled[0].lower()
    searched = await zalo.say("u8", "ly luan chinh tri")
    assert "Bồi dưỡng lý luận chính trị" in searched[0]


async def test_language_and_reminder_settings(zalo: Zalo) -> None:
    person_id = await person_on_zalo(zalo.db, "u9")
    menu = await zalo.say("u9", "ngon ngu")
    assert "1. Tiếng Việt" in menu[0] and "2. English" in menu[0]
    english = await zalo.say("u9", "english")
    assert english[0].startswith("Language set to English.")
    settings = await zalo.say("u9", "reminders")
    assert "1. Turn off: Course start reminders" in settings[0]
    await zalo.say("u9", "1")
    async with zalo.db() as s:
        from domain.reminders import opted_out

        assert await opted_out(s, person_id) == {"course"}


# -- reminders on Zalo ---------------------------------------------------------------------


async def test_a_reminder_is_delivered_on_zalo_with_numbered_choices(zalo: Zalo) -> None:
    start = at("10/12/2026", "08:00")
    with time_machine.travel(at("01/12/2026", "10:00"), tick=True):
        await person_on_zalo(zalo.db, "u10")
        async with zalo.db.begin() as s:
            course = await make_course(s, title="Kỹ năng số", starts_at=start)
            course_id = course.id
        await zalo.say("u10", "khoa hoc")
        await zalo.say("u10", "1")
        await zalo.say("u10", "1")
        await zalo.say("u10", "1")
        assert await zalo.drain() == 0  # nothing due yet
    with time_machine.travel(at("09/12/2026", "16:00") + timedelta(seconds=1), tick=True):
        assert await zalo.drain() == 1
        reminder = zalo.srv.sent_to("u10")[-1]
        assert "Kỹ năng số" in reminder and "1. " in reminder and "<b>" not in reminder
        card = await zalo.say("u10", "1")  # "View course" under the reminder
        assert "Kỹ năng số" in card[0]
        assert await zalo.drain() == 0  # sent once
    async with zalo.db() as s:
        rows = (await s.execute(select(Notification).filter_by(course_id=course_id))).scalars()
        assert [r.state for r in rows].count(NotificationState.SENT) == 1


async def test_a_blocked_zalo_chat_is_deactivated(zalo: Zalo) -> None:
    start = at("10/12/2026", "08:00")
    with time_machine.travel(at("01/12/2026", "10:00"), tick=True):
        await person_on_zalo(zalo.db, "u11")
        async with zalo.db.begin() as s:
            await make_course(s, title="Kỹ năng số", starts_at=start)
        for text in ("khoa hoc", "1", "1", "1"):
            await zalo.say("u11", text)
    with time_machine.travel(at("09/12/2026", "16:00") + timedelta(seconds=1), tick=True):
        zalo.srv.fail("sendMessage", 403)
        assert await zalo.drain() == 0
    async with zalo.db() as s:
        account = (await s.execute(select(ChatAccount).filter_by(chat_user_id="u11"))).scalar_one()
        assert account.active is False


# -- webhook mode --------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_webhook_checks_the_secret_takes_both_shapes_and_drops_repeats(zalo: Zalo) -> None:
    srv, port, secret = zalo.srv, _free_port(), "a-long-webhook-secret"
    stop = asyncio.Event()
    task = asyncio.create_task(
        serve_webhook(
            zalo.bot,
            url="https://bot.example.vn/zalo/hook",
            secret=secret,
            listen=f"127.0.0.1:{port}",
            stop=stop,
        )
    )
    await srv.wait_for(lambda m, p: m == "setWebhook" and p["secret_token"] == secret)
    local = f"http://127.0.0.1:{port}/zalo/hook"
    hello = srv.text_update("w1", "help", message_id="m-1")
    assert await srv.post_webhook(local, hello, secret="wrong-secret-value") == 403
    assert await srv.post_webhook(local, hello, secret=None) == 403
    assert await srv.post_webhook(local, {"ok": True}, secret=secret) == 400
    assert await srv.post_webhook(local, hello, secret=secret, wrapped=True) == 200
    assert (await srv.reply_to("w1")).startswith("Cách dùng bot")
    assert "mã liên kết" in await srv.reply_to("w1")  # and how to link, as w1 is unknown
    # Zalo delivers the same message again (e.g. our answer was slow): answered once only.
    assert await srv.post_webhook(local, hello, secret=secret, wrapped=False) == 200
    flat = srv.text_update("w1", "ngon ngu", message_id="m-2")
    assert await srv.post_webhook(local, flat, secret=secret, wrapped=False) == 200
    assert "1. Tiếng Việt" in await srv.reply_to("w1")
    stop.set()
    await asyncio.wait_for(task, 5)
    assert sum("Cách dùng bot" in text for text in srv.sent_to("w1")) == 1


# -- both channels -------------------------------------------------------------------------


async def test_notices_reach_each_person_once_on_their_channel(
    zalo: Zalo, db_engine: AsyncEngine
) -> None:
    api = recording_api()
    app = build(settings(), db_engine, api)
    now = datetime.now(UTC)
    async with zalo.db.begin() as s:
        course = await make_course(s, title="Chuyển đổi số")
        people = {}
        for name, tg, za, tg_used, za_used in (
            ("telegram only", 501, None, 1, 0),
            ("zalo only", None, "z2", 0, 1),
            ("both, telegram last", 503, "z3", 1, 2),
            ("both, telegram last, prefers zalo", 504, "z4", 1, 2),
            ("both, zalo last", 505, "z5", 2, 1),
        ):
            p = await make_person(s, full_name=name)
            people[name] = p.id
            if tg is not None:
                api.add_user({"id": tg, "is_bot": False, "first_name": "X", "language_code": "vi"})
                s.add(_account("telegram", str(tg), p.id, now - timedelta(hours=tg_used)))
            if za is not None:
                s.add(_account("zalo", za, p.id, now - timedelta(hours=za_used)))
            s.add(
                Notification(
                    dedupe_key=f"course_changed:{course.id}:{p.id}:t",
                    person_id=p.id,
                    kind="course_changed",
                    course_id=course.id,
                    due_at=now - timedelta(minutes=1),
                )
            )
        await set_preferred_channel(
            s, person_id=people["both, telegram last, prefers zalo"], channel="zalo"
        )
    async with app:
        assert await zalo.drain(app.bot) == 5
        assert await zalo.drain(app.bot) == 0
    telegram = {chat: len(api.sent_to(chat)) for chat in (501, 503, 504, 505)}
    on_zalo = {chat: len(zalo.srv.sent_to(chat)) for chat in ("z2", "z3", "z4", "z5")}
    assert telegram == {501: 1, 503: 1, 504: 0, 505: 0}
    assert on_zalo == {"z2": 1, "z3": 0, "z4": 1, "z5": 1}
    assert "Chuyển đổi số" in zalo.srv.sent_to("z2")[0]


def _account(channel: str, user: str, person_id: int, used: datetime) -> ChatAccount:
    return ChatAccount(
        channel=channel,
        chat_user_id=user,
        chat_id=user,
        person_id=person_id,
        language="vi",
        # The longer ago it was used, the later it was linked: only use may decide the channel.
        linked_at=datetime(2026, 1, 1, tzinfo=UTC) + (datetime.now(UTC) - used),
        last_used_at=used,
    )


async def test_a_telegram_user_links_zalo_with_the_code_shown_there(
    zalo: Zalo, db_engine: AsyncEngine
) -> None:
    api = recording_api()
    app = build(settings(), db_engine, api)
    user = {"id": 610, "is_bot": False, "first_name": "Mai", "language_code": "vi"}
    api.add_user(user)
    async with zalo.db.begin() as s:
        person = await make_person(s, full_name="Lò Thị Mai")
        s.add(_account("telegram", "610", person.id, datetime.now(UTC)))
    async with app:
        await app.process_update(Update.de_json(api.message_update(user, "/zalo"), app.bot))
    shown = str(api.last_message(610)["text"])
    code = shown.split("/start ")[1].split()[0].strip(".,")
    replies = await zalo.say("z610", code)
    assert "Lò Thị Mai" in replies[0]
    async with zalo.db() as s:
        channels = await linked_channels(s, person.id)
    assert channels == ["telegram", "zalo"]  # Telegram stays linked


async def test_boiduong_run_serves_zalo_alone_and_sends_reminders(
    zalo: Zalo, db_engine: AsyncEngine
) -> None:
    """The `run --channel zalo` process body: polling, flows and the drainer loop together."""
    srv = zalo.srv
    async with zalo.db.begin() as s:
        await make_person(s, personal_id="020111222333", full_name="Vi Văn Tú")
        await make_course(
            s, title="Quản lý nhà nước", starts_at=datetime.now(UTC) + timedelta(days=2)
        )
        made = await create_code(
            s, personal_id="020111222333", now=datetime.now(UTC), ttl=timedelta(hours=1)
        )
    assert made is not None
    settings = zalo.settings.model_copy(update={"drain_interval_seconds": 0.05})
    stop = asyncio.Event()
    task = asyncio.create_task(serve(settings, db_engine, telegram=False, zalo=True, stop=stop))
    srv.push(srv.text_update("r1", made[0]))
    assert "Vi Văn Tú" in await srv.reply_to("r1")
    for text in ("khoa hoc", "1", "1"):
        srv.push(srv.text_update("r1", text))
        await srv.reply_to("r1")
    srv.push(srv.text_update("r1", "1"))
    assert "Quản lý nhà nước" in await srv.reply_to("r1")
    async with zalo.db.begin() as s:  # make the planned start reminder due now
        rows = (await s.execute(select(Notification))).scalars().all()
        assert rows
        for row in rows:
            row.due_at = datetime.now(UTC) - timedelta(seconds=1)
            row.urgent = True  # whatever the test machine's clock says about quiet hours
    reminder = await srv.reply_to("r1", timeout=10)
    assert "Quản lý nhà nước" in reminder
    stop.set()
    assert await asyncio.wait_for(task, 5) == 0


async def test_a_broadcast_reaches_a_mixed_audience_once_each_on_their_channel(
    zalo: Zalo, db_engine: AsyncEngine
) -> None:
    from schedules.broadcasts import drain_broadcasts
    from storage.models import Broadcast, BroadcastDelivery, BroadcastStatus

    api = recording_api()
    app = build(settings(), db_engine, api)
    now = datetime.now(UTC)
    async with zalo.db.begin() as s:
        broadcast = Broadcast(text="<b>Họp giao ban</b> lúc 08:00", status=BroadcastStatus.SENDING)
        s.add(broadcast)
        await s.flush()
        for name, tg, za, tg_used, za_used in (
            ("telegram only", 601, None, 1, 0),
            ("zalo only", None, "y2", 0, 1),
            ("both, zalo last", 603, "y3", 2, 1),
            ("both, telegram last", 604, "y4", 1, 2),
            ("nowhere", None, None, 0, 0),
        ):
            p = await make_person(s, full_name=name)
            if tg is not None:
                api.add_user({"id": tg, "is_bot": False, "first_name": "X", "language_code": "vi"})
                s.add(_account("telegram", str(tg), p.id, now - timedelta(hours=tg_used)))
            if za is not None:
                s.add(_account("zalo", za, p.id, now - timedelta(hours=za_used)))
            s.add(BroadcastDelivery(broadcast_id=broadcast.id, person_id=p.id))
    async with app:
        res = app.bot_data["resources"]
        senders = [TelegramSender(app.bot, Pacer(1000)), zalo.sender()]
        sent = await drain_broadcasts(res, senders)
        assert sent == 4
        assert await drain_broadcasts(res, senders) == 0
    telegram = {chat: len(api.sent_to(chat)) for chat in (601, 603, 604)}
    on_zalo = {chat: len(zalo.srv.sent_to(chat)) for chat in ("y2", "y3", "y4")}
    assert telegram == {601: 1, 603: 0, 604: 1}
    assert on_zalo == {"y2": 1, "y3": 1, "y4": 0}
    assert zalo.srv.sent_to("y2") == ["Họp giao ban lúc 08:00"]  # plain text on Zalo
    async with zalo.db() as s:
        states = sorted(
            str(d.state) for d in (await s.execute(select(BroadcastDelivery))).scalars()
        )
    assert states == ["not_linked", "sent", "sent", "sent", "sent"]
    from domain.broadcasts import progress
    from handlers.broadcast_text import report_text

    async with zalo.db() as s:
        done = await progress(s, broadcast_id=broadcast.id)
    assert done.by_channel == {"telegram": 2, "zalo": 2}
    report = report_text(Translator("vi", TZ), done)
    assert "Theo ứng dụng: Telegram 2, Zalo 2" in report


async def test_a_zalo_only_process_sends_broadcasts_and_lets_held_seats_go(
    zalo: Zalo, db_engine: AsyncEngine
) -> None:
    """`run --channel zalo` also drains broadcasts and expires nominations not answered."""
    from storage.models import (
        Broadcast,
        BroadcastDelivery,
        BroadcastStatus,
        RegistrationStatus,
    )

    srv, now = zalo.srv, datetime.now(UTC)
    async with zalo.db.begin() as s:
        course = await make_course(s, title="Kỹ năng số", starts_at=now + timedelta(days=9))
        on_zalo = await make_person(s, full_name="Lục Văn Zalo")
        s.add(_account("zalo", "q1", on_zalo.id, now))
        on_telegram = await make_person(s, full_name="Hà Thị Telegram")
        s.add(_account("telegram", "701", on_telegram.id, now))
        broadcast = Broadcast(text="<b>Họp</b> lúc 08:00", status=BroadcastStatus.SENDING)
        s.add(broadcast)
        await s.flush()
        for person in (on_zalo, on_telegram):
            s.add(BroadcastDelivery(broadcast_id=broadcast.id, person_id=person.id))
        s.add(Registration(course_id=course.id, person_id=on_zalo.id, queue_seq=1,
                           status=RegistrationStatus.NOMINATED,
                           hold_until=now - timedelta(minutes=1)))  # fmt: skip
    settings = zalo.settings.model_copy(
        update={"drain_interval_seconds": 0.05, "quiet_hours": "00:00-00:00"}
    )
    stop = asyncio.Event()
    task = asyncio.create_task(serve(settings, db_engine, telegram=False, zalo=True, stop=stop))
    try:
        first, second = await srv.reply_to("q1", timeout=10), await srv.reply_to("q1", timeout=10)
    finally:
        stop.set()
        assert await asyncio.wait_for(task, 5) == 0
    said = sorted([first, second], key=lambda text: "Họp" not in text)
    assert said[0] == "Họp lúc 08:00"
    assert "Kỹ năng số" in said[1]  # the nomination's hold ran out: they are told
    async with zalo.db() as s:
        states = {
            d.person_id: str(d.state)
            for d in (await s.execute(select(BroadcastDelivery))).scalars()
        }
        held = (await s.execute(select(Registration.status))).scalar_one()
        status = (await s.execute(select(Broadcast.status))).scalar_one()
    # Telegram is not served by this process: the Telegram-only person is "not linked" here.
    assert states == {on_zalo.id: "sent", on_telegram.id: "not_linked"}
    assert held == RegistrationStatus.EXPIRED
    assert str(status) == "done"


async def test_with_telegram_served_elsewhere_a_zalo_process_leaves_telegram_people_to_it(
    zalo: Zalo, db_engine: AsyncEngine
) -> None:
    """Two processes on one database (`run --channel zalo` and `run --channel telegram`):
    each reaches people on its own app and leaves the others, and their report, to the other."""
    from domain.reminders import COURSE_CHANGED, notify_now
    from schedules.broadcasts import drain_broadcasts
    from storage.models import Broadcast, BroadcastDelivery, BroadcastStatus

    api = recording_api()
    both = zalo.settings.model_copy(update={"bot_token": SecretStr(OFFLINE_TOKEN),
                                            "quiet_hours": "00:00-00:00"})  # fmt: skip
    organizer = {"id": 720, "is_bot": False, "first_name": "O", "language_code": "vi"}
    api.add_user(organizer)
    for uid in (701, 702):
        api.add_user({"id": uid, "is_bot": False, "first_name": "T", "language_code": "vi"})
    now = datetime.now(UTC)
    async with zalo.db.begin() as s:
        course = await make_course(s, title="Kỹ năng số", starts_at=now + timedelta(days=9))
        on_zalo = await make_person(s, full_name="Lục Văn Zalo")
        s.add(_account("zalo", "q1", on_zalo.id, now))
        on_telegram = await make_person(s, full_name="Hà Thị Telegram")
        s.add(_account("telegram", "701", on_telegram.id, now))
        boss = await make_person(s, full_name="Cán bộ tổ chức")
        s.add(_account("telegram", "720", boss.id, now))
        chooser = await make_person(s, full_name="Mã Văn Chọn", preferred_channel="zalo")
        s.add(_account("telegram", "702", chooser.id, now))  # used Telegram last
        s.add(_account("zalo", "q2", chooser.id, now - timedelta(days=1)))
        broadcast = Broadcast(text="Họp lúc 08:00", status=BroadcastStatus.SENDING,
                              report_chat_id="720")  # fmt: skip
        s.add(broadcast)
        await s.flush()
        for person in (on_zalo, on_telegram, chooser):
            s.add(BroadcastDelivery(broadcast_id=broadcast.id, person_id=person.id))
        await notify_now(s, key="changed:1", person_id=on_telegram.id, kind=COURSE_CHANGED,
                         now=now, course_id=course.id)  # fmt: skip
    res = Resources(settings=both, db=zalo.db)

    async def states() -> dict[int, str]:
        async with zalo.db() as s:
            rows = (await s.execute(select(BroadcastDelivery))).scalars()
            return {d.person_id: str(d.state) for d in rows}

    async def due_now() -> None:  # the minute a row was left for has passed
        async with zalo.db.begin() as s:
            for row in (await s.execute(select(BroadcastDelivery))).scalars():
                row.due_at = now

    app = build(both, db_engine, api)
    async with app:  # the Telegram process first: Zalo people, and those who chose Zalo, wait
        telegram = TelegramSender(app.bot, Pacer(1000))
        assert await drain_broadcasts(app.bot_data["resources"], [telegram]) == 1
        assert await states() == {on_zalo.id: "pending", on_telegram.id: "sent",
                                  chooser.id: "pending"}  # fmt: skip
        assert api.sent_to(702) == []  # used Telegram last, but chose Zalo
        await due_now()
        assert await drain_broadcasts(res, [zalo.sender()]) == 2
        assert await drain_once(res, [zalo.sender()]) == 0
        async with zalo.db() as s:
            status = (await s.execute(select(Broadcast.status))).scalar_one()
            note = (await s.execute(select(Notification))).scalar_one()
        assert await states() == {p.id: "sent" for p in (on_zalo, on_telegram, chooser)}
        assert zalo.srv.sent_to("q2") == ["Họp lúc 08:00"]  # the app they chose, once
        assert str(status) == "sending"  # the report is the Telegram process's to send
        assert note.state == NotificationState.PENDING and note.due_at > now  # a Telegram one
        assert await drain_broadcasts(app.bot_data["resources"], [telegram]) == 0
    assert [m["text"] for m in api.sent_to(701)] == ["Họp lúc 08:00"]
    assert api.sent_to(702) == []
    assert any("Thông báo #" in str(m.get("text")) for m in api.sent_to(720))  # the report
