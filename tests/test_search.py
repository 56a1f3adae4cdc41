"""Typing to find a course, on Telegram and on Zalo: what a person means, best first.

Telegram is driven through the real application (tests/test_handlers.py's harness); Zalo
through the bot against its stand-in (tests/zalo_standin.py), on both databases, since the
search ranks what the database returns.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.dialog import Dialogs, plain
from locales import Translator
from tests.factories import make_course
from tests.fixtures_zalo import TZ, person_on_zalo
from tests.harness import AN, Telegram, add_person, linked, said
from tests.zalo_standin import Zalo

HOANG_VAN_THU = "Trường Chính trị Hoàng Văn Thụ, TP Lạng Sơn"


async def _courses(db: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    """A few courses shaped like the demo's: titles, categories and places that overlap."""
    specs: list[dict[str, Any]] = [
        {"title": "Kỹ năng số cho công chức cấp xã", "category": "digital_skills",
         "place": "Trung tâm Hội nghị tỉnh"},
        {"title": "Kỹ năng thực thi công vụ", "category": "job_skills",
         "place": "Hội trường Sở Nội vụ"},
        {"title": "Bồi dưỡng lý luận chính trị trung cấp", "category": "political_theory",
         "place": HOANG_VAN_THU},
        {"title": "Bồi dưỡng kiến thức quốc phòng và an ninh", "category": "defence_security",
         "place": HOANG_VAN_THU},
        {"title": "Tổ chức lễ hội truyền thống", "category": "culture",
         "place": "Hội trường UBND tỉnh"},
        {"title": "Nghiệp vụ quản lý văn hóa cơ sở", "category": "culture",
         "place": "Hội trường UBND tỉnh"},
        {"title": "Hội nghị tập huấn công tác dân vận", "category": "job_skills",
         "place": "Nhà văn hóa xã Đề Thám"},
    ]  # fmt: skip
    async with db.begin() as s:
        return {spec["title"]: (await make_course(s, **spec)).id for spec in specs}


def _titles(buttons: list[tuple[str, str]]) -> list[str]:
    return [label for label, data in buttons if data.startswith("c:")]


# -- Telegram ----------------------------------------------------------------------------------


@pytest.mark.databases("sqlite")
async def test_words_match_whole_words_title_before_category_and_never_inside_a_place(
    tg: Telegram,
) -> None:
    await _courses(tg.db)
    chat = tg.chat(AN)
    await chat.send("văn hóa")
    # Title first, then the culture category; not the course held at "Nhà văn hóa" (a place),
    # nor those at "Hoàng Văn Thụ", whose "hoàng" only begins with "hoa".
    assert _titles(chat.buttons()) == [
        "Nghiệp vụ quản lý văn hóa cơ sở",
        "Tổ chức lễ hội truyền thống",
    ]
    await chat.send("ky nang so")  # "so" of "Sở Nội vụ" is the other course's place
    assert _titles(chat.buttons()) == ["Kỹ năng số cho công chức cấp xã"]


@pytest.mark.databases("sqlite")
async def test_one_typo_is_forgiven_in_a_long_word_but_not_in_a_short_one(
    tg: Telegram,
) -> None:
    await _courses(tg.db)
    chat = tg.chat(AN)
    await chat.send("quoc phonh")
    assert _titles(chat.buttons()) == ["Bồi dưỡng kiến thức quốc phòng và an ninh"]
    await chat.send("chinhs trij")  # Telex keys left in, as when the input method is off
    assert _titles(chat.buttons()) == ["Bồi dưỡng lý luận chính trị trung cấp"]
    await chat.send("van hao")
    assert chat.last_text.startswith(said("No course matches «%(q)s».", q="van hao"))


@pytest.mark.databases("sqlite")
async def test_a_sentence_is_searched_by_its_meaningful_words(tg: Telegram) -> None:
    await _courses(tg.db)
    chat = tg.chat(AN)
    await chat.send("Tôi muốn đăng ký khóa kỹ năng số")
    assert _titles(chat.buttons()) == ["Kỹ năng số cho công chức cấp xã"]
    await chat.send("đăng ký khóa học")  # nothing but the wish to register: every course
    assert chat.last_text.startswith(said("📚 Open courses you can join: %(n)d", n=7))


@pytest.mark.databases("sqlite")
@pytest.mark.parametrize("text", ["xin chào", "Chào bạn!", "?", "👍", "làm sao để đăng ký?"])
async def test_a_greeting_or_a_bare_question_gets_the_menu_not_a_search(
    tg: Telegram,
    text: str,
) -> None:
    await _courses(tg.db)
    await add_person(tg.db)
    chat = await linked(tg, AN)
    menu = chat.keyboard_labels()
    await chat.send(text)
    assert chat.last_text == said("Hello! Choose from the menu below")
    assert chat.keyboard_labels() == menu


