"""Reminders: planned with the data, sent once at their local time, never at night, never lost.

Time is driven with time-machine (`tick=True`: the clock runs on from where a test puts it);
sends go to the in-memory Bot API through the real application, or over HTTP to the local
stand-in server where Telegram's flood limit matters.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from telegram import Update

from bot.app import OFFLINE_TOKEN
from bot.offline import OfflineBotAPI
from bot.telegram.sender import TelegramSender
from config.settings import Settings, SettingsError, load_settings
from domain import registration, reminders
from domain.reminders import Policy, Window, out_of_quiet_hours
from schedules.notifications import LEASE, drain_once, plan_all
from schedules.pacing import Pacer
from storage.db import create_engine
from storage.models import (
    ChatAccount,
    Course,
    CourseStatus,
    Notification,
    NotificationState,
    Secondment,
    StandardRule,
)
from storage.repos.notifications import NotificationRepo
from tests.factories import ZONE, make_course, make_person, make_position, make_unit
from tests.harness import Telegram, at, build, link_account
from tests.standin import StandInBotAPI

MONDAY_MORNING = at("01/12/2026", "10:00")
COURSE_START = at("10/12/2026", "08:00")
BEFORE_REMINDER = at("09/12/2026", "15:00")
REMINDER_DUE = at("09/12/2026", "16:00") + timedelta(seconds=1)  # the day-before reminder


async def linked(
    session: AsyncSession, api: OfflineBotAPI | None, user_id: int, *, lang: str = "vi"
) -> int:
    """A roster person whose Telegram chat is linked; returns the person's id."""
    person = await make_person(session, full_name=f"Người {user_id}")
    await link_account(session, api, person.id, user_id, lang=lang, first_name="X")
    return person.id


async def rows(db: async_sessionmaker[AsyncSession], **where: Any) -> list[Notification]:
    async with db() as s:
        stmt = select(Notification).filter_by(**where).order_by(Notification.due_at)
        return list((await s.execute(stmt)).scalars())


async def register(
    db: async_sessionmaker[AsyncSession], person_id: int, course_id: int, policy: Policy
) -> registration.RegistrationResult:
    async with db.begin() as s:
        return await registration.register(
            s, person_id=person_id, course_id=course_id, now=datetime.now(UTC), policy=policy
        )


# -- the policy ----------------------------------------------------------------------------------


def test_quiet_hours_move_a_moment_to_the_end_of_the_night_across_midnight() -> None:
    policy = Policy(tz=ZONE)  # 21:00-07:00 in Asia/Ho_Chi_Minh
    assert out_of_quiet_hours(at("01/12/2026", "22:30"), policy) == at("02/12/2026", "07:00")
    assert out_of_quiet_hours(at("02/12/2026", "03:00"), policy) == at("02/12/2026", "07:00")
    assert out_of_quiet_hours(at("02/12/2026", "07:00"), policy) == at("02/12/2026", "07:00")
    assert out_of_quiet_hours(at("02/12/2026", "20:59"), policy) == at("02/12/2026", "20:59")
    lunch = Policy(tz=ZONE, quiet=Window(time(12), time(13, 30)))
    assert out_of_quiet_hours(at("02/12/2026", "12:10"), lunch) == at("02/12/2026", "13:30")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("QUIET_HOURS", "25:00-07:00"),
        ("COURSE_REMINDERS", "3 days"),
        ("GRACE_REMINDER_DAYS", "180,soon"),
        ("HOURS_REMINDER_DATE", "31/02"),
    ],
)
def test_a_malformed_reminder_setting_stops_start_up_with_one_line(
    name: str, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=name) as caught:
        load_settings(Path("/nonexistent.env"))
    assert "\n" not in str(caught.value)


def test_reminder_settings_reach_the_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COURSE_REMINDERS", "2@09:30")
    monkeypatch.setenv("QUIET_HOURS", "22:00-06:00")
    policy = load_settings(Path("/nonexistent.env")).reminder_policy()
    assert policy.course_offsets == ((2, time(9, 30)),)
    assert policy.quiet == Window(time(22), time(6))


# -- kept in step with registrations -------------------------------------------------------------


