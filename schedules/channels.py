"""Sending a due notification on one channel, with the outcome told in channel-free terms.

The drainer picks the person's chat account (their preferred or last-used channel among those
this process serves) and hands the worded notice to that channel's sender; each sender turns
its API's errors into one of the outcomes below, so the drainer's bookkeeping is shared.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from telegram import Bot, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError

from domain import reminders
from locales import Translator
from schedules.pacing import Pacer


@dataclass(frozen=True)
class Sent:
    message_id: int | None  # Zalo's ids are strings; only numeric ids are kept


@dataclass(frozen=True)
class Blocked:
    """The person cannot be reached on this channel any more (blocked the bot)."""

    reason: str


@dataclass(frozen=True)
class Retry:
    """Try again later: after `after` (the channel's pace, not counted as an attempt), or with
    the drainer's backoff when `after` is None (trouble that counts as a failed attempt)."""

    reason: str
    after: timedelta | None = None


@dataclass(frozen=True)
class Refused:
    """The channel refused this message for good (e.g. chat not found)."""

    reason: str


Outcome = Sent | Blocked | Retry | Refused


# Asked right before a send: None to go ahead, or the outcome to record instead.
Hold = Callable[[], "Retry | None"]


class NoticeSender(Protocol):
    channel: str

    def word(self, t: Translator, ready: reminders.Ready) -> Any:
        """The message for this channel, built while the notice's rows are loaded."""
        ...

    async def send(self, chat_id: str, message: Any, hold: Hold | None = None) -> Outcome:
        """Send a worded message; never raises for the API's own refusals. `hold`, asked
        once the pace allows the send, may put it off (e.g. quiet hours have begun)."""
        ...


class TextSender(Protocol):
    """A channel that can send a plain text to a chat (a broadcast on Zalo)."""

    channel: str

    async def send_text(self, chat_id: str, text: str, hold: Hold | None = None) -> Outcome: ...


class ChannelSender(NoticeSender, TextSender, Protocol):
    """A channel other than Telegram: reminders and broadcasts both (Zalo)."""


class TelegramNotices:
    """Notices on Telegram: HTML with inline buttons, paced by the application's Pacer."""

    channel = "telegram"

    def __init__(self, bot: Bot, pacer: Pacer) -> None:
        self.bot = bot
        self.pacer = pacer

    def word(
        self, t: Translator, ready: reminders.Ready
    ) -> tuple[str, InlineKeyboardMarkup | None]:
        # Imported here: schedules.notices reaches handlers/, whose modules import the drainer.
        from schedules.notices import buttons, render

        return render(t, ready), buttons(t, ready)

    async def send(self, chat_id: str, message: Any, hold: Hold | None = None) -> Outcome:
        text, markup = message
        await self.pacer.wait()
        if hold is not None and (put_off := hold()) is not None:
            return put_off
        try:
            message = await self.bot.send_message(
                int(chat_id), text, parse_mode=ParseMode.HTML, reply_markup=markup
            )
        except Forbidden as exc:
            return Blocked(str(exc))
        except RetryAfter as exc:
            wait = exc.retry_after
            delay = wait if isinstance(wait, timedelta) else timedelta(seconds=float(wait))
            return Retry(str(exc), after=delay)
        except BadRequest as exc:  # e.g. chat not found: sending again would fail the same way
            return Refused(str(exc))
        except TelegramError as exc:  # network trouble: retry with backoff, then give up
            return Retry(str(exc))
        return Sent(message.message_id)
