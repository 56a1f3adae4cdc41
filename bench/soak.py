"""A soak: the real bot for some minutes under a mix of civil servants, organizers and files.

Builds a database of linked civil servants and open courses (bench/common.py), makes a few of
them organizers of the province, starts the real `boiduong run` against the strict stand-in
Bot API (Telegram's 30 sends/s enforced) and lets every user act in turn, one update
outstanding per chat, with a random pause between:

- civil servants send /status, /courses, /my, /help, /reminders, searches, junk text, and
  press the inline buttons the bot actually sent them (course cards, register, confirm,
  cancel, pages), read from the recorded messages; now and then a forged callback;
- organizers send /organize and /report, press their buttons (registrants, export, close,
  reopen, import) and upload a courses XLSX: a good one (then press Import), a bad one, and
  rarely one over the 10 MB limit.

Prints: updates sent, answered, unanswered; the bot log's tracebacks and ERROR lines, and the
updates whose answer was the apology; 429s; answer time p50/p95/p99/max (from the push to
the bot's first call to that chat, an answerCallbackQuery included); the bot's RSS after
warm-up, at the end and its growth per 10 minutes; the stand-in's rejected and failed calls
with the update that caused each kind.

    .venv/bin/python -m bench.soak --minutes 10 --users 50 --organizers 3
    .venv/bin/python -m bench.soak --minutes 1                    # a quick check
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import re
import shutil
import sqlite3
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from openpyxl import Workbook

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (
    TOKEN,
    TZ,
    BotProcess,
    bot_env,
    build_database,
    chat_of,
    log_problems,
    machine_load,
    now_utc,
    percentile,
    query,
    user,
)
from domain import roles
from domain.course_format import COURSE_COLUMNS
from domain.sheets import MAX_FILE_BYTES
from storage.db import create_engine, make_sessionmaker
from storage.models import Role
from tests.standin import StandInBotAPI

CAP = 30  # Telegram's overall limit per bot, enforced by the stand-in
ANSWER_WITHIN = 30.0
QUIET = 0.4  # an update's burst of answers is over once its chat is this long silent
SAMPLE_EVERY = 5.0
APOLOGY = ("Xin lỗi, đã có lỗi xảy ra", "Sorry, something went wrong")
COMMANDS = ("/status", "/courses", "/courses", "/my", "/help", "/reminders")
SEARCHES = ("boi duong", "kỹ năng", "khoa 7", "Hội trường", "chinh tri", "refresher", "xyz")
USER_BUTTONS = re.compile(r"^(c|r|rc|u|uc|p|s|x)(:|$)")
ORG_BUTTONS = re.compile(r"^(ol|oc|or|ov|ox|oo|oi|x)(:|$)")  # never cancel a course
FORGED = ("r:999999999", "rc:1", "uc:2", "c:0", "oc:2", "okc:3", "ox:4", "cla:1", "atf:2",
          "atk:2:1:1:0:1", "bcs:1", "lang:xx", "p:-1", "p:99999", "rem:nope", "x:1", "",
          ":")  # fmt: skip
FILE_KEYS = ("code", "title", "category", "organizer", "place", "starts", "ends", "capacity")


@dataclass
class Sent:
    """One update pushed to the bot."""

    at: float
    chat: int
    what: str
    answered: float | None = None


def _buttons(message: Any) -> list[str]:
    markup = message.get("reply_markup") if isinstance(message, dict) else None
    rows = (markup or {}).get("inline_keyboard", [])
    return [b["callback_data"] for row in rows for b in row if "callback_data" in b]


class _Blamed(list[tuple[str, dict[str, Any], str]]):
    """The stand-in's rejected/failed list, noting the update each entry answered."""

    def __init__(self, on_append: Callable[[tuple[str, dict[str, Any], str]], None]) -> None:
        super().__init__()
        self._on_append = on_append

    def append(self, item: tuple[str, dict[str, Any], str]) -> None:
        super().append(item)
        self._on_append(item)


