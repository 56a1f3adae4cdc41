"""The unit tree a province loads and reorganises: import in any order, merge, export."""

from __future__ import annotations

import asyncio
import csv
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain import reports
from domain.errors import DomainError
from domain.import_rows import ImportReport, Problem
from domain.importing import import_roster
from domain.positions import export_positions, import_positions
from domain.roster_export import export_roster
from domain.units import (
    close_unit,
    export_units,
    import_units,
    merge_units,
    move_unit,
    rename_unit,
)
from storage.models import (
    AuditEntry,
    Course,
    Person,
    Role,
    RoleGrant,
    Secondment,
    StandardRule,
    TrainingPlan,
    TrainingRecord,
    Unit,
)
from storage.repos.roster import UnitRepo
from tests.factories import ZONE, make_course, make_person

NOW = datetime(2026, 12, 6, 3, 0, tzinfo=UTC)
HEAD = ("Mã đơn vị", "Tên đơn vị", "Cấp", "Đơn vị cấp trên")
# Three levels, children first: communes, then their district, then the province.
TREE = [
    ("LS-TD-01", "Xã Đề Thám", "Xã", "LS-TD"),
    ("LS-TD-02", "Xã Hùng Sơn", "xa", "Huyện Tràng Định"),  # parent by name, no diacritics
    ("LS-TD-03", "Thị trấn Thất Khê", "Thị trấn", "LS-TD"),
    ("LS-TD", "Huyện Tràng Định", "Huyện", "LS"),
    ("LS-TD-VH", "Phòng Văn hóa - Thông tin", "Phòng, ban", "LS-TD"),
    ("LS", "Tỉnh Lạng Sơn", "tinh", ""),
    ("LS-SNV", "Sở Nội vụ", "Sở, ban, ngành", "LS"),
    ("LS-TP", "Thành phố Lạng Sơn", "Thành phố", "LS"),
]


def _csv(path: Path, rows: Sequence[Sequence[str]], head: Sequence[str] = HEAD) -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(head)
        writer.writerows(rows)
    return path


async def _load(
    db: async_sessionmaker[AsyncSession], path: Path, *, dry_run: bool = False
) -> ImportReport:
    async with db.begin() as s:
        return await import_units(s, path=path, dry_run=dry_run, now=NOW, actor="cli:test")


async def _units(db: async_sessionmaker[AsyncSession]) -> dict[str, Unit]:
    async with db() as s:
        return {u.code: u for u in (await s.execute(select(Unit))).scalars()}


