"""The report's files as a reader gets them: the workbook prints on A4 landscape one page
wide with its header row on every page, counts and dates are numbers and dates, no code of
the database shows, each language is whole; the chart labels its bars and legends only what
it draws."""

from __future__ import annotations

import io
import re
from datetime import datetime
from pathlib import Path

import pytest
from matplotlib.figure import Figure
from openpyxl import load_workbook
from openpyxl.workbook.workbook import Workbook
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.cli_report import cmd_report
from config.settings import Settings
from domain import report_files, reports
from storage.models import StandardRule
from tests.fixtures_reports import build_report as _report
from tests.fixtures_reports import dai_tu as _dai_tu
from tests.fixtures_reports import small as _small

CODE = re.compile(r"\b[a-z]+(?:[-_][a-z0-9]+)+\b")
VIETNAMESE = re.compile(r"[àáảãạăằắẳẵặâầấẩẫậđèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵ]",
                        re.IGNORECASE)  # fmt: skip


async def _both(s: AsyncSession) -> tuple[reports.Report, set[str]]:
    """The hand-counted district and Đại Từ (whose deputies form a group of their own,
    mass_org_deputy), with the seeded and the fixture's standards; and every rule code."""
    small = await _small(s)
    dai_tu = await _dai_tu(s)
    await s.execute(StandardRule.__table__.update().values(active=True))
    codes = set((await s.execute(select(StandardRule.code))).scalars())
    return await _report(s, [small.district, dai_tu]), codes


def _strings(book: Workbook) -> list[str]:
    return [c.value for ws in book.worksheets for row in ws.iter_rows() for c in row
            if isinstance(c.value, str)]  # fmt: skip


@pytest.mark.databases("sqlite")
async def test_the_workbook_prints_one_page_wide_with_numbers_and_dates_and_no_codes(
    db: async_sessionmaker[AsyncSession],
) -> None:
    async with db.begin() as s:
        r, codes = await _both(s)
    assert any(s.group == "mass_org_deputy" for s in r.education.groups)
    assert "leader-university" in codes and any(s.code == "r-culture" for s in r.standards)
    book = load_workbook(io.BytesIO(report_files.workbook(r)))
    assert book.sheetnames == list(report_files.SHEETS)

    for ws in book.worksheets:
        setup = ws.page_setup
        assert (setup.orientation, setup.paperSize) == ("landscape", 9), ws.title
        assert (setup.fitToWidth, setup.fitToHeight) == (1, 0), ws.title
        assert ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
        assert ws.print_title_rows == ("$5:$5" if ws.title == "Tổng hợp" else "$1:$1"), ws.title

    # Counts have thousands separators, shares the decimals they need, dates are dates.
    people = book["Tổng hợp"]["B6"]
    assert (book["Tổng hợp"]["A6"].value, people.value) == ("Số người", r.people)
    assert people.number_format == "#,##0"
    as_of = book["Tổng hợp"]["B3"]
    assert as_of.is_date and as_of.value == datetime(2025, 6, 15)
    assert as_of.number_format == "dd/mm/yyyy"
    standards = {row[1].value: row for row in book["Tiêu chuẩn"].iter_rows(min_row=2)}
    culture = standards["ĐH văn hóa"]
    assert culture[2].is_date and culture[2].value == datetime(2028, 8, 1)
    assert culture[2].number_format == "dd/mm/yyyy"
    assert culture[3].number_format == "#,##0" and culture[5].number_format == "0.0"
    ints = [c for ws in book.worksheets for row in ws.iter_rows() for c in row
            if type(c.value) is int]  # fmt: skip
    assert ints and not [c.coordinate for c in ints if c.number_format == "General"]
    tiers = {row[0].value: row for row in book["Theo cấp, loại"].iter_rows() if row[0].value}
    assert {tiers[k][2].number_format for k in ("Tổng cộng",)} == {"0"}  # 100 %

    # No code of the database anywhere: rule codes, groups, kinds, categories.
    strings = _strings(book)
    leaks = {m for text in strings for m in CODE.findall(text)}
    assert not leaks
    assert not {c for c in codes if any(c in text for text in strings)}
    groups = {row[0].value for row in book["Trình độ chuyên môn"].iter_rows(min_row=2)}
    assert "Cấp phó tổ chức chính trị - xã hội" in groups  # the group's position names it
    assert "mass_org_deputy" not in groups


