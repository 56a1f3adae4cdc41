"""What Zalo gained to match Telegram: /privacy with unlinking, the course schedule in
plain text where Telegram sends an .ics file, answering a nomination or awaiting approval,
and claims with a photo (downloaded from the stand-in over HTTP).

Driven like tests/test_zalo.py (ZaloBot.handle against the stand-in Zalo server), on both
databases, as unlinking writes the account row.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from sqlalchemy import select

from domain import nominations, roles
from domain.registration import Outcome, register
from domain.reminders import APPROVAL_REQUEST, APPROVAL_RESULT, NOMINATION_ANSWER
from handlers.dialog import Dialogs
from handlers.render import label
from locales import Translator
from storage.models import (
    Attendance,
    AuditEntry,
    ChatAccount,
    Claim,
    ClaimFile,
    Notification,
    Registration,
    Role,
)
from tests.factories import make_course, make_person
from tests.fixtures_nominations import add_course as _course
from tests.fixtures_nominations import add_person as _person
from tests.fixtures_nominations import world as _world
from tests.fixtures_zalo import ASK_PHOTO, CLAIM, TZ, at, choice, linked, said
from tests.zalo_standin import PHOTO, Zalo


async def account(zalo: Zalo, user: str) -> ChatAccount:
    async with zalo.db() as s:
        query = select(ChatAccount).filter_by(channel="zalo", chat_user_id=user)
        return (await s.execute(query)).scalar_one()


NOT_LINKED = (
    "You are not linked yet. Type the link code your organizer gave you, or your phone number "
    "as on your unit's roster."
)
EXPIRED = "That list has expired. Please choose again:"


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
    assert "1. " + said(lang, "Unlink this %(app)s account", app="Zalo") in shown
    asked = (await zalo.say("p1", "1"))[0]
    assert asked.startswith(said(lang, "Unlink this %(app)s account from your record?", app="Zalo"))
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
    assert (await account(zalo, "p2")).person_id == person_id
    await zalo.say("p2", "riêng tư")
    await zalo.say("p2", "1")
    zalo.bot.dialogs = Dialogs(zalo.db, "zalo")  # a restart keeps the confirmation offered
    restarted = await zalo.say("p2", "1")
    assert restarted == [
        said(
            "vi",
            "Unlinked. To link again, type the link code your organizer gave you, or your phone "
            "number as on your unit's roster.",
        )
    ]
    assert (await account(zalo, "p2")).person_id is None


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


# -- the unit head decides on a registration request ---------------------------------------

FORBIDDEN = (
    "Only organizers can do this. If you should be one, ask your Department of Home Affairs."
)


async def request(
    zalo: Zalo, head_user: str, lang: str, deadline: datetime = NOW + timedelta(days=7)
) -> Any:
    """A unit head on Zalo, and a request of a civil servant of their commune (also on Zalo)
    to join a course needing approval, its notice delivered to the head."""
    w = await _world(zalo.db)
    person = await _person(zalo.db, w["commune"], "Trần Bình")
    await put_on_zalo(zalo, head_user, w["head"], lang)
    await put_on_zalo(zalo, f"{head_user}-p", person, lang)
    course = await _course(
        zalo.db,
        title="Kỹ năng số cơ bản",
        requires_approval=True,
        starts_at=NOW + timedelta(days=10),
        registration_deadline=deadline,
    )
    async with zalo.db.begin() as s:
        done = await register(
            s, person_id=person, course_id=course, now=datetime.now(UTC),
            policy=zalo.settings.reminder_policy(),
        )  # fmt: skip
    assert done.outcome == Outcome.PENDING_APPROVAL
    assert await zalo.drain() == 1  # the notice, to the head
    return w, person, course


async def audited(zalo: Zalo) -> list[tuple[str, str, str, int | None]]:
    async with zalo.db() as s:
        rows = (await s.execute(select(AuditEntry).order_by(AuditEntry.id))).scalars()
        return [(e.action, e.result, e.actor, e.actor_person_id) for e in rows]


@pytest.mark.parametrize("lang", ["vi", "en"])
async def test_a_unit_head_approves_by_typing_the_number_under_the_notice(
    zalo: Zalo, lang: str
) -> None:
    with time_machine.travel(NOW, tick=True):
        _w, person, course = await request(zalo, "h1", lang)
        notice = zalo.srv.sent_to("h1")[-1]
        assert "Trần Bình" in notice and "Kỹ năng số cơ bản" in notice
        choices = [said(lang, "✅ Approve"), said(lang, "✖️ Decline"), said(lang, "View course")]
        assert "\n".join(f"{n}. {c}" for n, c in enumerate(choices, 1)) in notice
        done = await zalo.say("h1", "1")
        assert done[0].startswith(
            said(
                lang,
                "✅ Approved: %(who)s is registered for <b>%(title)s</b>.",
                who="Trần Bình",
                title="Kỹ năng số cơ bản",
            )
        )
        assert (await registration(zalo, person, course)).status == "registered"
        told = {"outcome": "approved", "reason": ""}
        assert await notes(zalo, APPROVAL_RESULT) == [(person, told)]  # the domain tells them
        assert await zalo.drain() == 1
    approved = said(
        lang,
        "✅ Your unit head approved your registration: you are registered for "
        "<b>%(title)s</b>, starting %(when)s at %(where)s.",
    ).split("%(title)s")[0]
    assert zalo.srv.sent_to("h1-p")[-1].startswith(approved + "Kỹ năng số cơ bản")
    assert [a[:2] for a in await audited(zalo)] == [("approve", "ok")]


async def test_a_unit_head_declines_with_a_typed_reason(zalo: Zalo) -> None:
    with time_machine.travel(NOW, tick=True):
        _w, person, course = await request(zalo, "h2", "vi")
        asked = (await zalo.say("h2", "tu choi"))[0]  # the label, typed without accents
        assert asked.startswith(
            said(
                "vi",
                "Why decline <b>%(title)s</b> for %(who)s? Type the reason in one message, "
                "or choose below.",
                title="Kỹ năng số cơ bản",
                who="Trần Bình",
            )
        )
        assert "1. Từ chối, không nêu lý do\n2. Không, giữ lại" in asked
        done = await zalo.say("h2", "Lớp đã đủ người của xã")
    assert done[0].startswith(said("vi", "Declined: %(title)s.", title="Kỹ năng số cơ bản"))
    reg = await registration(zalo, person, course)
    assert (reg.status, reg.reason) == ("declined", "Lớp đã đủ người của xã")
    told = {"outcome": "declined", "reason": "Lớp đã đủ người của xã"}
    assert await notes(zalo, APPROVAL_RESULT) == [(person, told)]


async def test_choices_of_a_request_are_refused_without_the_role_or_scope_and_audited(
    zalo: Zalo,
) -> None:
    with time_machine.travel(NOW, tick=True):
        w, person, course = await request(zalo, "h3", "vi")
        forged = (await zalo.dialog("h3")).choices  # the head's choices
        colleague = await _person(zalo.db, w["commune"], "Lê Văn Cường")
        await put_on_zalo(zalo, "c3", colleague)
        async with zalo.db.begin() as s:  # the head of another commune: not theirs to decide
            other = (await make_person(s, full_name="Trưởng Xã Hai")).id
            await roles.grant(s, person_id=other, role=Role.UNIT_HEAD, unit_id=w["other"], by="t")
        await put_on_zalo(zalo, "o3", other)
        for user, number in (("c3", "1"), ("c3", "2"), ("o3", "1"), ("o3", "2")):
            await zalo.offer(user, forged)
            assert await zalo.say(user, number) == [said("vi", FORBIDDEN)]
        asked = await zalo.say("h3", "2")  # the head starts declining, then loses the role
        assert "1. Từ chối, không nêu lý do" in asked[0]
        async with zalo.db.begin() as s:
            await roles.revoke(s, person_id=w["head"], role=Role.UNIT_HEAD, unit_id=None)
        assert await zalo.say("h3", "Không phù hợp") == [said("vi", FORBIDDEN)]
    assert (await registration(zalo, person, course)).status == "pending_approval"
    assert await notes(zalo, APPROVAL_RESULT) == []
    # Refusals by role are audited as on Telegram; the domain refuses the wrong scope.
    assert await audited(zalo) == [
        ("approve", "refused", "zalo:c3", colleague),
        ("decline", "refused", "zalo:c3", colleague),
        ("decline", "refused", "zalo:h3", w["head"]),
    ]


@pytest.mark.parametrize(("lang", "number"), [("vi", "1"), ("en", "2")])
async def test_deciding_on_a_request_after_it_expired_is_refused(
    zalo: Zalo, lang: str, number: str
) -> None:
    deadline = NOW + zalo.settings.reminder_policy().approval_margin + timedelta(minutes=20)
    with time_machine.travel(NOW, tick=True):
        _w, person, course = await request(zalo, "h4", lang, deadline)
    with time_machine.travel(NOW + timedelta(minutes=21), tick=True):  # the choices are not
        late = await zalo.say("h4", number)  # stale yet, the request is
    assert late == [said(lang, NOT_PENDING)]
    assert (await registration(zalo, person, course)).status == "pending_approval"
    assert await notes(zalo, APPROVAL_RESULT) == []


# -- a notice arriving while the user answers another list -----------------------------------

AGAIN = "A new message has just arrived, so the numbers have changed. Please choose again:"


async def another_request(zalo: Zalo, w: dict[str, int]) -> tuple[int, int]:
    """A second person of the head's commune asks to join a second course; the head gets its
    notice (pushed by the drainer)."""
    person = await _person(zalo.db, w["commune"], "Lê Văn Cường")
    course = await _course(
        zalo.db,
        title="An toàn thông tin",
        requires_approval=True,
        starts_at=NOW + timedelta(days=12),
        registration_deadline=NOW + timedelta(days=7),
    )
    async with zalo.db.begin() as s:
        done = await register(
            s, person_id=person, course_id=course, now=datetime.now(UTC),
            policy=zalo.settings.reminder_policy(),
        )  # fmt: skip
    assert done.outcome == Outcome.PENDING_APPROVAL
    assert await zalo.drain() == 1
    return person, course


@pytest.mark.parametrize("lang", ["vi", "en"])
async def test_a_notice_arriving_under_a_prompt_does_not_take_the_number_meant_for_it(
    zalo: Zalo, lang: str
) -> None:
    with time_machine.travel(NOW, tick=True):
        w, person_a, course_a = await request(zalo, "h5", lang)
        asked = (await zalo.say("h5", "2"))[0]  # why decline A?
        assert "1. " + said(lang, "Decline without a reason") in asked
        person_b, course_b = await another_request(zalo, w)
        assert "Lê Văn Cường" in zalo.srv.sent_to("h5")[-1]
        choices = [said(lang, "✅ Approve"), said(lang, "✖️ Decline"), said(lang, "View course")]
        listed = "\n".join(f"{n}. {c}" for n, c in enumerate(choices, 1))
        again = await zalo.say("h5", "1")  # meant for A's prompt: not acted on
        assert len(again) == 1 and again[0].startswith(said(lang, AGAIN))
        assert listed in again[0]  # the current list, B's
        assert (await registration(zalo, person_a, course_a)).status == "pending_approval"
        assert (await registration(zalo, person_b, course_b)).status == "pending_approval"
        assert await notes(zalo, APPROVAL_RESULT) == []
        done = (await zalo.say("h5", "1"))[0]  # chosen again from that list: acted on
    assert done.startswith(
        said(
            lang,
            "✅ Approved: %(who)s is registered for <b>%(title)s</b>.",
            who="Lê Văn Cường",
            title="An toàn thông tin",
        )
    )
    assert (await registration(zalo, person_b, course_b)).status == "registered"
    assert (await registration(zalo, person_a, course_a)).status == "pending_approval"


async def test_a_notice_after_an_old_list_is_answered_by_its_number_at_once(zalo: Zalo) -> None:
    with time_machine.travel(NOW, tick=True):
        w, person_a, course_a = await request(zalo, "h6", "vi")
        assert "1. " in (await zalo.say("h6", "help"))[0]  # the main menu, numbered
    with time_machine.travel(NOW + timedelta(minutes=11), tick=True):  # not a recent list
        person_b, course_b = await another_request(zalo, w)
        done = (await zalo.say("h6", "1"))[0]
    assert done.startswith(said("vi", "✅ Approved: %(who)s is registered for <b>%(title)s</b>.",
                                who="Lê Văn Cường", title="An toàn thông tin"))  # fmt: skip
    assert (await registration(zalo, person_b, course_b)).status == "registered"
    assert (await registration(zalo, person_a, course_a)).status == "pending_approval"


SEARCHED = "🔎 Courses matching “%(q)s”: %(n)d"


async def test_a_reason_is_owed_for_minutes_not_for_the_dialogs_lifetime(zalo: Zalo) -> None:
    with time_machine.travel(NOW, tick=True):
        _w, person, course = await request(zalo, "h7", "vi")
        await zalo.say("h7", "2")  # why decline? ... and the head turns away
    with time_machine.travel(NOW + timedelta(minutes=6), tick=True):
        searched = (await zalo.say("h7", "Kỹ năng số"))[0]
    assert searched.startswith(said("vi", SEARCHED).split("%(q)s")[0] + "Kỹ năng số")
    assert (await registration(zalo, person, course)).status == "pending_approval"
    assert await notes(zalo, APPROVAL_RESULT) == []


async def test_a_wrong_number_keeps_the_reason_owed_for_its_minutes_only(zalo: Zalo) -> None:
    with time_machine.travel(NOW, tick=True):
        _w, person, course = await request(zalo, "h9", "vi")
        await zalo.say("h9", "2")  # why decline?
    with time_machine.travel(NOW + timedelta(minutes=2), tick=True):
        again = (await zalo.say("h9", "7"))[0]
    assert again.startswith(said("vi", "Please reply with a number from 1 to %(n)d.", n=2))
    with time_machine.travel(NOW + timedelta(minutes=8), tick=True):  # 5 minutes after "7"
        searched = (await zalo.say("h9", "Kỹ năng số"))[0]  # not a reason any more
    assert searched.startswith(said("vi", SEARCHED).split("%(q)s")[0] + "Kỹ năng số")
    assert (await registration(zalo, person, course)).status == "pending_approval"


async def test_a_notice_drops_the_reason_owed_for_an_older_question(zalo: Zalo) -> None:
    with time_machine.travel(NOW, tick=True):
        w, person_a, course_a = await request(zalo, "h8", "vi")
        await zalo.say("h8", "2")  # why decline A?
        person_b, course_b = await another_request(zalo, w)
        searched = (await zalo.say("h8", "An toàn thông tin"))[0]
    assert searched.startswith(said("vi", SEARCHED).split("%(q)s")[0] + "An toàn thông tin")
    assert (await registration(zalo, person_a, course_a)).status == "pending_approval"
    assert (await registration(zalo, person_b, course_b)).status == "pending_approval"
    assert await notes(zalo, APPROVAL_RESULT) == []


# -- checking in at a session -----------------------------------------------------------------


@pytest.mark.parametrize("lang", ["vi", "en"])
async def test_a_participant_checks_in_by_typing_diem_danh_and_the_code(
    zalo: Zalo, lang: str
) -> None:
    from domain import attendance
    from tests.fixtures_attendance import BEFORE, SESSIONS, course5

    c = await course5(zalo.db)
    async with zalo.db.begin() as s:
        s.add(ChatAccount(channel="zalo", chat_user_id="k1", chat_id="k1", language=lang,
                          person_id=c.people["An"], linked_at=BEFORE))  # fmt: skip
        code = await attendance.new_checkin_code(
            s, actor_id=c.organizer, course_id=c.course_id, session_no=1, now=BEFORE
        )
    spaced = f"{code.code[:3]} {code.code[3:]}"  # as read off the screen
    title, n = "Trung cấp lý luận chính trị", 2
    with time_machine.travel(SESSIONS[1][0], tick=False):
        assert (await zalo.say("k1", "điểm danh"))[0] == said(
            lang, "Type “điểm danh” followed by the code shown in the room."
        )
        wrong = "This code is not valid. Check it on the screen and try again."
        assert (await zalo.say("k1", "diem danh ZZZZZZ"))[0].startswith(said(lang, wrong))
        done = (await zalo.say("k1", f"Điểm danh {spaced}"))[0]
        assert done.startswith(said(lang, "✅ Checked in: <b>%(title)s</b>, session %(n)d.",
                                    title=title, n=n))  # fmt: skip
        again = (await zalo.say("k1", f"/checkin {code.code}"))[0]
        assert again.startswith(said(
            lang, "You are already checked in for session %(n)d of %(title)s.", title=title, n=n
        ))  # fmt: skip
    async with zalo.db() as s:
        marks = (await s.execute(select(Attendance.session_no, Attendance.source))).all()
    assert [tuple(m) for m in marks] == [(1, "checkin")]


# -- claims with a photo ------------------------------------------------------------------------

SENT = (
    "📨 Sent (number %(id)d). An organizer of your unit will check it; I will tell you the result."
)
ONLY_TEXT = "I can only read text. Please type your message."


async def filed_claims(zalo: Zalo) -> list[tuple[Claim, ClaimFile | None]]:
    async with zalo.db() as s:
        query = select(Claim, ClaimFile).outerjoin(ClaimFile, ClaimFile.claim_id == Claim.id)
        return [(c, f) for c, f in await s.execute(query)]


@pytest.mark.parametrize("lang", ["vi", "en"])
async def test_a_qualification_is_claimed_from_status_with_a_photo(zalo: Zalo, lang: str) -> None:
    person_id = await linked(zalo, "c1", lang)
    t = Translator(lang, TZ)
    status = (await zalo.say("c1", "status"))[0]
    asked = (await zalo.say("c1", choice(status, said(lang, CLAIM))))[0]
    assert asked.startswith(
        said(lang, "What would you like to tell your organizer? /cancel to stop.")
    )
    asked = (await zalo.say("c1", choice(asked, said(lang, "Qualification"))))[0]
    assert asked.startswith(said(lang, "Which qualification?"))
    asked = (await zalo.say("c1", choice(asked, label(t, "political_theory"))))[0]
    assert asked.startswith(said(lang, "Which level?"))
    asked = (await zalo.say("c1", choice(asked, label(t, "trung_cap"))))[0]
    assert asked == said(
        lang,
        "Type the field of study, the school and the year (e.g. <i>Luật, Đại học Huế, 2019</i>).",
    )
    typed = await zalo.say("c1", "Trường Chính trị tỉnh Lạng Sơn, 2024")
    assert typed == [said(lang, ASK_PHOTO)]
    await zalo.bot.handle(zalo.srv.image_update("c1", caption="bằng trung cấp"))

    [(claim, file)] = await filed_claims(zalo)
    assert zalo.srv.sent_to("c1")[-1].startswith(said(lang, SENT, id=claim.id))
    assert zalo.srv.downloads == ["photo.png"]
    assert (claim.person_id, claim.kind, claim.state, claim.evidence_kind) == (
        person_id,
        "qualification",
        "pending",
        "zalo_photo",
    )
    assert claim.details == {
        "kind": "political_theory",
        "level": "trung_cap",
        "field": "Trường Chính trị tỉnh Lạng Sơn, 2024",
    }
    assert file is not None
    assert (file.content, file.filename, file.mime) == (PHOTO, "photo.png", "image/png")
    # The claim is filed: another photo is only a photo again.
    await zalo.bot.handle(zalo.srv.image_update("c1"))
    assert zalo.srv.sent_to("c1")[-1] == said(lang, ONLY_TEXT)
    assert len(await filed_claims(zalo)) == 1


async def test_a_photo_that_cannot_be_fetched_is_asked_for_again_and_nothing_is_filed(
    zalo: Zalo,
) -> None:
    await linked(zalo, "c2", "vi")
    status = (await zalo.say("c2", "chuẩn"))[0]
    asked = (await zalo.say("c2", choice(status, said("vi", CLAIM))))[0]
    await zalo.say("c2", choice(asked, said("vi", "Outside training")))
    unread = await zalo.say("c2", "Kỹ năng số 16 giờ")
    assert unread == [
        said("vi", "I could not read that. Please send: title; hours; end date (dd/mm/yyyy).")
    ]
    assert await zalo.say("c2", "Kỹ năng số cho công chức; 16; 05/11/2026") == [
        said("vi", ASK_PHOTO)
    ]
    not_photo = await zalo.say("c2", "ảnh đây")
    assert not_photo == [
        said("vi", "Please send a photo of the certificate or document, or /cancel.")
    ]
    zalo.srv.files["page.png"] = b"<html><body>not a photo</body></html>"  # mislabelled
    for name, answer in (  # a 404, then something that is no photo: the reason is told
        ("gone.jpg", "I could not get that photo. Please send it again."),
        ("page.png", "That is not a photo (JPEG, PNG or HEIC). Please send a photo of the "
         "document, or /cancel."),
    ):  # fmt: skip
        await zalo.bot.handle(zalo.srv.image_update("c2", name))
        assert zalo.srv.sent_to("c2")[-1] == said("vi", answer)
    assert await filed_claims(zalo) == []
    await zalo.bot.handle(zalo.srv.image_update("c2"))  # the step was kept
    [(claim, file)] = await filed_claims(zalo)
    assert zalo.srv.sent_to("c2")[-1].startswith(said("vi", SENT, id=claim.id))
    assert zalo.srv.downloads == ["gone.jpg", "page.png", "photo.png"]
    assert (claim.kind, claim.note, claim.details) == (
        "training",
        "",
        {"title": "Kỹ năng số cho công chức", "hours": 16, "ends_on": "2026-11-05"},
    )
    assert file is not None and file.content == PHOTO


async def test_a_photo_with_no_claim_waiting_gets_the_polite_answer(zalo: Zalo) -> None:
    await linked(zalo, "c3", "en")
    status = (await zalo.say("c3", "/status"))[0]
    asked = (await zalo.say("c3", choice(status, said("en", CLAIM))))[0]
    await zalo.say("c3", choice(asked, said("en", "Mistake in my record")))
    assert await zalo.say("c3", "My birth date is 02/03/1985, not 03/02/1985.") == [
        said("en", ASK_PHOTO)
    ]
    cancelled = (await zalo.say("c3", "/cancel"))[0]
    assert cancelled.startswith(said("en", "Cancelled."))
    await zalo.bot.handle(zalo.srv.image_update("c3"))
    await zalo.bot.handle(zalo.srv.image_update("c4"))  # not linked
    assert zalo.srv.sent_to("c3")[-1] == said("en", ONLY_TEXT)
    assert zalo.srv.sent_to("c4") == [said("vi", ONLY_TEXT)]
    assert zalo.srv.downloads == []  # nothing waited for a photo, so nothing was fetched
    assert await filed_claims(zalo) == []
