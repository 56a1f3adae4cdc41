"""An organizer sends a courses spreadsheet: a dry-run summary first, then an Import choice.

The same template and all-or-nothing checks as `boiduong import courses`; rows about courses
of units outside the organizer's scope are refused like bad rows. The file is fetched again
on confirmation (`Fetch`, from the channel), so nothing is kept between the two steps but the
channel's reference to it, in the chat's dialog row. Zalo bots receive no documents: courses
are imported on Telegram and on the command line.
"""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import Callable
from datetime import timedelta
from html import escape
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from domain import course_admin
from domain.course_admin import ImportOutcome
from domain.import_rows import RowError
from domain.roles import Scope
from domain.sheets import MAX_FILE_BYTES, SheetError
from handlers import actions as cb
from handlers import sheets
from handlers.core import Choice, Ctx, DownloadFailed, Fetch, Say, Upload
from handlers.guard import Refused, allowed, guarded
from handlers.organizer import organizer_refusal
from locales import Translator

ACTION = "course_import"
# The previewed file, waiting for Import. Not a typed step: text typed meanwhile is answered
# as usual; another step, or another file, replaces it.
PENDING = "courseimport.pending"
PENDING_TTL = timedelta(hours=1)
SHOWN_ERRORS = 20
SUFFIXES = ("xlsx", "xlsm", "xls", "ods", "csv")


def _problems(t: Translator) -> dict[str, str]:
    _ = t.gettext
    return {
        "required": _("required value missing"),
        "too_long": _("too long"),
        "bad_date": _("bad date, use dd/mm/yyyy HH:MM"),
        "bad_number": _("not a whole number"),
        "bad_link": _("a link must start with https://"),
        "bad_sessions": _("sessions must look like dd/mm/yyyy HH:MM-HH:MM"),
        "unknown_value": _("not one of the allowed values"),
        "unknown_unit": _("unknown unit"),
        "ambiguous_unit": _("several units have this name; use the code"),
        "unknown_audience": _("neither a group nor a position"),
        "duplicate_in_file": _("the same code twice in the file"),
        "end_before_start": _("ends before it starts"),
        "session_outside_course": _("session outside the course's dates"),
        "deadline_after_end": _("deadline after the course ends"),
    }


def _error_line(t: Translator, e: RowError) -> str:
    problem = _problems(t).get(e.code, e.code)
    value = f" «{escape(e.value)}»" if e.value else ""
    return (
        t.gettext("Row %(row)d, %(column)s: %(problem)s")
        % {"row": e.row, "column": escape(e.column), "problem": escape(problem)}
        + value
    )


def _summary(t: Translator, outcome: ImportOutcome) -> str:
    _ = t.gettext
    r = outcome.report
    if outcome.ok:
        head = _("✅ Imported.") if r.written else _("The file is correct. Nothing is written yet.")
        text = (
            head
            + "\n"
            + _("%(rows)d rows: %(created)d new courses, %(updated)d updated, %(same)d unchanged.")
            % {
                "rows": r.total_rows,
                "created": r.created,
                "updated": r.updated,
                "same": r.unchanged,
            }
        )
        if r.notified:
            text += "\n" + _("%(n)d registrants will be told of changed times or places.") % {
                "n": r.notified
            }
        return text
    lines = [_("❌ Nothing was imported. Please fix these rows and send the file again:")]
    lines += [
        _(
            "Row %(row)d: this course belongs to a unit you do not organize for (or names "
            "no organizer unit)."
        )
        % {"row": row}
        for row in outcome.forbidden_rows
    ]
    lines += [_error_line(t, e) for e in r.errors]
    if len(lines) > SHOWN_ERRORS + 1:
        more = len(lines) - SHOWN_ERRORS - 1
        lines = [*lines[: SHOWN_ERRORS + 1], _("… and %(n)d more.") % {"n": more}]
    return "\n".join(lines)


def _error_rows(t: Translator, outcome: ImportOutcome) -> list[sheets.ErrorRow]:
    problems = _problems(t)
    forbidden = t.gettext("a course of a unit you do not organize for")
    rows = [(row, "", "", forbidden) for row in outcome.forbidden_rows]
    rows += [
        (e.row, e.column, e.value, problems.get(e.code, e.code)) for e in outcome.report.errors
    ]
    return sorted(rows)


async def _run(
    ctx: Ctx, ref: str, name: str, fetch: Fetch, *, dry_run: bool
) -> ImportOutcome | list[Say]:
    """Fetch the file and import it (or try it) in one guarded transaction; what to say
    instead when it cannot be read or is refused."""
    try:
        sheet = await fetch(MAX_FILE_BYTES)
    except DownloadFailed as exc:
        if exc.reason != DownloadFailed.TOO_LARGE:
            raise
        return [Say(sheets.too_large_text(ctx.t))]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / (Path(name).name or "courses.xlsx")
        path.write_bytes(sheet.content)

        async def load(session: AsyncSession, scope: Scope) -> ImportOutcome:
            return await course_admin.import_file(
                session, person_id=scope.person_id, path=path, dry_run=dry_run, now=ctx.now,
                policy=ctx.settings.reminder_policy(),
            )

        try:
            await sheets.check(path)
            outcome = await guarded(ctx, ACTION, load, words=organizer_refusal)
        except SheetError as error:
            text = sheets.limit_text(ctx.t, error) or ctx._(
                "I cannot read this file as a list of courses. Please use the courses "
                "template (XLSX) with its header row."
            )
            return [Say(text)]
    return outcome.said() if isinstance(outcome, Refused) else outcome


async def upload(ctx: Ctx, sent: Upload) -> list[Say]:
    """Check a courses file and offer to import it."""
    ref, name, fetch = sent.file_id, sent.name, sent.fetch
    assert fetch is not None  # a channel that takes documents fetches them
    gate = await allowed(ctx, ACTION)
    if isinstance(gate, Refused):
        return gate.said()
    outcome = await _run(ctx, ref, name, fetch, dry_run=True)
    if isinstance(outcome, list):
        return outcome
    choices = []
    if outcome.ok and (outcome.report.created or outcome.report.updated):
        token = str(secrets.randbelow(10**9))
        pending = {"token": token, "ref": ref, "name": name}
        ctx.dialogs.owe(ctx.chat_id, PENDING, ctx.now, pending, ttl=PENDING_TTL)
        choices = [
            Choice(ctx._("✅ Import"), cb.build(cb.ORG_IMPORT, token)),
            Choice(ctx._("Cancel"), cb.build(cb.DISMISS), joined=True),
        ]
    says = [Say(_summary(ctx.t, outcome), choices)]
    errors = _error_rows(ctx.t, outcome)
    if len(errors) > SHOWN_ERRORS:
        says.append(Say(file=await sheets.error_list(ctx.t, errors, "loi-khoa-hoc")))
    return says


async def confirm(ctx: Ctx, token: str, fetch_of: Callable[[str], Fetch]) -> list[Say]:
    """Import the previewed file: all rows or none, checked again now."""
    gate = await allowed(ctx, ACTION)
    if isinstance(gate, Refused):
        return gate.shown()
    pending = ctx.dialog
    if pending.expect != PENDING or pending.data.get("token") != token:
        return [Say(alert=ctx._("This button is no longer valid."))]
    ref, name = str(pending.data["ref"]), str(pending.data["name"])
    ctx.expect(None)
    outcome = await _run(ctx, ref, name, fetch_of(ref), dry_run=False)
    if isinstance(outcome, list):
        return outcome
    if outcome.report.notified:
        ctx.wake()
    return [Say(_summary(ctx.t, outcome), edit=True)]
