"""Organizers manage courses: create in chat, edit, close, reopen, cancel, import a file, list
and export registrants; civil servants are refused at every step, buttons included."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.cli_export import cmd_export_registrants
from config.settings import Settings
from domain import completion, course_admin, registration, roles
from domain.course_admin import Edit, Field
from domain.course_draft import (
    Draft,
    Invalid,
    Problem,
    Where,
    parse_audience,
    parse_sessions,
)
from domain.errors import DomainError, Refusal
from domain.reminders import (
    COURSE_CANCELLED,
    COURSE_CHANGED,
    COURSE_START,
    PROMOTED,
    Policy,
    Ready,
    prepare,
)
from handlers import course_create
from handlers.dialog import Dialogs
from handlers.notices import render
from handlers.organizer import invalid_text
from locales import Translator
from storage.models import (
    AuditEntry,
    ChatAccount,
    Course,
    CourseStatus,
    Notification,
    Qualification,
    Registration,
    RegistrationStatus,
    Role,
    Unit,
)
from tests.factories import (
    course_row,
    courses_xlsx,
    future,
    make_communes,
    make_course,
    make_organizer,
    make_person,
    make_position,
)
from tests.harness import Telegram, link_account, user
from tests.zalo_standin import Zalo

VN = ZoneInfo("Asia/Ho_Chi_Minh")
POLICY = Policy(tz=VN)
TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def local(text: str) -> datetime:
    return datetime.strptime(text, "%d/%m/%Y %H:%M").replace(tzinfo=VN).astimezone(UTC)


# -- domain ---------------------------------------------------------------------------------------


async def test_registrants_are_in_vietnamese_name_order_and_the_xlsx_keeps_vietnamese(
    db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    async with db.begin() as s:
        units = await make_communes(s)
        org = await make_organizer(s, units["LS-X1"])
        position = await make_position(s, name_vi="Công chức Văn hóa - Xã hội")
        course = await make_course(s, organizer=units["LS-X1"], capacity=4, title="Kỹ năng số")
        names = [
            "Đỗ Văn Đức",
            "Trần Thị Ân",
            "Nguyễn Văn An",
            "Lê Văn Bình",
            "Phạm Thị Ánh",
            "Hoàng Văn Dũng",
        ]
        for i, name in enumerate(names):
            p = await make_person(
                s, unit=units["LS-X1"], position=position, full_name=name, phone=f"09120000{i:02d}"
            )
            await registration.register(
                s, person_id=p.id, course_id=course.id, now=datetime.now(UTC), policy=POLICY
            )
    async with db.begin() as s:
        found, rows = await course_admin.registrants(s, person_id=org, course_id=course.id)
    assert [r.full_name for r in rows] == [
        "Nguyễn Văn An",
        "Phạm Thị Ánh",
        "Trần Thị Ân",
        "Lê Văn Bình",
        "Hoàng Văn Dũng",
        "Đỗ Văn Đức",
    ]
    # The first four registered; the last two wait in the order they came.
    waiting = {r.full_name: r.waitlist_no for r in rows if r.waitlist_no}
    assert waiting == {"Phạm Thị Ánh": 1, "Hoàng Văn Dũng": 2}
    out = tmp_path / "dang-ky.xlsx"
    course_admin.write_registrants(
        out,
        rows,
        headers=[
            "STT",
            "Họ và tên",
            "Đơn vị",
            "Chức vụ",
            "Số điện thoại",
            "Trạng thái",
            "Thứ tự chờ",
        ],
        status_labels={"registered": "Đã đăng ký", "waitlisted": "Danh sách chờ"},
        sheet_title=found.code,
    )
    sheet = load_workbook(out).active
    assert sheet is not None
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[0] == [
        "STT",
        "Họ và tên",
        "Đơn vị",
        "Chức vụ",
        "Số điện thoại",
        "Trạng thái",
        "Thứ tự chờ",
    ]
    assert values[1] == [
        1,
        "Nguyễn Văn An",
        "Xã Tân Thanh",
        "Công chức Văn hóa - Xã hội",
        "0912000002",
        "Đã đăng ký",
        None,
    ]
    assert values[2][1:] == [
        "Phạm Thị Ánh",
        "Xã Tân Thanh",
        "Công chức Văn hóa - Xã hội",
        "0912000004",
        "Danh sách chờ",
        1,
    ]
    async with db() as s:
        audit = (await s.execute(select(AuditEntry.action, AuditEntry.result))).all()
    assert ("registrants_view", "ok") in audit


async def test_an_organizer_manages_only_courses_of_their_units(
    db: async_sessionmaker[AsyncSession],
) -> None:
    async with db.begin() as s:
        units = await make_communes(s)
        org = await make_organizer(s, units["LS-X1"])
        theirs = await make_course(s, organizer=units["LS-X2"])
        admin = await make_person(s)
        await roles.grant(s, person_id=admin.id, role=Role.ADMIN, unit_id=None, by="test")
        clerk = await make_person(s, unit=units["LS-X1"])
    now = datetime.now(UTC)
    for who in (org, clerk.id):
        with pytest.raises(DomainError) as refused:
            async with db.begin() as s:
                await course_admin.set_registration(
                    s, person_id=who, course_id=theirs.id, open_=False, now=now
                )
        assert refused.value.code == Refusal.FORBIDDEN
    async with db.begin() as s:
        view = await course_admin.set_registration(
            s, person_id=admin.id, course_id=theirs.id, open_=False, now=now
        )
    assert view.course.status == CourseStatus.CLOSED
    async with db.begin() as s:
        page = await course_admin.my_courses(s, person_id=org, now=now, page=0, page_size=5)
    assert page.total == 0


async def test_a_new_time_or_place_reaches_everyone_and_replaces_their_reminders(
    db: async_sessionmaker[AsyncSession],
) -> None:
    now = datetime.now(UTC)
    async with db.begin() as s:
        units = await make_communes(s)
        org = await make_organizer(s, units["LS-X1"])
        course = await make_course(
            s, organizer=units["LS-X1"], capacity=1, starts_at=now + timedelta(days=10)
        )
        a = await make_person(s, unit=units["LS-X1"])
        b = await make_person(s, unit=units["LS-X1"])
        for p in (a, b):
            await registration.register(
                s, person_id=p.id, course_id=course.id, now=now, policy=POLICY
            )
    new_start = course.starts_at + timedelta(days=2)
    async with db.begin() as s:
        done = await course_admin.edit_course(
            s,
            person_id=org,
            course_id=course.id,
            now=now,
            policy=POLICY,
            edit=Edit(Field.WHEN, when=(new_start, new_start + timedelta(hours=4), [])),
        )
    assert done.notified == 2
    async with db.begin() as s:
        title = await course_admin.edit_course(
            s,
            person_id=org,
            course_id=course.id,
            now=now,
            policy=POLICY,
            edit=Edit(Field.TITLE, title="Chuyển đổi số cấp xã"),
        )
        where = await course_admin.edit_course(
            s,
            person_id=org,
            course_id=course.id,
            now=now + timedelta(seconds=1),
            policy=POLICY,
            edit=Edit(Field.WHERE, where=Where(None, "https://meet.example.vn/kns")),
        )
    assert title.notified == 0 and where.notified == 2
    assert where.course.mode == "online" and "chuyen doi so" in where.course.search_text
    async with db() as s:
        notes = list((await s.execute(select(Notification))).scalars())
    changed = [n for n in notes if n.kind == COURSE_CHANGED]
    assert sorted(n.person_id for n in changed) == sorted([a.id, b.id, a.id, b.id])
    starts = [n for n in notes if n.kind == COURSE_START and n.state == "pending"]
    # Only the registered person has start reminders, all planned for the new start.
    assert {n.person_id for n in starts} == {a.id}
    stamp = str(int(new_start.timestamp()))
    assert all(stamp in n.dedupe_key for n in starts)

    async with db.begin() as s:
        with pytest.raises(Invalid) as smaller:
            await course_admin.edit_course(
                s,
                person_id=org,
                course_id=course.id,
                now=now,
                policy=POLICY,
                edit=Edit(Field.CAPACITY, capacity=0),
            )
        assert smaller.value.code == Problem.BELOW_REGISTERED
        bigger = await course_admin.edit_course(
            s,
            person_id=org,
            course_id=course.id,
            now=now,
            policy=POLICY,
            edit=Edit(Field.CAPACITY, capacity=2),
        )
    assert bigger.promoted == 1
    async with db() as s:
        actions = [a for (a,) in await s.execute(select(AuditEntry.action))]
    assert actions == [
        "course_edit_when",
        "course_edit_title",
        "course_edit_where",
        "course_edit_capacity",
    ]


async def test_closing_reopening_and_cancelling(db: async_sessionmaker[AsyncSession]) -> None:
    now = datetime.now(UTC)
    async with db.begin() as s:
        units = await make_communes(s)
        org = await make_organizer(s, units["LS-X1"])
        course = await make_course(s, organizer=units["LS-X1"])
        late = await make_course(
            s,
            organizer=units["LS-X1"],
            status=CourseStatus.CLOSED,
            registration_deadline=now - timedelta(hours=1),
        )
        person = await make_person(s, unit=units["LS-X1"])
        early = await make_person(s, unit=units["LS-X1"])
        await registration.register(
            s, person_id=early.id, course_id=course.id, now=now, policy=POLICY
        )
        await course_admin.set_registration(
            s, person_id=org, course_id=course.id, open_=False, now=now
        )
    with pytest.raises(DomainError) as closed:
        async with db.begin() as s:
            await registration.register(
                s, person_id=person.id, course_id=course.id, now=now, policy=POLICY
            )
    assert closed.value.code == Refusal.CLOSED
    with pytest.raises(DomainError) as past:
        async with db.begin() as s:
            await course_admin.set_registration(
                s, person_id=org, course_id=late.id, open_=True, now=now
            )
    assert past.value.code == Refusal.DEADLINE_PASSED
    async with db.begin() as s:
        await course_admin.set_registration(
            s, person_id=org, course_id=course.id, open_=True, now=now
        )
        await registration.register(
            s, person_id=person.id, course_id=course.id, now=now, policy=POLICY
        )
        done = await course_admin.cancel_course(
            s, person_id=org, course_id=course.id, now=now, policy=POLICY
        )
    assert done.notified == 2
    async with db() as s:
        kinds = [
            n.kind
            for n in (await s.execute(select(Notification))).scalars()
            if n.state == "pending"
        ]
    assert sorted(kinds) == [COURSE_CANCELLED, COURSE_CANCELLED]
    with pytest.raises(DomainError) as again:
        async with db.begin() as s:
            await course_admin.edit_course(
                s,
                person_id=org,
                course_id=course.id,
                now=now,
                policy=POLICY,
                edit=Edit(Field.TITLE, title="X"),
            )
    assert again.value.code == Refusal.CLOSED


async def test_typed_sessions_and_audience_are_checked(
    db: async_sessionmaker[AsyncSession],
) -> None:
    starts, ends = local("05/12/2030 07:30"), local("06/12/2030 17:00")
    spans = parse_sessions(
        "05/12/2030 07:30-11:30\n06/12/2030 13h30-17h", starts=starts, ends=ends, tz=VN
    )
    assert spans == [
        (local("05/12/2030 07:30"), local("05/12/2030 11:30")),
        (local("06/12/2030 13:30"), local("06/12/2030 17:00")),
    ]
    with pytest.raises(Invalid) as outside:
        parse_sessions("07/12/2030 07:30-11:30", starts=starts, ends=ends, tz=VN)
    assert outside.value.code == Problem.SESSION_OUTSIDE
    async with db.begin() as s:
        await make_communes(s)
        await make_position(s, code="cc_thu", name_vi="Cán bộ thử nghiệm")
        assert await parse_audience(s, "tất cả") == {}
        found = await parse_audience(s, "ls-x1, Can bo thu nghiem, lãnh đạo")
        assert found == {"units": ["LS-X1"], "positions": ["cc_thu"], "groups": ["leader"]}
        with pytest.raises(Invalid) as unknown:
            await parse_audience(s, "LS-X1, Ban Tuyên giáo")
    assert unknown.value.value == "Ban Tuyên giáo"


async def test_an_organizer_imports_only_courses_of_their_units(
    db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    async with db.begin() as s:
        units = await make_communes(s)
        org = await make_organizer(s, units["LS-X1"])
    mixed = courses_xlsx(
        tmp_path / "mixed.xlsx", [course_row("QL-1", "LS-X1"), course_row("QL-2", "LS-X2")]
    )
    async with db.begin() as s:
        outcome = await course_admin.import_file(
            s, person_id=org, path=mixed, dry_run=False, now=now, policy=POLICY
        )
    assert outcome.forbidden_rows == [3] and not outcome.report.written
    own = courses_xlsx(tmp_path / "own.xlsx", [course_row("QL-1", "LS-X1")])
    async with db.begin() as s:
        outcome = await course_admin.import_file(
            s, person_id=org, path=own, dry_run=False, now=now, policy=POLICY
        )
    assert outcome.ok and outcome.report.written and outcome.report.created == 1
    async with db() as s:
        codes = list((await s.execute(select(Course.code))).scalars())
        audit = (await s.execute(select(AuditEntry.action, AuditEntry.result))).all()
    assert codes == ["QL-1"]
    assert audit == [("course_import", "refused"), ("course_import", "ok")]


async def test_details_are_checked_again_and_later_completions_use_the_new_grant(
    db: async_sessionmaker[AsyncSession],
) -> None:
    now = datetime.now(UTC)
    async with db.begin() as s:
        units = await make_communes(s)
        org = await make_organizer(s, units["LS-X1"])
        course = await make_course(s, organizer=units["LS-X1"], hours=8, grants_kind="it")
        early = await make_person(s, unit=units["LS-X1"])
        late = await make_person(s, unit=units["LS-X1"])
        for p in (early, late):
            await registration.register(
                s, person_id=p.id, course_id=course.id, now=now, policy=POLICY
            )
        await completion.complete_one(s, actor_id=org, course_code=course.code,
                                      personal_id=early.personal_id, certificate_no=None,
                                      now=now, tz=VN)  # fmt: skip
    forged = [
        (Edit(Field.HOURS, hours=5001), Problem.BAD_NUMBER),
        (Edit(Field.HOURS, hours=-1), Problem.BAD_NUMBER),
        (Edit(Field.GRANTS, grants=("refresher_hours", None)), Problem.UNKNOWN_GRANT),
        (Edit(Field.GRANTS, grants=("political_theory", None)), Problem.UNKNOWN_GRANT),
        (Edit(Field.GRANTS, grants=("it", "cao_cap")), Problem.UNKNOWN_GRANT),
        (Edit(Field.CATEGORY, category="cooking"), Problem.UNKNOWN_CATEGORY),
        (Edit(Field.APPROVAL), Problem.EMPTY),
    ]
    for edit, problem in forged:
        with pytest.raises(Invalid) as refused:
            async with db.begin() as s:
                await course_admin.edit_course(
                    s, person_id=org, course_id=course.id, edit=edit, now=now, policy=POLICY
                )
        assert refused.value.code == problem, edit
    async with db.begin() as s:
        await course_admin.edit_course(
            s,
            person_id=org,
            course_id=course.id,
            edit=Edit(Field.GRANTS, grants=("political_theory", "trung_cap")),
            now=now,
            policy=POLICY,
        )
        await completion.complete_one(s, actor_id=org, course_code=course.code,
                                      personal_id=late.personal_id, certificate_no=None,
                                      now=now, tz=VN)  # fmt: skip
    async with db() as s:
        stored = await s.get(Course, course.id)
        quals = {(q.person_id, q.kind) for q in (await s.execute(select(Qualification))).scalars()}
        level = (
            await s.execute(select(Qualification.level).where(Qualification.person_id == late.id))
        ).scalar_one()
        edits = (
            (await s.execute(select(AuditEntry).where(AuditEntry.action.like("course_edit%"))))
            .scalars()
            .all()
        )
    assert stored is not None and stored.hours == 8 and stored.category == "digital_skills"
    assert (stored.grants_kind, stored.grants_level) == ("political_theory", "trung_cap")
    # Who completed before the change keeps what it granted then; later completions get the new.
    assert quals == {(early.id, "it"), (late.id, "political_theory")} and level == "trung_cap"
    assert [(e.action, e.details["before"], e.details["after"]) for e in edits] == [
        ("course_edit_grants", ["it", None], ["political_theory", "trung_cap"])
    ]



async def test_a_forged_audience_is_refused_in_the_domain_and_changes_nothing(
    db: async_sessionmaker[AsyncSession],
) -> None:
    """The chat parses what is typed, but the edit itself checks the codes (any channel)."""
    now = datetime.now(UTC)
    async with db.begin() as s:
        units = await make_communes(s)
        org = await make_organizer(s, units["LS-X1"])
        await make_position(s, code="cc_thu", name_vi="Cán bộ thử nghiệm")
        course = await make_course(s, organizer=units["LS-X1"], audience={"units": ["LS-X1"]})
    forged = [
        ({"units": ["LS-X1", "NOPE"]}, "NOPE"),
        ({"positions": ["khong_co"]}, "khong_co"),
        ({"groups": ["astronaut"]}, "astronaut"),
        ({"everyone_but": ["LS-X2"]}, "everyone_but"),
        ({"units": "LS-X2"}, "units"),  # not a list
        ({"units": [7]}, "7"),
    ]
    for audience, value in forged:
        with pytest.raises(Invalid) as refused:
            async with db.begin() as s:
                await course_admin.edit_course(s, person_id=org, course_id=course.id,
                                               edit=Edit(Field.AUDIENCE, audience=audience),
                                               now=now, policy=POLICY)  # fmt: skip
        assert (refused.value.code, refused.value.value) == (Problem.UNKNOWN_AUDIENCE, value)
    async with db() as s:
        stored = await s.get(Course, course.id)
        edits = (await s.execute(select(AuditEntry.action))).scalars().all()
    assert stored is not None and stored.audience == {"units": ["LS-X1"]} and edits == []
    # Codes as parse_audience gives them pass (a unit code in any case, stored as written).
    given = {"units": ["ls-x2"], "positions": ["cc_thu"], "groups": ["leader"], "unused": []}
    with pytest.raises(Invalid):  # an unknown key is refused even when empty
        async with db.begin() as s:
            await course_admin.edit_course(s, person_id=org, course_id=course.id,
                                           edit=Edit(Field.AUDIENCE, audience=given),
                                           now=now, policy=POLICY)  # fmt: skip
    del given["unused"]
    async with db.begin() as s:
        await course_admin.edit_course(s, person_id=org, course_id=course.id,
                                       edit=Edit(Field.AUDIENCE, audience=given),
                                       now=now, policy=POLICY)  # fmt: skip
    async with db() as s:
        stored = await s.get(Course, course.id)
    assert stored is not None
    assert stored.audience == {"units": ["LS-X2"], "positions": ["cc_thu"], "groups": ["leader"]}


async def _pending(s: AsyncSession, units: dict[str, Unit], course: Course, n: int) -> list[int]:
    """`n` people of LS-X1 asking to join `course`, which requires their unit head's approval."""
    head = await make_person(s, unit=units["LS-X1"], full_name="Thủ Trưởng")
    await roles.grant(s, person_id=head.id, role=Role.UNIT_HEAD, unit_id=units["LS-X1"].id,
                      by="test")  # fmt: skip
    people = []
    for _ in range(n):
        p = await make_person(s, unit=units["LS-X1"])
        done = await registration.register(s, person_id=p.id, course_id=course.id,
                                           now=datetime.now(UTC), policy=POLICY)  # fmt: skip
        assert done.outcome == registration.Outcome.PENDING_APPROVAL
        people.append(p.id)
    return people


