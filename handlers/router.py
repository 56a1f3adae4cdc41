"""Which flow answers: the one table of actions, commands and owed steps for every channel.

A picked choice or pressed button carries an action ("r:42", handlers/actions.py); a command
or a word typed instead of one names a flow; text typed while the chat owes a step (a reason
for declining, a step of a claim) goes to that step's flow; other text links an unlinked chat
or searches courses.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from zoneinfo import ZoneInfo

from handlers import (
    account,
    admin,
    attendance,
    broadcast,
    checkin,
    claim_review,
    claims,
    course_create,
    course_edit,
    courses,
    flows,
    help,
    link,
    my,
    nominate,
    nominations,
    organizer_courses,
    other_app,
    reminders,
    report,
    reviews,
    status,
)
from handlers.core import Ctx, Flow, Menu, Say, Upload
from handlers.dialog import key
from locales import LANGUAGES, Translator


# What /cancel says when it leaves a step of these features (by the steps' prefix).
def _kept(ctx: Ctx) -> list[Say]:
    return [Say(ctx._("OK, nothing changed."), menu=Menu.MAIN)]


CANCELLED: dict[str, Callable[[Ctx], list[Say]]] = {
    course_create.PREFIX: course_create.cancelled,
    course_edit.PREFIX: course_edit.cancelled,
    broadcast.PREFIX: broadcast.cancelled,
    nominations.REASON: _kept,  # nothing is declined
    attendance.PREFIX: attendance.cancelled,
}


async def cancel(ctx: Ctx, arg: str) -> list[Say]:
    """/cancel (or "hủy"): leave whatever step the chat owes, saying what was dropped."""
    step = ctx.dialog.expect or (ctx.left[0] if ctx.left else "")
    ctx.expect(None)
    for prefix, said in CANCELLED.items():
        if step.startswith(prefix):
            return said(ctx)
    return await claims.cancel(ctx, arg)


# Choices and typed commands lead to the same flows; the names mirror Telegram's commands.
ACTIONS: dict[str, Flow] = {  # an action's name (handlers/actions.py) → its flow
    "start": link.start,
    "status": status.status,
    "courses": courses.courses,
    "p": courses.turn_page,
    "s": courses.turn_search_page,
    "c": flows.show_course,
    "r": flows.ask_register,
    "rc": flows.confirm_register,
    "u": flows.ask_cancel,
    "uc": flows.confirm_cancel,
    "x": flows.dismiss,
    "na": nominations.accept_nomination,
    "nd": nominations.ask_decline_reason,
    "ns": nominations.decline_without_reason,
    "aa": nominations.approve_request,
    "ad": nominations.ask_request_reason,
    "as": nominations.decline_request_without_reason,
    "my": my.my,
    "reminders": reminders.show,
    "rem": reminders.toggle,
    "off": reminders.turn_off,
    "via": reminders.choose_channel,
    "language": account.language,
    "lang": account.set_language,
    "privacy": account.privacy,
    "unlink": account.ask_unlink,
    "unlinkc": account.unlink,
    "help": help.help_,
    "telegram": other_app.code,
    "zalo": other_app.code,
    "checkin": checkin.checkin,
    "cl": claims.start,
    "clk": claims.kind,
    "clq": claims.qualification,
    "cll": claims.level,
    # Organizers decide claims (handlers/claim_review.py) and record secondment reviews
    "claims": claim_review.queue,
    "clv": claim_review.view,
    "cla": claim_review.approve,
    "clr": claim_review.ask_reason,
    "reviews": reviews.listing,
    "sv": reviews.ratings,
    "svr": reviews.rated,
    "svs": reviews.without_note,
    # Organizers' courses (handlers/course_create.py, course_edit.py, organizer_courses.py)
    "newcourse": course_create.start,
    "on": course_create.choose,
    "onc": course_create.confirm,
    "onx": course_create.abort,
    "organize": organizer_courses.organize,
    "ol": organizer_courses.organize,
    "oc": organizer_courses.show,
    "ox": organizer_courses.close,
    "oo": organizer_courses.reopen,
    "ok": organizer_courses.ask_cancel,
    "okc": organizer_courses.confirm_cancel,
    "or": organizer_courses.people,
    "ov": organizer_courses.export,
    "oe": course_edit.menu,
    "of": course_edit.start,
    "og": course_edit.choose,
    # Attendance and the yearly report (handlers/attendance.py, report.py)
    "attendance": attendance.courses,
    "at": attendance.course,
    "ats": attendance.session_page,
    "atk": attendance.toggle,
    "atc": attendance.checkin_code,
    "atx": attendance.sheet_file,
    "atu": attendance.upload_ask,
    "atf": attendance.finish_ask,
    "atfc": attendance.finish,
    "complete": attendance.complete,
    "noshows": attendance.noshows,
    "report": report.report,
    "cancel": cancel,
    # Broadcasts (handlers/broadcast.py)
    "broadcast": broadcast.start,
    "bca": broadcast.pick_kind,
    "bcr": broadcast.pick_rule,
    "bck": broadcast.pick_ack,
    "bcs": broadcast.send_now,
    "bct": broadcast.ask_when,
    "bcx": broadcast.cancel,
    "bcu": broadcast.refresh,
    "bok": broadcast.received,
    # Unit heads nominate people (handlers/nominate.py)
    "nominate": nominate.start,
    "nc": nominate.pick_course,
    "nt": nominate.toggle,
    "np": nominate.turn_page,
    "ng": nominate.by_gap,
    "nu": nominate.by_unit,
    "nn": nominate.review,
    "nh": nominate.hold,
    "ny": nominate.send,
    # Administrators (handlers/admin.py)
    "grant": admin.grant,
    "revoke": admin.revoke,
    "audit": admin.audit,
}
COMMANDS = (
    "start",
    "status",
    "courses",
    "my",
    "reminders",
    "language",
    "privacy",
    "help",
    "telegram",
    "checkin",
    "cancel",
    "newcourse",
    "organize",
    "broadcast",
    "attendance",
    "complete",
    "noshows",
    "report",
    "claims",
    "reviews",
    "nominate",
    "grant",
    "revoke",
    "audit",
)
# Words people type instead of a command (folded: accents and case do not matter).
_WORDS = {
    "start": ("bat dau", "lien ket", "link"),
    "status": ("chuan", "chuan cua toi", "tieu chuan"),
    "courses": ("khoa hoc", "danh sach khoa hoc"),
    "my": ("dang ky cua toi", "cua toi"),
    "reminders": ("nhac nho", "nhac"),
    "language": ("ngon ngu",),
    "privacy": ("rieng tu", "quyen rieng tu"),
    "help": ("tro giup", "huong dan", "menu"),
    "telegram": ("ma telegram", "lien ket telegram"),
    "checkin": ("diem danh", "check in"),
    "cancel": ("huy", "huy bo"),
    "newcourse": ("tao khoa hoc", "khoa hoc moi"),
    "organize": ("quan ly khoa hoc", "khoa hoc toi to chuc"),
    "broadcast": ("gui thong bao",),
    "attendance": ("so diem danh", "quan ly diem danh"),
    "noshows": ("vang mat", "danh sach vang mat"),
    "report": ("bao cao",),
    "claims": ("duyet de nghi", "de nghi cho duyet", "ho so cho duyet"),
    "reviews": ("hop danh gia", "danh gia biet phai", "danh gia luan chuyen"),
    "nominate": ("de cu", "cu di hoc", "cu can bo di hoc"),
    "grant": ("cap quyen",),
    "revoke": ("thu hoi quyen",),
    "audit": ("nhat ky", "nhat ky thao tac"),
}
# Words that take what follows them, e.g. "điểm danh 482 913", "báo cáo 2025".
_WITH_ARGUMENT = ("checkin", "report", "grant", "revoke")


def command_words() -> dict[str, str]:
    """Every word that names a command (folded), with the command it names."""
    words = {name: name for name in COMMANDS}
    for name, aliases in _WORDS.items():
        words.update({alias: name for alias in aliases})
    for lang in LANGUAGES:  # the main menu's labels, in either language
        for choice in flows.main_menu(Translator(lang, ZoneInfo("UTC"))):
            words[key(choice.label)] = choice.action
    return words

# A typed answer the chat owes: step name → its flow, given the step's data.
StepFlow = Callable[[Ctx, str, dict[str, Any], str], Awaitable[list[Say]]]


async def _reason(ctx: Ctx, step: str, data: dict[str, Any], text: str) -> list[Say]:
    return await nominations.decline_owed(ctx, data, text)


STEPS: dict[str, StepFlow] = {
    nominations.REASON: _reason,
    **{step: claims.typed for step in claims.STEPS},
    **{step: course_create.typed for step in course_create.STEPS},
    course_edit.VALUE: course_edit.value,
    attendance.SHEET: attendance.typed,  # text where the sheet is owed
    claim_review.REASON: claim_review.reason,
    reviews.NOTE: reviews.noted,
    **{step: course_edit.when for step in (course_edit.STARTS, course_edit.ENDS,
                                           course_edit.SESSIONS)},
    **{step: broadcast.answer for step in broadcast.STEPS},
}
_WORD_TABLE = command_words()

# The steps that take a photo or document: step name → its flow, given what was sent (None:
# something else than text, a sticker or a voice message). Each flow ends or keeps its step.
UploadFlow = Callable[[Ctx, Upload | None], Awaitable[list[Say]]]
UPLOADS: dict[str, UploadFlow] = {
    claims.PHOTO: claims.evidence,  # a claim's evidence
    attendance.SHEET: attendance.sheet_sent,  # a filled attendance sheet
    broadcast.TEXT: broadcast.sent,  # a broadcast's photo or document, its caption the text
}


async def upload(ctx: Ctx, sent: Upload | None) -> list[Say] | None:
    """The answer to a photo or file sent while the chat owes one; None when it owes none.
    Every such step is a linked person's: a chat unlinked meanwhile is told how to link."""
    step = ctx.dialog.expect
    if step not in UPLOADS:
        return None
    if ctx.person_id is None:
        ctx.expect(None)
        return flows.not_linked(ctx)
    return await UPLOADS[step](ctx, sent)


