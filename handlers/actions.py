"""Callback data: short prefixed strings built and parsed here only (Telegram allows 64 bytes).

The server never trusts them: every handler re-checks existence, ownership and deadlines.
"""

from __future__ import annotations

import re

from domain.course_admin import Field
from domain.reminders import CATEGORIES

COURSE = "c"  # show a course card
REGISTER = "r"  # ask to confirm registration
REGISTER_CONFIRM = "rc"
CANCEL = "u"  # ask to confirm cancellation
CANCEL_CONFIRM = "uc"
PAGE = "p"  # page of open courses
SEARCH_PAGE = "s"  # page of search results (its words are kept in the dialog row)
LANGUAGE = "lang"
UNLINK = "unlink"
UNLINK_CONFIRM = "unlinkc"
DISMISS = "x"
REMINDER_TOGGLE = "rem"  # switch a category of reminders on or off in /reminders
REMINDER_OFF = "off"  # the "turn these reminders off" button under a reminder
REMINDER_VIA = "via"  # via:<telegram|zalo|last> the app reminders go to
# Organizers' course management (handlers/organizer_courses.py, course_create.py, course_edit.py)
ORG_LIST = "ol"  # page of the organizer's courses
ORG_COURSE = "oc"  # a course's admin card
ORG_EDIT = "oe"  # the menu of fields to edit
ORG_EDIT_FIELD = "of"  # of:<course id>:<field>
ORG_EDIT_CHOICE = "og"  # og:<course id>:<cat|g|l|a>:<code> a choice while editing a field
ORG_CLOSE = "ox"
ORG_REOPEN = "oo"
ORG_CANCEL = "ok"  # ask to confirm cancelling the course
ORG_CANCEL_CONFIRM = "okc"
ORG_PEOPLE = "or"  # or:<course id>:<page> registrants
ORG_EXPORT = "ov"  # registrants as XLSX
ORG_IMPORT = "oi"  # oi:<token> import the previewed courses file
NEW_CHOICE = "on"  # on:<cat|g|l|a>:<code> a choice in /newcourse
NEW_CONFIRM = "onc"
NEW_ABORT = "onx"
# Attendance and completion (handlers/attendance.py); <n> = how many numbers follow
ATT_COURSE = "at"  # at:<course>
ATT_SESSION = "ats"  # ats:<course>:<session>:<page> a page of participants with toggles
ATT_TOGGLE = "atk"  # atk:<course>:<session>:<registration>:<page>:<mark to set: 1|0>
ATT_CODE = "atc"  # atc:<course>:<session> a fresh check-in code
ATT_SHEET = "atx"  # atx:<course> the sheet to fill in
ATT_UPLOAD = "atu"  # atu:<course> upload a filled sheet
ATT_FINISH = "atf"  # atf:<course> ask to confirm finishing the course
ATT_FINISH_CONFIRM = "atfc"
# Record claims (handlers/claims.py)
CLAIM_START = "cl"
CLAIM_KIND = "clk"  # clk:correction|qualification|training
CLAIM_QUAL = "clq"  # clq:<qualification kind>
CLAIM_LEVEL = "cll"  # cll:<qualification kind>:<level code>
CLAIM_VIEW = "clv"  # clv:<claim>
CLAIM_APPROVE = "cla"
CLAIM_REJECT = "clr"
# Nomination and approval (handlers/nominations.py)
NOM_ACCEPT = "na"  # na:<course> the nominee confirms
NOM_DECLINE = "nd"  # nd:<course> the nominee declines (a reason is asked next)
APPROVE = "aa"  # aa:<registration> the unit head approves
APPROVE_DECLINE = "ad"  # ad:<registration> the unit head declines (a reason is asked next)
NOM_SKIP = "ns"  # ns:<course> the nominee declines without a reason
APPROVE_SKIP = "as"  # as:<registration> the unit head declines without a reason
NOM_COURSE = "nc"  # nc:<course> /nominate: people to pick for this course
NOM_TOGGLE = "nt"  # nt:<person> pick or unpick someone
NOM_PAGE = "np"  # np:<page> another page of people
NOM_HOLD = "nh"  # nh:<hours> how long seats are held (0: until registration closes)
NOM_REVIEW = "nn"  # the summary before nominating
NOM_SEND = "ny"  # nominate the picked people
NOM_GAP = "ng"  # ng:<0 everyone|1 missing the standard it grants|2 hours only> filter
NOM_UNIT = "nu"  # nu:<unit> only people of this unit (0: every unit)
# Broadcasts (handlers/broadcast.py, schedules/broadcasts.py)
BC_AUDIENCE = "bca"  # bca:<broadcast>:<all|unit|pos|miss|reg|wait> how to pick the audience
BC_RULE = "bcr"  # bcr:<broadcast>:<rule> people missing this standard
BC_ACK = "bck"  # bck:<broadcast>:<0|1> ask recipients to confirm receipt or not
BC_SEND = "bcs"  # bcs:<broadcast> send now
BC_WHEN = "bct"  # bct:<broadcast> ask for a time to send
BC_CANCEL = "bcx"  # bcx:<broadcast> cancel a draft, scheduled or running broadcast
BC_REFRESH = "bcu"  # bcu:<broadcast> the report again, with receipts so far
BC_RECEIVED = "bok"  # bok:<broadcast> a recipient confirms receipt
BC_KINDS = ("all", "unit", "pos", "miss", "reg", "wait")
# Secondment review meetings (handlers/reviews.py)
REVIEW_VIEW = "sv"  # sv:<secondment> the rating buttons
REVIEW_RATE = "svr"  # svr:<secondment>:<rating index> then the meeting's note is asked
REVIEW_SKIP = "svs"  # svs:<secondment>:<rating index> recorded without a note
_NUMBERS = {ATT_COURSE: 1, ATT_SESSION: 3, ATT_TOGGLE: 5, ATT_CODE: 2, ATT_SHEET: 1,
            ATT_UPLOAD: 1, ATT_FINISH: 1, ATT_FINISH_CONFIRM: 1, CLAIM_VIEW: 1,
            CLAIM_APPROVE: 1, CLAIM_REJECT: 1}  # fmt: skip