async def _approval_off(
    db: async_sessionmaker[AsyncSession], *, capacity: int | None = None
) -> tuple[list[int], course_admin.Changed]:
    """Two requests wait for a course's approval (its capacity maybe cut below the seats they
    hold, as a courses file may); its organizer turns approval off."""
    async with db.begin() as s:
        units = await make_communes(s)
        org = await make_organizer(s, units["LS-X1"])
        course = await make_course(s, organizer=units["LS-X1"], requires_approval=True)
        people = await _pending(s, units, course, 2)
        course.capacity = capacity or course.capacity
    async with db.begin() as s:
        changed = await course_admin.edit_course(s, person_id=org, course_id=course.id,
                                                 edit=Edit(Field.APPROVAL, approval=False),
                                                 now=datetime.now(UTC), policy=POLICY)  # fmt: skip
    return people, changed


async def test_turning_approval_off_registers_the_pending_requests_and_tells_them(
    db: async_sessionmaker[AsyncSession],
) -> None:
    people, changed = await _approval_off(db)
    assert changed.registered == 2
    async with db() as s:
        regs = dict((await s.execute(select(Registration.person_id, Registration.status))).all())
        told = (await s.execute(select(Notification.person_id).where(
            Notification.kind == PROMOTED))).scalars().all()  # fmt: skip
        planned = (await s.execute(select(Notification.person_id).where(
            Notification.kind == COURSE_START))).scalars().all()  # fmt: skip
        audit = (await s.execute(select(AuditEntry).where(
            AuditEntry.action == "course_edit_approval"))).scalar_one()  # fmt: skip
    assert regs == {p: RegistrationStatus.REGISTERED for p in people}
    assert sorted(told) == sorted(people) and set(planned) == set(people)
    assert (audit.details["before"], audit.details["after"], audit.details["registered"]) == (
        True, False, 2)  # fmt: skip
    async with db() as s:  # what they read: why they are registered, not "a seat freed up"
        note = (await s.execute(select(Notification).where(
            Notification.kind == PROMOTED).limit(1))).scalar_one()  # fmt: skip
        ready = await prepare(s, note, now=datetime.now(UTC), policy=POLICY, hours_target=40)
        assert isinstance(ready, Ready)
        text = render(Translator("vi", TZ), ready)
    assert "không còn cần thủ trưởng đơn vị phê duyệt" in text and "freed" not in text


