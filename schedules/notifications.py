"""The notification drainer: claims due rows, renders them in the recipient's language, sends.

JobQueue is only the clock; the rows are the truth. A row is claimed (state "sending" with a
lease) and committed before the send, then marked sent with Telegram's message id in a second
transaction. A crash between Telegram accepting a message and that second commit leaves the
row "sending"; when its lease runs out it is sent again. That window (one round trip to the
Bot API plus one commit) is the only way a reminder can arrive twice; Telegram offers no
idempotency key that would close it. Everything else is lost-proof: a crash before the send
retries the row after the lease.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Bot
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError
from telegram.ext import Application

from bot.context import Resources
from bot.i18n import Translator, pick_language
from domain import reminders
from schedules.notices import buttons, render
from storage.models import NotificationState
from storage.repos.accounts import AccountRepo
from storage.repos.notifications import NotificationRepo

log = logging.getLogger(__name__)

CHANNEL = "telegram"
LEASE = timedelta(minutes=2)
BATCH = 50
MAX_ATTEMPTS = 5
JOB_NAME = "notification-drainer"
PLAN_JOB_NAME = "reminder-planner"
PLAN_CHUNK = 50  # people per transaction: SQLite has one writer, users must not wait long


class Pacer:
    """Spaces sends evenly at `rate` per second, so the bot stays under Telegram's limit by
    itself instead of waiting for 429s. One per application; every sender shares it."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        async with self._lock:
            now = time.monotonic()
            if self._next > now:
                await asyncio.sleep(self._next - now)
            self._next = max(self._next, now) + self.interval


async def drain_once(bot: Bot, res: Resources, pacer: Pacer) -> int:
    """Deliver every row due now, batch after batch; returns how many were sent."""
    policy = res.settings.reminder_policy()
    sent = 0
    while True:
        now = datetime.now(UTC)
        async with res.db.begin() as session:
            claimed = [
                n.id
                for n in await NotificationRepo(session).claim_due(
                    now=now,
                    limit=BATCH,
                    lease=LEASE,
                    urgent_only=reminders.in_quiet_hours(now, policy),
                )
            ]
        for note_id in claimed:
            sent += await _deliver(bot, res, pacer, note_id)
        if len(claimed) < BATCH:
            return sent


async def _deliver(bot: Bot, res: Resources, pacer: Pacer, note_id: int) -> int:
    db, settings = res.db, res.settings
    now = datetime.now(UTC)
    async with db.begin() as session:
        note = await NotificationRepo(session).get(note_id)
        if note is None or note.state != NotificationState.SENDING:
            return 0
        account = await AccountRepo(session).linked_to(CHANNEL, note.person_id)
        if account is None or not account.active:
            _finish(note, NotificationState.SKIPPED, "not linked to the bot")
            return 0
        ready = await reminders.prepare(
            session,
            note,
            now=now,
            policy=settings.reminder_policy(),
            hours_target=settings.annual_hours_target,
        )
        if isinstance(ready, reminders.Skip):
            _finish(note, NotificationState.SKIPPED, ready.reason)
            return 0
        t = Translator(
            pick_language(account.language, None, settings.default_language), settings.tz
        )
        text, markup = render(t, ready), buttons(t, ready)
        chat_id, person_id, account_id = int(account.chat_id), note.person_id, account.id
    await pacer.wait()
    try:
        message = await bot.send_message(
            chat_id, text, parse_mode=ParseMode.HTML, reply_markup=markup
        )
    except Forbidden as exc:
        log.info("person %s blocked the bot: %s", person_id, exc)
        async with db.begin() as session:
            await _mark(session, note_id, NotificationState.SKIPPED, f"blocked: {exc}")
            account = await AccountRepo(session).get(account_id)
            if account is not None:
                account.active = False
            await reminders.skip_pending(session, person_ids=[person_id], reason="blocked the bot")
        return 0
    except RetryAfter as exc:
        wait = exc.retry_after
        delay = wait if isinstance(wait, timedelta) else timedelta(seconds=float(wait))
        log.warning("flood limit: notification %s retries in %s", note_id, delay)
        async with db.begin() as session:
            note = await _mark(session, note_id, NotificationState.PENDING, str(exc))
            if note is not None:
                note.due_at = datetime.now(UTC) + delay
                note.attempts -= 1  # Telegram's pace, not a failure of this row
        return 0
    except BadRequest as exc:  # e.g. chat not found: sending again would fail the same way
        log.warning("notification %s refused: %s", note_id, exc)
        async with db.begin() as session:
            await _mark(session, note_id, NotificationState.FAILED, str(exc))
        return 0
    except TelegramError as exc:  # network trouble: retry with backoff, then give up
        async with db.begin() as session:
            note = await _mark(session, note_id, NotificationState.PENDING, str(exc))
            if note is not None:
                if note.attempts >= MAX_ATTEMPTS:
                    note.state = NotificationState.FAILED
                note.due_at = datetime.now(UTC) + timedelta(seconds=30 * 2**note.attempts)
        return 0
    async with db.begin() as session:
        note = await _mark(session, note_id, NotificationState.SENT, None)
        if note is not None:
            note.sent_message_id = message.message_id
            note.sent_at = datetime.now(UTC)
    return 1


