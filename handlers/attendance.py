"""Attendance: an organizer marks sessions in chat or by sheet, shows a session's check-in
code and finishes the course; /complete marks one participant complete; a unit head sees the
no-shows with /noshows. (A participant's check-in, "điểm danh CODE", is handlers/flows.py.)

Every step passes the organizer gate (handlers/guard.py) in the transaction of its domain
call, and the domain checks that the course is of the organizer's units. The filled sheet is
a file the chat owes (SHEET, in the dialog row, so a restart keeps waiting for it); a channel
that carries no files (Zalo) marks sessions from their lists and is offered neither the sheet
nor its upload.
"""

from __future__ import annotations

import tempfile
from datetime import timedelta
from html import escape
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from domain import attendance as att
from domain import completion
from domain.errors import DomainError, Refusal
from domain.importing import Problem, RowError
from domain.roles import Scope
from domain.sheets import MAX_FILE_BYTES, SheetError
from handlers import actions as cb
from handlers import sheets
from handlers.core import Choice, Ctx, DownloadFailed, File, Say, Upload
from handlers.dialog import plain
from handlers.guard import Refused, allowed, guarded
from handlers.render import refusal, short
from locales import Translator
from storage.models import Course, Person, Role

PAGE = 8  # participants per page: names fit one button each on a phone
SESSIONS_IN_ROW = 5
SHOWN_ERRORS = 25
PREFIX = "attendance."
SHEET = "attendance.sheet"  # the filled sheet of data["course"], as a file
# Later sheets are course imports again, if no sheet came within the hour.
SHEET_TTL = timedelta(hours=1)


def _words(t: Translator, error: DomainError) -> str:
    if error.code == Refusal.CLOSED:
        return t.gettext("This session or course is over or cancelled.")
    return refusal(t, error)


# -- rendering ------------------------------------------------------------------------------


def _session_label(t: Translator, sheet: att.Sheet, i: int) -> str:
    return t.gettext("Session %(n)d · %(when)s") % {
        "n": i + 1,
        "when": t.datetime(sheet.sessions[i][0]),
    }


def course_text(t: Translator, sheet: att.Sheet, *, files: bool) -> tuple[str, list[Choice]]:
    """A course's sessions with how many were present, and what can be done with it."""
    _ = t.gettext
    cid, n = sheet.course.id, len(sheet.participants)
    lines = [f"<b>{escape(sheet.course.title)}</b> ({escape(sheet.course.code)})"]
    lines += [
        _session_label(t, sheet, i)
        + " · "
        + _("present %(present)d of %(total)d") % {"present": sheet.present_count(i), "total": n}
        for i in range(len(sheet.sessions))
    ]
    choices = [
        Choice(
            f"🗓 {i + 1}", cb.build(cb.ATT_SESSION, f"{cid}:{i}:0"), joined=i % SESSIONS_IN_ROW > 0
        )
        for i in range(len(sheet.sessions))
    ]
    if files:
        choices += [
            Choice(_("📥 Sheet"), cb.build(cb.ATT_SHEET, cid)),
            Choice(_("📤 Upload sheet"), cb.build(cb.ATT_UPLOAD, cid), joined=True),
        ]
    choices.append(Choice(_("🏁 Finish the course"), cb.build(cb.ATT_FINISH, cid)))
    return "\n".join(lines), choices


def session_text(
    t: Translator, sheet: att.Sheet, session_no: int, page: int
) -> tuple[str, list[Choice]]:
    """A page of participants of one session, each a choice that switches their mark."""
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
    choices = []
    for p in people[page * PAGE : (page + 1) * PAGE]:
        here = session_no in p.present
        mark = "✅" if here else "⬜"
        # The choice carries the mark it sets, so picking it twice sets it once.
        wanted = 0 if here else 1
        data = cb.build(cb.ATT_TOGGLE, f"{cid}:{session_no}:{p.registration_id}:{page}:{wanted}")
        choices.append(Choice(f"{mark} {short(p.name)}", data))
    nav = []
    if page > 0:
        nav.append(("◀️", page - 1))
    if page + 1 < pages:
        nav.append(("▶️", page + 1))
    choices += [
        Choice(label, cb.build(cb.ATT_SESSION, f"{cid}:{session_no}:{to}"), joined=k > 0)
        for k, (label, to) in enumerate(nav)
    ]
    choices.append(Choice(_("🔑 Check-in code"), cb.build(cb.ATT_CODE, f"{cid}:{session_no}")))
    choices.append(Choice(_("« Sessions"), cb.build(cb.ATT_COURSE, cid)))
    return "\n".join(lines), choices


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


