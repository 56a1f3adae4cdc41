"""What Zalo gained to match Telegram: /privacy with unlinking, the course schedule in
plain text where Telegram sends an .ics file, and answering a nomination or awaiting approval.

Driven like tests/test_zalo.py (ZaloBot.handle against the stand-in Zalo server), on both
databases, as unlinking writes the account row.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.i18n import Translator
from bot.settings import Settings
from domain import nominations
from domain.reminders import APPROVAL_REQUEST, NOMINATION_ANSWER
from storage.models import ChatAccount, Notification, Registration
from tests.factories import make_course, make_person
from tests.test_nominations import _course, _person, _world
from tests.test_zalo import TZ, Zalo, at
from tests.zalo_standin import StandInZalo
from zalo.client import ZaloClient
from zalo.conversation import ZaloBot
from zalo.dialog import Dialogs, plain


@pytest.fixture
async def zalo(db: async_sessionmaker[AsyncSession]) -> AsyncIterator[Zalo]:
    async with StandInZalo() as srv:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            zalo_bot_token=srv.token,  # type: ignore[arg-type]
            zalo_base_url=srv.base_url,
        )
        client = ZaloClient(srv.token, base_url=srv.base_url)
        try:
            yield Zalo(srv, client, ZaloBot(settings, db, client), db, settings)
        finally:
            await client.aclose()


async def linked(zalo: Zalo, user: str, lang: str = "vi", **person: Any) -> int:
    async with zalo.db.begin() as s:
        p = await make_person(s, **person)
        s.add(
            ChatAccount(
                channel="zalo",
                chat_user_id=user,
                chat_id=user,
                person_id=p.id,
                language=lang,
                linked_at=datetime.now(UTC),
            )
        )
        return p.id


async def account(zalo: Zalo, user: str) -> ChatAccount:
    async with zalo.db() as s:
        query = select(ChatAccount).filter_by(channel="zalo", chat_user_id=user)
        return (await s.execute(query)).scalar_one()


NOT_LINKED = (
    "You are not linked yet. Type the link code your organizer gave you, or your phone number "
    "as on your unit's roster."
)
EXPIRED = "That list has expired. Please choose again:"


def said(lang: str, msgid: str, **values: Any) -> str:
    """What the user reads for a catalogue message: translated, filled in, made plain."""
    text = Translator(lang, TZ).gettext(msgid)
    return plain(text % values if values else text)


# -- privacy and unlinking -----------------------------------------------------------------


@pytest.mark.parametrize(("lang", "command"), [("vi", "riêng tư"), ("en", "/privacy")])
async def test_privacy_shows_what_is_stored_and_unlinks_after_confirmation(
    zalo: Zalo, lang: str, command: str
) -> None:
    person_id = await linked(zalo, "p1", lang, full_name="Trần Thị Mai", phone="0912345678")
    shown = (await zalo.say("p1", command))[0]
    assert shown.startswith(said(lang, "<b>What we store about you</b>"))
    assert said(lang, "Name: %(v)s", v="Trần Thị Mai") in shown
    assert said(lang, "Phone: %(v)s", v="•••••••678") in shown  # masked
    assert "1. " + said(lang, "Unlink this Zalo account") in shown
    asked = (await zalo.say("p1", "1"))[0]
    assert asked.startswith(said(lang, "Unlink this Zalo account from your record?"))
    assert "1. " + said(lang, "Yes, unlink") in asked
    assert "2. " + said(lang, "No, keep it") in asked
    kept = (await zalo.say("p1", "2"))[0]
    assert kept.startswith(said(lang, "OK, nothing changed."))
    assert (await account(zalo, "p1")).person_id == person_id
    for text in (command, "1"):
        await zalo.say("p1", text)
    done = await zalo.say("p1", "1")
    assert done == [
        said(
            lang,
            "Unlinked. To link again, type the link code your organizer gave you, or your phone "
            "number as on your unit's roster.",
        )
    ]
    row = await account(zalo, "p1")
    assert (row.person_id, row.linked_at) == (None, None)  # as Telegram's unlink leaves it
    status = await zalo.say("p1", "status")
    assert status == [said(lang, NOT_LINKED)]
    again = await zalo.say("p1", "1")  # the confirmation cannot be replayed
    assert again == [said(lang, EXPIRED)]


async def test_a_stale_unlink_confirmation_changes_nothing(zalo: Zalo) -> None:
    person_id = await linked(zalo, "p2")
    await zalo.say("p2", "quyen rieng tu")
    await zalo.say("p2", "1")
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=31), tick=True):
        expired = await zalo.say("p2", "1")
    assert expired[0].startswith(said("vi", EXPIRED))
    await zalo.say("p2", "riêng tư")
    await zalo.say("p2", "1")
    zalo.bot.dialogs = Dialogs()  # a restart forgets the confirmation too
    restarted = await zalo.say("p2", "1")
    assert restarted[0].startswith(said("vi", EXPIRED))
    assert (await account(zalo, "p2")).person_id == person_id


async def test_privacy_is_in_the_menu_and_the_help(zalo: Zalo) -> None:
    await linked(zalo, "p3", "en")
    shown = (await zalo.say("p3", "help"))[0]
    assert "privacy: what is stored about you" in shown
    assert "6. " + said("en", "What is stored about me") in shown  # the numbered main menu
    picked = (await zalo.say("p3", "6"))[0]
    assert picked.startswith(said("en", "<b>What we store about you</b>"))
    unknown = await zalo.say("p4", "riêng tư")  # not linked: how to link
    assert unknown == [said("vi", NOT_LINKED)]


# -- the schedule instead of an .ics file --------------------------------------------------


@pytest.mark.parametrize("lang", ["vi", "en"])
async def test_course_details_and_registering_show_the_sessions_in_local_time(
    zalo: Zalo, lang: str
) -> None:
    await linked(zalo, "p5", lang)
    sessions = [
        (at("14/12/2026", "08:00"), at("14/12/2026", "11:30")),
        (at("15/12/2026", "13:30"), at("15/12/2026", "17:00")),
    ]
    with time_machine.travel(at("01/12/2026", "10:00"), tick=True):
        async with zalo.db.begin() as s:
            await make_course(
                s,
                title="Kỹ năng số",
                starts_at=sessions[0][0],
                ends_at=sessions[1][1],
                sessions=sessions,
                place="Hội trường UBND xã",
            )
        await zalo.say("p5", "courses")
        card = (await zalo.say("p5", "1"))[0]
        lines = [
            said(lang, "🗓 Schedule:"),
            "• 14/12/2026, 08:00–11:30",
            "• 15/12/2026, 13:30–17:00",
        ]
        assert "\n".join(lines) in card  # Asia/Ho_Chi_Minh, stored in UTC
        await zalo.say("p5", "1")
        done = (await zalo.say("p5", "1"))[0]
    mode = said(lang, "in person")
    where = said(lang, "📍 Where: %(where)s (%(mode)s)", where="Hội trường UBND xã", mode=mode)
    assert "\n".join([*lines, where]) in done  # what the .ics file holds on Telegram


# -- approval and nomination ---------------------------------------------------------------

NOT_PENDING = "This has already been answered, or the time to answer has passed."
NOW = at("01/12/2026", "10:00")  # a weekday morning: notices are not held for the night


async def put_on_zalo(zalo: Zalo, user: str, person_id: int, lang: str = "vi") -> None:
    async with zalo.db.begin() as s:
        s.add(
            ChatAccount(
                channel="zalo",
                chat_user_id=user,
                chat_id=user,
                person_id=person_id,
                language=lang,
                linked_at=datetime.now(UTC),
            )
        )


async def registration(zalo: Zalo, person_id: int, course_id: int) -> Registration:
    async with zalo.db() as s:
        query = select(Registration).filter_by(person_id=person_id, course_id=course_id)
        return (await s.execute(query)).scalar_one()


async def notes(zalo: Zalo, kind: str) -> list[tuple[int, dict[str, Any]]]:
    async with zalo.db() as s:
        query = select(Notification.person_id, Notification.params).filter_by(kind=kind)
        return [(p, dict(params)) for p, params in await s.execute(query)]


async def nominee(zalo: Zalo, user: str, lang: str, hold_hours: int | None = None) -> Any:
    """A civil servant on Zalo whom their unit head nominated for a course just now."""
    w = await _world(zalo.db)
    person = await _person(zalo.db, w["commune"], "Trần Bình")
    await put_on_zalo(zalo, user, person, lang)
    course = await _course(
        zalo.db,
        title="Kỹ năng số cơ bản",
        starts_at=NOW + timedelta(days=10),
        registration_deadline=NOW + timedelta(days=7),
    )
    async with zalo.db.begin() as s:
        await nominations.nominate(
            s,
            actor_id=w["head"],
            course_id=course,
            person_ids=[person],
            hold_hours=hold_hours,
            now=datetime.now(UTC),
            hours_target=zalo.settings.annual_hours_target,
        )
    return w["head"], person, course


@pytest.mark.parametrize("lang", ["vi", "en"])
async def test_registering_on_a_course_needing_approval_asks_the_unit_head(
    zalo: Zalo, lang: str
) -> None:
    with time_machine.travel(NOW, tick=True):
        w = await _world(zalo.db)
        person = await _person(zalo.db, w["commune"])
        await put_on_zalo(zalo, "a1", person, lang)
        course = await _course(
            zalo.db,
            requires_approval=True,
            starts_at=NOW + timedelta(days=10),
            registration_deadline=NOW + timedelta(days=7),
        )
        for text in ("/courses", "1", "1"):  # the list, the card, Register
            await zalo.say("a1", text)
        sent = (await zalo.say("a1", "1"))[0]  # yes, register
        reg = await registration(zalo, person, course)
        assert reg.status == "pending_approval"
        t = Translator(lang, TZ)
        assert sent.startswith(
            said(lang, "📨 Your request was sent to your unit head for approval.")
        )
        assert "✅" not in sent  # not "you are registered"
        pending = said(
            lang,
            "⏳ Awaiting your unit head's approval (until %(until)s); your seat is held.",
            until=t.datetime(reg.hold_until),
        )
        assert pending in sent
        assert "1. " + said(lang, "Withdraw request") in sent  # not "Register"
        assert await notes(zalo, APPROVAL_REQUEST) == [(w["head"], {"reg_id": reg.id})]
        mine = (await zalo.say("a1", "/my"))[0]
        assert said(lang, "awaiting approval") in mine
        card = (await zalo.say("a1", "1"))[0]
        assert pending in card and "1. " + said(lang, "Withdraw request") in card
        await zalo.say("a1", "1")
        withdrawn = (await zalo.say("a1", "1"))[0]
    assert withdrawn.startswith(said(lang, "Your registration is cancelled."))
    assert (await registration(zalo, person, course)).status == "cancelled"


@pytest.mark.parametrize("lang", ["vi", "en"])
async def test_a_nominee_confirms_by_typing_the_number_under_the_notice(
    zalo: Zalo, lang: str
) -> None:
    with time_machine.travel(NOW, tick=True):
        _head, person, course = await nominee(zalo, "n1", lang)
        assert await zalo.drain() == 1
        notice = zalo.srv.sent_to("n1")[-1]
        assert "Kỹ năng số cơ bản" in notice
        assert (
            "\n".join(
                [
                    "1. " + said(lang, "✅ Confirm"),
                    "2. " + said(lang, "✖️ Decline"),
                    "3. " + said(lang, "View course"),
                ]
            )
            in notice
        )
        done = (await zalo.say("n1", "1"))[0]
        reg = await registration(zalo, person, course)
        assert reg.status == "registered"
        t = Translator(lang, TZ)
        registered = said(
            lang,
            "✅ You are registered for <b>%(title)s</b>, starting %(when)s.",
            title="Kỹ năng số cơ bản",
            when=t.datetime(NOW + timedelta(days=10)),
        )
        assert done.startswith(registered)
        assert said(lang, "🗓 Schedule:") in done  # what Telegram's .ics file holds
        again = await zalo.say("n1", "/my")
        assert said(lang, "registered") in again[0]


async def test_a_nominee_declines_from_the_course_card_with_a_reason(zalo: Zalo) -> None:
    with time_machine.travel(NOW, tick=True):
        head, person, course = await nominee(zalo, "n2", "vi")
        mine = (await zalo.say("n2", "cua toi"))[0]
        assert said("vi", "nominated — please confirm") in mine
        card = (await zalo.say("n2", "1"))[0]
        assert "📨" in card and "1. ✅ Xác nhận\n2. ✖️ Từ chối" in card
        asked = (await zalo.say("n2", "tu choi"))[0]  # the label, typed without accents
        assert asked.startswith(
            said(
                "vi",
                "Why do you decline <b>%(title)s</b>? Type the reason in one message, "
                "or choose below.",
                title="Kỹ năng số cơ bản",
            )
        )
        assert "1. Từ chối, không nêu lý do\n2. Không, giữ lại" in asked
        kept = (await zalo.say("n2", "2"))[0]  # changed my mind: nothing is declined
        assert kept.startswith(said("vi", "OK, nothing changed."))
        searched = (await zalo.say("n2", "Đang đi học lớp khác"))[0]  # no longer a reason
        assert not searched.startswith("Đã từ chối")
        assert (await registration(zalo, person, course)).status == "nominated"
        await zalo.say("n2", "cua toi")
        await zalo.say("n2", "1")
        await zalo.say("n2", "2")
        done = await zalo.say("n2", "Đang đi học lớp khác")
    assert done[0].startswith(said("vi", "Declined: %(title)s.", title="Kỹ năng số cơ bản"))
    reg = await registration(zalo, person, course)
    assert (reg.status, reg.reason) == ("declined", "Đang đi học lớp khác")
    told = {"nominee_id": person, "outcome": "declined", "reason": "Đang đi học lớp khác"}
    assert await notes(zalo, NOMINATION_ANSWER) == [(head, told)]  # the domain tells the head


@pytest.mark.parametrize("lang", ["vi", "en"])
async def test_answering_a_nomination_notice_after_it_expired_is_refused(
    zalo: Zalo, lang: str
) -> None:
    with time_machine.travel(NOW, tick=True):
        _head, person, course = await nominee(zalo, "n3", lang, hold_hours=1)
    with time_machine.travel(NOW + timedelta(minutes=45), tick=True):
        assert await zalo.drain() == 1  # the notice, still in time
    with time_machine.travel(NOW + timedelta(minutes=61), tick=True):  # the choices are not
        late = await zalo.say("n3", "1")  # stale yet, the nomination is
    assert late == [said(lang, NOT_PENDING)]
    assert (await registration(zalo, person, course)).status == "nominated"
