"""Domain errors carry a code; channels turn the code into text in the user's language."""

from __future__ import annotations

import enum


class Refusal(enum.StrEnum):
    NOT_LINKED = "not_linked"
    NOT_FOUND = "not_found"
    CLOSED = "closed"
    DEADLINE_PASSED = "deadline_passed"
    OUTSIDE_AUDIENCE = "outside_audience"
    CLASH = "clash"
    NOT_REGISTERED = "not_registered"
    TOO_LATE_TO_CANCEL = "too_late_to_cancel"
    FORBIDDEN = "forbidden"  # the person lacks the role (or the scope) for this action
    NOT_PENDING = "not_pending"  # a nomination or approval already answered or expired
    INVALID = "invalid"  # a value the action cannot take; `what` names it


class DomainError(Exception):
    """A request the rules refuse; nothing was changed."""

    def __init__(self, code: Refusal, **details: object) -> None:
        super().__init__(code.value)
        self.code = code
        self.details = details
