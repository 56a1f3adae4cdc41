"""`report --compare 2017`: the roster's levels kept with the date they were learnt, so the
report compares with an earlier year (Lạng Sơn: 70.9 % university or higher, +13.1 points
since 2017)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.cli_data import cmd_import
from bot.cli_report import cmd_report
from config.settings import Settings
from domain.level_history import shares_on
from domain.sheets import write_rows_xlsx
from storage.models import QualificationLevel
from tests.factories import make_unit

HEADERS = ["Số CCCD", "Họ và tên", "Đơn vị", "Trình độ chuyên môn", "Lý luận chính trị"]


def _roster(path: Path, people: int, university: int, theory: int) -> Path:
    rows = [[f"020{n:09d}", f"Nguyễn Văn {n}", "LS-X001",
             "Đại học" if n < university else "Cao đẳng",
             "Trung cấp" if n < theory else "Sơ cấp"] for n in range(people)]  # fmt: skip
    write_rows_xlsx(path, HEADERS, rows, "Dữ liệu")
    return path


@pytest.mark.databases("sqlite")  # the command line opens its own engine on the file
async def test_an_older_roster_loaded_as_of_2017_gives_the_change_since_then(
    db: async_sessionmaker[AsyncSession], db_engine: AsyncEngine, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    async with db.begin() as s:
        province = await make_unit(s, code="LS", name="Tỉnh Lạng Sơn", kind="province")
        await make_unit(s, code="LS-X001", name="Xã Đề Thám", parent=province)
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, database_url=db_engine.url.render_as_string(hide_password=False)
    )
    old = _roster(tmp_path / "2017.xlsx", 370, 214, 100)
    assert await cmd_import(settings, "roster", old, False, as_of="31/12/2017") == 0
    assert await cmd_import(settings, "courses", old, False, as_of="31/12/2017") == 2
    new = _roster(tmp_path / "2026.xlsx", 395, 280, 395)
    assert await cmd_import(settings, "roster", new, False) == 0
    assert await cmd_import(settings, "roster", new, False) == 0  # nothing new learnt
    async with db() as s:
        rows = (await s.execute(select(func.count()).select_from(QualificationLevel))).scalar()
        # 370 × 2 in 2017; in 2026 the 25 new people × 2, 66 new degrees and 270 theory levels
        assert rows == 740 + 50 + 66 + 270
        then = await shares_on(s, roots=None, on=date(2017, 12, 31))
    assert (then.people, str(then.education), str(then.political)) == (370, "57.8", "27.0")

    capsys.readouterr()
    assert await cmd_report(settings, "LS", 2026, tmp_path / "out", compare=2017) == 0
    out = capsys.readouterr().out
    assert "370 → 395 người (people)" in out
    assert "Đại học trở lên (university or higher): 57,8% → 70,9% (+13,1 điểm %, points)" in out
    assert ": 27,0% → 100,0% (+73,0 điểm %, points)" in out
    assert await cmd_report(settings, "LS", 2026, tmp_path / "out", compare=2026) == 2
