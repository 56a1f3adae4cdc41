"""Callback data: short prefixed strings built and parsed here only (Telegram allows 64 bytes).

The server never trusts them: every handler re-checks existence, ownership and deadlines.
"""

from __future__ import annotations

import re

from domain.reminders import CATEGORIES

COURSE = "c"  # show a course card
REGISTER = "r"  # ask to confirm registration
REGISTER_CONFIRM = "rc"
CANCEL = "u"  # ask to confirm cancellation
CANCEL_CONFIRM = "uc"
PAGE = "p"  # page of open courses
SEARCH_PAGE = "s"  # page of search results (the query is kept in user_data)
LANGUAGE = "lang"
UNLINK = "unlink"
UNLINK_CONFIRM = "unlinkc"
DISMISS = "x"
REMINDER_TOGGLE = "rem"  # switch a category of reminders on or off in /reminders
REMINDER_OFF = "off"  # the "turn these reminders off" button under a reminder

_ID_ACTIONS = (COURSE, REGISTER, REGISTER_CONFIRM, CANCEL, CANCEL_CONFIRM, PAGE, SEARCH_PAGE)


def build(action: str, value: int | str | None = None) -> str:
    data = action if value is None else f"{action}:{value}"
    assert len(data.encode()) <= 64, data
    return data


def pattern(action: str) -> re.Pattern[str]:
    """Anchored pattern for one action: ids are 1–9 digits, languages two letters."""
    if action in _ID_ACTIONS:
        return re.compile(rf"^{action}:(\d{{1,9}})$")
    if action == LANGUAGE:
        return re.compile(rf"^{action}:(vi|en)$")
    if action in (REMINDER_TOGGLE, REMINDER_OFF):
        return re.compile(rf"^{action}:({'|'.join(CATEGORIES)})$")
    return re.compile(rf"^{action}$")


def argument(data: str | None) -> str:
    """The text argument of already-matched callback data."""
    assert data is not None
    return data.split(":", 1)[1]


def number(data: str | None) -> int:
    """The numeric argument of already-matched callback data."""
    assert data is not None
    return int(data.split(":", 1)[1])