async def test_pending_requests_beyond_the_seats_wait_when_approval_is_turned_off(
    db: async_sessionmaker[AsyncSession],
) -> None:
    (first, second), changed = await _approval_off(db, capacity=1)
    assert changed.registered == 1
    async with db() as s:
        regs = dict((await s.execute(select(Registration.person_id, Registration.status))).all())
        told = (await s.execute(select(Notification.person_id).where(
            Notification.kind == PROMOTED))).scalars().all()  # fmt: skip
    assert regs == {first: RegistrationStatus.REGISTERED, second: RegistrationStatus.WAITLISTED}
    assert told == [first]


@pytest.mark.databases("sqlite")
async def test_the_command_line_exports_registrants(
    db: async_sessionmaker[AsyncSession],
    db_engine: AsyncEngine,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = Settings(_env_file=None, database_url=db_engine.url.render_as_string(False))  # type: ignore[call-arg]
    async with db.begin() as s:
        units = await make_communes(s)
        course = await make_course(s, code="KNS-01", organizer=units["LS-X1"])
        person = await make_person(
            s, unit=units["LS-X1"], full_name="Vũ Thị Hằng", phone="0987654321"
        )
        await registration.register(
            s, person_id=person.id, course_id=course.id, now=datetime.now(UTC), policy=POLICY
        )
    out = tmp_path / "kns.xlsx"
    assert await cmd_export_registrants(settings, "NOPE", out) == 1
    assert await cmd_export_registrants(settings, "KNS-01", out) == 0
    assert "Đã xuất 1 người đăng ký khóa KNS-01" in capsys.readouterr().out
    sheet = load_workbook(out).active
    assert sheet is not None
    assert [c.value for c in sheet[2]] == [
        1,
        "Vũ Thị Hằng",
        "Xã Tân Thanh",
        None,
        "0987654321",
        "Đã đăng ký",
        None,
    ]
    async with db() as s:
        entry = (await s.execute(select(AuditEntry))).scalar_one()
    assert entry.action == "registrants_export" and entry.actor.startswith("cli")


# -- in chat ------------------------------------------------------------------------------


@pytest.mark.databases("sqlite")
async def test_an_organizer_creates_a_course_step_by_step(
    chat: Telegram, db: async_sessionmaker[AsyncSession]
) -> None:
    api = chat.api
    async with db.begin() as s:
        units = await make_communes(s)
        org = await link_account(s, api, await make_organizer(s, units["LS-X1"]), 601)
    assert "bước 1/13" in await chat.reply(org, "/newcourse")
    assert "Khóa học thuộc loại nào" in await chat.reply(org, "Bồi dưỡng   kỹ năng số")
    await chat.press(org, "on:cat:digital_skills")
    assert "không phải ngày giờ" in await chat.reply(org, "mai 7h")
    assert "đã qua" in await chat.reply(org, "01/01/2020 07:30")
    await chat.reply(org, f"{future(10)} 07:30")
    assert "phải sau" in await chat.reply(org, f"{future(9)} 17:00")
    await chat.reply(org, f"{future(11)} 17:00")
    assert "nằm ngoài" in await chat.reply(org, f"{future(12)} 07:30-11:30")
    await chat.reply(org, f"{future(10)} 07:30-11:30; {future(11)} 13:30-17:00")
    await chat.reply(org, "Hội trường UBND xã https://meet.example.vn/kns")
    assert "số nguyên" in await chat.reply(org, "ba mươi")
    await chat.reply(org, "30")
    await chat.reply(org, f"{future(8)}")
    assert "Ban Tuyên giáo" in await chat.reply(org, "LS-X1, Ban Tuyên giáo")
    await chat.reply(org, "LS-X1, công chức")
    assert "công nhận gì" in await chat.reply(org, "16")
    await chat.press(org, "on:g:digital_skills")
    await chat.press(org, "on:a:yes")
    preview = api.last_message(601)["text"]
    assert "Bồi dưỡng kỹ năng số" in preview and "Số chỗ: 30" in preview
    assert "LS-X1, Công chức" in preview and "cần thủ trưởng đơn vị duyệt" in preview
    async with db() as s:
        assert (await s.execute(select(Course))).first() is None  # nothing before the confirm
    await chat.press(org, "onc")
    assert "Đã tạo khóa học" in api.last_message(601)["text"]
    async with db() as s:
        course = (await s.execute(select(Course))).scalar_one()
        audit = (await s.execute(select(AuditEntry.action, AuditEntry.result))).all()
    assert course.title == "Bồi dưỡng kỹ năng số" and course.code.startswith("KNS-")
    assert (course.mode, course.place, course.link) == (
        "blended",
        "Hội trường UBND xã",
        "https://meet.example.vn/kns",
    )
    assert course.capacity == 30 and course.hours == 16 and course.requires_approval
    assert course.audience == {"units": ["LS-X1"], "groups": ["civil_servant"]}
    assert course.organizer_unit_id == units["LS-X1"].id and course.status == CourseStatus.OPEN
    assert course.registration_deadline == local(f"{future(8)} 23:59")
    assert ("course_create", "ok") in audit


@pytest.mark.databases("sqlite")
async def test_civil_servants_are_refused_for_commands_and_replayed_buttons(
    chat: Telegram, db: async_sessionmaker[AsyncSession]
) -> None:
    api = chat.api
    async with db.begin() as s:
        units = await make_communes(s)
        org = await link_account(s, api, await make_organizer(s, units["LS-X1"]), 611)
        clerk = await link_account(s, api, (await make_person(s, unit=units["LS-X1"])).id, 612)
        course = await make_course(s, organizer=units["LS-X1"], title="Lớp quản lý nhà nước")
    for command in ("/newcourse", "/organize"):
        assert (await chat.reply(clerk, command)).startswith("Chỉ cán bộ phụ trách bồi dưỡng")
    await chat.reply(org, "/organize")
    await chat.press(org, f"oc:{course.id}")
    assert "Lớp quản lý nhà nước" in api.last_message(611)["text"]
    # The civil servant replays the organizer's buttons: same data, their own user id.
    for data in (f"ox:{course.id}", f"or:{course.id}:0", f"ov:{course.id}", f"ok:{course.id}"):
        await chat.press(user(612), data, owner=org)
        assert chat.alerts()[-1].startswith("Chỉ cán bộ phụ trách bồi dưỡng")
    await chat.press(org, f"ok:{course.id}")
    await chat.press(user(612), f"okc:{course.id}", owner=org)
    assert chat.alerts()[-1].startswith("Chỉ cán bộ phụ trách bồi dưỡng")
    async with db() as s:
        still = await s.get(Course, course.id)
        refused = (
            (await s.execute(select(AuditEntry.action).where(AuditEntry.result == "refused")))
            .scalars()
            .all()
        )
    assert still is not None and still.status == CourseStatus.OPEN
    assert sorted(refused) == sorted(
        [
            "course_create",
            "organize",
            "course_close",
            "registrants_view",
            "registrants_export",
            "course_cancel",
            "course_cancel",
        ]
    )
    assert not any(m == "sendDocument" for m, _p in api.calls)


@pytest.mark.databases("sqlite")
async def test_an_organizer_edits_cancels_and_exports_in_chat(
    chat: Telegram, db: async_sessionmaker[AsyncSession]
) -> None:
    api = chat.api
    now = datetime.now(UTC)
    async with db.begin() as s:
        units = await make_communes(s)
        org = await link_account(s, api, await make_organizer(s, units["LS-X1"]), 621)
        course = await make_course(s, organizer=units["LS-X1"], title="Kỹ năng số", capacity=1)
        for name in ("Trần Văn Bảo", "Đặng Thị Ánh"):
            p = await make_person(s, unit=units["LS-X1"], full_name=name)
            await registration.register(
                s, person_id=p.id, course_id=course.id, now=now, policy=POLICY
            )
        other = await make_course(s, organizer=units["LS-X2"], title="Lớp xã khác")
    await chat.reply(org, "/organize")
    assert "Kỹ năng số" in api.last_message(621)["text"]
    assert "Lớp xã khác" not in api.last_message(621)["text"]
    await chat.press(org, f"oc:{course.id}")
    await chat.press(org, f"oe:{course.id}")
    await chat.press(org, f"of:{course.id}:where")
    await chat.reply(org, "Nhà văn hóa thôn Nà Làng")
    assert "2 người đã đăng ký hoặc đang chờ sẽ được thông báo" in api.last_message(621)["text"]
    await chat.press(org, f"of:{course.id}:when")
    assert "đã qua" in await chat.reply(org, "01/01/2020 07:30")
    await chat.reply(org, f"{future(15)} 07:30")
    await chat.reply(org, f"{future(15)} 17:00")
    await chat.reply(org, f"{future(15)} 07:30-11:30; {future(15)} 13:30-17:00")
    assert "2 người đã đăng ký hoặc đang chờ sẽ được thông báo" in api.last_message(621)["text"]
    assert "2 buổi học" in api.last_message(621)["text"]
    await chat.press(org, f"or:{course.id}:0")
    listing = api.last_message(621)["text"]
    assert listing.index("Đặng Thị Ánh") < listing.index("Trần Văn Bảo")
    assert "đang chờ #1" in listing
    await chat.press(org, f"ov:{course.id}")
    sent = [p for m, p in api.calls if m == "sendDocument"][-1]
    sheet = load_workbook(
        io.BytesIO(api.file_content(api.last_message(621)["document"]["file_id"]))
    ).active
    assert sheet is not None and sheet["B2"].value == "Đặng Thị Ánh" and sheet["A1"].value == "STT"
    assert "Người đăng ký Kỹ năng số: 2" in str(sent.get("caption"))
    await chat.press(org, f"oc:{course.id}")
    await chat.press(org, f"ok:{course.id}")
    await chat.press(org, f"okc:{course.id}")
    assert any("Đã hủy Kỹ năng số" in m.get("text", "") for m in api.sent_to(621))
    # A forged button for another unit's course is refused and audited.
    await chat.reply(org, "/organize")
    update = api.callback_update(org, api.last_message(621)["message_id"], f"oc:{course.id}")
    update["callback_query"]["data"] = f"ox:{other.id}"
    await chat.process(update)
    assert chat.alerts()[-1].startswith("Chỉ cán bộ phụ trách bồi dưỡng")
    async with db() as s:
        kinds = sorted(n.kind for n in (await s.execute(select(Notification))).scalars())
        audit = (await s.execute(select(AuditEntry.action, AuditEntry.result))).all()
        regs = list((await s.execute(select(Registration.status))).scalars())
    assert kinds.count(COURSE_CHANGED) == 4 and kinds.count(COURSE_CANCELLED) == 2
    assert set(regs) == {RegistrationStatus.REGISTERED, RegistrationStatus.WAITLISTED}
    assert ("course_edit_where", "ok") in audit and ("course_edit_when", "ok") in audit
    assert ("course_cancel", "ok") in audit
    assert ("course_close", "refused") in audit


@pytest.mark.databases("sqlite")
async def test_an_organizer_sends_acourses_xlsx(
    chat: Telegram, db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    api = chat.api
    async with db.begin() as s:
        units = await make_communes(s)
        org = await link_account(s, api, await make_organizer(s, units["LS-X1"]), 631)
    bad = courses_xlsx(
        tmp_path / "bad.xlsx",
        [course_row("QL-1", "LS-X1"), {**course_row("QL-2", "LS-X1"), "capacity": "nhiều"}],
    )
    await chat.process(api.document_update(org, "bad.xlsx", bad.read_bytes()))
    text = api.last_message(631)["text"]
    assert "Chưa nhập gì" in text and "Dòng 3, cột Số chỗ" in text
    rows = [course_row("QL-1", "LS-X1"), course_row("QL-2", "LS-X1")]
    good = courses_xlsx(tmp_path / "khoa-hoc.xlsx", rows)
    await chat.process(api.document_update(org, "khoa-hoc.xlsx", good.read_bytes()))
    assert "2 khóa học mới" in api.last_message(631)["text"]
    async with db() as s:
        assert (await s.execute(select(Course))).first() is None  # a dry run so far
    token = api.last_message(631)["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    await chat.press(org, token)
    assert "Đã nhập" in api.last_message(631)["text"]
    async with db() as s:
        codes = sorted((await s.execute(select(Course.code))).scalars())
    assert codes == ["QL-1", "QL-2"]
    with pytest.raises(AssertionError):  # the button is gone once used
        await chat.press(org, token)


async def _edit_menu(chat: Telegram, org: dict[str, Any], course_id: int) -> None:
    await chat.say(org, "/organize")
    await chat.press(org, f"oc:{course_id}")
    await chat.press(org, f"oe:{course_id}")


@pytest.mark.databases("sqlite")
async def test_an_organizer_changes_hours_and_approval_in_chat(
    chat: Telegram, db: async_sessionmaker[AsyncSession]
) -> None:
    api = chat.api
    async with db.begin() as s:
        units = await make_communes(s)
        org = await link_account(s, api, await make_organizer(s, units["LS-X1"]), 641)
        course = await make_course(s, organizer=units["LS-X1"], title="Kỹ năng số", hours=8)
        early = await make_person(s, unit=units["LS-X1"])
        await registration.register(
            s, person_id=early.id, course_id=course.id, now=datetime.now(UTC), policy=POLICY
        )
    await _edit_menu(chat, org, course.id)
    await chat.press(org, f"of:{course.id}:hours")
    assert (
        "Hiện tại: 8\nKhóa học được tính bao nhiêu giờ bồi dưỡng" in api.last_message(641)["text"]
    )
    card = await chat.reply(org, "16")
    assert "Đã lưu. Hồ sơ bồi dưỡng đã ghi vẫn được giữ nguyên" in card
    assert "Hoàn thành được: 16 giờ bồi dưỡng" in card
    await chat.press(org, f"oe:{course.id}")
    await chat.press(org, f"of:{course.id}:approval")
    assert "Hiện tại: Đăng ký không cần duyệt." in api.last_message(641)["text"]
    assert "vui lòng chọn bằng các nút" in (await chat.reply(org, "có")).lower()
    await chat.press(org, f"og:{course.id}:a:yes")
    card = api.last_message(641)["text"]
    assert "Các đăng ký đã có trước thay đổi này vẫn được giữ nguyên" in card
    assert "✅ Đăng ký cần thủ trưởng đơn vị duyệt." in card
    async with db() as s:
        stored = await s.get(Course, course.id)
        status = (await s.execute(select(Registration.status))).scalar_one()
        notes = (await s.execute(select(Notification.kind))).scalars().all()
        audit = (await s.execute(select(AuditEntry.action, AuditEntry.result))).all()
    assert stored is not None and stored.hours == 16 and stored.requires_approval
    assert status == RegistrationStatus.REGISTERED and COURSE_CHANGED not in notes
    assert ("course_edit_hours", "ok") in audit and ("course_edit_approval", "ok") in audit


@pytest.mark.databases("sqlite")
async def test_the_organizer_is_told_how_many_pending_requests_were_registered(
    chat: Telegram, db: async_sessionmaker[AsyncSession]
) -> None:
    api = chat.api
    async with db.begin() as s:
        units = await make_communes(s)
        org = await link_account(s, api, await make_organizer(s, units["LS-X1"]), 642)
        course = await make_course(s, organizer=units["LS-X1"], requires_approval=True)
        await _pending(s, units, course, 2)
    await _edit_menu(chat, org, course.id)
    await chat.press(org, f"of:{course.id}:approval")
    await chat.press(org, f"og:{course.id}:a:no")
    card = api.last_message(642)["text"]
    assert "2 yêu cầu đang chờ duyệt nay không cần duyệt nữa và đã được đăng ký" in card
    assert "vẫn được giữ nguyên" not in card
    assert "Đăng ký không cần duyệt." in card


@pytest.mark.databases("sqlite")
async def test_a_bad_hours_answer_is_refused_as_at_creation_and_changes_nothing(
    chat: Telegram, db: async_sessionmaker[AsyncSession]
) -> None:
    api = chat.api
    async with db.begin() as s:
        units = await make_communes(s)
        org = await link_account(s, api, await make_organizer(s, units["LS-X1"]), 651)
        course = await make_course(s, organizer=units["LS-X1"], hours=8)
    await _edit_menu(chat, org, course.id)
    await chat.press(org, f"of:{course.id}:hours")
    for bad in ("mười sáu", "5001", "-4"):
        with pytest.raises(Invalid) as creating:
            course_create.PARSERS["hours"](Draft(), bad, datetime.now(UTC), VN)
        expected = invalid_text(Translator("vi", VN), creating.value)
        assert await chat.reply(org, bad) == expected
    assert expected == "Vui lòng nhập một số nguyên không nhỏ hơn 0."
    assert "không có gì thay đổi" in await chat.reply(org, "/cancel")
    async with db() as s:
        stored = await s.get(Course, course.id)
        actions = (await s.execute(select(AuditEntry.action))).scalars().all()
    assert stored is not None and stored.hours == 8
    assert not any(a.startswith("course_edit_") for a in actions)


@pytest.mark.databases("sqlite")
async def test_replayed_forged_and_stale_edit_buttons_are_refused(
    chat: Telegram, db: async_sessionmaker[AsyncSession]
) -> None:
    api = chat.api
    async with db.begin() as s:
        units = await make_communes(s)
        org = await link_account(s, api, await make_organizer(s, units["LS-X1"]), 661)
        await link_account(s, api, (await make_person(s, unit=units["LS-X1"])).id, 662)
        course = await make_course(s, organizer=units["LS-X1"], hours=8)
        other = await make_course(s, organizer=units["LS-X2"])
    await chat.reply(org, "/organize")
    await chat.press(org, f"oc:{course.id}")
    # The civil servant replays each of the organizer's edit buttons as it is shown.
    steps = [
        (f"oe:{course.id}", f"oe:{course.id}"),
        (f"of:{course.id}:hours", f"of:{course.id}:approval"),
        (f"og:{course.id}:a:yes", None),
    ]
    for replayed, pressed in steps:
        await chat.press(user(662), replayed, owner=org)
        assert chat.alerts()[-1].startswith("Chỉ cán bộ phụ trách bồi dưỡng")
        if pressed:
            await chat.press(org, pressed)
    # The organizer forges a choice for another unit's course: not the course being edited.
    update = api.callback_update(org, api.last_message(661)["message_id"], f"og:{course.id}:a:yes")
    update["callback_query"]["data"] = f"og:{other.id}:a:yes"
    await chat.process(update)
    assert chat.alerts()[-1] == "Nút này không còn hiệu lực."
    await chat.press(org, f"og:{course.id}:a:yes")
    await chat.press(org, f"og:{course.id}:a:no")  # the edit is over: a stale button
    assert chat.alerts()[-1] == "Nút này không còn hiệu lực."
    async with db() as s:
        mine, theirs = await s.get(Course, course.id), await s.get(Course, other.id)
        audit = (await s.execute(select(AuditEntry.action, AuditEntry.result))).all()
    assert mine is not None and mine.requires_approval and mine.hours == 8
    assert theirs is not None and not theirs.requires_approval
    assert sorted(audit) == [("course_edit", "refused")] * 3 + [("course_edit_approval", "ok")]


@pytest.mark.databases("sqlite")
async def test_completions_after_a_grants_change_in_chat_use_the_new_grant(
    chat: Telegram, db: async_sessionmaker[AsyncSession]
) -> None:
    api = chat.api
    now = datetime.now(UTC)
    async with db.begin() as s:
        units = await make_communes(s)
        org_id = await make_organizer(s, units["LS-X1"])
        org = await link_account(s, api, org_id, 671)
        course = await make_course(s, organizer=units["LS-X1"], hours=8, grants_kind="it")
        person = await make_person(s, unit=units["LS-X1"])
        await registration.register(
            s, person_id=person.id, course_id=course.id, now=now, policy=POLICY
        )
    await _edit_menu(chat, org, course.id)
    await chat.press(org, f"of:{course.id}:grants")
    assert (
        "Hiện tại: Tin học\nHoàn thành khóa học được công nhận gì?" in api.last_message(671)["text"]
    )
    await chat.press(org, f"og:{course.id}:g:political_theory")
    assert "Trình độ nào?" in api.last_message(671)["text"]
    assert "vui lòng chọn bằng các nút" in (await chat.reply(org, "trung cấp")).lower()
    await chat.press(org, f"og:{course.id}:l:trung_cap")
    card = api.last_message(671)["text"]
    assert "Hoàn thành được: Lý luận chính trị (trung cấp), 8 giờ bồi dưỡng" in card
    async with db.begin() as s:
        await completion.complete_one(s, actor_id=org_id, course_code=course.code,
                                      personal_id=person.personal_id, certificate_no=None,
                                      now=now, tz=VN)  # fmt: skip
    async with db() as s:
        quals = (await s.execute(select(Qualification.kind, Qualification.level))).all()
        audit = (await s.execute(select(AuditEntry.action, AuditEntry.result))).all()
    assert quals == [("political_theory", "trung_cap")]
    assert ("course_edit_grants", "ok") in audit


# -- on Zalo: the same flows, numbered ---------------------------------------------------------


async def _on_zalo(s: AsyncSession, user: str, person_id: int) -> None:
    s.add(ChatAccount(channel="zalo", chat_user_id=user, chat_id=user, person_id=person_id,
                      language="vi", linked_at=datetime.now(UTC)))  # fmt: skip
    await s.flush()


@pytest.mark.databases("sqlite")
async def test_an_organizer_creates_and_manages_a_course_on_zalo(zalo: Zalo) -> None:
    async with zalo.db.begin() as s:
        units = await make_communes(s)
        await _on_zalo(s, "z-org", await make_organizer(s, units["LS-X1"]))
        await _on_zalo(s, "z-clerk", (await make_person(s, unit=units["LS-X1"])).id)

    async def say(text: str, user: str = "z-org") -> str:
        return "\n".join(await zalo.say(user, text))

    assert say_refused(await say("tạo khóa học", "z-clerk"))
    assert "bước 1/13" in await say("/newcourse")
    categories = await say("Bồi dưỡng kỹ năng số")
    assert "1. " in categories  # the categories, numbered
    assert "bước 3/13" in await say("ky nang so")  # a choice picked by its label
    await say(f"{future(10)} 07:30")
    # A restart between two answers: the next worker reads the step from the database.
    zalo.bot.dialogs = Dialogs(zalo.db, "zalo")
    assert "bước 5/13" in await say(f"{future(11)} 17:00")
    for answer in ("-", "Hội trường UBND xã", "25", "-", "tất cả"):
        await say(answer)
    grants = await say("8")
    assert "bước 11/13" in grants and "1. Chỉ tính giờ bồi dưỡng" in grants
    assert "bước 13/13" in await say("1")
    preview = await say("2")  # no approval needed
    assert "Bồi dưỡng kỹ năng số" in preview and "Số chỗ: 25" in preview
    assert "Đã tạo khóa học" in await say("1")
    listing = await say("/organize")
    assert "Bồi dưỡng kỹ năng số" in listing
    card = await say("1")
    assert "Đã đăng ký: 0/25" in card and "2. 🔒 Đóng đăng ký" in card
    closed = await say("đóng đăng ký")
    assert "🔒 đã đóng đăng ký" in closed and "2. 🔓 Mở lại đăng ký" in closed
    assert "Chưa có ai đăng ký" in await say("4")  # the export: its list, as Zalo sends no file
    # Half a second course, then /cancel ("hủy") leaves the step.
    await say("/newcourse")
    await say("Lớp bỏ dở")
    assert "chưa tạo khóa học nào" in await say("hủy")
    assert "Không có khóa học nào khớp" in await say("Lớp bỏ dở")  # text is a search again
    async with zalo.db() as s:
        titles = list((await s.execute(select(Course.title))).scalars())
        refused = (await s.execute(select(AuditEntry.action, AuditEntry.actor).where(
            AuditEntry.result == "refused"))).all()  # fmt: skip
    assert titles == ["Bồi dưỡng kỹ năng số"]
    assert refused == [("course_create", "zalo:z-clerk")]


def say_refused(text: str) -> bool:
    return text.startswith("Chỉ cán bộ phụ trách bồi dưỡng")
