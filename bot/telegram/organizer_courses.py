"""An organizer's courses (/organize, /newcourse, a course's card, editing it) on Telegram:
the flows are handlers/organizer_courses.py, course_create.py and course_edit.py; their
choices are the inline buttons wired here, their typed steps answered by adapter.OwedStep."""

from __future__ import annotations

from telegram.ext import Application

from bot.telegram.adapter import actions, commands
from handlers import actions as cb


def register(app: Application) -> None:
    commands(app, ("newcourse", "organize"))
    actions(app, (cb.NEW_CHOICE, cb.NEW_CONFIRM, cb.NEW_ABORT))  # /newcourse
    actions(app, (cb.ORG_LIST, cb.ORG_COURSE, cb.ORG_CLOSE, cb.ORG_REOPEN, cb.ORG_CANCEL,
                  cb.ORG_CANCEL_CONFIRM, cb.ORG_PEOPLE, cb.ORG_EXPORT))  # fmt: skip
    actions(app, (cb.ORG_EDIT, cb.ORG_EDIT_FIELD, cb.ORG_EDIT_CHOICE))  # editing a course