class Chats:
    """Wraps the stand-in's API: the first reaction to each update, each chat's inline
    keyboards as they stand (sent, edited, deleted), apologies and refused calls."""

    def __init__(self, srv: StandInBotAPI) -> None:
        self.srv = srv
        self.sent: list[Sent] = []
        self.apologies: list[Sent] = []
        self.blame: Counter[tuple[str, str, str]] = Counter()  # (method, description, update)
        self.keyboards: dict[int, dict[int, list[str]]] = defaultdict(dict)
        self._current: dict[int, Sent] = {}
        self._last_call: dict[int, float] = {}
        self._queries: dict[str, int] = {}
        self._events: dict[int, asyncio.Event] = {}
        self._inner = srv.api.call
        srv.api.call = self._call  # type: ignore[method-assign]
        srv.api.rejected = _Blamed(self._blame)
        srv.api.failed = _Blamed(self._blame)

    def _chat(self, name: str, params: dict[str, Any]) -> int | None:
        if name == "answercallbackquery":
            return self._queries.get(str(params.get("callback_query_id")))
        with contextlib.suppress(TypeError, ValueError):
            return int(params["chat_id"]) if "chat_id" in params else None
        return None

    def _blame(self, item: tuple[str, dict[str, Any], str]) -> None:
        chat = self._chat(item[0].lower(), item[1])
        cause = self._current[chat].what if chat in self._current else "?"
        self.blame[(item[0], item[2], cause)] += 1

    async def _call(self, method: str, params: dict[str, Any]) -> Any:
        result: Any = None
        try:
            result = await self._inner(method, params)
            return result
        finally:
            self._saw(method.lower(), params, result)

    def _saw(self, name: str, params: dict[str, Any], result: Any) -> None:
        chat = self._chat(name, params)
        if chat is None:
            return
        now = time.time()
        self._last_call[chat] = now
        sent = self._current.get(chat)
        if sent is not None and sent.answered is None and name != "sendchataction":
            sent.answered = now
            if (event := self._events.get(chat)) is not None:
                event.set()
        if isinstance(result, dict) and "message_id" in result:
            self.keyboards[chat][int(result["message_id"])] = _buttons(result)
        if name == "deletemessage":
            self.keyboards[chat].pop(int(params.get("message_id", 0)), None)
        text = str(params.get("text", ""))
        if name == "sendmessage" and sent is not None and any(a in text for a in APOLOGY):
            self.apologies.append(sent)

    async def push(self, chat: int, update: dict[str, Any], what: str) -> Sent:
        """Send one update; return once answered and the chat has gone quiet (or timed out)."""
        sent = Sent(time.time(), chat, what)
        self._current[chat], self._events[chat] = sent, asyncio.Event()
        self.sent.append(sent)
        if "callback_query" in update:
            self._queries[update["callback_query"]["id"]] = chat
        self.srv.api.push(update)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._events[chat].wait(), ANSWER_WITHIN)
        # Polled: "silent for QUIET" is the absence of an event, which no Event can signal.
        while sent.answered is not None and time.time() - self._last_call[chat] < QUIET:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
        return sent

    def button(self, chat: int, allowed: re.Pattern[str], rng: random.Random) -> tuple[int, str]:
        """A button of the newest message in the chat that has one `allowed`; (0, "") if none."""
        for message_id in sorted(self.keyboards[chat], reverse=True):
            choices = [d for d in self.keyboards[chat][message_id] if allowed.match(d)]
            if choices:
                return message_id, rng.choice(choices)
        return 0, ""

    async def say(self, chat: int, text: str, what: str | None = None) -> Sent:
        return await self.push(chat, self.srv.api.message_update(user(chat), text), what or text)

    async def press(self, chat: int, allowed: re.Pattern[str], rng: random.Random) -> bool:
        message_id, data = self.button(chat, allowed, rng)
        if not data:
            return False
        try:
            update = self.srv.api.callback_update(user(chat), message_id, data)
        except (LookupError, ValueError):  # the message changed under us: not a real press
            return False
        await self.push(chat, update, f"button {data.split(':')[0]}")
        return True

    async def forge(self, chat: int, rng: random.Random) -> bool:
        """A callback with data the bot never sent, on a real message of the chat."""
        message_id, data = self.button(chat, re.compile(""), rng)
        if not data:
            return False
        try:
            update = self.srv.api.callback_update(user(chat), message_id, data)
        except (LookupError, ValueError):
            return False
        junk = rng.choice([*FORGED, _junk(rng, 64)])
        update["callback_query"]["data"] = junk.encode()[:64].decode(errors="ignore")
        await self.push(chat, update, "forged callback")
        return True

    async def upload(self, chat: int, name: str, content: bytes, what: str) -> Sent:
        return await self.push(chat, self.srv.api.document_update(user(chat), name, content), what)


