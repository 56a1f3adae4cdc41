"""An organizer sends a courses spreadsheet: a dry-run summary first, then an Import button.

The same template and all-or-nothing checks as `boiduong import courses`; rows about courses
of units outside the organizer's scope are refused like bad rows. The file is fetched from
Telegram again on confirmation, so nothing is kept between the two steps but its file id.
"""

from __future__ import annotations

import secrets
import tempfile
from html import escape
from pathlib import Path

from telegram import Document, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, MessageHandler, filters

from bot.context import BotContext
from bot.telegram import sheet_upload
from bot.telegram.common import reply
from bot.telegram.organizer_common import act, allowed
from domain import course_admin
from domain.course_admin import ImportOutcome
from domain.importing import RowError
from domain.sheets import SheetError
from handlers import actions as cb
from locales import Translator

PENDING = "course_import"
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


async def _run(
    update: Update, context: BotContext, doc: Document, *, dry_run: bool
) -> ImportOutcome | None:
    """Fetch the file and import it (or try it) in one transaction."""
    person_id = context.person_id
    assert person_id is not None
    if sheet_upload.too_large(doc):
        await reply(update, sheet_upload.too_large_text(context.t))
        return None
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / Path(doc.file_name or "courses.xlsx").name
        await (await doc.get_file()).download_to_drive(path)
        try:
            await sheet_upload.check(path)
            return await act(
                update,
                context,
                "course_import",
                lambda s: course_admin.import_file(
                    s,
                    person_id=person_id,
                    path=path,
                    dry_run=dry_run,
                    now=context.now(),
                    policy=context.settings.reminder_policy(),
                ),
            )
        except SheetError as error:
            text = sheet_upload.limit_text(context.t, error) or context.t.gettext(
                "I cannot read this file as a list of courses. Please use the courses "
                "template (XLSX) with its header row."
            )
            await reply(update, text)
            return None


def _error_rows(t: Translator, outcome: ImportOutcome) -> list[sheet_upload.ErrorRow]:
    problems = _problems(t)
    forbidden = t.gettext("a course of a unit you do not organize for")
    rows = [(row, "", "", forbidden) for row in outcome.forbidden_rows]
    rows += [
        (e.row, e.column, e.value, problems.get(e.code, e.code)) for e in outcome.report.errors
    ]
    return sorted(rows)


async def upload(update: Update, context: BotContext) -> None:
    """Check a courses file and offer to import it."""
    message = update.effective_message
    assert message is not None and message.document is not None and context.user_data is not None
    if not await allowed(update, context, "course_import"):
        return
    outcome = await _run(update, context, message.document, dry_run=True)
    if outcome is None:
        return
    markup = None
    if outcome.ok and (outcome.report.created or outcome.report.updated):
        token = str(secrets.randbelow(10**9))
        context.user_data[PENDING] = (token, message.document)
        markup = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        context.t.gettext("✅ Import"), callback_data=cb.build(cb.ORG_IMPORT, token)
                    ),
                    InlineKeyboardButton(
                        context.t.gettext("Cancel"), callback_data=cb.build(cb.DISMISS)
                    ),
                ]
            ]
        )
    await reply(update, _summary(context.t, outcome), markup)
    errors = _error_rows(context.t, outcome)
    if len(errors) > SHOWN_ERRORS:
        await sheet_upload.send_error_list(update, context.t, errors, "loi-khoa-hoc")


async def confirm(update: Update, context: BotContext) -> None:
    """Import the previewed file: all rows or none, checked again now."""
    query = update.callback_query
    assert query is not None and query.data is not None and context.user_data is not None
    if not await allowed(update, context, "course_import"):
        return
    pending = context.user_data.get(PENDING)
    if pending is None or pending[0] != cb.argument(query.data):
        await query.answer(context.t.gettext("This button is no longer valid."), show_alert=True)
        return
    await query.answer()
    del context.user_data[PENDING]
    outcome = await _run(update, context, pending[1], dry_run=False)
    if outcome is not None:
        await reply(update, _summary(context.t, outcome), edit=True)
        if outcome.report.notified:
            context.wake()


def register(app: Application) -> None:
    sheets: filters.BaseFilter = filters.Document.FileExtension(SUFFIXES[0])
    for suffix in SUFFIXES[1:]:
        sheets = sheets | filters.Document.FileExtension(suffix)
    app.add_handler(MessageHandler(sheets, upload))
    app.add_handler(CallbackQueryHandler(confirm, pattern=cb.pattern(cb.ORG_IMPORT)))