_QUALS = "education|political_theory|state_management|it|foreign_language|digital_skills"
_WORDS = {CLAIM_KIND: "correction|qualification|training",
          CLAIM_LEVEL: f"(?:{_QUALS}):[a-z0-9_]{{1,30}}", CLAIM_QUAL: _QUALS}  # fmt: skip

_ID_ACTIONS = (COURSE, REGISTER, REGISTER_CONFIRM, CANCEL, CANCEL_CONFIRM, PAGE, SEARCH_PAGE)
_NUMBERS.update(dict.fromkeys((NOM_ACCEPT, NOM_DECLINE, APPROVE, APPROVE_DECLINE, NOM_SKIP,
                                APPROVE_SKIP, NOM_COURSE,
                                NOM_TOGGLE, NOM_PAGE, NOM_HOLD, NOM_GAP, NOM_UNIT), 1))  # fmt: skip
_NUMBERS.update({REVIEW_VIEW: 1, REVIEW_RATE: 2, REVIEW_SKIP: 2})
_NUMBERS.update({BC_RULE: 2, BC_ACK: 2, BC_SEND: 1, BC_WHEN: 1, BC_CANCEL: 1, BC_REFRESH: 1,
                 BC_RECEIVED: 1})  # fmt: skip
_ORG_ID_ACTIONS = (ORG_LIST, ORG_COURSE, ORG_EDIT, ORG_CLOSE, ORG_REOPEN, ORG_CANCEL,
                   ORG_CANCEL_CONFIRM, ORG_EXPORT, ORG_IMPORT)  # fmt: skip


def build(action: str, value: int | str | None = None) -> str:
    data = action if value is None else f"{action}:{value}"
    assert len(data.encode()) <= 64, data
    return data


def pattern(action: str) -> re.Pattern[str]:
    """Anchored pattern for one action: ids are 1–9 digits, languages two letters."""
    if action in _NUMBERS:
        return re.compile(rf"^{action}" + r":(\d{1,9})" * _NUMBERS[action] + "$")
    if action in _WORDS:
        return re.compile(rf"^{action}:({_WORDS[action]})$")
    if action in _ID_ACTIONS or action in _ORG_ID_ACTIONS:
        return re.compile(rf"^{action}:(\d{{1,9}})$")
    if action == BC_AUDIENCE:
        return re.compile(rf"^{action}:(\d{{1,9}}):({'|'.join(BC_KINDS)})$")
    if action == LANGUAGE:
        return re.compile(rf"^{action}:(vi|en)$")
    if action in (REMINDER_TOGGLE, REMINDER_OFF):
        return re.compile(rf"^{action}:({'|'.join(CATEGORIES)})$")
    if action == REMINDER_VIA:
        return re.compile(rf"^{action}:(telegram|zalo|last)$")
    if action == ORG_EDIT_FIELD:
        return re.compile(rf"^{action}:(\d{{1,9}}):({'|'.join(Field)})$")
    if action == ORG_EDIT_CHOICE:
        return re.compile(rf"^{action}:(\d{{1,9}}):(cat|g|l|a):([a-z_\-]{{1,30}})$")
    if action == ORG_PEOPLE:
        return re.compile(rf"^{action}:(\d{{1,9}}):(\d{{1,4}})$")
    if action == NEW_CHOICE:
        return re.compile(rf"^{action}:(cat|g|l|a):([a-z_\-]{{1,30}})$")
    return re.compile(rf"^{action}$")


def argument(data: str | None) -> str:
    """The text argument of already-matched callback data."""
    assert data is not None
    return data.split(":", 1)[1]


def number(data: str | None) -> int:
    """The numeric argument of already-matched callback data."""
    assert data is not None
    return int(data.split(":", 1)[1])


def parts(data: str | None) -> list[str]:
    """The colon-separated arguments of already-matched callback data."""
    assert data is not None
    return data.split(":")[1:]
