"""`boiduong report`: the yearly report of a unit's subtree (or of everything) as files.

Writes the same XLSX workbook and PNG chart the bot sends an organizer, and prints the same
summary, as plain Vietnamese text (the operator's console).
"""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime
from html import unescape
from pathlib import Path

from bot.cli_admin import operator
from bot.i18n import Translator
from bot.settings import Settings
from domain import report_files, reports
from domain.errors import DomainError
from storage.db import create_engine, make_sessionmaker, upgrade

OK, INVALID = 0, 1
_TAG = re.compile(r"<[^>]+>")


def plain(html: str) -> str:
    """Chat HTML as console text."""
    return unescape(_TAG.sub("", html))


async def cmd_report(settings: Settings, unit_code: str | None, year: int | None, out: Path) -> int:
    """Write bao-cao-YEAR.xlsx and .png into `out` and print the summary."""
    today = datetime.now(UTC).astimezone(settings.tz).date()
    year = year or today.year
    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
        async with make_sessionmaker(engine).begin() as session:
            report = await reports.for_unit(
                session,
                unit_code=unit_code,
                actor=operator(),
                year=year,
                as_of=today,
                tz=settings.tz,
                hours_target=settings.annual_hours_target,
            )
    except DomainError:
        print(f"Không tìm thấy đơn vị (unit not found): {unit_code}", file=sys.stderr)
        return INVALID
    finally:
        await engine.dispose()
    print(plain(_summary(settings, report)))
    print()
    stem = report_files.file_stem(report) + (f"-{unit_code}" if unit_code else "")
    for path in _write(report, out, stem):
        print(f"Đã ghi (written): {path}")
    return OK


def _write(report: reports.Report, out: Path, stem: str) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    book, chart = out / f"{stem}.xlsx", out / f"{stem}.png"
    book.write_bytes(report_files.workbook(report))
    chart.write_bytes(report_files.chart(report))
    return [book, chart]


def _summary(settings: Settings, report: reports.Report) -> str:
    # The chat's own renderer, so the console and the chat can never disagree.
    from handlers.report import summary_text

    return summary_text(Translator("vi", settings.tz), report)
