"""The notification drainer: claims due rows, renders them in the recipient's language, sends.

JobQueue is only the clock; the rows are the truth. A row is claimed (state "sending" with a
lease) in one transaction and marked in another after the send.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from html import escape
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import Forbidden, RetryAfter, TelegramError
from telegram.ext import Application

from bot.context import Resources
from bot.i18n import Translator, pick_language
from domain.registration import PROMOTED
from handlers import callbacks as cb
from storage.models import Course, Notification, NotificationState
from storage.repos.accounts import AccountRepo
from storage.repos.notifications import NotificationRepo

log = logging.getLogger(__name__)

CHANNEL = "telegram"
LEASE = timedelta(minutes=2)
BATCH = 50
MAX_ATTEMPTS = 5
JOB_NAME = "notification-drainer"


def render(t: Translator, note: Notification, course: Course | None) -> str | None:
    """The message for a row, from current data; None when it no longer makes sense."""
    _ = t.gettext
    if note.kind == PROMOTED and course is not None:
        return _(
            "🎉 A seat freed up: you are now registered for <b>%(title)s</b>, starting "
            "%(when)s at %(where)s."
        ) % {
            "title": escape(course.title),
            "when": t.datetime(course.starts_at),
            "where": escape(course.place or course.link or "—"),
        }
    return None


async def drain_once(
    bot: Bot, db: async_sessionmaker[AsyncSession], resources: Resources, *, now: datetime
) -> int:
    """Deliver every due row once; returns how many were sent."""
    async with db.begin() as session:
        claimed = [
            n.id
            for n in await NotificationRepo(session).claim_due(now=now, limit=BATCH, lease=LEASE)
        ]
    sent = 0
    for note_id in claimed:
        sent += await _deliver(bot, db, resources, note_id, now=now)
    return sent


async def _deliver(
    bot: Bot, db: async_sessionmaker[AsyncSession], res: Resources, note_id: int, *, now: datetime
) -> int:
    async with db.begin() as session:
        note = await NotificationRepo(session).get(note_id)
        if note is None or note.state != NotificationState.SENDING:
            return 0
        accounts = [
            a for a in await AccountRepo(session).of_person(note.person_id) if a.channel == CHANNEL
        ]
        course = await session.get(Course, note.course_id) if note.course_id else None
        if not accounts:
            _finish(note, NotificationState.SKIPPED, "not linked to the bot")
            return 0
        account = accounts[0]
        t = Translator(
            pick_language(account.language, None, res.settings.default_language), res.settings.tz
        )
        text = render(t, note, course)
        if text is None:
            _finish(note, NotificationState.SKIPPED, "no longer relevant")
            return 0
        chat_id, account_id = int(account.chat_id), account.id
        markup = _actions(t, note)
    try:
        message = await bot.send_message(
            chat_id, text, parse_mode=ParseMode.HTML, reply_markup=markup
        )
    except Forbidden as exc:
        await _record(db, note_id, NotificationState.SKIPPED, str(exc), deactivate=account_id)
        return 0
    except RetryAfter as exc:
        retry = (
            exc.retry_after
            if isinstance(exc.retry_after, timedelta)
            else timedelta(seconds=float(exc.retry_after))
        )
        await _record(db, note_id, NotificationState.PENDING, str(exc), due_at=now + retry)
        return 0
    except TelegramError as exc:
        await _retry_or_fail(db, note_id, str(exc), now=now)
        return 0
    await _record(db, note_id, NotificationState.SENT, None, message_id=message.message_id)
    return 1


def _actions(t: Translator, note: Notification) -> InlineKeyboardMarkup | None:
    if note.course_id is None:
        return None
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    t.gettext("View course"), callback_data=cb.build(cb.COURSE, note.course_id)
                )
            ]
        ]
    )


def _finish(note: Notification, state: NotificationState, error: str | None) -> None:
    note.state = state
    note.last_error = error
    note.claimed_until = None


async def _record(
    db: async_sessionmaker[AsyncSession],
    note_id: int,
    state: NotificationState,
    error: str | None,
    *,
    message_id: int | None = None,
    due_at: datetime | None = None,
    deactivate: int | None = None,
) -> None:
    async with db.begin() as session:
        note = await NotificationRepo(session).get(note_id)
        if note is None:
            return
        _finish(note, state, error)
        if message_id is not None:
            note.sent_message_id = message_id
            note.sent_at = datetime.now(UTC)
        if due_at is not None:
            note.due_at = due_at
        if deactivate is not None:
            account = await AccountRepo(session).get(deactivate)
            if account is not None:
                account.active = False


async def _retry_or_fail(
    db: async_sessionmaker[AsyncSession], note_id: int, error: str, *, now: datetime
) -> None:
    async with db.begin() as session:
        note = await NotificationRepo(session).get(note_id)
        if note is None:
            return
        if note.attempts >= MAX_ATTEMPTS:
            _finish(note, NotificationState.FAILED, error)
        else:
            _finish(note, NotificationState.PENDING, error)
            note.due_at = now + timedelta(seconds=30 * 2**note.attempts)


async def _job(context: Any) -> None:
    res: Resources = context.application.bot_data["resources"]
    await drain_once(context.bot, res.db, res, now=datetime.now(UTC))


def start_drainer(app: Application) -> None:
    res: Resources = app.bot_data["resources"]
    assert app.job_queue is not None
    app.job_queue.run_repeating(
        _job,
        interval=timedelta(seconds=res.settings.drain_interval_seconds),
        name=JOB_NAME,
        job_kwargs={"max_instances": 1, "coalesce": True},
    )


def kick_drainer(app: Application) -> None:
    """Deliver now rather than at the next tick (e.g. a waitlist promotion)."""
    if app.job_queue is not None and app.job_queue.scheduler.running:
        app.job_queue.run_once(_job, when=0)
