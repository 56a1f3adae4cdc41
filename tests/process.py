"""The real `boiduong run` process, for tests that start, kill and restart it.

    async with BotProcess(tmp_path, DATABASE_URL=url, ZALO_BOT_TOKEN=...) as bot:
        ...  # talk to it through a stand-in API
        await bot.kill()  # SIGKILL: no clean-up, as when the machine loses power
        await bot.start()  # the same command and settings again
        assert await bot.stop() == 0  # SIGTERM: a clean shutdown

The child gets none of the caller's bot settings, only the ones given; it imports this
checkout. Its output goes to files (a chatty log can never block it); `tail()` shows them
when a test fails. Leaving the block kills the process if it still runs.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from config.settings import Settings
from tests.standin import Predicate

ROOT = Path(__file__).resolve().parent.parent
STOP_TIMEOUT = 15.0
CLI_TIMEOUT = 60.0
STEP = 10.0  # seconds allowed for the bot to answer one user action
# The end-to-end tests' bot and its one user, as the stand-in Bot API knows them.
TOKEN = "123456:E2E-TEST-TOKEN"
USER: dict[str, Any] = {"id": 4242, "is_bot": False, "first_name": "Lan", "language_code": "vi"}


def bot_env(**settings: str) -> dict[str, str]:
    """The environment without any of the bot's settings, plus the ones given."""
    names = {name.lower() for name in Settings.model_fields}
    env = {k: v for k, v in os.environ.items() if k.lower() not in names}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["PYTHONIOENCODING"] = "utf-8"
    env.update(settings)
    return env


class BotProcess:
    def __init__(self, cwd: Path, *args: str, **settings: str) -> None:
        self.cwd = cwd
        self.args = args or ("run",)
        self.env = bot_env(**settings)
        self.err_path = cwd / "bot.err"
        self.proc: asyncio.subprocess.Process | None = None
        self.starts = 0

    async def __aenter__(self) -> BotProcess:
        await self.start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.kill()

    async def start(self) -> None:
        """Start `boiduong <args>` (`python -m bot.cli`, the console script's entry point)."""
        assert self.proc is None or self.proc.returncode is not None, "already running"
        self.starts += 1
        with (self.cwd / "bot.out").open("ab") as out, self.err_path.open("ab") as err:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot.cli", *self.args,
                cwd=self.cwd, env=self.env, stdin=asyncio.subprocess.DEVNULL,
                stdout=out, stderr=err,
            )  # fmt: skip

    async def kill(self) -> int | None:
        """SIGKILL, and wait until it is gone; its exit status (None if it never ran)."""
        return await self._signal(signal.SIGKILL)

    async def stop(self) -> int | None:
        """SIGTERM, as a service manager stops it, and wait; its exit status (0: clean)."""
        return await self._signal(signal.SIGTERM)

    async def _signal(self, sig: signal.Signals) -> int | None:
        if self.proc is None:
            return None
        if self.proc.returncode is None:
            self.proc.send_signal(sig)
        return await asyncio.wait_for(self.proc.wait(), STOP_TIMEOUT)

    def tail(self, lines: int = 40) -> str:
        if not self.err_path.exists():
            return "(no output)"
        text = self.err_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])


# -- short `boiduong` commands, and what the stand-in Bot API sees --------------------------------


def cli_env(db: Path | None, **settings: str) -> dict[str, str]:
    """bot_env for a command on the SQLite file `db` (if given), with PTB's timedelta mode."""
    database = {"DATABASE_URL": f"sqlite+aiosqlite:///{db}"} if db is not None else {}
    return bot_env(**{"PTB_TIMEDELTA": "1", **database, **settings})


def command(*args: str) -> list[str]:
    # `python -m bot.cli` is the `boiduong` console script's entry point, bot.cli:main.
    return [sys.executable, "-m", "bot.cli", *args]


async def run_cli(cwd: Path, env: Mapping[str, str], *args: str) -> tuple[int, str, str]:
    """Run one short `boiduong` command to completion: (exit code, stdout, stderr)."""
    proc = await asyncio.create_subprocess_exec(
        *command(*args),
        cwd=cwd,  # no stray .env file from the checkout
        env=dict(env),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), CLI_TIMEOUT)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def tail_file(path: Path, lines: int = 40) -> str:
    if not path.exists():
        return "(no output)"
    return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])


def call_to(method: str, chat: int = USER["id"]) -> Predicate:
    """A call of `method` to `chat` (by default the e2e user's)."""
    return lambda m, p: m == method and p["chat_id"] == chat


def menu_set(lang: str) -> Predicate:
    return lambda m, p: m == "setMyCommands" and p.get("language_code") == lang