# -- organizer: screens -----------------------------------------------------------------------


def _ints(arg: str, n: int) -> list[int]:
    values = [int(x) for x in arg.split(":")]
    if len(values) != n:
        raise ValueError(arg)
    return values


async def _sheet(ctx: Ctx, course_id: int) -> att.Sheet | Refused:
    async def read(session: AsyncSession, scope: Scope) -> att.Sheet:
        return await att.sheet(session, actor_id=scope.person_id, course_id=course_id)

    return await guarded(ctx, "attendance", read, words=_words)


async def _course(ctx: Ctx, action: str, course_id: int) -> Course | Refused:
    """The course, when it is the organizer's: checked before any prompt, so a forged choice
    is refused at once instead of after the organizer has confirmed or sent a file."""

    async def find(session: AsyncSession, scope: Scope) -> Course:
        return await att.organizer_course(session, actor_id=scope.person_id, course_id=course_id)

    return await guarded(ctx, action, find, words=_words)


async def courses(ctx: Ctx, arg: str) -> list[Say]:
    """/attendance: the organizer's running and recent courses."""

    async def find(session: AsyncSession, scope: Scope) -> list[Course]:
        return await att.courses_for(session, actor_id=scope.person_id, now=ctx.now)

    found = await guarded(ctx, "attendance", find, words=_words)
    if isinstance(found, Refused):
        return found.said()
    _ = ctx._
    if not found:
        return [Say(_("No running or recent courses of your units."))]
    choices = [
        Choice(
            f"{ctx.t.local_date(c.starts_at)} · {short(c.title, 40)}", cb.build(cb.ATT_COURSE, c.id)
        )
        for c in found
    ]
    return [Say(_("<b>Attendance</b>: choose a course."), choices)]


async def course(ctx: Ctx, arg: str) -> list[Say]:
    """Show a course's sessions with how many were present, and its actions."""
    found = await _sheet(ctx, int(arg))
    if isinstance(found, Refused):
        return found.shown()
    text, choices = course_text(ctx.t, found, files=ctx.files)
    if not ctx.files:
        text += "\n\n" + _no_files(ctx)
    return [Say(text, choices, edit=True)]


async def session_page(ctx: Ctx, arg: str) -> list[Say]:
    """A page of participants for one session, each a choice that switches their mark."""
    cid, session_no, page = _ints(arg, 3)
    found = await _sheet(ctx, cid)
    if isinstance(found, Refused):
        return found.shown()
    if session_no >= len(found.sessions):
        return []
    return [Say(*session_text(ctx.t, found, session_no, page), edit=True)]


async def toggle(ctx: Ctx, arg: str) -> list[Say]:
    """Switch one participant's mark for one session and show the page again."""
    cid, session_no, reg_id, page, wanted = _ints(arg, 5)

    async def mark(session: AsyncSession, scope: Scope) -> att.Sheet:
        await att.toggle(session, actor_id=scope.person_id, course_id=cid,
                         registration_id=reg_id, session_no=session_no, now=ctx.now,
                         present=bool(wanted))  # fmt: skip
        return await att.sheet(session, actor_id=scope.person_id, course_id=cid)

    found = await guarded(ctx, "attendance", mark, words=_words)
    if isinstance(found, Refused):
        return found.shown()
    return [Say(*session_text(ctx.t, found, session_no, page), edit=True)]


async def checkin_code(ctx: Ctx, arg: str) -> list[Say]:
    """Make a fresh one-time code for the session, to show on the screen in the room."""
    cid, session_no = _ints(arg, 2)

    async def make(session: AsyncSession, scope: Scope) -> att.CodeView:
        return await att.new_checkin_code(session, actor_id=scope.person_id, course_id=cid,
                                          session_no=session_no, now=ctx.now)  # fmt: skip

    code = await guarded(ctx, "checkin_code", make, words=_words)
    if isinstance(code, Refused):
        return code.shown()
    t = ctx.t
    values = {"n": session_no + 1, "code": code.code, "start": t.datetime(code.valid_from),
              "end": t.time(code.valid_until)}  # fmt: skip
    text = (
        t.gettext(
            "🔑 Check-in code for session %(n)d: <b>%(code)s</b>\nValid %(start)s – %(end)s. "
            "Participants send: /checkin %(code)s"
        )
        % values
    )
    # Participants check in from whichever app they use.
    text += "\n" + t.gettext("On Zalo they type: điểm danh %(code)s") % values
    return [Say(text)]


