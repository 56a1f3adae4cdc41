"""Callback data: short prefixed strings built and parsed here only (Telegram allows 64 bytes).

The server never trusts them: every handler re-checks existence, ownership and deadlines.
"""

from __future__ import annotations

import re

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
    return re.compile(rf"^{action}$")


def number(data: str | None) -> int:
    """The numeric argument of already-matched callback data."""
    assert data is not None
    return int(data.split(":", 1)[1])
