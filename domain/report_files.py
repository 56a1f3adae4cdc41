"""A report as files: an XLSX workbook (one sheet per table, Vietnamese headers) and a PNG chart.

The files are official paperwork for the province, so they are in Vietnamese whatever the
language of the chat that asked for them. Percentages are written as the numbers the chat
shows (70.9, not 0.709...), so what an organizer reads in chat is what the workbook holds.

The chart is drawn with matplotlib's object API on the Agg canvas: no pyplot, no display, no
global state, so it can run in a worker thread beside the bot.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from domain.reports import (
    HOLDING_KINDS,
    Breakdown,
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
SECONDMENT_LABELS = {"secondment": "Biệt phái", "rotation": "Luân chuyển"}
GROUP_ROW = "Cộng nhóm"  # the row that sums a group's positions
THRESHOLD_LABELS = {"dai_hoc": "Đại học trở lên", "trung_cap": "Trung cấp trở lên"}


def scope_label(report: Report) -> str:
    return ", ".join(report.scope) if report.scope else "Toàn bộ đơn vị"


def file_stem(report: Report) -> str:
    return f"bao-cao-{report.year}"


def _number(value: Decimal | None) -> float | None:
    return float(value) if value is not None else None


def _date(value: date | None) -> str:
    return value.strftime("%d/%m/%Y") if value else ""


def _sheet(wb: Workbook, title: str, headers: Sequence[str], widths: Sequence[int]) -> Worksheet:
    ws = wb.create_sheet(title)
    ws.append(list(headers))
    for cell in ws[1]:
        cell.font = BOLD
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for i, width in enumerate(widths, 1):
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.freeze_panes = "A2"
    return ws


def _bold_last(ws: Worksheet) -> None:
    for cell in ws[ws.max_row]:
        cell.font = BOLD


def _percent_columns(ws: Worksheet, *columns: int) -> None:
    for row in ws.iter_rows(min_row=2):
        for col in columns:
            row[col - 1].number_format = PERCENT_FORMAT


def _as_text(wb: Workbook) -> None:
    """Every text cell stored as text: a unit or course name typed as "=HYPERLINK(…)" must
    never run as a formula in the reader's Excel (the exports in domain.sheets do the same)."""
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if isinstance(cell.value, str):
                    set_text(cell, cell.value)


def workbook(report: Report) -> bytes:
    """The report as an XLSX file."""
    wb = Workbook()
    wb.remove(wb.active)
    _summary(wb, report)
    ws = _sheet(wb, SHEETS[1], ["Mã đơn vị", "Đơn vị", "Chức danh", "Số người"], [14, 40, 40, 10])
    for h in report.headcount:
        ws.append([h.unit_code, h.unit_name, h.name_vi or group_label(None), h.count])
    ws.append(["", "Tổng cộng", "", report.people])
    _bold_last(ws)
    _levels(wb, SHEETS[2], report.education, EDUCATION_LABEL)
    _levels(wb, SHEETS[3], report.political, POLITICAL_LABEL)
    _holdings(wb, report)
    _standards(wb, report)
    _training(wb, report)
    ws = _sheet(
        wb, SHEETS[7],
        ["Hình thức", "Đang thực hiện trong năm", "Bắt đầu trong năm", "Kết thúc trong năm"],
        [16, 16, 16, 16],
    )  # fmt: skip
    for s in report.secondments:
        ws.append([SECONDMENT_LABELS.get(s.kind, s.kind), s.active, s.started, s.ended])
    ws = _sheet(wb, SHEETS[8], [f"Đang thực hiện ngày {_date(report.as_of)}", "Đơn vị đến",
                                 "Đơn vị cử", "Số người", "Quá hạn họp đánh giá"],
                [20, 40, 40, 10, 14])  # fmt: skip
    for p in report.postings:
        ws.append([SECONDMENT_LABELS.get(p.kind, p.kind), p.host, p.home, p.people,
                   p.overdue])  # fmt: skip
    if report.tiers is not None:
        _tiers(wb, report.tiers)
    _as_text(wb)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


