"""Units, people and courses counted by hand, and the report built on them: for the reports
tests, the report files and hostile exports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from domain import reports
from storage.models import (
    Person,
    Position,
    Qualification,
    Registration,
    RegistrationStatus,
    Secondment,
    StandardRule,
    TrainingPlan,
    TrainingRecord,
)
from tests.factories import make_course, make_person, make_position, make_unit

TZ = ZoneInfo("Asia/Ho_Chi_Minh")


YEAR = 2025


AS_OF = date(2025, 6, 15)


def local(y: int, m: int, d: int, hh: int = 8) -> datetime:
    return datetime.combine(date(y, m, d), time(hh), TZ).astimezone(UTC)


async def build_report(
    s: AsyncSession, roots: list[int] | None, year: int = YEAR
) -> reports.Report:
    return await reports.build(s, roots=roots, year=year, as_of=AS_OF, tz=TZ, hours_target=40)


async def positions(s: AsyncSession) -> dict[str, Position]:
    return {p.code: p for p in (await s.execute(select(Position))).scalars()}


@dataclass
class Small:
    district: int
    province: int


async def small(s: AsyncSession) -> Small:
    """Scope = district D (communes C1, C2); C3 lies outside it. Counted by hand below."""
    await s.execute(update(StandardRule).values(active=False))  # only the rules made here
    pos = await positions(s)
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


async def dai_tu(s: AsyncSession) -> int:
    """Đại Từ (Thái Nguyên) shaped like the seed: 29 communes; commune civil servants 209/255
    university and 163/255 intermediate political theory; mass-organisation heads 144/144
    intermediate theory and 132/144 university; their deputies 88/138 and 96/138. Levels are
    mixed (master's, advanced theory, cử nhân, older lower rows) so only "at least" counts
    give the figures; people outside the district and inactive ones must not count."""
    pos = await positions(s)
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