async def test_a_tree_listed_children_first_loads_and_a_reimport_updates_it(
    db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    report = await _load(db, _csv(tmp_path / "units.csv", TREE))
    assert report.ok, report.errors
    assert (report.created, report.updated, report.unchanged) == (8, 0, 0)
    units = await _units(db)
    by_id = {u.id: u for u in units.values()}
    parents = {code: by_id[u.parent_id].code if u.parent_id else None for code, u in units.items()}
    assert parents == {"LS-TD-01": "LS-TD", "LS-TD-02": "LS-TD", "LS-TD-03": "LS-TD",
                       "LS-TD": "LS", "LS-TD-VH": "LS-TD", "LS": None, "LS-SNV": "LS",
                       "LS-TP": "LS"}  # fmt: skip
    kinds = {code: u.kind for code, u in units.items()}
    assert (kinds["LS"], kinds["LS-SNV"], kinds["LS-TD-03"], kinds["LS-TD-VH"]) == (
        "province", "agency", "township", "division")  # fmt: skip
    assert kinds["LS-TP"] == "provincial_city"  # a bare "Thành phố" under a parent

    # Renamed, moved under the province and given another kind, by code.
    changed = [*TREE[:4], ("LS-TD-VH", "Phòng Văn hóa, Thể thao", "Sở", "LS"), *TREE[5:]]
    dry = await _load(db, _csv(tmp_path / "v2.csv", changed), dry_run=True)
    assert (dry.created, dry.updated, dry.unchanged, dry.written) == (0, 1, 7, False)
    [change] = dry.changes
    assert (change.row, change.key, change.action) == (6, "LS-TD-VH", "updated")
    assert change.fields == (
        ("Tên đơn vị", "Phòng Văn hóa - Thông tin", "Phòng Văn hóa, Thể thao"),
        ("Cấp", "Phòng, ban", "Sở, ban, ngành"),
        ("Đơn vị cấp trên", "LS-TD", "LS"),
    )
    assert (await _units(db))["LS-TD-VH"].name == "Phòng Văn hóa - Thông tin"  # dry: unchanged
    assert (await _load(db, tmp_path / "v2.csv")).updated == 1
    moved = await _units(db)
    assert moved["LS-TD-VH"].parent_id == moved["LS"].id and moved["LS-TD-VH"].kind == "agency"


async def test_every_bad_row_is_listed_and_nothing_is_written(
    db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    rows = [
        ("A", "Xã A", "Xã", "B"),  # row 2: A -> B -> A
        ("B", "Xã B", "Xã", "A"),  # row 3
        ("C", "Xã C", "Bộ", ""),  # row 4: not a kind
        ("C", "Xã C2", "Xã", ""),  # row 5: the code twice
        ("D", "Xã D", "Xã", "Huyện Không Có"),  # row 6: unknown parent
        ("E", "", "Xã", ""),  # row 7: no name
        ("F G", "Xã F", "Xã", ""),  # row 8: a space in a code
        ("H", "Xã H", "Xã", "H"),  # row 9: its own parent
    ]
    report = await _load(db, _csv(tmp_path / "bad.csv", rows))
    got = sorted((e.row, e.code) for e in report.errors)
    assert got == [
        (2, Problem.UNIT_CYCLE), (3, Problem.UNIT_CYCLE), (4, Problem.UNKNOWN_VALUE),
        (5, Problem.DUPLICATE_IN_FILE), (6, Problem.UNKNOWN_UNIT), (7, Problem.REQUIRED),
        (8, Problem.BAD_CODE), (9, Problem.UNIT_CYCLE),
    ]  # fmt: skip
    assert not report.written and await _units(db) == {}


ROSTER_HEAD = ("Số CCCD", "Họ và tên", "Số điện thoại", "Đơn vị", "Chức vụ, chức danh",
               "Loại", "Ngạch", "Trình độ chuyên môn", "Chuyên ngành đào tạo")  # fmt: skip


def _people(units: Sequence[str]) -> list[tuple[str, ...]]:
    return [
        (f"020{i:09d}", f"Người {i}", f"091{i:07d}", unit, "Công chức Văn hóa - Xã hội",
         "Công chức", "Chuyên viên", "Đại học", "Quản lý văn hóa")
        for i, unit in enumerate(units, start=1)
    ]  # fmt: skip


async def _roster(
    db: async_sessionmaker[AsyncSession], path: Path, *, dry_run: bool = False
) -> ImportReport:
    async with db.begin() as s:
        return await import_roster(s, path=path, dry_run=dry_run, now=NOW, tz=ZONE)


async def test_a_merger_moves_people_courses_roles_plans_and_old_files_still_import(
    db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    assert (await _load(db, _csv(tmp_path / "units.csv", TREE))).ok
    old_codes = ["LS-TD-01", "LS-TD-02", "LS-TD-03"]
    roster = _csv(tmp_path / "roster.csv", _people(old_codes * 2), ROSTER_HEAD)
    assert (await _roster(db, roster)).created == 6
    units = await _units(db)
    c1, c2, c3 = (units[c] for c in old_codes)
    async with db.begin() as s:
        course = await make_course(s, code="VH-01", audience={"units": ["LS-TD-02"]})
        course.organizer_unit_id = c1.id
        person = (await s.execute(select(Person).order_by(Person.id))).scalars().first()
        assert person is not None
        s.add_all([
            RoleGrant(person_id=person.id, role=Role.ORGANIZER, unit_id=c3.id),
            RoleGrant(person_id=person.id, role=Role.UNIT_HEAD, unit_id=c1.id),
            RoleGrant(person_id=person.id, role=Role.UNIT_HEAD, unit_id=c2.id),  # the same twice
            Secondment(person_id=person.id, from_unit_id=units["LS-SNV"].id, to_unit_id=c2.id,
                       kind="secondment", starts_on=date(2025, 3, 1)),
            TrainingPlan(year=2025, unit_id=c1.id, participants=10),
            TrainingPlan(year=2025, unit_id=c2.id, participants=5),
            TrainingRecord(person_id=person.id, title="Bồi dưỡng văn hóa", hours=16,
                           starts_on=date(2025, 5, 1), ends_on=date(2025, 5, 2)),
        ])  # fmt: skip
        rule = StandardRule(
            code="td-only", title_vi="Chỉ Tràng Định", title_en="TD only",
            applies_to={"units": ["LS-TD-03"]}, requires_kind="digital_skills",
        )  # fmt: skip
        s.add(rule)

    async with db.begin() as s:
        outcome = await merge_units(s, olds=old_codes, into="LS-XM", name="Xã Hợp Nhất",
                                    parent="LS", kind=None, actor="cli:test", now=NOW)  # fmt: skip
    assert outcome.created and outcome.merged == tuple(old_codes)
    assert (outcome.moved.people, outcome.moved.roles, outcome.moved.plans) == (6, 3, 2)

    async with db() as s:
        new = await UnitRepo(s).by_code("LS-XM")
        assert new is not None and new.parent_id == units["LS"].id and new.kind == "commune"
        people_units = set((await s.execute(select(Person.unit_id))).scalars())
        assert people_units == {new.id}
        moved_course = await s.get(Course, course.id)
        assert moved_course is not None and moved_course.organizer_unit_id == new.id
        assert moved_course.audience["units"] == ["LS-XM"]
        grants = sorted((g.role, g.unit_id) for g in (await s.execute(select(RoleGrant))).scalars())
        assert grants == sorted([(Role.ORGANIZER, new.id), (Role.UNIT_HEAD, new.id)])
        [sec] = (await s.execute(select(Secondment))).scalars()
        assert sec.to_unit_id == new.id
        [plan] = (await s.execute(select(TrainingPlan))).scalars()
        assert (plan.unit_id, plan.participants) == (new.id, 15)
        stored_rule = (await s.execute(select(StandardRule).where(
            StandardRule.code == "td-only"))).scalar_one()  # fmt: skip
        assert stored_rule.applies_to["units"] == ["LS-XM"]
        old = {u.code: u for u in (await s.execute(select(Unit))).scalars()}
        assert all(not old[c].active and old[c].merged_into_id == new.id for c in old_codes)
        audit = (await s.execute(select(AuditEntry).where(
            AuditEntry.action == "units.merge"))).scalar_one()  # fmt: skip
        assert audit.target == "LS-TD-01, LS-TD-02, LS-TD-03 → LS-XM"

        # A report of the year before the merger, asked with an old code, counts the people
        # and the training that are now the new commune's.
        report = await reports.for_unit(
            s, unit_code="LS-TD-02", actor="cli:test", year=2025, as_of=date(2025, 12, 31),
            tz=ZoneInfo("Asia/Ho_Chi_Minh"), hours_target=40,
        )  # fmt: skip
        assert report.people == 6
        assert report.training.plan == 15

    # Last year's roster file, still written with the old codes, changes nothing.
    again = await _roster(db, roster)
    assert again.ok and (again.created, again.updated, again.unchanged) == (0, 0, 6)

    # The old units cannot be closed again or merged twice; a closed unit needs to be empty.
    async with db.begin() as s:
        with pytest.raises(DomainError):
            await merge_units(s, olds=["LS-TD-01"], into="LS-XM", name=None, parent=None,
                              kind=None, actor="cli:test", now=NOW)  # fmt: skip
    async with db.begin() as s:
        remaining = await close_unit(s, code="LS-XM", actor="cli:test", now=NOW)
    assert len(remaining) == 6 and "Người 1 (020000000001)" in remaining
    async with db.begin() as s:
        assert await close_unit(s, code="LS-TD-VH", actor="cli:test", now=NOW) == []
    assert not (await _units(db))["LS-TD-VH"].active


async def test_rename_and_move_are_audited_and_refuse_a_cycle(
    db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    assert (await _load(db, _csv(tmp_path / "units.csv", TREE))).ok
    async with db.begin() as s:
        assert await rename_unit(s, code="LS-TD-01", name="  Xã  Đề Thám mới ", actor="cli:t",
                                 now=NOW) == "Xã Đề Thám"  # fmt: skip
        await move_unit(s, code="LS-TD-01", parent="LS", actor="cli:t", now=NOW)
    async with db.begin() as s:
        with pytest.raises(DomainError):
            await move_unit(s, code="LS", parent="LS-TD-01", actor="cli:t", now=NOW)
    units = await _units(db)
    assert units["LS-TD-01"].name == "Xã Đề Thám mới"
    assert units["LS-TD-01"].parent_id == units["LS"].id and units["LS"].parent_id is None
    async with db() as s:
        actions = (await s.execute(select(AuditEntry.action).order_by(AuditEntry.id))).scalars()
        assert list(actions) == ["units.import", "units.rename", "units.move"]


async def test_exports_import_back_unchanged(
    db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    assert (await _load(db, _csv(tmp_path / "units.csv", TREE))).ok
    rows = _people(["LS-TD-01", "LS-TD-02", "LS-SNV"])
    rows[1] = (*rows[1][:4], "Chủ tịch UBND xã", "Cán bộ", "", "Thạc sĩ", "Luật")
    head = (*ROSTER_HEAD, "Lý luận chính trị", "Ngày sinh", "Tin học", "Ngoại ngữ",
            "Kỹ năng số", "Số CMND cũ", "Giới tính")  # fmt: skip
    full = [(*r, "Trung cấp", "15/03/1988", "Có", "Tiếng Anh B1", "", "123456789", "Nữ")
            for r in rows]  # fmt: skip
    assert (await _roster(db, _csv(tmp_path / "roster.csv", full, head))).created == 3
    async with db.begin() as s:
        assert await export_units(s, path=tmp_path / "units.xlsx") == 8
        assert await export_roster(s, path=tmp_path / "roster.xlsx", unit_code=None) == 3
        assert await export_roster(s, path=tmp_path / "td.xlsx", unit_code="LS-TD") == 2
        assert await export_positions(s, path=tmp_path / "positions.xlsx") > 10

    again = await _load(db, tmp_path / "units.xlsx")
    assert again.ok and (again.created, again.updated, again.unchanged) == (0, 0, 8)
    people = await _roster(db, tmp_path / "roster.xlsx")
    assert people.ok, people.errors
    assert (people.created, people.updated, people.unchanged) == (0, 0, 3)
    async with db.begin() as s:
        positions = await import_positions(s, path=tmp_path / "positions.xlsx", dry_run=False,
                                           now=NOW)  # fmt: skip
    assert positions.ok and positions.created == positions.updated == 0
    async with db() as s:
        stored = (await s.execute(select(Person).where(
            Person.personal_id == "020000000002"))).scalar_one()  # fmt: skip
        assert (stored.person_type, stored.civil_service_rank, stored.old_id_number) == (
            "can_bo", None, "123456789")  # fmt: skip


async def test_roster_refuses_what_would_make_the_wrong_person(
    db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    assert (await _load(db, _csv(tmp_path / "units.csv", TREE))).ok
    async with db.begin() as s:
        await make_person(s, personal_id="020999999999", full_name="Lò Văn Cũ",
                          phone="0919999999", unit=(await UnitRepo(s).by_code("LS")))  # fmt: skip
    rows = _people(["LS-TD-01"] * 7)
    rows[1] = ("02008500123", *rows[1][1:])  # row 3: 11-digit text starting with 0
    rows[2] = (*rows[2][:2], rows[0][2], *rows[2][3:])  # row 4: row 2's phone
    rows[3] = (*rows[3][:2], "0919 999 999", *rows[3][3:])  # row 5: Lò Văn Cũ's phone
    rows[4] = (*rows[4][:7], "Tiến sỹ học", "")  # row 6: not a level and a field
    rows[5] = (*rows[5][:6], "Chuyên viên xyz", *rows[5][7:])  # row 7: not a rank
    rows[6] = ("20085001234", *rows[6][1:])  # row 8: a lost leading zero, restored
    report = await _roster(db, _csv(tmp_path / "r.csv", rows, ROSTER_HEAD))
    got = sorted((e.row, e.key, e.code, e.value, e.other_row) for e in report.errors)
    assert got == [
        (3, "personal_id", Problem.BAD_PERSONAL_ID, "02008500123", None),
        (4, "phone", Problem.PHONE_TWICE, "0910000001", 2),
        (5, "phone", Problem.PHONE_TAKEN, "Lò Văn Cũ (020999999999)", None),
        (6, "education_level", Problem.UNKNOWN_VALUE, "Tiến sỹ học", None),
        (7, "rank", Problem.UNKNOWN_VALUE, "Chuyên viên xyz", None),
    ]
    async with db() as s:
        assert (await s.execute(select(func.count()).select_from(Person))).scalar_one() == 1


async def test_a_dry_run_lists_each_row_with_old_and_new_values(
    db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    assert (await _load(db, _csv(tmp_path / "units.csv", TREE))).ok
    rows = _people(["LS-TD-01", "LS-TD-02"])
    assert (await _roster(db, _csv(tmp_path / "a.csv", rows, ROSTER_HEAD))).created == 2
    rows[1] = (*rows[1][:3], "LS-TD-03", *rows[1][4:6], "Chuyên viên chính", "Thạc sĩ", "Luật")
    rows.append(_people(["LS"] * 3)[2])
    report = await _roster(db, _csv(tmp_path / "b.csv", rows, ROSTER_HEAD), dry_run=True)
    assert (report.created, report.updated, report.unchanged) == (1, 1, 1)
    updated = next(c for c in report.changes if c.action == "updated")
    assert updated.row == 3 and updated.key == "020000000002"
    assert dict((f, (o, n)) for f, o, n in updated.fields) == {
        "Đơn vị": ("LS-TD-02", "LS-TD-03"),
        "Ngạch": ("chuyen_vien", "chuyen_vien_chinh"),
        "Trình độ (qualifications)": ("education dai_hoc Quản lý văn hóa",
                                      "education thac_si Luật"),
    }
    assert [(c.row, c.action) for c in report.changes] == [(3, "updated"), (4, "created")]


@pytest.mark.databases("postgresql")
async def test_two_administrators_merging_at_once_merge_once(
    db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    assert (await _load(db, _csv(tmp_path / "units.csv", TREE))).ok

    async def merge() -> str:
        try:
            async with db.begin() as s:
                await merge_units(s, olds=["LS-TD-01", "LS-TD-02"], into="LS-XM", name="Xã Mới",
                                  parent=None, kind=None, actor="cli:t", now=NOW)  # fmt: skip
        except DomainError:
            return "refused"
        return "merged"

    results = await asyncio.gather(*(merge() for _ in range(10)))
    assert sorted(results) == ["merged"] + ["refused"] * 9
    async with db() as s:
        merges = (await s.execute(select(func.count()).where(
            AuditEntry.action == "units.merge"))).scalar_one()  # fmt: skip
        assert merges == 1



async def test_merging_a_unit_into_one_below_it_keeps_the_tree_a_tree(
    db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    rows = [("P", "Tỉnh", "Tỉnh", ""), ("A", "Huyện A", "Huyện", "P"),
            ("C", "Xã C", "Xã", "A"), ("G", "Phòng G", "Phòng", "C")]  # fmt: skip
    assert (await _load(db, _csv(tmp_path / "units.csv", rows))).ok
    async with db.begin() as s:
        with pytest.raises(DomainError):  # a new parent inside a merged unit: a loop
            await merge_units(s, olds=["A"], into="G", name=None, parent="C", kind=None,
                              actor="cli:t", now=NOW)  # fmt: skip
    async with db.begin() as s:
        await merge_units(s, olds=["A"], into="G", name=None, parent=None, kind=None,
                          actor="cli:t", now=NOW)  # fmt: skip
    units = await _units(db)
    assert units["G"].parent_id == units["P"].id and units["C"].parent_id == units["G"].id
    async with db.begin() as s:  # the tree has no loop: a move walks up to the root
        await move_unit(s, code="C", parent="P", actor="cli:t", now=NOW)
