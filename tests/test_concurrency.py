"""Ten presses at once: every organizer action and a brand-new user's first message change the
database once. On PostgreSQL the ten transactions really run side by side (SQLite queues
writers and hid all of this); exactly one wins and writes its audit entry and notices, the
others get an "already done" answer, and nobody gets an error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain import attendance as att
from domain import broadcasts, claims, completion, course_admin, linking, nominations, roles
from domain.errors import DomainError
from domain.recipients import Audience
from domain.registration import register
from domain.reminders import COURSE_CANCELLED, Policy
from storage.models import (
    Attendance,
    AuditEntry,
    BroadcastDelivery,
    ChatAccount,
    Dialog,
    Notification,
    Registration,
    RegistrationStatus,
    Role,
    TrainingRecord,
    Unit,
)
from storage.repos.dialogs import DialogRepo
from tests.factories import ZONE, make_account, make_course, make_person, make_unit
from tests.fixtures_attendance import AFTER, SESSIONS, TZ, course5, mark
from tests.harness import Telegram, said

Db = async_sessionmaker[AsyncSession]
T = TypeVar("T")
TIMES = 10
POLICY = Policy(tz=ZONE)
NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)


async def at_once(db: Db, act: Callable[[AsyncSession], Awaitable[T]]) -> list[T | DomainError]:
    """Run `act` TIMES at once, each in its own transaction; refusals are results, anything
    else fails the test."""

    async def one() -> T | DomainError:
        try:
            async with db.begin() as s:
                return await act(s)
        except DomainError as refused:
            return refused

    return list(await asyncio.gather(*(one() for _ in range(TIMES))))


async def count(db: Db, model: Any, *where: Any) -> int:
    async with db() as s:
        return int(await s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def audits(db: Db, action: str) -> int:
    return await count(db, AuditEntry, AuditEntry.action == action)


async def organizer_and_unit(db: Db) -> tuple[int, Unit]:
    async with db.begin() as s:
        unit = await make_unit(s)
        org = await make_person(s, unit=unit, full_name="Cán bộ Tổ chức")
        await roles.grant(s, person_id=org.id, role=Role.ORGANIZER, unit_id=unit.id, by="test")
    return org.id, unit


async def test_a_claim_approved_ten_times_at_once_counts_its_hours_once(db: Db) -> None:
    org, unit = await organizer_and_unit(db)
    async with db.begin() as s:
        person = await make_person(s, unit=unit, full_name="Lương Thị Hoa")
        claim = await claims.submit(
            s, person_id=person.id, kind=claims.TRAINING, note="",
            details={"title": "Kỹ năng số", "hours": 16, "ends_on": "2026-11-20"},
            evidence_kind="photo", evidence_file_id="F1", now=NOW,
        )  # fmt: skip
    results = await at_once(
        db, lambda s: claims.approve(s, actor_id=org, claim_id=claim.id, now=NOW)
    )
    assert sorted(r.done for r in results if isinstance(r, claims.Review)) == [False] * 9 + [True]
    assert await count(db, TrainingRecord) == 1
    assert await audits(db, "claim_approve") == 1
    assert await count(db, Notification, Notification.person_id == person.id) == 1


async def test_a_claim_rejected_ten_times_at_once_is_decided_once(db: Db) -> None:
    org, unit = await organizer_and_unit(db)
    async with db.begin() as s:
        person = await make_person(s, unit=unit)
        claim = await claims.submit(
            s, person_id=person.id, kind=claims.CORRECTION, details={}, note="Sai ngày sinh",
            evidence_kind="photo", evidence_file_id="F1", now=NOW,
        )  # fmt: skip
    results = await at_once(
        db, lambda s: claims.reject(s, actor_id=org, claim_id=claim.id, reason="Thiếu", now=NOW)
    )
    assert [r.done for r in results if isinstance(r, claims.Review)].count(True) == 1
    assert await audits(db, "claim_reject") == 1
    assert await count(db, Notification) == 1


async def test_a_course_cancelled_ten_times_at_once_tells_each_registrant_once(db: Db) -> None:
    org, unit = await organizer_and_unit(db)
    now = datetime.now(UTC)
    async with db.begin() as s:
        course = await make_course(s, organizer=unit)
        people = [(await make_person(s, unit=unit)).id for _ in range(3)]
    for pid in people:
        async with db.begin() as s:
            await register(s, person_id=pid, course_id=course.id, now=now, policy=POLICY)
    results = await at_once(
        db,
        lambda s: course_admin.cancel_course(
            s, person_id=org, course_id=course.id, now=now, policy=POLICY
        ),
    )
    assert sum(isinstance(r, course_admin.Changed) for r in results) == 1
    assert await audits(db, "course_cancel") == 1
    for pid in people:
        assert (
            await count(
                db,
                Notification,
                Notification.person_id == pid,
                Notification.kind == COURSE_CANCELLED,
            )
            == 1
        )


async def test_closing_and_reopening_ten_times_at_once_are_audited_once_each(db: Db) -> None:
    org, unit = await organizer_and_unit(db)
    async with db.begin() as s:
        course = await make_course(s, organizer=unit)
    now = datetime.now(UTC)
    for open_, action in ((False, "course_close"), (True, "course_reopen")):
        results = await at_once(
            db,
            lambda s, open_=open_: course_admin.set_registration(  # type: ignore[misc]
                s, person_id=org, course_id=course.id, open_=open_, now=now
            ),
        )
        assert not [r for r in results if isinstance(r, DomainError)]
        assert await audits(db, action) == 1


async def test_finishing_ten_times_at_once_records_each_training_once(db: Db) -> None:
    c = await course5(db)
    await mark(db, c, "An", range(5))
    results = await at_once(
        db,
        lambda s: completion.finish(
            s, actor_id=c.organizer, course_id=c.course_id, now=AFTER, min_share=0.8, tz=TZ
        ),
    )
    assert not [r for r in results if isinstance(r, DomainError)]
    assert await count(db, TrainingRecord) == 1
    assert await audits(db, "course_finish") == 1


async def test_a_nomination_accepted_ten_times_at_once_registers_once(db: Db) -> None:
    async with db.begin() as s:
        unit = await make_unit(s)
        head = await make_person(s, unit=unit)
        await roles.grant(s, person_id=head.id, role=Role.UNIT_HEAD, unit_id=unit.id, by="t")
        nominee = await make_person(s, unit=unit)
        course = await make_course(
            s,
            starts_at=NOW + timedelta(days=10),
            registration_deadline=NOW + timedelta(days=7),
            grants_kind="digital_skills",
        )
    async with db.begin() as s:
        await nominations.nominate(
            s, actor_id=head.id, course_id=course.id, person_ids=[nominee.id], hold_hours=None,
            now=NOW, hours_target=40,
        )  # fmt: skip
    results = await at_once(
        db,
        lambda s: nominations.answer(
            s,
            person_id=nominee.id,
            course_id=course.id,
            accept=True,
            reason=None,
            now=NOW,
            policy=POLICY,
        ),
    )
    assert sum(isinstance(r, nominations.Answer) for r in results) == 1
    async with db() as s:
        statuses = (await s.execute(select(Registration.status))).scalars().all()
    assert statuses == [RegistrationStatus.REGISTERED]


async def test_a_request_approved_ten_times_at_once_is_decided_once(db: Db) -> None:
    async with db.begin() as s:
        unit = await make_unit(s)
        head = await make_person(s, unit=unit)
        await roles.grant(s, person_id=head.id, role=Role.UNIT_HEAD, unit_id=unit.id, by="t")
        person = await make_person(s, unit=unit)
        course = await make_course(
            s, starts_at=NOW + timedelta(days=10), registration_deadline=NOW + timedelta(days=7),
            requires_approval=True,
        )  # fmt: skip
    async with db.begin() as s:
        await register(s, person_id=person.id, course_id=course.id, now=NOW, policy=POLICY)
        reg_id = (await s.execute(select(Registration.id))).scalar_one()
    results = await at_once(
        db,
        lambda s: nominations.decide(
            s,
            actor_id=head.id,
            reg_id=reg_id,
            approve=True,
            reason=None,
            now=NOW,
            policy=POLICY,
        ),
    )
    assert sum(isinstance(r, nominations.Decision) for r in results) == 1
    assert await audits(db, "approve") == 1


async def test_a_broadcast_sent_or_cancelled_ten_times_at_once_happens_once(db: Db) -> None:
    org, unit = await organizer_and_unit(db)
    async with db.begin() as s:
        for _ in range(3):
            await make_person(s, unit=unit)
    now = datetime.now(UTC).replace(hour=3)  # 10:00 in Vietnam: outside quiet hours
    today = date.today()
    async with db.begin() as s:
        bid = await broadcasts.create_draft(s, actor_person_id=org, text="Họp", plain_length=3)
        await broadcasts.choose_audience(
            s, actor_person_id=org, broadcast_id=bid, audience=Audience(), now=now, today=today,
            hours_target=40,
        )  # fmt: skip

    async def send(s: AsyncSession) -> broadcasts.Confirmed:
        return await broadcasts.confirm(
            s, actor_person_id=org, broadcast_id=bid, now=now, today=today, send_at=None,
            policy=POLICY, hours_target=40,
        )  # fmt: skip

    results = await at_once(db, send)
    assert sum(isinstance(r, broadcasts.Confirmed) for r in results) == 1
    assert await count(db, BroadcastDelivery) == 4  # three people and the organizer
    assert await audits(db, "broadcast") == 1
    results2 = await at_once(
        db, lambda s: broadcasts.cancel(s, actor_person_id=org, broadcast_id=bid, now=now)
    )
    assert sum(not isinstance(r, DomainError) for r in results2) == 1
    assert await audits(db, "broadcast-cancel") == 1


async def test_a_new_chat_seen_ten_times_at_once_gets_one_account(db: Db) -> None:
    results = await at_once(
        db,
        lambda s: linking.account_for(
            s, channel="telegram", chat_user_id="123456", chat_id="123456", language="vi"
        ),
    )
    assert len({r.id for r in results if isinstance(r, ChatAccount)}) == 1
    assert await count(db, ChatAccount) == 1


async def test_one_link_code_typed_in_ten_chats_at_once_links_one(db: Db) -> None:
    async with db.begin() as s:
        person = await make_person(s)
        chats = [(await make_account(s)).id for _ in range(TIMES)]
        made = await linking.create_code(
            s, personal_id=person.personal_id, now=NOW, ttl=timedelta(hours=1)
        )
    assert made is not None
    code = made[0]
    ids = iter(chats)

    async def link(s: AsyncSession) -> linking.LinkResult:
        return await linking.link_by_code(
            s, account_id=next(ids), code=code, now=NOW, max_failures=5,
            lockout=timedelta(minutes=15),
        )  # fmt: skip

    results = await at_once(db, link)
    assert [r.status for r in results if isinstance(r, linking.LinkResult)].count(
        linking.LinkStatus.LINKED
    ) == 1
    assert await count(db, ChatAccount, ChatAccount.person_id == person.id) == 1


async def test_a_mark_pressed_ten_times_at_once_is_set_and_audited_once(db: Db) -> None:
    c = await course5(db)
    results = await at_once(
        db,
        lambda s: att.toggle(
            s,
            actor_id=c.organizer,
            course_id=c.course_id,
            registration_id=c.regs["An"],
            session_no=0,
            now=AFTER,
            present=True,
        ),
    )
    assert results == [True] * TIMES
    assert await count(db, Attendance, Attendance.present.is_(True)) == 1
    assert await audits(db, "attendance") == 1


async def test_a_check_in_code_sent_ten_times_at_once_checks_in_once(db: Db) -> None:
    c = await course5(db)
    now = SESSIONS[0][0]
    async with db.begin() as s:
        code = await att.new_checkin_code(
            s, actor_id=c.organizer, course_id=c.course_id, session_no=0, now=now
        )
    results = await at_once(
        db, lambda s: att.checkin(s, person_id=c.people["An"], code=code.code, now=now)
    )
    statuses = sorted(r.status.value for r in results if isinstance(r, att.CheckinResult))
    assert statuses.count(att.CheckinStatus.CHECKED_IN.value) == 1
    assert await count(db, Attendance) == 1


async def test_a_new_users_first_start_sent_ten_times_at_once_is_answered_each_time(
    tg: Telegram,
) -> None:
    """Through the real application, which handles updates concurrently as in production."""
    user = {"id": 700_000_555, "is_bot": False, "first_name": "Mới", "language_code": "vi"}
    updates = [tg.api.message_update(user, "/start") for _ in range(TIMES)]
    await asyncio.gather(*(tg.process(u) for u in updates))  # fails on any logged error
    assert await count(tg.db, ChatAccount) == 1
    greeting = said("Hello! I help commune civil servants")
    assert [m["text"] for m in tg.api.sent_to(user["id"])].count(greeting) == TIMES


async def test_the_database_refuses_a_second_training_record_for_one_claim(db: Db) -> None:
    org, unit = await organizer_and_unit(db)
    async with db.begin() as s:
        person = await make_person(s, unit=unit)
        claim = await claims.submit(
            s, person_id=person.id, kind=claims.TRAINING, note="",
            details={"title": "Kỹ năng số", "hours": 16, "ends_on": "2026-11-20"},
            evidence_kind="photo", evidence_file_id="F1", now=NOW,
        )  # fmt: skip
        await claims.approve(s, actor_id=org, claim_id=claim.id, now=NOW)
    with pytest.raises(IntegrityError):
        async with db.begin() as s:
            s.add(TrainingRecord(person_id=person.id, title="x", hours=16,
                                 ends_on=date(2026, 11, 20), claim_id=claim.id))  # fmt: skip


async def test_a_chats_first_dialog_state_written_ten_times_at_once_is_one_row(db: Db) -> None:
    """Ten workers answering one chat's first updates each write its state: one row is left,
    holding one of the states whole."""
    until = datetime.now(UTC) + timedelta(minutes=30)
    states = iter(range(TIMES))

    async def put(s: AsyncSession) -> int:
        n = next(states)
        await DialogRepo(s).put("zalo", "z-new", {"expect": None, "data": {"n": n}}, until)
        return n

    written = await at_once(db, put)
    assert sorted(n for n in written if isinstance(n, int)) == list(range(TIMES))
    async with db() as s:
        rows = (await s.execute(select(Dialog))).scalars().all()
    assert [(r.channel, r.chat_id) for r in rows] == [("zalo", "z-new")]
    assert rows[0].state["data"]["n"] in range(TIMES)
