"""What the reminder benchmarks share: a bulk-built database, the real bot process, and a
stand-in Bot API that timestamps everything the bot sends.

The bot is the real `boiduong run` in a child process (`python -m bot.cli run`, which is the
console script's entry point, exactly as tests/test_e2e.py starts it), so start-up, memory and
crashes are those of a deployment. All traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import bisect
import math
import os
import re
import signal
import sqlite3
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert

from config.settings import Settings
from domain import reminders
from domain.text import fold
from storage.db import create_engine, make_sessionmaker, upgrade
from storage.models import (
    ChatAccount,
    Course,
    CourseStatus,
    Notification,
    Person,
    Registration,
    RegistrationStatus,
    TrainingRecord,
    Unit,
)
from tests.standin import StandInBotAPI

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "123456:BENCH-TOKEN"
TZ = ZoneInfo("Asia/Ho_Chi_Minh")  # the bot's default TIMEZONE, used for quiet hours
CHAT_BASE = 800_000_000  # person i chats from user/chat id CHAT_BASE + i
PEAK_COURSE_ID = 1
WEEK_COURSES = 20
COMMUNES = 200
CHUNK = 20_000  # rows per executemany: bounded memory, still one transaction per table


# -- numbers -----------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..1); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def mib(n_bytes: float) -> float:
    return n_bytes / (1024 * 1024)


def db_size(path: Path) -> int:
    """The database as it sits on disk: the main file plus its write-ahead log, if any."""
    return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())


def query(path: Path, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """A plain read on a separate connection; WAL lets it run beside the bot's writer."""
    conn = sqlite3.connect(path, timeout=10)
    try:
        return list(conn.execute(sql, params))
    finally:
        conn.close()


def owed_until(path: Path, horizon: datetime) -> int:
    """Rows still owed (pending, or claimed and not recorded) that fall due before `horizon`.

    Compares with the stored text form of UTC times (SQLAlchemy's SQLite format), which uses
    the (state, due_at) index instead of scanning the table every second."""
    stamp = horizon.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    rows = query(
        path,
        "SELECT count(*) FROM notifications WHERE state IN ('pending', 'sending') AND due_at <= ?",
        (stamp,),
    )
    return int(rows[0][0])


# -- the database --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Built:
    people: int
    week_rows: int
    seconds: float
    size_bytes: int


def chat_of(person_id: int) -> int:
    return CHAT_BASE + person_id


def person_of(chat_id: int) -> int:
    return chat_id - CHAT_BASE


