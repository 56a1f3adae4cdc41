"""`boiduong broadcast`: send a message to an audience from the command line.

The operator acts everywhere (like the other administration commands) and is audited as
`cli:<login>`. The command writes the broadcast and its delivery rows; the running bot sends
them at its pace. Like the other console commands: Vietnamese with English in brackets.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from bot.cli_admin import _operator
from bot.settings import Settings
from domain import broadcasts
from domain.broadcasts import Audience
from domain.errors import DomainError, Refusal
from storage.db import create_engine, make_sessionmaker, upgrade
from storage.repos.accounts import AccountRepo
from storage.repos.people import PeopleRepo

OK, INVALID = 0, 1

_PROBLEMS = {
    "unit": "Không có đơn vị (no such unit)",
    "position": "Không có chức danh (no such position)",
    "course": "Không có khóa học (no such course)",
    "rule": "Không có tiêu chuẩn đang áp dụng (no such active standard)",
    "empty": "Nội dung trống (the text is empty)",
    "too_long": "Nội dung quá dài, tối đa 4096 ký tự (the text is too long)",
    "past": "Thời điểm đã qua (that time is past)",
    "nobody": "Không có ai thuộc đối tượng này (nobody matches this audience)",
}


def _problem(error: DomainError) -> str:
    what = str(error.details.get("problem", error.code.value))
    value = error.details.get("value")
    return _PROBLEMS.get(what, what) + (f": {value}" if value else "")


async def cmd_broadcast(
    settings: Settings,
    *,
    text: str,
    units: Sequence[str],
    positions: Sequence[str],
    missing: str | None,
    course: str | None,
    waitlist: bool,
    ack: bool,
    at: str | None,
    everyone: bool,
    yes: bool,
    report_to: str | None = None,
) -> int:
    """Count the audience, ask (unless --yes), then create the broadcast for the bot to send."""
    audience = Audience(tuple(units), tuple(positions), missing, course, waitlist)
    if audience.everyone and not everyone:
        print("Chọn đối tượng (choose an audience): --unit, --position, --missing, --course, "
              "hoặc (or) --everyone", file=sys.stderr)  # fmt: skip
        return INVALID
    if waitlist and not course:
        print("--waitlist cần (needs) --course CODE", file=sys.stderr)
        return INVALID
    send_at = broadcasts.parse_local(at, settings.tz) if at else None
    if at and send_at is None:
        print(f"Thời điểm không hợp lệ (not a time like 05/12/2026 07:30): {at}", file=sys.stderr)
        return INVALID
    now = datetime.now(UTC)
    kw: dict[str, Any] = {"now": now, "today": now.astimezone(settings.tz).date(),
          "hours_target": settings.annual_hours_target}  # fmt: skip
    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
        db = make_sessionmaker(engine)
        async with db.begin() as session:
            chat_id = None
            if report_to:
                person = await PeopleRepo(session).by_personal_id(report_to)
                account = await AccountRepo(session).linked_to("telegram", person.id) if person \
                    else None  # fmt: skip
                if account is None:
                    print(f"{report_to} chưa liên kết bot (is not linked to the bot)",
                          file=sys.stderr)  # fmt: skip
                    return INVALID
                chat_id = account.chat_id
            draft = await broadcasts.create_draft(
                session, actor_person_id=None, text=text, plain_length=len(text.strip()),
                report_chat_id=chat_id, operator=True,
            )  # fmt: skip
            preview = await broadcasts.choose_audience(
                session, actor_person_id=None, broadcast_id=draft, audience=audience,
                operator=True, **kw,
            )  # fmt: skip
            await broadcasts.ask_ack(session, actor_person_id=None, broadcast_id=draft, on=ack,
                                     operator=True, **kw)  # fmt: skip
        print(f"Số người nhận (recipients): {preview.total}, đã liên kết bot (linked to the "
              f"bot): {preview.linked}")  # fmt: skip
        answer = "y" if yes else await asyncio.to_thread(input, "Gửi? (send?) [y/N] ")
        if answer.strip().lower() not in ("y", "yes", "c", "co"):
            print("Đã bỏ (nothing sent).")
            return INVALID
        async with db.begin() as session:
            done = await broadcasts.confirm(
                session, actor_person_id=None, broadcast_id=draft, send_at=send_at,
                policy=settings.reminder_policy(), actor=_operator(), operator=True, **kw,
            )  # fmt: skip
    except DomainError as error:
        if error.code == Refusal.NOT_FOUND or error.details.get("problem"):
            print(_problem(error), file=sys.stderr)
            return INVALID
        raise
    finally:
        await engine.dispose()
    when = done.starts_at.astimezone(settings.tz).strftime("%d/%m/%Y %H:%M")
    print(f"Thông báo #{done.broadcast_id}: {done.total} người, gửi từ (sending from) {when}"
          + (" — sau giờ yên tĩnh (after the quiet hours)" if done.moved_by_quiet_hours else ""))
    print("Bot đang chạy sẽ gửi (the running bot sends it).")
    return OK
