"""How long a hostile spreadsheet sent in chat stalls another user, and what it costs.

An organizer sends a courses file (a "row bomb": a header and N rows of the same bad course,
or one cell at XFD1048576 with --far) to the real application over the offline Bot API, while
another linked user sends /help every 20 ms. Prints the upload's answer and duration, the
other user's slowest and p99 answer during the upload, and the process's peak memory. Not a
test: numbers depend on the machine.

    .venv/bin/python -m bench.upload_stall --rows 300000
    .venv/bin/python -m bench.upload_stall --far      # aborts the process on the old reader
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from telegram import Update

from bench.common import percentile
from bot.app import OFFLINE_TOKEN, build_application
from bot.offline import OfflineBotAPI, OfflineRequest
from config.settings import Settings
from domain import roles
from storage.db import create_engine, make_sessionmaker, upgrade
from storage.models import ChatAccount, Role
from tests.factories import make_person, make_unit
from tests.hostile import cell, row, xlsx

COURSE_HEADER = (
    "Mã khóa học",
    "Tên khóa học",
    "Loại",
    "Đơn vị tổ chức",
    "Bắt đầu",
    "Kết thúc",
    "Số chỗ",
)


def _bomb(path: Path, rows: int, far: bool) -> Path:
    if far:
        return xlsx(
            path, [row(1, COURSE_HEADER), f'<row r="1048576">{cell("XFD1048576", "x")}</row>']
        )
    bad = ("QL-1", "Khóa học", "?", "LS-X9", "99/99/2026", "?", "nhiều")
    return xlsx(path, [row(1, COURSE_HEADER), *(row(i, bad) for i in range(2, rows + 2))])


def _user(uid: int) -> dict[str, Any]:
    return {"id": uid, "is_bot": False, "first_name": "U", "language_code": "vi"}


async def main(rows: int, far: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        bomb = _bomb(Path(tmp) / "khoa-hoc.xlsx", rows, far)
        print(
            f"file: {bomb.stat().st_size / 1024:.0f} KB, {rows if not far else 'XFD1048576'} rows"
        )
        engine = create_engine(f"sqlite+aiosqlite:///{tmp}/bench.db")
        await upgrade(engine)
        db = make_sessionmaker(engine)
        async with db.begin() as s:
            unit = await make_unit(s, code="LS-X1")
            org = await make_person(s, unit=unit)
            other = await make_person(s, unit=unit)
            await roles.grant(s, person_id=org.id, role=Role.ORGANIZER, unit_id=unit.id, by="b")
            for uid, person in ((1, org), (2, other)):
                s.add(ChatAccount(channel="telegram", chat_user_id=str(uid), chat_id=str(uid),
                                  person_id=person.id, linked_at=datetime.now(UTC)))  # fmt: skip
        api = OfflineBotAPI(token=OFFLINE_TOKEN)
        app = build_application(
            Settings(_env_file=None),  # type: ignore[call-arg]
            engine,
            request=OfflineRequest(api),
            rate_limit=False,
        )
        for uid in (1, 2):
            api.add_user(_user(uid))
        async with app:
            for _ in range(3):  # warm up: the first answer loads catalogues and menus
                await app.process_update(
                    Update.de_json(api.message_update(_user(2), "/help"), app.bot)
                )
            upload = api.document_update(_user(1), "khoa-hoc.xlsx", bomb.read_bytes())
            started = time.perf_counter()
            task = asyncio.create_task(app.process_update(Update.de_json(upload, app.bot)))
            answers: list[float] = []
            while not task.done():
                t0 = time.perf_counter()
                await app.process_update(
                    Update.de_json(api.message_update(_user(2), "/help"), app.bot)
                )
                answers.append(time.perf_counter() - t0)
                await asyncio.sleep(0.02)
            await task
            took = time.perf_counter() - started
            said = [m.get("text") or m.get("caption", "") for m in api.sent_to(1)]
            print(f"upload answered in {took:.2f} s: {said[-len(said) :]!r}"[:300])
        await engine.dispose()
    slowest, p99 = max(answers) * 1000, percentile(answers, 0.99) * 1000
    print(f"other user: {len(answers)} answers during the upload, slowest {slowest:.0f} ms, "
          f"p99 {p99:.0f} ms")  # fmt: skip
    print(
        f"peak resident memory: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--far", action="store_true", help="one cell at XFD1048576 instead")
    args = parser.parse_args()
    asyncio.run(main(args.rows, args.far))
