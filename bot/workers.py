"""`boiduong run --workers N`: N processes of the bot sharing one PostgreSQL database.

Any worker can take any update: the claim on each update (bot/redelivery.py), each chat's
conversation (the dialogs table) and the drainers' rows (claimed with SKIP LOCKED) live in the
database. Worker i is the same `boiduong run` with WORKER=i: it listens on the port of each
*_LISTEN setting + i, and the TLS reverse proxy in front spreads the webhook deliveries over
those ports (README, "Production"). Only worker 0 registers the webhooks, sets the command
menus, plans reminders and edits a broadcast's progress. Telegram counts one bot's messages
whichever process sends them, so each worker paces itself at its share of the rate.

This parent only starts the workers, starts again one that ends by itself (a crash, or a
SIGTERM sent to that worker alone: a rolling restart), and passes SIGTERM/SIGINT on to all of
them, returning once every one has finished what it was doing. A supervisor (systemd, compose)
may start the N processes itself instead, giving each its WORKER.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence

from config.settings import Settings

log = logging.getLogger(__name__)

# A worker that ran this long was well: its next restart comes at once.
STEADY = 30.0
MAX_DELAY = 30.0
GIVE_UP = 2  # the exit status of a refused configuration: restarting cannot help


def refusal(settings: Settings, count: int, channel: str | None) -> str | None:
    """One line saying why `count` workers (or this WORKER) cannot run, or None."""
    several = f"--workers {count}" if count > 1 else f"WORKER={settings.worker}"
    if count < 1:
        return "--workers: give a number of processes, at least 1."
    if count == 1 and settings.worker == 0:
        return None
    if settings.database_url.startswith("sqlite"):
        return (
            f"{several} needs PostgreSQL (DATABASE_URL=postgresql+asyncpg://USER@HOST/DB): "
            "SQLite lets one process write at a time."
        )
    telegram = channel != "zalo" and settings.token is not None
    if telegram and not settings.telegram_webhook_url:
        return f"{several} needs TELEGRAM_WEBHOOK_URL: long polling cannot be shared."
    zalo = channel != "telegram" and settings.zalo_token is not None
    if zalo and not settings.zalo_webhook_url:
        return f"{several} needs ZALO_WEBHOOK_URL: long polling cannot be shared."
    return None


def worker_command(
    *, env_file: os.PathLike[str] | None, verbose: bool, channel: str | None
) -> list[str]:
    """The command of one worker: this `boiduong run` without --workers."""
    command = [sys.executable, "-m", "bot.cli"]  # the console script's entry point
    if env_file is not None:
        command += ["--env-file", os.fspath(env_file)]
    if verbose:
        command.append("-v")
    command.append("run")
    if channel is not None:
        command += ["--channel", channel]
    return command


def worker_env(settings: Settings, index: int, count: int) -> dict[str, str]:
    """What worker `index` of `count` is told besides the parent's environment: its number,
    and its share of each channel's pace (Telegram counts one bot's sends, whichever process
    makes them; each worker paces its own)."""
    return {
        "WORKER": str(index),
        "SEND_RATE_PER_SECOND": repr(settings.send_rate_per_second / count),
        "ZALO_SEND_RATE_PER_SECOND": repr(settings.zalo_send_rate_per_second / count),
    }


async def supervise(
    command: Sequence[str], count: int, env: Callable[[int], dict[str, str]] | None = None
) -> int:
    """Run `count` workers until SIGTERM/SIGINT; 0 when every one stopped cleanly. Worker i
    gets `env(i)` added to this process's environment (WORKER=i without it)."""
    stopping = asyncio.Event()
    procs: dict[int, asyncio.subprocess.Process] = {}
    loop = asyncio.get_running_loop()

    def stop(sig: signal.Signals) -> None:
        if stopping.is_set():
            return  # each worker already has it: a second signal would not be any quicker
        log.info("%s: stopping %d workers after what they are doing", sig.name, len(procs))
        stopping.set()
        for proc in procs.values():
            _signal(proc, signal.SIGTERM)

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop, sig)

    async def keep(index: int) -> int:
        """Run worker `index`, again whenever it ends by itself, until the parent stops."""
        failures = 0
        while True:
            extra = env(index) if env is not None else {"WORKER": str(index)}
            started = time.monotonic()
            proc = await asyncio.create_subprocess_exec(
                *command, env={**os.environ, **extra}, stdin=asyncio.subprocess.DEVNULL
            )
            procs[index] = proc
            log.info("worker %d started (pid %d)", index, proc.pid)
            if stopping.is_set():  # the signal came while it was being started
                _signal(proc, signal.SIGTERM)
            code = await proc.wait()
            del procs[index]
            if stopping.is_set():
                log.info("worker %d (pid %d) stopped with status %d", index, proc.pid, code)
                return code
            if code == GIVE_UP:
                log.error("worker %d refused its settings (status 2); stopping", index)
                stop(signal.SIGTERM)
                return code
            ran = time.monotonic() - started
            failures = 0 if ran >= STEADY else failures + 1
            delay = min(MAX_DELAY, 2.0 ** (failures - 1)) if failures else 0.0
            if code == 0:  # asked to stop on its own: a rolling restart
                log.info("worker %d (pid %d) stopped; starting it again", index, proc.pid)
            else:
                log.error("worker %d (pid %d) ended unexpectedly with status %d; starting it "
                          "again in %.0f s", index, proc.pid, code, delay)  # fmt: skip
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), delay)
                return 0

    try:
        codes = await asyncio.gather(*(keep(i) for i in range(count)))
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
    if GIVE_UP in codes:
        return GIVE_UP
    return 0 if all(code == 0 for code in codes) else 1


def _signal(proc: asyncio.subprocess.Process, sig: signal.Signals) -> None:
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)