EDUCATION_LABEL = "Trình độ chuyên môn"
POLITICAL_LABEL = "Lý luận chính trị"


def _summary(wb: Workbook, r: Report) -> None:
    ws = wb.create_sheet(SHEETS[0])
    ws.append([f"Báo cáo đào tạo, bồi dưỡng năm {r.year}"])
    ws["A1"].font = Font(bold=True, size=14)
    ws.append([f"Phạm vi: {scope_label(r)}"])
    ws.append([f"Số liệu đến ngày {_date(r.as_of)}"])
    ws.append([])
    ws.append(["Chỉ tiêu", "Số lượng", "Tỷ lệ (%)"])
    for cell in ws[ws.max_row]:
        cell.font = BOLD
    for col, width in zip("ABC", (48, 14, 12), strict=True):
        ws.column_dimensions[col].width = width
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
    for s in r.secondments:
        rows.append((SECONDMENT_LABELS.get(s.kind, s.kind) + " trong năm", s.active, None))
    for p in t.plans:
        rows.append((f"Kế hoạch {COURSE_CATEGORY.label(p.category).lower()} (lượt người)",
                     p.planned, None))
        rows.append((f"Thực hiện {COURSE_CATEGORY.label(p.category).lower()} (lượt người)",
                     p.done, p.share))  # fmt: skip
    for label, value, share in rows:
        ws.append([label, value, _number(share)])
        ws.cell(ws.max_row, 3).number_format = PERCENT_FORMAT


TIER_LABELS = {"province": "Cấp tỉnh", "district": "Cấp huyện", "commune": "Cấp xã",
               "": "Chưa xác định cấp", "total": "Tổng cộng"}  # fmt: skip
TYPE_LABELS = {**{t.code: t.vi for t in PERSON_TYPE}, "": "Chưa xác định loại",
               "total": "Tổng cộng"}  # fmt: skip
TIER_EDU = ("Sau đại học", "Đại học", "Cao đẳng, trung cấp", "Sơ cấp", "Chưa qua đào tạo")
TIER_PT = ("Cao cấp, cử nhân", "Trung cấp", "Sơ cấp", "Chưa có")
SHARE_FORMAT = "0.##"  # two decimals where the figure needs them: 17.51, 55.4


def _tiers(wb: Workbook, t: Tiers) -> None:
    """People by government tier, then by person type: counts and shares of each level."""
    headers = ["", "Số người", "Tỷ lệ (%)"]
    for name in (*TIER_EDU, *(f"LLCT {n.lower()}" for n in TIER_PT)):
        headers += [name, "Tỷ lệ (%)"]
    ws = _sheet(wb, SHEETS[9], headers, [24, 10, 10, *([12] * (len(headers) - 3))])
    for rows, labels in ((t.tiers, TIER_LABELS), (t.types, TYPE_LABELS)):
        for r in rows:
            line: list[Any] = [labels.get(r.key, r.key), r.people, _number(t.people_share(r))]
            for i, n in enumerate(r.education):
                line += [n, _number(r.edu_share(i))]
            for i, n in enumerate(r.political):
                line += [n, _number(r.pt_share(i))]
            ws.append(line)
            for col in range(3, len(line) + 1, 2):
                ws.cell(ws.max_row, col).number_format = SHARE_FORMAT
        ws.append([])


