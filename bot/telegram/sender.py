"""Messages the bot starts on Telegram: reminders, broadcasts and an organizer's progress and
report, rendered as HTML with inline buttons (or a photo or document) and sent at the shared pace.

The drainers (schedules/) hand a `Say` in and get an outcome back; this module turns the Bot
API's errors into those outcomes.
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import timedelta

from telegram import Bot, Message
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from bot.telegram.adapter import CHANNEL, keyboard
from handlers.core import Say
from locales import Translator
from schedules.channels import Blocked, Hold, Outcome, Refused, Retry, Sent, Unsure
from schedules.pacing import Pacer


async def post(bot: Bot, chat_id: int | str, say: Say) -> Message:
    """Send `say` as one message (its photo or document, with the text as caption), then its
    file if it has one; the message sent last. A broadcast's preview is sent the same way."""
    markup = keyboard(say.choices)
    message: Message | None = None
    if say.upload is not None:
        send = bot.send_photo if say.upload.kind == "photo" else bot.send_document
        message = await send(chat_id, say.upload.file_id, caption=say.text or None,
                             parse_mode=ParseMode.HTML, reply_markup=markup)  # fmt: skip
    elif say.text or say.file is None:  # an empty text is Telegram's to refuse
        message = await bot.send_message(chat_id, say.text, parse_mode=ParseMode.HTML,
                                         reply_markup=markup)  # fmt: skip
    if say.file is not None:
        message = await bot.send_document(chat_id, say.file.content, filename=say.file.name,
                                          caption=say.file.caption or None)  # fmt: skip
    assert message is not None
    return message


class TelegramSender:
    """Sends through the application's bot, each message in a slot of `pacer`."""

    channel = CHANNEL
    media = True

    def __init__(self, bot: Bot, pacer: Pacer) -> None:
        self.bot = bot
        self.pacer = pacer

    async def send(
        self, chat_id: str, say: Say, t: Translator, hold: Hold | None = None
    ) -> Outcome:
        await self.pacer.wait()
        if hold is not None and (put_off := hold()) is not None:
            return put_off
        if say.file is not None and (say.text or say.upload):
            # Two messages, two slots of the pace: the text first, then the file.
            text = Say(say.text, say.choices, upload=say.upload)
            first = await self._outcome(post(self.bot, int(chat_id), text))
            if not isinstance(first, Sent):
                return first
            await self.pacer.wait()
            say = Say(file=say.file)
        return await self._outcome(post(self.bot, int(chat_id), say))

    async def edit(self, chat_id: str, message_id: int, say: Say, t: Translator) -> Outcome:
        try:
            await self.bot.edit_message_text(say.text, chat_id=chat_id, message_id=message_id,
                                             parse_mode=ParseMode.HTML,
                                             reply_markup=keyboard(say.choices))  # fmt: skip
        except BadRequest as exc:
            if "not modified" not in str(exc).lower():  # the same text again: nothing to do
                return Refused(str(exc))
        except TelegramError as exc:
            return Unsure(str(exc))
        return Sent(message_id)

    async def _outcome(self, sending: Awaitable[Message]) -> Outcome:
        try:
            message = await sending
        except Forbidden as exc:
            return Blocked(str(exc))
        except RetryAfter as exc:
            wait = exc.retry_after
            delay = wait if isinstance(wait, timedelta) else timedelta(seconds=float(wait))
            hold = getattr(self.pacer, "hold", None)  # everyone pauses, not only this row
            if hold is not None:
                hold(delay.total_seconds())
            return Retry(str(exc), after=delay)
        except BadRequest as exc:  # e.g. chat not found: sending again would fail the same way
            return Refused(str(exc))
        except NetworkError as exc:
            # Only an error before the request left (no connection) says it was not sent;
            # after a timeout Telegram may have delivered it.
            if "ConnectError" in str(exc) or "Pool timeout" in str(exc):
                return Retry(str(exc))
            return Unsure(str(exc))
        except TelegramError as exc:  # Telegram answered with another error: not delivered
            return Retry(str(exc))
        return Sent(message.message_id)
