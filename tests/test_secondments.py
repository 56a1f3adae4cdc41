"""Secondments and rotations: imported from a file, shown in /status, reviewed on time by the
host unit's head and the home unit's organizer, and ended or extended from the command line."""

from __future__ import annotations

import argparse
import io
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.cli import KINDS
from bot.cli_data import cmd_import, cmd_template
from bot.cli_secondments import cmd_secondments
from bot.offline import OfflineBotAPI
from config.settings import Settings
from domain import report_files, reports
from domain.import_rows import ImportReport, Problem
from domain.secondments import import_secondments
from domain.sheets import write_rows_xlsx
from handlers.report import summary_text
from locales import Translator
from schedules.notifications import plan_all
from storage.models import AuditEntry, ChatAccount, Person, Role, RoleGrant, Secondment, Unit
from tests.factories import ZONE, make_person, make_unit
from tests.harness import Telegram, at, button, buttons, link_account, text_of, user
from tests.zalo_standin import Zalo

NOW = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
TZ = ZoneInfo("Asia/Ho_Chi_Minh")
HEADERS = ["Số CCCD", "Hình thức", "Đơn vị công tác", "Đơn vị đến", "Bộ phận công tác",
           "Lĩnh vực công tác", "Ngày bắt đầu", "Ngày kết thúc dự kiến",
           "Đánh giá sau mỗi (tháng)", "Số quyết định"]  # fmt: skip


def _settings(engine: AsyncEngine) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None, database_url=engine.url.render_as_string(hide_password=False)
    )


