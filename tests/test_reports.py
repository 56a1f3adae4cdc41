"""Reports: figures checked against a hand-computed fixture and against the seed figures
(Lạng Sơn from the demo database, Đại Từ from a seed-shaped fixture); the chat summary, the
XLSX workbook, the PNG chart and `boiduong report` agree."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import time_machine
from openpyxl import load_workbook
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.cli_report import cmd_report
from bot.demo import build_demo
from bot.offline import OfflineBotAPI
from config.settings import Settings
from domain import report_files, reports, roles
from domain.audience import applies
from domain.errors import DomainError
from domain.standards import holds
from handlers.report import summary_text
from locales import Translator
from storage.models import (
    AuditEntry,
    Person,
    Qualification,
    Role,
    StandardRule,
    TrainingRecord,
    Unit,
)
from tests.factories import ZONE, make_person
from tests.fixtures_reports import AS_OF, TZ, local
from tests.fixtures_reports import build_report as _report
from tests.fixtures_reports import dai_tu as _dai_tu
from tests.fixtures_reports import small as _small
from tests.harness import Telegram, link_account

VI, EN = Translator("vi", TZ), Translator("en", TZ)


# -- a fixture small enough to count by hand ------------------------------------------------------


async def test_report_matches_a_hand_computed_fixture(db: async_sessionmaker[AsyncSession]) -> None:
    async with db.begin() as s:
        small = await _small(s)
        r = await _report(s, [small.district])
        everywhere = await _report(s, None)

    assert r.scope == ("Huyện Định",)
    assert r.people == 6  # the inactive one and the one in C3 are not counted
    # By unit code, then position in seed order (chairperson before culture), no position last.
    assert [(h.unit_code, h.position, h.count) for h in r.headcount] == [
        ("D-C1", "pho_chu_tich_ubnd", 1), ("D-C1", "cc_van_hoa_xa_hoi", 2),
        ("D-C2", "chu_tich_ubnd", 1), ("D-C2", "cc_van_hoa_xa_hoi", 1), ("D-C2", None, 1),
    ]  # fmt: skip

    edu = r.education
    # Levels, highest first: tiến sĩ, thạc sĩ, đại học, cao đẳng, trung cấp, sơ cấp.
    culture = edu.position("cc_van_hoa_xa_hoi")
    assert (culture.total, culture.counts, culture.none, culture.at_least) == (
        3, (0, 1, 1, 1, 0, 0), 0, 2)  # fmt: skip
    assert culture.share == Decimal("66.7")
    assert (edu.position("chu_tich_ubnd").at_least, edu.position("pho_chu_tich_ubnd").none) == (
        1,
        1,
    )
    assert (edu.position("").total, edu.position("").none) == (1, 1)  # no position
    assert [(g.group, g.total, g.at_least) for g in edu.groups] == [
        ("leader", 2, 1), ("civil_servant", 3, 2), (None, 1, 0)]  # fmt: skip
    assert (edu.total.total, edu.total.at_least, edu.total.share) == (6, 3, Decimal("50.0"))

    pt = r.political
    # cao cấp and cử nhân share a rank, so a column: cao cấp/cử nhân, trung cấp, sơ cấp.
    assert [lv.codes for lv in pt.levels] == [("cao_cap", "cu_nhan"), ("trung_cap",), ("so_cap",)]
    assert pt.position("chu_tich_ubnd").counts == (1, 0, 0)
    assert (pt.position("cc_van_hoa_xa_hoi").counts, pt.position("cc_van_hoa_xa_hoi").none) == (
        (0, 1, 1), 1)  # fmt: skip
    assert (pt.total.at_least, pt.total.total, pt.total.share) == (2, 6, Decimal("33.3"))

    holdings = {(h.group, h.position): h.counts for h in r.holdings}
    it = reports.HOLDING_KINDS.index("it")
    assert holdings[("civil_servant", "cc_van_hoa_xa_hoi")][it] == 1
    assert holdings[(None, "")][it] == 1
    assert holdings[("", None)][it] == 2

    rows = {s.code: s for s in r.standards}
    assert [(k, v.applicable, v.met, v.within, v.past, v.open) for k, v in rows.items()] == [
        ("r-culture", 3, 1, 2, 0, 0),  # only A: B's master is in law, C has no degree
        ("r-theory", 2, 1, 0, 1, 0),  # D's cử nhân counts as cao cấp; E is past 01/01/2020
        ("r-hours", 6, 2, 4, 0, 0),  # A 16 h, D 24 h this year; B's 16 h were last year
        ("r-it", 3, 1, 0, 0, 2),  # C2 only: C, D, H; H holds IT
    ]
    assert rows["r-hours"].deadline == date(2025, 12, 31)
    assert rows["r-culture"].share == Decimal("33.3")

    t = r.training
    # K1 (C's, A's completions, B's no-show; G is outside, E cancelled) and K4 (31/12 23:00
    # local: this year; D registered, H attended, E only waitlisted). K2 starts 01/01/2026
    # local, K3 was cancelled.
    assert [(c.category, c.courses, c.enrolled, c.attended, c.completed, c.no_show, c.hours)
            for c in t.categories] == [
        ("culture", 1, 3, 0, 2, 1, 32), ("state_management", 1, 2, 1, 0, 0, 0)]  # fmt: skip
    assert (t.total.courses, t.total.enrolled, t.total.completed, t.total.no_show) == (2, 5, 2, 1)
    assert (t.total.completion_rate, t.total.no_show_rate) == (Decimal("40.0"), Decimal("20.0"))
    assert (t.participations, t.people_trained, t.hours) == (4, 3, 48)
    assert (t.plan, t.plan_share) == (5, Decimal("80.0"))

    assert [(x.kind, x.active, x.started, x.ended) for x in r.secondments] == [
        ("secondment", 2, 1, 1),  # B (ended 31/03), G (into C2 from outside, started 01/05)
        ("rotation", 1, 1, 0),
    ]

    # Everywhere: G and C3 count; the plan is the one without a unit (none here).
    assert everywhere.people == 7 and everywhere.scope == ()
    assert everywhere.education.position("cc_van_hoa_xa_hoi").at_least == 3
    assert everywhere.training.total.enrolled == 6 and everywhere.training.plan is None
    assert everywhere.training.participations == 5
    # 2024: only B's 16 hours against that year's plan; the secondments under way then.
    async with db() as s:
        before = await _report(s, [small.district], year=2024)
    t = before.training
    assert (t.participations, t.hours, t.plan, t.plan_share) == (1, 16, 7, Decimal("14.3"))
    assert [(x.kind, x.active, x.started, x.ended) for x in before.secondments] == [
        ("secondment", 2, 1, 1), ("rotation", 0, 0, 0)]  # fmt: skip


# -- the seed figures ---------------------------------------------------------------------------


async def test_dai_tu_reproduces_the_seed_figures(db: async_sessionmaker[AsyncSession]) -> None:
    async with db.begin() as s:
        district = await _dai_tu(s)
        r = await _report(s, [district])
    assert r.scope == ("Huyện Đại Từ",)
    assert r.people == 255 + 144 + 138
    civil_edu, civil_pt = r.education.group("civil_servant"), r.political.group("civil_servant")
    assert (civil_edu.at_least, civil_edu.total, civil_edu.share) == (209, 255, Decimal("82.0"))
    assert (civil_pt.at_least, civil_pt.total, civil_pt.share) == (163, 255, Decimal("63.9"))
    heads_pt, heads_edu = r.political.group("mass_org"), r.education.group("mass_org")
    assert (heads_pt.at_least, heads_pt.total, heads_pt.share) == (144, 144, Decimal("100.0"))
    assert (heads_edu.at_least, heads_edu.total, heads_edu.share) == (132, 144, Decimal("91.7"))
    dep_pt, dep_edu = r.political.position("pho_doan_the"), r.education.position("pho_doan_the")
    assert (dep_pt.at_least, dep_pt.total, dep_pt.share) == (88, 138, Decimal("63.8"))
    assert (dep_edu.at_least, dep_edu.total, dep_edu.share) == (96, 138, Decimal("69.6"))
    # The seeded standards agree with the breakdowns they mirror.
    leaders = {s.code: s for s in r.standards}["leader-political-theory"]
    assert (leaders.applicable, leaders.met) == (144, 144)  # heads only: deputies are no group

    vi, en = summary_text(VI, r), summary_text(EN, r)
    for text in ("• Công chức: 209/255 (82,0%)", "• Công chức: 163/255 (63,9%)",
                 "• Mặt trận và các đoàn thể: 132/144 (91,7%)",
                 "• Mặt trận và các đoàn thể: 144/144 (100,0%)",
                 # A group outside the vocabulary is named after its position, never by its code.
                 "• Cấp phó tổ chức chính trị - xã hội: 96/138 (69,6%)",
                 "• Cấp phó tổ chức chính trị - xã hội: 88/138 (63,8%)",
                 "số người: 537"):  # fmt: skip
        assert text in vi
    assert "• Civil servants: 209/255 (82.0%)" in en and "people: 537" in en
    assert "mass_org_deputy" not in vi + en
    assert "• Deputy head of a mass organisation: 96/138 (69.6%)" in en


async def test_lang_son_demo_reproduces_the_seed_figures(
    db: async_sessionmaker[AsyncSession],
) -> None:
    now = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
    async with db.begin() as s:
        await build_demo(s, now=now, tz=ZONE)
        province = (await s.execute(select(Unit.id).where(Unit.code == "LS"))).scalar_one()
        district = (await s.execute(select(Unit.id).where(Unit.code == "LS-TD"))).scalar_one()
        whole = await reports.build(
            s, roots=[province], year=2026, as_of=now.date(), tz=TZ, hours_target=40
        )
        td = await reports.build(
            s, roots=[district], year=2026, as_of=now.date(), tz=TZ, hours_target=40
        )
        expected = await _standards_one_by_one(s)

    culture = whole.education.position("cc_van_hoa_xa_hoi")
    assert (culture.at_least, culture.total, culture.share) == (280, 395, Decimal("70.9"))
    # The only civil servants of the demo are the culture–social ones: the group line shows it.
    assert "• Công chức: 280/395 (70,9%)" in summary_text(VI, whole)
    culture = td.education.position("cc_van_hoa_xa_hoi")
    assert (culture.at_least, culture.total, culture.share) == (25, 38, Decimal("65.8"))
    # Tràng Định: 13 (34.2%) college or intermediate; all 38 hold an IT certificate.
    assert (culture.below, reports.percent(culture.below, culture.total)) == (13, Decimal("34.2"))
    it = {(h.position): h.counts for h in td.holdings}["cc_van_hoa_xa_hoi"]
    assert it[reports.HOLDING_KINDS.index("it")] == 38
    # Every standard counted in SQL equals the per-person check of domain.standards.
    assert {s.code: (s.applicable, s.met) for s in whole.standards} == expected


async def _standards_one_by_one(s: AsyncSession) -> dict[str, tuple[int, int]]:
    """(applicable, met) per qualification rule, evaluated person by person in Python with
    the domain's own holds()/applies(); yearly hours from the records."""
    from sqlalchemy.orm import selectinload

    people = list(
        (
            await s.execute(
                select(Person)
                .where(Person.active.is_(True))
                .options(selectinload(Person.position), selectinload(Person.unit))
            )
        ).scalars()
    )
    units = {u.id: u for u in (await s.execute(select(Unit))).scalars()}
    quals: dict[int, list[Qualification]] = {}
    for q in (await s.execute(select(Qualification))).scalars():
        quals.setdefault(q.person_id, []).append(q)
    hours: dict[int, int] = {}
    for rec in (await s.execute(select(TrainingRecord))).scalars():
        if rec.ends_on.year == 2026:
            hours[rec.person_id] = hours.get(rec.person_id, 0) + rec.hours
    rules = (await s.execute(select(StandardRule).where(StandardRule.active.is_(True)))).scalars()
    out: dict[str, tuple[int, int]] = {}
    for rule in rules:
        applicable = met = 0
        for p in people:
            chain, uid = [], p.unit_id
            while uid is not None:
                chain.append(units[uid].code)
                uid = units[uid].parent_id
            if not applies(rule, p, chain):
                continue
            applicable += 1
            if rule.requires_kind == "refresher_hours":
                met += hours.get(p.id, 0) >= (rule.requires_hours or 40)
            else:
                met += holds(rule, quals.get(p.id, []))
        out[rule.code] = (applicable, met)
    return out


