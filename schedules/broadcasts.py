"""The broadcast drainer: delivers a broadcast's rows at the shared pace, shows progress in the
organizer's chat every few seconds, and ends with a report and the list of people not reached.

Each row is claimed (state "sending", with a lease) and committed just before its send, and
marked with the outcome in a second transaction just after. A broadcast must never reach
anyone twice, so a row found still "sending" after its lease (the process stopped between
those two commits) is not sent again: it is failed as "may not have arrived" and listed in the
report for a phone call. A stop asked for politely (SIGTERM) lets the rows in flight finish,
so a restart resumes exactly where the broadcast was; only a hard kill leaves a few such rows
(at most one per worker).

The JobQueue tick only starts the work: one drain runs at a time and keeps going while rows are
due, with a few workers so that a slow commit or a slow answer never leaves a slot of the
pace unused. Handlers are never blocked: the drain is a job, replies take the pacer's fast lane.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import Application

from bot.context import Resources
from domain import broadcasts, channels
from domain.broadcasts import Progress
from domain.reminders import in_quiet_hours, out_of_quiet_hours
from handlers import actions as cb
from handlers.broadcast_text import progress_text, report_text
from locales import Translator, pick_language
from schedules.channels import Blocked, Outcome, Retry, Sent, TextSender
from schedules.pacing import Pacer
from storage.models import BroadcastDelivery, ChatAccount, DeliveryState
from storage.repos.broadcasts import BroadcastRepo, Claimed

log = logging.getLogger(__name__)

CHANNEL = "telegram"
JOB_NAME = "broadcast-drainer"
LEASE = timedelta(minutes=2)
WORKERS = 4
PROGRESS_EVERY = 3.0  # seconds between edits of the progress message
MAX_ATTEMPTS = 5
UNCERTAIN = "the bot stopped while sending: it may or may not have arrived"


@dataclass(frozen=True)
class Content:
    """What every recipient of one broadcast gets (the ack button is worded per person)."""

    broadcast_id: int
    text: str
    media_kind: str | None
    media_file_id: str | None
    ask_ack: bool


def ack_markup(t: Translator, broadcast_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(t.gettext("✅ Received"),
                               callback_data=cb.build(cb.BC_RECEIVED, broadcast_id))]]
    )  # fmt: skip


async def send_content(bot: Bot, chat_id: int | str, content: Content, t: Translator) -> Message:
    """The broadcast as a recipient sees it; the organizer's preview is sent the same way."""
    markup = ack_markup(t, content.broadcast_id) if content.ask_ack else None
    if content.media_kind == "photo" and content.media_file_id:
        return await bot.send_photo(
            chat_id, content.media_file_id, caption=content.text or None,
            parse_mode=ParseMode.HTML, reply_markup=markup,
        )  # fmt: skip
    if content.media_kind == "document" and content.media_file_id:
        return await bot.send_document(
            chat_id, content.media_file_id, caption=content.text or None,
            parse_mode=ParseMode.HTML, reply_markup=markup,
        )  # fmt: skip
    return await bot.send_message(chat_id, content.text, parse_mode=ParseMode.HTML,
                                  reply_markup=markup)  # fmt: skip


def content_of(broadcast: Any) -> Content:
    return Content(
        broadcast.id, broadcast.text, broadcast.media_kind, broadcast.media_file_id,
        broadcast.ask_ack,
    )  # fmt: skip


# -- what the organizer sees ------------------------------------------------------------------


def cancel_markup(t: Translator, broadcast_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(t.gettext("✖️ Cancel the broadcast"),
                               callback_data=cb.build(cb.BC_CANCEL, broadcast_id))]]
    )  # fmt: skip


def refresh_markup(t: Translator, broadcast_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(t.gettext("🔄 Update the receipts"),
                               callback_data=cb.build(cb.BC_REFRESH, broadcast_id))]]
    )  # fmt: skip


# -- the drain --------------------------------------------------------------------------------


@dataclass
class _Target:
    delivery_id: int
    chat_id: str
    account_id: int
    content: Content
    t: Translator
    channel: str = "telegram"


