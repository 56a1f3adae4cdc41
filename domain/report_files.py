"""A report as files: an XLSX workbook (one sheet per table) and a PNG chart.

The files are official paperwork for the province: Vietnamese by default, English on request
(`lang="en"`: the chat passes its user's language, the CLI its `--lang`). Their texts are file
contents, like the import templates' bilingual headers, so they live here beside each other
(`EN` holds the English of each Vietnamese text) rather than in the chat's catalogues.
Percentages are written as the numbers the chat shows (70.9, not 0.709...), so what an
organizer reads in chat is what the workbook holds. Every code the database keeps (rule
codes, position groups, kinds, categories) is shown by its label, never as the code.

Each sheet prints on A4 landscape, one page wide, its header row repeated on every page;
counts carry thousands separators and dates are Excel dates (dd/mm/yyyy).

The chart is drawn with matplotlib's object API on the Agg canvas: no pyplot, no display, no
global state, so it can run in a worker thread beside the bot.
"""

from __future__ import annotations

import io
import re
import textwrap
from collections.abc import Callable, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from babel.numbers import format_decimal
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.properties import PageSetupProperties
from openpyxl.worksheet.worksheet import Worksheet

from domain.import_rows import POSITION_GROUP
from domain.numbers import percent
from domain.reports import (
    HOLDING_KINDS,
    Breakdown,
    Holding,
    LevelTable,
    Report,
    group_label,
)
from domain.sheets import set_text
from domain.tiers import TierRow, Tiers
from domain.vocab import (
    COURSE_CATEGORY,
    EDUCATION,
    PERSON_TYPE,
    POLITICAL_THEORY,
    QUALIFICATION_KIND,
    Vocab,
)

SHEETS = (
    "Tổng hợp",
    "Theo đơn vị",
    "Trình độ chuyên môn",
    "Lý luận chính trị",
    "Chứng chỉ khác",
    "Tiêu chuẩn",
    "Bồi dưỡng",
    "Biệt phái, luân chuyển",
    "Biệt phái theo đơn vị",
    "Theo cấp, loại",
)
BOLD = Font(bold=True)
PERCENT_FORMAT = "0.0"
COUNT_FORMAT = "#,##0"  # 24,088 (24.088 in a Vietnamese Excel)
DATE_FORMAT = "dd/mm/yyyy"
SECONDMENT_LABELS = {"secondment": "Biệt phái", "rotation": "Luân chuyển"}
GROUP_ROW = "Cộng nhóm"  # the row that sums a group's positions
THRESHOLD_LABELS = {"dai_hoc": "Đại học trở lên", "trung_cap": "Trung cấp trở lên"}
EDUCATION_LABEL = "Trình độ chuyên môn"
POLITICAL_LABEL = "Lý luận chính trị"
TIER_LABELS = {"province": "Cấp tỉnh", "district": "Cấp huyện", "commune": "Cấp xã",
               "": "Chưa xác định cấp", "total": "Tổng cộng"}  # fmt: skip
TIER_EDU = ("Sau đại học", "Đại học", "Cao đẳng, trung cấp", "Sơ cấp", "Chưa qua đào tạo")
TIER_PT = ("Cao cấp, cử nhân", "Trung cấp", "Sơ cấp", "Chưa có")