def _junk(rng: random.Random, longest: int) -> str:
    alphabet = "aăâbcdđeêghiklmnoôơpqrstuưvxyÀẢÃáạ0123456789 !?<>&;:/_-*@#\n\t😀🇻🇳\u200b"
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(1, longest))) or "?"


def _courses_file(path: Path, rows: list[dict[str, str]]) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    by_key = {c.key: c for c in COURSE_COLUMNS}
    ws.append([by_key[k].vi for k in FILE_KEYS])
    for row in rows:
        ws.append([row.get(k, "") for k in FILE_KEYS])
    wb.save(path)
    return path.read_bytes()


def _course_row(code: str, days: int) -> dict[str, str]:
    day = (now_utc() + timedelta(days=days)).astimezone(TZ).strftime("%d/%m/%Y")
    return {"code": code, "title": f"Bồi dưỡng quản lý nhà nước {code}", "category": "QLNN",
            "organizer": "LS", "place": "Hội trường xã", "starts": f"{day} 07:30",
            "ends": f"{day} 17:00", "capacity": "30"}  # fmt: skip


async def civil_servant(chats: Chats, chat: int, rng: random.Random, args: Any, end: float) -> None:
    while time.time() < end:
        roll = rng.random()
        if not (roll < 0.55 and await chats.press(chat, USER_BUTTONS, rng)):
            if roll < 0.80:
                await chats.say(chat, rng.choice(COMMANDS))
            elif roll < 0.88:
                await chats.say(chat, rng.choice(SEARCHES), "search")
            elif roll < 0.95:
                await chats.say(chat, _junk(rng, rng.choice((20, 300, 4096))), "junk text")
            elif not await chats.forge(chat, rng):
                await chats.say(chat, "/courses")
        await asyncio.sleep(min(4 * args.think, rng.expovariate(1 / args.think)))


async def organizer(
    chats: Chats, chat: int, rng: random.Random, args: Any, end: float, work: Path
) -> None:
    uploads = 0
    oversized = 0.0  # when the last oversized file was sent: at most one a minute
    while time.time() < end:
        roll = rng.random()
        if not (roll < 0.45 and await chats.press(chat, ORG_BUTTONS, rng)):
            if roll < 0.65:
                await chats.say(chat, "/organize")
            elif roll < 0.72:
                await chats.say(chat, "/report")
            elif roll < 0.86:
                uploads += 1
                rows = [_course_row(f"SK{chat % 1000}-{uploads}-{i}", 20 + i) for i in range(2)]
                data = _courses_file(work / f"good-{chat}.xlsx", rows)
                await chats.upload(chat, "khoa-hoc.xlsx", data, "upload good xlsx")
            elif roll < 0.95 or time.time() - oversized < 60:
                rows = [_course_row("SK-BAD", 20), {**_course_row("SK-BAD2", 20),
                        "capacity": "nhiều", "starts": "99/99/2026"}]  # fmt: skip
                data = _courses_file(work / f"bad-{chat}.xlsx", rows)
                await chats.upload(chat, "khoa-hoc.xlsx", data, "upload bad xlsx")
            else:
                oversized = time.time()
                big = b"x" * (MAX_FILE_BYTES + 1)
                await chats.upload(chat, "khoa-hoc.csv", big, "upload oversized csv")
        await asyncio.sleep(min(4 * args.think, rng.expovariate(1 / args.think)))


