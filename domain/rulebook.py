"""The standards rule set as a file: parse YAML or XLSX, validate it, load it by code.

The format is storage/seed/standards.yaml: `positions` (code, vi, en, group) and `rules`
(code, title_vi, title_en, applies_to {groups, positions, units, ranks, types}, requires
{kind, level, fields, hours}, basis, grace_until). An XLSX file holds the same fields
flattened on a sheet named "rules" (lists comma-separated, dates dd/mm/yyyy) and optionally
a "positions" sheet. An optional `postgraduate` section (XLSX: a "postgraduate" sheet, one
row) holds the conditions for sending someone to postgraduate study (levels,
max_age_first_sending, min_years_of_service, commitment_multiple, basis); a file without it
leaves the stored conditions as they are.

Like the imports it is all or nothing: every problem is returned with its location and no row
is written while any remains. Channel-agnostic: codes and data only, the caller renders.
"""

from __future__ import annotations

import asyncio
import logging
import re
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from python_calamine import CalamineError, CalamineWorkbook
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.import_rows import POSITION_GROUP, YES_NO, Problem, parse_when

# read_table reads one automatically chosen sheet; a rule book names its two sheets, so the
# sheet is picked here and the header matching of domain.sheets (private) is reused as it is.
from domain.sheets import (
    Column,
    SheetError,
    SheetErrorCode,
    _to_table,
    open_workbook,
    sheet_rows,
)
from domain.text import fold
from domain.vocab import (
    CIVIL_SERVICE_RANK,
    EDUCATION,
    PERSON_TYPE,
    QUALIFICATION_KIND,
    VocabError,
    level_vocab,
    match_key,
)
from storage.models import Position, PostgraduateConditions, StandardRule
from storage.repos.roster import PositionRepo, UnitIndex, UnitRepo

log = logging.getLogger(__name__)

YAML_SUFFIXES = frozenset({".yaml", ".yml"})
XLSX_SUFFIXES = frozenset({".xlsx", ".xlsm", ".xls", ".ods"})
_BASE_SCOPES = ("groups", "positions", "units")
_SCOPES = (*_BASE_SCOPES, "ranks", "types")
_GROUP_CODE = re.compile(r"[a-z][a-z0-9_]{0,29}")


@dataclass(frozen=True)
class RuleIssue:
    """One problem: section ("positions" or "rules"), item number (YAML, from 1) or
    spreadsheet row (XLSX), the field, a Problem code and the offending value."""

    section: str
    where: int
    field: str
    code: str
    value: str
    vocab: str = ""


@dataclass(frozen=True)
class PositionSpec:
    code: str
    name_vi: str
    name_en: str
    group: str


@dataclass(frozen=True)
class RuleSpec:
    code: str
    values: dict[str, Any]  # StandardRule columns except id and code


@dataclass
class RulebookReport:
    dry_run: bool
    positions_created: int = 0
    positions_updated: int = 0
    positions_unchanged: int = 0
    rules_created: int = 0
    rules_updated: int = 0
    rules_unchanged: int = 0
    rules_deactivated: int = 0
    # The postgraduate sending conditions: None when the file has none, else whether they change.
    postgraduate_changed: bool | None = None
    errors: list[RuleIssue] = field(default_factory=list)
    written: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors


def _c(key: str, vi: str, required: bool = False) -> Column:
    return Column(key, vi, key, required, "", "")