async def test_registering_plans_start_reminders_3_days_before_at_8_and_the_day_before_at_16(
    db: async_sessionmaker[AsyncSession],
) -> None:
    with time_machine.travel(MONDAY_MORNING, tick=True):
        async with db.begin() as s:
            course = await make_course(s, starts_at=COURSE_START, capacity=1)
            first, second = await linked(s, None, 1), await linked(s, None, 2)
        await register(db, first, course.id, Policy(tz=ZONE))
        waitlisted = await register(db, second, course.id, Policy(tz=ZONE))
    assert waitlisted.outcome == registration.Outcome.WAITLISTED
    planned = await rows(db, kind=reminders.COURSE_START)
    assert [(n.person_id, n.due_at) for n in planned] == [
        (first, at("07/12/2026", "08:00")),
        (first, at("09/12/2026", "16:00")),
    ]


async def test_registering_late_plans_only_the_reminders_still_ahead(
    db: async_sessionmaker[AsyncSession],
) -> None:
    with time_machine.travel(at("08/12/2026", "09:00"), tick=True):
        async with db.begin() as s:
            course = await make_course(s, starts_at=COURSE_START)
            person = await linked(s, None, 1)
        await register(db, person, course.id, Policy(tz=ZONE))
    assert [n.due_at for n in await rows(db)] == [at("09/12/2026", "16:00")]


async def test_cancelling_drops_the_reminders_and_the_promoted_person_is_told_at_once(
    db: async_sessionmaker[AsyncSession],
) -> None:
    with time_machine.travel(MONDAY_MORNING, tick=True):
        async with db.begin() as s:
            course = await make_course(s, starts_at=COURSE_START, capacity=1)
            first, second = await linked(s, None, 1), await linked(s, None, 2)
        await register(db, first, course.id, Policy(tz=ZONE))
        await register(db, second, course.id, Policy(tz=ZONE))
        async with db.begin() as s:
            result = await registration.cancel(
                s,
                person_id=first,
                course_id=course.id,
                now=datetime.now(UTC),
                cutoff=timedelta(hours=24),
                policy=Policy(tz=ZONE),
            )
    assert result.promoted_person_id == second
    assert await rows(db, person_id=first) == []
    promoted = await rows(db, person_id=second)
    assert [n.kind for n in promoted] == [
        reminders.PROMOTED,
        reminders.COURSE_START,
        reminders.COURSE_START,
    ]
    assert promoted[0].due_at < MONDAY_MORNING + timedelta(minutes=1) and not promoted[0].urgent


# -- delivery ------------------------------------------------------------------------------------


async def test_a_reminder_is_sent_once_at_its_time_in_the_persons_language(chat: Telegram) -> None:
    with time_machine.travel(MONDAY_MORNING, tick=True):
        async with chat.db.begin() as s:
            course = await make_course(
                s, title="Kỹ năng số", starts_at=COURSE_START, place="Hội trường A"
            )
            vi, en = await linked(s, chat.api, 101), await linked(s, chat.api, 102, lang="en")
        policy = chat.settings.reminder_policy()
        await register(chat.db, vi, course.id, policy)
        await register(chat.db, en, course.id, policy)
        assert await chat.drain() == 0
    with time_machine.travel(at("07/12/2026", "08:00") + timedelta(seconds=1), tick=True):
        assert await chat.drain() == 2
        assert await chat.drain() == 0
    assert chat.texts(101) == [
        "⏰ Nhắc lịch: khóa Kỹ năng số bắt đầu lúc 10/12/2026 08:00 tại Hội trường A."
    ]
    assert chat.texts(102) == ["⏰ Reminder: Kỹ năng số starts 10/12/2026 08:00 at Hội trường A."]
    buttons = [
        b["callback_data"]
        for row in chat.api.last_message(101)["reply_markup"]["inline_keyboard"]
        for b in row
    ]
    assert buttons == [f"c:{course.id}", f"u:{course.id}", "off:course"]
    sent = await rows(chat.db, person_id=vi)
    assert sent[0].state == NotificationState.SENT and sent[0].sent_message_id is not None
    assert sent[1].state == NotificationState.PENDING


async def test_a_row_claimed_before_a_crash_is_sent_after_its_lease_exactly_once(
    chat: Telegram,
) -> None:
    with time_machine.travel(at("07/12/2026", "09:00"), tick=True) as clock:
        async with chat.db.begin() as s:
            course = await make_course(s, starts_at=COURSE_START)
            person = await linked(s, chat.api, 101)
        await register(chat.db, person, course.id, chat.settings.reminder_policy())
        clock.move_to(at("09/12/2026", "16:00") + timedelta(seconds=1))
        async with chat.db.begin() as s:  # a drainer claims the row, then the process dies
            claimed = await NotificationRepo(s).claim_due(
                now=datetime.now(UTC), limit=10, lease=LEASE
            )
        assert len(claimed) == 1
        assert await chat.drain() == 0  # the lease still holds: nobody else sends it
        clock.shift(LEASE + timedelta(seconds=1))
        assert await chat.drain() == 1
        clock.shift(LEASE * 3)
        assert await chat.drain() == 0
    assert len(chat.texts(101)) == 1