SHEETS_EN = (
    "Summary",
    "By unit",
    "Education",
    "Political theory",
    "Other certificates",
    "Standards",
    "Training",
    "Secondments, rotations",
    "Secondments by unit",
    "By tier and type",
)
# The English of every Vietnamese text of the files ({…} are filled in after the lookup).
EN = {
    "Biệt phái": "Secondment", "Luân chuyển": "Rotation", "Cộng nhóm": "Group total",
    "Đại học trở lên": "University or higher", "Trung cấp trở lên": "Intermediate or higher",
    "{level} trở lên": "{level} or higher",
    "Cấp tỉnh": "Provincial level", "Cấp huyện": "District level", "Cấp xã": "Commune level",
    "Chưa xác định cấp": "Tier not set", "Chưa xác định loại": "Type not set",
    "Tổng cộng": "Total", "Sau đại học": "Postgraduate", "Đại học": "University",
    "Cao đẳng, trung cấp": "College or vocational", "Sơ cấp": "Elementary",
    "Chưa qua đào tạo": "Untrained", "Cao cấp, cử nhân": "Advanced", "Trung cấp": "Intermediate",
    "Chưa có": "None", "LLCT {level}": "Political theory: {level}",
    "Toàn bộ đơn vị": "All units", "Mã đơn vị": "Unit code", "Đơn vị": "Unit",
    "Chức danh": "Position", "Số người": "People", "Hình thức": "Kind",
    "Đang thực hiện trong năm": "Under way during the year",
    "Bắt đầu trong năm": "Started during the year", "Kết thúc trong năm": "Ended during the year",
    "Đang thực hiện ngày {date}": "Under way on {date}", "Đơn vị đến": "Host unit",
    "Đơn vị cử": "Home unit", "Quá hạn họp đánh giá": "Review meetings overdue",
    "Báo cáo đào tạo, bồi dưỡng năm {year}": "Training report {year}",
    "Phạm vi: {scope}": "Scope: {scope}", "Số liệu đến ngày": "Figures as of",
    "Chỉ tiêu": "Indicator", "Số lượng": "Number", "Tỷ lệ (%)": "Share (%)",
    "Trình độ chuyên môn đại học trở lên": "University degree or higher",
    "Lý luận chính trị trung cấp trở lên": "Intermediate political theory or higher",
    "Số khóa học": "Courses", "Lượt đăng ký học": "Enrolments", "Lượt hoàn thành": "Completions",
    "Lượt vắng mặt": "No-shows",
    "Lượt người được đào tạo, bồi dưỡng": "Participations in training",
    "Số người được đào tạo, bồi dưỡng": "People trained",
    "Số giờ đào tạo, bồi dưỡng": "Training hours",
    "Kế hoạch năm (lượt người)": "Yearly plan (participations)",
    "{kind} trong năm": "{kind}: under way during the year",
    "Kế hoạch {category} (lượt người)": "Plan, {category} (participations)",
    "Thực hiện {category} (lượt người)": "Done, {category} (participations)",
    "Nhóm chức danh": "Position group", "Tổng số": "Total", "STT": "No.",
    "Tiêu chuẩn": "Standard", "Hạn đạt chuẩn": "Deadline",
    "Số người áp dụng": "People it applies to", "Đạt": "Met", "Tỷ lệ đạt (%)": "Met (%)",
    "Chưa đạt, còn hạn": "Not yet, deadline ahead", "Chưa đạt, quá hạn": "Not met, past deadline",
    "Chưa đạt, không có hạn": "Not yet, no deadline", "Lĩnh vực": "Field",
    "Lượt đăng ký": "Enrolments", "Có mặt": "Attended", "Hoàn thành": "Completed",
    "Vắng mặt": "No-shows", "Tỷ lệ hoàn thành (%)": "Completion rate (%)",
    "Tỷ lệ vắng mặt (%)": "No-show rate (%)",
    "Số giờ (khóa × hoàn thành)": "Hours (course × completions)", "Cấp, loại": "Tier, type",
    "Báo cáo năm {year} — {scope}": "Report {year} — {scope}",
    "LLCT trung cấp trở lên": "Intermediate political theory or higher",
    "Trình độ theo nhóm chức danh": "Qualifications by position group",
    "% số người áp dụng": "% of the people it applies to",
    "Không có dữ liệu": "No data",
    "Trình độ chuyên môn theo cấp": "Education by government tier",
}  # fmt: skip


def tr(text: str, lang: str = "vi", **values: Any) -> str:
    """A text of the files in `lang` (a missing English text fails loudly, in the tests)."""
    return (EN[text] if lang == "en" else text).format(**values)


def readable(code: str) -> str:
    """A code nobody gave a label, as words: mass_org_deputy → Mass org deputy."""
    return re.sub(r"[-_]+", " ", code).strip().capitalize() or code


def scope_label(report: Report, lang: str = "vi") -> str:
    return ", ".join(report.scope) if report.scope else tr("Toàn bộ đơn vị", lang)


def file_stem(report: Report, lang: str = "vi") -> str:
    return f"report-{report.year}" if lang == "en" else f"bao-cao-{report.year}"