# -- files, chat and command line ---------------------------------------------------------------


def _sheet_rows(book: bytes, title: str) -> list[tuple[Any, ...]]:
    ws = load_workbook(io.BytesIO(book), read_only=True)[title]
    return [tuple(row) for row in ws.iter_rows(values_only=True)]


def _vi_pct(value: Any) -> str:
    return f"{value:.1f}".replace(".", ",") + "%"


async def _link(s: AsyncSession, api: OfflineBotAPI, uid: int, **person: Any) -> int:
    someone = await make_person(s, personal_id=f"0210000{uid:05d}", **person)
    await link_account(s, api, someone.id, uid)
    return someone.id


@pytest.mark.databases("sqlite")
async def test_an_organizer_gets_the_summary_the_workbook_and_the_chart(
    chat: Telegram, db: async_sessionmaker[AsyncSession]
) -> None:
    api = chat.api
    async with db.begin() as s:
        small = await _small(s)
        organizer = await _link(s, api, 901)
        await roles.grant(s, person_id=organizer, role=Role.ORGANIZER, unit_id=small.district,
                          by="test")  # fmt: skip
        await _link(s, api, 902)
    user = {"id": 901, "is_bot": False, "first_name": "O", "language_code": "vi"}

    async def say(text: str) -> None:
        await chat.say(user, text)

    with time_machine.travel(local(2025, 6, 15, 10), tick=True):
        await say("/report 2025")
    summary, book_msg, chart_msg = api.sent_to(901)[-3:]
    text = summary["text"]
    assert text.startswith("📊 Báo cáo đào tạo, bồi dưỡng năm 2025: Huyện Định\n")
    assert "số người: 6" in text  # the organizer has no unit in D, so is not counted
    assert book_msg["document"]["file_name"] == "bao-cao-2025.xlsx"
    assert chart_msg["document"]["file_name"] == "bao-cao-2025.png"
    uploads = [p["document"] for m, p in api.calls if m == "sendDocument"]
    book, png = uploads[-2]["content"], uploads[-1]["content"]
    assert png.startswith(b"\x89PNG\r\n\x1a\n")

    # Every share in the qualification sheets and the standards sheet is in the chat text.
    for title in ("Trình độ chuyên môn", "Lý luận chính trị"):
        rows = _sheet_rows(book, title)
        assert rows[0][0] == "Nhóm chức danh" and rows[0][-1] == "Tỷ lệ (%)"
        for row in rows[1:]:
            total, at_least, share = row[2], row[-2], row[-1]
            assert f"{at_least}/{total} ({_vi_pct(share)})" in text, (title, row)
    for row in _sheet_rows(book, "Tiêu chuẩn")[1:]:
        applicable, met, share, within, past, no_deadline = row[3:9]
        assert f": đạt {met}/{applicable} ({_vi_pct(share)})" in text, row
        if within:
            assert f"{within} chưa đạt, hạn" in text
        if past:
            assert f"{past} đã quá hạn" in text
        if no_deadline:
            assert f"{no_deadline} chưa đạt, không có hạn" in text
    total = _sheet_rows(book, "Bồi dưỡng")[-1]
    assert total[0] == "Tổng cộng"
    assert f"Số khóa học: {total[1]}; lượt đăng ký: {total[2]}" in text
    assert f"Hoàn thành: {total[4]} ({_vi_pct(total[6])}); vắng mặt: {total[5]} " \
           f"({_vi_pct(total[7])})" in text  # fmt: skip
    summary_sheet = {row[0]: row[1:] for row in _sheet_rows(book, "Tổng hợp") if row[0]}
    trained = summary_sheet["Lượt người được đào tạo, bồi dưỡng"]
    assert f"Đã bồi dưỡng: {trained[0]} lượt" in text
    assert f"Kế hoạch năm: 5 lượt; đạt {_vi_pct(trained[1])}" in text
    assert "đạt 80,0%" in text
    assert summary_sheet["Số người"][0] == 6
    secondments = _sheet_rows(book, "Biệt phái, luân chuyển")
    assert secondments[1:] == [("Biệt phái", 2, 1, 1), ("Luân chuyển", 1, 1, 0)]
    assert "Biệt phái: 2 trường hợp trong năm, 1 bắt đầu, 1 kết thúc" in text
    assert load_workbook(io.BytesIO(book)).sheetnames == list(report_files.SHEETS)

    async with db() as s:
        entry = (
            await s.execute(select(AuditEntry).where(AuditEntry.action == "report"))
        ).scalar_one()
    assert (entry.result, entry.actor_person_id) == ("ok", organizer)

    # A civil servant is refused (and audited); a bad year gets the usage line.
    other = {"id": 902, "is_bot": False, "first_name": "C", "language_code": "vi"}
    await chat.say(other, "/report")
    refused = api.last_message(902)["text"]
    assert refused.startswith("Chỉ cán bộ phụ trách bồi dưỡng mới làm được việc này")
    with time_machine.travel(local(2025, 6, 15, 10), tick=True):
        await say("/report năm-ngoái")
    assert api.last_message(901)["text"] == "Cách dùng: /report [NĂM], ví dụ /report 2025"


