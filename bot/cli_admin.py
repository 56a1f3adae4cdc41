"""Administration commands of the `boiduong` CLI: grant and revoke roles, read the audit log.

Like the data commands, this is the operator's console: Vietnamese with English in brackets.
"""

from __future__ import annotations

import getpass
import sys
from zoneinfo import ZoneInfo

from config.settings import Settings
from domain import roles
from domain.errors import DomainError
from storage.db import create_engine, make_sessionmaker, upgrade
from storage.models import Role

OK, INVALID = 0, 1


def operator() -> str:
    """Who ran the command, for the audit log."""
    try:
        return f"cli:{getpass.getuser()}"
    except OSError:
        return "cli"


async def cmd_role(
    settings: Settings, personal_id: str, role: str, unit_code: str | None, *, give: bool
) -> int:
    """Grant or revoke a role; organizers and unit heads need the unit they act for."""
    if role != Role.ADMIN and give and not unit_code:
        print("Cần mã đơn vị (a unit code is needed): --unit CODE", file=sys.stderr)
        return INVALID
    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
        async with make_sessionmaker(engine).begin() as session:
            changed = await roles.change_role(
                session,
                actor_person_id=None,
                actor=operator(),
                personal_id=personal_id,
                role=Role(role),
                unit_code=unit_code,
                give=give,
            )
    except DomainError as exc:
        what = "người (person)" if exc.details.get("what") == "person" else "đơn vị (unit)"
        print(f"Không tìm thấy {what}: {unit_code if 'unit' in what else personal_id}",
              file=sys.stderr)  # fmt: skip
        return INVALID
    finally:
        await engine.dispose()
    verb = "Đã cấp (granted)" if give else "Đã thu hồi (revoked)"
    print(f"{verb}: {personal_id} {role}" + (f" @ {unit_code}" if unit_code else "")
          if changed else "Không có gì thay đổi (nothing changed).")  # fmt: skip
    return OK


async def cmd_audit(settings: Settings, limit: int) -> int:
    """Print the newest audit entries, newest first, in local time."""
    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
        async with make_sessionmaker(engine)() as session:
            entries = await roles.recent_audit(session, limit=limit)
    finally:
        await engine.dispose()
    tz = ZoneInfo(settings.timezone)
    for e in entries:
        when = e.at.astimezone(tz).strftime("%d/%m/%Y %H:%M:%S")
        print(f"{when}  {e.result:<9} {e.action:<12} {e.actor}  →  {e.target}")
    if not entries:
        print("Nhật ký trống (the audit log is empty).")
    return OK