@dataclass
class _Outcome:
    """How a send ended, recorded with the next claim (or on its own at the end)."""

    delivery_id: int
    state: DeliveryState
    error: str | None
    message_id: int | None = None
    retry: timedelta | None = None
    account_id: int | None = None
    uncount: bool = False  # our own stop or Telegram's pace: not a failed attempt
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
    bot: Bot | None  # None in a process that serves only Zalo
    res: Resources
    pacer: Pacer
    running: Callable[[], bool]
    shown: dict[int, _Shown]
    contents: dict[int, Content] = field(default_factory=dict)
    sent: int = 0
    # The Zalo sender when this process serves Zalo too: people are reached on the channel
    # they chose, else the one they used last (domain.channels), each exactly once.
    zalo: TextSender | None = None

    @property
    def channels(self) -> tuple[str, ...]:
        """The channels this process can reach people on."""
        return (("telegram",) if self.bot is not None else ()) + (
            ("zalo",) if self.zalo is not None else ()
        )

    @property
    def telegram(self) -> Bot:
        assert self.bot is not None
        return self.bot

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
            if target.channel == "telegram":  # Zalo's sender keeps its own pace
                await self.pacer.wait()
            if not self.running():  # stopping: give the row back untouched
                outcome = _Outcome(target.delivery_id, DeliveryState.PENDING, None, uncount=True)
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
        if self.channels != ("telegram",):  # the claim carries the Telegram account only
            account = await channels.reachable_account(
                repo.session, person_id=row.person_id, channels=self.channels
            )
            if account is not None:
                row = Claimed(row.delivery_id, row.broadcast_id, row.person_id, account.id,
                              account.chat_id, account.active, account.language,
                              account.channel)  # fmt: skip
            elif self.bot is None:  # a Telegram account is no way to reach them from here
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

    async def _send(self, target: _Target) -> _Outcome:
        row = target.delivery_id
        if target.channel == "zalo" and self.zalo is not None:
            sent = await self.zalo.send_text(target.chat_id, target.content.text)
            return self._zalo_outcome(target, sent)
        try:  # _target picks Telegram only when this process serves it
            message = await send_content(
                self.telegram, int(target.chat_id), target.content, target.t
            )
        except Forbidden as exc:
            return _Outcome(row, DeliveryState.BLOCKED, str(exc), account_id=target.account_id)
        except RetryAfter as exc:
            wait = exc.retry_after
            delay = wait if isinstance(wait, timedelta) else timedelta(seconds=float(wait))
            hold = getattr(self.pacer, "hold", None)
            if hold is not None:
                hold(delay.total_seconds())
            log.warning("flood limit: broadcast row %s retries in %s", row, delay)
            return _Outcome(row, DeliveryState.PENDING, str(exc), retry=delay, uncount=True)
        except BadRequest as exc:  # chat not found, a file Telegram no longer has: for good
            return _Outcome(row, DeliveryState.FAILED, str(exc))
        except NetworkError as exc:
            # Only an error before the request left (no connection) is safe to retry; after a
            # timeout Telegram may have delivered it, and a broadcast must not arrive twice.
            if "ConnectError" in str(exc) or "Pool timeout" in str(exc):
                return _Outcome(row, DeliveryState.PENDING, str(exc), retry=timedelta(seconds=10))
            return _Outcome(row, DeliveryState.FAILED, f"{UNCERTAIN}: {exc}")
        except TelegramError as exc:
            return _Outcome(row, DeliveryState.FAILED, str(exc))
        self.sent += 1
        return _Outcome(row, DeliveryState.SENT, None, message_id=message.message_id,
                        channel="telegram")  # fmt: skip

    def _zalo_outcome(self, target: _Target, outcome: Outcome) -> _Outcome:
        """Zalo has no buttons or Telegram files: the text (or caption) goes, the rest not."""
        row = target.delivery_id
        if isinstance(outcome, Sent):
            self.sent += 1
            return _Outcome(row, DeliveryState.SENT, None, channel="zalo")
        if isinstance(outcome, Blocked):
            return _Outcome(row, DeliveryState.BLOCKED, outcome.reason,
                            account_id=target.account_id)  # fmt: skip
        if isinstance(outcome, Retry) and outcome.after is not None:
            return _Outcome(row, DeliveryState.PENDING, outcome.reason, retry=outcome.after,
                            uncount=True)  # fmt: skip
        if isinstance(outcome, Retry) and outcome.reason.startswith("ConnectError"):
            return _Outcome(row, DeliveryState.PENDING, outcome.reason, retry=timedelta(seconds=10))
        if isinstance(outcome, Retry):  # after a timeout Zalo may have delivered it
            return _Outcome(row, DeliveryState.FAILED, f"{UNCERTAIN}: {outcome.reason}")
        return _Outcome(row, DeliveryState.FAILED, getattr(outcome, "reason", "refused"))

    # -- progress and the end --

    async def show_progress(self, *, final: bool) -> None:
        """Edit each progress message (at most every PROGRESS_EVERY s); finish what is done."""
        async with self.res.db.begin() as session:
            ids = [b.id for b in await BroadcastRepo(session).in_progress()]
        for broadcast_id in ids:
            try:
                await self._one(broadcast_id, final=final)
            except TelegramError:  # the organizer's chat is not worth stopping a broadcast for
                log.exception("could not update the progress of broadcast %s", broadcast_id)

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
            reports = self.bot is not None or "telegram" not in self.res.settings.channels
            done = progress.waiting == 0 and reports and await repo.finish(broadcast_id, now)
            if done:
                progress = await broadcasts.progress(session, broadcast_id=broadcast_id)
                missed = await broadcasts.not_reached(session, broadcast_id=broadcast_id)
        if done:
            log.info("broadcast %s finished: %d sent of %d, %d blocked, %d not linked, %d failed",
                     broadcast_id, progress.sent, progress.total, progress.blocked,
                     progress.not_linked, progress.failed)  # fmt: skip
        if chat_id is None or self.bot is None:  # no organizer's chat, or no Telegram here
            return
        t = self.translator(language)
        if done:
            self.shown.pop(broadcast_id, None)
            await self._report(t, chat_id, message_id, progress, missed)
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
        if message_id is None:
            await self.pacer.wait()
            sent = await self.telegram.send_message(
                chat_id, text, parse_mode=ParseMode.HTML,
                reply_markup=cancel_markup(t, broadcast_id),
            )  # fmt: skip
            async with self.res.db.begin() as session:
                row = await BroadcastRepo(session).get(broadcast_id)
                if row is not None:
                    row.progress_message_id = sent.message_id
            return
        await self._edit(chat_id, message_id, text, cancel_markup(t, broadcast_id))

    async def _edit(
        self, chat_id: str, message_id: int, text: str, markup: InlineKeyboardMarkup | None
    ) -> None:
        try:
            await self.telegram.edit_message_text(
                text, chat_id=chat_id, message_id=message_id, parse_mode=ParseMode.HTML,
                reply_markup=markup,
            )  # fmt: skip
        except BadRequest as exc:
            if "not modified" not in str(exc).lower():
                raise

    async def _report(
        self,
        t: Translator,
        chat_id: str,
        message_id: int | None,
        progress: Progress,
        missed: list[broadcasts.NotReached],
    ) -> None:
        text = report_text(t, progress)
        if message_id is not None:  # the progress message shows the end, without its button
            await self._edit(chat_id, message_id, text, None)
        await self.pacer.wait()
        await self.telegram.send_message(
            chat_id, text, parse_mode=ParseMode.HTML,
            reply_markup=refresh_markup(t, progress.broadcast_id) if progress.ask_ack else None,
        )  # fmt: skip
        if not missed:
            return
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"chua-nhan-thong-bao-{progress.broadcast_id}.xlsx"
            broadcasts.write_not_reached(path, missed)
            await self.pacer.wait()
            await self.telegram.send_document(
                chat_id, path.read_bytes(), filename=path.name,
                caption=t.gettext("People not reached by broadcast #%(id)d")
                % {"id": progress.broadcast_id},
            )  # fmt: skip


