"""Attendance: organizers mark sessions in chat or by sheet, show check-in codes and finish
courses; participants send /checkin CODE; unit heads see no-shows with /noshows."""

from __future__ import annotations

import enum
import tempfile
import warnings
from datetime import timedelta
from html import escape, unescape
from pathlib import Path

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)
from telegram.warnings import PTBUserWarning

from bot.context import BotContext
from bot.telegram import sheet_upload
from bot.telegram.adapter import commands
from bot.telegram.common import reply, require_role
from domain import attendance as att
from domain import completion, roles
from domain.errors import DomainError, Refusal
from domain.importing import Problem, RowError
from domain.sheets import SheetError
from handlers import actions as cb
from handlers.render import refusal, short
from locales import Translator
from schedules.notifications import kick_drainer
from storage.models import Role

PAGE = 8  # participants per page: names fit one button each on a phone
SHOWN_ERRORS = 25


class Upload(enum.IntEnum):
    FILE = 1


# -- rendering ------------------------------------------------------------------------------


def _session_label(t: Translator, sheet: att.Sheet, i: int) -> str:
    return t.gettext("Session %(n)d · %(when)s") % {
        "n": i + 1,
        "when": t.datetime(sheet.sessions[i][0]),
    }


def course_text(t: Translator, sheet: att.Sheet) -> tuple[str, InlineKeyboardMarkup]:
    _ = t.gettext
    cid, n = sheet.course.id, len(sheet.participants)
    lines = [f"<b>{escape(sheet.course.title)}</b> ({escape(sheet.course.code)})"]
    lines += [
        _session_label(t, sheet, i)
        + " · "
        + _("present %(present)d of %(total)d") % {"present": sheet.present_count(i), "total": n}
        for i in range(len(sheet.sessions))
    ]
    buttons = [
        InlineKeyboardButton(f"🗓 {i + 1}", callback_data=cb.build(cb.ATT_SESSION, f"{cid}:{i}:0"))
        for i in range(len(sheet.sessions))
    ]
    rows = [buttons[k : k + 5] for k in range(0, len(buttons), 5)]
    rows.append(
        [
            InlineKeyboardButton(_("📥 Sheet"), callback_data=cb.build(cb.ATT_SHEET, cid)),
            InlineKeyboardButton(_("📤 Upload sheet"), callback_data=cb.build(cb.ATT_UPLOAD, cid)),
        ]
    )
    rows.append(
        [
            InlineKeyboardButton(
                _("🏁 Finish the course"), callback_data=cb.build(cb.ATT_FINISH, cid)
            )
        ]
    )
    return "\n".join(lines), InlineKeyboardMarkup(rows)