def _levels(wb: Workbook, title: str, table: LevelTable, kind_label: str) -> None:
    vocab: Vocab = {"education": EDUCATION, "political_theory": POLITICAL_THEORY}[table.kind]
    level_names = [", ".join(vocab.label(c) for c in lv.codes) for lv in table.levels]
    headers = ["Nhóm chức danh", "Chức danh", "Tổng số", *level_names, "Chưa có",
               THRESHOLD_LABELS.get(table.threshold, table.threshold), "Tỷ lệ (%)"]  # fmt: skip
    ws = _sheet(wb, title, headers, [22, 40, 10, *([12] * len(level_names)), 10, 14, 10])

    def put(b: Breakdown, bold: bool = False) -> None:
        name = GROUP_ROW if b.position is None else b.name_vi
        ws.append([group_label(b.group), name, b.total, *b.counts, b.none, b.at_least,
                   _number(b.share)])  # fmt: skip
        if bold:
            _bold_last(ws)

    for group in table.groups:
        for b in table.positions:
            if b.group == group.group:
                put(b)
        put(group, bold=True)
    ws.append(["Tổng cộng", "", table.total.total, *table.total.counts, table.total.none,
               table.total.at_least, _number(table.total.share)])  # fmt: skip
    _bold_last(ws)
    _percent_columns(ws, len(headers))


def _holdings(wb: Workbook, r: Report) -> None:
    names = [QUALIFICATION_KIND.label(k) for k in HOLDING_KINDS]
    ws = _sheet(wb, SHEETS[4], ["Nhóm chức danh", "Chức danh", "Tổng số", *names],
                [22, 40, 10, *([16] * len(names))])  # fmt: skip
    # Like the level sheets: each group's positions, then the group's row; the total last.
    rows = [h for h in r.holdings if h.group != ""]
    groups = [h for h in rows if h.position is None]
    for group in groups:
        for h in rows:
            if h.position is not None and h.group == group.group:
                ws.append([group_label(h.group), h.name_vi, h.total, *h.counts])
        ws.append([group_label(group.group), GROUP_ROW, group.total, *group.counts])
        _bold_last(ws)
    total = r.holdings[-1]
    ws.append(["Tổng cộng", "", total.total, *total.counts])
    _bold_last(ws)


def _standards(wb: Workbook, r: Report) -> None:
    ws = _sheet(
        wb, SHEETS[5],
        ["Mã", "Tiêu chuẩn", "Hạn đạt chuẩn", "Số người áp dụng", "Đạt", "Tỷ lệ đạt (%)",
         "Chưa đạt, còn hạn", "Chưa đạt, quá hạn", "Chưa đạt, không có hạn"],
        [26, 50, 14, 12, 10, 10, 12, 12, 12],
    )  # fmt: skip
    for s in r.standards:
        ws.append([s.code, s.title_vi, _date(s.deadline), s.applicable, s.met, _number(s.share),
                   s.within, s.past, s.open])  # fmt: skip
    _percent_columns(ws, 6)


def _training(wb: Workbook, r: Report) -> None:
    ws = _sheet(
        wb, SHEETS[6],
        ["Lĩnh vực", "Số khóa học", "Lượt đăng ký", "Có mặt", "Hoàn thành", "Vắng mặt",
         "Tỷ lệ hoàn thành (%)", "Tỷ lệ vắng mặt (%)", "Số giờ (khóa × hoàn thành)"],
        [34, 10, 12, 10, 12, 10, 12, 12, 14],
    )  # fmt: skip
    t = r.training
    for c in (*t.categories, t.total):
        label = "Tổng cộng" if c is t.total else (
            COURSE_CATEGORY.label(c.category) if c.category in COURSE_CATEGORY else c.category
        )  # fmt: skip
        ws.append([label, c.courses, c.enrolled, c.attended, c.completed, c.no_show,
                   _number(c.completion_rate), _number(c.no_show_rate), c.hours])  # fmt: skip
    _bold_last(ws)
    _percent_columns(ws, 7, 8)


# -- the chart ----------------------------------------------------------------------------------