def sheet_titles(lang: str = "vi") -> list[str]:
    return list(SHEETS_EN if lang == "en" else SHEETS)


def _title(i: int, lang: str) -> str:
    return sheet_titles(lang)[i]


def _number(value: Decimal | None) -> float | None:
    return float(value) if value is not None else None


def _share_format(value: Decimal | None) -> str:
    """Two decimals where the share needs them, as the text shows it: 17.51, 55.4, 25."""
    exponent = value.as_tuple().exponent if value is not None else -1
    return {0: "0", -1: "0.0"}.get(exponent, "0.00") if isinstance(exponent, int) else "0.0"


def _category(code: str, lang: str) -> str:
    return COURSE_CATEGORY.label(code, lang) if code in COURSE_CATEGORY else readable(code)


def group_namer(r: Report, lang: str) -> Callable[[str | None], str]:
    """A position group's label; a group outside the vocabulary takes the name of a position
    of that group, or failing that its code as words."""
    named: dict[str, str] = {}
    rows: list[Breakdown | Holding] = [*r.education.positions, *r.holdings]
    for b in rows:
        if b.group and b.group not in POSITION_GROUP and b.position:
            title = b.name_en if lang == "en" and b.name_en else b.name_vi
            if title:
                named.setdefault(b.group, title)

    def name(group: str | None) -> str:
        if not group or group in POSITION_GROUP:
            return group_label(group, lang)
        return named.get(group) or readable(group)

    return name


def _page(ws: Worksheet, header_row: int) -> None:
    """A4 landscape, one page wide (as many long), the header row on every printed page."""
    ws.page_setup.orientation = ws.ORIENTATION_LANDSCAPE
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    ws.print_title_rows = f"{header_row}:{header_row}"


def _sheet(wb: Workbook, title: str, headers: Sequence[str], widths: Sequence[int]) -> Worksheet:
    ws = wb.create_sheet(title)
    ws.append(list(headers))
    for cell in ws[1]:
        cell.font = BOLD
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for i, width in enumerate(widths, 1):
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.freeze_panes = "A2"
    _page(ws, 1)
    return ws


def _bold_last(ws: Worksheet) -> None:
    for cell in ws[ws.max_row]:
        cell.font = BOLD


def _percent_columns(ws: Worksheet, *columns: int) -> None:
    for row in ws.iter_rows(min_row=2):
        for col in columns:
            row[col - 1].number_format = PERCENT_FORMAT


def _finish(wb: Workbook) -> None:
    """Every text cell stored as text: a unit or course name typed as "=HYPERLINK(…)" must
    never run as a formula in the reader's Excel (the exports in domain.sheets do the same).
    Counts get thousands separators, dates the dd/mm/yyyy format."""
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                value = cell.value
                if isinstance(value, str):
                    set_text(cell, value)
                elif isinstance(value, date):
                    cell.number_format = DATE_FORMAT
                elif isinstance(value, int) and not isinstance(value, bool):
                    if cell.number_format == "General":
                        cell.number_format = COUNT_FORMAT


def workbook(report: Report, lang: str = "vi") -> bytes:
    """The report as an XLSX file, in Vietnamese or ("en") English."""
    wb = Workbook()
    wb.remove(wb.active)
    group = group_namer(report, lang)
    _summary(wb, report, lang)
    ws = _sheet(wb, _title(1, lang),
                [tr(h, lang) for h in ("Mã đơn vị", "Đơn vị", "Chức danh", "Số người")],
                [14, 40, 40, 10])  # fmt: skip
    for h in report.headcount:
        name = (h.name_en or h.name_vi) if lang == "en" else h.name_vi
        ws.append([h.unit_code, h.unit_name, name or group_label(None, lang), h.count])
    ws.append(["", tr("Tổng cộng", lang), "", report.people])
    _bold_last(ws)
    _levels(wb, _title(2, lang), report.education, lang, group)
    _levels(wb, _title(3, lang), report.political, lang, group)
    _holdings(wb, report, lang, group)
    _standards(wb, report, lang)
    _training(wb, report, lang)
    kinds = {k: tr(v, lang) for k, v in SECONDMENT_LABELS.items()}
    ws = _sheet(
        wb, _title(7, lang),
        [tr(h, lang) for h in ("Hình thức", "Đang thực hiện trong năm", "Bắt đầu trong năm",
                               "Kết thúc trong năm")],
        [16, 16, 16, 16],
    )  # fmt: skip
    for s in report.secondments:
        ws.append([kinds.get(s.kind) or readable(s.kind), s.active, s.started, s.ended])
    on = report.as_of.strftime("%d/%m/%Y")
    ws = _sheet(wb, _title(8, lang),
                [tr("Đang thực hiện ngày {date}", lang, date=on),
                 *(tr(h, lang) for h in ("Đơn vị đến", "Đơn vị cử", "Số người",
                                         "Quá hạn họp đánh giá"))],
                [20, 40, 40, 10, 14])  # fmt: skip
    for p in report.postings:
        ws.append([kinds.get(p.kind) or readable(p.kind), p.host, p.home, p.people,
                   p.overdue])  # fmt: skip
    if report.tiers is not None:
        _tiers(wb, report.tiers, lang)
    _finish(wb)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


