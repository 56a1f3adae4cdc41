"""Attendance to completion to status: sessions marked by the organizer, by check-in code or
by an uploaded sheet; finishing the course records the training, grants the qualification,
and /status turns from missing to met. Organizers act only on their units' courses."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from openpyxl import Workbook
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from domain import attendance as att
from domain import completion
from domain.attendance import CheckinStatus
from domain.errors import DomainError, Refusal
from domain.standards import State, status_of
from storage.models import (
    Attendance,
    AuditEntry,
    ChatAccount,
    Course,
    Notification,
    Qualification,
    Registration,
    RegistrationStatus,
    TrainingRecord,
)
from tests.factories import make_person
from tests.fixtures_attendance import AFTER, BEFORE, SESSIONS, TZ, Course5, course5, mark
from tests.harness import Telegram, buttons, running, settings
from tests.zalo_standin import Zalo

RULE = "leader-political-theory"
# Telegram does not run conversation timeouts without a running JobQueue, as in these tests.
pytestmark = pytest.mark.filterwarnings("ignore:Ignoring `conversation_timeout`")


async def rule_state(db: async_sessionmaker[AsyncSession], person_id: int, now: datetime) -> State:
    async with db() as s:
        statuses = await status_of(
            s, person_id=person_id, now=now, today=now.astimezone(TZ).date(), hours_target=40
        )
    return next(x.state for x in statuses if x.rule.code == RULE)


# -- the domain, on both databases ----------------------------------------------------------------


async def test_attendance_then_finishing_completes_records_grants_and_changes_status(
    db: async_sessionmaker[AsyncSession],
) -> None:
    c = await course5(db)
    assert await rule_state(db, c.people["An"], BEFORE) == State.IN_PROGRESS
    await mark(db, c, "An", range(4))  # 4 of 5 = 80 %: enough
    await mark(db, c, "Binh", range(1))  # came once
    assert await rule_state(db, c.people["An"], AFTER) == State.MISSING  # ended, not completed

    async with db.begin() as s:
        report = await completion.finish(
            s, actor_id=c.organizer, course_id=c.course_id, now=AFTER, min_share=0.8, tz=TZ
        )
    assert (report.completed, report.attended, report.no_show) == (1, 1, 2)
    assert await rule_state(db, c.people["An"], AFTER) == State.MET
    assert await rule_state(db, c.people["Binh"], AFTER) == State.MISSING
    async with db() as s:
        statuses = {
            r.person_id: r.status for r in (await s.execute(select(Registration))).scalars()
        }
        record = (await s.execute(select(TrainingRecord))).scalar_one()
        qual = (await s.execute(select(Qualification))).scalar_one()
        notes = list((await s.execute(select(Notification.kind, Notification.person_id))).all())
        course = await s.get(Course, c.course_id)
    assert statuses[c.people["An"]] == RegistrationStatus.COMPLETED
    assert statuses[c.people["Binh"]] == RegistrationStatus.ATTENDED
    assert statuses[c.people["Chi"]] == statuses[c.people["Dung"]] == RegistrationStatus.NO_SHOW
    assert (record.person_id, record.hours, record.certificate_no) == (
        c.people["An"],
        40,
        f"{c.code}-001",
    )
    assert (record.starts_on.isoformat(), record.ends_on.isoformat()) == (
        "2026-12-01",
        "2026-12-05",
    )
    assert (qual.person_id, qual.kind, qual.level, qual.source) == (
        c.people["An"],
        "political_theory",
        "trung_cap",
        "course",
    )
    assert ("course_completed", c.people["An"]) in notes
    assert course is not None and course.status == "finished"

    # A late correction, then finishing again: Binh now completes, An keeps one record.
    await mark(db, c, "Binh", range(1, 4))
    async with db.begin() as s:
        again = await completion.finish(
            s, actor_id=c.organizer, course_id=c.course_id, now=AFTER, min_share=0.8, tz=TZ
        )
    assert (again.completed, again.kept, again.no_show) == (1, 1, 2)
    async with db() as s:
        certs = sorted((await s.execute(select(TrainingRecord.certificate_no))).scalars())
    assert certs == [f"{c.code}-001", f"{c.code}-002"]


async def test_no_shows_are_visible_to_the_unit_head_of_their_unit_only(
    db: async_sessionmaker[AsyncSession],
) -> None:
    c = await course5(db)
    async with db.begin() as s:
        await completion.finish(
            s, actor_id=c.organizer, course_id=c.course_id, now=AFTER, min_share=0.8, tz=TZ
        )
    async with db() as s:
        seen = [p.full_name for p, _c in await completion.no_shows(s, actor_id=c.head)]
        with pytest.raises(DomainError):
            await completion.no_shows(s, actor_id=c.people["An"])
    assert sorted(seen) == ["Nguyễn Văn An", "Nguyễn Văn Binh", "Nguyễn Văn Chi"]  # not Dung (B)


async def test_an_organizer_of_another_unit_cannot_mark_or_finish(
    db: async_sessionmaker[AsyncSession],
) -> None:
    c = await course5(db)
    async with db() as s:
        with pytest.raises(DomainError) as refused:
            await att.toggle(
                s,
                actor_id=c.outsider,
                course_id=c.course_id,
                registration_id=c.regs["An"],
                session_no=0,
                now=AFTER,
            )
        assert refused.value.code == Refusal.FORBIDDEN
        with pytest.raises(DomainError):
            await completion.finish(
                s, actor_id=c.outsider, course_id=c.course_id, now=AFTER, min_share=0.8, tz=TZ
            )
        assert await att.courses_for(s, actor_id=c.outsider, now=AFTER) == []
        assert [x.id for x in await att.courses_for(s, actor_id=c.organizer, now=AFTER)] == [
            c.course_id
        ]


async def test_finishing_before_the_last_session_starts_changes_nothing(
    db: async_sessionmaker[AsyncSession],
) -> None:
    c = await course5(db)
    async with db.begin() as s:
        report = await completion.finish(
            s,
            actor_id=c.organizer,
            course_id=c.course_id,
            now=SESSIONS[3][1],
            min_share=0.8,
            tz=TZ,
        )
    assert report.not_before == SESSIONS[4][0]
    async with db() as s:
        assert (await s.execute(select(TrainingRecord))).first() is None


async def test_a_checkin_code_works_in_its_session_window_for_participants_only(
    db: async_sessionmaker[AsyncSession],
) -> None:
    c = await course5(db)
    async with db.begin() as s:
        outsider = (await make_person(s, full_name="Người ngoài")).id
        code = await att.new_checkin_code(
            s, actor_id=c.organizer, course_id=c.course_id, session_no=2, now=BEFORE
        )
        stored = (await s.execute(select(att.CheckinCode.code_hash))).scalar_one()
    assert code.code not in stored and len(code.code) == att.CHECKIN_CODE_LENGTH
    start, end = SESSIONS[2]

    async def check(pid: int, text: str, now: datetime) -> CheckinStatus:
        async with db.begin() as s:
            return (await att.checkin(s, person_id=pid, code=text, now=now)).status

    an = c.people["An"]
    assert await check(an, code.code, start - timedelta(hours=1)) == CheckinStatus.NOT_YET
    assert await check(an, "WRONG1", start) == CheckinStatus.BAD_CODE
    assert await check(outsider, code.code, start) == CheckinStatus.NOT_REGISTERED
    assert await check(an, code.code.lower(), start + timedelta(minutes=5)) == (
        CheckinStatus.CHECKED_IN
    )
    assert await check(an, code.code, start + timedelta(minutes=6)) == CheckinStatus.ALREADY
    assert await check(c.people["Binh"], code.code, end + timedelta(hours=1)) == (
        CheckinStatus.EXPIRED
    )
    async with db() as s:
        row = (await s.execute(select(Attendance))).scalar_one()
    assert (row.registration_id, row.session_no, row.present, row.source) == (
        c.regs["An"],
        2,
        True,
        "checkin",
    )
    async with db.begin() as s:  # a session that is over gets no new code
        with pytest.raises(DomainError):
            await att.new_checkin_code(
                s, actor_id=c.organizer, course_id=c.course_id, session_no=0, now=AFTER
            )


def write_xlsx(path: Path, rows: list[list[Any]]) -> Path:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    for row in rows:
        ws.append(row)
    wb.save(path)
    return path


async def personal_ids(db: async_sessionmaker[AsyncSession], c: Course5) -> dict[str, str]:
    async with db() as s:
        sheet = await att.sheet(s, actor_id=c.organizer, course_id=c.course_id)
    return {p.name.split()[-1]: p.personal_id for p in sheet.participants}


async def test_an_uploaded_sheet_is_all_or_nothing_with_every_bad_row_listed(
    db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    c = await course5(db)
    ids = await personal_ids(db, c)
    header = ["STT", "Số CCCD", "Họ và tên", "Buổi 1", "Buổi 2", "Buổi 3", "Buổi 4", "Buổi 5"]
    bad = write_xlsx(
        tmp_path / "bad.xlsx",
        [
            header,
            [1, ids["An"], "An", "x", "x", "x", "x", ""],
            [2, "123", "Sai", "x", "", "", "", ""],
            [3, "020999999999", "Lạ", "x", "", "", "", ""],
            [4, ids["Binh"], "Binh", "có", "?", "", "", ""],
            [5, ids["An"], "An lần hai", "", "", "", "", ""],
        ],
    )
    async with db.begin() as s:
        report = await att.upload(
            s, actor_id=c.organizer, course_id=c.course_id, path=bad, now=AFTER, tz=TZ
        )
    assert [(e.row, e.code) for e in report.errors] == [
        (3, "bad_personal_id"),
        (4, "not_registered"),
        (5, "bad_mark"),
        (6, "duplicate_in_file"),
    ]
    async with db() as s:
        assert (await s.execute(select(Attendance))).first() is None

    good = write_xlsx(
        tmp_path / "good.xlsx",
        [
            header,
            [1, ids["An"], "An", "x", "X", "1", "có", ""],
            [2, ids["Binh"], "Binh", "x", "vắng", "0", "", "không"],
        ],
    )
    async with db.begin() as s:
        report = await att.upload(
            s, actor_id=c.organizer, course_id=c.course_id, path=good, now=AFTER, tz=TZ
        )
    assert report.ok and (report.rows, report.marks) == (2, 10)
    async with db() as s:
        sheet = await att.sheet(s, actor_id=c.organizer, course_id=c.course_id)
        audit = (await s.execute(select(AuditEntry.action))).scalars().all()
    present = {p.name.split()[-1]: sorted(p.present) for p in sheet.participants}
    assert present == {"An": [0, 1, 2, 3], "Binh": [0], "Chi": [], "Dung": []}
    assert "attendance_upload" in audit


async def test_the_organizer_marks_one_person_complete_with_a_certificate_number(
    db: async_sessionmaker[AsyncSession],
) -> None:
    c = await course5(db)
    ids = await personal_ids(db, c)
    async with db.begin() as s:
        done = await completion.complete_one(
            s,
            actor_id=c.organizer,
            course_code=c.code,
            personal_id=ids["Chi"],
            certificate_no="LLCT-2026/117",
            now=AFTER,
            tz=TZ,
        )
    assert (done.certificate_no, done.already) == ("LLCT-2026/117", False)
    assert await rule_state(db, c.people["Chi"], AFTER) == State.MET
    async with db() as s:
        with pytest.raises(DomainError) as missing:
            await completion.complete_one(
                s,
                actor_id=c.organizer,
                course_code="NOPE",
                personal_id=ids["Chi"],
                certificate_no=None,
                now=AFTER,
                tz=TZ,
            )
    assert missing.value.details == {"what": "course"}


# -- in chat -------------------------------------------------------------------------------------


def status_line(text: str) -> str:
    return next(line for line in text.splitlines() if "Lý luận chính trị trung cấp" in line)


@pytest.mark.databases("sqlite")
async def test_in_chat_participants_are_checked_in_completed_and_their_status_changes(
    chat: Telegram,
) -> None:
    c = await course5(chat.db, participants=10)  # 14 participants: two pages
    org = await chat.link(c.organizer, 900, "en")
    an = await chat.link(c.people["An"], 901, "vi")
    binh = await chat.link(c.people["Binh"], 902, "vi")
    with time_machine.travel(SESSIONS[0][0] + timedelta(minutes=10), tick=True):
        listing = await chat.say(org, "/attendance")
        screen = await chat.press(org, f"at:{c.course_id}", message=listing)
        assert "Session 1 · 01/12/2026 07:30 · present 0 of 14" in screen["text"]
        page = await chat.choose(org, screen, "🗓 1")
        assert "Page 1 of 2" in page["text"]
        names = [label for label, _d in buttons(page) if label.startswith("⬜")]
        assert len(names) == att_page() and names[0] == "⬜ Nguyễn Văn An"
        page2 = await chat.choose(org, page, "▶️")
        assert "Page 2 of 2" in page2["text"]
        page = await chat.choose(org, page2, "◀️")
        page = await chat.choose(org, page, "Nguyễn Văn An")
        assert "✅ Nguyễn Văn An" in [label for label, _d in buttons(page)]
        assert "Present: 1 of 14" in page["text"]

        shown = await chat.choose(org, page, "Check-in code")
        code = re.search(r"/checkin (\w+)", shown["text"])
        assert code is not None
        assert (await chat.say(binh, f"/checkin {code[1]}"))["text"] == (
            "✅ Đã điểm danh: Trung cấp lý luận chính trị, buổi 1."
        )
        assert "không hợp lệ" in (await chat.say(binh, "/checkin ZZZZZZ"))["text"]
    await mark(chat.db, c, "An", range(1, 4))

    with time_machine.travel(AFTER, tick=True):
        assert status_line((await chat.say(an, "/status"))["text"]).startswith("⚠️")
        screen = await chat.press(
            org, f"at:{c.course_id}", message=await chat.say(org, "/attendance")
        )
        assert "Session 1 · 01/12/2026 07:30 · present 2 of 14" in screen["text"]
        ask = await chat.choose(org, screen, "Finish")
        assert "present at 80% of the sessions completes it" in ask["text"]
        done = await chat.choose(org, ask, "Yes, finish")
        assert done["text"] == (
            "🏁 Trung cấp lý luận chính trị is finished: 1 completed, 1 attended too few "
            "sessions, 12 no-shows."
        )
        assert await chat.drain() == 1
        told = chat.api.last_message(901)["text"]
        assert told.startswith("🎓 Bạn đã hoàn thành Trung cấp lý luận chính trị")
        assert f"{c.code}-001" in told
        assert status_line((await chat.say(an, "/status"))["text"]).startswith("✅")
    async with chat.db() as s:
        actions = (await s.execute(select(AuditEntry.action))).scalars().all()
    assert {"attendance", "checkin_code", "course_finish"} <= set(actions)


def att_page() -> int:
    from handlers.attendance import PAGE

    return PAGE


@pytest.mark.databases("sqlite")
async def test_in_chat_the_sheet_goes_out_and_comes_back_all_or_nothing(
    chat: Telegram, tmp_path: Path
) -> None:
    c = await course5(chat.db)
    org = await chat.link(c.organizer, 910, "en")
    with time_machine.travel(AFTER, tick=True):
        screen = await chat.press(
            org, f"at:{c.course_id}", message=await chat.say(org, "/attendance")
        )
        sent = await chat.choose(org, screen, "Sheet")
        assert sent["document"]["file_name"] == f"diem-danh-{c.code}.xlsx"
        blank = tmp_path / "blank.xlsx"
        blank.write_bytes(chat.api.file_content(sent["document"]["file_id"]))
        from openpyxl import load_workbook

        ws = load_workbook(blank).active
        assert ws is not None
        grid = [[cell.value for cell in row] for row in ws.iter_rows()]
        assert grid[0][:3] == ["Số CCCD", "Họ và tên", "Buổi 1 01/12 07:30"]
        assert len(grid) == 5
        for row in grid[1:]:
            row[2:] = (
                ["x", "x", "x", "x", ""] if row[1] == "Nguyễn Văn An" else ["", "", "", "", "?"]
            )
        asked = await chat.choose(org, screen, "Upload")
        assert asked["text"].startswith("Send the filled attendance sheet")
        bad = write_xlsx(tmp_path / "bad.xlsx", grid)
        answer = await chat.send_file(org, "bad.xlsx", bad.read_bytes())
        assert answer["text"].startswith("❌ Nothing was saved: 3 problems.")
        assert (
            "Row 3, Buổi 5 05/12 07:30: write x for present, leave blank for absent (“?”)"
            in (answer["text"])
        )
        for row in grid[1:]:
            row[6] = ""
        good = write_xlsx(tmp_path / "good.xlsx", grid)
        answer = await chat.send_file(org, "good.xlsx", good.read_bytes())
        assert answer["text"] == "✅ Attendance saved: 20 marks from 4 rows."
        # Outside the conversation a sheet is not taken as attendance.
        after = await chat.send_file(org, "again.xlsx", good.read_bytes())
        assert "Attendance saved" not in after["text"]


@pytest.mark.databases("sqlite")
async def test_in_chat_only_organizers_of_the_unit_see_its_courses_and_heads_see_no_shows(
    chat: Telegram,
) -> None:
    c = await course5(chat.db)
    outsider = await chat.link(c.outsider, 920, "en")
    head = await chat.link(c.head, 921, "en")
    an = await chat.link(c.people["An"], 922, "en")
    with time_machine.travel(AFTER, tick=True):
        assert (await chat.say(outsider, "/attendance"))["text"] == (
            "No running or recent courses of your units."
        )
        assert (await chat.say(an, "/attendance"))["text"].startswith("Only organizers can")
        assert (await chat.say(head, "/noshows"))["text"] == "No no-shows recorded in your units."
        async with chat.db.begin() as s:
            await completion.finish(
                s, actor_id=c.organizer, course_id=c.course_id, now=AFTER, min_share=0.8, tz=TZ
            )
        shown = (await chat.say(head, "/noshows"))["text"]
        assert "Nguyễn Văn Chi" in shown and "Nguyễn Văn Dung" not in shown
    async with chat.db() as s:
        refused = (
            await s.execute(select(AuditEntry).where(AuditEntry.result == "refused"))
        ).scalar_one()
    assert refused.action == "attendance"


@pytest.mark.databases("sqlite")
async def test_a_sheet_asked_for_before_a_restart_is_taken_after_it(
    chat: Telegram, db_engine: AsyncEngine, db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    c = await course5(chat.db)
    org = await chat.link(c.organizer, 930, "en")
    ids = await personal_ids(chat.db, c)
    header = ["Số CCCD", "Họ và tên", "Buổi 1", "Buổi 2", "Buổi 3", "Buổi 4", "Buổi 5"]
    good = write_xlsx(tmp_path / "good.xlsx", [header, [ids["An"], "An", "x", "", "", "", ""]])
    asked = "Send the filled attendance sheet (.xlsx), or /cancel."
    with time_machine.travel(AFTER, tick=True):
        screen = await chat.press(
            org, f"at:{c.course_id}", message=await chat.say(org, "/attendance")
        )
        assert (await chat.choose(org, screen, "Upload"))["text"] == asked
        # Text is no sheet: the sheet is still awaited.
        assert (await chat.say(org, "hello"))["text"] == asked
        # Another process (or the same one restarted) takes the next update.
        async with running(settings(), db_engine, db) as again:
            answer = await again.send_file(org, "good.xlsx", good.read_bytes())
            assert answer["text"] == "✅ Attendance saved: 5 marks from 1 rows."
            screen = await again.press(
                org, f"at:{c.course_id}", message=await again.say(org, "/attendance")
            )
            await again.choose(org, screen, "Upload")
            assert (await again.say(org, "/cancel"))["text"] == "Cancelled."
            after = await again.send_file(org, "good.xlsx", good.read_bytes())
            assert "Attendance saved" not in after["text"]


def numbered(message: str, label: str) -> str:
    """The number of the choice labelled `label` (its start) in a Zalo message."""
    found = [
        line.split(". ", 1)[0]
        for line in message.splitlines()
        if re.match(r"\d+\. ", line) and line.split(". ", 1)[1].startswith(label)
    ]
    assert len(found) == 1, f"no single choice {label!r} in {message!r}"
    return found[0]


@pytest.mark.databases("sqlite")
async def test_on_zalo_the_organizer_marks_a_session_shows_its_code_and_finishes(
    zalo: Zalo,
) -> None:
    c = await course5(zalo.db)
    async with zalo.db.begin() as s:
        s.add(ChatAccount(channel="zalo", chat_user_id="o1", chat_id="o1", language="en",
                          person_id=c.organizer, linked_at=BEFORE))  # fmt: skip
    with time_machine.travel(SESSIONS[0][0] + timedelta(minutes=10), tick=False):
        listing = (await zalo.say("o1", "/attendance"))[-1]
        screen = (await zalo.say("o1", numbered(listing, "01/12/2026")))[-1]
        assert "Session 1 · 01/12/2026 07:30 · present 0 of 4" in screen
        # No file goes through Zalo: no sheet to fill in, no upload; sessions are marked here.
        assert "Sheet" not in screen and "Upload" not in screen
        assert "are on Telegram; here, mark each session from its list" in screen
        page = (await zalo.say("o1", numbered(screen, "🗓 1")))[-1]
        page = (await zalo.say("o1", numbered(page, "⬜ Nguyễn Văn An")))[-1]
        assert "Present: 1 of 4" in page and "✅ Nguyễn Văn An" in page
        shown = (await zalo.say("o1", numbered(page, "🔑 Check-in code")))[-1]
        code = re.search(r"điểm danh (\w+)", shown)
        assert code is not None and f"/checkin {code[1]}" in shown
    async with zalo.db() as s:
        present = (await s.execute(select(Attendance.registration_id))).scalars().all()
    assert present == [c.regs["An"]]
    with time_machine.travel(AFTER, tick=False):
        screen = (await zalo.say("o1", "sổ điểm danh"))[-1]
        screen = (await zalo.say("o1", numbered(screen, "01/12/2026")))[-1]
        ask = (await zalo.say("o1", numbered(screen, "🏁 Finish")))[-1]
        done = (await zalo.say("o1", numbered(ask, "🏁 Yes, finish")))[0]
        assert done == (
            "🏁 Trung cấp lý luận chính trị is finished: 0 completed, 1 attended too few "
            "sessions, 3 no-shows."
        )
        # Someone who may not: refused, in so many words.
        async with zalo.db.begin() as s:
            s.add(ChatAccount(channel="zalo", chat_user_id="a1", chat_id="a1", language="en",
                              person_id=c.people["An"], linked_at=BEFORE))  # fmt: skip
        assert (await zalo.say("a1", "/attendance"))[0].startswith("Only organizers can")
        assert (await zalo.say("a1", "báo cáo"))[0].startswith("Only organizers can")


@pytest.mark.databases("sqlite")
async def test_on_zalo_the_report_is_its_summary_and_where_to_get_the_files(zalo: Zalo) -> None:
    c = await course5(zalo.db)
    async with zalo.db.begin() as s:
        s.add(ChatAccount(channel="zalo", chat_user_id="o2", chat_id="o2", language="vi",
                          person_id=c.organizer, linked_at=BEFORE))  # fmt: skip
    with time_machine.travel(AFTER, tick=False):
        summary, files = await zalo.say("o2", "báo cáo 2026")
        assert summary.startswith("📊 Báo cáo đào tạo, bồi dưỡng năm 2026")
        assert "/report trên Telegram" in files and "boiduong report" in files
        usage = await zalo.say("o2", "/report năm-ngoái")
    assert usage == ["Cách dùng: /report [NĂM], ví dụ /report 2026"]