async def build_database(
    path: Path, *, people: int, week_rows: int, peak_people: int, now: datetime
) -> Built:
    """People with linked chats, courses, registrations and `week_rows` pending reminders.

    Every row is one `prepare()` will find relevant when due: a course_start reminder of a
    future course the person is REGISTERED for. Each person also holds 40 training hours this
    year, so the bot's own planner (it runs 5 s after start) finds nothing to add: the only
    messages in a run are the benchmark's. Persons 1..peak_people are registered for the peak
    course, whose reminders `add_peak` inserts just before a run.
    """
    if week_rows > people * 5:
        raise ValueError("at most 5 week reminders per person (one per registered course)")
    started = time.perf_counter()
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        await upgrade(engine)
        today = now.astimezone(TZ).date()
        async with make_sessionmaker(engine).begin() as s:
            units = [{"id": 1, "code": "LS", "name": "Tỉnh Lạng Sơn", "kind": "province"}]
            units += [
                {
                    "id": u,
                    "code": f"LS-X{u:03d}",
                    "name": f"Xã {u}",
                    "kind": "commune",
                    "parent_id": 1,
                }
                for u in range(2, COMMUNES + 2)
            ]
            await s.execute(insert(Unit), units)
            await _insert(
                s,
                Person,
                (
                    {
                        "id": i,
                        "personal_id": f"020{i:09d}",
                        "full_name": f"Người Thử {i}",
                        "unit_id": 2 + i % COMMUNES,
                    }
                    for i in range(1, people + 1)
                ),
            )
            await _insert(
                s,
                ChatAccount,
                (
                    {
                        "channel": "telegram",
                        "chat_user_id": str(chat_of(i)),
                        "chat_id": str(chat_of(i)),
                        "person_id": i,
                        "language": "en" if i % 10 == 0 else "vi",
                        "linked_at": now,
                    }
                    for i in range(1, people + 1)
                ),
            )
            await _insert(
                s,
                TrainingRecord,
                (
                    {
                        "person_id": i,
                        "title": "Bồi dưỡng thường xuyên",
                        "hours": 40,
                        "starts_on": today,
                        "ends_on": today,
                    }
                    for i in range(1, people + 1)
                ),
            )
            courses = [_course(PEAK_COURSE_ID, now + timedelta(days=2), peak_people)]
            courses += [
                _course(c, now + timedelta(days=8, hours=c), people)
                for c in range(2, WEEK_COURSES + 2)
            ]
            await s.execute(insert(Course), courses)
            await _insert(
                s,
                Registration,
                (
                    {
                        "course_id": PEAK_COURSE_ID,
                        "person_id": i,
                        "status": RegistrationStatus.REGISTERED,
                        "queue_seq": i,
                    }
                    for i in range(1, peak_people + 1)
                ),
            )
            week = [_week_slot(n, people) for n in range(week_rows)]
            await _insert(
                s,
                Registration,
                (
                    {
                        "course_id": c,
                        "person_id": p,
                        "status": RegistrationStatus.REGISTERED,
                        "queue_seq": n,
                    }
                    for n, (p, c) in enumerate(week)
                ),
            )
            # Due from an hour after the build to a week later, interleaved, so none of them
            # falls inside a run and mixes with the peak being measured.
            first = now + timedelta(hours=1)
            spread = timedelta(days=7) - timedelta(hours=1)
            await _insert(
                s,
                Notification,
                (
                    {
                        "dedupe_key": f"bench-week:{p}:{c}",
                        "person_id": p,
                        "kind": reminders.COURSE_START,
                        "course_id": c,
                        "params": {"days": 1},
                        "due_at": first + spread * (((n * 7919) % week_rows) / week_rows),
                    }
                    for n, (p, c) in enumerate(week)
                ),
            )
    finally:
        await engine.dispose()  # the last connection checkpoints the WAL into the main file
    return Built(people, week_rows, time.perf_counter() - started, db_size(path))


def _week_slot(n: int, people: int) -> tuple[int, int]:
    """The n-th week reminder's (person, course): five distinct courses per person."""
    person, k = n % people + 1, n // people
    return person, 2 + (person + 4 * k) % WEEK_COURSES


def _course(course_id: int, starts: datetime, capacity: int) -> dict[str, Any]:
    title = f"Bồi dưỡng kỹ năng cho cán bộ cấp xã, khóa {course_id}"
    return {
        "id": course_id,
        "code": f"BENCH-{course_id:03d}",
        "title": title,
        "search_text": fold(f"{title} refresher Hội trường UBND tỉnh"),
        "category": "refresher",
        "place": "Hội trường UBND tỉnh",
        "starts_at": starts,
        "ends_at": starts + timedelta(hours=8),
        "capacity": capacity,
        "registration_deadline": starts - timedelta(days=1),
        "audience": {},
        "hours": 8,
        "status": CourseStatus.OPEN,
        "queue_seq": capacity,
    }


async def _insert(session: Any, model: type[Any], rows: Iterable[dict[str, Any]]) -> None:
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == CHUNK:
            await session.execute(insert(model), chunk)
            chunk = []
    if chunk:
        await session.execute(insert(model), chunk)


async def add_peak(
    path: Path,
    *,
    persons: Iterable[int],
    due_at: datetime,
    tag: str,
    urgent: Callable[[int], bool] = lambda _person: False,
) -> None:
    """One reminder per person, all due at the same instant (like everyone's 08:00 reminder).

    Urgent rows are waitlist promotions (sent during quiet hours too), the others course-start
    reminders; one row per person means a chat id identifies its reminder at the stand-in.
    """
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        async with make_sessionmaker(engine).begin() as s:
            await _insert(
                s,
                Notification,
                (
                    {
                        "dedupe_key": f"bench-peak:{tag}:{p}",
                        "person_id": p,
                        "kind": reminders.PROMOTED if urgent(p) else reminders.COURSE_START,
                        "course_id": PEAK_COURSE_ID,
                        "params": {} if urgent(p) else {"days": 1},
                        "due_at": due_at,
                        "urgent": urgent(p),
                    }
                    for p in persons
                ),
            )
    finally:
        await engine.dispose()


