"""The broadcast drainer: delivers a broadcast's rows at the shared pace, shows progress in the
organizer's chat every few seconds, and ends with a report and the list of people not reached.

Each row is claimed (state "sending", with a lease) and committed just before its send, and
marked with the outcome in a second transaction just after. A broadcast must never reach
anyone twice, so a row found still "sending" after its lease (the process stopped between
those two commits) is not sent again: it is failed as "may not have arrived" and listed in the
report for a phone call. A stop asked for politely (SIGTERM) lets the rows in flight finish,
so a restart resumes exactly where the broadcast was; only a hard kill leaves a few such rows
(at most one per worker).

A clock (PTB's JobQueue, bot/jobs.py, or schedules/loops.py) only starts the work: one drain
runs at a time and keeps going while rows are due, with a few workers so that a slow commit or
a slow answer never leaves a slot of the pace unused. Each row goes through the `Sender` of the
person's channel (schedules/channels.py); the organizer's progress and report go to their
Telegram chat when this process serves Telegram. Handlers are never blocked: the drain is a
job, replies take the pacer's fast lane.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from config.resources import Resources
from domain import broadcasts, channels
from domain.broadcasts import Progress
from domain.reminders import in_quiet_hours, out_of_quiet_hours
from handlers.broadcast_text import (
    cancel_choice,
    progress_text,
    received_choice,
    refresh_choice,
    report_text,
)
from handlers.core import File, Say, Upload
from locales import Translator, pick_language
from schedules.channels import TELEGRAM, Blocked, Outcome, Retry, Sender, Sent, Unsure
from storage.models import BroadcastDelivery, ChatAccount, DeliveryState
from storage.repos.broadcasts import BroadcastRepo, Claimed

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)
WORKERS = 4
PROGRESS_EVERY = 3.0  # seconds between edits of the progress message
MAX_ATTEMPTS = 5
UNCERTAIN = "the bot stopped while sending: it may or may not have arrived"
STOPPING = Retry("stopping")  # the application stops: the row goes back untouched


@dataclass(frozen=True)
class Content:
    """What every recipient of one broadcast gets (the ack choice is worded per person)."""

    broadcast_id: int
    text: str
    upload: Upload | None
    ask_ack: bool


def content_of(broadcast: Any) -> Content:
    kind, file_id = broadcast.media_kind, broadcast.media_file_id
    upload = Upload(kind, file_id) if kind in ("photo", "document") and file_id else None
    return Content(broadcast.id, broadcast.text, upload, broadcast.ask_ack)


def message(t: Translator, content: Content, *, media: bool) -> Say:
    """The broadcast as a recipient sees it (the organizer's preview is the same): on a
    channel without `media` its text alone (Zalo), else with its photo or document and the
    button confirming receipt."""
    if not media:
        return Say(content.text)
    choices = [received_choice(t, content.broadcast_id)] if content.ask_ack else []
    return Say(content.text, choices, upload=content.upload)


# -- the drain --------------------------------------------------------------------------------


@dataclass
class _Target:
    delivery_id: int
    chat_id: str
    account_id: int
    content: Content
    t: Translator
    channel: str


@dataclass
class _Outcome:
    """How a send ended, recorded with the next claim (or on its own at the end)."""

    delivery_id: int
    state: DeliveryState
    error: str | None
    message_id: int | None = None
    retry: timedelta | None = None
    account_id: int | None = None
    uncount: bool = False  # our own stop or the channel's pace: not a failed attempt
    channel: str | None = None  # where it was delivered

    async def record(self, repo: BroadcastRepo, session: Any) -> None:
        now = datetime.now(UTC)
        state, due_at = self.state, None
        if self.retry is not None:
            due_at = now + self.retry
            attempts = await _attempts(session, self.delivery_id)
            if not self.uncount and attempts >= MAX_ATTEMPTS:
                state = DeliveryState.FAILED
        await repo.mark(self.delivery_id, state, self.error, message_id=self.message_id,
                        sent_at=now if self.channel is not None else None,
                        channel=self.channel,
                        due_at=due_at,
                        uncount=self.uncount)  # fmt: skip
        if self.account_id is not None:
            await session.execute(
                update(ChatAccount).where(ChatAccount.id == self.account_id).values(active=False)
            )


async def _attempts(session: Any, delivery_id: int) -> int:
    stmt = select(BroadcastDelivery.attempts).where(BroadcastDelivery.id == delivery_id)
    return int((await session.execute(stmt)).scalar_one())


@dataclass
class _Shown:
    """What the progress message last said, and when (kept between ticks in bot_data)."""

    text: str = ""
    at: float = 0.0


@dataclass
class _Drain:
    res: Resources
    # The channels this process serves: people are reached on the channel they chose, else
    # the one they used last (domain.channels), each exactly once.
    senders: dict[str, Sender]
    running: Callable[[], bool]
    shown: dict[int, _Shown]
    contents: dict[int, Content] = field(default_factory=dict)
    sent: int = 0

    @property
    def channels(self) -> tuple[str, ...]:
        """The channels this process can reach people on."""
        return tuple(self.senders)

    @property
    def policy(self) -> Any:
        return self.res.settings.reminder_policy()

    def translator(self, language: str | None) -> Translator:
        s = self.res.settings
        return Translator(pick_language(language, None, s.default_language), s.tz)

    async def worker(self) -> None:
        """Claim, wait for the pace, send; the outcome is recorded in the same transaction
        that claims the next row, so each message costs one write transaction."""
        policy = self.policy
        outcome: _Outcome | None = None
        while True:
            now = datetime.now(UTC)
            go = self.running() and not in_quiet_hours(now, policy)
            async with self.res.db.begin() as session:
                repo = BroadcastRepo(session)
                if outcome is not None:
                    await outcome.record(repo, session)
                    outcome = None
                claimed = await repo.claim_next(now=now, lease=LEASE) if go else None
                target = await self._target(repo, claimed) if claimed is not None else None
            if claimed is None:
                return
            if target is None:
                continue
            outcome = await self._send(target)

    async def _target(self, repo: BroadcastRepo, row: Claimed) -> _Target | None:
        """Where to send the row, or None after marking it not linked / blocked."""
        if await channels.elsewhere(
            repo.session, person_id=row.person_id, served=self.channels,
            used=self.res.settings.channels,
        ):  # fmt: skip
            # Reachable on an app another process serves: left for that process.
            await repo.mark(row.delivery_id, DeliveryState.PENDING, None, uncount=True,
                            due_at=datetime.now(UTC) + channels.LEFT_FOR_OTHERS)  # fmt: skip
            return None
        if self.channels != (TELEGRAM,):  # the claim carries the Telegram account only
            account = await channels.reachable_account(
                repo.session, person_id=row.person_id, channels=self.channels
            )
            if account is not None:
                row = Claimed(row.delivery_id, row.broadcast_id, row.person_id, account.id,
                              account.chat_id, account.active, account.language,
                              account.channel)  # fmt: skip
            elif TELEGRAM not in self.senders:  # their Telegram account is no way from here
                row = Claimed(row.delivery_id, row.broadcast_id, row.person_id, None, None,
                              False, None)  # fmt: skip
        if row.chat_id is None:
            await repo.mark(row.delivery_id, DeliveryState.NOT_LINKED, None)
            return None
        if not row.active:
            await repo.mark(row.delivery_id, DeliveryState.BLOCKED, "blocked the bot earlier")
            return None
        content = self.contents.get(row.broadcast_id)
        if content is None:
            broadcast = await repo.get(row.broadcast_id)
            assert broadcast is not None
            content = self.contents[row.broadcast_id] = content_of(broadcast)
        assert row.account_id is not None
        return _Target(row.delivery_id, row.chat_id, row.account_id, content,
                       self.translator(row.language), row.channel)  # fmt: skip

    def _stopping(self) -> Retry | None:
        """Asked once the pace allows the send: a stopping application sends nothing more."""
        return None if self.running() else STOPPING

    async def _send(self, target: _Target) -> _Outcome:
        row, sender = target.delivery_id, self.senders[target.channel]
        say = message(target.t, target.content, media=sender.media)
        outcome = await sender.send(target.chat_id, say, target.t, self._stopping)
        if outcome is STOPPING:  # give the row back untouched
            return _Outcome(row, DeliveryState.PENDING, None, uncount=True)
        if isinstance(outcome, Sent):
            self.sent += 1
            return _Outcome(row, DeliveryState.SENT, None, message_id=outcome.message_id,
                            channel=target.channel)  # fmt: skip
        if isinstance(outcome, Blocked):
            return _Outcome(row, DeliveryState.BLOCKED, outcome.reason,
                            account_id=target.account_id)  # fmt: skip
        if isinstance(outcome, Retry) and outcome.after is not None:
            log.warning("flood limit: broadcast row %s retries in %s", row, outcome.after)
            return _Outcome(row, DeliveryState.PENDING, outcome.reason, retry=outcome.after,
                            uncount=True)  # fmt: skip
        if isinstance(outcome, Retry):  # surely not sent (e.g. no connection): again soon
            return _Outcome(row, DeliveryState.PENDING, outcome.reason, retry=timedelta(seconds=10))
        if isinstance(outcome, Unsure):  # it may have arrived: never sent twice
            return _Outcome(row, DeliveryState.FAILED, f"{UNCERTAIN}: {outcome.reason}")
        return _Outcome(row, DeliveryState.FAILED, outcome.reason)

    # -- progress and the end --

    async def show_progress(self, *, final: bool) -> None:
        """Edit each progress message (at most every PROGRESS_EVERY s); finish what is done."""
        async with self.res.db.begin() as session:
            ids = [b.id for b in await BroadcastRepo(session).in_progress()]
        for broadcast_id in ids:
            await self._one(broadcast_id, final=final)

    async def _one(self, broadcast_id: int, *, final: bool) -> None:
        now = datetime.now(UTC)
        async with self.res.db.begin() as session:
            repo = BroadcastRepo(session)
            broadcast = await repo.get(broadcast_id)
            assert broadcast is not None
            progress = await broadcasts.progress(session, broadcast_id=broadcast_id)
            chat_id, message_id = broadcast.report_chat_id, broadcast.progress_message_id
            language = await _language_of(session, chat_id)
            missed: list[broadcasts.NotReached] = []
            # The report goes to the organizer's Telegram chat: a process without Telegram
            # leaves the end to the one with it, if the deployment has one.
            reporter = self.senders.get(TELEGRAM)
            reports = reporter is not None or TELEGRAM not in self.res.settings.channels
            done = progress.waiting == 0 and reports and await repo.finish(broadcast_id, now)
            if done:
                progress = await broadcasts.progress(session, broadcast_id=broadcast_id)
                missed = await broadcasts.not_reached(session, broadcast_id=broadcast_id)
        if done:
            log.info("broadcast %s finished: %d sent of %d, %d blocked, %d not linked, %d failed",
                     broadcast_id, progress.sent, progress.total, progress.blocked,
                     progress.not_linked, progress.failed)  # fmt: skip
        if chat_id is None or reporter is None:  # no organizer's chat, or no Telegram here
            return
        t = self.translator(language)
        if done:
            self.shown.pop(broadcast_id, None)
            await self._report(reporter, t, chat_id, message_id, progress, missed)
            return
        if self.res.settings.worker != 0:  # of several workers, one shows the progress
            return
        paused = None
        if in_quiet_hours(now, self.policy):
            paused = t.time(out_of_quiet_hours(now, self.policy))
        text = progress_text(t, progress, rate=self.res.settings.send_rate_per_second,
                             paused_until=paused)  # fmt: skip
        shown = self.shown.setdefault(broadcast_id, _Shown())
        if text == shown.text or (not final and time.monotonic() - shown.at < PROGRESS_EVERY):
            return
        shown.text, shown.at = text, time.monotonic()
        say = Say(text, [cancel_choice(t, broadcast_id)])
        if message_id is None:
            sent = await reporter.send(chat_id, say, t)
            if isinstance(sent, Sent) and sent.message_id is not None:
                async with self.res.db.begin() as session:
                    row = await BroadcastRepo(session).get(broadcast_id)
                    if row is not None:
                        row.progress_message_id = sent.message_id
            _unshown(broadcast_id, sent)
            return
        _unshown(broadcast_id, await reporter.edit(chat_id, message_id, say, t))

    async def _report(
        self,
        reporter: Sender,
        t: Translator,
        chat_id: str,
        message_id: int | None,
        progress: Progress,
        missed: list[broadcasts.NotReached],
    ) -> None:
        text, broadcast_id = report_text(t, progress), progress.broadcast_id
        if message_id is not None:  # the progress message shows the end, without its button
            _unshown(broadcast_id, await reporter.edit(chat_id, message_id, Say(text), t))
        refresh = [refresh_choice(t, broadcast_id)] if progress.ask_ack else []
        _unshown(broadcast_id, await reporter.send(chat_id, Say(text, refresh), t))
        if not missed:
            return
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"chua-nhan-thong-bao-{broadcast_id}.xlsx"
            broadcasts.write_not_reached(path, missed)
            caption = t.gettext("People not reached by broadcast #%(id)d") % {"id": broadcast_id}
            file = File(path.name, path.read_bytes(), caption)
            _unshown(broadcast_id, await reporter.send(chat_id, Say(file=file), t))


def _unshown(broadcast_id: int, outcome: Outcome) -> None:
    """The organizer's chat is not worth stopping a broadcast for: a refusal is only logged."""
    if not isinstance(outcome, Sent):
        log.warning("could not show the progress of broadcast %s: %s", broadcast_id, outcome)


async def _language_of(session: Any, chat_id: str | None) -> str | None:
    if chat_id is None:
        return None
    stmt = select(ChatAccount.language).where(
        ChatAccount.channel == TELEGRAM, ChatAccount.chat_id == chat_id
    )
    return (await session.execute(stmt.limit(1))).scalar_one_or_none()


async def drain_broadcasts(
    res: Resources,
    senders: Sequence[Sender],
    *,
    running: Callable[[], bool] = lambda: True,
    workers: int = WORKERS,
    shown: dict[int, _Shown] | None = None,
) -> int:
    """Start what is due, deliver every due row on the channels of `senders`, report; returns
    how many were sent.

    `running` turning False (the application stopping) ends the drain after the sends in flight.
    Without a Telegram sender (a process serving only Zalo) people are reached on Zalo, and the
    organizer's progress and report are only logged (organizers work on Telegram).
    """
    now = datetime.now(UTC)
    async with res.db.begin() as session:
        repo = BroadcastRepo(session)
        uncertain = await repo.expire_leases(now, UNCERTAIN)
        if not in_quiet_hours(now, res.settings.reminder_policy()):
            await repo.start_due(now)
        active = bool(await repo.in_progress())
    if uncertain:
        log.warning("%d broadcast rows were in flight when the bot stopped; not resent", uncertain)
    if not active:
        return 0
    by_channel = {s.channel: s for s in senders}
    drain = _Drain(res, by_channel, running, shown if shown is not None else {})
    await drain.show_progress(final=False)

    async def tick() -> None:
        while True:
            await asyncio.sleep(PROGRESS_EVERY)
            await drain.show_progress(final=False)

    ticker = asyncio.create_task(tick())
    try:
        await asyncio.gather(*(drain.worker() for _ in range(workers)))
    finally:
        ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticker
    await drain.show_progress(final=True)
    return drain.sent