SUMMARY_HEADER_ROW = 5


def _summary(wb: Workbook, r: Report, lang: str) -> None:
    ws = wb.create_sheet(_title(0, lang))
    ws.append([tr("Báo cáo đào tạo, bồi dưỡng năm {year}", lang, year=r.year)])
    ws["A1"].font = Font(bold=True, size=14)
    ws.append([tr("Phạm vi: {scope}", lang, scope=scope_label(r, lang))])
    ws.append([tr("Số liệu đến ngày", lang), r.as_of])
    ws.append([])
    ws.append([tr(h, lang) for h in ("Chỉ tiêu", "Số lượng", "Tỷ lệ (%)")])
    for cell in ws[ws.max_row]:
        cell.font = BOLD
    for col, width in zip("ABC", (48, 14, 12), strict=True):
        ws.column_dimensions[col].width = width
    _page(ws, SUMMARY_HEADER_ROW)
    t = r.training
    rows: list[tuple[str, Any, Decimal | None]] = [
        ("Số người", r.people, None),
        ("Trình độ chuyên môn đại học trở lên", r.education.total.at_least,
         r.education.total.share),
        ("Lý luận chính trị trung cấp trở lên", r.political.total.at_least,
         r.political.total.share),
        ("Số khóa học", t.total.courses, None),
        ("Lượt đăng ký học", t.total.enrolled, None),
        ("Lượt hoàn thành", t.total.completed, t.total.completion_rate),
        ("Lượt vắng mặt", t.total.no_show, t.total.no_show_rate),
        ("Lượt người được đào tạo, bồi dưỡng", t.participations, t.plan_share),
        ("Số người được đào tạo, bồi dưỡng", t.people_trained, None),
        ("Số giờ đào tạo, bồi dưỡng", t.hours, None),
        ("Kế hoạch năm (lượt người)", t.plan, None),
    ]  # fmt: skip
    lines = [(tr(label, lang), value, share) for label, value, share in rows]
    for s in r.secondments:
        kind = tr(SECONDMENT_LABELS[s.kind], lang) if s.kind in SECONDMENT_LABELS else (
            readable(s.kind))  # fmt: skip
        lines.append((tr("{kind} trong năm", lang, kind=kind), s.active, None))
    for p in t.plans:
        category = _category(p.category, lang)
        category = category if lang == "en" else category.lower()
        lines.append((tr("Kế hoạch {category} (lượt người)", lang, category=category),
                      p.planned, None))  # fmt: skip
        lines.append((tr("Thực hiện {category} (lượt người)", lang, category=category),
                      p.done, p.share))  # fmt: skip
    for label, value, share in lines:
        ws.append([label, value, _number(share)])
        ws.cell(ws.max_row, 3).number_format = PERCENT_FORMAT


