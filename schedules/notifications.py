"""The notification drainer: claims due rows, words them in the recipient's language, sends.

A clock (PTB's JobQueue, bot/jobs.py, or the plain loops of schedules/loops.py) only calls
`drain_once`; the rows are the truth. A row is claimed (state "sending" with a lease) and
committed before the send, then marked sent with the channel's message id in a second
transaction. A crash between the channel accepting a message and that second commit leaves the
row "sending"; when its lease runs out it is sent again. That window (one round trip to the
API plus one commit) is the only way a reminder can arrive twice; neither Telegram nor Zalo
offers an idempotency key that would close it. Everything else is lost-proof: a crash before
the send retries the row after the lease.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from config.instruments import PLANNER_SECONDS
from config.resources import Resources
from domain import channels, nominations, planner, reminders
from handlers.notices import notice
from locales import Translator, pick_language
from schedules.channels import Blocked, Hold, Outcome, Refused, Retry, Sender, Unsure
from storage.db import reading
from storage.models import NotificationState
from storage.repos.accounts import AccountRepo
from storage.repos.notifications import NotificationRepo

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)
BATCH = 50
RECORD_TRIES = 5  # writes of a send's outcome, 0.5 s apart and doubling
MAX_ATTEMPTS = 5
STOPPING = Retry("stopping", after=timedelta(0))  # back to the queue, not counted as a try
EXPIRE_INTERVAL = timedelta(minutes=1)  # held seats are let go within a minute of their time
# Person ids per transaction: SQLite has one writer and users must not wait long; PostgreSQL
# lets users write meanwhile, and each range reads the accounts and records tables once.
PLAN_CHUNK = {"sqlite": 20_000, "postgresql": 250_000}


async def drain_once(
    res: Resources, senders: Sequence[Sender], *, running: Callable[[], bool] = lambda: True
) -> int:
    """Deliver every row due now, batch after batch, on the channels of `senders` (those this
    process serves); returns how many were sent.

    Once `running` turns False (the process was asked to stop) no row is claimed any more and
    the claimed ones not yet sent go back to the queue untouched, for the next worker: a send
    already let go by the pace finishes and is recorded.
    """
    by_channel = {s.channel: s for s in senders}
    policy = res.settings.reminder_policy()
    sent = 0
    while running():
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
        for n, note_id in enumerate(claimed):
            if not running():
                async with res.db.begin() as session:
                    await NotificationRepo(session).release(claimed[n:])
                log.info("stopping: %d claimed reminders given back", len(claimed) - n)
                return sent
            try:
                sent += await _deliver(by_channel, res, note_id, running)
            except Exception:  # one row's trouble must not strand the rest of the batch
                log.exception("notification %s could not be delivered", note_id)
        if len(claimed) < BATCH:
            return sent
    return sent


async def _deliver(
    senders: dict[str, Sender], res: Resources, note_id: int, running: Callable[[], bool]
) -> int:
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
        say = notice(t, ready)
    # Sent outside the transaction: a slow API must not hold the database's write lock.
    outcome = await sender.send(chat_id, say, t, _hold(running, None if urgent else policy))
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
    if outcome is STOPPING:
        async with db.begin() as session:
            await NotificationRepo(session).release([note_id])
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
    if isinstance(outcome, Retry | Unsure):  # trouble: retry with backoff, then give up
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


def _hold(running: Callable[[], bool], policy: reminders.Policy | None) -> Hold:
    """Give the row back if the process began to stop while the send waited its turn; put a
    send off until the morning if quiet hours began meanwhile (`policy`: not urgent)."""

    def hold() -> Retry | None:
        if not running():
            return STOPPING
        if policy is None:
            return None
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


async def expire_all(res: Resources) -> int:
    """Let go of nominations and approval requests not answered in time (they are told)."""
    async with res.db.begin() as session:
        expired = await nominations.expire_due(
            session, now=datetime.now(UTC), policy=res.settings.reminder_policy()
        )
    if expired:
        log.info("%d nominations or approval requests expired", expired)
    return expired