async def test_after_three_days_down_only_what_still_makes_sense_is_sent(chat: Telegram) -> None:
    with time_machine.travel(MONDAY_MORNING, tick=True) as clock:
        async with chat.db.begin() as s:
            later = await make_course(s, title="Khóa sau", starts_at=COURSE_START)
            earlier = await make_course(s, title="Khóa trước", starts_at=at("08/12/2026", "08:00"))
            person = await linked(s, chat.api, 101)
        policy = chat.settings.reminder_policy()
        await register(chat.db, person, later.id, policy)
        await register(chat.db, person, earlier.id, policy)
        # Down from 06/12 17:00 until 09/12 17:00: four reminders fell due meanwhile.
        clock.move_to(at("09/12/2026", "17:00"))
        assert await chat.drain() == 1
    assert chat.texts(101) == [
        "⏰ Nhắc lịch: khóa Khóa sau bắt đầu lúc 10/12/2026 08:00 tại Hội trường UBND tỉnh."
    ]
    outcome = {(n.course_id, n.due_at): (n.state, n.last_error) for n in await rows(chat.db)}
    assert outcome == {
        (later.id, at("07/12/2026", "08:00")): (
            NotificationState.SKIPPED,
            "a later reminder of the same course is also due",
        ),
        (later.id, at("09/12/2026", "16:00")): (NotificationState.SENT, None),
        (earlier.id, at("05/12/2026", "08:00")): (
            NotificationState.SKIPPED,
            "the course has already started",
        ),
        (earlier.id, at("07/12/2026", "16:00")): (
            NotificationState.SKIPPED,
            "the course has already started",
        ),
    }


async def test_quiet_hours_hold_ordinary_notices_until_7_but_not_an_urgent_cancellation(
    chat: Telegram,
) -> None:
    with time_machine.travel(at("01/12/2026", "22:30"), tick=True) as clock:
        async with chat.db.begin() as s:
            far = await make_course(s, title="Khóa xa", starts_at=COURSE_START, capacity=1)
            near = await make_course(s, title="Khóa mai", starts_at=at("02/12/2026", "08:00"))
            holder, waiting = await linked(s, chat.api, 101), await linked(s, chat.api, 102)
        policy = chat.settings.reminder_policy()
        await register(chat.db, holder, far.id, policy)
        await register(chat.db, waiting, far.id, policy)
        await register(chat.db, waiting, near.id, policy)
        async with chat.db.begin() as s:
            await registration.cancel(
                s, person_id=holder, course_id=far.id, now=datetime.now(UTC),
                cutoff=timedelta(hours=24), policy=policy,
            )  # fmt: skip
            course = await s.get(Course, near.id)
            assert course is not None
            course.status = CourseStatus.CANCELLED
            await reminders.course_changed(s, course=course, policy=policy, now=datetime.now(UTC))
        assert await chat.drain() == 1  # only the cancellation of tomorrow's course
        assert chat.texts(102) == [
            "❌ Khóa Khóa mai (02/12/2026 08:00) đã bị hủy. Đăng ký của bạn không còn hiệu lực; "
            "xem các khóa khác tại /courses."
        ]
        clock.move_to(at("02/12/2026", "06:59"))
        assert await chat.drain() == 0
        clock.move_to(at("02/12/2026", "07:00"))
        assert await chat.drain() == 1
    assert chat.texts(102)[-1].startswith("🎉")