@pytest.mark.databases("sqlite")
async def test_every_template_example_imports_after_the_readme_examples(
    db_engine: AsyncEngine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """As the README's "Running for real": each template, written and imported in order."""
    settings = _settings(db_engine)
    for kind in KINDS:
        path = tmp_path / f"{kind}.xlsx"
        assert cmd_template(kind, path, today=datetime.now(settings.tz).date()) == 0
        assert await cmd_import(settings, kind, path, dry_run=False) == 0, kind
        assert " 0 thêm mới (created)" not in capsys.readouterr().out, kind
        assert await cmd_import(settings, kind, path, dry_run=False) == 0, kind
        assert "0 thêm mới (created), 0 cập nhật (updated)" in capsys.readouterr().out, kind


async def _people(db: async_sessionmaker[AsyncSession]) -> None:
    async with db.begin() as s:
        province = await make_unit(s, code="LS", name="Tỉnh Lạng Sơn", kind="province")
        await make_unit(s, code="LS-SNV", name="Sở Nội vụ", kind="agency", parent=province)
        home = await make_unit(s, code="LS-X001", name="Xã Đề Thám", parent=province)
        await make_unit(s, code="LS-X002", name="Xã Hòa Bình", parent=province)
        await make_person(s, personal_id="020085001234", full_name="Hoàng Thị Lan", unit=home)
        await make_person(s, personal_id="020085005678", full_name="Lò Văn Tú", unit=home)


def _row(**over: str) -> list[str]:
    values = dict(zip(HEADERS, ["020085001234", "Luân chuyển", "", "LS-X002", "Văn phòng",
                                "Địa chính", "01/07/2026", "30/06/2027", "3", "12/QĐ-UBND"],
                      strict=True))  # fmt: skip
    values.update({k.replace("_", " "): v for k, v in over.items()})
    return [values[h] for h in HEADERS]


async def _import(
    db: async_sessionmaker[AsyncSession], path: Path, *, dry_run: bool = False
) -> ImportReport:
    async with db.begin() as s:
        return await import_secondments(s, path=path, dry_run=dry_run, now=NOW)


async def _secondments(db: async_sessionmaker[AsyncSession]) -> list[Secondment]:
    async with db() as s:
        return list((await s.execute(select(Secondment).order_by(Secondment.id))).scalars())


async def test_a_bad_row_writes_nothing_and_each_problem_is_named(
    db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    await _people(db)
    rows = [
        _row(),
        _row(**{"Số CCCD": "020085009999"}),
        _row(**{"Hình thức": "Điều động", "Ngày bắt đầu": "03/07/2026"}),
        _row(**{"Số CCCD": "020085005678", "Đánh giá sau mỗi (tháng)": "12"}),
        _row(**{"Số CCCD": "020085005678", "Ngày bắt đầu": "01/08/2026",
                "Ngày kết thúc dự kiến": "01/01/2026"}),
        _row(**{"Đơn vị đến": "LS-X999", "Ngày bắt đầu": "02/07/2026"}),
        _row(),  # the first row again: same person and start
    ]
    path = tmp_path / "bp.xlsx"
    write_rows_xlsx(path, HEADERS, rows, "Dữ liệu")
    report = await _import(db, path)
    assert [(e.row, e.column, e.code) for e in report.errors] == [
        (3, "Số CCCD", Problem.UNKNOWN_PERSON),
        (4, "Hình thức", Problem.UNKNOWN_VALUE),
        (5, "Đánh giá sau mỗi (tháng)", Problem.REVIEW_INTERVAL),
        (6, "Ngày kết thúc dự kiến", Problem.END_BEFORE_START),
        (7, "Đơn vị đến", Problem.UNKNOWN_UNIT),
        (8, "Ngày bắt đầu", Problem.DUPLICATE_IN_FILE),
    ]
    assert await _secondments(db) == []


async def test_reimport_updates_by_person_and_start_with_or_without_diacritics(
    db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    await _people(db)
    path = tmp_path / "bp.xlsx"
    other = _row(**{"Số CCCD": "20085005678", "Hình thức": "biet phai"})  # Excel ate the 0
    write_rows_xlsx(path, HEADERS, [_row(), other], "Dữ liệu")
    report = await _import(db, path)
    assert (report.created, report.updated) == (2, 0)
    changed = _row(**{"Bộ phận công tác": "Phòng Kinh tế", "Ngày kết thúc dự kiến": "31/12/2027"})
    write_rows_xlsx(path, HEADERS, [changed], "Dữ liệu")
    dry = await _import(db, path, dry_run=True)
    assert [(c.key, c.action, c.fields) for c in dry.changes] == [
        ("020085001234 01/07/2026", "updated",
         (("Bộ phận công tác", "Văn phòng", "Phòng Kinh tế"),
          ("Ngày kết thúc dự kiến", "30/06/2027", "31/12/2027"))),
    ]  # fmt: skip
    again = await _import(db, path)
    assert (again.created, again.updated) == (0, 1)
    stored = await _secondments(db)
    assert [(s.kind, s.host_division, s.ends_on, s.review_every_months) for s in stored] == [
        ("rotation", "Phòng Kinh tế", date(2027, 12, 31), 3),
        ("secondment", "Văn phòng", date(2027, 6, 30), 3),
    ]
    assert stored[0].decision_no == "12/QĐ-UBND"


# -- in chat ----------------------------------------------------------------------------------


async def _link(s: AsyncSession, api: OfflineBotAPI, personal_id: str, user_id: int) -> None:
    person = (await s.execute(select(Person).where(Person.personal_id == personal_id))).scalar_one()
    await link_account(s, api, person.id, user_id, lang="vi", first_name="X", linked_at=NOW)


@pytest.mark.databases("sqlite")  # the command line opens its own engine on the file
async def test_the_person_sees_it_and_the_host_head_and_home_organizer_are_reminded(
    chat: Telegram, db_engine: AsyncEngine, tmp_path: Path
) -> None:
    await _people(chat.db)
    path = tmp_path / "bp.xlsx"
    write_rows_xlsx(path, HEADERS, [_row()], "Dữ liệu")
    async with chat.db.begin() as s:
        await import_secondments(s, path=path, dry_run=False, now=NOW)
        host = await make_person(s, full_name="Chủ tịch Hòa Bình", personal_id="020085000001",
                                 unit=await _unit(s, "LS-X002"))  # fmt: skip
        organizer = await make_person(s, full_name="Cán bộ Sở", personal_id="020085000002",
                                      unit=await _unit(s, "LS-SNV"))  # fmt: skip
        s.add(RoleGrant(person_id=host.id, role=Role.UNIT_HEAD, unit_id=host.unit_id))
        s.add(RoleGrant(person_id=organizer.id, role=Role.ORGANIZER,
                        unit_id=await _unit_id(s, "LS")))  # fmt: skip
        for personal_id, user_id in (("020085001234", 301), ("020085000001", 302),
                                     ("020085000002", 303)):  # fmt: skip
            await _link(s, chat.api, personal_id, user_id)

    with time_machine.travel(at("20/09/2026", "10:00"), tick=True):
        status = await chat.reply(user(301), "/status")
        assert "🔄 Luân chuyển đến Xã Hòa Bình, đến ngày 30/06/2027." in status
        assert "Bộ phận: Văn phòng" in status and "Lĩnh vực công tác: Địa chính" in status
        assert "Họp đánh giá tiếp theo: 01/10/2026" in status  # every 3 months from 01/07
        await plan_all(chat.app.bot_data["resources"])
    with time_machine.travel(at("24/09/2026", "08:01"), tick=True):  # a week before
        await chat.drain()
    assert chat.texts(301)[-1] == ("🗓 Cuộc họp đánh giá định kỳ việc luân chuyển của bạn tại "
                                    "Xã Hòa Bình diễn ra ngày 01/10/2026.")  # fmt: skip
    expected = ("🗓 Ngày 01/10/2026 họp đánh giá định kỳ Hoàng Thị Lan, cán bộ luân chuyển đến "
                "Xã Hòa Bình.")  # fmt: skip
    assert chat.texts(302) == [expected]
    assert chat.texts(303) == [expected]

    # The meeting is held; its outcome moves the next review, which is planned afresh.
    settings = _settings(db_engine)
    with time_machine.travel(at("01/10/2026", "15:00"), tick=True):
        args = argparse.Namespace(action="review", personal_id="020085001234", on="01/10/2026",
                                  rating="Hoàn thành tốt", note="Tiến bộ",
                                  next="15/12/2026")  # fmt: skip
        assert await cmd_secondments(settings, args) == 0
        status = await chat.reply(user(301), "/status")
        assert "Họp đánh giá tiếp theo: 15/12/2026" in status
        await plan_all(chat.app.bot_data["resources"])
    with time_machine.travel(at("08/12/2026", "08:01"), tick=True):
        await chat.drain()
    assert chat.texts(302)[-1] == expected.replace("01/10/2026", "15/12/2026")

    # Coming home early ends it: no more reminders, and /status no longer shows it.
    with time_machine.travel(at("20/12/2026", "09:00"), tick=True):
        args = argparse.Namespace(action="end", personal_id="020085001234", on="31/12/2026")
        assert await cmd_secondments(settings, args) == 0
        args = argparse.Namespace(action="extend", personal_id="020085001234", on=None,
                                  until="31/01/2027")  # fmt: skip
        assert await cmd_secondments(settings, args) == 0
    async with chat.db() as s:
        actions = list((await s.execute(
            select(AuditEntry.action).where(AuditEntry.action.like("secondment%"))
            .order_by(AuditEntry.id)
        )).scalars())  # fmt: skip
    assert actions == ["secondments.import", "secondment.review", "secondment.ended",
                       "secondment.extended"]  # fmt: skip
    (sec,) = await _secondments(chat.db)
    assert (sec.ends_on, sec.last_review_rating, sec.last_review_note) == (
        date(2027, 1, 31), "good", "Tiến bộ")  # fmt: skip
    with time_machine.travel(at("01/02/2027", "09:00"), tick=True):
        status = await chat.reply(user(301), "/status")
    assert "🔄" not in status


async def _unit(s: AsyncSession, code: str) -> Unit:
    return (await s.execute(select(Unit).where(Unit.code == code))).scalar_one()


async def _unit_id(s: AsyncSession, code: str) -> int:
    return int((await _unit(s, code)).id)


async def test_the_report_lists_postings_by_host_and_home_unit_with_overdue_reviews(
    db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    await _people(db)
    async with db.begin() as s:
        await make_person(s, personal_id="020085000003", unit=await _unit(s, "LS-SNV"))
    path = tmp_path / "bp.xlsx"
    write_rows_xlsx(path, HEADERS, [
        _row(),  # rotation LS-X001 → LS-X002 from 01/07/2026, review every 3 months: due 01/10
        _row(**{"Số CCCD": "020085005678", "Ngày bắt đầu": "01/11/2026"}),  # due 01/02/2027
        _row(**{"Số CCCD": "020085000003", "Hình thức": "Biệt phái", "Đơn vị đến": "LS-X001",
                "Ngày bắt đầu": "01/01/2026", "Ngày kết thúc dự kiến": "30/06/2026"}),  # ended
    ], "Dữ liệu")  # fmt: skip
    await _import(db, path)
    async with db() as s:
        r = await reports.build(s, roots=[await _unit_id(s, "LS")], year=2026,
                                as_of=date(2026, 12, 7), tz=TZ, hours_target=40)  # fmt: skip
    assert [(p.kind, p.host, p.home, p.people, p.overdue) for p in r.postings] == [
        ("rotation", "Xã Hòa Bình", "Xã Đề Thám", 2, 1)
    ]
    text = summary_text(Translator("vi", TZ), r)
    assert "• Luân chuyển đến Xã Hòa Bình từ Xã Đề Thám: 2; 1 cuộc họp đánh giá quá hạn" in text
    sheet = load_workbook(io.BytesIO(report_files.workbook(r)))["Biệt phái theo đơn vị"]
    assert ["Luân chuyển", "Xã Hòa Bình", "Xã Đề Thám", 2, 1] in [
        [c.value for c in row] for row in sheet.iter_rows()
    ]


@pytest.mark.databases("sqlite")
async def test_the_demo_report_shows_secondments_and_the_plan(
    db: async_sessionmaker[AsyncSession],
) -> None:
    from bot.demo import build_demo

    async with db.begin() as s:
        await build_demo(s, now=NOW, tz=ZONE)
    async with db() as s:
        r = await reports.build(s, roots=None, year=2026, as_of=date(2026, 12, 7), tz=TZ,
                                hours_target=40)  # fmt: skip
    assert sum(row.active for row in r.secondments) == 6
    assert sum(p.people for p in r.postings) == 6
    assert r.training.plan and r.training.plan_share and r.training.plan_share > 100


async def test_an_organizer_records_a_review_in_chat_which_moves_the_next_one(
    chat: Telegram, db_engine: AsyncEngine, tmp_path: Path
) -> None:
    await _people(chat.db)
    path = tmp_path / "bp.xlsx"
    write_rows_xlsx(path, HEADERS, [_row()], "Dữ liệu")
    async with chat.db.begin() as s:
        await import_secondments(s, path=path, dry_run=False, now=NOW)
        organizer = await make_person(s, full_name="Cán bộ Sở", personal_id="020085000002",
                                      unit=await _unit(s, "LS-SNV"))  # fmt: skip
        other = await make_person(s, full_name="Cán bộ khác", personal_id="020085000004",
                                  unit=await _unit(s, "LS-SNV"))  # fmt: skip
        s.add(RoleGrant(person_id=organizer.id, role=Role.ORGANIZER,
                        unit_id=await _unit_id(s, "LS-X002")))  # the host commune  # fmt: skip
        s.add(RoleGrant(person_id=other.id, role=Role.ORGANIZER,
                        unit_id=await _unit_id(s, "LS-SNV")))  # fmt: skip
        await _link(s, chat.api, "020085000002", 401)
        await _link(s, chat.api, "020085000004", 402)
        await _link(s, chat.api, "020085001234", 403)

    with time_machine.travel(at("05/10/2026", "09:00"), tick=True):
        assert (await chat.reply(user(402), "/reviews")) == (
            "Đơn vị của bạn không có cán bộ đang biệt phái, luân chuyển.")  # fmt: skip
        assert (await chat.reply(user(403), "/reviews")) != ""  # not an organizer: refused
        assert buttons(chat.api.last_message(403)) == []
        await chat.reply(user(401), "/reviews")
        ((label, data),) = buttons(chat.api.last_message(401))
        assert label == "❗ 01/10/2026 · Hoàng Thị Lan · Xã Hòa Bình"  # due 01/10: overdue
        assert text_of(await chat.press(user(401), data)) == "Kết quả đánh giá?"
        good = button(chat.api.last_message(401), "Hoàn thành tốt nhiệm vụ")
        assert text_of(await chat.press(user(401), good)) == (
            "Ghi kết luận của cuộc họp trong một tin nhắn, hoặc gửi /skip để bỏ qua.")  # fmt: skip
        assert await chat.reply(user(401), "Hoàn thành tốt, cần tăng cường tiếp dân") == (
            "✅ Đã ghi kết quả đánh giá. Họp đánh giá tiếp theo: 05/01/2027")  # fmt: skip
        assert "Họp đánh giá tiếp theo: 05/01/2027" in await chat.reply(user(403), "/status")
        await chat.reply(user(401), "/reviews")
        assert buttons(chat.api.last_message(401))[0][0].startswith("🗓 05/01/2027 ·")
    (sec,) = await _secondments(chat.db)
    assert (sec.last_review_on, sec.last_review_rating, sec.last_review_note) == (
        date(2026, 10, 5), "good", "Hoàn thành tốt, cần tăng cường tiếp dân")  # fmt: skip


def test_the_next_review_follows_the_recorded_date_then_the_interval_again() -> None:
    from domain.reminders import next_review

    sec = Secondment(starts_on=date(2026, 7, 1), ends_on=date(2027, 6, 30),
                     review_every_months=3)  # fmt: skip
    assert next_review(sec, date(2026, 9, 20)) == date(2026, 10, 1)
    sec.last_review_on, sec.next_review_on = date(2026, 10, 5), date(2026, 12, 15)
    assert next_review(sec, date(2026, 10, 6)) == date(2026, 12, 15)
    # The 15/12 meeting went unrecorded: the next one is counted from the last recorded.
    assert next_review(sec, date(2026, 12, 16)) == date(2027, 1, 5)
    assert next_review(sec, date(2027, 4, 6)) is None  # 05/07/2027 is after the end


async def test_an_organizer_on_zalo_records_a_review_without_conclusions_once(
    zalo: Zalo, tmp_path: Path
) -> None:
    """The same flow on Zalo: numbered meetings and ratings, and a choice to record the meeting
    without conclusions (Zalo has no /skip), which a second pick cannot record again."""
    await _people(zalo.db)
    path = tmp_path / "bp.xlsx"
    write_rows_xlsx(path, HEADERS, [_row()], "Dữ liệu")
    async with zalo.db.begin() as s:
        await import_secondments(s, path=path, dry_run=False, now=NOW)
        organizer = await make_person(s, full_name="Cán bộ Sở", unit=await _unit(s, "LS-SNV"))
        s.add(RoleGrant(person_id=organizer.id, role=Role.ORGANIZER,
                        unit_id=await _unit_id(s, "LS-X002")))  # fmt: skip
        s.add(ChatAccount(channel="zalo", chat_user_id="z-org", chat_id="z-org",
                          person_id=organizer.id, language="vi", linked_at=NOW))  # fmt: skip
    with time_machine.travel(at("05/10/2026", "09:00"), tick=True):
        listed = (await zalo.say("z-org", "họp đánh giá"))[0]
        assert "1. ❗ 01/10/2026 · Hoàng Thị Lan · Xã Hòa Bình" in listed
        asked = (await zalo.say("z-org", "1"))[0]
        assert asked.startswith("Kết quả đánh giá?")
        good = next(line for line in asked.splitlines() if "Hoàn thành tốt nhiệm vụ" in line)
        asked = (await zalo.say("z-org", good.split(".", 1)[0]))[0]
        assert asked.startswith("Ghi kết luận của cuộc họp trong một tin nhắn")
        assert "1. Ghi kết quả, không kèm kết luận" in asked
        (without,) = (await zalo.dialog("z-org")).choices
        assert await zalo.say("z-org", "1") == [
            "✅ Đã ghi kết quả đánh giá. Họp đánh giá tiếp theo: 05/01/2027"]  # fmt: skip
        await zalo.offer("z-org", [without])  # the same choice again, once it was answered
        assert await zalo.say("z-org", "1") == [
            "Kết quả đánh giá này không còn chờ ghi kết luận. Gửi /reviews để ghi kết quả một "
            "cuộc họp."]  # fmt: skip
    (sec,) = await _secondments(zalo.db)
    assert (sec.last_review_on, sec.last_review_rating, sec.last_review_note) == (
        date(2026, 10, 5), "good", None)  # fmt: skip
    async with zalo.db() as s:
        recorded = (await s.execute(select(AuditEntry.result).filter_by(
            action="secondment.review"))).scalars().all()  # fmt: skip
    assert len(recorded) == 1
