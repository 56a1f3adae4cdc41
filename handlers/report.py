"""/report [YEAR]: an organizer's yearly report of their units, as a summary (HTML) followed
by an XLSX workbook and a chart (PNG). The summary is also what `boiduong report` prints.

A channel that carries no files (Zalo) gets the summary and where to get the files: /report
on Telegram, or `boiduong report` on the command line (an administrator).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from decimal import Decimal
from html import escape

from babel.numbers import format_decimal
from sqlalchemy.ext.asyncio import AsyncSession

from domain import report_files, reports
from domain.reports import Breakdown, LevelTable, Report
from domain.roles import Scope
from domain.tiers import Tiers
from domain.vocab import PERSON_TYPE
from handlers.core import Ctx, File, Say
from handlers.guard import Refused, allowed, guarded
from handlers.render import label
from locales import Translator

MESSAGE_LIMIT = 4000  # Telegram's 4,096 less some room for entities
YEARS = range(2000, 2101)
POSTINGS_SHOWN = 10  # host/home pairs in the chat summary; the XLSX lists them all


def number(t: Translator, n: int) -> str:
    """A count the local way: 26.236 in Vietnamese, 26,236 in English."""
    return format_decimal(n, locale=t.lang)


def pct(t: Translator, value: Decimal | None) -> str:
    """A percentage with one decimal and the local decimal mark: 70,9% / 70.9%."""
    return "—" if value is None else format_decimal(value, format="0.0", locale=t.lang) + "%"


def pct2(t: Translator, value: Decimal | None) -> str:
    """A share with two decimals where it needs them, as the XLSX shows it: 17,51% / 55,4%."""
    return "—" if value is None else format_decimal(value, format="0.##", locale=t.lang) + "%"


def _tiers(t: Translator, tiers: Tiers) -> list[str]:
    """People by government tier (with each level band's share) and by person type."""
    _ = t.gettext
    names = {"province": _("Provincial level"), "district": _("District level"),
             "commune": _("Commune level"), "": _("Tier not set")}  # fmt: skip

    def part(n: int, value: Decimal | None) -> str:
        return f"{number(t, n)} ({pct2(t, value)})"

    lines = ["", "<b>" + _("By government tier") + "</b>"]
    for row in tiers.tiers[:-1]:
        e = [part(row.education[i], row.edu_share(i)) for i in range(4)]
        p = [part(row.political[i], row.pt_share(i)) for i in range(2)]
        lines.append(f"• {names[row.key]}: {part(row.people, tiers.people_share(row))}")
        lines.append("   " + _("postgraduate %(pg)s, university %(uni)s, college or vocational "
                               "%(col)s, elementary %(el)s") % dict(zip(
                                   ("pg", "uni", "col", "el"), e, strict=True)))  # fmt: skip
        lines.append("   " + _("political theory: advanced %(adv)s, intermediate %(mid)s")
                     % {"adv": p[0], "mid": p[1]})  # fmt: skip
    lines += ["", "<b>" + _("By type") + "</b>"]
    for row in tiers.types[:-1]:
        label = PERSON_TYPE.label(row.key, t.lang) if row.key else _("Type not set")
        lines.append(f"• {escape(label)}: {part(row.people, tiers.people_share(row))}")
    return lines


def share(t: Translator, part: int, whole: int, value: Decimal | None) -> str:
    return f"{number(t, part)}/{number(t, whole)} ({pct(t, value)})"


def _name(t: Translator, b: Breakdown, group: Callable[[str | None], str]) -> str:
    if b.position is None:  # a whole group
        if b.group is None:
            return t.gettext("No position")
        return group(b.group)
    if not b.position:
        return t.gettext("No position")
    return b.name_en if t.lang == "en" else b.name_vi


def _levels(
    t: Translator, title: str, table: LevelTable, positions: bool,
    namer: Callable[[str | None], str],
) -> list[str]:  # fmt: skip
    total = table.total
    lines = ["", f"<b>{title}</b>: {share(t, total.at_least, total.total, total.share)}"]
    for row in table.groups:
        lines.append(
            f"• {escape(_name(t, row, namer))}: {share(t, row.at_least, row.total, row.share)}"
        )
        members = [b for b in table.positions if b.group == row.group]
        if positions and len(members) > 1:
            lines += [
                f"   – {escape(_name(t, b, namer))}: {share(t, b.at_least, b.total, b.share)}"
                for b in members
            ]
    return lines


def summary_text(t: Translator, report: Report, *, positions: bool = True) -> str:
    """The chat summary (HTML); without the per-position lines when it would be too long."""
    _ = t.gettext
    scope = ", ".join(report.scope) or _("all units")
    lines = [
        _("📊 <b>Training report %(year)s</b>: %(scope)s")
        % {"year": report.year, "scope": escape(scope)},
        _("Roster as of %(date)s; people: %(n)s")
        % {"date": t.date(report.as_of), "n": number(t, report.people)},
    ]
    if report.tiers is not None and report.people:
        lines += _tiers(t, report.tiers)
    group = report_files.group_namer(report, t.lang)
    lines += _levels(t, _("University degree or higher"), report.education, positions, group)
    lines += _levels(t, _("Intermediate political theory or higher"), report.political,
                     positions, group)  # fmt: skip
    lines += ["", "<b>" + _("Standards") + "</b>"]
    for s in report.standards:
        if not s.applicable:
            continue
        title = s.title_en if t.lang == "en" and s.title_en else s.title_vi
        parts = [
            _("%(title)s: %(share)s met")
            % {"title": escape(title), "share": share(t, s.met, s.applicable, s.share)}
        ]
        if s.within:
            parts.append(_("%(n)s not yet, deadline %(date)s") % {
                "n": number(t, s.within), "date": t.date(s.deadline)})  # fmt: skip
        if s.past:
            parts.append(_("%(n)s past the deadline %(date)s") % {
                "n": number(t, s.past), "date": t.date(s.deadline)})  # fmt: skip
        if s.open:
            parts.append(_("%(n)s not yet, no deadline") % {"n": number(t, s.open)})
        lines.append("• " + "; ".join(parts))
    lines += _training(t, report)
    kinds = {"secondment": _("Secondments"), "rotation": _("Rotations")}
    lines.append("")
    for row in report.secondments:
        lines.append(
            _("%(kind)s: %(active)s under way this year, %(started)s started, %(ended)s ended")
            % {"kind": escape(kinds.get(row.kind, row.kind)), "active": number(t, row.active),
               "started": number(t, row.started), "ended": number(t, row.ended)}
        )  # fmt: skip
    for p in report.postings[:POSTINGS_SHOWN]:
        line = _("%(kind)s to %(host)s from %(home)s: %(n)s") % {
            "kind": escape(kinds.get(p.kind, p.kind)), "host": escape(p.host),
            "home": escape(p.home or "—"), "n": number(t, p.people)}  # fmt: skip
        if p.overdue:
            line += "; " + t.ngettext("%(n)s review meeting overdue",
                                      "%(n)s review meetings overdue",
                                      p.overdue) % {"n": number(t, p.overdue)}  # fmt: skip
        lines.append("• " + line)
    text = "\n".join(lines)
    if len(text) > MESSAGE_LIMIT and positions:
        return summary_text(t, report, positions=False)
    return text[:MESSAGE_LIMIT]


def _training(t: Translator, report: Report) -> list[str]:
    _ = t.gettext
    tr, total = report.training, report.training.total
    lines = [
        "",
        _("<b>Training in %(year)s</b>") % {"year": report.year},
        _("Courses: %(courses)s; enrolments: %(enrolled)s")
        % {"courses": number(t, total.courses), "enrolled": number(t, total.enrolled)},
        _("Completed: %(completed)s (%(rate)s); no-shows: %(no_show)s (%(no_show_rate)s)")
        % {"completed": number(t, total.completed), "rate": pct(t, total.completion_rate),
           "no_show": number(t, total.no_show), "no_show_rate": pct(t, total.no_show_rate)},
        _("Trained: %(n)s participations by %(people)s people, %(hours)s hours")
        % {"n": number(t, tr.participations), "people": number(t, tr.people_trained),
           "hours": number(t, tr.hours)},
    ]  # fmt: skip
    if tr.plan:
        lines.append(
            _("Yearly plan: %(plan)s participations; %(share)s done")
            % {"plan": number(t, tr.plan), "share": pct(t, tr.plan_share)}
        )
    for p in tr.plans:
        lines.append(
            "• " + _("%(category)s: %(done)s of %(plan)s planned (%(share)s)")
            % {"category": escape(label(t, p.category)), "done": number(t, p.done),
               "plan": number(t, p.planned), "share": pct(t, p.share)}
        )  # fmt: skip
    return lines


def parse_year(args: Sequence[str], default: int) -> int | None:
    if not args:
        return default
    year = args[0].strip()
    return int(year) if len(args) == 1 and year.isdigit() and int(year) in YEARS else None


async def report(ctx: Ctx, arg: str) -> list[Say]:
    """The organizer's yearly report: a summary, then the workbook and the chart."""
    _, settings = ctx._, ctx.settings
    today = ctx.now.astimezone(settings.tz).date()
    year = parse_year(arg.split(), today.year)
    if year is None:
        gate = await allowed(ctx, "report")
        if isinstance(gate, Refused):
            return gate.said()
        return [Say(_("Usage: /report [YEAR], e.g. /report %(year)s") % {"year": today.year})]

    async def build(session: AsyncSession, scope: Scope) -> Report:
        return await reports.for_organizer(
            session, person_id=scope.person_id, year=year, as_of=today, tz=settings.tz,
            hours_target=settings.annual_hours_target,
        )  # fmt: skip

    result = await guarded(ctx, "report", build)
    if isinstance(result, Refused):
        return result.said()
    summary = Say(summary_text(ctx.t, result))
    if not ctx.files:  # nothing drawn that the channel cannot carry
        return [summary, Say(_("The workbook (XLSX) and the chart are files, which this chat "
                               "cannot carry: send /report on Telegram, or run <code>boiduong "
                               "report</code> on the command line."))]  # fmt: skip
    # Drawing takes a moment of CPU: off the event loop, so other users are answered meanwhile.
    # The files are in the user's language, like the summary.
    lang = ctx.t.lang
    book, png = await asyncio.gather(
        asyncio.to_thread(report_files.workbook, result, lang),
        asyncio.to_thread(report_files.chart, result, lang),
    )
    stem = report_files.file_stem(result, lang)
    return [
        summary,
        Say(file=File(f"{stem}.xlsx", book, _("Report workbook, one sheet per table"))),
        Say(file=File(f"{stem}.png", png, _("Chart"))),
    ]
