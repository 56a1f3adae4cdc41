"""The drainers and periodic jobs on PTB's JobQueue, with the senders of every channel this
process serves (Telegram's own, and those serve.py hands in, e.g. Zalo's).

JobQueue is only the clock: each job calls a plain function of schedules/, whose rows are the
truth. A process without Telegram runs the same functions in schedules/loops.py.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from telegram.ext import Application, CallbackContext

from bot.telegram.sender import TelegramSender
from config.resources import Resources
from schedules.broadcasts import drain_broadcasts
from schedules.channels import Sender
from schedules.notifications import EXPIRE_INTERVAL, drain_once, expire_all, plan_all
from schedules.pacing import Pacer

App = Application[Any, Any, Any, Any, Any, Any]
Context = CallbackContext[Any, Any, Any, Any]
JOB_NAME = "notification-drainer"
PLAN_JOB_NAME = "reminder-planner"
EXPIRE_JOB_NAME = "hold-expirer"
BROADCAST_JOB_NAME = "broadcast-drainer"


def senders(app: App) -> list[Sender]:
    """Telegram's sender at the application's pace, then the other channels' (bot_data)."""
    res: Resources = app.bot_data["resources"]
    pacer = app.bot_data.setdefault("pacer", Pacer(res.settings.send_rate_per_second))
    return [TelegramSender(app.bot, pacer), *app.bot_data.get("senders", ())]


async def _drain_job(context: Context) -> None:
    app = context.application
    # One drain at a time; a tick that finds one running returns at once (APScheduler would
    # otherwise log a warning for every skipped run while a long peak drains).
    if app.bot_data.get("draining"):
        return
    app.bot_data["draining"] = True
    try:
        # A stopping application claims no more rows and gives back those it has not sent.
        await drain_once(app.bot_data["resources"], senders(app), running=lambda: app.running)
    finally:
        app.bot_data["draining"] = False


async def _plan_job(context: Context) -> None:
    # A task of the application, not the job itself: stopping cancels the scheduler's running
    # jobs, while Application.stop waits for its tasks, so a pass under way finishes.
    context.application.create_task(
        plan_all(context.application.bot_data["resources"]), name=PLAN_JOB_NAME
    )


async def _expire_job(context: Context) -> None:
    if await expire_all(context.application.bot_data["resources"]):
        await _drain_job(context)


async def _broadcast_job(context: Context) -> None:
    app = context.application
    if app.bot_data.get("broadcasting"):
        return
    app.bot_data["broadcasting"] = True
    try:
        await drain_broadcasts(
            app.bot_data["resources"],
            senders(app),
            running=lambda: bool(app.running),
            shown=app.bot_data.setdefault("broadcast_progress", {}),
        )
    finally:
        app.bot_data["broadcasting"] = False


def start_drainer(app: App, *, plan: bool = True) -> None:
    """The notification drainer, the reminder planner (when `plan`: one of several workers
    plans for all) and the expiry of held seats."""
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
    if plan:
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


def start_broadcasts(app: App) -> None:
    """The broadcast drainer's tick (after start_drainer, which makes the pacer)."""
    res: Resources = app.bot_data["resources"]
    app.bot_data.setdefault("pacer", Pacer(res.settings.send_rate_per_second))
    assert app.job_queue is not None
    app.job_queue.run_repeating(
        _broadcast_job,
        interval=timedelta(seconds=res.settings.drain_interval_seconds),
        first=timedelta(seconds=0),
        name=BROADCAST_JOB_NAME,
        job_kwargs={"max_instances": 2, "coalesce": True},
    )


def kick_drainer(app: App) -> None:
    """Deliver now rather than at the next tick (e.g. a waitlist promotion)."""
    if app.job_queue is not None and app.job_queue.scheduler.running:
        app.job_queue.run_once(_drain_job, when=0)


def kick_broadcasts(app: App) -> None:
    """Start sending now rather than at the next tick."""
    if app.job_queue is not None and app.job_queue.scheduler.running:
        app.job_queue.run_once(_broadcast_job, when=0)
