"""What a civil servant reads about a course: /status names a course once with every gap it
closes, registrants of an online or blended course see its link, and a full course's
confirmation says it is the waitlist. Through the real application (tests/harness.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.harness import AN, BINH, Telegram, add_course, add_person, fill, linked, said

pytestmark = pytest.mark.databases("sqlite")

LINK = "https://hoctap.example.vn/ky-nang-so"


async def test_status_lists_a_course_once_with_every_gap_it_closes(tg: Telegram) -> None:
    await add_person(tg.db)
    course = await add_course(
        tg.db, title="Kỹ năng số cho công chức cấp xã", grants_kind="digital_skills", hours=16
    )
    chat = await linked(tg, AN)
    await chat.send("/status")
    assert [b for b in chat.buttons() if b[1] == f"c:{course}"] == [
        ("📚 Kỹ năng số cho công chức cấp xã", f"c:{course}")
    ]
    gaps = "Bồi dưỡng kỹ năng số; Bồi dưỡng đủ số giờ trong năm"
    line = said(
        "<b>%(title)s</b> — closes: %(gaps)s", title="Kỹ năng số cho công chức cấp xã", gaps=gaps
    )
    assert chat.last_text.count("Kỹ năng số cho công chức cấp xã") == 1
    assert line in chat.last_text


async def test_registrants_of_a_blended_course_see_its_link_on_the_card(tg: Telegram) -> None:
    await add_person(tg.db)
    course = await add_course(tg.db, mode="blended", link=LINK, place="Trung tâm Hội nghị tỉnh")
    chat = await linked(tg, AN)
    await chat.send("/courses")
    await chat.press(f"c:{course}")
    assert LINK not in chat.last_text  # not before registering
    await chat.press(f"r:{course}")
    await chat.press(f"rc:{course}")
    await chat.press(f"c:{course}")
    assert said("🔗 Online link: %(link)s", link=LINK) in chat.last_text


async def test_a_seat_notice_of_a_blended_course_carries_its_link(tg: Telegram) -> None:
    me = await add_person(tg.db)
    waiting = await add_person(tg.db, phone="0933333333", full_name="Lê Văn Bình")
    # Within 36 hours of the start: the notice is urgent and goes out even in quiet hours.
    starts = (datetime.now(UTC) + timedelta(hours=30)).replace(second=0, microsecond=0)
    course = await add_course(
        tg.db, capacity=1, starts_at=starts, mode="blended", link=LINK, place="Nhà văn hóa xã"
    )
    binh = await linked(tg, BINH, "0933333333")
    await fill(tg.db, course, me.id, waiting.id)
    chat = await linked(tg, AN)
    await chat.send("/my")
    await chat.press(f"c:{course}")
    await chat.press(f"u:{course}")
    await chat.press(f"uc:{course}")
    assert await tg.drain() >= 1
    assert binh.last_text.endswith("\n" + said("🔗 Online link: %(link)s", link=LINK))


async def test_a_full_course_asks_to_join_the_waitlist_not_to_register(tg: Telegram) -> None:
    other = await add_person(tg.db, phone="0911111111")
    await add_person(tg.db)
    course = await add_course(tg.db, title="Lớp đã đầy", capacity=1)
    await fill(tg.db, course, other.id)
    chat = await linked(tg, AN)
    await chat.send("/courses")
    assert said("full, waitlist open") in chat.last_text  # not "waitlist 0"
    await chat.press(f"c:{course}")
    assert said("🪑 Full; nobody is on the waitlist yet.") in chat.last_text
    await chat.press(f"r:{course}")
    assert chat.last_text == said("is full. Join its waitlist?", title="Lớp đã đầy")
    assert (said("✅ Yes, join the waitlist"), f"rc:{course}") in chat.buttons()


async def test_my_and_privacy_read_as_a_person_would_write_them(tg: Telegram) -> None:
    await add_person(tg.db, qualifications=(("education", "cao_dang", "Văn hóa"),))
    chat = await linked(tg, AN)
    await chat.send("/my")
    assert said("No training completed this year yet.") in chat.last_text
    assert said("<b>Training completed this year</b>") not in chat.last_text  # no empty heading
    await chat.send("/privacy")
    # Each qualification on its own line, not "Trình độ: Trình độ chuyên môn: cao đẳng".
    assert "\n  • Trình độ chuyên môn: cao đẳng" in chat.last_text
    assert "Văn bằng, chứng chỉ: \n" in chat.last_text or "Văn bằng, chứng chỉ:\n" in chat.last_text
