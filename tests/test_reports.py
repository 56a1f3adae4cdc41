"""Reports: figures checked against a hand-computed fixture and against the seed figures
(Lạng Sơn from the demo database, Đại Từ from a seed-shaped fixture); the chat summary, the
XLSX workbook, the PNG chart and `boiduong report` agree."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from openpyxl import load_workbook
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.cli_report import cmd_report
from bot.demo import build_demo
from bot.offline import OfflineBotAPI
from bot.telegram.report import summary_text
from config.settings import Settings
from domain import report_files, reports, roles
from domain.audience import applies
from domain.errors import DomainError
from domain.standards import holds
from locales import Translator
from storage.models import (
    AuditEntry,
    Person,
    Position,
    Qualification,
    Registration,
    RegistrationStatus,
    Role,
    Secondment,
    StandardRule,
    TrainingPlan,
    TrainingRecord,
    Unit,
)
from tests.factories import ZONE, make_course, make_person, make_position, make_unit
from tests.harness import Telegram, link_account

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
YEAR = 2025
AS_OF = date(2025, 6, 15)
VI, EN = Translator("vi", TZ), Translator("en", TZ)


def local(y: int, m: int, d: int, hh: int = 8) -> datetime:
    return datetime.combine(date(y, m, d), time(hh), TZ).astimezone(UTC)


async def _report(s: AsyncSession, roots: list[int] | None, year: int = YEAR) -> reports.Report:
    return await reports.build(s, roots=roots, year=year, as_of=AS_OF, tz=TZ, hours_target=40)


async def _positions(s: AsyncSession) -> dict[str, Position]:
    return {p.code: p for p in (await s.execute(select(Position))).scalars()}


# -- a fixture small enough to count by hand ------------------------------------------------------


@dataclass
class Small:
    district: int
    province: int


async def _small(s: AsyncSession) -> Small:
    """Scope = district D (communes C1, C2); C3 lies outside it. Counted by hand below."""
    await s.execute(update(StandardRule).values(active=False))  # only the rules made here
    pos = await _positions(s)
    culture, chair, deputy = (
        pos["cc_van_hoa_xa_hoi"],
        pos["chu_tich_ubnd"],
        pos["pho_chu_tich_ubnd"],
    )
    province = await make_unit(s, code="P", kind="province")
    district = await make_unit(s, code="D", name="Huyện Định", kind="district", parent=province)
    c1 = await make_unit(s, code="D-C1", name="Xã Một", parent=district)
    c2 = await make_unit(s, code="D-C2", name="Xã Hai", parent=district)
    c3 = await make_unit(s, code="P-C3", name="Xã Ba", parent=province)
    a = await make_person(s, unit=c1, position=culture, qualifications=[
        ("education", "dai_hoc", "Quản lý văn hóa"), ("education", "cao_dang", "Văn hóa"),
        ("political_theory", "trung_cap", ""), ("it", "Cơ bản", "")])  # fmt: skip
    b = await make_person(s, unit=c1, position=culture, qualifications=[
        ("education", "thac_si", "Luật"), ("political_theory", "so_cap", "")])  # fmt: skip
    c = await make_person(s, unit=c2, position=culture, qualifications=[
        ("education", "cao_dang", "Văn hóa")])  # fmt: skip
    d = await make_person(s, unit=c2, position=chair, qualifications=[
        ("education", "dai_hoc", "Kinh tế"), ("political_theory", "cu_nhan", "")])  # fmt: skip
    e = await make_person(s, unit=c1, position=deputy)
    h = await make_person(s, unit=c2, position=None, qualifications=[("it", "Nâng cao", "")])
    await make_person(s, unit=c1, position=culture, active=False,
                      qualifications=[("education", "dai_hoc", "Văn hóa")])  # fmt: skip
    g = await make_person(s, unit=c3, position=culture,
                          qualifications=[("education", "dai_hoc", "Văn hóa")])  # fmt: skip
    s.add_all([
        StandardRule(code="r-culture", title_vi="ĐH văn hóa", title_en="Culture degree",
                     applies_to={"positions": ["cc_van_hoa_xa_hoi"]}, requires_kind="education",
                     requires_level="dai_hoc", requires_fields=["van hoa"],
                     grace_until=date(2028, 8, 1)),
        StandardRule(code="r-theory", title_vi="LLCT trung cấp", title_en="Theory",
                     applies_to={"groups": ["leader"]}, requires_kind="political_theory",
                     requires_level="trung_cap", grace_until=date(2020, 1, 1)),
        StandardRule(code="r-hours", title_vi="Đủ giờ", title_en="Hours", applies_to={},
                     requires_kind="refresher_hours", requires_hours=16),
        StandardRule(code="r-it", title_vi="Tin học", title_en="IT", applies_to={"units": ["D-C2"]},
                     requires_kind="it"),
    ])  # fmt: skip
    k1 = await make_course(s, category="culture", hours=16, status="finished",
                           starts_at=local(2025, 3, 10))  # fmt: skip
    # The local date decides the year: K2 starts at 00:00 on 01/01/2026 here, which is still
    # 31/12/2025 in UTC, and belongs to 2026.
    k2 = await make_course(s, category="digital_skills", hours=8, starts_at=local(2026, 1, 1, 0))
    k3 = await make_course(s, category="it", hours=8, status="cancelled",
                           starts_at=local(2025, 5, 2))  # fmt: skip
    k4 = await make_course(s, category="state_management", hours=40,
                           starts_at=local(2025, 12, 31, 23))  # fmt: skip
    st = RegistrationStatus
    for n, (course, person, status) in enumerate([
        (k1, a, st.COMPLETED), (k1, b, st.NO_SHOW), (k1, c, st.COMPLETED), (k1, g, st.COMPLETED),
        (k1, e, st.CANCELLED), (k2, d, st.REGISTERED), (k3, a, st.REGISTERED),
        (k4, d, st.REGISTERED), (k4, e, st.WAITLISTED), (k4, h, st.ATTENDED),
    ]):  # fmt: skip
        s.add(Registration(course_id=course.id, person_id=person.id, status=status, queue_seq=n))
    for person, hours, ends in [
        (a, 8, date(2025, 2, 1)), (a, 8, date(2025, 4, 1)), (b, 8, date(2025, 3, 1)),
        (b, 16, date(2024, 11, 1)), (d, 24, date(2025, 3, 12)), (g, 16, date(2025, 3, 12)),
    ]:  # fmt: skip
        s.add(TrainingRecord(person_id=person.id, title="Bồi dưỡng", hours=hours, ends_on=ends))
    s.add_all([
        TrainingPlan(year=2025, unit_id=district.id, participants=5),
        TrainingPlan(year=2025, unit_id=province.id, participants=100),
        TrainingPlan(year=2024, unit_id=district.id, participants=7),
        Secondment(person_id=a.id, from_unit_id=c1.id, to_unit_id=c2.id, kind="rotation",
                   starts_on=date(2025, 1, 15)),
        Secondment(person_id=b.id, from_unit_id=c1.id, to_unit_id=c3.id, kind="secondment",
                   starts_on=date(2024, 6, 1), ends_on=date(2025, 3, 31)),
        Secondment(person_id=g.id, from_unit_id=c3.id, to_unit_id=c2.id, kind="secondment",
                   starts_on=date(2025, 5, 1)),
        Secondment(person_id=c.id, to_unit_id=c1.id, kind="secondment",
                   starts_on=date(2023, 1, 1), ends_on=date(2024, 12, 31)),
    ])  # fmt: skip
    await s.flush()
    return Small(district.id, province.id)


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


async def _dai_tu(s: AsyncSession) -> int:
    """Đại Từ (Thái Nguyên) shaped like the seed: 29 communes; commune civil servants 209/255
    university and 163/255 intermediate political theory; mass-organisation heads 144/144
    intermediate theory and 132/144 university; their deputies 88/138 and 96/138. Levels are
    mixed (master's, advanced theory, cử nhân, older lower rows) so only "at least" counts
    give the figures; people outside the district and inactive ones must not count."""
    pos = await _positions(s)
    civil = [p for p in pos.values() if p.group == "civil_servant"]
    heads = [p for p in pos.values() if p.group == "mass_org"]
    deputy = await make_position(s, code="pho_doan_the", group="mass_org_deputy",
                                 name_vi="Cấp phó tổ chức chính trị - xã hội",
                                 name_en="Deputy head of a mass organisation")  # fmt: skip
    province = await make_unit(s, code="TN", name="Tỉnh Thái Nguyên", kind="province")
    district = await make_unit(s, code="TN-DT", name="Huyện Đại Từ", kind="district",
                               parent=province)  # fmt: skip
    communes = [await make_unit(s, code=f"TN-DT-{i:02d}", parent=district) for i in range(29)]
    outside = await make_unit(s, code="TN-X01", parent=province)
    people: list[tuple[int, int, bool, list[tuple[str, str, str]]]] = []

    for i in range(255):
        quals = []
        if i < 209:
            quals.append(("education", "thac_si" if i % 11 == 0 else "dai_hoc", "Hành chính"))
            if i % 5 == 0:
                quals.append(("education", "cao_dang", "Kế toán"))  # an older, lower degree
        elif i < 250:
            quals.append(("education", "cao_dang" if i % 2 else "trung_cap", "Kế toán"))
        j = i * 97 % 255  # another order, so degree and theory are not the same people
        if j < 163:
            quals.append(("political_theory", "cao_cap" if j % 13 == 0 else "trung_cap", ""))
            if j % 4 == 0:
                quals.append(("political_theory", "so_cap", ""))
        elif j % 3:
            quals.append(("political_theory", "so_cap", ""))
        people.append((communes[i % 29].id, civil[i % len(civil)].id, True, quals))
    for i in range(144):
        level = "cu_nhan" if i % 17 == 0 else "cao_cap" if i % 7 == 0 else "trung_cap"
        quals = [("political_theory", level, "")]
        quals.append(("education", "dai_hoc" if i * 5 % 144 < 132 else "cao_dang", "Luật"))
        people.append((communes[i % 29].id, heads[i % len(heads)].id, True, quals))
    for i in range(138):
        quals = [("education", "dai_hoc" if i * 5 % 138 < 96 else "trung_cap", "Kinh tế")]
        quals.append(("political_theory", "trung_cap" if i * 7 % 138 < 88 else "so_cap", ""))
        people.append((communes[i % 29].id, deputy.id, True, quals))
    university = [("education", "dai_hoc", "Luật"), ("political_theory", "cao_cap", "")]
    people += [(communes[0].id, civil[0].id, False, university)] * 3  # left the service
    people += [(outside.id, civil[1].id, True, university)] * 5  # another district
    people += [(outside.id, heads[0].id, True, [])] * 2

    ids = (
        await s.execute(
            insert(Person).returning(Person.id, sort_by_parameter_order=True),
            [
                {
                    "personal_id": f"019{n:09d}",
                    "full_name": f"Người Đại Từ {n}",
                    "unit_id": u,
                    "position_id": p,
                    "active": active,
                }
                for n, (u, p, active, _q) in enumerate(people)
            ],
        )
    ).scalars()
    await s.execute(
        insert(Qualification),
        [
            {"person_id": pid, "kind": k, "level": lv, "field": f, "source": "roster"}
            for pid, (_u, _p, _a, quals) in zip(ids, people, strict=True)
            for k, lv, f in quals
        ],
    )
    return district.id


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
