"""`boiduong backup FILE` and `boiduong restore FILE` (storage/backup.py does the work).

Operator text, Vietnamese with English in parentheses. Exit codes: 0 done, 1 refused (a
backup from newer code, no confirmation) or the tool failed, 2 bad usage (no such file).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from config.settings import Settings
from storage.backup import BackupError, backup, backup_revision, head_revision, known_revision
from storage.backup import restore as restore_database
from storage.backup import target as database_target

OK, INVALID, USAGE = 0, 1, 2

PROBLEMS = {
    "memory_database": "cơ sở dữ liệu trong bộ nhớ, không có gì để sao lưu (an in-memory "
    "database has nothing to back up)",
    "no_database": "không có tệp cơ sở dữ liệu (no database file)",
    "no_file": "không tìm thấy tệp (file not found)",
    "not_a_backup": "tệp không phải bản sao lưu SQLite (not an SQLite backup)",
    "sqlite": "lỗi SQLite (SQLite error)",
    "no_tool": "chưa cài công cụ của PostgreSQL (PostgreSQL client tool not installed)",
    "tool_failed": "công cụ của PostgreSQL báo lỗi (the PostgreSQL tool failed)",
}
# A missing input is the operator's slip (2); everything else is a failure to do it (1).
USAGE_PROBLEMS = frozenset({"no_file", "memory_database"})


def _fail(exc: BackupError) -> int:
    text = PROBLEMS.get(exc.code, exc.code)
    print(f"{text}: {exc.detail}" if exc.detail else text, file=sys.stderr)
    return USAGE if exc.code in USAGE_PROBLEMS else INVALID


async def cmd_backup(settings: Settings, file: Path) -> int:
    """Back up the database to FILE; safe while the bot runs."""
    try:
        shown = database_target(settings.database_url).shown
        revision = await asyncio.to_thread(backup, settings.database_url, file)
    except BackupError as exc:
        return _fail(exc)
    print(f"Đã sao lưu (backed up) {shown} → {file}")
    print(f"Phiên bản lược đồ (schema revision): {revision or '-'}")
    return OK


async def cmd_restore(settings: Settings, file: Path, *, yes: bool) -> int:
    """Replace the database with FILE's contents, after a check of its schema and a yes."""
    try:
        shown = database_target(settings.database_url).shown
        revision = await asyncio.to_thread(backup_revision, settings.database_url, file)
    except BackupError as exc:
        return _fail(exc)
    if not known_revision(revision):
        print(
            f"Bản sao lưu có lược đồ mới hơn chương trình (the backup's schema is newer than "
            f"this program): {revision} > {head_revision()}. Hãy cập nhật chương trình trước "
            "(upgrade the program first).",
            file=sys.stderr,
        )
        return INVALID
    print(f"Khôi phục (restore) {file} → {shown}: toàn bộ dữ liệu hiện có sẽ bị ghi đè "
          "(everything in the database now is overwritten). Hãy dừng bot trước (stop the bot "
          "first).")  # fmt: skip
    if not yes:
        prompt = "Gõ «yes» để tiếp tục (type «yes» to go on): "
        try:
            answer = await asyncio.to_thread(input, prompt)
        except EOFError:  # no terminal (a script without --yes): do not overwrite
            answer = ""
        if answer.strip().lower() not in ("yes", "có", "co"):
            print("Không khôi phục (not restored).")
            return INVALID
    try:
        await asyncio.to_thread(restore_database, settings.database_url, file)
    except BackupError as exc:
        return _fail(exc)
    print(f"Đã khôi phục (restored), lược đồ (schema) {revision or '-'}.")
    if revision != head_revision():
        print("Chạy `boiduong migrate` (hoặc khởi động bot) để cập nhật lược đồ (run `boiduong "
              "migrate`, or start the bot, to bring the schema up to date).")  # fmt: skip
    return OK