# -- the stand-in Bot API, recorded -----------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    at: float  # wall-clock time (time.time()) the stand-in accepted the message
    chat_id: int
    message_id: int
    text: str


def user(chat_id: int) -> dict[str, Any]:
    return {"id": chat_id, "is_bot": False, "first_name": "Bench", "language_code": "vi"}


class Recorder:
    """Timestamps the stand-in's traffic: when each getUpdates arrives, when each message is
    accepted. It wraps the OfflineBotAPI behind the server, after the spec check and the
    429 check, so what it records is exactly what Telegram would have delivered."""

    def __init__(self, srv: StandInBotAPI) -> None:
        self.srv = srv
        self.deliveries: list[Delivery] = []
        self.polls: list[float] = []  # arrival times, ascending
        self._waiting: dict[int, asyncio.Future[Delivery]] = {}
        self._call = srv.api.call
        srv.api.call = self._recorded  # type: ignore[method-assign]

    async def _recorded(self, method: str, params: dict[str, Any]) -> Any:
        name = method.lower()
        if name == "getupdates":
            self.polls.append(time.time())
        result = await self._call(method, params)
        if name == "sendmessage":
            d = Delivery(
                time.time(),
                int(result["chat"]["id"]),
                int(result["message_id"]),
                str(result.get("text", "")),
            )
            self.deliveries.append(d)
            waiter = self._waiting.pop(d.chat_id, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(d)
        return result

    def add_users(self, chat_ids: Iterable[int]) -> None:
        """Their private chats exist, as if each had pressed Start long ago."""
        for chat_id in chat_ids:
            self.srv.api.add_user(user(chat_id))

    async def first_poll_after(self, moment: float, within: float) -> float | None:
        """Arrival time of the first getUpdates at or after `moment`; None after `within` s."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            i = bisect.bisect_left(self.polls, moment)
            if i < len(self.polls):
                return self.polls[i]
            await asyncio.sleep(0.02)
        return None

    async def ask(self, chat_id: int, text: str = "/help", within: float = 60.0) -> Delivery | None:
        """Push a user's message; the bot's next message to that chat, or None after `within` s.

        Callers keep at most one question per chat outstanding, so the next message to the
        chat is the answer (or the bot's apology when the handler failed)."""
        waiter: asyncio.Future[Delivery] = asyncio.get_running_loop().create_future()
        self._waiting[chat_id] = waiter
        self.srv.api.push(self.srv.api.message_update(user(chat_id), text))
        try:
            return await asyncio.wait_for(waiter, within)
        except TimeoutError:
            self._waiting.pop(chat_id, None)
            return None


# -- the bot process ----------------------------------------------------------------------------


BOT_COMMAND = (sys.executable, "-m", "bot.cli", "run")


def bot_env(db: Path, srv: StandInBotAPI, **settings: str) -> dict[str, str]:
    """The environment minus any of the bot's settings the caller has set, plus ours."""
    names = {name.lower() for name in Settings.model_fields}
    env = {k: v for k, v in os.environ.items() if k.lower() not in names}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["PYTHONIOENCODING"] = "utf-8"
    env["PTB_TIMEDELTA"] = "1"
    env.update(
        BOT_TOKEN=TOKEN,
        DATABASE_URL=f"sqlite+aiosqlite:///{db}",
        TELEGRAM_BASE_URL=srv.base_url,
        TELEGRAM_BASE_FILE_URL=srv.base_file_url,
    )
    env.update(settings)
    return env


class BotProcess:
    """One `boiduong run`; its output goes to a file (a pipe nobody reads could block it)."""

    def __init__(self, env: dict[str, str], cwd: Path, log: Path) -> None:
        self.env, self.cwd, self.log = env, cwd, log
        self.proc: asyncio.subprocess.Process | None = None
        self.started = math.nan  # time.time() just before the process was created
        self.ended = math.nan
        self.killed = False

    async def start(self) -> None:
        with self.log.open("ab") as out:
            self.started = time.time()
            self.proc = await asyncio.create_subprocess_exec(
                *BOT_COMMAND,
                cwd=self.cwd,  # no stray .env from the checkout
                env=self.env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=out,
            )

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    def rss_mib(self) -> float | None:
        """VmRSS from /proc/PID/status, in MiB; None once the process is gone."""
        if not self.running:
            return None
        assert self.proc is not None
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            return None
        return None

    async def kill(self) -> float:
        """SIGKILL: no handler, no cleanup, no last commit. Returns when it was sent."""
        assert self.proc is not None
        at = time.time()
        self.proc.send_signal(signal.SIGKILL)
        await asyncio.wait_for(self.proc.wait(), 30)
        self.ended, self.killed = at, True
        return at

    async def stop(self, grace: float = 30.0) -> int | None:
        """SIGTERM, as a service manager stops it; SIGKILL if it does not exit in time."""
        if self.proc is None:
            return None
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), grace)
            except TimeoutError:
                self.proc.kill()
                await asyncio.wait_for(self.proc.wait(), grace)
        if math.isnan(self.ended):
            self.ended = time.time()
        return self.proc.returncode

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def log_problems(logs: Iterable[Path]) -> tuple[int, int]:
    """(tracebacks, ERROR lines) over the bot's logs."""
    tracebacks = errors = 0
    for path in logs:
        text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
        tracebacks += text.count("Traceback")
        errors += sum(" ERROR " in line for line in text.splitlines())
    return tracebacks, errors


