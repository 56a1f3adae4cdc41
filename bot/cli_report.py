"""`boiduong report`: the yearly report of a unit's subtree (or of everything) as files.

Writes the same XLSX workbook and PNG chart the bot sends an organizer, and prints the same
summary as plain text (the operator's console): in Vietnamese, or with `--lang en` in English.
"""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from bot.cli_admin import operator
from config.settings import Settings
from domain import report_files, reports
from domain.errors import DomainError
from domain.level_history import Shares, shares_on
from domain.multi_year import MultiYear, multi_year
from handlers.dialog import plain
from handlers.report import summary_text
from locales import Translator
from storage.db import create_engine, make_sessionmaker, upgrade
from storage.repos.roster import UnitRepo

OK, INVALID, USAGE = 0, 1, 2


async def cmd_report(
    settings: Settings, unit_code: str | None, year: int | None, out: Path,
    *, since: int | None = None, compare: int | None = None, lang: str = "vi",
) -> int:  # fmt: skip
    """Write bao-cao-YEAR.xlsx and .png (report-YEAR.* in English) into `out` and print the
    summary (and, with `since`, the totals of each year since then), in `lang`."""
    today = datetime.now(UTC).astimezone(settings.tz).date()
    year = year or today.year
    if since is not None and not 2000 <= since <= year:
        print(f"--since cần từ 2000 đến {year} (--since must be from 2000 to {year})",
              file=sys.stderr)  # fmt: skip
        return USAGE
    if compare is not None and not 2000 <= compare < year:
        print(f"--compare cần từ 2000 đến {year - 1} (--compare must be from 2000 to {year - 1})",
              file=sys.stderr)  # fmt: skip
        return USAGE
    span = None
    then = now = None
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
            roots = None
            if unit_code:
                unit = await UnitRepo(session).by_code(unit_code)
                roots = [unit.id] if unit else None
            if compare is not None:
                then = await shares_on(session, roots=roots, on=date(compare, 12, 31))
                now = await shares_on(session, roots=roots, on=min(date(year, 12, 31), today))
            if since is not None:
                span = await multi_year(session, roots=roots, since=since, until=year,
                                        tz=settings.tz)  # fmt: skip
    except DomainError:
        print(f"Không tìm thấy đơn vị (unit not found): {unit_code}", file=sys.stderr)
        return INVALID
    finally:
        await engine.dispose()
    print(plain(_summary(settings, report, lang)))
    print()
    if span is not None:
        print("\n".join(span_lines(span)))
        print()
    if then is not None and now is not None:
        print("\n".join(compare_lines(then, now)))
        print()
    stem = report_files.file_stem(report, lang) + (f"-{unit_code}" if unit_code else "")
    for path in _write(report, out, stem, lang):
        print(f"Đã ghi (written): {path}")
    return OK


def _write(report: reports.Report, out: Path, stem: str, lang: str) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    book, chart = out / f"{stem}.xlsx", out / f"{stem}.png"
    book.write_bytes(report_files.workbook(report, lang))
    chart.write_bytes(report_files.chart(report, lang))
    return [book, chart]


def _summary(settings: Settings, report: reports.Report, lang: str) -> str:
    # The chat's own renderer, so the console and the chat can never disagree.
    return summary_text(Translator(lang, settings.tz), report)


def _n(value: int) -> str:
    return f"{value:,}".replace(",", ".")  # 11.500, the Vietnamese way


def span_lines(span: MultiYear) -> list[str]:
    """The multi-year totals as console lines."""
    head = f"Từ năm {span.since} đến {span.until} (from {span.since} to {span.until})"
    lines = [head + ":"]
    for y in (*span.years, span.total):
        label = str(y.year) if y.year else "Cộng (total)"
        lines.append(f"  {label}: {_n(y.participations)} lượt người (participations), "
                     f"{_n(y.people)} người (people), {_n(y.hours)} giờ (hours)")  # fmt: skip
    if span.organizers:
        lines.append("Số khóa học theo đơn vị tổ chức (courses by organizer unit):")
        lines += [f"  {o.unit or 'Không ghi đơn vị (none)'}: {_n(o.courses)}"
                  for o in span.organizers]  # fmt: skip
    return lines


def _pct(value: Decimal | None) -> str:
    return "—" if value is None else f"{value}".replace(".", ",") + "%"


def compare_lines(then: Shares, now: Shares) -> list[str]:
    """The threshold shares then and now, and the change in percentage points."""
    lines = [f"So với cuối năm {then.on.year} (compared with the end of {then.on.year}), "
             f"theo trình độ đã ghi nhận (levels as recorded): {_n(then.people)} → "
             f"{_n(now.people)} người (people)"]  # fmt: skip
    for label, a, b in (
        ("Đại học trở lên (university or higher)", then.education, now.education),
        ("Lý luận chính trị trung cấp trở lên (intermediate political theory or higher)",
         then.political, now.political),
    ):  # fmt: skip
        change = ""
        if a is not None and b is not None:
            change = f" ({b - a:+} điểm %, points)".replace(".", ",")
        lines.append(f"  {label}: {_pct(a)} → {_pct(b)}{change}")
    return lines