def _tiers(wb: Workbook, t: Tiers, lang: str) -> None:
    """People by government tier, then by person type: counts and shares of each level."""
    share = tr("Tỷ lệ (%)", lang)
    headers = [tr("Cấp, loại", lang), tr("Số người", lang), share]
    for name in (*(tr(n, lang) for n in TIER_EDU),
                 *(tr("LLCT {level}", lang, level=tr(n, lang).lower()) for n in TIER_PT)):
        headers += [name, share]  # fmt: skip
    ws = _sheet(wb, _title(9, lang), headers, [24, 10, 10, *([12] * (len(headers) - 3))])
    types = {t.code: (t.en if lang == "en" else t.vi) for t in PERSON_TYPE}
    for rows, labels in (
        (t.tiers, {k: tr(v, lang) for k, v in TIER_LABELS.items()}),
        (t.types, {**types, "": tr("Chưa xác định loại", lang), "total": tr("Tổng cộng", lang)}),
    ):
        for r in rows:
            shares = [t.people_share(r), *(r.edu_share(i) for i in range(len(r.education))),
                      *(r.pt_share(i) for i in range(len(r.political)))]
            counts = [*r.education, *r.political]
            line: list[Any] = [labels.get(r.key) or readable(r.key), r.people, _number(shares[0])]
            for n, value in zip(counts, shares[1:], strict=True):
                line += [n, _number(value)]
            ws.append(line)
            for i, value in enumerate(shares):
                ws.cell(ws.max_row, 3 + 2 * i).number_format = _share_format(value)
        ws.append([])


def _levels(wb: Workbook, title: str, table: LevelTable, lang: str,
            group: Callable[[str | None], str]) -> None:  # fmt: skip
    vocab: Vocab = {"education": EDUCATION, "political_theory": POLITICAL_THEORY}[table.kind]
    level_names = [", ".join(vocab.label(c, lang) for c in lv.codes) for lv in table.levels]
    threshold = (tr(THRESHOLD_LABELS[table.threshold], lang)
                 if table.threshold in THRESHOLD_LABELS
                 else tr("{level} trở lên", lang, level=vocab.label(table.threshold, lang)))
    headers = [tr("Nhóm chức danh", lang), tr("Chức danh", lang), tr("Tổng số", lang),
               *level_names, tr("Chưa có", lang), threshold, tr("Tỷ lệ (%)", lang)]  # fmt: skip
    ws = _sheet(wb, title, headers, [22, 40, 10, *([12] * len(level_names)), 10, 14, 10])

    def put(b: Breakdown, bold: bool = False) -> None:
        if b.position is None:
            name = tr(GROUP_ROW, lang)
        else:
            name = (b.name_en or b.name_vi) if lang == "en" else b.name_vi
        ws.append([group(b.group), name, b.total, *b.counts, b.none, b.at_least,
                   _number(b.share)])  # fmt: skip
        if bold:
            _bold_last(ws)

    for g in table.groups:
        for b in table.positions:
            if b.group == g.group:
                put(b)
        put(g, bold=True)
    ws.append([tr("Tổng cộng", lang), "", table.total.total, *table.total.counts,
               table.total.none, table.total.at_least, _number(table.total.share)])  # fmt: skip
    _bold_last(ws)
    _percent_columns(ws, len(headers))


def _holdings(wb: Workbook, r: Report, lang: str, group: Callable[[str | None], str]) -> None:
    names = [QUALIFICATION_KIND.label(k, lang) for k in HOLDING_KINDS]
    ws = _sheet(wb, _title(4, lang),
                [tr("Nhóm chức danh", lang), tr("Chức danh", lang), tr("Tổng số", lang), *names],
                [22, 40, 10, *([16] * len(names))])  # fmt: skip
    # Like the level sheets: each group's positions, then the group's row; the total last.
    rows = [h for h in r.holdings if h.group != ""]
    groups = [h for h in rows if h.position is None]
    for g in groups:
        for h in rows:
            if h.position is not None and h.group == g.group:
                name = (h.name_en or h.name_vi) if lang == "en" else h.name_vi
                ws.append([group(h.group), name, h.total, *h.counts])
        ws.append([group(g.group), tr(GROUP_ROW, lang), g.total, *g.counts])
        _bold_last(ws)
    total = r.holdings[-1]
    ws.append([tr("Tổng cộng", lang), "", total.total, *total.counts])
    _bold_last(ws)


