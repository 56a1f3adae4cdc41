"""A broadcast to 10,000 people against the stand-in Bot API enforcing Telegram's 30/s.

Builds a database of 10,000 linked civil servants (bench/common.py) plus a few people outside
the audience who chat with the bot meanwhile and an organizer who gets the progress message and
the report. Every 200th recipient has no linked chat and every 100th has blocked the bot (the
stand-in answers 403). The real `boiduong run` is started, then the broadcast is created with
the command-line path (`boiduong broadcast --unit LS --missing digital-skills --yes`, in this
process): nobody in the bench database holds digital skills, so the audience is the 10,000.

Prints: the audience resolution and row creation time, the achieved send rate as a fraction of
the 30/s cap (every send the stand-in let through its window, 403s included), the number of
429s, duplicates, lost recipients, and the /help answer time of the users chatting meanwhile.

    .venv/bin/python -m bench.broadcast                    # about 7 minutes
    .venv/bin/python -m bench.broadcast --people 2000      # shorter
    .venv/bin/python -m bench.broadcast --restart-at 0.5   # SIGTERM half-way, start again
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    PLANNED,
    TOKEN,
    BotProcess,
    Recorder,
    bot_env,
    build_database,
    chat_of,
    log_problems,
    now_utc,
    percentile,
    query,
    wait_for_log_line,
)
from bot.cli_broadcast import cmd_broadcast
from config.settings import Settings
from tests.standin import StandInBotAPI

CAP = 30  # Telegram's overall limit per bot, enforced by the stand-in
HELPERS = 5
QUESTION_GAP = 1.5
ANSWER_WITHIN = 30.0
TEXT = "<b>Thông báo</b>: hạn nộp chứng chỉ kỹ năng số là 30/06. Xem hướng dẫn trên cổng."
MARK = "hạn nộp chứng chỉ"
HELP_MARK = "/status"


@dataclass
class Result:
    people: int
    create_s: float = float("nan")
    recipients: int = 0
    attempts: list[tuple[float, int]] = field(default_factory=list)  # (time, chat) per send
    others: list[float] = field(default_factory=list)  # every other counted send
    too_many: int = 0
    states: dict[str, int] = field(default_factory=dict)
    answers: list[float] = field(default_factory=list)
    idle: list[float] = field(default_factory=list)
    unanswered: int = 0
    report_seen: bool = False
    xlsx_seen: bool = False
    progress_edits: int = 0
    restarts: int = 0
    cpu_s: float = float("nan")  # the bot process's CPU time during the broadcast
    load: tuple[float, float] = (0.0, 0.0)  # 1-minute load average at start and end
    tracebacks: int = 0
    errors: int = 0


def _cpu(bot: BotProcess) -> float:
    """User + system CPU seconds of the bot process so far (Linux /proc)."""
    assert bot.proc is not None
    fields = Path(f"/proc/{bot.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _load() -> float:
    return os.getloadavg()[0]


def _exec(db: Path, sql: str, params: Any = ()) -> None:
    conn = sqlite3.connect(db, timeout=30)
    try:
        conn.execute(sql, params)
        conn.commit()
    finally:
        conn.close()


async def run(args: argparse.Namespace, work: Path) -> Result:
    n = args.people
    r = Result(n)
    db, log = work / "broadcast.db", work / "bot.log"
    outside = list(range(n + 1, n + 2 + HELPERS))  # the organizer, then the helpers
    chatters = outside[1 : 1 + args.chatters]
    organizer, helpers = outside[0], outside[1:]
    await build_database(db, people=n + 1 + HELPERS, week_rows=0, peak_people=0, now=now_utc())
    _exec(db, "INSERT INTO units (id, code, name, kind, active) VALUES (9999, 'BENCH-OUT', "
              "'Ngoài đối tượng', 'province', 1)")  # fmt: skip
    _exec(db, f"UPDATE people SET unit_id = 9999 WHERE id > {n}")
    _exec(db, f"DELETE FROM chat_accounts WHERE person_id <= {n} AND person_id % 200 = 0")
    async with StandInBotAPI(token=TOKEN, rate_limit_per_second=CAP) as srv:
        rec = Recorder(srv)
        inner = srv.api.call

        async def counted(method: str, params: dict[str, Any]) -> Any:
            # Past the stand-in's 429 check: this send counts against the cap, 403 or not.
            name = method.lower()
            if name == "sendmessage" and MARK in str(params.get("text", "")):
                r.attempts.append((time.time(), int(params["chat_id"])))
            elif name.startswith("send") and name != "sendchataction":
                r.others.append(time.time())  # replies, progress, report: the cap is shared
            if method.lower() == "editmessagetext":
                r.progress_edits += 1
            return await inner(method, params)

        srv.api.call = counted  # type: ignore[method-assign]
        rec.add_users(chat_of(p) for p in range(1, n + 2 + HELPERS))
        for p in range(50, n + 1, 100):
            srv.api.block(chat_of(p))
        env = bot_env(db, srv, QUIET_HOURS="00:00-00:00")
        bot = BotProcess(env, work, log)
        await bot.start()
        try:
            if await rec.first_poll_after(bot.started, 60) is None:
                raise RuntimeError(f"no getUpdates within 60 s:\n{bot.log_tail()}")
            # The reminder planner's pass over everyone 5 s after start holds SQLite's write
            # lock in chunks; the broadcast is measured on its own, after that pass.
            if await wait_for_log_line(log, PLANNED, 600) is None:
                raise RuntimeError(f"the planning pass did not end:\n{bot.log_tail()}")
            for chat in (chat_of(h) for h in helpers[:3]):
                pushed = time.time()
                if (a := await rec.ask(chat, within=ANSWER_WITHIN)) is not None:
                    r.idle.append(a.at - pushed)
            settings = Settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{db}")  # type: ignore[call-arg]
            started = time.perf_counter()
            # In a thread with its own loop: this process also serves the stand-in, whose
            # 30/s window must see requests as they come, not queued behind our own writes.
            code = await asyncio.to_thread(asyncio.run, cmd_broadcast(
                settings, text=TEXT, units=["LS"], positions=[], missing="digital-skills",
                course=None, waitlist=False, ack=True, at=None, everyone=False, yes=True,
                report_to=f"020{organizer:09d}",
            ))  # fmt: skip
            r.create_s = time.perf_counter() - started
            if code != 0:
                raise RuntimeError("the broadcast was not created")
            r.recipients = query(db, "SELECT total FROM broadcasts")[0][0]
            cpu_before, load_before = _cpu(bot), _load()
            done = asyncio.Event()
            chats = [asyncio.create_task(_chat(rec, r, chat_of(h), done)) for h in chatters]
            try:
                await _wait(args, r, db, bot, done, work)
            finally:
                done.set()
                await asyncio.gather(*chats)
            if not r.restarts:
                r.cpu_s = _cpu(bot) - cpu_before
            r.load = (load_before, _load())
            await asyncio.sleep(3)  # the report and the list follow the last row
            sent = srv.api.sent_to(chat_of(organizer))
            r.report_seen = any("Thông báo #1 đã gửi xong" in str(m.get("text")) for m in sent)
            r.xlsx_seen = any("document" in m for m in sent)
        finally:
            await bot.stop()
        r.too_many = srv.too_many
    r.states = dict(query(db, "SELECT state, count(*) FROM broadcast_deliveries GROUP BY state"))
    r.tracebacks, r.errors = log_problems([log, work / "bot-2.log"])
    return r


async def _wait(
    args: argparse.Namespace, r: Result, db: Path, bot: BotProcess, done: asyncio.Event,
    work: Path,
) -> None:  # fmt: skip
    """Until no row is owed (and SIGTERM + restart once at --restart-at, if asked)."""
    deadline = time.monotonic() + r.recipients / 20 + 180
    restart_after = int(r.recipients * args.restart_at) if args.restart_at else None
    while time.monotonic() < deadline:
        owed = (await asyncio.to_thread(query, db, "SELECT count(*) FROM broadcast_deliveries "
                "WHERE state IN ('pending', 'sending')"))[0][0]  # fmt: skip
        if owed == 0:
            return
        if restart_after is not None and len(r.attempts) >= restart_after:
            restart_after = None
            await bot.stop()
            r.restarts += 1
            bot.log = work / "bot-2.log"
            await bot.start()
        await asyncio.sleep(0.5)
    raise RuntimeError("the broadcast did not finish in time")


async def _chat(rec: Recorder, r: Result, chat: int, done: asyncio.Event) -> None:
    while not done.is_set():
        pushed = time.time()
        answer = await rec.ask(chat, within=ANSWER_WITHIN)
        if answer is None or HELP_MARK not in answer.text:
            r.unanswered += 1
        else:
            r.answers.append(answer.at - pushed)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), QUESTION_GAP)


def report(r: Result) -> None:
    times = sorted(t for t, _c in r.attempts)
    per_chat = Counter(c for _t, c in r.attempts)
    duplicates = sum(1 for k in per_chat.values() if k > 1)
    span = times[-1] - times[0] if len(times) > 1 else float("nan")
    rate = (len(times) - 1) / span
    expected = r.recipients - r.states.get("not_linked", 0)

    def ms(values: list[float], q: float) -> str:
        return f"{percentile(values, q) * 1000:,.0f} ms" if values else "—"

    print(f"\n== broadcast to {r.recipients:,} people missing a standard; stand-in cap {CAP}/s ==")
    print(f"audience resolved and {r.recipients:,} rows written in {r.create_s:.2f} s")
    print(f"rows by state: {r.states}")
    print(f"sends that reached the stand-in: {len(times):,} of {expected:,} linked recipients "
          f"(403s included); lost: {expected - len(per_chat)}")  # fmt: skip
    both = len([t for t in r.others if times[0] <= t <= times[-1]]) + len(times) - 1
    print(
        f"achieved rate: broadcast {rate:.2f}/s over {span:.1f} s = {rate / CAP:.3f} of the "
        f"cap; all sends (with the replies and the organizer's messages) {both / span:.2f}/s "
        f"= {both / span / CAP:.3f}" + (f" (with {r.restarts} restart)" if r.restarts else "")
    )
    print(f"429 answers: {r.too_many}; duplicates: {duplicates}")
    print(f"/help answers while broadcasting: p50 {ms(r.answers, 0.5)}, p99 {ms(r.answers, 0.99)}"
          f", max {ms(r.answers, 1.0)} over {len(r.answers)} ({r.unanswered} unanswered); "
          f"idle p50 {ms(r.idle, 0.5)}")  # fmt: skip
    print(f"organizer: {r.progress_edits} progress edits, report {'yes' if r.report_seen else 'NO'}"
          f", list of people not reached {'yes' if r.xlsx_seen else 'NO'}")  # fmt: skip
    print(f"bot CPU: {r.cpu_s:.1f} s for {len(times):,} sends = {r.cpu_s / len(times) * 1000:.1f}"
          f" ms a message (the pace leaves {1000 / 29:.1f} ms); machine load average "
          f"{r.load[0]:.1f} → {r.load[1]:.1f} on {os.cpu_count()} CPUs")  # fmt: skip
    print(f"bot log: {r.tracebacks} tracebacks, {r.errors} ERROR lines")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--chatters", type=int, default=1, help=f"users chatting (≤ {HELPERS})")
    parser.add_argument("--restart-at", type=float, help="SIGTERM after this fraction is sent")
    parser.add_argument("--keep", type=Path, help="keep the database and logs in this folder")
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        if args.keep:
            shutil.rmtree(args.keep, ignore_errors=True)
            args.keep.mkdir(parents=True)
            work = args.keep
        else:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-bc-")))
        report(asyncio.run(run(args, work)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