async def _prepare(db: Path, args: argparse.Namespace) -> list[int]:
    """The database, and organizers of the province who organize every course: their ids."""
    await build_database(db, people=args.people, week_rows=0, peak_people=0, now=now_utc())
    organizers = list(range(args.users + 1, args.users + 1 + args.organizers))
    engine = create_engine(f"sqlite+aiosqlite:///{db}")
    try:
        async with make_sessionmaker(engine).begin() as s:
            for p in organizers:
                await roles.grant(s, person_id=p, role=Role.ORGANIZER, unit_id=1, by="bench")
    finally:
        await engine.dispose()
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("UPDATE courses SET organizer_unit_id = 1")
    conn.close()
    return organizers


async def _sample(bot: BotProcess, samples: list[tuple[float, float]], stop: asyncio.Event) -> None:
    while not stop.is_set():
        if (rss := bot.rss_mib()) is not None:
            samples.append((time.time(), rss))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), SAMPLE_EVERY)


@dataclass
class Result:
    chats: Chats
    warm: float  # when the mixed phase began
    ended: float
    rss: list[tuple[float, float]]
    tracebacks: int
    errors: int
    error_lines: Counter[str]
    too_many: int
    registrations: dict[str, int]
    load: str


async def run(args: argparse.Namespace, work: Path) -> Result:
    db, log = work / "soak.db", work / "bot.log"
    organizers = await _prepare(db, args)
    rng = random.Random(args.seed)
    async with StandInBotAPI(token=TOKEN, rate_limit_per_second=CAP) as srv:
        chats = Chats(srv)
        for p in [*range(1, args.users + 1), *organizers]:
            srv.api.add_user(user(chat_of(p)))
        bot = BotProcess(bot_env(db, srv, QUIET_HOURS="00:00-00:00"), work, log)
        await bot.start()
        samples: list[tuple[float, float]] = []
        stop = asyncio.Event()
        sampler = asyncio.create_task(_sample(bot, samples, stop))
        try:
            # Warm-up: everyone's first answers load catalogues, menus and the report's code.
            await asyncio.gather(*(chats.say(chat_of(p), "/courses", "warm-up")
                                   for p in range(1, args.users + 1)),
                                 *(chats.say(chat_of(p), "/report", "warm-up")
                                   for p in organizers))  # fmt: skip
            if not bot.running:
                raise RuntimeError(f"the bot died:\n{bot.log_tail()}")
            warm = time.time()
            end = warm + args.minutes * 60
            samples.append((warm, bot.rss_mib() or float("nan")))
            await asyncio.gather(
                *(civil_servant(chats, chat_of(p), random.Random(rng.random()), args, end)
                  for p in range(1, args.users + 1)),
                *(organizer(chats, chat_of(p), random.Random(rng.random()), args, end, work)
                  for p in organizers),
            )  # fmt: skip
            ended = time.time()
            if (rss := bot.rss_mib()) is not None:
                samples.append((ended, rss))
            load = machine_load()
        finally:
            stop.set()
            await sampler
            await bot.stop()
        too_many = srv.too_many
    tracebacks, errors = log_problems([log])
    text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
    error_lines = Counter(line[24:].strip()[:160] for line in text.splitlines()
                          if " ERROR " in line)  # fmt: skip
    registrations = dict(query(db, "SELECT status, count(*) FROM registrations GROUP BY status"))
    return Result(chats, warm, ended, [s for s in samples if s[0] >= warm], tracebacks, errors,
                  error_lines, too_many, registrations, load)  # fmt: skip


