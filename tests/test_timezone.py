"""The settings' time zone (TIMEZONE) is the clock of every local time: no module keeps its own.

Asia/Tokyo is two hours ahead of Vietnam, so a time read or planned in the wrong zone shows.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.cli_data import cmd_import
from config.settings import Settings
from domain import registration
from domain.reminders import in_quiet_hours, out_of_quiet_hours
from storage.models import Course, Notification
from tests.factories import course_row, courses_xlsx, make_person, make_unit


def _tokyo(monkeypatch: pytest.MonkeyPatch, engine: AsyncEngine | None = None) -> Settings:
    monkeypatch.setenv("TIMEZONE", "Asia/Tokyo")
    url = {"database_url": engine.url.render_as_string(hide_password=False)} if engine else {}
    return Settings(_env_file=None, **url)  # type: ignore[call-arg, arg-type]


def test_quiet_hours_are_kept_in_the_settings_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    evening = datetime(2030, 12, 1, 12, 30, tzinfo=UTC)  # 21:30 in Tokyo, 19:30 in Hà Nội
    assert not in_quiet_hours(evening, Settings(_env_file=None).reminder_policy())  # type: ignore[call-arg]
    policy = _tokyo(monkeypatch).reminder_policy()
    assert in_quiet_hours(evening, policy)
    assert out_of_quiet_hours(evening, policy) == datetime(2030, 12, 1, 22, 0, tzinfo=UTC)  # 07:00


@pytest.mark.databases("sqlite")
async def test_an_import_and_its_reminders_follow_the_settings_zone(
    db_engine: AsyncEngine,
    db: async_sessionmaker[AsyncSession],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COURSE_REMINDERS", "1@22:00")  # the evening before: in quiet hours
    settings = _tokyo(monkeypatch, db_engine)
    async with db.begin() as s:
        await make_unit(s, code="LS")
        person = await make_person(s)
    row = course_row("TZ-01", "LS") | {"starts": "05/12/2030 10:00", "ends": "06/12/2030 17:00"}
    assert await cmd_import(settings, "courses", courses_xlsx(tmp_path / "c.xlsx", [row]),
                            dry_run=False) == 0  # fmt: skip
    async with db.begin() as s:
        course = (await s.execute(select(Course))).scalar_one()
        assert course.starts_at == datetime(2030, 12, 5, 1, 0, tzinfo=UTC)  # 10:00 in Tokyo
        assert course.ends_at == datetime(2030, 12, 6, 8, 0, tzinfo=UTC)
        await registration.register(
            s, person_id=person.id, course_id=course.id, now=datetime.now(UTC),
            policy=settings.reminder_policy(),
        )  # fmt: skip
    async with db() as s:
        due = (await s.execute(select(Notification.due_at))).scalars().all()
    # 22:00 in Tokyo the evening before is quiet: it waits for 07:00 there, the morning itself.
    assert due == [datetime(2030, 12, 4, 22, 0, tzinfo=UTC)]