def session_text(
    t: Translator, sheet: att.Sheet, session_no: int, page: int
) -> tuple[str, InlineKeyboardMarkup]:
    _ = t.gettext
    cid, people = sheet.course.id, sheet.participants
    pages = max(1, -(-len(people) // PAGE))
    page = min(max(page, 0), pages - 1)
    lines = [f"<b>{escape(sheet.course.title)}</b>", _session_label(t, sheet, session_no)]
    lines.append(
        _("Present: %(present)d of %(total)d. Press a name to switch it.")
        % {"present": sheet.present_count(session_no), "total": len(people)}
    )
    if pages > 1:
        lines.append(_("Page %(page)d of %(pages)d") % {"page": page + 1, "pages": pages})
    rows = []
    for p in people[page * PAGE : (page + 1) * PAGE]:
        here = session_no in p.present
        mark = "✅" if here else "⬜"
        # The button carries the mark it sets, so pressing it twice sets it once.
        wanted = 0 if here else 1
        data = cb.build(cb.ATT_TOGGLE, f"{cid}:{session_no}:{p.registration_id}:{page}:{wanted}")
        rows.append([InlineKeyboardButton(f"{mark} {short(p.name)}", callback_data=data)])
    nav = []
    if page > 0:
        nav.append(_nav("◀️", cid, session_no, page - 1))
    if page + 1 < pages:
        nav.append(_nav("▶️", cid, session_no, page + 1))
    if nav:
        rows.append(nav)
    code = cb.build(cb.ATT_CODE, f"{cid}:{session_no}")
    rows.append([InlineKeyboardButton(_("🔑 Check-in code"), callback_data=code)])
    rows.append([InlineKeyboardButton(_("« Sessions"), callback_data=cb.build(cb.ATT_COURSE, cid))])
    return "\n".join(lines), InlineKeyboardMarkup(rows)


def _nav(label: str, cid: int, session_no: int, page: int) -> InlineKeyboardButton:
    return InlineKeyboardButton(
        label, callback_data=cb.build(cb.ATT_SESSION, f"{cid}:{session_no}:{page}")
    )


def row_error(t: Translator, e: RowError) -> str:
    _ = t.gettext
    reasons = {
        Problem.REQUIRED: _("missing"),
        Problem.BAD_PERSONAL_ID: _("not a 12-digit personal ID"),
        Problem.DUPLICATE_IN_FILE: _("appears twice (first in row %(other)d)")
        % {"other": e.other_row or 0},
        att.NOT_REGISTERED: _("not a participant of this course"),
        att.BAD_MARK: _("write x for present, leave blank for absent"),
    }
    return _("Row %(row)d, %(column)s: %(reason)s (“%(value)s”)") % {
        "row": e.row,
        "column": escape(e.column),
        "reason": reasons.get(e.code, e.code),
        "value": escape(e.value),
    }


def sheet_error(t: Translator, error: SheetError) -> str:
    _ = t.gettext
    if error.code == "missing_columns":
        return _("The sheet has no column “Số CCCD” (personal ID). Use the sheet from 📥 Sheet.")
    if error.code == "no_header":
        return _("I could not find the header row. Use the sheet from 📥 Sheet.")
    return _("I could not read this file. Send an .xlsx, .xls, .ods or .csv file.")


# -- organizer: screens -----------------------------------------------------------------------


async def _may_act(update: Update, context: BotContext, action: str, course_id: int) -> bool:
    """The course is the organizer's: checked before any prompt, so a forged button is refused
    at once instead of after the organizer has confirmed or typed."""
    try:
        async with context.db.begin() as session:
            await att.organizer_course(session, actor_id=context.person_id, course_id=course_id)
    except DomainError as error:
        await _refused(update, context, action, error)
        return False
    return True


async def _refused(update: Update, context: BotContext, action: str, error: DomainError) -> None:
    """Answer a refusal the domain found (e.g. a course outside the organizer's units)."""
    if error.code == Refusal.FORBIDDEN:
        async with context.db.begin() as session:
            await roles.audit(
                session,
                actor_person_id=context.person_id,
                actor=await roles.actor_label(session, context.person_id),
                action=action,
                result="refused",
            )
    text = refusal(context.t, error)
    if error.code == Refusal.CLOSED:
        text = context.t.gettext("This session or course is over or cancelled.")
    if update.callback_query is not None:
        await update.callback_query.answer(unescape(text)[:200], show_alert=True)
    else:
        await reply(update, text)


async def courses(update: Update, context: BotContext) -> None:
    """/attendance: the organizer's running and recent courses."""
    if await require_role(update, context, Role.ORGANIZER, "attendance") is None:
        return
    async with context.db.begin() as session:
        found = await att.courses_for(session, actor_id=context.person_id, now=context.now())
    _ = context.t.gettext
    if not found:
        await reply(update, _("No running or recent courses of your units."))
        return
    rows = [
        [
            InlineKeyboardButton(
                f"{context.t.local_date(c.starts_at)} · {short(c.title, 40)}",
                callback_data=cb.build(cb.ATT_COURSE, c.id),
            )
        ]
        for c in found
    ]
    await reply(update, _("<b>Attendance</b>: choose a course."), InlineKeyboardMarkup(rows))


async def course(update: Update, context: BotContext) -> None:
    """Show a course's sessions with how many were present, and its actions."""
    query = update.callback_query
    assert query is not None
    if await require_role(update, context, Role.ORGANIZER, "attendance") is None:
        return
    try:
        async with context.db.begin() as session:
            found = await att.sheet(
                session, actor_id=context.person_id, course_id=cb.number(query.data)
            )
    except DomainError as error:
        await _refused(update, context, "attendance", error)
        return
    await query.answer()
    await reply(update, *course_text(context.t, found), edit=True)


async def session_page(update: Update, context: BotContext) -> None:
    """A page of participants for one session, each a button that switches their mark."""
    query = update.callback_query
    assert query is not None
    if await require_role(update, context, Role.ORGANIZER, "attendance") is None:
        return
    cid, session_no, page = (int(x) for x in cb.parts(query.data))
    try:
        async with context.db.begin() as session:
            found = await att.sheet(session, actor_id=context.person_id, course_id=cid)
    except DomainError as error:
        await _refused(update, context, "attendance", error)
        return
    await query.answer()
    if session_no >= len(found.sessions):
        return
    await reply(update, *session_text(context.t, found, session_no, page), edit=True)


async def toggle(update: Update, context: BotContext) -> None:
    """Switch one participant's mark for one session and redraw the page."""
    query = update.callback_query
    assert query is not None
    if await require_role(update, context, Role.ORGANIZER, "attendance") is None:
        return
    cid, session_no, reg_id, page, wanted = (int(x) for x in cb.parts(query.data))
    try:
        async with context.db.begin() as session:
            await att.toggle(
                session,
                actor_id=context.person_id,
                course_id=cid,
                registration_id=reg_id,
                session_no=session_no,
                now=context.now(),
                present=bool(wanted),
            )
            found = await att.sheet(session, actor_id=context.person_id, course_id=cid)
    except DomainError as error:
        await _refused(update, context, "attendance", error)
        return
    await query.answer()
    await reply(update, *session_text(context.t, found, session_no, page), edit=True)


async def checkin_code(update: Update, context: BotContext) -> None:
    """Make a fresh one-time code for the session, to show on the screen in the room."""
    query = update.callback_query
    assert query is not None
    if await require_role(update, context, Role.ORGANIZER, "checkin_code") is None:
        return
    cid, session_no = (int(x) for x in cb.parts(query.data))
    try:
        async with context.db.begin() as session:
            code = await att.new_checkin_code(
                session,
                actor_id=context.person_id,
                course_id=cid,
                session_no=session_no,
                now=context.now(),
            )
    except DomainError as error:
        await _refused(update, context, "checkin_code", error)
        return
    await query.answer()
    t = context.t
    text = t.gettext(
        "🔑 Check-in code for session %(n)d: <b>%(code)s</b>\nValid %(start)s – %(end)s. "
        "Participants send: /checkin %(code)s"
    ) % {
        "n": session_no + 1,
        "code": code.code,
        "start": t.datetime(code.valid_from),
        "end": t.time(code.valid_until),
    }
    await reply(update, text)


async def sheet_file(update: Update, context: BotContext) -> None:
    """Send the participants as a sheet to fill in: x = present."""
    query = update.callback_query
    assert query is not None and update.effective_chat is not None
    if await require_role(update, context, Role.ORGANIZER, "attendance_sheet") is None:
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "diem-danh.xlsx"
        try:
            async with context.db.begin() as session:
                found = await att.write_sheet(
                    session,
                    actor_id=context.person_id,
                    course_id=cb.number(query.data),
                    path=path,
                    tz=context.settings.tz,
                )
        except DomainError as error:
            await _refused(update, context, "attendance_sheet", error)
            return
        await query.answer()
        await update.effective_chat.send_document(
            path.read_bytes(),
            filename=f"diem-danh-{found.course.code}.xlsx",
            caption=context.t.gettext(
                "Write x under a session for each person present, then send the file back "
                "with 📤 Upload sheet."
            ),
        )


# -- organizer: uploading a sheet ------------------------------------------------------------


async def upload_ask(update: Update, context: BotContext) -> int:
    """Ask for the filled sheet of the course on the pressed button."""
    query = update.callback_query
    assert query is not None
    if await require_role(update, context, Role.ORGANIZER, "attendance_upload") is None:
        return ConversationHandler.END
    if not await _may_act(update, context, "attendance_upload", cb.number(query.data)):
        return ConversationHandler.END
    assert context.user_data is not None
    context.user_data["attendance_course"] = cb.number(query.data)
    await query.answer()
    await reply(update, context.t.gettext("Send the filled attendance sheet (.xlsx), or /cancel."))
    return Upload.FILE


async def upload_file(update: Update, context: BotContext) -> int:
    """Read the sheet: every mark is written, or none and every bad row is listed."""
    assert update.message is not None and update.message.document is not None
    assert context.user_data is not None
    doc = update.message.document
    if sheet_upload.too_large(doc):
        await reply(update, sheet_upload.too_large_text(context.t))
        return Upload.FILE
    if await require_role(update, context, Role.ORGANIZER, "attendance_upload") is None:
        return ConversationHandler.END
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ("sheet" + Path(doc.file_name or "sheet.xlsx").suffix.lower())
        await (await doc.get_file()).download_to_drive(path)
        try:
            await sheet_upload.check(path)
            async with context.db.begin() as session:
                report = await att.upload(
                    session,
                    actor_id=context.person_id,
                    course_id=context.user_data["attendance_course"],
                    path=path,
                    now=context.now(),
                    tz=context.settings.tz,
                )
        except SheetError as error:
            text = sheet_upload.limit_text(context.t, error) or sheet_error(context.t, error)
            await reply(update, text)
            return Upload.FILE
        except DomainError as error:
            await _refused(update, context, "attendance_upload", error)
            return ConversationHandler.END
    await reply(update, upload_text(context.t, report))
    if len(report.errors) > SHOWN_ERRORS:
        rows = [
            (e.row, e.column, e.value, unescape(row_error(context.t, e))) for e in report.errors
        ]
        await sheet_upload.send_error_list(update, context.t, rows, "loi-diem-danh")
    return Upload.FILE if report.errors else ConversationHandler.END


def upload_text(t: Translator, report: att.UploadReport) -> str:
    if report.ok:
        return t.gettext("✅ Attendance saved: %(marks)d marks from %(rows)d rows.") % {
            "marks": report.marks,
            "rows": report.rows,
        }
    lines = [
        t.ngettext(
            "❌ Nothing was saved: %(n)d problem. Fix it and send the file again, or /cancel.",
            "❌ Nothing was saved: %(n)d problems. Fix them and send the file again, or /cancel.",
            len(report.errors),
        )
        % {"n": len(report.errors)}
    ]
    lines += [row_error(t, e) for e in report.errors[:SHOWN_ERRORS]]
    if len(report.errors) > SHOWN_ERRORS:
        lines.append(t.gettext("… and %(n)d more.") % {"n": len(report.errors) - SHOWN_ERRORS})
    return "\n".join(lines)


async def cancel(update: Update, context: BotContext) -> int:
    """Leave the upload."""
    await reply(update, context.t.gettext("Cancelled."))
    return ConversationHandler.END


# -- organizer: finishing a course -----------------------------------------------------------


async def finish_ask(update: Update, context: BotContext) -> None:
    """Ask to confirm finishing the course."""
    query = update.callback_query
    assert query is not None
    if await require_role(update, context, Role.ORGANIZER, "course_finish") is None:
        return
    _, cid = context.t.gettext, cb.number(query.data)
    if not await _may_act(update, context, "course_finish", cid):
        return
    await query.answer()
    text = _(
        "Finish the course? Everyone present at %(share)d%% of the sessions completes it and it "
        "goes on their record; those never present are recorded as no-shows."
    ) % {"share": round(context.settings.completion_min_share * 100)}
    markup = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    _("🏁 Yes, finish"), callback_data=cb.build(cb.ATT_FINISH_CONFIRM, cid)
                ),
                InlineKeyboardButton(_("No"), callback_data=cb.build(cb.ATT_COURSE, cid)),
            ]
        ]
    )
    await reply(update, text, markup, edit=True)