_FRAME = re.compile(
    r'File "[^"]*/(?:schedules|handlers|domain|storage|bot)/[^"]+", line \d+, in (\w+)'
)


def lock_failures(logs: Iterable[Path]) -> Counter[str]:
    """Logged errors caused by "database is locked", keyed by the project's call chain.

    PTB hands job errors to the same error handler as update errors, so the chain (e.g.
    `_drain_job › drain_once › _deliver › _mark › get`) is what says which write failed."""
    found: Counter[str] = Counter()
    for path in logs:
        if not path.exists():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for block in re.split(r"\n(?=\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ERROR )", text)[1:]:
            block = re.split(r"\n(?=\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} )", block)[0]
            if "database is locked" in block:
                # The last traceback in the block is the outermost one, with the whole chain.
                chain = _FRAME.findall(block.rsplit("Traceback", 1)[-1])
                found[" › ".join(dict.fromkeys(chain)) or "?"] += 1
    return found


def log_time(line: str) -> float | None:
    """The epoch time of a log line stamped by logging's default asctime (local time)."""
    try:
        moment = time.mktime(time.strptime(line[:19], "%Y-%m-%d %H:%M:%S"))
        return moment + int(line[20:23]) / 1000
    except ValueError:
        return None


def find_log_line(log: Path, needle: str) -> str | None:
    if not log.exists():
        return None
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        if needle in line:
            return line
    return None


async def wait_for_log_line(log: Path, needle: str, within: float) -> str | None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if (line := find_log_line(log, needle)) is not None:
            return line
        await asyncio.sleep(0.5)
    return None


# The start-up planning pass (schedules/notifications.py plan_all) logs this when it ends;
# APScheduler logs the job's start under its name (PLAN_JOB_NAME there).
PLANNED = " reminders for "
PLANNER_STARTS = 'Running job "reminder-planner'


def planner_span(log: Path) -> tuple[float | None, float | None]:
    """When the bot's planning pass started and ended, from its log (None: not seen)."""
    start = find_log_line(log, PLANNER_STARTS)
    end = find_log_line(log, PLANNED)
    return (log_time(start) if start else None, log_time(end) if end else None)


def machine_load() -> str:
    """The 1-minute load average against the CPU count: other work on the machine skews
    every timing here (start-up, the planning pass, answer times), so each run prints it."""
    return f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"


def now_utc() -> datetime:
    return datetime.now(UTC)