@pytest.mark.databases("sqlite")
async def test_an_english_workbook_is_english(db: async_sessionmaker[AsyncSession]) -> None:
    async with db.begin() as s:
        r, codes = await _both(s)
    book = load_workbook(io.BytesIO(report_files.workbook(r, "en")))
    assert not {c for c in codes if any(c in text for text in _strings(book))}
    assert book.sheetnames == [
        "Summary", "By unit", "Education", "Political theory", "Other certificates",
        "Standards", "Training", "Secondments, rotations", "Secondments by unit",
        "By tier and type",
    ] == report_files.sheet_titles("en")  # fmt: skip
    assert report_files.file_stem(r, "en") == "report-2025"
    for ws in book.worksheets:  # headers and labels: no Vietnamese left
        header = 5 if ws.title == "Summary" else 1
        texts = [c.value for c in ws[header] if isinstance(c.value, str)]
        assert not [t for t in texts if VIETNAMESE.search(t)], (ws.title, texts)
    summary = [row[0] for row in book["Summary"].iter_rows(min_row=5, values_only=True)]
    assert not [t for t in summary if t and VIETNAMESE.search(t)], summary
    assert book["Summary"]["A1"].value == "Training report 2025"
    assert book["Summary"]["A6"].value == "People"
    assert {row[0] for row in book["By tier and type"].iter_rows(min_row=2, values_only=True)
            if row[0]} <= {"Provincial level", "District level", "Commune level", "Tier not set",
                           "Total", "Cadres", "Civil servants", "Public employees",
                           "Type not set"} | {t.en for t in report_files.PERSON_TYPE}  # fmt: skip
    groups = {row[0] for row in book["Education"].iter_rows(min_row=2, values_only=True)}
    assert {"Civil servants", "Deputy head of a mass organisation", "Total"} <= groups
    standards = [row[1] for row in book["Standards"].iter_rows(min_row=2, values_only=True)]
    assert "Culture degree" in standards
    leaks = {m for text in _strings(book) for m in CODE.findall(text)}
    assert not leaks
    assert report_files.chart(r, "en").startswith(b"\x89PNG")


@pytest.mark.databases("sqlite")
async def test_the_chart_labels_each_bar_and_legends_only_what_it_draws(
    db: async_sessionmaker[AsyncSession],
) -> None:
    async with db.begin() as s:
        r, _ = await _both(s)
    rules = [s for s in r.standards if s.applicable and not s.past]  # none past the deadline
    assert rules and any(s.past for s in r.standards)
    ax = Figure().subplots()
    report_files._standards_chart(ax, rules, "vi")
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    drawn = [name for name, attr, _ in report_files.STANDARD_PARTS
             if any(getattr(s, attr) for s in rules)]  # fmt: skip
    assert legend == drawn and "Chưa đạt, quá hạn" not in legend
    labels = [t.get_text() for t in ax.texts]
    for s in rules:
        assert report_files.share_label(s.share) in labels

    ax = Figure().subplots()
    groups = [g for g in r.education.groups if g.total]
    report_files._group_chart(ax, r, groups, "en")
    labels = [t.get_text() for t in ax.texts]
    assert len(labels) == 2 * len(groups)
    assert f"{r.education.group('civil_servant').share}%" in labels
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    assert not [t for t in ticks if CODE.search(t)], ticks

    assert r.tiers is not None
    tiers = [t for t in r.tiers.tiers[:-1] if t.people]
    ax = Figure().subplots()
    report_files._tier_chart(ax, tiers, "vi")
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    bands = [n for i, n in enumerate(report_files.TIER_EDU[:4])
             if any(t.education[i] for t in tiers)]  # fmt: skip
    assert legend == bands
    assert len(ax.texts) == len(bands) * len(tiers)


@pytest.mark.databases("sqlite")
async def test_boiduong_report_lang_en_writes_english_files(
    db: async_sessionmaker[AsyncSession], db_engine: AsyncEngine, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    settings = Settings(database_url=db_engine.url.render_as_string(hide_password=False))
    async with db.begin() as s:
        await _dai_tu(s)
    assert await cmd_report(settings, "TN-DT", 2025, tmp_path, lang="en") == 0
    assert "Training report 2025" in capsys.readouterr().out
    book = load_workbook(tmp_path / "report-2025-TN-DT.xlsx")
    assert book.sheetnames == report_files.sheet_titles("en")
    assert (tmp_path / "report-2025-TN-DT.png").read_bytes()[:4] == b"\x89PNG"
