"""Sending a message the bot starts on one channel, with the outcome told in channel-free terms.

The drainers word a notice or a broadcast as a `Say` (handlers/notices.py) and hand it to the
`Sender` of the person's chat account (their preferred or last-used channel among those this
process serves). Each adapter implements a sender (bot/telegram/sender.py, bot/zalo/sender.py)
that renders the `Say` its way and turns its API's errors into one of the outcomes below, so
the drainers' bookkeeping is shared. The assembly hands the senders in (bot/jobs.py,
bot/serve.py); nothing here knows a channel's API.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from handlers.core import Say
from locales import Translator

TELEGRAM = "telegram"  # where organizers follow their broadcasts (progress and report)


@dataclass(frozen=True)
class Sent:
    message_id: int | None  # Zalo's ids are strings; only numeric ids are kept


@dataclass(frozen=True)
class Blocked:
    """The person cannot be reached on this channel any more (blocked the bot)."""

    reason: str


@dataclass(frozen=True)
class Retry:
    """Not delivered; try again: after `after` (the channel's pace, not counted as an attempt),
    or with the drainer's backoff when `after` is None (trouble that counts as an attempt)."""

    reason: str
    after: timedelta | None = None


@dataclass(frozen=True)
class Unsure:
    """The request may have reached the channel (e.g. a timeout after it left): a reminder is
    tried again, a broadcast is not (it must never arrive twice)."""

    reason: str


@dataclass(frozen=True)
class Refused:
    """The channel refused this message for good (e.g. chat not found)."""

    reason: str


Outcome = Sent | Blocked | Retry | Unsure | Refused


# Asked right before a send: None to go ahead, or the outcome to record instead.
Hold = Callable[[], "Retry | None"]


class Sender(Protocol):
    """One channel's way of delivering what the bot starts (reminders, broadcasts, reports)."""

    channel: str
    # Photos and documents, and choices under the very message they belong to: without it a
    # broadcast reaches people as its text alone (handlers/notices.py).
    media: bool

    async def send(
        self, chat_id: str, say: Say, t: Translator, hold: Hold | None = None
    ) -> Outcome:
        """Send `say` (worded with `t`, which the channel's own hints follow) once the pace
        allows; `hold`, asked then, may put it off (e.g. quiet hours have begun). Never
        raises for the API's own refusals."""
        ...

    async def edit(self, chat_id: str, message_id: int, say: Say, t: Translator) -> Outcome:
        """Replace an earlier message (a broadcast's progress) where the channel can."""
        ...
