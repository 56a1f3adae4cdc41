"""Attendance on Telegram (handlers/attendance.py): /attendance, /complete, /noshows and
/checkin, the buttons of a course's sessions; the filled sheet is taken by adapter.OwedUpload."""

from __future__ import annotations

from telegram.ext import Application

from bot.telegram.adapter import actions, commands
from handlers import actions as cb


def register(app: Application) -> None:
    commands(app, ("attendance", "checkin", "complete", "noshows"))
    actions(app, (cb.ATT_COURSE, cb.ATT_SESSION, cb.ATT_TOGGLE, cb.ATT_CODE, cb.ATT_SHEET,
                  cb.ATT_UPLOAD, cb.ATT_FINISH, cb.ATT_FINISH_CONFIRM))  # fmt: skip