def _finish(note: Any, state: NotificationState, error: str | None) -> None:
    note.state = state
    note.last_error = error
    note.claimed_until = None


async def _mark(
    session: AsyncSession, note_id: int, state: NotificationState, error: str | None
) -> Any:
    note = await NotificationRepo(session).get(note_id)
    if note is not None:
        _finish(note, state, error)
    return note


async def plan_all(res: Resources) -> int:
    """Create the standards, hours and review reminders every linked person is owed."""
    db, settings, now = res.db, res.settings, datetime.now(UTC)
    async with db.begin() as session:
        people = await reminders.linked_people(session)
    added = 0
    for start in range(0, len(people), PLAN_CHUNK):
        async with db.begin() as session:
            for person_id in people[start : start + PLAN_CHUNK]:
                added += await reminders.plan_person(
                    session,
                    person_id=person_id,
                    now=now,
                    policy=settings.reminder_policy(),
                    hours_target=settings.annual_hours_target,
                )
    log.info("planned %d reminders for %d linked people", added, len(people))
    return added


async def _drain_job(context: Any) -> None:
    app = context.application
    # One drain at a time; a tick that finds one running returns at once (APScheduler would
    # otherwise log a warning for every skipped run while a long peak drains).
    if app.bot_data.get("draining"):
        return
    app.bot_data["draining"] = True
    try:
        await drain_once(context.bot, app.bot_data["resources"], app.bot_data["pacer"])
    finally:
        app.bot_data["draining"] = False


async def _plan_job(context: Any) -> None:
    res: Resources = context.application.bot_data["resources"]
    await plan_all(res)


def start_drainer(app: Application) -> None:
    res: Resources = app.bot_data["resources"]
    app.bot_data.setdefault("pacer", Pacer(res.settings.send_rate_per_second))
    assert app.job_queue is not None
    app.job_queue.run_repeating(
        _drain_job,
        interval=timedelta(seconds=res.settings.drain_interval_seconds),
        first=timedelta(seconds=0),
        name=JOB_NAME,
        job_kwargs={"max_instances": 2, "coalesce": True},
    )
    app.job_queue.run_repeating(
        _plan_job,
        interval=timedelta(minutes=res.settings.plan_interval_minutes),
        first=timedelta(seconds=5),
        name=PLAN_JOB_NAME,
        job_kwargs={"max_instances": 1, "coalesce": True},
    )


def kick_drainer(app: Application) -> None:
    """Deliver now rather than at the next tick (e.g. a waitlist promotion)."""
    if app.job_queue is not None and app.job_queue.scheduler.running:
        app.job_queue.run_once(_drain_job, when=0)