async def _language_of(session: Any, chat_id: str | None) -> str | None:
    if chat_id is None:
        return None
    stmt = select(ChatAccount.language).where(
        ChatAccount.channel == CHANNEL, ChatAccount.chat_id == chat_id
    )
    return (await session.execute(stmt.limit(1))).scalar_one_or_none()


async def drain_broadcasts(
    bot: Bot | None,
    res: Resources,
    pacer: Pacer,
    *,
    running: Callable[[], bool] = lambda: True,
    workers: int = WORKERS,
    shown: dict[int, _Shown] | None = None,
    zalo: TextSender | None = None,
) -> int:
    """Start what is due, deliver every due row, report; returns how many were sent.

    `running` turning False (the application stopping) ends the drain after the sends in flight.
    `bot` is None in a process that serves only Zalo: people are reached there, and the
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
    drain = _Drain(bot, res, pacer, running, shown if shown is not None else {}, zalo=zalo)
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


async def _drain_job(context: Any) -> None:
    app = context.application
    if app.bot_data.get("broadcasting"):
        return
    app.bot_data["broadcasting"] = True
    try:
        await drain_broadcasts(
            context.bot,
            app.bot_data["resources"],
            app.bot_data["pacer"],
            running=lambda: bool(app.running),
            shown=app.bot_data.setdefault("broadcast_progress", {}),
            zalo=next(
                (s for s in app.bot_data.get("notice_senders", ()) if s.channel == "zalo"), None
            ),
        )
    finally:
        app.bot_data["broadcasting"] = False


def start_broadcasts(app: Application) -> None:
    """Register the broadcast drainer's tick (after start_drainer, which makes the pacer)."""
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


def kick_broadcasts(app: Application) -> None:
    """Start sending now rather than at the next tick."""
    if app.job_queue is not None and app.job_queue.scheduler.running:
        app.job_queue.run_once(_drain_job, when=0)
