"""Standards rule book: YAML and XLSX, validated with locations, upserted by code."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.cli_data import cmd_standards_load
from config.settings import Settings
from domain.import_rows import Problem
from domain.rulebook import RulebookReport, load_rulebook
from storage.models import Position, StandardRule
from tests.factories import make_unit

SEED = Path(__file__).resolve().parents[1] / "storage" / "seed" / "standards.yaml"


async def _load(db: async_sessionmaker[AsyncSession], path: Path, *, dry_run: bool = False,
                deactivate_missing: bool = False) -> RulebookReport:  # fmt: skip
    async with db.begin() as s:
        return await load_rulebook(
            s, path=path, dry_run=dry_run, deactivate_missing=deactivate_missing
        )


async def _rules(db: async_sessionmaker[AsyncSession]) -> dict[str, StandardRule]:
    async with db() as s:
        return {r.code: r for r in (await s.execute(select(StandardRule))).scalars()}


def _yaml(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


async def test_reloading_the_seed_changes_nothing(db: async_sessionmaker[AsyncSession]) -> None:
    report = await _load(db, SEED)
    assert report.ok, report.errors
    seed = yaml.safe_load(SEED.read_text(encoding="utf-8"))
    assert (report.rules_created, report.rules_updated) == (0, 0)
    assert report.rules_unchanged == len(seed["rules"])
    assert report.positions_unchanged == len(seed["positions"])


async def test_yaml_upserts_by_code_and_leaves_missing_rules_alone(
    db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    data = {
        "positions": [{"code": "cong_an_xa", "vi": "Trưởng Công an xã",
                       "en": "Commune police chief", "group": "civil_servant"}],
        "rules": [
            {"code": "digital-skills", "title_vi": "Kỹ năng số", "title_en": "Digital skills",
             "applies_to": {"groups": ["civil_servant"]}, "requires": {"kind": "digital_skills"},
             "basis": "Nghị định 171/2025/NĐ-CP"},
            {"code": "police-degree", "title_vi": "Đại học An ninh", "title_en": "Security degree",
             "applies_to": {"positions": ["cong_an_xa"]},
             "requires": {"kind": "education", "level": "Đại học",
                          "fields": ["An ninh", "Cảnh sát"]},
             "grace_until": "01/08/2028"},
        ],
    }  # fmt: skip
    path = _yaml(tmp_path / "rules.yaml", data)
    report = await _load(db, path)
    assert report.ok, report.errors
    assert (report.rules_created, report.rules_updated, report.rules_deactivated) == (1, 1, 0)
    assert report.positions_created == 1
    rules = await _rules(db)
    police = rules["police-degree"]
    assert police.applies_to == {"groups": [], "positions": ["cong_an_xa"], "units": []}
    assert (police.requires_level, police.requires_fields) == ("dai_hoc", ["an ninh", "canh sat"])
    assert police.grace_until == date(2028, 8, 1)
    assert rules["digital-skills"].applies_to["groups"] == ["civil_servant"]
    assert rules["leader-university"].active  # not in the file: left alone

    again = await _load(db, path, deactivate_missing=True)
    assert (again.rules_unchanged, again.rules_deactivated) == (2, len(rules) - 2)
    active = {code for code, r in (await _rules(db)).items() if r.active}
    assert active == {"digital-skills", "police-degree"}


async def test_xlsx_with_rules_and_positions_sheets(
    db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    async with db.begin() as s:
        await make_unit(s, code="LS", name="Tỉnh Lạng Sơn", kind="province")
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "rules"
    ws.append(["code", "title_vi", "title_en", "groups", "positions", "units", "kind", "level",
               "fields", "hours", "basis", "grace_until"])  # fmt: skip
    ws.append(["ls-hours", "Bồi dưỡng 60 giờ/năm", "60 hours a year", "Lãnh đạo, civil_servant",
               "", "LS", "refresher_hours", "", "", 60, "Quyết định của UBND tỉnh", ""])
    ws.append(["ls-it", "Tin học cơ bản", "Basic IT", "", "Chủ tịch Hội Nông dân xã, cong_an",
               "", "Tin học", "", "", "", "", "31/12/2027"])  # fmt: skip
    positions = wb.create_sheet("positions")
    positions.append(["code", "vi", "en", "group"])
    positions.append(["cong_an", "Trưởng Công an xã", "Commune police chief", "Công chức"])
    path = tmp_path / "rules.xlsx"
    wb.save(path)

    report = await _load(db, path)
    assert report.ok, report.errors
    assert (report.rules_created, report.positions_created) == (2, 1)
    rules = await _rules(db)
    hours = rules["ls-hours"]
    assert (hours.requires_kind, hours.requires_hours) == ("refresher_hours", 60)
    assert hours.applies_to == {"groups": ["leader", "civil_servant"], "positions": [],
                                "units": ["LS"]}  # fmt: skip
    it = rules["ls-it"]
    assert it.applies_to["positions"] == ["chu_tich_hoi_nong_dan", "cong_an"]
    assert (it.requires_kind, it.grace_until) == ("it", date(2027, 12, 31))
    async with db() as s:
        police = (await s.execute(select(Position).where(Position.code == "cong_an"))).scalar_one()
    assert police.group == "civil_servant"


async def test_every_problem_is_listed_with_its_place_and_nothing_is_written(
    db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    data = {
        "positions": [{"code": "x", "vi": "X"}],  # no group
        "rules": [
            {"code": "a", "title_vi": "A", "requires": {"kind": "cooking"}},
            {"code": "b", "title_vi": "B", "requires": {"kind": "education", "level": "Mầm non"}},
            {"code": "c", "title_vi": "C", "applies_to": {"positions": ["nobody"],
                                                          "units": ["NOWHERE"],
                                                          "groups": ["aliens"]},
             "requires": {"kind": "it"}},
            {"code": "d", "title_vi": "D", "requires": {"kind": "it"}, "grace_until": "31/13/2028"},
            {"code": "d", "title_vi": "D again", "requires": {"kind": "it"}},
            {"title_vi": "no code", "requires": {"kind": "it", "hours": "many"}},
        ],
    }  # fmt: skip
    report = await _load(db, _yaml(tmp_path / "bad.yaml", data))
    assert [(e.section, e.where, e.field, e.code) for e in report.errors] == [
        ("positions", 1, "group", Problem.REQUIRED),
        ("rules", 1, "kind", Problem.UNKNOWN_VALUE),
        ("rules", 2, "level", Problem.UNKNOWN_VALUE),
        ("rules", 3, "groups", Problem.UNKNOWN_GROUP),
        ("rules", 3, "positions", Problem.UNKNOWN_POSITION),
        ("rules", 3, "units", Problem.UNKNOWN_UNIT),
        ("rules", 4, "grace_until", Problem.BAD_DATE),
        ("rules", 5, "code", Problem.DUPLICATE_IN_FILE),
        ("rules", 6, "code", Problem.REQUIRED),
        ("rules", 6, "hours", Problem.BAD_NUMBER),
    ]
    assert not report.written
    assert set(await _rules(db)) == {r["code"] for r in yaml.safe_load(SEED.read_text())["rules"]}


async def test_dry_run_reports_and_writes_nothing(
    db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    data = {"rules": [{"code": "new", "title_vi": "Mới", "requires": {"kind": "it"}}]}
    report = await _load(db, _yaml(tmp_path / "r.yaml", data), dry_run=True)
    assert report.ok and report.rules_created == 1 and not report.written
    assert "new" not in await _rules(db)


@pytest.mark.databases("sqlite")
async def test_cli_standards_load(
    db_engine: AsyncEngine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(database_url=db_engine.url.render_as_string(hide_password=False))
    assert await cmd_standards_load(settings, SEED, dry_run=False) == 0
    assert "quy tắc (rules) 0 mới (created)" in capsys.readouterr().out
    data = {"rules": [{"code": "z", "title_vi": "Z", "requires": {"kind": "cooking"}}]}
    assert await cmd_standards_load(settings, _yaml(tmp_path / "z.yaml", data), False) == 1
    out = capsys.readouterr().out
    assert "rules #1, trường kind: giá trị không có trong danh mục" in out
    assert "Tin học (IT)" in out  # the allowed kinds are listed
    assert await cmd_standards_load(settings, tmp_path / "none.yaml", False) == 2