def _standards(wb: Workbook, r: Report, lang: str) -> None:
    ws = _sheet(
        wb, _title(5, lang),
        [tr(h, lang) for h in (
            "STT", "Tiêu chuẩn", "Hạn đạt chuẩn", "Số người áp dụng", "Đạt", "Tỷ lệ đạt (%)",
            "Chưa đạt, còn hạn", "Chưa đạt, quá hạn", "Chưa đạt, không có hạn")],
        [6, 60, 14, 12, 10, 10, 12, 12, 12],
    )  # fmt: skip
    for n, s in enumerate(r.standards, 1):
        title = (s.title_en or s.title_vi) if lang == "en" else s.title_vi
        ws.append([n, title, s.deadline, s.applicable, s.met, _number(s.share), s.within,
                   s.past, s.open])  # fmt: skip
    _percent_columns(ws, 6)


def _training(wb: Workbook, r: Report, lang: str) -> None:
    ws = _sheet(
        wb, _title(6, lang),
        [tr(h, lang) for h in (
            "Lĩnh vực", "Số khóa học", "Lượt đăng ký", "Có mặt", "Hoàn thành", "Vắng mặt",
            "Tỷ lệ hoàn thành (%)", "Tỷ lệ vắng mặt (%)", "Số giờ (khóa × hoàn thành)")],
        [34, 10, 12, 10, 12, 10, 12, 12, 14],
    )  # fmt: skip
    t = r.training
    for c in (*t.categories, t.total):
        label = tr("Tổng cộng", lang) if c is t.total else _category(c.category, lang)
        ws.append([label, c.courses, c.enrolled, c.attended, c.completed, c.no_show,
                   _number(c.completion_rate), _number(c.no_show_rate), c.hours])  # fmt: skip
    _bold_last(ws)
    _percent_columns(ws, 7, 8)


# -- the chart ----------------------------------------------------------------------------------

STANDARD_PARTS = (
    ("Đạt", "met", "#2e7d32"),
    ("Chưa đạt, còn hạn", "within", "#f9a825"),
    ("Chưa đạt, quá hạn", "past", "#c62828"),
    ("Chưa đạt, không có hạn", "open", "#9e9e9e"),
)
LABEL_MIN = 6.0  # % of a bar: a narrower segment of a stacked bar has no room for its label


