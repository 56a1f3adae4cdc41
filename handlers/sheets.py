"""What every spreadsheet sent in chat shares: the file limits told in the person's language,
and the full list of bad rows as an XLSX when the message can show only the first ones.

The reading itself is domain.sheets.read_table (one bounded reader for the command line and
the chat); this module only words its refusals and makes the list.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Sequence
from pathlib import Path

from domain.sheets import (
    MAX_FILE_BYTES,
    SheetError,
    SheetErrorCode,
    check_limits,
    write_rows_xlsx,
)
from handlers.core import File
from locales import Translator

ErrorRow = tuple[int, str, str, str]  # spreadsheet row, column, value, problem
# Rows of a file sent in chat. The importers check rows on the event loop, inside the
# organizer's transaction (on SQLite it holds the write lock), so the bound on a chat upload
# is what keeps other users answered: 1,000 rows, each with five bad cells, kept another
# user waiting 0.4 s at most (bench/upload_stall.py; 2,000 rows: 0.9 s). A commune plans far
# fewer courses a year, and a course seats far fewer people. Larger files: `boiduong import`.
CHAT_MAX_ROWS = 1_000


async def check(path: Path) -> None:
    """Refuse a file sent in chat over the limits, in a worker thread and before any
    transaction, so a bomb holds neither the event loop nor the database. Raises SheetError."""
    await asyncio.to_thread(check_limits, path, max_rows=CHAT_MAX_ROWS)


def too_large(size: int | None) -> bool:
    """Whether a file of `size` bytes (as the channel says) is over the limit."""
    return (size or 0) > MAX_FILE_BYTES


def limit_text(t: Translator, error: SheetError) -> str | None:
    """The refusal of a file over a limit or in an unreadable encoding; None for other errors
    (each feature says in its own words which template to use)."""
    _ = t.gettext
    limit = error.detail
    if error.code == SheetErrorCode.FILE_TOO_LARGE:
        return _("The file is too large: at most %(limit)s MB.") % {"limit": limit}
    if error.code == SheetErrorCode.TOO_MANY_ROWS:
        return _("The sheet has too many rows: at most %(limit)s.") % {"limit": limit}
    if error.code == SheetErrorCode.TOO_MANY_COLUMNS:
        return _("The sheet has too many columns: at most %(limit)s.") % {"limit": limit}
    if error.code == SheetErrorCode.NOT_UTF8:
        return _(
            "This CSV file is not in UTF-8, so its Vietnamese letters would be garbled. In "
            "Excel, save it as “CSV UTF-8”, or send the .xlsx file."
        )
    return None


def too_large_text(t: Translator) -> str:
    limit = str(MAX_FILE_BYTES // (1024 * 1024))
    return t.gettext("The file is too large: at most %(limit)s MB.") % {"limit": limit}


async def error_list(t: Translator, rows: Sequence[ErrorRow], name: str) -> File:
    """Every bad row as an XLSX, for a list longer than the message shows."""
    _ = t.gettext
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{name}.xlsx"
        # Thousands of rows take a second to write: not on the event loop.
        await asyncio.to_thread(
            write_rows_xlsx,
            path,
            [_("Row"), _("Column"), _("Value"), _("Problem")],
            rows,
            _("Problems"),
        )
        content = path.read_bytes()
    caption = t.ngettext(
        "All %(n)d problem, row by row.", "All %(n)d problems, row by row.", len(rows)
    ) % {"n": len(rows)}
    return File(path.name, content, caption, instead=caption)
