"""Chat flows through the real application: what a civil servant sees in Telegram.

Each test builds the production application (`bot.app.build_application`) on a fresh migrated
database and replaces only Telegram: the bot's requests go to the in-memory `OfflineBotAPI`,
which checks every call against the published Bot API spec. A test plays one or more users by
sending messages, sharing contacts and pressing buttons, then reads the chat as the user would
see it (HTML already rendered to plain text). Expected texts come from the message catalogues,
so a test names a message by its English source and checks the Vietnamese (or English) reply.

The harness (the `tg` fixture, users, expected texts) is tests/harness.py; the command menus
are set by calling `set_commands` in the one test about them.

Handler tests run on SQLite only, for speed, except the double tap on "register" and the
cancellation that promotes from the waitlist, which also run on PostgreSQL, where row locks
matter; the registration domain itself is tested on both databases elsewhere.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.telegram.help import COMMANDS, set_commands
from domain import linking
from domain.reminders import PROMOTED
from storage.models import (
    ChatAccount,
    Course,
    Notification,
    NotificationState,
)
from tests.harness import (
    AN,
    BINH,
    CUONG,
    PHONE,
    TZ,
    Telegram,
    add_course,
    add_person,
    fill,
    linked,
    local,
    person_of,
    registrations,
    said,
    snapshot,
)

pytestmark = pytest.mark.databases("sqlite")


# -- linking ---------------------------------------------------------------------------------------


async def test_start_from_an_unlinked_chat_asks_for_the_phone_number(tg: Telegram) -> None:
    chat = tg.chat(AN)
    await chat.send("/start")
    assert chat.last_text == said("Hello! I help commune civil servants")
    share = chat.keyboard()[0][0]
    assert share == {"text": said("📱 Share my phone number"), "request_contact": True}
    assert await person_of(tg.db, AN) is None


@pytest.mark.parametrize("shared", ["0912345678", "+84912345678", "84912345678"])
async def test_sharing_ones_own_roster_phone_links_and_shows_the_main_menu(
    tg: Telegram, shared: str
) -> None:
    person = await add_person(tg.db, phone="0912345678", full_name="Hoàng Thị Lan")
    chat = tg.chat(AN)
    await chat.send("/start")
    await chat.share_contact(shared)
    assert chat.last_text == said("✅ Linked.", name="Hoàng Thị Lan")
    assert chat.keyboard_labels() == [
        [said("📋 My standards"), said("📚 Courses")],
        [said("🗓 My registrations"), said("❓ Help")],
    ]
    assert await person_of(tg.db, AN) == person.id


@pytest.mark.parametrize("owner", [BINH["id"], None], ids=["other-user", "no-user-id"])
async def test_someone_elses_contact_card_is_refused_and_links_nothing(
    tg: Telegram, owner: int | None
) -> None:
    await add_person(tg.db)
    chat = tg.chat(AN)
    await chat.share_contact(PHONE, owner=owner)
    assert chat.last_text == said("Please share <b>your own</b> phone number")
    assert chat.keyboard()[0][0]["request_contact"] is True
    assert await person_of(tg.db, AN) is None


async def test_a_phone_not_on_the_roster_explains_how_to_link_with_a_code(tg: Telegram) -> None:
    await add_person(tg.db, phone="0987654321")
    chat = tg.chat(AN)
    await chat.share_contact(PHONE)
    assert chat.last_text == said("This phone number is not on the roster.")
    assert "/start " in chat.last_text  # "/start MÃ" in Vietnamese
    assert await person_of(tg.db, AN) is None


async def test_start_with_a_one_time_code_links_once(tg: Telegram) -> None:
    person = await add_person(tg.db, phone=None, full_name="Vi Văn Đức")
    async with tg.db.begin() as s:
        created = await linking.create_code(
            s, personal_id=person.personal_id, now=datetime.now(UTC), ttl=timedelta(hours=72)
        )
    assert created is not None
    code = created[0]
    chat = tg.chat(AN)
    await chat.send(f"/start {code}")
    assert chat.last_text == said("✅ Linked.", name="Vi Văn Đức")
    assert await person_of(tg.db, AN) == person.id
    # A code works once: someone else trying it later is refused.
    other = tg.chat(BINH)
    await other.send(f"/start {code}")
    assert other.last_text == said("This code is wrong, used or expired.", n=4)
    assert await person_of(tg.db, BINH) is None


async def test_a_code_typed_alone_links_and_other_words_are_a_search(tg: Telegram) -> None:
    person = await add_person(tg.db, phone=None, full_name="Vi Văn Đức")
    async with tg.db.begin() as s:
        created = await linking.create_code(
            s, personal_id=person.personal_id, now=datetime.now(UTC), ttl=timedelta(hours=72)
        )
    assert created is not None
    chat = tg.chat(AN)
    await chat.send("chinhs trij")  # ten letters, but not a code's: a search, no attempt used
    assert chat.last_text.startswith(said("No course matches «%(q)s».", q="chinhs trij"))
    code = created[0]
    await chat.send(f"{code[:5]} {code[5:].lower()}")  # as read out, in two halves
    assert chat.last_text == said("✅ Linked.", name="Vi Văn Đức")
    assert await person_of(tg.db, AN) == person.id


async def test_a_wrong_code_is_refused_with_the_attempts_left(tg: Telegram) -> None:
    await add_person(tg.db)
    chat = tg.chat(AN)
    await chat.send("/start ABCD234567")
    assert chat.last_text == said("This code is wrong, used or expired.", n=4)
    await chat.send("/start ZZZZ999999")
    assert chat.last_text == said("This code is wrong, used or expired.", n=3)
    assert await person_of(tg.db, AN) is None


async def test_start_in_a_linked_chat_welcomes_back_with_the_menu(tg: Telegram) -> None:
    await add_person(tg.db)
    chat = await linked(tg, AN)
    await chat.send("/start")
    assert chat.last_text == said("Welcome back! Choose from the menu below.")
    assert chat.keyboard_labels()[0] == [said("📋 My standards"), said("📚 Courses")]


async def test_a_phone_shared_by_two_roster_people_asks_for_a_code(tg: Telegram) -> None:
    await add_person(tg.db, full_name="Nông Văn Hải")
    await add_person(tg.db, full_name="Nông Thị Hà")  # the same (family) phone number
    chat = tg.chat(AN)
    await chat.share_contact(PHONE)
    assert chat.last_text == said("Several people on the roster have this phone number.")
    assert await person_of(tg.db, AN) is None


async def test_a_person_linked_elsewhere_needs_a_code_to_move_the_link(tg: Telegram) -> None:
    person = await add_person(tg.db, full_name="Lý Thị Hồng")
    first = await linked(tg, AN)
    second = tg.chat(BINH)  # a new phone, same roster person
    await second.share_contact(PHONE)
    assert second.last_text == said(
        "This person is already linked to another %(app)s account.", app="Telegram"
    )
    assert await person_of(tg.db, BINH) is None
    # With an organizer's code the link moves, and the old chat is told.
    async with tg.db.begin() as s:
        created = await linking.create_code(
            s, personal_id=person.personal_id, now=datetime.now(UTC), ttl=timedelta(hours=1)
        )
    assert created is not None
    await second.send(f"/start {created[0].lower()}")  # typed in lower case still works
    assert second.last_text == said("✅ Linked.", name="Lý Thị Hồng")
    assert first.last_text == said(
        "Your roster record was linked to another %(app)s account", app="Telegram"
    )
    assert (await person_of(tg.db, AN), await person_of(tg.db, BINH)) == (None, person.id)


async def test_too_many_wrong_codes_lock_the_chat_for_a_while(tg: Telegram) -> None:
    chat = tg.chat(AN)
    for _ in range(4):
        await chat.send("/start WRONG23456")
    assert chat.last_text == said("This code is wrong, used or expired.", n=1)
    await chat.send("/start WRONG23456")
    async with tg.db() as s:
        stmt = select(ChatAccount.locked_until).where(ChatAccount.chat_user_id == str(AN["id"]))
        until = (await s.execute(stmt)).scalar_one()
    assert until is not None
    assert chat.last_text == said("Too many wrong attempts.", time=local(until))


# -- standards -------------------------------------------------------------------------------------


async def test_status_lists_the_standards_with_their_state_basis_and_gap_courses(
    tg: Telegram,
) -> None:
    await add_person(tg.db, qualifications=(("digital_skills", "co_ban", ""),))
    course = await add_course(
        tg.db,
        title="Quản lý nhà nước ngạch chuyên viên",
        category="state_management",
        grants_kind="state_management",
        grants_level="chuyen_vien",
    )
    chat = await linked(tg, AN)
    await chat.send("/status")
    text = chat.last_text
    year = datetime.now(TZ).year
    assert text.startswith(said("<b>Your standards</b>"))
    expected = [
        (
            "Đại học trở lên, chuyên ngành phù hợp Văn hóa - Xã hội",
            said("missing, due by %(date)s", date="01/08/2028"),
        ),
        ("Bồi dưỡng quản lý nhà nước ngạch chuyên viên", said("missing")),
        ("Bồi dưỡng kỹ năng số", said("met")),
        ("Bồi dưỡng đủ số giờ trong năm", said("missing, due by %(date)s", date=f"31/12/{year}")),
    ]
    for title, state in expected:
        assert f"{title}: {state}\n" in text
    assert said("%(done)d of %(target)d hours this year", done=0, target=40) in text
    assert "Nghị định 33/2023/NĐ-CP, Điều 10" in text  # the legal basis
    assert said("Courses that close your gaps:") in text
    # Leaders' standards are counted, not listed.
    assert "Lý luận chính trị trung cấp" not in text
    assert ("📚 Quản lý nhà nước ngạch chuyên viên", f"c:{course}") in chat.buttons()
    # The gap course's button opens its card.
    await chat.press(f"c:{course}")
    assert chat.last_text.startswith("Quản lý nhà nước ngạch chuyên viên\n")


async def test_status_before_linking_asks_to_link(tg: Telegram) -> None:
    chat = tg.chat(AN)
    await chat.send("/status")
    assert chat.last_text == said("I don't know who you are yet.")
    assert chat.keyboard()[0][0]["request_contact"] is True


# -- courses ---------------------------------------------------------------------------------------


async def test_courses_lists_open_courses_soonest_first_in_pages(tg: Telegram) -> None:
    await add_person(tg.db)
    now = datetime.now(UTC).replace(microsecond=0)
    ids = {}
    for day in (5, 2, 8, 3, 7, 4, 6):  # created out of order
        ids[day] = await add_course(
            tg.db, title=f"Khóa học ngày {day}", starts_at=now + timedelta(days=day)
        )
    await add_course(
        tg.db, title="Khóa đã hết hạn đăng ký", registration_deadline=now - timedelta(hours=1)
    )
    chat = await linked(tg, AN)
    await chat.send(said("📚 Courses"))  # the menu button sends its label
    first = chat.last()
    assert chat.last_text.startswith(said("📚 Open courses you can join: %(n)d", n=7))
    assert said("Page %(page)d of %(pages)d", page=1, pages=2) in chat.last_text
    assert chat.buttons() == [(f"Khóa học ngày {d}", f"c:{ids[d]}") for d in (2, 3, 4, 5, 6)] + [
        ("▶️", "p:1")
    ]
    await chat.press("p:1")
    assert chat.last()["message_id"] == first["message_id"]  # the list is edited in place
    assert said("Page %(page)d of %(pages)d", page=2, pages=2) in chat.last_text
    assert chat.buttons() == [(f"Khóa học ngày {d}", f"c:{ids[d]}") for d in (7, 8)] + [
        ("◀️", "p:0")
    ]
    assert "Khóa đã hết hạn đăng ký" not in chat.last_text
    await chat.press("p:0")
    assert chat.buttons()[0] == ("Khóa học ngày 2", f"c:{ids[2]}")


async def test_a_course_card_shows_local_times(tg: Telegram) -> None:
    # 18:30 UTC is 01:30 the next day in Vietnam: the card must show the Vietnamese date.
    starts = (datetime.now(UTC) + timedelta(days=10)).replace(
        hour=18, minute=30, second=0, microsecond=0
    )
    course = await add_course(
        tg.db,
        title="Bồi dưỡng kỹ năng số",
        starts_at=starts,
        ends_at=starts + timedelta(hours=8),
        registration_deadline=starts - timedelta(days=2),
        capacity=25,
        place="Hội trường UBND tỉnh",
    )
    chat = tg.chat(AN)
    await chat.send("/courses")
    await chat.press(f"c:{course}")
    card = chat.last_text
    when = local(starts)
    assert when.endswith(" 01:30") and when[:10] == f"{starts + timedelta(days=1):%d/%m/%Y}"
    assert said("🗓 When: %(when)s", when=when) in card
    assert said("⏰ Register by: %(deadline)s", deadline=local(starts - timedelta(days=2))) in card
    assert (
        said("📍 Where: %(where)s (%(mode)s)", where="Hội trường UBND tỉnh", mode=said("in person"))
        in card
    )
    assert said("🪑 Seats left: %(left)d of %(cap)d", left=25, cap=25) in card
    assert chat.buttons() == [
        (said("✍️ Register"), f"r:{course}"),
        (said("« All courses"), "p:0"),
    ]
    card_id = chat.last()["message_id"]
    await chat.press("p:0")  # back to the list, in the same message
    assert chat.last()["message_id"] == card_id
    assert chat.last_text.startswith(said("📚 Open courses you can join: %(n)d", n=1))


async def test_typing_words_without_diacritics_finds_the_course(tg: Telegram) -> None:
    wanted = await add_course(
        tg.db, title="Bồi dưỡng lý luận chính trị", category="political_theory"
    )
    await add_course(tg.db, title="Bồi dưỡng kỹ năng số")
    chat = tg.chat(AN)
    await chat.send("boi duong chinh tri")
    assert chat.last_text.startswith(
        said("🔎 Courses matching “%(q)s”: %(n)d", q="boi duong chinh tri", n=1)
    )
    assert chat.buttons() == [("Bồi dưỡng lý luận chính trị", f"c:{wanted}")]


async def test_search_results_have_pages_of_their_own(tg: Telegram) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    for day in range(1, 8):
        await add_course(
            tg.db, title=f"Lý luận chính trị lớp {day}", starts_at=now + timedelta(days=day)
        )
    await add_course(tg.db, title="Kỹ năng số", starts_at=now + timedelta(hours=30))
    chat = tg.chat(AN)
    await chat.send("ly luan")
    assert said("Page %(page)d of %(pages)d", page=1, pages=2) in chat.last_text
    await chat.press("s:1")
    assert chat.last_text.startswith(said("🔎 Courses matching “%(q)s”: %(n)d", q="ly luan", n=7))
    assert [label for label, _ in chat.buttons()] == [
        "Lý luận chính trị lớp 6",
        "Lý luận chính trị lớp 7",
        "◀️",
    ]


# -- registering and cancelling --------------------------------------------------------------------


async def test_register_after_confirming_sends_a_calendar_file(tg: Telegram) -> None:
    person = await add_person(tg.db)
    starts = (datetime.now(UTC) + timedelta(days=7)).replace(second=0, microsecond=0)
    course = await add_course(tg.db, title="Bồi dưỡng kỹ năng số", starts_at=starts)
    chat = await linked(tg, AN)
    await chat.send("/courses")
    await chat.press(f"c:{course}")
    await chat.press(f"r:{course}")
    assert chat.last_text == said("Register for <b>%(title)s</b>?", title="Bồi dưỡng kỹ năng số")
    assert chat.buttons() == [(said("✅ Yes, register"), f"rc:{course}"), (said("No"), "x")]
    assert await registrations(tg.db) == []  # asking changes nothing
    await chat.press(f"rc:{course}")
    confirmation, calendar = chat.messages()[-2:]
    assert confirmation["text"] == said(
        "✅ You are registered for <b>%(title)s</b>, starting %(when)s.",
        title="Bồi dưỡng kỹ năng số",
        when=local(starts),
    )
    assert "reply_markup" not in confirmation  # the Yes/No buttons are gone
    document = calendar["document"]
    assert document["file_name"] == f"khoa-hoc-{course}.ics"
    assert calendar["caption"] == said("Open this file to add the course to your phone's calendar.")
    ics = tg.api.file_content(document["file_id"]).decode()
    assert ics.startswith("BEGIN:VCALENDAR") and f"DTSTART:{starts:%Y%m%dT%H%M%SZ}" in ics
    assert await registrations(tg.db) == [(course, person.id, "registered")]


@pytest.mark.databases("sqlite", "postgresql")
@pytest.mark.parametrize("at_once", [False, True], ids=["in-turn", "at-once"])
async def test_pressing_confirm_twice_registers_once(tg: Telegram, at_once: bool) -> None:
    person = await add_person(tg.db)
    starts = (datetime.now(UTC) + timedelta(days=7)).replace(second=0, microsecond=0)
    course = await add_course(tg.db, title="Bồi dưỡng kỹ năng số", starts_at=starts)
    chat = await linked(tg, AN)
    await chat.send("/courses")
    await chat.press(f"c:{course}")
    await chat.press(f"r:{course}")
    await chat.press(f"rc:{course}", times=2, at_once=at_once)  # a double tap
    assert await registrations(tg.db) == [(course, person.id, "registered")]
    documents = [m for m in chat.messages() if "document" in m]
    assert len(documents) == 1
    registered = said(
        "✅ You are registered for <b>%(title)s</b>",
        title="Bồi dưỡng kỹ năng số",
        when=local(starts),
    )
    assert registered in chat.texts()


async def test_pressing_cancel_twice_cancels_once(tg: Telegram) -> None:
    me = await add_person(tg.db)
    waiting = await add_person(tg.db, phone="0955555555")
    course = await add_course(tg.db, capacity=1)
    await fill(tg.db, course, me.id, waiting.id)
    chat = await linked(tg, AN)
    await chat.send("/my")
    await chat.press(f"c:{course}")
    await chat.press(f"u:{course}")
    await chat.press(f"uc:{course}", times=2)
    assert chat.last_text == said("Your registration is cancelled.")
    assert await registrations(tg.db) == [
        (course, me.id, "cancelled"),
        (course, waiting.id, "registered"),
    ]
    async with tg.db() as s:
        promotions = (
            await s.execute(select(Notification.id).where(Notification.kind == PROMOTED))
        ).all()
    assert len(promotions) == 1


async def test_a_full_course_puts_you_on_the_waitlist_with_your_place(tg: Telegram) -> None:
    first = await add_person(tg.db, phone="0911111111")
    second = await add_person(tg.db, phone="0922222222")
    me = await add_person(tg.db)
    course = await add_course(tg.db, title="Lớp đã đầy", capacity=1)
    await fill(tg.db, course, first.id, second.id)  # one seat taken, one already waiting
    chat = await linked(tg, AN)
    await chat.send("/courses")
    await chat.press(f"c:{course}")
    assert said("🪑 Full; waitlist: %(n)d", n=1) in chat.last_text
    await chat.press(f"r:{course}")  # the button now reads "Join the waitlist"
    await chat.press(f"rc:{course}")
    assert chat.last_text == said(
        "⏳ The course is full. You are number %(n)d on the waitlist", n=2, title="Lớp đã đầy"
    )
    assert not any("document" in m for m in chat.messages())
    assert (course, me.id, "waitlisted") in await registrations(tg.db)


@pytest.mark.databases("sqlite", "postgresql")
async def test_cancelling_frees_the_seat_for_the_first_on_the_waitlist(tg: Telegram) -> None:
    me = await add_person(tg.db)
    waiting = await add_person(tg.db, phone="0933333333", full_name="Lê Văn Bình")
    # Within 36 hours of the start, so the seat notice is urgent and goes out even at night;
    # still outside the 24-hour cancellation cutoff.
    starts = (datetime.now(UTC) + timedelta(hours=30)).replace(second=0, microsecond=0)
    course = await add_course(
        tg.db, title="Lớp một chỗ", capacity=1, starts_at=starts, place="Nhà văn hóa xã"
    )
    binh = await linked(tg, BINH, "0933333333")
    await fill(tg.db, course, me.id, waiting.id)
    chat = await linked(tg, AN)
    await chat.send("/my")
    await chat.press(f"c:{course}")
    assert said("✅ You are registered.") in chat.last_text
    await chat.press(f"u:{course}")
    assert chat.last_text == said(
        "Cancel your registration for <b>%(title)s</b>?", title="Lớp một chỗ"
    )
    await chat.press(f"uc:{course}")
    assert chat.last_text == said("Your registration is cancelled.")
    assert await registrations(tg.db) == [
        (course, me.id, "cancelled"),
        (course, waiting.id, "registered"),
    ]
    async with tg.db() as s:
        notes = (
            await s.execute(
                select(Notification.person_id, Notification.state).where(
                    Notification.kind == PROMOTED
                )
            )
        ).all()
    assert notes == [(waiting.id, NotificationState.PENDING)]

    assert await tg.drain() >= 1
    assert binh.last_text == said(
        "🎉 A seat freed up", title="Lớp một chỗ", when=local(starts), where="Nhà văn hóa xã"
    )
    await binh.press(f"c:{course}")  # the notice's "View course" button
    assert said("✅ You are registered.") in binh.last_text


async def test_my_shows_registrations_and_waitlist_places(tg: Telegram) -> None:
    me = await add_person(tg.db)
    other = await add_person(tg.db, phone="0944444444")
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    seat = await add_course(tg.db, title="Khóa có chỗ", starts_at=now + timedelta(days=3))
    full = await add_course(
        tg.db, title="Khóa đã đầy", capacity=1, starts_at=now + timedelta(days=9)
    )
    await fill(tg.db, full, other.id)
    await fill(tg.db, seat, me.id)
    await fill(tg.db, full, me.id)
    chat = await linked(tg, AN)
    await chat.send(said("🗓 My registrations"))
    text = chat.last_text
    assert text.startswith(said("<b>Your registrations</b>"))
    assert f"• Khóa có chỗ\n  {local(now + timedelta(days=3))} · {said('registered')}" in text
    assert (
        f"• Khóa đã đầy\n  {local(now + timedelta(days=9))} · " + said("waitlist no. %(n)d", n=1)
        in text
    )
    assert said("Hours: %(done)d of the %(target)d-hour yearly target.", done=0, target=40) in text
    assert chat.buttons() == [("Khóa có chỗ", f"c:{seat}"), ("Khóa đã đầy", f"c:{full}")]


# -- refusals from the rules -----------------------------------------------------------------------


async def test_cancelling_too_close_to_the_start_is_refused(tg: Telegram) -> None:
    me = await add_person(tg.db)
    course = await add_course(tg.db, starts_at=datetime.now(UTC) + timedelta(hours=10))
    await fill(tg.db, course, me.id)
    chat = await linked(tg, AN)
    await chat.send("/my")
    await chat.press(f"c:{course}")
    await chat.press(f"u:{course}")
    before = await snapshot(tg.db)
    refusal = said("It is too late to cancel online")
    assert await chat.press(f"uc:{course}") == refusal
    assert chat.last_text == refusal
    assert await snapshot(tg.db) == before


async def test_a_clashing_course_is_refused_with_the_other_title(tg: Telegram) -> None:
    me = await add_person(tg.db)
    starts = (datetime.now(UTC) + timedelta(days=5)).replace(microsecond=0)
    mine = await add_course(tg.db, title="Kỹ năng số & chuyển đổi số", starts_at=starts)
    other = await add_course(tg.db, title="Tin học <cơ bản>", starts_at=starts + timedelta(hours=2))
    await fill(tg.db, mine, me.id)
    chat = await linked(tg, AN)
    await chat.send("tin hoc")
    await chat.press(f"c:{other}")
    await chat.press(f"r:{other}")
    before = await snapshot(tg.db)
    refusal = said(
        "It clashes with a course you are registered for: %(title)s.",
        title="Kỹ năng số &amp; chuyển đổi số",
    )
    assert "Kỹ năng số & chuyển đổi số" in refusal
    assert await chat.press(f"rc:{other}") == refusal  # the alert is plain text
    assert chat.last_text == refusal
    assert await snapshot(tg.db) == before


async def test_titles_and_queries_with_html_characters_are_shown_as_typed(tg: Telegram) -> None:
    await add_person(tg.db)
    title = "Tin học <nâng cao> & an toàn"
    course = await add_course(tg.db, title=title)
    chat = await linked(tg, AN)
    await chat.send("<nâng cao> & an toàn")
    assert chat.last_text.startswith(
        said("🔎 Courses matching “%(q)s”: %(n)d", q="&lt;nâng cao&gt; &amp; an toàn", n=1)
    )
    assert f"• {title}\n" in chat.last_text
    await chat.press(f"c:{course}")
    assert chat.last_text.startswith(title + "\n")
    await chat.press(f"r:{course}")
    await chat.press(f"rc:{course}")
    assert title in chat.texts()[-2]
    await chat.send("/my")
    assert f"• {title}\n" in chat.last_text


# -- buttons nobody should be able to press --------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "refusal"),
    [
        ("c:999999", "This course no longer exists."),
        ("r:999999", "This course no longer exists."),
        ("rc:999999", "This course no longer exists."),
        ("uc:999999", "This course no longer exists."),
        ("r:abc", "This button is no longer valid."),
        ("zz:1", "This button is no longer valid."),
        ("rc:1:2", "This button is no longer valid."),
        ("c:" + "9" * 12, "This button is no longer valid."),
    ],
)
async def test_forged_or_stale_buttons_are_refused_and_change_nothing(
    tg: Telegram, data: str, refusal: str
) -> None:
    me = await add_person(tg.db)
    course = await add_course(tg.db)
    await fill(tg.db, course, me.id)
    chat = await linked(tg, AN)
    before = await snapshot(tg.db)
    await chat.receive_button(data)
    assert await chat.press(data) == said(refusal)
    assert await snapshot(tg.db) == before


@pytest.mark.parametrize("data", [None, ""])
async def test_a_press_without_callback_data_is_answered_and_changes_nothing(
    tg: Telegram, data: str | None
) -> None:
    # PTB matches a query without data against every pattern: the first handler got it.
    await add_person(tg.db)
    await add_course(tg.db)
    chat = await linked(tg, AN)
    await chat.send("/courses")
    before = await snapshot(tg.db)
    message_id = chat.last()["message_id"]
    data_ = chat.last()["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    update = tg.api.callback_update(AN, message_id, data_)
    if data is None:
        del update["callback_query"]["data"]
    else:
        update["callback_query"]["data"] = data
    await tg.process(update)  # no error logged, nothing refused
    answered = [p.get("text") for name, p in tg.api.calls if name == "answerCallbackQuery"]
    assert answered == [said("This button is no longer valid.")]
    assert await snapshot(tg.db) == before


async def test_a_course_removed_after_its_card_was_sent_is_refused(tg: Telegram) -> None:
    await add_person(tg.db)
    course = await add_course(tg.db)
    chat = await linked(tg, AN)
    await chat.send("/courses")
    await chat.press(f"c:{course}")
    await chat.press(f"r:{course}")
    async with tg.db.begin() as s:
        await s.delete(await s.get(Course, course))
    before = await snapshot(tg.db)
    assert await chat.press(f"rc:{course}") == said("This course no longer exists.")
    assert chat.last_text == said("This course no longer exists.")  # the prompt says so too
    assert await snapshot(tg.db) == before


@pytest.mark.parametrize("action", ["r", "rc", "u", "uc"])
async def test_an_unlinked_user_pressing_a_course_button_is_asked_to_link(
    tg: Telegram, action: str
) -> None:
    course = await add_course(tg.db)
    stranger = tg.chat(CUONG)
    await stranger.send("/start")
    before = await snapshot(tg.db)
    await stranger.receive_button(f"{action}:{course}")  # e.g. a forwarded or old message
    assert await stranger.press(f"{action}:{course}") == said("Please link your account first.")
    assert stranger.last_text == said("I don't know who you are yet.")
    assert await snapshot(tg.db) == before


async def test_no_on_a_confirmation_changes_nothing(tg: Telegram) -> None:
    await add_person(tg.db)
    course = await add_course(tg.db)
    chat = await linked(tg, AN)
    await chat.send("/courses")
    await chat.press(f"c:{course}")
    await chat.press(f"r:{course}")
    await chat.press("x")
    assert chat.last_text == said("OK, nothing changed.")
    assert await registrations(tg.db) == []


# -- language, privacy, help -----------------------------------------------------------------------


async def test_language_switches_to_english_for_later_replies(tg: Telegram) -> None:
    await add_person(tg.db)
    chat = await linked(tg, AN)
    await chat.send("/language")
    assert chat.last_text == said("Choose your language:")
    await chat.press("lang:en")
    assert chat.texts()[-2] == said("Language set to English.", "en")
    assert chat.last_text == said("Menu updated.", "en")
    assert chat.keyboard_labels() == [
        [said("📋 My standards", "en"), said("📚 Courses", "en")],
        [said("🗓 My registrations", "en"), said("❓ Help", "en")],
    ]
    await chat.send("/status")  # the stored choice wins over the app's Vietnamese
    assert chat.last_text.startswith(said("<b>Your standards</b>", "en"))
    assert "University degree in a field matching culture and social affairs" in chat.last_text
    await chat.send(said("📋 My standards", "en"))  # English menu buttons work too
    assert chat.last_text.startswith(said("<b>Your standards</b>", "en"))
    await chat.send("/language")
    await chat.press("lang:vi")
    assert chat.texts()[-2] == said("Language set to English.", "vi")  # "Đã chuyển sang ..."


async def test_privacy_shows_what_is_stored_and_unlinks_after_confirmation(tg: Telegram) -> None:
    await add_person(tg.db, full_name="Trần Thị Mai")
    chat = await linked(tg, AN)
    await chat.send("/privacy")
    text = chat.last_text
    assert text.startswith(said("<b>What we store about you</b>"))
    assert said("Name: %(v)s", v="Trần Thị Mai") in text
    assert said("Phone: %(v)s", v="•••••••678") in text  # masked
    await chat.press("unlink")
    assert chat.last_text == said("Unlink this %(app)s account from your record?", app="Telegram")
    assert await person_of(tg.db, AN) is not None  # not before confirming
    await chat.press("unlinkc")
    assert chat.texts()[-2] == said("Unlinked. Send /start to link again.")
    assert chat.last_text == said("Goodbye for now.")
    assert chat.keyboard() == []  # the main menu is removed
    assert await person_of(tg.db, AN) is None
    await chat.send("/my")
    assert chat.last_text == said("I don't know who you are yet.")


async def test_an_unknown_command_gets_a_pointer_to_help(tg: Telegram) -> None:
    chat = tg.chat(AN)
    await chat.send("/dangky")
    assert chat.last_text == said("I don't know that command.")


async def test_help_explains_the_commands(tg: Telegram) -> None:
    chat = tg.chat(AN)
    await chat.send("/help")
    assert chat.last_text.startswith(said("<b>How to use this bot</b>"))
    for command in ("/status", "/courses", "/my", "/language", "/privacy"):
        assert command in chat.last_text


async def test_words_typed_instead_of_a_command_work_as_on_zalo(tg: Telegram) -> None:
    await add_person(tg.db)
    chat = await linked(tg, AN)
    await chat.send("tro giup")
    assert chat.last_text.startswith(said("<b>How to use this bot</b>"))
    await chat.send("điểm danh")  # on Telegram the hint names the command
    assert chat.last_text == said("Send /checkin followed by the code shown in the room.")
    await chat.send("điểm danh 482 913")
    assert chat.last_text == said("This code is not valid. Check it on the screen and try again.")


async def test_a_file_or_sticker_gets_a_hint(tg: Telegram) -> None:
    chat = tg.chat(AN)
    await tg.process(tg.api.document_update(AN, "anh.jpg", b"\xff\xd8\xff"))
    assert chat.last_text == said("Please type a message or use the menu buttons.")


async def test_command_menus_are_set_in_both_languages(tg: Telegram) -> None:
    await set_commands(tg.app)  # what post_init does under run_polling
    scope = '{"type": "default"}'
    for lang in ("vi", "en"):
        commands = tg.api.commands[(scope, lang)]
        assert [c["command"] for c in commands] == list(COMMANDS)
        assert commands[0]["description"] == said("Start and link your account", lang)
    assert tg.api.commands[(scope, "")] == tg.api.commands[(scope, "vi")]