async def test_a_course_change_replaces_the_reminders_and_says_what_changed(chat: Telegram) -> None:
    with time_machine.travel(MONDAY_MORNING, tick=True):
        async with chat.db.begin() as s:
            course = await make_course(
                s, title="Kỹ năng số", starts_at=COURSE_START, place="Phòng 1"
            )
            person = await linked(s, chat.api, 101)
        policy = chat.settings.reminder_policy()
        await register(chat.db, person, course.id, policy)
        async with chat.db.begin() as s:
            changed = await s.get(Course, course.id)
            assert changed is not None
            before = {"starts_at": changed.starts_at.isoformat(), "place": changed.place}
            changed.starts_at = at("15/12/2026", "08:00")
            changed.ends_at = at("15/12/2026", "17:00")
            changed.place = "Phòng 2"
            await reminders.course_changed(
                s, course=changed, policy=policy, now=datetime.now(UTC), before=before
            )
        assert await chat.drain() == 1
    assert chat.texts(101) == [
        "📢 Khóa Kỹ năng số có thay đổi: nay bắt đầu lúc 15/12/2026 08:00 tại Phòng 2.\n"
        "Trước đây: 10/12/2026 08:00, Phòng 1."
    ]
    planned = [n.due_at for n in await rows(chat.db, kind=reminders.COURSE_START)]
    assert planned == [at("12/12/2026", "08:00"), at("14/12/2026", "16:00")]


async def test_a_user_who_blocked_the_bot_is_marked_and_their_other_rows_skipped(
    chat: Telegram,
) -> None:
    with time_machine.travel(BEFORE_REMINDER, tick=True) as clock:
        async with chat.db.begin() as s:
            course = await make_course(s, starts_at=COURSE_START)
            other = await make_course(s, starts_at=at("20/12/2026", "08:00"))
            person = await linked(s, chat.api, 101)
        policy = chat.settings.reminder_policy()
        await register(chat.db, person, course.id, policy)
        await register(chat.db, person, other.id, policy)
        chat.api.block(101)
        clock.move_to(REMINDER_DUE)
        assert await chat.drain() == 0
    states = {n.course_id: n.state for n in await rows(chat.db)}
    assert set(states.values()) == {NotificationState.SKIPPED}
    async with chat.db() as s:
        account = (await s.execute(select(ChatAccount))).scalar_one()
    assert account.active is False


async def test_a_category_turned_off_is_skipped_but_a_seat_notice_still_comes(
    chat: Telegram,
) -> None:
    with time_machine.travel(BEFORE_REMINDER, tick=True) as clock:
        async with chat.db.begin() as s:
            course = await make_course(s, starts_at=COURSE_START, capacity=1)
            holder, person = await linked(s, chat.api, 101), await linked(s, chat.api, 102)
            await reminders.set_category(s, person_id=person, category="course", on=False)
        policy = chat.settings.reminder_policy()
        await register(chat.db, holder, course.id, policy)
        await register(chat.db, person, course.id, policy)
        async with chat.db.begin() as s:
            await registration.cancel(
                s, person_id=holder, course_id=course.id, now=datetime.now(UTC),
                cutoff=timedelta(0), policy=policy,
            )  # fmt: skip
        clock.move_to(REMINDER_DUE)
        assert await chat.drain() == 1
    assert [t[:2] for t in chat.texts(102)] == ["🎉 "[:2]]
    skipped = await rows(chat.db, person_id=person, kind=reminders.COURSE_START)
    assert [n.last_error for n in skipped] == ["turned off by the person"]


async def test_the_off_button_under_a_reminder_and_the_reminders_command(chat: Telegram) -> None:
    user = {"id": 101, "is_bot": False, "first_name": "X", "language_code": "vi"}

    async def send(update: dict[str, Any]) -> None:
        await chat.app.process_update(Update.de_json(update, chat.app.bot))

    with time_machine.travel(BEFORE_REMINDER, tick=True) as clock:
        async with chat.db.begin() as s:
            course = await make_course(s, starts_at=COURSE_START)
            person = await linked(s, chat.api, 101)
        await register(chat.db, person, course.id, chat.settings.reminder_policy())
        clock.move_to(REMINDER_DUE)
        assert await chat.drain() == 1
    reminder = chat.api.last_message(101)
    await send(chat.api.callback_update(user, reminder["message_id"], "off:course"))
    assert chat.api.last_message(101)["text"] == (
        "🔕 Đã tắt: Nhắc trước khi khóa học bắt đầu. Bật lại bằng /reminders."
    )
    await send(chat.api.message_update(user, "/reminders"))
    shown = chat.api.last_message(101)
    assert "🔕 Nhắc trước khi khóa học bắt đầu: tắt" in shown["text"]
    assert "🔔 Hạn đạt chuẩn: bật" in shown["text"]
    await send(chat.api.callback_update(user, shown["message_id"], "rem:course"))
    await send(chat.api.callback_update(user, shown["message_id"], "rem:standard"))
    edited = chat.api.last_message(101)["text"]
    assert "🔔 Nhắc trước khi khóa học bắt đầu: bật" in edited
    assert "🔕 Hạn đạt chuẩn: tắt" in edited
    async with chat.db() as s:
        assert await reminders.opted_out(s, person) == {"standard"}
    assert len([m for m, _p in chat.api.calls if m == "answerCallbackQuery"]) == 3


