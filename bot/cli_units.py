"""The unit tree and the roster on the command line: export them, and merge, rename, move or
close units (`boiduong units …`), each change in one transaction and audited.

The operator's console, like the other data commands: Vietnamese with English in brackets.
Exit codes: 0 done, 1 refused (nothing changed), 2 bad usage or a file that cannot be written.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cli_admin import operator
from config.settings import Settings
from domain import units
from domain.errors import DomainError
from domain.positions import export_positions
from domain.roster_export import export_roster
from domain.vocab import UNIT_KIND, VocabError
from storage.db import create_engine, make_sessionmaker, upgrade

OK, INVALID, USAGE = 0, 1, 2
WHAT = {
    "units": "đơn vị (units)", "roster": "người (people)", "positions": "chức vụ (positions)",
}  # fmt: skip
REFUSALS = {
    "unit": "không có đơn vị đang hoạt động mã (no active unit with code) {code}",
    "name": "cần tên đơn vị hợp lệ cho đơn vị mới: --name (a valid name is needed: --name)",
    "into": "không thể sáp nhập một đơn vị vào chính nó (a unit cannot be merged into itself)",
    "cycle": "đơn vị cấp trên mới nằm trong chính đơn vị này (the new parent is inside this unit)",
    "other": "thao tác không hợp lệ với các đơn vị này (not possible with these units)",
}


def add_parsers(sub: Any) -> None:
    """The `export` and `units` commands (the caller adds the rest)."""
    export = sub.add_parser("export", help="export data as XLSX")
    export_sub = export.add_subparsers(dest="what", required=True)
    regs = export_sub.add_parser("registrants", help="the registrants of a course")
    regs.add_argument("code", help="the course code, as in the courses file")
    regs.add_argument("out", type=Path, help="the XLSX file to write")
    for what, text in (("units", "the unit tree"), ("positions", "the positions"),
                       ("roster", "the roster (people)")):  # fmt: skip
        p = export_sub.add_parser(what, help=f"{text}, as a file that imports back unchanged")
        p.add_argument("out", type=Path, help="the XLSX file to write")
        if what == "roster":
            p.add_argument("--unit", help="only this unit and its subtree")
    units_p = sub.add_parser("units", help="merge, rename, move or close units")
    units_sub = units_p.add_subparsers(dest="action", required=True)
    merge = units_sub.add_parser("merge", help="merge units into one (created if new)")
    merge.add_argument("olds", nargs="+", metavar="OLD", help="codes of the units merged")
    merge.add_argument("--into", required=True, metavar="NEW", help="code of the unit they form")
    merge.add_argument("--name", help="name of NEW (needed when NEW does not exist)")
    merge.add_argument("--parent", metavar="CODE", help="parent of NEW")
    merge.add_argument("--kind", help="kind of NEW (Xã, Phường, …); default: the first OLD's")
    rename = units_sub.add_parser("rename", help="give a unit a new name")
    rename.add_argument("code")
    rename.add_argument("name")
    move = units_sub.add_parser("move", help="put a unit under another parent")
    move.add_argument("code")
    move.add_argument("--parent", metavar="CODE", help="the new parent; leave out for a root")
    close = units_sub.add_parser("close", help="close a unit with no people left")
    close.add_argument("code")


async def _in_transaction(
    settings: Settings, work: Callable[[AsyncSession], Awaitable[Any]]
) -> Any:
    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
        async with make_sessionmaker(engine).begin() as session:
            return await work(session)
    finally:
        await engine.dispose()


async def cmd_export(settings: Settings, what: str, out: Path, unit: str | None) -> int:
    """Write units, positions or the roster as XLSX."""
    if out.suffix.lower() != ".xlsx":
        print(f"Tệp ra phải là .xlsx (the output must be an .xlsx file): {out}", file=sys.stderr)
        return USAGE

    async def work(session: AsyncSession) -> int:
        if what == "units":
            return await units.export_units(session, path=out)
        if what == "positions":
            return await export_positions(session, path=out)
        return await export_roster(session, path=out, unit_code=unit)

    try:
        count = await _in_transaction(settings, work)
    except LookupError:
        print(f"Không có đơn vị mã (no unit with code) {unit}.", file=sys.stderr)
        return INVALID
    except OSError as exc:
        print(f"Không ghi được tệp (cannot write) {out}: {exc}", file=sys.stderr)
        return USAGE
    print(f"Đã xuất {count} {WHAT[what]}: {out}")
    return OK


def _refused(exc: DomainError) -> int:
    what = str(exc.details.get("what", ""))
    text = REFUSALS.get(what, REFUSALS["other"]).format(code=exc.details.get("unit", ""))
    print(f"Không thực hiện (refused): {text}", file=sys.stderr)
    return INVALID


async def cmd_units(settings: Settings, args: argparse.Namespace) -> int:
    """Merge, rename, move or close units."""
    now, actor = datetime.now(UTC), operator()
    kind = None
    if getattr(args, "kind", None):
        try:
            kind = UNIT_KIND.parse(args.kind)
        except VocabError:
            print("Cấp không hợp lệ (unknown kind); dùng (use): "
                  + ", ".join(t.vi for t in UNIT_KIND), file=sys.stderr)  # fmt: skip
            return USAGE
    try:
        if args.action == "merge":
            outcome = await _in_transaction(settings, lambda s: units.merge_units(
                s, olds=args.olds, into=args.into, name=args.name, parent=args.parent,
                kind=kind, actor=actor, now=now))  # fmt: skip
            m = outcome.moved
            print(f"Đã sáp nhập (merged) {', '.join(outcome.merged)} → {outcome.into}"
                  + (" (đơn vị mới, new unit)" if outcome.created else "") + ": "
                  f"{m.people} người (people), {m.courses} khóa học (courses), "
                  f"{m.children} đơn vị trực thuộc (sub-units), {m.roles} phân quyền (roles), "
                  f"{m.secondments} biệt phái, luân chuyển (secondments), "
                  f"{m.plans} kế hoạch (plans) chuyển sang.")  # fmt: skip
            return OK
        if args.action == "rename":
            old = await _in_transaction(settings, lambda s: units.rename_unit(
                s, code=args.code, name=args.name, actor=actor, now=now))  # fmt: skip
            print(f"Đã đổi tên (renamed) {args.code}: «{old}» → «{' '.join(args.name.split())}»")
            return OK
        if args.action == "move":
            await _in_transaction(settings, lambda s: units.move_unit(
                s, code=args.code, parent=args.parent, actor=actor, now=now))  # fmt: skip
            print(f"Đã chuyển (moved) {args.code} → {args.parent or '(cấp cao nhất, root)'}")
            return OK
        remaining = await _in_transaction(settings, lambda s: units.close_unit(
            s, code=args.code, actor=actor, now=now))  # fmt: skip
    except DomainError as exc:
        return _refused(exc)
    except IntegrityError:
        print("Không thực hiện (refused): dữ liệu vừa được người khác thay đổi, hãy chạy lại "
              "(someone changed the same units at the same moment; run it again)",
              file=sys.stderr)  # fmt: skip
        return INVALID
    if remaining:
        print(f"Chưa thể giải thể {args.code}: còn người hoặc đơn vị trực thuộc (cannot close: "
              "people or sub-units remain). Hãy chuyển họ đi trước (move them first):",
              file=sys.stderr)  # fmt: skip
        for line in remaining:
            print("  " + line, file=sys.stderr)
        return INVALID
    print(f"Đã giải thể (closed) {args.code}.")
    return OK