async def finish(update: Update, context: BotContext) -> None:
    """Finish the course: completions, attended-only and no-shows, and tell who completed."""
    query = update.callback_query
    assert query is not None
    if await require_role(update, context, Role.ORGANIZER, "course_finish") is None:
        return
    try:
        async with context.db.begin() as session:
            report = await completion.finish(
                session,
                actor_id=context.person_id,
                course_id=cb.number(query.data),
                now=context.now(),
                min_share=context.settings.completion_min_share,
                tz=context.settings.tz,
            )
    except DomainError as error:
        await _refused(update, context, "course_finish", error)
        return
    await query.answer()
    _ = context.t.gettext
    if report.not_before is not None:
        text = _("The last session starts %(when)s; finish the course after that.") % {
            "when": context.t.datetime(report.not_before)
        }
    else:
        text = _(
            "🏁 <b>%(title)s</b> is finished: %(completed)d completed, %(attended)d attended "
            "too few sessions, %(no_show)d no-shows."
        ) % {
            "title": escape(report.title),
            "completed": report.completed + report.kept,
            "attended": report.attended,
            "no_show": report.no_show,
        }
        kick_drainer(context.application)
    await reply(update, text, edit=True)


async def complete(update: Update, context: BotContext) -> None:
    """/complete COURSE_CODE PERSONAL_ID [CERTIFICATE_NO]: mark one participant complete."""
    if await require_role(update, context, Role.ORGANIZER, "course_complete") is None:
        return
    args, _ = context.args or [], context.t.gettext
    if len(args) not in (2, 3):
        await reply(update, _("Usage: /complete COURSE_CODE PERSONAL_ID [CERTIFICATE_NO]"))
        return
    try:
        async with context.db.begin() as session:
            done = await completion.complete_one(
                session,
                actor_id=context.person_id,
                course_code=args[0],
                personal_id=args[1],
                certificate_no=args[2] if len(args) == 3 else None,
                now=context.now(),
                tz=context.settings.tz,
            )
    except DomainError as error:
        if error.code != Refusal.NOT_FOUND:
            await _refused(update, context, "course_complete", error)
            return
        what = error.details.get("what")
        await reply(
            update,
            _("No such course.")
            if what == "course"
            else _("This person is not a participant of the course."),
        )
        return
    kick_drainer(context.application)
    await reply(
        update,
        _("✅ %(name)s completed %(title)s. Certificate: %(number)s")
        % {
            "name": escape(done.person_name),
            "title": escape(done.title),
            "number": escape(done.certificate_no or "—"),
        },
    )


