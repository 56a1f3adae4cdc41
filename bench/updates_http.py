"""Updates per second over HTTP: the real `boiduong run` against python-telegram-bot's echo bot.

bench/updates.py compares the two in one process with no network; this is how a deployment
sees them: each bot is a process of its own, long polling a stand-in Bot API server
(tests/standin.py, in this process) with the send cap lifted (SEND_RATE_PER_SECOND=1000). 100
linked civil servants' `--updates` messages are queued at once; a round lasts until every one
is answered. Rounds alternate between the bots; CPU is the bot process's user+system time.

    .venv/bin/python -m bench.updates_http                     # SQLite
    .venv/bin/python -m bench.updates_http --db postgresql     # a fresh PostgreSQL database
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text

from bench.common import ROOT, BotProcess, Recorder, bot_env
from bench.updates import FIRST_USER, PG, USERS, _people
from storage.db import create_engine, upgrade
from tests.standin import StandInBotAPI


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Bot:
    """One bot process polling its own stand-in, and what the stand-in saw it send."""

    def __init__(self, name: str, srv: StandInBotAPI, proc: BotProcess) -> None:
        self.name, self.srv, self.proc = name, srv, proc
        self.seen = Recorder(srv)
        self.seen.add_users(FIRST_USER + n for n in range(USERS))

    async def round(self, texts: list[str], within: float) -> tuple[float, float]:
        """(updates/s, CPU ms per update) answering one message per text."""
        assert self.proc.proc is not None
        pid, before = self.proc.proc.pid, len(self.seen.deliveries)
        cpu, started = _cpu_seconds(pid), time.time()
        for n, t in enumerate(texts):
            self.srv.api.push(self.srv.api.message_update(_user(n), t))
        deadline = time.monotonic() + within
        while len(self.seen.deliveries) - before < len(texts):
            if time.monotonic() > deadline or not self.proc.running:
                raise SystemExit(f"{self.name}: {len(self.seen.deliveries) - before} of "
                                 f"{len(texts)} answered\n{self.proc.log_tail()}")  # fmt: skip
            await asyncio.sleep(0.01)
        seconds = self.seen.deliveries[-1].at - started
        return len(texts) / seconds, (_cpu_seconds(pid) - cpu) / len(texts) * 1000


def _user(n: int) -> dict[str, object]:
    return {"id": FIRST_USER + n % USERS, "is_bot": False, "first_name": "Bench",
            "language_code": "vi"}  # fmt: skip


async def _database(kind: str, work: Path) -> tuple[str, str | None]:
    """The bot's DATABASE_URL with the people in it, and the PostgreSQL database to drop."""
    if kind == "sqlite":
        url, name = f"sqlite+aiosqlite:///{work / 'bench.db'}", None
    else:
        name = f"bench_updates_http_{int(time.time())}"
        admin = create_engine(PG, isolation_level="AUTOCOMMIT")
        async with admin.connect() as c:
            await c.execute(text(f'CREATE DATABASE "{name}"'))
        await admin.dispose()
        url = PG.rsplit("/", 1)[0] + "/" + name
    engine = create_engine(url)
    await upgrade(engine)
    await _people(engine)
    await engine.dispose()
    return url, name


async def _drop(name: str) -> None:
    admin = create_engine(PG, isolation_level="AUTOCOMMIT")
    async with admin.connect() as c:
        await c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    await admin.dispose()


async def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        url, pg_name = await _database(args.db, work)
        echo_api, ours_api = StandInBotAPI(token="1001:ECHO"), StandInBotAPI(token="1002:OURS")
        async with echo_api as e_srv, ours_api as srv:
            ours_env = bot_env(work / "unused.db", srv, DATABASE_URL=url,
                               SEND_RATE_PER_SECOND="1000", BOT_TOKEN=srv.token)  # fmt: skip
            echo_env = bot_env(work / "unused.db", e_srv, BOT_TOKEN=e_srv.token)
            echo_proc = BotProcess(echo_env, ROOT, work / "echo.log")
            echo_proc_cmd = (sys.executable, "-m", "bench.echo_bot")
            ours = Bot("ours", srv, BotProcess(ours_env, work, work / "ours.log"))
            echo = Bot("echo", e_srv, echo_proc)
            await ours.proc.start()
            echo_proc.proc = await asyncio.create_subprocess_exec(
                *echo_proc_cmd, cwd=ROOT, env=echo_env, stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
            )  # fmt: skip
            try:
                for bot in (echo, ours):  # warm: started, schema current, every path run once
                    await bot.round(args.commands * 20, within=180)
                rates: dict[str, list[tuple[float, float]]] = {"echo": []}
                rates.update({k: [] for k in args.commands})
                for _round in range(args.rounds):
                    for kind in rates:
                        bot = echo if kind == "echo" else ours
                        texts = ["xin chào" if kind == "echo" else kind] * args.updates
                        rates[kind].append(await bot.round(texts, within=args.updates))
            finally:
                await ours.proc.stop()
                await echo_proc.stop()
        if pg_name:
            await _drop(pg_name)
    echo_rate = statistics.median(r for r, _ in rates["echo"])
    print(f"{args.db} over HTTP: {args.updates} updates × {args.rounds} rounds, {USERS} users")
    for kind, values in rates.items():
        med = statistics.median(r for r, _ in values)
        ms = statistics.median(c for _, c in values)
        print(f"  {kind:10s} median {med:7.1f}/s  × echo {med / echo_rate:5.2f}  "
              f"bot CPU {ms:5.2f} ms/update")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--updates", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--commands", nargs="+", default=["/help", "/status", "/courses"])
    asyncio.run(run(parser.parse_args()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
