"""People by government tier and by type, with two-decimal shares: the report reproduces
Điện Biên's published figures for 2022 exactly."""

from __future__ import annotations

import io
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import load_workbook
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain import report_files, reports
from domain.tiers import share
from handlers.report import summary_text
from locales import Translator
from storage.models import Person, Qualification
from tests.factories import make_unit

# Điện Biên, 2022: 24,088 cadres, civil servants and public employees.
# (people, [thạc sĩ+, đại học, cao đẳng, sơ cấp], [cao cấp, trung cấp]) per tier.
PROVINCIAL = (7_229, [1_266, 4_005, 1_821, 137], [346, 1_161])
DISTRICT = (14_274, [358, 10_842, 3_038, 36], [221, 2_043])
COMMUNE = 24_088 - 7_229 - 14_274  # the rest, without recorded qualifications
EDU_LEVELS = ("thac_si", "dai_hoc", "cao_dang", "so_cap")
PT_LEVELS = ("cao_cap", "trung_cap")


def test_shares_have_two_decimals_where_the_figure_needs_them() -> None:
    assert [str(share(*f)) for f in ((1_266, 7_229), (4_005, 7_229), (137, 7_229),
                                     (5, 5), (1, 3), (0, 7))] == [
        "17.51", "55.4", "1.9", "100", "33.33", "0"]  # fmt: skip
    assert share(1, 0) is None


async def _fixture(s: AsyncSession) -> int:
    province = await make_unit(s, code="DB", name="Tỉnh Điện Biên", kind="province")
    agency = await make_unit(s, code="DB-SNV", name="Sở Nội vụ", kind="agency", parent=province)
    district = await make_unit(s, code="DB-MA", name="Huyện Mường Ảng", kind="district",
                               parent=province)  # fmt: skip
    division = await make_unit(s, code="DB-MA-NV", name="Phòng Nội vụ", kind="division",
                               parent=district)  # fmt: skip
    commune = await make_unit(s, code="DB-X1", name="Xã Ẳng Nưa", kind="commune",
                              parent=district)  # fmt: skip
    people: list[dict[str, Any]] = []
    quals: list[dict[str, Any]] = []
    types = ["cong_chuc"] * 9_000 + ["vien_chuc"] * 12_000 + ["can_bo"] * 3_088

    def add(unit_ids: list[int], n: int, edu: list[int], pt: list[int]) -> None:
        edu_of = [lv for lv, k in zip(EDU_LEVELS, edu, strict=True) for _ in range(k)]
        pt_of = [lv for lv, k in zip(PT_LEVELS, pt, strict=True) for _ in range(k)]
        for i in range(n):
            pid = 1_000_000 + len(people)
            people.append({"id": pid, "personal_id": f"011{pid:09d}", "full_name": f"Người {pid}",
                           "unit_id": unit_ids[i % len(unit_ids)], "active": True,
                           "person_type": types[len(people)]})  # fmt: skip
            if i < len(edu_of):
                quals.append({"person_id": pid, "kind": "education", "level": edu_of[i]})
            if i < len(pt_of):
                quals.append({"person_id": pid, "kind": "political_theory", "level": pt_of[i]})

    add([province.id, agency.id], PROVINCIAL[0], PROVINCIAL[1], PROVINCIAL[2])
    add([district.id, division.id], DISTRICT[0], DISTRICT[1], DISTRICT[2])
    add([commune.id], COMMUNE, [0, 0, 0, 0], [0, 0])
    for i in range(0, len(people), 5_000):
        await s.execute(insert(Person), people[i : i + 5_000])
    for i in range(0, len(quals), 5_000):
        await s.execute(insert(Qualification), quals[i : i + 5_000])
    return province.id


async def test_the_report_reproduces_dien_biens_figures_by_tier_and_type(
    db: async_sessionmaker[AsyncSession],
) -> None:
    async with db.begin() as s:
        province = await _fixture(s)
    async with db() as s:
        r = await reports.build(s, roots=[province], year=2022, as_of=date(2022, 12, 31),
                                tz=ZoneInfo("Asia/Ho_Chi_Minh"), hours_target=40)  # fmt: skip
    t = r.tiers
    assert t is not None and r.people == 24_088
    prov, dist, comm = t.tier("province"), t.tier("district"), t.tier("commune")
    assert (prov.people, dist.people, comm.people, t.tiers[-1].people) == (
        7_229, 14_274, 2_585, 24_088)  # fmt: skip

    def figures(row: Any) -> list[tuple[int, str]]:
        edu = [(row.education[i], str(row.edu_share(i))) for i in range(4)]
        return edu + [(row.political[i], str(row.pt_share(i))) for i in range(2)]

    assert figures(prov) == [(1_266, "17.51"), (4_005, "55.4"), (1_821, "25.19"), (137, "1.9"),
                             (346, "4.79"), (1_161, "16.06")]  # fmt: skip
    assert figures(dist) == [(358, "2.51"), (10_842, "75.96"), (3_038, "21.28"), (36, "0.25"),
                             (221, "1.55"), (2_043, "14.31")]  # fmt: skip
    assert [(row.key, row.people, str(t.people_share(row))) for row in t.types] == [
        ("can_bo", 3_088, "12.82"), ("cong_chuc", 9_000, "37.36"),
        ("vien_chuc", 12_000, "49.82"), ("total", 24_088, "100"),
    ]  # fmt: skip

    sheet = load_workbook(io.BytesIO(report_files.workbook(r)))["Theo cấp, loại"]
    rows = {row[0].value: row for row in sheet.iter_rows() if row[0].value}
    provincial = rows["Cấp tỉnh"]
    assert [c.value for c in provincial[:7]] == ["Cấp tỉnh", 7_229, 30.01, 1_266, 17.51,
                                                  4_005, 55.4]  # fmt: skip
    assert (provincial[4].number_format, provincial[6].number_format) == ("0.00", "0.0")
    assert [c.value for c in rows["Cấp huyện"][3:9]] == [358, 2.51, 10_842, 75.96, 3_038, 21.28]

    text = summary_text(Translator("vi", ZoneInfo("Asia/Ho_Chi_Minh")), r)
    assert "• Cấp tỉnh: 7.229 (30,01%)" in text
    assert ("sau đại học 1.266 (17,51%), đại học 4.005 (55,4%), cao đẳng, trung cấp 1.821 "
            "(25,19%), sơ cấp 137 (1,9%)") in text  # fmt: skip
    assert "lý luận chính trị: cao cấp 221 (1,55%), trung cấp 2.043 (14,31%)" in text
    assert "• Công chức: 9.000 (37,36%)" in text
    assert report_files.chart(r).startswith(b"\x89PNG")
    assert [report_files.share_label(prov.edu_share(i)) for i in range(4)] == [
        "17,51%", "55,4%", "25,19%", "1,9%"]  # fmt: skip