# -- flood limits and several processes ----------------------------------------------------------


async def test_flood_limit_answers_reschedule_and_everyone_gets_exactly_one_message(
    db_engine: AsyncEngine, db: async_sessionmaker[AsyncSession]
) -> None:
    """Through the real application over HTTP to a stand-in that allows 5 sends a second."""
    with time_machine.travel(BEFORE_REMINDER, tick=True) as clock:
        async with StandInBotAPI(token=OFFLINE_TOKEN, rate_limit_per_second=5) as srv:
            settings = Settings(  # type: ignore[call-arg]
                _env_file=None,
                telegram_base_url=srv.base_url,
                telegram_base_file_url=srv.base_file_url,
            )
            app = build(settings, db_engine)
            async with db.begin() as s:
                course = await make_course(s, starts_at=COURSE_START, capacity=50)
                people = [await linked(s, srv.api, 200 + i) for i in range(12)]
            for person in people:
                await register(db, person, course.id, settings.reminder_policy())
            clock.move_to(REMINDER_DUE)
            async with app:
                res, sent = app.bot_data["resources"], 0
                for _ in range(20):
                    sent += await drain_once(res, [TelegramSender(app.bot, Pacer(1000))])
                    if sent == len(people):
                        break
                    await asyncio.sleep(0.5)
            assert srv.too_many > 0  # the stand-in did refuse some sends
            assert sent == len(people)
            for i in range(12):
                assert len(srv.api.sent_to(200 + i)) == 1


@pytest.mark.databases("postgresql")
async def test_two_drainer_processes_on_postgresql_send_each_row_once(
    chat: Telegram, db_engine: AsyncEngine
) -> None:
    async with db_engine.connect() as conn:
        schema = (await conn.execute(text("SELECT current_schema()"))).scalar_one()
    url = db_engine.url.render_as_string(hide_password=False)
    other_engine = create_engine(url, connect_args={"server_settings": {"search_path": schema}})
    other_app = build(chat.settings, other_engine, chat.api)
    with time_machine.travel(BEFORE_REMINDER, tick=True) as clock:
        async with chat.db.begin() as s:
            course = await make_course(s, starts_at=COURSE_START, capacity=500)
            people = [await linked(s, chat.api, 1000 + i) for i in range(200)]
        for person in people:
            await register(chat.db, person, course.id, chat.settings.reminder_policy())
        clock.move_to(REMINDER_DUE)
        try:
            async with other_app:
                one, two = await asyncio.gather(
                    chat.drain(),
                    drain_once(
                        other_app.bot_data["resources"],
                        [TelegramSender(other_app.bot, Pacer(1000))],
                    ),
                )
        finally:
            await other_engine.dispose()
    assert one + two == 200 and one > 0 and two > 0
    assert all(len(chat.api.sent_to(1000 + i)) == 1 for i in range(200))


# -- the planner: standards deadlines, yearly hours, review meetings -----------------------------


async def test_the_planner_owes_grace_hours_and_review_reminders_once(chat: Telegram) -> None:
    with time_machine.travel(at("02/10/2026", "10:00"), tick=True):
        async with chat.db.begin() as s:
            rule = (
                await s.execute(
                    select(StandardRule).where(StandardRule.code == "leader-university")
                )
            ).scalar_one()
            rule.grace_until = date(2027, 3, 1)
            leader = await make_position(s, group="leader")
            unit = await make_unit(s)
            person = await make_person(s, position=leader, unit=unit)
            s.add(
                ChatAccount(
                    channel="telegram", chat_user_id="101", chat_id="101", person_id=person.id
                )
            )
            s.add(
                Secondment(
                    person_id=person.id,
                    to_unit_id=unit.id,
                    starts_on=date(2026, 4, 15),
                    review_every_months=6,
                )
            )
        added = await plan_all(chat.app.bot_data["resources"])
        assert await plan_all(chat.app.bot_data["resources"]) == 0  # idempotent
    planned = {(n.kind, n.due_at) for n in await rows(chat.db, person_id=person.id)}
    assert (reminders.STANDARD_DEADLINE, at("02/09/2026", "08:00")) not in planned  # long past
    assert (reminders.STANDARD_DEADLINE, at("01/12/2026", "08:00")) in planned  # 90 days
    assert (reminders.STANDARD_DEADLINE, at("30/01/2027", "08:00")) in planned  # 30 days
    assert (reminders.HOURS_BEHIND, at("02/10/2026", "10:00")) in {
        (k, d.replace(second=0, microsecond=0)) for k, d in planned
    }
    assert (reminders.REVIEW_MEETING, at("08/10/2026", "08:00")) in planned
    assert added == len(planned)