def chart(report: Report) -> bytes:
    """A PNG: qualification shares by position group, and how each standard is met."""
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
    top, bottom = axes[0], axes[1]
    if tiers:
        _tier_chart(axes[2], tiers)
    fig.suptitle(f"Báo cáo năm {report.year} — {scope_label(report)}", fontsize=12)

    labels = [_wrap(f"{group_label(g.group)} ({g.total})") for g in groups]
    edu = [float(g.share or 0) for g in groups]
    political = [float(report.political.group(g.group).share or 0) for g in groups]
    ys = list(range(len(groups)))
    top.barh([y - 0.2 for y in ys], edu, height=0.4, label="Đại học trở lên", color="#2e7d32")
    top.barh([y + 0.2 for y in ys], political, height=0.4, label="LLCT trung cấp trở lên",
             color="#1565c0")  # fmt: skip
    for y, a, b in zip(ys, edu, political, strict=True):
        top.text(a + 1, y - 0.2, _pct(a), va="center", fontsize=8)
        top.text(b + 1, y + 0.2, _pct(b), va="center", fontsize=8)
    top.set_yticks(ys, labels)
    top.invert_yaxis()
    top.set_xlim(0, 110)
    top.set_xlabel("%")
    top.set_title("Trình độ theo nhóm chức danh", fontsize=10)
    top.legend(loc="lower right", fontsize=8)

    parts = (
        ("Đạt", "met", "#2e7d32"),
        ("Chưa đạt, còn hạn", "within", "#f9a825"),
        ("Chưa đạt, quá hạn", "past", "#c62828"),
        ("Chưa đạt, không có hạn", "open", "#9e9e9e"),
    )
    ys = list(range(len(rules)))
    left = [0.0] * len(rules)
    for name, attr, color in parts:
        widths = [100 * getattr(s, attr) / s.applicable for s in rules]
        bottom.barh(ys, widths, left=left, label=name, color=color)
        left = [a + b for a, b in zip(left, widths, strict=True)]
    bottom.set_yticks(ys, [_wrap(s.title_vi, 45) for s in rules])
    bottom.invert_yaxis()
    bottom.set_xlim(0, 100)
    bottom.set_xlabel("% số người áp dụng")
    bottom.set_title("Tiêu chuẩn", fontsize=10)
    bottom.legend(loc="lower center", bbox_to_anchor=(0.5, -0.5), ncol=4, fontsize=8)
    if not groups:
        top.text(50, 0, "Không có dữ liệu", ha="center")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def _tier_chart(ax: Any, tiers: Sequence[TierRow]) -> None:
    """Each tier's qualification bands, each bar labelled with its share (17,51%)."""
    colors = ("#1b5e20", "#2e7d32", "#66bb6a", "#c5e1a5")
    ys = list(range(len(tiers)))
    height = 0.8 / len(TIER_EDU[:4])
    for i, (name, color) in enumerate(zip(TIER_EDU[:4], colors, strict=True)):
        shares = [r.edu_share(i) or Decimal(0) for r in tiers]
        offsets = [y - 0.4 + height * (i + 0.5) for y in ys]
        ax.barh(offsets, [float(v) for v in shares], height=height, label=name, color=color)
        for y, v in zip(offsets, shares, strict=True):
            ax.text(float(v) + 1, y, share_label(v), va="center", fontsize=7)
    ax.set_yticks(ys, [f"{TIER_LABELS[r.key]} ({r.people:,})".replace(",", ".") for r in tiers])
    ax.invert_yaxis()
    ax.set_xlim(0, 110)
    ax.set_xlabel("%")
    ax.set_title("Trình độ chuyên môn theo cấp", fontsize=10)
    ax.legend(loc="lower right", fontsize=7)


def share_label(value: Decimal | None) -> str:
    """A share as the chart labels it, with the text's two decimals where needed: 17,51%."""
    return "—" if value is None else f"{value:f}".replace(".", ",") + "%"


def _wrap(text: str, width: int = 30) -> str:
    return "\n".join(textwrap.wrap(text, width)) or text


def _pct(value: float) -> str:
    return f"{value:.1f}".replace(".", ",") + "%"
