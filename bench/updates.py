"""Updates per second: the real application against python-telegram-bot's plain echo bot.

Both run in this process on the same in-memory Telegram (bot.offline, no network, no send
cap), fed the same way: 100 linked civil servants send `--updates` messages, at most
`--concurrency` outstanding, and an update counts when its handlers are done. The echo bot
answers every text with the same text; ours answers /help, /status and /courses. Rounds are
interleaved (echo, ours, echo, …) so a noisy machine slows both alike; the ratio is what counts,
and the CPU an update costs (this process, all threads) is steadier still on a shared machine.
bench/updates_http.py measures the same over HTTP, each bot a process of its own.

    .venv/bin/python -m bench.updates                      # SQLite
    .venv/bin/python -m bench.updates --db postgresql      # the local PostgreSQL
    .venv/bin/python -m bench.updates --profile /status    # cProfile's top functions
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import logging
import pstats
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from telegram import Update
from telegram.ext import Application, ApplicationBuilder, MessageHandler, filters

from bot.app import OFFLINE_TOKEN, build_application
from bot.offline import OfflineBotAPI, OfflineRequest
from config.settings import Settings
from storage.db import create_engine, make_sessionmaker, upgrade
from storage.models import ChatAccount
from tests.factories import make_course, make_person

USERS = 100
FIRST_USER = 800_000_001
PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
_SCHEMA: list[str] = []  # the PostgreSQL schema this run made, dropped at its end


def _user(n: int) -> dict[str, Any]:
    return {"id": FIRST_USER + n, "is_bot": False, "first_name": f"U{n}", "language_code": "vi"}


async def _engine(kind: str, work: Path) -> AsyncEngine:
    if kind == "sqlite":
        engine = create_engine(f"sqlite+aiosqlite:///{work / 'bench.db'}")
    else:
        schema = f"bench_updates_{int(time.time())}"
        _SCHEMA.append(schema)
        admin = create_engine(PG)
        async with admin.begin() as c:
            await c.execute(text(f'CREATE SCHEMA "{schema}"'))
        await admin.dispose()
        engine = create_engine(PG, connect_args={"server_settings": {"search_path": schema}})
    await upgrade(engine)
    return engine


async def _people(engine: AsyncEngine) -> None:
    """100 linked civil servants of one commune and 30 open courses."""
    now = datetime.now(UTC)
    async with make_sessionmaker(engine).begin() as s:
        for n in range(30):
            await make_course(s, code=f"K{n:03d}", title=f"Bồi dưỡng kỹ năng số {n}",
                              starts_at=now + timedelta(days=10 + n))  # fmt: skip
        for n in range(USERS):
            person = await make_person(
                s, personal_id=f"0011990{n:05d}", full_name=f"Nguyễn Văn {n}",
                phone=f"09{n:08d}", qualifications=[("education", "university", "Luật")],
            )  # fmt: skip
            s.add(ChatAccount(channel="telegram", chat_user_id=str(FIRST_USER + n),
                              chat_id=str(FIRST_USER + n), person_id=person.id,
                              linked_at=now, last_used_at=now))  # fmt: skip


async def _feed(app: Application[Any, Any, Any, Any, Any, Any], api: OfflineBotAPI,
                texts: list[str], concurrency: int) -> float:  # fmt: skip
    """Seconds to handle one update per text, at most `concurrency` at once."""
    updates = [
        Update.de_json(api.message_update(_user(n % USERS), t), app.bot)
        for n, t in enumerate(texts)
    ]
    gate = asyncio.Semaphore(concurrency)

    async def one(update: Update) -> None:
        async with gate:
            await app.process_update(update)

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(one(u) for u in updates))
    _CPU.append(time.process_time() - cpu)
    return time.perf_counter() - started


# CPU seconds of each _feed (this process, every thread): on a machine others share, the CPU an
# update costs is steadier than the updates/s it allows.
_CPU: list[float] = []


class _Errors(logging.Handler):
    """Counts errors logged while updates run: a failing handler is fast, not a result."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


def _echo(api: OfflineBotAPI) -> Application[Any, Any, Any, Any, Any, Any]:
    async def echo(update: Update, context: Any) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(update.effective_message.text or "")

    request = OfflineRequest(api)
    app = (
        ApplicationBuilder().token(OFFLINE_TOKEN).request(request)
        .get_updates_request(request).concurrent_updates(True).build()
    )  # fmt: skip
    app.add_handler(MessageHandler(filters.TEXT, echo))
    return app


async def run(args: argparse.Namespace) -> None:
    errors = _Errors()
    logging.getLogger().addHandler(errors)
    with tempfile.TemporaryDirectory() as tmp:
        engine = await _engine(args.db, Path(tmp))
        await _people(engine)
        api = OfflineBotAPI(token=OFFLINE_TOKEN)
        for n in range(USERS):
            api.add_user(_user(n))
        settings = Settings(_env_file=None, send_rate_per_second=1000)  # type: ignore[call-arg]
        ours = build_application(settings, engine, request=OfflineRequest(api), rate_limit=False)
        echo = _echo(api)
        async with ours, echo:
            kinds = args.commands
            warm = [k for k in kinds for _ in range(20)]
            await _feed(ours, api, warm, args.concurrency)
            await _feed(echo, api, warm, args.concurrency)
            if args.profile:
                profile = cProfile.Profile()
                profile.enable()
                await _feed(ours, api, [args.profile] * args.updates, args.concurrency)
                profile.disable()
                out = io.StringIO()
                # Coroutines' cumulative times count their awaits; own time shows the CPU.
                stats = pstats.Stats(profile, stream=out)
                stats.sort_stats("cumulative").print_stats(40)
                stats.sort_stats("tottime").print_stats(40)
                print(out.getvalue())
                return
            rates: dict[str, list[float]] = {"echo": [], **{k: [] for k in kinds}}
            cpu: dict[str, list[float]] = {k: [] for k in rates}
            for _round in range(args.rounds):
                for kind in ("echo", *kinds):
                    app = echo if kind == "echo" else ours
                    texts = [kind if kind != "echo" else "xin chào"] * args.updates
                    seconds = await _feed(app, api, texts, args.concurrency)
                    rates[kind].append(args.updates / seconds)
                    cpu[kind].append(_CPU[-1] / args.updates * 1000)
        await engine.dispose()
        if args.db == "postgresql":  # its schema, named in the engine's search path
            admin = create_engine(PG)
            async with admin.begin() as c:
                await c.execute(text(f'DROP SCHEMA "{_SCHEMA[0]}" CASCADE'))
            await admin.dispose()
    if errors.count:
        raise SystemExit(f"{errors.count} errors were logged while answering: no figures")
    echo_rate = statistics.median(rates["echo"])
    print(f"{args.db}: {args.updates} updates × {args.rounds} rounds, {USERS} users, "
          f"≤{args.concurrency} outstanding")  # fmt: skip
    for kind, values in rates.items():
        med, ms = statistics.median(values), statistics.median(cpu[kind])
        print(f"  {kind:10s} median {med:7.1f}/s (min {min(values):7.1f}, max {max(values):7.1f})"
              f"  × echo {med / echo_rate:5.2f}  CPU {ms:5.2f} ms/update")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--updates", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=256)
    parser.add_argument("--commands", nargs="+", default=["/help", "/status", "/courses"])
    parser.add_argument("--profile", metavar="TEXT", help="profile this command instead")
    asyncio.run(run(parser.parse_args()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