@pytest.mark.databases("sqlite")
async def test_cancelling_a_course_from_the_command_line_asks_and_tells_everyone(
    chat: Telegram,
    db_engine: AsyncEngine,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import io
    import sys

    from bot.cli_data import cmd_cancel_course

    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, database_url=db_engine.url.render_as_string(hide_password=False)
    )
    with time_machine.travel(MONDAY_MORNING, tick=True):
        async with chat.db.begin() as s:
            course = await make_course(s, code="KNS-01", starts_at=COURSE_START, capacity=1)
            holder, waiting = await linked(s, chat.api, 101), await linked(s, chat.api, 102)
        await register(chat.db, holder, course.id, settings.reminder_policy())
        await register(chat.db, waiting, course.id, settings.reminder_policy())
        monkeypatch.setattr(sys, "stdin", io.StringIO("KNS-0\n"))
        assert await cmd_cancel_course(settings, "KNS-01", yes=False) == 1  # mistyped: kept
        assert "2 người đăng ký/chờ" in capsys.readouterr().out
        assert await cmd_cancel_course(settings, "NOPE", yes=True) == 1
        monkeypatch.setattr(sys, "stdin", io.StringIO("KNS-01\n"))
        assert await cmd_cancel_course(settings, "KNS-01", yes=False) == 0
        assert await cmd_cancel_course(settings, "KNS-01", yes=True) == 1  # already cancelled
        assert await chat.drain() == 2
    assert chat.texts(101)[0].startswith("❌ Khóa Bồi dưỡng kỹ năng số")
    assert chat.texts(102)[0].startswith("❌")
    assert [n.kind for n in await rows(chat.db, kind=reminders.COURSE_START)] == []


@pytest.mark.databases("sqlite")
async def test_the_planners_reading_does_not_hold_up_writers_on_sqlite(
    db: async_sessionmaker[AsyncSession],
) -> None:
    from storage.db import reading

    async with reading(db) as planner:
        await planner.execute(text("SELECT count(*) FROM people"))
        async with db.begin() as writer:  # would wait 30 s for the lock if reading held it
            await asyncio.wait_for(make_unit(writer), timeout=5)


async def test_a_send_waiting_its_turn_when_quiet_hours_begin_waits_for_the_morning(
    chat: Telegram,
) -> None:
    with time_machine.travel(at("09/12/2026", "20:30"), tick=True) as clock:
        async with chat.db.begin() as s:
            course = await make_course(s, starts_at=at("20/12/2026", "08:00"), capacity=5)
            first, second = await linked(s, chat.api, 101), await linked(s, chat.api, 102)
        for person in (first, second):
            await register(chat.db, person, course.id, chat.settings.reminder_policy())
        async with chat.db.begin() as s:
            for person in (first, second):  # two ordinary notices due just before 21:00
                await reminders.notify_now(
                    s, key=f"t:{person}", person_id=person, kind=reminders.PROMOTED,
                    now=at("09/12/2026", "20:59"), course_id=course.id,
                )  # fmt: skip
        clock.move_to(at("09/12/2026", "20:59") + timedelta(seconds=58))
        # One send every 4 s: the second one's turn comes after 21:00.
        sent = await drain_once(
            chat.app.bot_data["resources"], [TelegramSender(chat.app.bot, Pacer(0.25))]
        )
    assert sent == 1
    held = [n for n in await rows(chat.db, kind=reminders.PROMOTED) if n.state != "sent"]
    assert [n.state for n in held] == [NotificationState.PENDING]
    assert abs(held[0].due_at - at("10/12/2026", "07:00")) < timedelta(seconds=1)
    assert len(chat.texts(101)) + len(chat.texts(102)) == 1