def chart(report: Report, lang: str = "vi") -> bytes:
    """A PNG: qualification shares by position group, how each standard is met, and (when
    the report has them) the education bands of each government tier. Each bar is labelled
    with its share; each legend lists only the series drawn."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    groups = [g for g in report.education.groups if g.total]
    rules = [s for s in report.standards if s.applicable]
    tiers = [r for r in report.tiers.tiers[:-1] if r.people] if report.tiers else []
    ratios = [max(len(groups), 1) + 1, max(len(rules), 1)] + ([len(tiers) + 1] if tiers else [])
    fig = Figure(figsize=(10, 3 + 0.45 * (len(groups) + len(rules)) + 0.9 * len(tiers)),
                 dpi=110)  # fmt: skip
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(ratios), 1, height_ratios=ratios)
    fig.suptitle(tr("Báo cáo năm {year} — {scope}", lang, year=report.year,
                    scope=scope_label(report, lang)), fontsize=12)  # fmt: skip
    _group_chart(axes[0], report, groups, lang)
    _standards_chart(axes[1], rules, lang)
    if tiers:
        _tier_chart(axes[2], tiers, lang)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def _group_chart(ax: Any, report: Report, groups: Sequence[Breakdown], lang: str) -> None:
    """Two bars per position group: university or higher, intermediate theory or higher."""
    ax.set_title(tr("Trình độ theo nhóm chức danh", lang), fontsize=10)
    ax.set_xlim(0, 110)
    ax.set_xlabel("%")
    if not groups:
        ax.text(55, 0, tr("Không có dữ liệu", lang), ha="center", va="center")
        ax.set_yticks([])
        return
    name = group_namer(report, lang)
    ys = list(range(len(groups)))
    series = (
        ("Đại học trở lên", [g.share for g in groups], -0.2, "#2e7d32"),
        ("LLCT trung cấp trở lên", [report.political.group(g.group).share for g in groups],
         0.2, "#1565c0"),
    )  # fmt: skip
    for label, shares, offset, color in series:
        at = [y + offset for y in ys]
        ax.barh(at, [float(v or 0) for v in shares], height=0.4, label=tr(label, lang),
                color=color)  # fmt: skip
        for y, v in zip(at, shares, strict=True):
            ax.text(float(v or 0) + 1, y, share_label(v, lang), va="center", fontsize=8)
    ax.set_yticks(ys, [_wrap(f"{name(g.group)} ({_count(g.total, lang)})") for g in groups])
    ax.invert_yaxis()
    ax.legend(loc="lower right", fontsize=8)


def _standards_chart(ax: Any, rules: Sequence[Any], lang: str) -> None:
    """One stacked bar per standard: met, not yet, past the deadline, no deadline."""
    ax.set_title(tr("Tiêu chuẩn", lang), fontsize=10)
    ax.set_xlim(0, 112)
    ax.set_xlabel(tr("% số người áp dụng", lang))
    if not rules:
        ax.text(56, 0, tr("Không có dữ liệu", lang), ha="center", va="center")
        ax.set_yticks([])
        return
    ys = list(range(len(rules)))
    left = [0.0] * len(rules)
    drawn = 0
    for name, attr, color in STANDARD_PARTS:
        counts = [getattr(s, attr) for s in rules]
        if not any(counts):
            continue  # nothing to draw: not in the legend either
        widths = [100 * n / s.applicable for n, s in zip(counts, rules, strict=True)]
        ax.barh(ys, widths, left=left, label=tr(name, lang), color=color)
        for y, x, w, n, s in zip(ys, left, widths, counts, rules, strict=True):
            if n and w >= LABEL_MIN and attr != "met":
                ax.text(x + w / 2, y, share_label(percent(n, s.applicable), lang), ha="center",
                        va="center", fontsize=7)  # fmt: skip
        left = [a + b for a, b in zip(left, widths, strict=True)]
        drawn += 1
    for y, s in zip(ys, rules, strict=True):  # the share met, at the end of each bar
        ax.text(101, y, share_label(s.share, lang), va="center", fontsize=8)
    ax.set_yticks(ys, [_wrap((s.title_en or s.title_vi) if lang == "en" else s.title_vi, 45)
                       for s in rules])  # fmt: skip
    ax.invert_yaxis()
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, -0.5), ncol=drawn, fontsize=8)


def _tier_chart(ax: Any, tiers: Sequence[TierRow], lang: str) -> None:
    """Each tier's qualification bands, each bar labelled with its share (17,51%)."""
    colors = ("#1b5e20", "#2e7d32", "#66bb6a", "#c5e1a5")
    ys = list(range(len(tiers)))
    height = 0.8 / len(TIER_EDU[:4])
    for i, (name, color) in enumerate(zip(TIER_EDU[:4], colors, strict=True)):
        if not any(r.education[i] for r in tiers):
            continue  # a band nobody holds: no bar, no legend entry
        shares = [r.edu_share(i) or Decimal(0) for r in tiers]
        offsets = [y - 0.4 + height * (i + 0.5) for y in ys]
        ax.barh(offsets, [float(v) for v in shares], height=height, label=tr(name, lang),
                color=color)  # fmt: skip
        for y, v in zip(offsets, shares, strict=True):
            ax.text(float(v) + 1, y, share_label(v, lang), va="center", fontsize=7)
    ax.set_yticks(ys, [f"{tr(TIER_LABELS[r.key], lang)} ({_count(r.people, lang)})"
                       for r in tiers])  # fmt: skip
    ax.invert_yaxis()
    ax.set_xlim(0, 110)
    ax.set_xlabel("%")
    ax.set_title(tr("Trình độ chuyên môn theo cấp", lang), fontsize=10)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="lower right", fontsize=7)


def share_label(value: Decimal | None, lang: str = "vi") -> str:
    """A share as the chart labels it, with the decimals the text shows (17,51%, 70,9%; in
    English 17.51%)."""
    if value is None:
        return "—"
    text = f"{value:f}"
    return (text if lang == "en" else text.replace(".", ",")) + "%"


def _count(n: int, lang: str) -> str:
    return format_decimal(n, locale=lang)  # 24.088 / 24,088


def _wrap(text: str, width: int = 30) -> str:
    return "\n".join(textwrap.wrap(text, width)) or text
