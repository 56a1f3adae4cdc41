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
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Bot
from telegram.ext import Application

from bot.context import Resources
from config.instruments import PLANNER_SECONDS
from domain import channels, nominations, planner, reminders
from locales import Translator, pick_language
from schedules.channels import (
    Blocked,
    ChannelSender,
    Hold,
    NoticeSender,
    Outcome,
    Refused,
    Retry,
    TelegramNotices,
)
from schedules.pacing import Pacer
from storage.db import reading
from storage.models import NotificationState
from storage.repos.accounts import AccountRepo
from storage.repos.notifications import NotificationRepo

log = logging.getLogger(__name__)

TELEGRAM = "telegram"
__all__ = ["Pacer", "drain_once", "kick_drainer", "plan_all", "run_schedules", "start_drainer"]
LEASE = timedelta(minutes=2)
BATCH = 50
RECORD_TRIES = 5  # writes of a send's outcome, 0.5 s apart and doubling
MAX_ATTEMPTS = 5
JOB_NAME = "notification-drainer"
PLAN_JOB_NAME = "reminder-planner"
EXPIRE_JOB_NAME = "hold-expirer"
EXPIRE_INTERVAL = timedelta(minutes=1)  # held seats are let go within a minute of their time
# Person ids per transaction: SQLite has one writer and users must not wait long; PostgreSQL
# lets users write meanwhile, and each range reads the accounts and records tables once.
PLAN_CHUNK = {"sqlite": 20_000, "postgresql": 250_000}


async def drain_once(
    bot: Bot | None,
    res: Resources,
    pacer: Pacer,
    *,
    others: Sequence[NoticeSender] = (),
) -> int:
    """Deliver every row due now, batch after batch; returns how many were sent.

    `bot` sends on Telegram (None when this process serves no Telegram bot); `others` are the
    senders of the other channels this process serves (Zalo).
    """
    senders: dict[str, NoticeSender] = {s.channel: s for s in others}
    if bot is not None:
        senders[TELEGRAM] = TelegramNotices(bot, pacer)
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
            try:
                sent += await _deliver(senders, res, note_id)
            except Exception:  # one row's trouble must not strand the rest of the batch
                log.exception("notification %s could not be delivered", note_id)
        if len(claimed) < BATCH:
            return sent


async def _deliver(senders: dict[str, NoticeSender], res: Resources, note_id: int) -> int:
    db, settings = res.db, res.settings
    now = datetime.now(UTC)
    async with db.begin() as session:
        note = await NotificationRepo(session).get(note_id)
        if note is None or note.state != NotificationState.SENDING:
            return 0
        policy = settings.reminder_policy()
        if not note.urgent and reminders.in_quiet_hours(now, policy):
            # Claimed just before the quiet hours began: back to the queue until morning.
            _finish(note, NotificationState.PENDING, None)
            note.due_at = reminders.out_of_quiet_hours(now, policy)
            note.attempts -= 1
            return 0
        if await channels.elsewhere(
            session, person_id=note.person_id, served=senders, used=settings.channels
        ):
            _finish(note, NotificationState.PENDING, None)  # for the process serving that app
            note.due_at = now + channels.LEFT_FOR_OTHERS
            note.attempts -= 1
            return 0
        # The person's preferred channel, else the one they used last, among those served here.
        account = await channels.reachable_account(
            session, person_id=note.person_id, channels=list(senders)
        )
        if account is None:
            _finish(note, NotificationState.SKIPPED, "not linked to the bot")
            return 0
        ready = await reminders.prepare(
            session,
            note,
            now=now,
            policy=policy,
            hours_target=settings.annual_hours_target,
        )
        if isinstance(ready, reminders.Skip):
            _finish(note, NotificationState.SKIPPED, ready.reason)
            return 0
        t = Translator(
            pick_language(account.language, None, settings.default_language), settings.tz
        )
        chat_id, person_id, account_id = account.chat_id, note.person_id, account.id
        urgent = note.urgent
        sender = senders[account.channel]
        message = sender.word(t, ready)
    # Sent outside the transaction: a slow API must not hold the database's write lock.
    outcome = await sender.send(chat_id, message, None if urgent else _quiet_hold(policy))
    # Once the channel accepted it, recording that must not give up on a busy database: a
    # row left "sending" would be sent again when its lease runs out.
    for attempt in range(RECORD_TRIES):
        try:
            return await _record(res, note_id, person_id, account_id, sender.channel, outcome)
        except OperationalError as exc:
            if attempt == RECORD_TRIES - 1:
                raise
            log.warning("recording notification %s failed (%s); trying again", note_id, exc)
            await asyncio.sleep(0.5 * 2**attempt)
    raise AssertionError("unreachable")