RULE_COLUMNS = (
    _c("code", "Mã quy tắc", True), _c("title_vi", "Tên tiếng Việt", True),
    _c("title_en", "Tên tiếng Anh"), _c("groups", "Nhóm chức vụ"), _c("positions", "Chức vụ"),
    _c("units", "Đơn vị"), _c("ranks", "Ngạch"), _c("types", "Loại cán bộ, công chức"),
    _c("kind", "Loại yêu cầu", True), _c("level", "Trình độ tối thiểu"),
    _c("fields", "Chuyên ngành"), _c("hours", "Số giờ"), _c("basis", "Căn cứ"),
    _c("grace_until", "Hạn chuyển tiếp"), _c("active", "Áp dụng"),
)  # fmt: skip
POSTGRADUATE_COLUMNS = (
    _c("levels", "Trình độ"), _c("max_age_first_sending", "Tuổi tối đa khi cử đi lần đầu"),
    _c("min_years_of_service", "Số năm công tác tối thiểu"),
    _c("commitment_multiple", "Số lần thời gian đào tạo phải cam kết", True), _c("basis", "Căn cứ"),
)  # fmt: skip
POSITION_COLUMNS = (
    _c("code", "Mã chức vụ", True), _c("vi", "Tên tiếng Việt", True),
    _c("en", "Tên tiếng Anh"), _c("group", "Nhóm", True),
)  # fmt: skip

Item = tuple[int, Mapping[str, Any]]


# --- reading --------------------------------------------------------------------------------