async def noshows(update: Update, context: BotContext) -> None:
    """/noshows: people of the unit head's units who registered and never came."""
    if await require_role(update, context, Role.UNIT_HEAD, "noshows") is None:
        return
    async with context.db.begin() as session:
        found = await completion.no_shows(session, actor_id=context.person_id)
    _ = context.t.gettext
    if not found:
        await reply(update, _("No no-shows recorded in your units."))
        return
    lines = [_("<b>No-shows</b>, latest courses first")]
    lines += [
        f"• {escape(p.full_name)} ({escape(p.personal_id)}) · {context.t.local_date(c.starts_at)} "
        f"{escape(short(c.title, 60))}"
        for p, c in found
    ]
    await reply(update, "\n".join(lines))


def register(app: Application) -> None:
    app.add_handler(CommandHandler("attendance", courses))
    commands(app, ("checkin",))  # everyone's: handlers/checkin.py
    app.add_handler(CommandHandler("complete", complete))
    app.add_handler(CommandHandler("noshows", noshows))
    for action, handler in (
        (cb.ATT_COURSE, course),
        (cb.ATT_SESSION, session_page),
        (cb.ATT_TOGGLE, toggle),
        (cb.ATT_CODE, checkin_code),
        (cb.ATT_SHEET, sheet_file),
        (cb.ATT_FINISH, finish_ask),
        (cb.ATT_FINISH_CONFIRM, finish),
    ):
        app.add_handler(CallbackQueryHandler(handler, pattern=cb.pattern(action)))
    with warnings.catch_warnings():
        # The entry is a button; per-chat tracking is what we want (PTB warns about it).
        warnings.filterwarnings("ignore", ".*CallbackQueryHandler", PTBUserWarning)
        app.add_handler(
            ConversationHandler(
                entry_points=[CallbackQueryHandler(upload_ask, pattern=cb.pattern(cb.ATT_UPLOAD))],
                states={Upload.FILE: [MessageHandler(filters.Document.ALL, upload_file)]},
                fallbacks=[CommandHandler("cancel", cancel)],
                allow_reentry=True,
                # Later sheets are course imports again, if no sheet came within the hour.
                conversation_timeout=timedelta(hours=1),
                name="attendance_upload",
            )
        )
