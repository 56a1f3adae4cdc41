"""Messages the bot starts on Zalo: reminders and broadcasts from the drainers, as plain text.

Choices under a notice (confirm or decline a nomination, approve or decline a registration
request, view the course, cancel, turn these reminders off) become numbered lines and the chat's
current list (pushed: see handlers/dialog.py for a push replacing a list the user was
answering), so answering "1" works as a button press does on Telegram. Zalo's message ids are
strings, so none is kept on the notification row.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from bot.zalo.client import (
    ZaloClient,
    ZaloError,
    ZaloForbidden,
    ZaloNetworkError,
    ZaloRateLimited,
)
from handlers.core import Say
from handlers.dialog import Dialogs, compose, split
from locales import Translator
from schedules.channels import Blocked, Hold, Outcome, Refused, Retry, Sent, Unsure
from schedules.pacing import Pacer

log = logging.getLogger(__name__)

CHANNEL = "zalo"
QUOTA_WAIT = timedelta(minutes=1)  # Zalo's 429 carries no retry-after


class ZaloSender:
    """Sends on Zalo at ZALO_SEND_RATE_PER_SECOND; shares the conversation's Dialogs."""

    channel = CHANNEL
    media = False  # no buttons, and no Telegram files: a broadcast goes as its text

    def __init__(self, client: ZaloClient, dialogs: Dialogs, pacer: Pacer) -> None:
        self.client = client
        self.dialogs = dialogs
        self.pacer = pacer

    async def send(
        self, chat_id: str, say: Say, t: Translator, hold: Hold | None = None
    ) -> Outcome:
        """The text (our HTML made plain) and its numbered choices, split at line breaks into
        ≤ 2,000 characters; the choices become the chat's current list once it is sent."""
        text = say.text
        if say.file is not None and say.file.instead:
            text = f"{text}\n\n{say.file.instead}" if text else say.file.instead
        hint = t.gettext("Reply with a number, or type the name of your choice.")
        outcome = await self._send(chat_id, split(compose(text, say.choices, hint)), hold)
        if isinstance(outcome, Sent) and say.choices:
            await self.dialogs.push(chat_id, say.choices, datetime.now(UTC))
        return outcome

    async def edit(self, chat_id: str, message_id: int, say: Say, t: Translator) -> Outcome:
        """Zalo cannot edit a message: the new text is sent instead."""
        return await self.send(chat_id, say, t)

    async def _send(self, chat_id: str, pieces: list[str], hold: Hold | None) -> Outcome:
        """Never raises for Zalo's refusals: the outcome says what happened."""
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
            # Only a failed connection says it was not sent; after a timeout it may have been.
            unsent = exc.description.startswith("ConnectError")
            return Retry(str(exc)) if unsent else Unsure(str(exc))
        except ZaloError as exc:
            if exc.code >= 500:
                return Unsure(str(exc))
            log.warning("zalo refused a message to %s: %s", chat_id, exc)
            return Refused(str(exc))
        return Sent(None)
