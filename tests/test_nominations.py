"""Nomination ("cử đi học") and approval: seats held for nominees and for registrations
awaiting the unit head, answered in chat, let go when not answered in time.

Domain tests run on SQLite and PostgreSQL; chat flows drive the real application (SQLite).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from domain import nominations, registration, roles
from domain.errors import DomainError, Refusal
from domain.registration import Outcome
from domain.reminders import (
    APPROVAL_REQUEST,
    APPROVAL_RESULT,
    NOMINATED,
    NOMINATION_ANSWER,
    NOMINATION_EXPIRED,
    PROMOTED,
    Policy,
)
from domain.standards import State, status_of
from handlers.dialog import Dialogs
from schedules.notifications import expire_all
from storage.models import (
    AuditEntry,
    ChatAccount,
    Notification,
    Registration,
    RegistrationStatus,
    Role,
    TrainingRecord,
)
from tests.factories import ZONE, make_person
from tests.fixtures_nominations import DEADLINE, NOW, Db
from tests.fixtures_nominations import add_course as _course
from tests.fixtures_nominations import add_person as _person
from tests.fixtures_nominations import world as _world
from tests.harness import Telegram, buttons
from tests.zalo_standin import Zalo

# Tests do not start the JobQueue, so PTB ignores the reason prompt's timeout and says so.
pytestmark = pytest.mark.filterwarnings("ignore:Ignoring `conversation_timeout`")
POLICY = Policy(tz=ZONE)
S = RegistrationStatus


async def _reg(db: Db, person_id: int, course_id: int) -> Registration:
    async with db() as s:
        row = (
            await s.execute(
                select(Registration).where(
                    Registration.person_id == person_id, Registration.course_id == course_id
                )
            )
        ).scalar_one()
    return row


async def _notes(db: Db, kind: str) -> list[tuple[int, dict[str, Any]]]:
    async with db() as s:
        rows = await s.execute(
            select(Notification.person_id, Notification.params)
            .where(Notification.kind == kind)
            .order_by(Notification.id)
        )
        return [(p, dict(params)) for p, params in rows]


async def _register(db: Db, person_id: int, course_id: int, now: datetime = NOW) -> Outcome:
    async with db.begin() as s:
        result = await registration.register(
            s, person_id=person_id, course_id=course_id, now=now, policy=POLICY
        )
    return result.outcome


# -- approval of self-registrations ----------------------------------------------------------


async def test_a_self_registration_needing_approval_holds_a_seat_and_asks_the_nearest_head(
    db: Db,
) -> None:
    w = await _world(db)
    clerk = await _person(db, w["division"])
    late = await _person(db, w["commune"])
    course = await _course(db, capacity=1, requires_approval=True)

    assert await _register(db, clerk, course) == Outcome.PENDING_APPROVAL
    reg = await _reg(db, clerk, course)
    assert reg.hold_until == DEADLINE - timedelta(hours=24)
    # The commune head is nearer than the province organizer: only they are asked.
    assert await _notes(db, APPROVAL_REQUEST) == [(w["head"], {"reg_id": reg.id})]
    # The held seat counts: the next person is waitlisted, and pressing again changes nothing.
    assert await _register(db, late, course) == Outcome.WAITLISTED
    assert await _register(db, clerk, course) == Outcome.PENDING_APPROVAL
    assert len(await _notes(db, APPROVAL_REQUEST)) == 1


async def test_a_head_asking_for_themself_is_approved_by_the_next_one_up(db: Db) -> None:
    w = await _world(db)
    course = await _course(db, requires_approval=True)
    await _register(db, w["head"], course)
    assert [p for p, _ in await _notes(db, APPROVAL_REQUEST)] == [w["organizer"]]
    async with db.begin() as s:
        with pytest.raises(DomainError) as refused:
            await nominations.decide(
                s, actor_id=w["head"], reg_id=(await _reg(db, w["head"], course)).id,
                approve=True, reason=None, now=NOW, policy=POLICY,
            )  # fmt: skip
    assert refused.value.code == Refusal.FORBIDDEN


async def test_approving_registers_and_declining_gives_the_seat_to_the_waitlist(db: Db) -> None:
    w = await _world(db)
    a, b, c = [await _person(db, w["commune"], n) for n in ("An", "Bình", "Chi")]
    course = await _course(db, capacity=2, requires_approval=True)
    for person in (a, b, c):
        await _register(db, person, course)
    reg_a, reg_b = await _reg(db, a, course), await _reg(db, b, course)
    async with db.begin() as s:
        ok = await nominations.decide(
            s, actor_id=w["head"], reg_id=reg_a.id, approve=True, reason=None, now=NOW,
            policy=POLICY,
        )  # fmt: skip
    assert ok.approved and (await _reg(db, a, course)).status == S.REGISTERED
    async with db.begin() as s:
        no = await nominations.decide(
            s, actor_id=w["organizer"], reg_id=reg_b.id, approve=False, reason="Đủ người rồi",
            now=NOW, policy=POLICY,
        )  # fmt: skip
    declined = await _reg(db, b, course)
    assert (declined.status, declined.reason, declined.decided_by_id) == (
        S.DECLINED, "Đủ người rồi", w["organizer"],
    )  # fmt: skip
    # The freed seat goes to the waitlist; on this course it too awaits approval.
    assert no.promoted == [c] and (await _reg(db, c, course)).status == S.PENDING_APPROVAL
    assert [p for p, _ in await _notes(db, APPROVAL_REQUEST)] == [w["head"]] * 3
    assert await _notes(db, APPROVAL_RESULT) == [
        (a, {"outcome": "approved", "reason": ""}),
        (b, {"outcome": "declined", "reason": "Đủ người rồi"}),
    ]
    async with db() as s:
        audit = [(e.action, e.actor_person_id) for e in (await s.execute(select(AuditEntry)))
                 .scalars()]  # fmt: skip
    assert audit == [("approve", w["head"]), ("decline", w["organizer"])]
    # A second decision on the same request is refused.
    async with db.begin() as s:
        with pytest.raises(DomainError) as again:
            await nominations.decide(
                s, actor_id=w["head"], reg_id=reg_a.id, approve=False, reason=None, now=NOW,
                policy=POLICY,
            )  # fmt: skip
    assert again.value.code == Refusal.NOT_PENDING


async def test_only_a_head_whose_units_cover_the_person_may_decide(db: Db) -> None:
    w = await _world(db)
    clerk = await _person(db, w["commune"])
    stranger = await _person(db, w["other"])
    async with db.begin() as s:
        other_head = await make_person(s, unit=None)
        await roles.grant(s, person_id=other_head.id, role=Role.UNIT_HEAD, unit_id=w["other"],
                          by="t")  # fmt: skip
    course = await _course(db, requires_approval=True)
    await _register(db, clerk, course)
    reg = await _reg(db, clerk, course)
    for actor in (stranger, other_head.id, clerk):
        async with db.begin() as s:
            with pytest.raises(DomainError) as refused:
                await nominations.decide(
                    s, actor_id=actor, reg_id=reg.id, approve=True, reason=None, now=NOW,
                    policy=POLICY,
                )  # fmt: skip
        assert refused.value.code == Refusal.FORBIDDEN
    assert (await _reg(db, clerk, course)).status == S.PENDING_APPROVAL


async def test_unanswered_requests_expire_before_the_deadline_and_free_the_seat(db: Db) -> None:
    w = await _world(db)
    first, second = await _person(db, w["commune"], "An"), await _person(db, w["commune"], "Ba")
    course = await _course(db, capacity=1, requires_approval=True)
    await _register(db, first, course)
    await _register(db, second, course)
    expiry = DEADLINE - timedelta(hours=24)
    async with db.begin() as s:
        assert (
            await nominations.expire_due(s, now=expiry - timedelta(seconds=1), policy=POLICY) == 0
        )
    async with db.begin() as s:
        assert await nominations.expire_due(s, now=expiry, policy=POLICY) == 1
    assert (await _reg(db, first, course)).status == S.EXPIRED
    promoted = await _reg(db, second, course)
    # Promoted within the margin: the head still gets until registration closes.
    assert (promoted.status, promoted.hold_until) == (S.PENDING_APPROVAL, DEADLINE)
    assert (first, {"outcome": "expired", "reason": ""}) in await _notes(db, APPROVAL_RESULT)
    async with db.begin() as s:
        with pytest.raises(DomainError) as late:
            await nominations.decide(
                s, actor_id=w["head"], reg_id=(await _reg(db, first, course)).id, approve=True,
                reason=None, now=expiry, policy=POLICY,
            )  # fmt: skip
    assert late.value.code == Refusal.NOT_PENDING


async def test_withdrawing_a_request_frees_its_seat(db: Db) -> None:
    w = await _world(db)
    first, second = await _person(db, w["commune"], "An"), await _person(db, w["commune"], "Ba")
    course = await _course(db, capacity=1)
    async with db.begin() as s:
        await nominations.nominate(
            s, actor_id=w["head"], course_id=course, person_ids=[first], hold_hours=None,
            now=NOW, hours_target=40,
        )  # fmt: skip
    assert await _register(db, second, course) == Outcome.WAITLISTED
    async with db.begin() as s:
        await nominations.answer(
            s, person_id=first, course_id=course, accept=False, reason=None, now=NOW,
            policy=POLICY,
        )  # fmt: skip
    assert (await _reg(db, second, course)).status == S.REGISTERED
    assert [p for p, _ in await _notes(db, PROMOTED)] == [second]


# -- nominating -------------------------------------------------------------------------------


async def test_candidates_are_people_of_the_heads_units_missing_what_the_course_gives(
    db: Db,
) -> None:
    w = await _world(db)
    lacking = await _person(db, w["division"], "Thiếu Kỹ Năng")
    skilled = await _person(db, w["commune"], "Có Kỹ Năng",
                            qualifications=[("digital_skills", "", "")])  # fmt: skip
    await _person(db, w["other"], "Xã Khác")  # outside the head's units
    registered = await _person(db, w["commune"], "Đã Đăng Ký")
    course = await _course(db)
    await _register(db, registered, course)
    async with db() as s:
        view = await nominations.nominating(
            s, actor_id=w["head"], course_id=course, now=NOW, hours_target=40
        )
    assert [c.person_id for c in view.candidates] == [lacking]
    assert [g.code for g in view.candidates[0].gaps] == ["digital-skills"]
    # The same judgement as /status: the gap is missing there, met for the skilled person.
    async with db() as s:
        for person, state in ((lacking, State.MISSING), (skilled, State.MET)):
            statuses = await status_of(
                s, person_id=person, now=NOW, today=NOW.date(), hours_target=40
            )
            assert next(x for x in statuses if x.rule.code == "digital-skills").state == state
        choices = await nominations.courses_to_nominate(
            s, actor_id=w["head"], now=NOW, hours_target=40
        )
        assert [(c.course.id, c.candidates, c.seats_left) for c in choices] == [(course, 1, 29)]


async def test_hours_courses_find_people_behind_the_yearly_target(db: Db) -> None:
    w = await _world(db)
    behind = await _person(db, w["commune"], "Thiếu Giờ")
    done = await _person(db, w["commune"], "Đủ Giờ")
    async with db.begin() as s:
        s.add(TrainingRecord(person_id=done, title="x", hours=40, ends_on=date(2026, 3, 1)))
        s.add(TrainingRecord(person_id=w["head"], title="x", hours=40, ends_on=date(2026, 3, 1)))
    course = await _course(db, grants_kind=None, hours=8)
    async with db() as s:
        view = await nominations.nominating(
            s, actor_id=w["head"], course_id=course, now=NOW, hours_target=40
        )
    assert [c.person_id for c in view.candidates] == [behind]


async def test_people_missing_the_standard_come_before_those_behind_on_hours(db: Db) -> None:
    w = await _world(db)
    hours_only = await _person(db, w["commune"], "An Thiếu Giờ",
                               qualifications=[("digital_skills", "", "")])  # fmt: skip
    standard = await _person(db, w["commune"], "Yến Thiếu Chuẩn")
    course = await _course(db, hours=16)  # grants digital skills and counts 16 hours
    async with db() as s:
        view = await nominations.nominating(
            s, actor_id=w["head"], course_id=course, now=NOW, hours_target=40
        )
    assert [c.person_id for c in view.candidates] == [standard, hours_only]


async def test_nominees_hold_seats_and_confirm_or_decline(db: Db) -> None:
    w = await _world(db)
    a, b, c = [await _person(db, w["commune"], n) for n in ("An", "Bình", "Chi")]
    outsider = await _person(db, w["other"])
    queued = await _person(db, w["other"], "Dũng")
    course = await _course(db, capacity=2)
    async with db.begin() as s:
        sent = await nominations.nominate(
            s, actor_id=w["head"], course_id=course, person_ids=[a, b, c, outsider],
            hold_hours=None, now=NOW, hours_target=40,
        )  # fmt: skip
    assert (sent.nominated, sent.no_seat, sent.not_eligible) == ([a, b], 1, 1)
    assert sent.hold_until == NOW + timedelta(days=3)
    assert [p for p, _ in await _notes(db, NOMINATED)] == [a, b]
    assert (await _reg(db, a, course)).nominated_by_id == w["head"]
    # Held seats are taken: a newcomer is waitlisted.
    assert await _register(db, queued, course) == Outcome.WAITLISTED
    async with db.begin() as s:
        yes = await nominations.answer(
            s, person_id=a, course_id=course, accept=True, reason=None, now=NOW, policy=POLICY
        )
    assert yes.accepted and (await _reg(db, a, course)).status == S.REGISTERED
    async with db.begin() as s:
        no = await nominations.answer(
            s, person_id=b, course_id=course, accept=False, reason="Đang nghỉ ốm", now=NOW,
            policy=POLICY,
        )  # fmt: skip
    assert no.promoted == [queued] and (await _reg(db, queued, course)).status == S.REGISTERED
    assert await _notes(db, NOMINATION_ANSWER) == [
        (w["head"], {"nominee_id": b, "outcome": "declined", "reason": "Đang nghỉ ốm"})
    ]
    async with db() as s:
        targets = [e.target for e in (await s.execute(select(AuditEntry))).scalars()]
    assert len(targets) == 2 and all(t.startswith("C") for t in targets)
    # Answering twice is refused.
    async with db.begin() as s:
        with pytest.raises(DomainError) as again:
            await nominations.answer(
                s, person_id=b, course_id=course, accept=True, reason=None, now=NOW,
                policy=POLICY,
            )  # fmt: skip
    assert again.value.code == Refusal.NOT_PENDING


async def test_a_civil_servant_cannot_nominate(db: Db) -> None:
    w = await _world(db)
    clerk = await _person(db, w["commune"])
    course = await _course(db)
    async with db.begin() as s:
        with pytest.raises(DomainError) as refused:
            await nominations.nominate(
                s, actor_id=clerk, course_id=course, person_ids=[w["head"]], hold_hours=None,
                now=NOW, hours_target=40,
            )  # fmt: skip
    assert refused.value.code == Refusal.FORBIDDEN


async def test_unanswered_nominations_expire_and_both_sides_are_told(db: Db) -> None:
    w = await _world(db)
    nominee = await _person(db, w["commune"])
    waiting = await _person(db, w["other"])
    course = await _course(db, capacity=1)
    async with db.begin() as s:
        sent = await nominations.nominate(
            s, actor_id=w["head"], course_id=course, person_ids=[nominee], hold_hours=24,
            now=NOW, hours_target=40,
        )  # fmt: skip
    assert sent.hold_until == NOW + timedelta(hours=24)
    await _register(db, waiting, course)
    async with db.begin() as s:
        assert await nominations.expire_due(s, now=sent.hold_until, policy=POLICY) == 1
    assert (await _reg(db, nominee, course)).status == S.EXPIRED
    assert (await _reg(db, waiting, course)).status == S.REGISTERED
    assert [p for p, _ in await _notes(db, NOMINATION_EXPIRED)] == [nominee]
    assert await _notes(db, NOMINATION_ANSWER) == [
        (w["head"], {"nominee_id": nominee, "outcome": "expired", "reason": ""})
    ]
    async with db.begin() as s:
        with pytest.raises(DomainError) as late:
            await nominations.answer(
                s, person_id=nominee, course_id=course, accept=True, reason=None,
                now=sent.hold_until, policy=POLICY,
            )  # fmt: skip
    assert late.value.code == Refusal.NOT_PENDING


# -- in chat ------------------------------------------------------------------------------------


@pytest.mark.databases("sqlite")
async def test_a_head_nominates_in_chat_one_confirms_and_one_declines_with_a_reason(
    chat: Telegram, db: Db
) -> None:
    c = chat
    w = await _world(db)
    an = await _person(db, w["commune"], "Nguyễn An")
    binh = await _person(db, w["division"], "Trần Bình")
    course = await _course(
        db, starts_at=datetime.now(UTC) + timedelta(days=10),
        registration_deadline=datetime.now(UTC) + timedelta(days=7), title="Kỹ năng số cơ bản",
    )  # fmt: skip
    head = await c.link(w["head"], 801, "en")
    u_an, u_binh = await c.link(an, 802, "en"), await c.link(binh, 803, "en")

    listing = await c.reply(head, "/nominate")
    assert "Kỹ năng số cơ bản" in listing
    assert "2 miss the standard it grants, 0 need only training hours, 30 seats left" in listing
    page = await c.press_reply(head, f"nc:{course}")
    assert "Nguyễn An" in page and "Trần Bình" in page and "Picked: 0" in page
    await c.press(head, f"nt:{an}")
    assert "Picked: 2" in await c.press_reply(head, f"nt:{binh}")
    summary = await c.press_reply(head, "nn")
    assert summary.startswith("Nominate 2 people for Kỹ năng số cơ bản?")
    assert "1 day" in str(c.api.last_message(801)["reply_markup"])
    await c.press(head, "nh:24")
    done = await c.press_reply(head, "ny")
    assert done.startswith("📨 2 people nominated for Kỹ năng số cơ bản; seats held until")

    assert await c.drain() == 2
    invite = str(c.api.last_message(802)["text"])
    assert invite.startswith("📨 Trưởng Xã has nominated you for Kỹ năng số cơ bản")
    assert [d for _, d in buttons(c.api.last_message(802))][:2] == [f"na:{course}", f"nd:{course}"]
    assert (await c.press_reply(u_an, f"na:{course}")).startswith("✅ You are registered for")
    assert c.api.last_message(802)["document"]["file_name"].endswith(".ics")

    asked = await c.press_reply(u_binh, f"nd:{course}")
    assert asked.startswith("Why do you decline Kỹ năng số cơ bản? Type the reason")
    assert await c.reply(u_binh, "Đang đi học lớp khác") == "Declined: Kỹ năng số cơ bản."
    assert (await _reg(db, binh, course)).reason == "Đang đi học lớp khác"
    await c.drain()
    told = str(c.api.last_message(801)["text"])
    assert told == (
        "✖️ Trần Bình declined the nomination for Kỹ năng số cơ bản. Reason: Đang đi học lớp khác"
    )
    # /my shows the confirmed registration.
    assert "Kỹ năng số cơ bản" in await c.reply(u_an, "/my")


@pytest.mark.databases("sqlite")
async def test_a_head_approves_in_chat_seeing_the_gaps_and_a_civil_servant_replay_is_refused(
    chat: Telegram, db: Db
) -> None:
    c = chat
    w = await _world(db)
    an = await _person(db, w["commune"], "Nguyễn An")
    binh = await _person(db, w["commune"], "Trần Bình")
    course = await _course(
        db, starts_at=datetime.now(UTC) + timedelta(days=10), requires_approval=True,
        registration_deadline=datetime.now(UTC) + timedelta(days=7), title="Kỹ năng số",
    )  # fmt: skip
    head = await c.link(w["head"], 901, "en")
    u_an, u_binh = await c.link(an, 902, "en"), await c.link(binh, 903, "en")

    await c.reply(u_an, "/courses")
    await c.press(u_an, f"c:{course}")
    await c.press(u_an, f"r:{course}")
    sent = await c.press_reply(u_an, f"rc:{course}")
    assert sent.startswith("📨 Your request was sent to your unit head for approval.")
    assert "Awaiting your unit head's approval" in sent
    assert "awaiting approval" in await c.reply(u_an, "/my")
    await c.reply(u_binh, "/courses")
    await c.press(u_binh, f"c:{course}")
    await c.press(u_binh, f"r:{course}")
    await c.press(u_binh, f"rc:{course}")

    await c.drain()
    requests = [m for m in c.api.sent_to(901) if "asks to join" in str(m.get("text"))]
    assert len(requests) == 2
    text = str(requests[0]["text"])
    assert text.startswith("🙋 Nguyễn An (Xã Một) asks to join Kỹ năng số")
    assert "🎯 Digital skills training: missing" in text
    reg_an, reg_binh = await _reg(db, an, course), await _reg(db, binh, course)

    # A civil servant replaying the head's buttons is refused, audited, and nothing changes.
    for data in (f"aa:{reg_an.id}", f"ad:{reg_an.id}"):
        await c.press(u_binh, data, owner=head)
        assert c.alerts()[-1].startswith("Only organizers can do this")
    async with db() as s:
        refused = [
            (e.action, e.result)
            for e in (await s.execute(select(AuditEntry))).scalars()
            if e.result == "refused"
        ]
    assert refused == [("approve", "refused"), ("decline", "refused")]
    assert (await _reg(db, an, course)).status == S.PENDING_APPROVAL
    assert (await c.reply(u_binh, "/nominate")).startswith("Only organizers")

    assert await c.press_reply(head, f"aa:{reg_an.id}") == (
        "✅ Approved: Nguyễn An is registered for Kỹ năng số."
    )
    assert "Why decline" in await c.press_reply(head, f"ad:{reg_binh.id}")
    assert await c.reply(head, "/skip") == "Declined: Kỹ năng số."
    await c.drain()
    assert str(c.api.last_message(902)["text"]).startswith(
        "✅ Your unit head approved your registration"
    )
    assert str(c.api.last_message(903)["text"]).startswith(
        "❌ Your unit head declined your registration for Kỹ năng số. Reason: —"
    )
    # A stale copy of the button (another head's message, say) no longer works.
    stale = InlineKeyboardMarkup([[InlineKeyboardButton("…", callback_data=f"aa:{reg_an.id}")]])
    await c.app.bot.send_message(901, "…", reply_markup=stale)
    await c.press(head, f"aa:{reg_an.id}")
    assert c.alerts()[-1].startswith("This has already been answered")


@pytest.mark.databases("sqlite")
async def test_cancel_while_asked_for_a_reason_keeps_the_nomination(chat: Telegram, db: Db) -> None:
    c = chat
    w = await _world(db)
    an = await _person(db, w["commune"], "Nguyễn An")
    course = await _course(
        db, starts_at=datetime.now(UTC) + timedelta(days=10),
        registration_deadline=datetime.now(UTC) + timedelta(days=7),
    )  # fmt: skip
    async with db.begin() as s:
        await nominations.nominate(
            s, actor_id=w["head"], course_id=course, person_ids=[an], hold_hours=None,
            now=datetime.now(UTC), hours_target=40,
        )  # fmt: skip
    u_an = await c.link(an, 1001, "en")
    await c.drain()
    await c.press(u_an, f"nd:{course}")
    assert await c.reply(u_an, "/cancel") == "OK, nothing changed."
    assert (await _reg(db, an, course)).status == S.NOMINATED
    # The course card offers the same answer.
    await c.reply(u_an, "/my")
    card = await c.press_reply(u_an, f"c:{course}")
    assert "Your unit nominated you" in card
    assert [d for _, d in buttons(c.api.last_message(1001))][:2] == [f"na:{course}", f"nd:{course}"]


@pytest.mark.databases("sqlite")
async def test_the_expiry_job_lets_go_and_tells_the_nominee(chat: Telegram, db: Db) -> None:
    c = chat
    w = await _world(db)
    an = await _person(db, w["commune"], "Nguyễn An")
    now = datetime.now(UTC)
    course = await _course(
        db, starts_at=now + timedelta(days=10), registration_deadline=now + timedelta(days=7)
    )
    async with db.begin() as s:
        await nominations.nominate(
            s, actor_id=w["head"], course_id=course, person_ids=[an], hold_hours=24,
            now=now - timedelta(hours=25), hours_target=40,
        )  # fmt: skip
    await c.link(an, 1101, "en")
    assert await expire_all(c.app.bot_data["resources"]) == 1
    await c.drain()
    texts = [str(m.get("text")) for m in c.api.sent_to(1101)]
    # The nomination notice itself is skipped: it can no longer be answered.
    assert texts == [
        "⌛ You did not answer the nomination for Bồi dưỡng kỹ năng số in time, so the seat "
        "held for you has been given up."
    ]


@pytest.mark.databases("sqlite")
async def test_a_head_filters_candidates_by_the_gap_the_course_closes_and_by_unit(
    chat: Telegram, db: Db
) -> None:
    c = chat
    w = await _world(db)
    standard = await _person(db, w["commune"], "Yến Thiếu Chuẩn")
    hours_only = await _person(db, w["division"], "An Thiếu Giờ",
                               qualifications=[("digital_skills", "", "")])  # fmt: skip
    course = await _course(
        db, starts_at=datetime.now(UTC) + timedelta(days=10), hours=16,
        registration_deadline=datetime.now(UTC) + timedelta(days=7), title="Kỹ năng số cơ bản",
    )  # fmt: skip
    head = await c.link(w["head"], 811, "en")

    listing = await c.reply(head, "/nominate")
    assert "1 miss the standard it grants, 1 need only training hours" in listing
    page = await c.press_reply(head, f"nc:{course}")
    assert page.index("Yến Thiếu Chuẩn") < page.index("An Thiếu Giờ")  # the standard first
    offered = {d for _, d in buttons(c.api.last_message(811))}
    assert {"ng:0", "ng:1", "ng:2", "nu:0", f"nu:{w['commune']}", f"nu:{w['division']}"} <= offered
    only_standard = await c.press_reply(head, "ng:1")
    assert "Yến Thiếu Chuẩn" in only_standard and "An Thiếu Giờ" not in only_standard
    offered = {d for _, d in buttons(c.api.last_message(811))}
    assert f"nt:{standard}" in offered and f"nt:{hours_only}" not in offered
    # The division has nobody missing it.
    nobody = await c.press_reply(head, f"nu:{w['division']}")
    assert "Nobody matches this filter." in nobody
    division = await c.press_reply(head, "ng:0")
    assert "An Thiếu Giờ" in division and "Yến Thiếu Chuẩn" not in division


# -- on Zalo: the same /nominate, by numbered choices -------------------------------------------


def _number(message: str, text: str) -> str:
    """The number of the one numbered choice whose line holds `text`."""
    numbers = [line.split(". ", 1)[0] for line in message.splitlines()
               if text in line and line.split(". ", 1)[0].isdigit()]  # fmt: skip
    assert len(numbers) == 1, f"no single choice {text!r} in {message!r}"
    return numbers[0]


@pytest.mark.databases("sqlite")
async def test_a_head_nominates_two_people_on_zalo_by_numbered_choices(zalo: Zalo) -> None:
    db = zalo.db
    w = await _world(db)
    an = await _person(db, w["commune"], "Nguyễn An")
    binh = await _person(db, w["division"], "Trần Bình")
    course = await _course(
        db, starts_at=datetime.now(UTC) + timedelta(days=10),
        registration_deadline=datetime.now(UTC) + timedelta(days=7), title="Kỹ năng số cơ bản",
    )  # fmt: skip
    async with db.begin() as s:
        s.add(ChatAccount(channel="zalo", chat_user_id="z-head", chat_id="z-head",
                          person_id=w["head"], language="vi",
                          linked_at=datetime.now(UTC)))  # fmt: skip

    async def say(text: str) -> str:
        return "\n".join(await zalo.say("z-head", text))

    listing = await say("cử đi học")
    assert "Kỹ năng số cơ bản" in listing
    people = await say(_number(listing, "Kỹ năng số cơ bản"))
    assert "Nguyễn An" in people and "Trần Bình" in people
    picked = await say(_number(people, "Nguyễn An"))
    assert "✅ Nguyễn An" in picked and "⬜ Trần Bình" in picked
    # A restart between two picks: the draft is read back from the chat's dialog row.
    zalo.bot.dialogs = Dialogs(db, "zalo")
    picked = await say(_number(picked, "Trần Bình"))
    assert "✅ Trần Bình" in picked and "✅ Nguyễn An" in picked
    summary = await say(_number(picked, "Tiếp »"))
    assert "Nguyễn An, Trần Bình" in summary
    done = await say(_number(summary, "✅"))
    assert done.startswith("📨 ") and "Kỹ năng số cơ bản" in done
    assert (await _reg(db, an, course)).nominated_by_id == w["head"]
    assert (await _reg(db, binh, course)).nominated_by_id == w["head"]
    assert "nominate" not in (await zalo.dialog("z-head")).kept  # the draft is done with