def _read_yaml(path: Path) -> tuple[list[Item], list[Item], list[Item]]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise SheetError(SheetErrorCode.UNREADABLE, f"{type(exc).__name__}: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
        raise SheetError(SheetErrorCode.MISSING_COLUMNS, "rules")

    def items(section: str) -> list[Item]:
        raw = data.get(section) or []
        return [(i, v if isinstance(v, dict) else {}) for i, v in enumerate(raw, start=1)]

    rules: list[Item] = []
    for where, item in items("rules"):
        # Flatten the nested YAML shape into the XLSX one, so one validator serves both.
        scope = item.get("applies_to") or {}
        requires = item.get("requires") or {}
        flat = {k: v for k, v in item.items() if k not in ("applies_to", "requires")}
        flat.update({k: scope.get(k) for k in _SCOPES if isinstance(scope, dict)})
        if isinstance(requires, dict):
            flat.update({k: requires.get(k) for k in ("kind", "level", "fields", "hours")})
        rules.append((where, flat))
    pg = data.get("postgraduate")
    return items("positions"), rules, ([(1, pg if isinstance(pg, dict) else {})] if pg else [])


def _sheet(wb: CalamineWorkbook, names: Sequence[str], columns: Sequence[Column]) -> list[Item]:
    sheet = next((n for n in wb.sheet_names if match_key(n) in names), None)
    if sheet is None:
        return []
    return list(_to_table(sheet_rows(wb, sheet), columns).rows)


def _read_xlsx(path: Path) -> tuple[list[Item], list[Item], list[Item]]:
    try:
        with open_workbook(path) as wb:
            rules = _sheet(wb, ("rules", "quy tac", "tieu chuan"), RULE_COLUMNS)
            if not rules and wb.sheet_names and match_key(wb.sheet_names[0]) != "positions":
                rules = _sheet(wb, (match_key(wb.sheet_names[0]),), RULE_COLUMNS)
            positions = _sheet(wb, ("positions", "chuc vu"), POSITION_COLUMNS)
            pg = _sheet(wb, ("postgraduate", "sau dai hoc"), POSTGRADUATE_COLUMNS)[:1]
    except (CalamineError, OSError, ValueError, zipfile.BadZipFile) as exc:
        raise SheetError(SheetErrorCode.UNREADABLE, f"{type(exc).__name__}: {exc}") from exc
    return positions, rules, pg


# --- validating -----------------------------------------------------------------------------


class _Item:
    def __init__(self, section: str, where: int, item: Mapping[str, Any],
                 issues: list[RuleIssue]) -> None:  # fmt: skip
        self.section, self.where, self.item, self.issues = section, where, item, issues
        self.ok = True

    def fail(self, key: str, code: Problem, value: object = None, vocab: str = "") -> None:
        self.ok = False
        shown = self.item.get(key) if value is None else value
        text = "" if shown is None else str(shown)
        self.issues.append(RuleIssue(self.section, self.where, key, code, text, vocab))

    def text(self, key: str, max_len: int, *, required: bool = False) -> str | None:
        value = " ".join(str(self.item.get(key) or "").split())
        if not value:
            if required:
                self.fail(key, Problem.REQUIRED)
            return None
        if len(value) > max_len:
            self.fail(key, Problem.TOO_LONG)
            return None
        return value

    def items(self, key: str) -> list[str]:
        raw = self.item.get(key)
        if raw is None:
            return []
        values = raw if isinstance(raw, list) else re.split(r"[,;\n]", str(raw))
        return [" ".join(str(v).split()) for v in values if str(v).strip()]


def _position(it: _Item) -> PositionSpec | None:
    code = it.text("code", 40, required=True)
    name_vi = it.text("vi", 200, required=True)
    name_en = it.text("en", 200) or name_vi
    group_raw = it.text("group", 30, required=True)
    group = None
    if group_raw:
        try:
            group = POSITION_GROUP.parse(group_raw)
        except VocabError:
            group = group_raw if _GROUP_CODE.fullmatch(group_raw) else None
            if group is None:
                it.fail("group", Problem.UNKNOWN_VALUE, vocab=POSITION_GROUP.name)
    if not it.ok or code is None or name_vi is None or name_en is None or group is None:
        return None
    return PositionSpec(code, name_vi, name_en, group)


@dataclass(frozen=True)
class _Known:
    groups: set[str]
    positions: dict[str, str]  # folded code or name -> code
    units: UnitIndex


def _rule(it: _Item, known: _Known) -> RuleSpec | None:
    code = it.text("code", 60, required=True)
    title_vi = it.text("title_vi", 300, required=True)
    title_en = it.text("title_en", 300) or title_vi
    scope: dict[str, list[str]] = {k: [] for k in _SCOPES}
    for token in it.items("groups"):
        try:
            group = POSITION_GROUP.parse(token) or token
        except VocabError:
            group = token
        if group in known.groups:
            scope["groups"].append(group)
        else:
            it.fail("groups", Problem.UNKNOWN_GROUP, token)
    for token in it.items("positions"):
        position = known.positions.get(fold(token))
        if position is None:
            it.fail("positions", Problem.UNKNOWN_POSITION, token)
        else:
            scope["positions"].append(position)
    for token in it.items("units"):
        unit_id, ambiguous = known.units.resolve(token)
        if unit_id is None:
            it.fail("units", Problem.AMBIGUOUS_UNIT if ambiguous else Problem.UNKNOWN_UNIT, token)
        else:
            scope["units"].append(known.units.code_of[unit_id])
    for key, scope_vocab in (("ranks", CIVIL_SERVICE_RANK), ("types", PERSON_TYPE)):
        for token in it.items(key):
            try:
                scope[key].append(scope_vocab.parse(token) or token)
            except VocabError:
                it.fail(key, Problem.UNKNOWN_VALUE, token, vocab=scope_vocab.name)
    kind = level = None
    try:
        kind = QUALIFICATION_KIND.parse(str(it.item.get("kind") or ""))
    except VocabError as exc:
        it.fail("kind", Problem.UNKNOWN_VALUE, vocab=exc.vocab_name)
    else:
        if kind is None:
            it.fail("kind", Problem.REQUIRED)
    vocab = level_vocab(kind) if kind else None
    if vocab is not None:
        try:
            level = vocab.parse(str(it.item.get("level") or ""))
        except VocabError as exc:
            it.fail("level", Problem.UNKNOWN_VALUE, vocab=exc.vocab_name)
    else:
        level = it.text("level", 40)
    hours = None
    raw_hours = str(it.item.get("hours") or "").strip()
    if raw_hours:
        if re.fullmatch(r"\d+(?:\.0+)?", raw_hours):
            hours = int(float(raw_hours))
        else:
            it.fail("hours", Problem.BAD_NUMBER)
    grace = it.item.get("grace_until")
    if isinstance(grace, date):
        grace_until: date | None = grace
    elif grace:
        parsed = parse_when(str(grace).strip())
        grace_until = parsed[0] if parsed and parsed[1] is None else None
        if grace_until is None:
            it.fail("grace_until", Problem.BAD_DATE)
    else:
        grace_until = None
    active = it.item.get("active", True)
    if not isinstance(active, bool):
        try:
            active = YES_NO.parse(str(active)) != "no"
        except VocabError:
            it.fail("active", Problem.UNKNOWN_VALUE, vocab=YES_NO.name)
    if not it.ok or code is None:
        return None
    values = {
        "title_vi": title_vi, "title_en": title_en,
        # Ranks and types only when given, so rules written before they existed compare equal.
        "applies_to": {k: list(dict.fromkeys(v)) for k, v in scope.items()
                       if v or k in _BASE_SCOPES},
        "requires_kind": kind, "requires_level": level,
        # Stored folded: standards.holds compares them with the folded field of study.
        "requires_fields": list(dict.fromkeys(f for f in map(fold, it.items("fields")) if f)),
        "requires_hours": hours, "basis": " ".join(str(it.item.get("basis") or "").split()),
        "grace_until": grace_until, "active": bool(active),
    }  # fmt: skip
    return RuleSpec(code, values)


def _whole(it: _Item, key: str, low: int, high: int, *, required: bool = False) -> int | None:
    raw = str(it.item.get(key) if it.item.get(key) is not None else "").strip()
    if not raw:
        if required:
            it.fail(key, Problem.REQUIRED)
        return None
    if not re.fullmatch(r"\d+(?:\.0+)?", raw) or not low <= int(float(raw)) <= high:
        it.fail(key, Problem.BAD_NUMBER)
        return None
    return int(float(raw))


def _postgraduate(it: _Item) -> dict[str, Any] | None:
    """The sending conditions as PostgraduateConditions columns (levels default to master's
    and doctorate)."""
    levels: list[str] = []
    for token in it.items("levels") or ["thac_si", "tien_si"]:
        try:
            level = EDUCATION.parse(token)
        except VocabError:
            it.fail("levels", Problem.UNKNOWN_VALUE, token, vocab=EDUCATION.name)
        else:
            if level:
                levels.append(level)
    values = {
        "levels": list(dict.fromkeys(levels)),
        "max_age_first_sending": _whole(it, "max_age_first_sending", 18, 70),
        "min_years_of_service": _whole(it, "min_years_of_service", 0, 40),
        "commitment_multiple": _whole(it, "commitment_multiple", 1, 10, required=True),
        "basis": " ".join(str(it.item.get("basis") or "").split()),
    }
    return values if it.ok else None


def _repeated(it: _Item, seen: set[str]) -> bool:
    """Whether the item's code was already used (checked even when the item has other
    problems, so a repeated code is reported in the same pass)."""
    code = " ".join(str(it.item.get("code") or "").split())
    if code and code in seen:
        it.fail("code", Problem.DUPLICATE_IN_FILE)
        return True
    seen.add(code)
    return False


async def parse_rulebook(
    session: AsyncSession, *, path: Path
) -> tuple[list[PositionSpec], list[RuleSpec], dict[str, Any] | None, list[RuleIssue]]:
    """Read and check a rule book against the positions and units in the database; the third
    item is the postgraduate sending conditions (None when the file has none).

    Raises domain.sheets.SheetError when the file cannot be read as a rule book at all.
    """
    suffix = path.suffix.lower()
    if suffix in YAML_SUFFIXES:
        raw_positions, raw_rules, raw_pg = await asyncio.to_thread(_read_yaml, path)
    elif suffix in XLSX_SUFFIXES:
        raw_positions, raw_rules, raw_pg = await asyncio.to_thread(_read_xlsx, path)
    else:
        raise SheetError(SheetErrorCode.UNSUPPORTED_FORMAT, suffix or path.name)
    issues: list[RuleIssue] = []
    positions: list[PositionSpec] = []
    seen: set[str] = set()
    for where, item in raw_positions:
        spec = _position(it := _Item("positions", where, item, issues))
        if _repeated(it, seen) or spec is None:
            continue
        positions.append(spec)

    repo = PositionRepo(session)
    stored = await repo.all()
    by_key = {fold(s): p.code for p in stored for s in (p.code, p.name_vi, p.name_en)}
    by_key.update({fold(s): p.code for p in positions for s in (p.code, p.name_vi, p.name_en)})
    groups = {p.group for p in stored} | {p.group for p in positions} | set(POSITION_GROUP.codes)
    known = _Known(groups, by_key, await UnitRepo(session).index())
    rules: list[RuleSpec] = []
    seen = set()
    for where, item in raw_rules:
        rule = _rule(it := _Item("rules", where, item, issues), known)
        if _repeated(it, seen) or rule is None:
            continue
        rules.append(rule)
    pg = next((_postgraduate(_Item("postgraduate", w, item, issues)) for w, item in raw_pg), None)
    return positions, rules, pg, issues


# --- loading --------------------------------------------------------------------------------


async def load_rulebook(
    session: AsyncSession, *, path: Path, dry_run: bool, deactivate_missing: bool = False
) -> RulebookReport:
    """Upsert positions and rules by code; rules missing from the file stay as they are
    unless `deactivate_missing`. Nothing is written when any problem is found or on dry run."""
    report = RulebookReport(dry_run)
    positions, rules, pg, report.errors = await parse_rulebook(session, path=path)
    stored_pg = (await session.execute(
        select(PostgraduateConditions).order_by(PostgraduateConditions.id).limit(1)
    )).scalar_one_or_none()  # fmt: skip
    if pg is not None:
        report.postgraduate_changed = stored_pg is None or any(
            getattr(stored_pg, k) != v for k, v in pg.items())  # fmt: skip
    stored_positions = {p.code: p for p in await PositionRepo(session).all()}
    stored_rules = {r.code: r for r in (await session.execute(select(StandardRule))).scalars()}

    new_positions, changed_positions = [], []
    for spec in positions:
        values = {"name_vi": spec.name_vi, "name_en": spec.name_en, "group": spec.group}
        old = stored_positions.get(spec.code)
        if old is None:
            new_positions.append(Position(code=spec.code, **values))
        elif any(getattr(old, k) != v for k, v in values.items()):
            changed_positions.append((old, values))
        else:
            report.positions_unchanged += 1
    new_rules, changed_rules = [], []
    for rule in rules:
        old_rule = stored_rules.get(rule.code)
        if old_rule is None:
            new_rules.append(StandardRule(code=rule.code, **rule.values))
        elif any(getattr(old_rule, k) != v for k, v in rule.values.items()):
            changed_rules.append((old_rule, rule.values))
        else:
            report.rules_unchanged += 1
    in_file = {r.code for r in rules}
    missing = [r for code, r in stored_rules.items() if code not in in_file and r.active]
    report.positions_created, report.positions_updated = len(new_positions), len(changed_positions)
    report.rules_created, report.rules_updated = len(new_rules), len(changed_rules)
    report.rules_deactivated = len(missing) if deactivate_missing else 0
    if report.errors or dry_run:
        return report

    session.add_all(new_positions)
    session.add_all(new_rules)
    for target, values in (*changed_positions, *changed_rules):
        for k, v in values.items():
            setattr(target, k, v)
    if deactivate_missing:
        for r in missing:
            r.active = False
    if pg is not None and report.postgraduate_changed:
        if stored_pg is None:
            session.add(PostgraduateConditions(**pg))
        else:
            for k, v in pg.items():
                setattr(stored_pg, k, v)
    await session.flush()
    report.written = True
    log.info("rule book %s: %d rules created, %d updated, %d deactivated",
             path.name, report.rules_created, report.rules_updated,
             report.rules_deactivated)  # fmt: skip
    return report