@pytest.mark.databases("sqlite")
async def test_boiduong_report_writes_the_files_and_prints_the_summary(
    db: async_sessionmaker[AsyncSession],
    db_engine: AsyncEngine,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = Settings(database_url=db_engine.url.render_as_string(hide_password=False))
    async with db.begin() as s:
        await _dai_tu(s)
    assert await cmd_report(settings, "NOPE", 2025, tmp_path) == 1
    assert "NOPE" in capsys.readouterr().err
    assert await cmd_report(settings, "TN-DT", 2025, tmp_path / "out") == 0
    out = capsys.readouterr().out
    assert "Báo cáo đào tạo, bồi dưỡng năm 2025: Huyện Đại Từ" in out and "<b>" not in out
    assert "• Công chức: 209/255 (82,0%)" in out
    book = (tmp_path / "out" / "bao-cao-2025-TN-DT.xlsx").read_bytes()
    assert (tmp_path / "out" / "bao-cao-2025-TN-DT.png").read_bytes()[:4] == b"\x89PNG"
    civil = next(r for r in _sheet_rows(book, "Trình độ chuyên môn") if r[:2] == (
        "Công chức", "Cộng nhóm"))  # fmt: skip
    assert (civil[2], civil[-2], civil[-1]) == (255, 209, 82.0)
    async with db() as s:
        with pytest.raises(DomainError):
            await reports.for_unit(s, unit_code="NOPE", actor="t", year=2025, as_of=AS_OF, tz=TZ,
                                   hours_target=40)  # fmt: skip


@pytest.mark.databases("sqlite")
async def test_an_empty_scope_still_gives_a_summary_a_workbook_and_a_chart(
    db: async_sessionmaker[AsyncSession],
) -> None:
    async with db.begin() as s:
        await s.execute(update(StandardRule).values(active=False))
        r = await _report(s, None)
    assert (r.people, r.education.total.share, r.training.total.completion_rate) == (0, None, None)
    assert "số người: 0" in summary_text(VI, r) and "0/0 (—)" in summary_text(VI, r)
    assert load_workbook(io.BytesIO(report_files.workbook(r))).sheetnames == list(
        report_files.SHEETS
    )
    assert report_files.chart(r).startswith(b"\x89PNG")