@pytest.mark.databases("sqlite")
async def test_no_match_says_so_with_the_open_courses_a_tap_away(tg: Telegram) -> None:
    await _courses(tg.db)
    chat = tg.chat(AN)
    await chat.send("asdfgh")
    assert chat.last_text == (
        said("No course matches «%(q)s».", q="asdfgh")
        + "\n"
        + Translator("vi", TZ).ngettext(
            "%(n)d course is open to you: choose below to see it, or try other words.",
            "%(n)d courses are open to you: choose below to see them, or try other words.",
            7,
        )
        % {"n": 7}
    )
    await chat.press("p:0")
    assert chat.last_text.startswith(said("📚 Open courses you can join: %(n)d", n=7))


async def _many(db: async_sessionmaker[AsyncSession]) -> None:
    """Seven courses matching "kỹ năng số" (two pages of five), and one that does not."""
    async with db.begin() as s:
        for n in range(7):
            await make_course(s, title=f"Kỹ năng số, lớp {n + 1}")
        await make_course(s, title="Quản lý nhà nước", category="state_management")


@pytest.mark.databases("sqlite")
async def test_the_pages_of_a_search_still_turn_after_a_restart(tg: Telegram) -> None:
    await _many(tg.db)
    chat = tg.chat(AN)
    await chat.send("ky nang so")
    heading = said("🔎 Courses matching “%(q)s”: %(n)d", q="ky nang so", n=7)
    assert chat.last_text.startswith(heading)
    tg.app.bot_data["dialogs"] = Dialogs(tg.db, "telegram")  # a restart: nothing in memory
    await chat.press("s:1")
    assert chat.last_text.startswith(heading)  # still this search's results, not every course
    assert said("Page %(page)d of %(pages)d", page=2, pages=2) in chat.last_text
    assert len(_titles(chat.buttons())) == 2


# -- Zalo: the same answers ------------------------------------------------------------------


def _numbered(message: str) -> list[str]:
    """The labels of a Zalo message's numbered choices, details in brackets left out."""
    lines = [line for line in message.splitlines() if line[:1].isdigit() and ". " in line]
    return [line.split(". ", 1)[1].split(" (")[0] for line in lines]


async def test_zalo_finds_the_same_courses_and_greets_the_same_way(zalo: Zalo) -> None:
    await _courses(zalo.db)
    await person_on_zalo(zalo.db, "s1")
    t = Translator("vi", TZ)
    found = (await zalo.say("s1", "tôi muốn đăng ký khóa ki nang so"))[-1]
    assert _numbered(found) == ["Kỹ năng số cho công chức cấp xã"]
    found = (await zalo.say("s1", "van hoa"))[-1]
    assert _numbered(found) == ["Nghiệp vụ quản lý văn hóa cơ sở", "Tổ chức lễ hội truyền thống"]
    greeted = (await zalo.say("s1", "Xin chào"))[-1]
    assert greeted.startswith(plain(t.gettext(
        "Hello! Choose from the menu below, or type a few words of a course title "
        "(for example: kỹ năng số) to find it."
    )))  # fmt: skip
    assert plain(t.gettext("📚 Courses")) in _numbered(greeted)
    missed = (await zalo.say("s1", "asdfgh"))[-1]
    assert missed.startswith(plain(t.gettext("No course matches «%(q)s».") % {"q": "asdfgh"}))
    assert _numbered(missed) == [plain(t.gettext("📚 List open courses"))]
    listed = (await zalo.say("s1", "1"))[-1]
    assert listed.startswith(plain(t.gettext("📚 Open courses you can join: %(n)d") % {"n": 7}))


async def test_zalo_turns_the_pages_of_a_search_after_a_restart(zalo: Zalo) -> None:
    await _many(zalo.db)
    await person_on_zalo(zalo.db, "s2")
    t = Translator("vi", TZ)
    heading = plain(t.gettext("🔎 Courses matching “%(q)s”: %(n)d") % {"q": "ky nang so", "n": 7})
    found = (await zalo.say("s2", "ky nang so"))[-1]
    assert found.startswith(heading)
    assert _numbered(found)[-1] == plain(t.gettext("▶️ Next page"))
    zalo.bot.dialogs = Dialogs(zalo.db, "zalo")  # a restart
    turned = (await zalo.say("s2", "6"))[-1]
    assert turned.startswith(heading)
    assert plain(t.gettext("Page %(page)d of %(pages)d") % {"page": 2, "pages": 2}) in turned
    assert len(_numbered(turned)) == 3  # two courses and the previous page