async def run(ctx: Ctx, action: str) -> list[Say] | None:
    """The answer to a picked choice, or None when the action is not ours (malformed)."""
    name, _sep, arg = action.partition(":")
    flow = ACTIONS.get(name)
    if flow is None:
        return None
    try:
        return await flow(ctx, arg)
    except ValueError:  # a malformed argument cannot come from our own choices
        return None


def owed(ctx: Ctx) -> tuple[str, dict[str, Any]] | None:
    """The step this chat owes and its data, used up by this message whatever it is: a
    choice or a command leaves the step; typed text is answered by the step's flow."""
    state = ctx.dialog
    if state.expect not in STEPS:
        return None
    if state.expect in claims.STEPS and ctx.person_id is None:
        return None
    step = (state.expect, dict(state.data))
    ctx.expect(None)
    ctx.left = step
    return step


def _named(words: str) -> str | None:
    """The command these typed words name (a command's own name counts, even one added to
    COMMANDS after the word table was built)."""
    folded = key(words)
    return _WORD_TABLE.get(folded) or (folded if folded in COMMANDS else None)


async def command(ctx: Ctx, text: str) -> list[Say] | None:
    """The answer to a command ("/status", "khoa hoc", "điểm danh 123456"), or None."""
    if text.startswith("/"):
        word, _sep, arg = text[1:].partition(" ")
        name = _named(word)
        if name is None:
            return [Say(ctx._("I don't know that command. Send /help to see what I can do."))]
        return await ACTIONS[name](ctx, arg.strip())
    name = _named(text)
    if name is not None:
        return await ACTIONS[name](ctx, "")
    words = text.split()
    for n in (3, 2, 1):  # a command word of one to three words, then its argument
        name = _named(" ".join(words[:n]))
        if name in _WITH_ARGUMENT and len(words) > n:
            return await ACTIONS[name](ctx, " ".join(words[n:]))
    return None


async def typed(ctx: Ctx, text: str, step: tuple[str, dict[str, Any]] | None) -> list[Say]:
    """Text that is no command: the owed step's answer, a link attempt, or a search."""
    if step is not None:
        name, data = step
        return await STEPS[name](ctx, name, data, text)
    if ctx.person_id is None:
        says = await link.unlinked_text(ctx, text)
        if says is not None:
            return says
    return await courses.search(ctx, text)
