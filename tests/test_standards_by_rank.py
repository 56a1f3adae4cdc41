"""The state-management standard follows the person's civil-service rank, in /status and in
the report alike, from a roster that records the rank."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain import reports
from domain.importing import import_roster
from domain.standards import State, status_of
from storage.models import Person
from tests.factories import ZONE, make_unit

NOW = datetime(2026, 12, 6, 3, 0, tzinfo=UTC)
TZ = ZoneInfo("Asia/Ho_Chi_Minh")
HEAD = ("Số CCCD", "Họ và tên", "Đơn vị", "Chức vụ, chức danh", "Ngạch", "Quản lý nhà nước")
ROWS = [
    ("020000000001", "Chuyên viên có QLNN chuyên viên", "LS-X001", "Công chức Tư pháp - Hộ tịch",
     "Chuyên viên", "Chuyên viên"),
    ("020000000002", "Chuyên viên chính mới có QLNN chuyên viên", "LS-X001",
     "Công chức Tư pháp - Hộ tịch", "Chuyên viên chính", "Chuyên viên"),
    ("020000000003", "Chuyên viên chính đủ chuẩn", "LS-X001", "Công chức Tư pháp - Hộ tịch",
     "CVC", "Chuyên viên chính"),
]  # fmt: skip


async def test_a_principal_officer_needs_the_principal_programme(
    db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    async with db.begin() as s:
        province = await make_unit(s, code="LS", name="Tỉnh Lạng Sơn", kind="province")
        await make_unit(s, code="LS-X001", name="Xã Đề Thám", parent=province)
    path = tmp_path / "roster.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        csv.writer(fh).writerows([HEAD, *ROWS])
    async with db.begin() as s:
        report = await import_roster(s, path=path, dry_run=False, now=NOW, tz=ZONE)
    assert report.ok and report.created == 3, report.errors

    states: dict[str, dict[str, State]] = {}
    async with db() as s:
        for person in (await s.execute(select(Person).order_by(Person.id))).scalars():
            found = await status_of(s, person_id=person.id, now=NOW, today=date(2026, 12, 6),
                                    hours_target=40)  # fmt: skip
            states[person.personal_id] = {x.rule.code: x.state for x in found}
    principal, specialist = "state-management-principal", "state-management-specialist"
    assert states["020000000001"][principal] == State.NOT_APPLICABLE
    assert states["020000000001"][specialist] == State.MET
    assert states["020000000002"][principal] == State.MISSING
    assert states["020000000002"][specialist] == State.MET
    assert states["020000000003"][principal] == State.MET

    async with db() as s:
        r = await reports.for_unit(s, unit_code="LS", actor="test", year=2026,
                                   as_of=date(2026, 12, 6), tz=TZ, hours_target=40)  # fmt: skip
    row = next(x for x in r.standards if x.code == principal)
    assert (row.applicable, row.met) == (2, 1)
