"""Messages the bot starts on Zalo: reminders from the drainer, and (for broadcasts) plain text.

Choices under a notice (confirm or decline a nomination, approve or decline a registration
request, view the course, cancel, turn these reminders off) become the chat's current numbered
list (pushed: see handlers/dialog.py for a push replacing a list the user was answering), so
answering "1" works as a button press does on Telegram. Zalo's message ids are
strings, so none is kept on the notification row.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.zalo.client import (
    ZaloClient,
    ZaloError,
    ZaloForbidden,
    ZaloNetworkError,
    ZaloRateLimited,
)
from domain import reminders as r
from handlers.dialog import Choice, Dialogs, compose, split
from locales import Translator
from schedules.channels import Blocked, Hold, Outcome, Refused, Retry, Sent
from schedules.pacing import Pacer

log = logging.getLogger(__name__)

CHANNEL = "zalo"
QUOTA_WAIT = timedelta(minutes=1)  # Zalo's 429 carries no retry-after


@dataclass(frozen=True)
class Worded:
    text: str
    choices: list[Choice]
    hint: str


def notice_choices(t: Translator, ready: r.Ready) -> list[Choice]:
    """The Telegram buttons of schedules.notices, as numbered choices."""
    _ = t.gettext
    note = ready.note
    choices = []
    if note.kind == r.NOMINATED and note.course_id is not None:
        choices.append(Choice(_("✅ Confirm"), f"na:{note.course_id}"))
        choices.append(Choice(_("✖️ Decline"), f"nd:{note.course_id}"))
    elif note.kind == r.APPROVAL_REQUEST and ready.registration is not None:
        choices.append(Choice(_("✅ Approve"), f"aa:{ready.registration.id}"))
        choices.append(Choice(_("✖️ Decline"), f"ad:{ready.registration.id}"))
    if note.course_id is not None and note.kind != r.COURSE_CANCELLED:
        choices.append(Choice(_("View course"), f"c:{note.course_id}"))
        if note.kind in (r.COURSE_START, r.PROMOTED, r.COURSE_CHANGED):
            choices.append(Choice(_("Cancel registration"), f"u:{note.course_id}"))
    category = r.KINDS[note.kind].category
    if category is not None:
        choices.append(Choice(_("🔕 Turn these reminders off"), f"off:{category}"))
    return choices


class ZaloSender:
    """Sends on Zalo at ZALO_SEND_RATE_PER_SECOND; shares the conversation's Dialogs."""

    channel = CHANNEL

    def __init__(self, client: ZaloClient, dialogs: Dialogs, pacer: Pacer) -> None:
        self.client = client
        self.dialogs = dialogs
        self.pacer = pacer

    # -- the notification drainer (schedules.channels.NoticeSender) --------------------------

    def word(self, t: Translator, ready: r.Ready) -> Worded:
        # Imported here: schedules.notices reaches handlers/, whose modules import the drainer.
        from schedules.notices import render

        hint = t.gettext("Reply with a number, or type the name of your choice.")
        return Worded(render(t, ready), notice_choices(t, ready), hint)

    async def send(self, chat_id: str, message: Any, hold: Hold | None = None) -> Outcome:
        assert isinstance(message, Worded)
        outcome = await self.send_text(
            chat_id, compose(message.text, message.choices, message.hint), hold=hold
        )
        if isinstance(outcome, Sent) and message.choices:
            await self.dialogs.push(chat_id, message.choices, datetime.now(UTC))
        return outcome

    # -- any text, e.g. a broadcast ----------------------------------------------------------

    async def send_text(self, chat_id: str, text: str, hold: Hold | None = None) -> Outcome:
        """Send plain text (our HTML is made plain), split at line breaks into ≤ 2,000
        characters. Never raises for Zalo's refusals: the outcome says what happened."""
        pieces = split(compose(text, [], ""))
        if not pieces:
            return Refused("empty message")
        try:
            for n, piece in enumerate(pieces):
                await self.pacer.wait()
                if n == 0 and hold is not None and (put_off := hold()) is not None:
                    return put_off
                await self.client.send_message(chat_id, piece)
        except ZaloForbidden as exc:
            return Blocked(str(exc))
        except ZaloRateLimited as exc:
            return Retry(str(exc), after=QUOTA_WAIT)
        except ZaloNetworkError as exc:
            return Retry(str(exc))
        except ZaloError as exc:
            if exc.code >= 500:
                return Retry(str(exc))
            log.warning("zalo refused a message to %s: %s", chat_id, exc)
            return Refused(str(exc))
        return Sent(None)