def _slope_per_10min(samples: list[tuple[float, float]]) -> float:
    """Least-squares growth of RSS, in MiB per 10 minutes."""
    if len(samples) < 2:
        return float("nan")
    mt = sum(t for t, _ in samples) / len(samples)
    mr = sum(r for _, r in samples) / len(samples)
    num = sum((t - mt) * (r - mr) for t, r in samples)
    den = sum((t - mt) ** 2 for t, _ in samples)
    return num / den * 600 if den else float("nan")


def report(r: Result, args: argparse.Namespace) -> None:
    mixed = [s for s in r.chats.sent if s.at >= r.warm]
    answered = [s for s in mixed if s.answered is not None]
    times = [s.answered - s.at for s in answered if s.answered is not None]
    unanswered = [s for s in mixed if s.answered is None]
    minutes = (r.ended - r.warm) / 60

    def ms(q: float) -> str:
        return f"{percentile(times, q) * 1000:,.0f} ms" if times else "—"

    print(f"\n== soak: {args.users} civil servants, {args.organizers} organizers, "
          f"{minutes:.1f} min, think {args.think:g} s; stand-in cap {CAP}/s ==")  # fmt: skip
    print(f"updates sent {len(mixed):,} ({len(mixed) / minutes / 60:.1f}/s), answered "
          f"{len(answered):,}, unanswered {len(unanswered)}")  # fmt: skip
    kinds = Counter(s.what if not s.what.startswith("/") else s.what.split()[0] for s in mixed)
    print("mix: " + ", ".join(f"{k} {n}" for k, n in kinds.most_common()))
    print(f"answer time: p50 {ms(0.5)}, p95 {ms(0.95)}, p99 {ms(0.99)}, max {ms(1.0)}")
    slowest = sorted(answered, key=lambda s: (s.answered or 0) - s.at, reverse=True)[:5]
    print("slowest: " + ", ".join(f"{s.what} {((s.answered or 0) - s.at):.2f} s" for s in slowest))
    for s in unanswered[:10]:
        print(f"  unanswered: {s.what!r} in chat {s.chat} at +{s.at - r.warm:.1f} s")
    print(f"bot log: {r.tracebacks} tracebacks, {r.errors} ERROR lines")
    for line, n in r.error_lines.most_common(5):
        print(f"  {n} × {line}")
    apologised = Counter(s.what for s in r.chats.apologies)
    print(f"apologies: {sum(apologised.values())}"
          + "".join(f"\n  {n} × after {w!r}" for w, n in apologised.most_common(10)))  # fmt: skip
    print(f"429 answers: {r.too_many}")
    if r.rss:
        start, end = r.rss[0][1], r.rss[-1][1]
        peak = max(v for _, v in r.rss)
        print(f"bot RSS: {start:.1f} MiB after warm-up, {end:.1f} MiB at the end, peak {peak:.1f};"
              f" growth {(end - start) / minutes * 10:+.1f} MiB per 10 min (fitted "
              f"{_slope_per_10min(r.rss):+.1f}) over {len(r.rss)} samples")  # fmt: skip
    srv = r.chats.srv
    print(f"stand-in: {len(srv.rejected)} rejected calls, {len(srv.api.failed)} failed calls")
    for (method, description, cause), n in r.chats.blame.most_common(10):
        print(f"  {n} × {method}: {description[:100]} (after {cause!r})")
    print(f"registrations at the end: {r.registrations}")
    print(r.load)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--users", type=int, default=50, help="civil servants chatting")
    parser.add_argument("--organizers", type=int, default=3)
    parser.add_argument("--people", type=int, default=2000, help="people in the database")
    parser.add_argument("--think", type=float, default=4.0, help="mean pause between updates, s")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--keep", type=Path, help="keep the database and log in this folder")
    args = parser.parse_args()
    if args.people < args.users + args.organizers:
        parser.error("--people must cover the users and the organizers")
    with contextlib.ExitStack() as stack:
        if args.keep:
            shutil.rmtree(args.keep, ignore_errors=True)
            args.keep.mkdir(parents=True)
            work = args.keep
        else:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-soak-")))
        report(asyncio.run(run(args, work)), args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