async def _record(
    res: Resources, note_id: int, person_id: int, account_id: int, channel: str, outcome: Outcome
) -> int:
    db = res.db
    if isinstance(outcome, Blocked):
        log.info("person %s blocked the bot on %s: %s", person_id, channel, outcome.reason)
        async with db.begin() as session:
            account = await AccountRepo(session).get(account_id)
            if account is not None:
                account.active = False
            await session.flush()
            others = await AccountRepo(session).of_person(person_id)
            if others:  # still reachable on another channel: send it there next
                note = await _mark(session, note_id, NotificationState.PENDING, outcome.reason)
                if note is not None:
                    note.due_at = datetime.now(UTC)
                    note.attempts -= 1
                return 0
            await _mark(session, note_id, NotificationState.SKIPPED, f"blocked: {outcome.reason}")
            await reminders.skip_pending(session, person_ids=[person_id], reason="blocked the bot")
        return 0
    if isinstance(outcome, Retry) and outcome.after is not None:
        log.warning("notification %s put off for %s: %s", note_id, outcome.after, outcome.reason)
        async with db.begin() as session:
            note = await _mark(session, note_id, NotificationState.PENDING, outcome.reason)
            if note is not None:
                note.due_at = datetime.now(UTC) + outcome.after
                note.attempts -= 1  # the channel's pace, not a failure of this row
        return 0
    if isinstance(outcome, Refused):
        log.warning("notification %s refused: %s", note_id, outcome.reason)
        async with db.begin() as session:
            await _mark(session, note_id, NotificationState.FAILED, outcome.reason)
        return 0
    if isinstance(outcome, Retry):  # network trouble: retry with backoff, then give up
        async with db.begin() as session:
            note = await _mark(session, note_id, NotificationState.PENDING, outcome.reason)
            if note is not None:
                if note.attempts >= MAX_ATTEMPTS:
                    note.state = NotificationState.FAILED
                note.due_at = datetime.now(UTC) + timedelta(seconds=30 * 2**note.attempts)
        return 0
    async with db.begin() as session:
        note = await _mark(session, note_id, NotificationState.SENT, None)
        if note is not None:
            note.sent_message_id = outcome.message_id
            note.sent_at = datetime.now(UTC)
    return 1


def _quiet_hold(policy: reminders.Policy) -> Hold:
    """Put a send off until the morning if quiet hours began while it waited its turn."""

    def hold() -> Retry | None:
        now = datetime.now(UTC)
        if not reminders.in_quiet_hours(now, policy):
            return None
        return Retry("quiet hours", after=reminders.out_of_quiet_hours(now, policy) - now)

    return hold


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
    with PLANNER_SECONDS.time():
        return await _plan_all(res)


async def _plan_all(res: Resources) -> int:
    db, settings = res.db, res.settings
    # Worked out while only reading; then added range by range of people, each range in one
    # short transaction (SQLite has one writer: users must not wait long).
    async with reading(db) as session:
        plan = await planner.work_out(
            session,
            now=datetime.now(UTC),
            policy=settings.reminder_policy(),
            hours_target=settings.annual_hours_target,
        )
    added = 0
    for low, high in plan.chunks(PLAN_CHUNK.get(plan.dialect, 20_000)):
        async with db.begin() as session:
            added += await planner.add_range(session, plan, low=low, high=high)
    async with db.begin() as session:
        added += await planner.add_reviews(session, plan)
    log.info("planned %d reminders for %d linked people", added, plan.linked)
    return added


async def _drain_job(context: Any) -> None:
    app = context.application
    # One drain at a time; a tick that finds one running returns at once (APScheduler would
    # otherwise log a warning for every skipped run while a long peak drains).
    if app.bot_data.get("draining"):
        return
    app.bot_data["draining"] = True
    try:
        await drain_once(
            context.bot,
            app.bot_data["resources"],
            app.bot_data["pacer"],
            others=app.bot_data.get("notice_senders", ()),
        )
    finally:
        app.bot_data["draining"] = False


async def _plan_job(context: Any) -> None:
    res: Resources = context.application.bot_data["resources"]
    await plan_all(res)


async def expire_all(res: Resources) -> int:
    """Let go of nominations and approval requests not answered in time (they are told)."""
    async with res.db.begin() as session:
        expired = await nominations.expire_due(
            session, now=datetime.now(UTC), policy=res.settings.reminder_policy()
        )
    if expired:
        log.info("%d nominations or approval requests expired", expired)
    return expired


async def _expire_job(context: Any) -> None:
    if await expire_all(context.application.bot_data["resources"]):
        await _drain_job(context)


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
    app.job_queue.run_repeating(
        _expire_job,
        interval=EXPIRE_INTERVAL,
        first=timedelta(seconds=10),
        name=EXPIRE_JOB_NAME,
        job_kwargs={"max_instances": 1, "coalesce": True},
    )


def kick_drainer(app: Application) -> None:
    """Deliver now rather than at the next tick (e.g. a waitlist promotion)."""
    if app.job_queue is not None and app.job_queue.scheduler.running:
        app.job_queue.run_once(_drain_job, when=0)


async def run_schedules(
    res: Resources, senders: Sequence[ChannelSender], stop: asyncio.Event
) -> None:
    """What PTB's JobQueue runs, for a process without Telegram (one serving only Zalo): the
    notification drainer, the broadcast drainer, the reminder planner and the expiry of held
    seats, each in its own loop so that a long broadcast does not hold reminders up."""
    from schedules.broadcasts import drain_broadcasts  # it imports this module

    settings = res.settings
    pacer = Pacer(settings.send_rate_per_second)  # unused: no Telegram sender here
    zalo = next((s for s in senders if s.channel == "zalo"), None)
    drain = settings.drain_interval_seconds

    def broadcasts() -> Awaitable[int]:
        return drain_broadcasts(None, res, pacer, running=lambda: not stop.is_set(), zalo=zalo)

    expire = EXPIRE_INTERVAL.total_seconds()
    await asyncio.gather(
        _every(stop, lambda: drain_once(None, res, pacer, others=senders), drain, first=0),
        _every(stop, broadcasts, drain, first=0),
        _every(stop, lambda: plan_all(res), settings.plan_interval_minutes * 60, first=5),
        _every(stop, lambda: expire_all(res), expire, first=drain),
    )


async def _every(
    stop: asyncio.Event, work: Callable[[], Awaitable[Any]], seconds: float, *, first: float
) -> None:
    """Run `work` after `first` seconds, then `seconds` after each run ends, until `stop`."""
    delay = first
    while True:
        try:
            await asyncio.wait_for(stop.wait(), timeout=delay)
            return
        except TimeoutError:
            pass
        try:
            await work()
        except Exception:  # a bad tick must not end the loop; the rows stay the truth
            log.exception("scheduled work failed")
        delay = seconds
