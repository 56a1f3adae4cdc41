"""Totals since a year (`report --since 2017`): Lạng Sơn's "nearly 11,500 participations
since 2017" comes out of training records, imported or from the bot's courses."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.cli_report import cmd_report
from config.settings import Settings
from domain.multi_year import multi_year
from storage.models import TrainingRecord
from tests.factories import make_course, make_person, make_unit

TZ = ZoneInfo("Asia/Ho_Chi_Minh")


async def _fixture(s: AsyncSession) -> int:
    province = await make_unit(s, code="LS", name="Tỉnh Lạng Sơn", kind="province")
    culture = await make_unit(s, code="LS-SVH", name="Sở Văn hóa", kind="agency", parent=province)
    commune = await make_unit(s, code="LS-X001", name="Xã Đề Thám", parent=province)
    people = [await make_person(s, unit=commune) for _ in range(400)]
    outside = await make_person(s, unit=await make_unit(s, code="TN", name="Tỉnh Thái Nguyên"))
    rows = []
    for year in range(2017, 2025):  # 1,435 a year for 8 years = 11,480
        for i in range(1_435):
            rows.append({"person_id": people[i % 400].id, "title": "Bồi dưỡng", "hours": 8,
                         "ends_on": date(year, 1 + i % 12, 10)})  # fmt: skip
    rows.append({"person_id": people[0].id, "title": "Cũ", "hours": 8,
                 "ends_on": date(2016, 12, 31)})  # before the span
    rows.append({"person_id": outside.id, "title": "Khác", "hours": 8,
                 "ends_on": date(2020, 5, 1)})  # outside the scope
    await s.execute(insert(TrainingRecord), rows)
    for n in range(12):  # 12 courses by the culture department since 2018
        await make_course(s, organizer=culture, status="finished",
                          starts_at=datetime(2018 + n % 7, 5, 1, 1, tzinfo=UTC))  # fmt: skip
    await make_course(s, organizer=culture, status="cancelled",
                      starts_at=datetime(2019, 5, 1, 1, tzinfo=UTC))  # fmt: skip
    return province.id


async def test_totals_per_year_and_since_a_year(db: async_sessionmaker[AsyncSession]) -> None:
    async with db.begin() as s:
        province = await _fixture(s)
    async with db() as s:
        span = await multi_year(s, roots=[province], since=2017, until=2026, tz=TZ)
    assert [(y.year, y.participations, y.people, y.hours) for y in span.years[:2]] == [
        (2017, 1_435, 400, 11_480), (2018, 1_435, 400, 11_480)]  # fmt: skip
    assert [y.participations for y in span.years[-2:]] == [0, 0]  # 2025, 2026
    assert (span.total.participations, span.total.people, span.total.hours) == (
        11_480, 400, 91_840)  # fmt: skip
    assert [(o.unit, o.courses) for o in span.organizers] == [("Sở Văn hóa", 12)]


@pytest.mark.databases("sqlite")
async def test_the_command_prints_the_totals_since_a_year(
    db: async_sessionmaker[AsyncSession], db_engine: AsyncEngine, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    async with db.begin() as s:
        await _fixture(s)
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, database_url=db_engine.url.render_as_string(hide_password=False)
    )
    assert await cmd_report(settings, "LS", 2024, tmp_path, since=2017) == 0
    out = capsys.readouterr().out
    assert "Từ năm 2017 đến 2024 (from 2017 to 2024):" in out
    assert ("  Cộng (total): 11.480 lượt người (participations), 400 người (people), "
            "91.840 giờ (hours)") in out  # fmt: skip
    assert "  Sở Văn hóa: 12" in out
    assert await cmd_report(settings, "LS", 2024, tmp_path, since=2030) == 2