async def sheet_file(ctx: Ctx, arg: str) -> list[Say]:
    """Send the participants as a sheet to fill in: x = present."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "diem-danh.xlsx"

        async def write(session: AsyncSession, scope: Scope) -> att.Sheet:
            return await att.write_sheet(session, actor_id=scope.person_id,
                                         course_id=int(arg), path=path,
                                         tz=ctx.settings.tz)  # fmt: skip

        found = await guarded(ctx, "attendance_sheet", write, words=_words)
        if isinstance(found, Refused):
            return found.shown()
        content = path.read_bytes()
    caption = ctx._(
        "Write x under a session for each person present, then send the file back "
        "with 📤 Upload sheet."
    )
    name = f"diem-danh-{found.course.code}.xlsx"
    return [Say(file=File(name, content, caption, instead=_no_files(ctx)))]


def _no_files(ctx: Ctx) -> str:
    return ctx._(
        "The sheet to fill in (XLSX) and its upload are on Telegram; here, mark each "
        "session from its list."
    )


# -- organizer: uploading a sheet ------------------------------------------------------------


def _owe_sheet(ctx: Ctx, course_id: int) -> None:
    # A notice arriving meanwhile leaves the organizer still sending the sheet.
    ctx.dialogs.owe(ctx.chat_id, SHEET, ctx.now, {"course": course_id}, ttl=SHEET_TTL,
                    survives_push=True)  # fmt: skip


async def upload_ask(ctx: Ctx, arg: str) -> list[Say]:
    """Ask for the filled sheet of the course picked."""
    found = await _course(ctx, "attendance_upload", int(arg))
    if isinstance(found, Refused):
        return found.shown()
    if not ctx.files:
        return [Say(_no_files(ctx))]
    _owe_sheet(ctx, found.id)
    return [Say(ctx._("Send the filled attendance sheet (.xlsx), or /cancel."))]


async def typed(ctx: Ctx, step: str, data: dict[str, Any], text: str) -> list[Say]:
    """Text where the sheet is owed: the file is still awaited."""
    _owe_sheet(ctx, int(data["course"]))
    return [Say(ctx._("Send the filled attendance sheet (.xlsx), or /cancel."))]


async def sheet_sent(ctx: Ctx, sent: Upload | None) -> list[Say]:
    """Read the filled sheet: every mark is written, or none and every bad row is listed
    (the sheet is then owed again). A photo or anything else is no sheet: it is asked for."""
    course_id = int(ctx.dialog.data["course"])
    ctx.expect(None)
    if sent is None or sent.kind != "document" or sent.fetch is None:
        return await typed(ctx, SHEET, {"course": course_id}, "")
    name = sent.name
    try:
        got = await sent.fetch(MAX_FILE_BYTES)
    except DownloadFailed as exc:
        if exc.reason != DownloadFailed.TOO_LARGE:
            raise
        _owe_sheet(ctx, course_id)
        return [Say(sheets.too_large_text(ctx.t))]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ("sheet" + Path(name or "sheet.xlsx").suffix.lower())
        path.write_bytes(got.content)

        async def load(session: AsyncSession, scope: Scope) -> att.UploadReport:
            return await att.upload(session, actor_id=scope.person_id, course_id=course_id,
                                    path=path, now=ctx.now, tz=ctx.settings.tz)  # fmt: skip

        try:
            await sheets.check(path)
            report = await guarded(ctx, "attendance_upload", load, words=_words)
        except SheetError as error:
            _owe_sheet(ctx, course_id)
            return [Say(sheets.limit_text(ctx.t, error) or sheet_error(ctx.t, error))]
    if isinstance(report, Refused):
        return report.said()
    says = [Say(upload_text(ctx.t, report))]
    if report.errors:
        _owe_sheet(ctx, course_id)
    if len(report.errors) > SHOWN_ERRORS:
        rows = [(e.row, e.column, e.value, plain(row_error(ctx.t, e))) for e in report.errors]
        says.append(Say(file=await sheets.error_list(ctx.t, rows, "loi-diem-danh")))
    return says


def cancelled(ctx: Ctx) -> list[Say]:
    """/cancel while the sheet is owed."""
    return [Say(ctx._("Cancelled."))]


# -- organizer: finishing a course -----------------------------------------------------------


async def finish_ask(ctx: Ctx, arg: str) -> list[Say]:
    """Ask to confirm finishing the course."""
    found = await _course(ctx, "course_finish", int(arg))
    if isinstance(found, Refused):
        return found.shown()
    _, cid = ctx._, found.id
    text = _(
        "Finish the course? Everyone present at %(share)d%% of the sessions completes it and it "
        "goes on their record; those never present are recorded as no-shows."
    ) % {"share": round(ctx.settings.completion_min_share * 100)}
    choices = [
        Choice(_("🏁 Yes, finish"), cb.build(cb.ATT_FINISH_CONFIRM, cid)),
        Choice(_("No"), cb.build(cb.ATT_COURSE, cid), joined=True),
    ]
    return [Say(text, choices, edit=True)]


async def finish(ctx: Ctx, arg: str) -> list[Say]:
    """Finish the course: completions, attended-only and no-shows, and tell who completed."""

    async def done(session: AsyncSession, scope: Scope) -> completion.FinishReport:
        return await completion.finish(
            session, actor_id=scope.person_id, course_id=int(arg), now=ctx.now,
            min_share=ctx.settings.completion_min_share, tz=ctx.settings.tz,
        )  # fmt: skip

    report = await guarded(ctx, "course_finish", done, words=_words)
    if isinstance(report, Refused):
        return report.shown()
    _ = ctx._
    if report.not_before is not None:
        text = _("The last session starts %(when)s; finish the course after that.") % {
            "when": ctx.t.datetime(report.not_before)
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
        ctx.wake()
    return [Say(text, edit=True)]


def _not_found(t: Translator, error: DomainError) -> str:
    if error.code != Refusal.NOT_FOUND:
        return _words(t, error)
    if error.details.get("what") == "course":
        return t.gettext("No such course.")
    return t.gettext("This person is not a participant of the course.")


async def complete(ctx: Ctx, arg: str) -> list[Say]:
    """/complete COURSE_CODE PERSONAL_ID [CERTIFICATE_NO]: mark one participant complete."""
    args = arg.split()
    if len(args) not in (2, 3):
        gate = await allowed(ctx, "course_complete")
        if isinstance(gate, Refused):
            return gate.said()
        return [Say(ctx._("Usage: /complete COURSE_CODE PERSONAL_ID [CERTIFICATE_NO]"))]

    async def one(session: AsyncSession, scope: Scope) -> completion.Completion:
        return await completion.complete_one(
            session, actor_id=scope.person_id, course_code=args[0], personal_id=args[1],
            certificate_no=args[2] if len(args) == 3 else None, now=ctx.now,
            tz=ctx.settings.tz,
        )  # fmt: skip

    done = await guarded(ctx, "course_complete", one, words=_not_found)
    if isinstance(done, Refused):
        return done.said()
    ctx.wake()
    return [Say(ctx._("✅ %(name)s completed %(title)s. Certificate: %(number)s") % {
        "name": escape(done.person_name), "title": escape(done.title),
        "number": escape(done.certificate_no or "—"),
    })]  # fmt: skip


# -- unit heads -------------------------------------------------------------------------------


async def noshows(ctx: Ctx, arg: str) -> list[Say]:
    """/noshows: people of the unit head's units who registered and never came."""

    async def find(session: AsyncSession, scope: Scope) -> list[tuple[Person, Course]]:
        return await completion.no_shows(session, actor_id=scope.person_id)

    found = await guarded(ctx, "noshows", find, role=Role.UNIT_HEAD)
    if isinstance(found, Refused):
        return found.said()
    _ = ctx._
    if not found:
        return [Say(_("No no-shows recorded in your units."))]
    lines = [_("<b>No-shows</b>, latest courses first")]
    lines += [
        f"• {escape(p.full_name)} ({escape(p.personal_id)}) · {ctx.t.local_date(c.starts_at)} "
        f"{escape(short(c.title, 60))}"
        for p, c in found
    ]
    return [Say("\n".join(lines))]
