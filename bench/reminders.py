"""Reminders at scale: a big SQLite database, a 5,000-reminder peak, users chatting meanwhile.

Builds a database of 20,000 people with linked chats and 100,000 pending reminders spread over
the next week, then runs the real `boiduong run` against the stand-in Bot API enforcing
Telegram's 30 messages/second (a strict sliding window answering 429). 5,000 more reminders
fall due at one instant, like everyone's 08:00 reminder. Reported: start-up time (process
start to the first getUpdates), resident memory, database size, achieved send rate, 429s,
lateness (acceptance at the stand-in minus due_at), duplicates, lost rows, and how long five
users wait for the answer to /help while the peak drains.

When the peak falls (the bot's own planning pass over every linked person starts 5 s after
start-up and takes over a minute with 20,000 people, so it matters):
  default     15 s after start-up: a restart just before the reminders, planner overlapping;
  --steady    once the planning pass has finished (the bench writes the rows then).
--trade-off adds steady runs on a small database at SEND_RATE_PER_SECOND=25 and =29 (change
with --compare-rates), to show what pacing closer to the cap costs in 429s and answer time.
Quiet hours are off (QUIET_HOURS=00:00-00:00 is an empty window): figures do not depend on
the time of day.

    .venv/bin/python -m bench.reminders                 # 5–6½ minutes (the drain is slow)
    .venv/bin/python -m bench.reminders --steady        # about 5 minutes
    .venv/bin/python -m bench.reminders --trade-off --skip-main    # about 3½ minutes
    .venv/bin/python bench/reminders.py --keep /tmp/rem # keep databases and bot logs

--planner times only the planner's passes (the first adds what is owed, the next find it all
there) over fixtures built by the databases themselves: 20,000 linked people on SQLite and
1,000,000 on PostgreSQL (TEST_POSTGRES_URL or --postgres-url; building takes 3 minutes).

    .venv/bin/python -m bench.reminders --planner
    .venv/bin/python -m bench.reminders --planner --planner-postgresql 0   # SQLite only
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make the project root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import String, case, cast, func, insert, literal, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.common import (
    PLANNED,
    TOKEN,
    TZ,
    BotProcess,
    Delivery,
    Recorder,
    add_peak,
    bot_env,
    build_database,
    chat_of,
    db_size,
    lock_failures,
    log_problems,
    log_time,
    machine_load,
    mib,
    now_utc,
    owed_until,
    percentile,
    person_of,
    query,
    wait_for_log_line,
)
from bench.engines import POSTGRES_URL
from config.settings import Settings
from storage.db import make_sessionmaker, upgrade
from storage.models import (
    ChatAccount,
    Course,
    CourseStatus,
    DegreeStudy,
    Person,
    Position,
    Qualification,
    Registration,
    RoleGrant,
    Secondment,
    TrainingRecord,
    Unit,
    UTCDateTime,
)
from tests.standin import StandInBotAPI

STANDIN_RATE = 30  # Telegram's overall limit per bot, enforced by the stand-in
HELPERS = 5  # linked people outside the peak who chat with the bot during it
IDLE_QUESTIONS = 3
QUESTIONS_PER_HELPER = 100
QUESTION_GAP = 3.0  # seconds between one answer and the same user's next question
ANSWER_WITHIN = 60.0  # longer than SQLite's 30 s busy timeout, so slow answers are seen
PLANNER_WITHIN = 600.0
HELP_MARK = "/language"  # in the /help text in both languages, not in the apology
# Read, not assumed: the default pace is the project's to change.
DEFAULT_RATE = float(Settings.model_fields["send_rate_per_second"].default)


@dataclass
class RunResult:
    label: str
    rate_setting: str
    when: str
    peak: int
    people: int
    startup_s: float = float("nan")
    rss_start: float | None = None
    rss_before: float | None = None
    rss_peak: list[float] = field(default_factory=list)
    planner_done_s: float | None = None  # after process start
    due_s: float = float("nan")  # after process start
    first_delivery_s: float = float("nan")  # after due_at
    delivered_rows: int = 0
    duplicates: list[str] = field(default_factory=list)
    lost: int = 0
    states: dict[str, int] = field(default_factory=dict)
    too_many: int = 0
    rejected: int = 0  # calls the stand-in's spec check refused
    rate: float = float("nan")  # reminders only
    all_rate: float = float("nan")  # every message the stand-in accepted meanwhile
    drain_s: float = float("nan")
    lateness: list[float] = field(default_factory=list)
    idle_answers: list[float] = field(default_factory=list)
    peak_answers: list[float] = field(default_factory=list)
    apologies: int = 0
    unanswered: int = 0
    locked: Counter[str] = field(default_factory=Counter)
    db_bytes_after: int = 0
    tracebacks: int = 0
    errors: int = 0


async def peak_run(
    base: Path,
    work: Path,
    *,
    label: str,
    people: int,
    peak: int,
    rate: float | None,
    steady: bool,
    lead: float,
) -> RunResult:
    r = RunResult(
        label,
        f"{rate:g}/s" if rate else f"default {DEFAULT_RATE:g}/s",
        "after the planning pass" if steady else f"{lead:g} s after launch",
        peak,
        people,
    )
    db, log = work / f"{label}.db", work / f"{label}.log"
    shutil.copyfile(base, db)
    tag = label
    helpers = [chat_of(p) for p in range(peak + 1, peak + 1 + HELPERS)]
    async with StandInBotAPI(token=TOKEN, rate_limit_per_second=STANDIN_RATE) as srv:
        rec = Recorder(srv)
        rec.add_users(chat_of(p) for p in range(1, people + 1))
        settings = {"QUIET_HOURS": "00:00-00:00"}
        if rate:
            settings["SEND_RATE_PER_SECOND"] = str(rate)
        bot = BotProcess(bot_env(db, srv, **settings), work, log)
        due = now_utc() + timedelta(seconds=lead)
        if not steady:
            await add_peak(db, persons=range(1, peak + 1), due_at=due, tag=tag)
        await bot.start()
        try:
            first_poll = await rec.first_poll_after(bot.started, 60)
            if first_poll is None:
                raise RuntimeError(f"no getUpdates within 60 s of start:\n{bot.log_tail()}")
            r.startup_s = first_poll - bot.started
            r.rss_start = bot.rss_mib()
            if steady:
                if await wait_for_log_line(log, PLANNED, PLANNER_WITHIN) is None:
                    raise RuntimeError(f"the planning pass did not end:\n{bot.log_tail()}")
                # The rows are written by this process while the bot runs, as the bot's own
                # domain code would write them (SQLite's busy timeout queues the writers).
                due = now_utc() + timedelta(seconds=2)
                await add_peak(db, persons=range(1, peak + 1), due_at=due, tag=tag)
            elif time.time() > due.timestamp() - 2:
                raise RuntimeError("start-up took longer than --lead; raise it")
            for chat in helpers[:IDLE_QUESTIONS]:  # the answer time with nothing else to do
                pushed = time.time()
                if (answer := await rec.ask(chat, within=ANSWER_WITHIN)) is not None:
                    r.idle_answers.append(answer.at - pushed)
            await asyncio.sleep(max(0.0, due.timestamp() - 0.5 - time.time()))
            r.rss_before = bot.rss_mib()
            await asyncio.sleep(max(0.0, due.timestamp() - time.time()))
            await _drain(bot, rec, r, db, helpers)
        finally:
            await bot.stop()
        r.too_many, r.rejected = srv.too_many, len(srv.rejected)
    r.due_s = due.timestamp() - bot.started
    if (line := _planner_line(log)) is not None and (t := log_time(line)) is not None:
        r.planner_done_s = t - bot.started
    _account(r, db, rec, due.timestamp(), tag)
    r.db_bytes_after = db_size(db)
    r.tracebacks, r.errors = log_problems([log])
    r.locked = lock_failures([log])
    return r


def _planner_line(log: Path) -> str | None:
    text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
    return next((line for line in text.splitlines() if PLANNED in line), None)


async def _drain(
    bot: BotProcess, rec: Recorder, r: RunResult, db: Path, helpers: list[int]
) -> None:
    """Sample memory and chat until the database owes nothing more of the peak."""
    done = asyncio.Event()
    tasks = [asyncio.create_task(_sample(bot, r, done))]
    tasks += [asyncio.create_task(_chat(rec, r, chat, done)) for chat in helpers]
    # A bound for a drain gone wrong: the peak at 10/s, plus one 2-minute lease, plus margin.
    deadline = time.monotonic() + r.peak / 10 + 180
    # Week reminders start an hour after the build: anything owed before that is the peak.
    horizon = now_utc() + timedelta(minutes=50)
    try:
        while time.monotonic() < deadline and bot.running:
            if await asyncio.to_thread(owed_until, db, horizon) == 0:
                break
            await asyncio.sleep(1.0)
    finally:
        done.set()
        # A chatting user may still be waiting for an answer: at most ANSWER_WITHIN.
        await asyncio.wait_for(asyncio.gather(*tasks), ANSWER_WITHIN + 10)


async def _sample(bot: BotProcess, r: RunResult, done: asyncio.Event) -> None:
    while not done.is_set():
        if (rss := bot.rss_mib()) is not None:
            r.rss_peak.append(rss)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), 0.5)


async def _chat(rec: Recorder, r: RunResult, chat: int, done: asyncio.Event) -> None:
    """One user asking /help again and again, one question at a time."""
    for _ in range(QUESTIONS_PER_HELPER):
        if done.is_set():
            return
        pushed = time.time()
        answer: Delivery | None = await rec.ask(chat, within=ANSWER_WITHIN)
        if answer is None:
            r.unanswered += 1
        elif HELP_MARK not in answer.text:
            r.apologies += 1  # the handler failed; the error handler apologised
        else:
            r.peak_answers.append(answer.at - pushed)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), QUESTION_GAP)


def _account(r: RunResult, db: Path, rec: Recorder, due: float, tag: str) -> None:
    """Compare what arrived at the stand-in with what the database says was sent."""
    peak_chats = {chat_of(p) for p in range(1, r.peak + 1)}
    per_chat: dict[int, list[Delivery]] = {}
    for d in rec.deliveries:
        if d.chat_id in peak_chats:
            per_chat.setdefault(d.chat_id, []).append(d)
    firsts = sorted(ds[0].at for ds in per_chat.values())
    r.delivered_rows = len(per_chat)
    r.lateness = [t - due for t in firsts]
    if len(firsts) >= 2:
        r.first_delivery_s = firsts[0] - due
        r.drain_s = firsts[-1] - firsts[0]
        r.rate = (len(firsts) - 1) / r.drain_s
        # Answers to users share the bot's one pace with the reminders: count them too.
        during = sum(firsts[0] < d.at <= firsts[-1] for d in rec.deliveries)
        r.all_rate = during / r.drain_s
    rows = query(
        db,
        "SELECT person_id, state, attempts, sent_message_id FROM notifications "
        "WHERE dedupe_key LIKE ?",
        (f"bench-peak:{tag}:%",),
    )
    r.states = dict(Counter(str(state) for _p, state, _a, _m in rows))
    by_person = {int(p): (str(s), int(a), m) for p, s, a, m in rows}
    for chat, ds in sorted(per_chat.items()):
        if len(ds) > 1:
            state, attempts, recorded = by_person[person_of(chat)]
            r.duplicates.append(
                f"chat {chat}: {len(ds)} copies, {ds[-1].at - ds[0].at:.1f} s apart; row "
                f"{state}, {attempts} claims, records message {recorded} "
                f"(stand-in ids {[d.message_id for d in ds]})"
            )
    # Lost: owed but never delivered, whatever the row says; a row "sent" without a delivery
    # at the stand-in would be lost too, so both sides are counted.
    unsent = sum(n for state, n in r.states.items() if state != "sent")
    r.lost = max(len(peak_chats) - len(per_chat), unsent)


def _ms(values: list[float], q: float) -> str:
    return f"{percentile(values, q) * 1000:,.0f} ms" if values else "—"


def _s(values: list[float], q: float) -> str:
    return f"{percentile(values, q):,.1f} s" if values else "—"


def report(r: RunResult) -> None:
    rss = r.rss_peak
    print(
        f"\n== '{r.label}': {r.peak:,} reminders due at one instant, {r.when}; "
        f"{r.people:,} linked people; SEND_RATE_PER_SECOND {r.rate_setting}; "
        f"stand-in limit {STANDIN_RATE}/s =="
    )
    print(f"start-up (process start → first getUpdates): {r.startup_s:.2f} s")
    planner = f"{r.planner_done_s:.1f} s" if r.planner_done_s else "did not finish"
    print(
        f"bot's planning pass over all linked people ended at: {planner} after start "
        f"(the peak fell due at {r.due_s:.1f} s)"
    )
    print(
        f"resident memory (VmRSS): after start {r.rss_start or 0:.0f} MiB, just before the "
        f"peak {r.rss_before or 0:.0f} MiB, during the peak median "
        f"{statistics.median(rss) if rss else 0:.0f} MiB / max {max(rss, default=0):.0f} MiB "
        f"({len(rss)} samples)"
    )
    print(f"delivered: {r.delivered_rows:,} of {r.peak:,}; rows by state {r.states}")
    print(
        f"send rate: {r.rate:.2f} reminders/s over {r.drain_s:.1f} s = "
        f"{r.rate / STANDIN_RATE:.1%} of the {STANDIN_RATE}/s cap ({r.all_rate:.2f}/s with the "
        f"answers to users); first message {r.first_delivery_s:.2f} s after due"
    )
    print(
        f"429 answers from the stand-in: {r.too_many}; calls refused by its spec check: "
        f"{r.rejected}"
    )
    print(
        f"lateness (accepted at the stand-in − due_at): p50 {_s(r.lateness, 0.5)}, "
        f"p99 {_s(r.lateness, 0.99)}, max {_s(r.lateness, 1.0)}"
    )
    print(f"duplicates (a chat given its reminder again): {len(r.duplicates)}; lost: {r.lost}")
    for line in r.duplicates:
        print(f"  {line}")
    print(
        f"/help answer time: idle p50 {_ms(r.idle_answers, 0.5)}; during the peak "
        f"p50 {_ms(r.peak_answers, 0.5)}, p99 {_ms(r.peak_answers, 0.99)}, "
        f"max {_ms(r.peak_answers, 1.0)} over {len(r.peak_answers)} answers; "
        f"{r.apologies} apologies instead, {r.unanswered} unanswered within "
        f"{ANSWER_WITHIN:.0f} s"
    )
    print(
        f"bot log: {r.tracebacks} tracebacks, {r.errors} ERROR lines; "
        f'"database is locked" failures: {sum(r.locked.values())}'
    )
    for chain, n in r.locked.most_common():
        print(f"  {n} × {chain}")
    print(f"database after the run: {mib(r.db_bytes_after):.1f} MiB including its WAL")


async def main(args: argparse.Namespace) -> int:
    with contextlib.ExitStack() as stack:
        if args.keep:
            work = Path(args.keep)  # created by _args
        else:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-rem-")))
        print(f"machine: {machine_load()}", flush=True)
        results: list[RunResult] = []
        if not args.skip_main:
            base = await _build(work / "base.db", args.people, args.week_rows, args.peak)
            print(f"\nrunning 'main' ({args.peak:,} reminders) …", flush=True)
            r = await peak_run(
                base,
                work,
                label="main",
                people=args.people,
                peak=args.peak,
                rate=None,
                steady=args.steady,
                lead=args.lead,
            )
            report(r)
            results.append(r)
        if args.trade_off:
            small = await _build(
                work / "small.db", args.compare_peak + HELPERS, 0, args.compare_peak
            )
            pair = []
            for rate in args.compare_rates:
                label = f"rate{rate:g}"
                print(f"\nrunning '{label}' ({args.compare_peak:,} reminders) …", flush=True)
                r = await peak_run(
                    small,
                    work,
                    label=label,
                    people=args.compare_peak + HELPERS,
                    peak=args.compare_peak,
                    rate=rate,
                    steady=True,
                    lead=args.lead,
                )
                report(r)
                pair.append(r)
            print("\n== Trade-off (steady state, small database) ==")
            for r in pair:
                print(
                    f"{r.rate_setting:>13}: {r.rate:5.2f} reminders/s "
                    f"({r.rate / STANDIN_RATE:.0%} of the cap; {r.all_rate:.2f}/s with answers), "
                    f"{r.too_many:3d} × 429, "
                    f"/help p50 {_ms(r.peak_answers, 0.5)} p99 {_ms(r.peak_answers, 0.99)}, "
                    f"lateness p99 {_s(r.lateness, 0.99)} for {r.peak:,} rows"
                )
            results += pair
        print(f"\nmachine at the end: {machine_load()}")
        return 1 if any(r.lost or r.duplicates for r in results) else 0


async def _build(path: Path, people: int, week_rows: int, peak: int) -> Path:
    await asyncio.to_thread(path.unlink, missing_ok=True)
    print(
        f"building {path.name}: {people:,} people with linked chats, {week_rows:,} reminders "
        f"due over the next week …",
        flush=True,
    )
    built = await build_database(
        path, people=people, week_rows=week_rows, peak_people=peak, now=now_utc()
    )
    print(
        f"built in {built.seconds:.1f} s; database file {mib(built.size_bytes):.1f} MiB "
        f"({built.size_bytes:,} bytes)",
        flush=True,
    )
    return path


# -- the planner pass alone: set-based fixtures on SQLite and PostgreSQL ---------------------------

PLAN_COMMUNES = 200
PLAN_COURSES = 12


def _numbers(dialect: str, n: int) -> Any:
    """1..n as a selectable with one column `i`, built by the database."""
    if dialect == "postgresql":
        series = func.generate_series(1, n).table_valued("i").render_derived(name="g")
        return select(series.c.i).subquery("n")
    seed = select(literal(1).label("i")).cte("g", recursive=True)
    seed = seed.union_all(select(seed.c.i + 1).where(seed.c.i < n))
    return select(seed.c.i).subquery("n")


async def build_planner_fixture(engine: AsyncEngine, people: int, now: datetime) -> float:
    """`people` linked people of 17 positions in 200 communes with a realistic mix of
    qualifications, hours, registrations, degree studies and secondments; returns seconds."""
    started = time.perf_counter()
    await upgrade(engine)
    dialect = engine.dialect.name
    year = now.astimezone(TZ).year
    async with make_sessionmaker(engine).begin() as s:
        units = [{"id": 1, "code": "LS", "name": "Tỉnh", "kind": "province"}]
        units += [
            {"id": u, "code": f"LS-X{u:03d}", "name": f"Xã {u}", "kind": "commune", "parent_id": 1}
            for u in range(2, PLAN_COMMUNES + 2)
        ]
        await s.execute(insert(Unit), units)
        positions = list((await s.execute(select(Position.id).order_by(Position.id))).scalars())
        first, count = positions[0], len(positions)
        courses = [
            {
                "code": f"PB{c:02d}",
                "title": f"Khóa {c}",
                "search_text": "luat ke toan van hoa",
                "category": "x",
                "starts_at": now + timedelta(days=10 + c),
                "ends_at": now + timedelta(days=11 + c),
                "capacity": 100,
                "registration_deadline": now + timedelta(days=5 + c),
                "audience": {},
                "hours": 8 * (c % 3),
                "status": CourseStatus.OPEN.value,
                "grants_kind": (
                    "digital_skills",
                    "state_management",
                    "education",
                    "political_theory",
                )[c % 4],
                "grants_level": (None, "chuyen_vien", "dai_hoc", "trung_cap")[c % 4],
                "queue_seq": 0,
                "requires_approval": False,
                "mode": "in_person",
                "updated_at": now,
            }
            for c in range(1, PLAN_COURSES + 1)
        ]
        courses[0]["audience"] = {"units": ["LS-X002", "LS-X003"]}
        await s.execute(insert(Course), courses)
        n = _numbers(dialect, people)
        i = n.c.i

        def cases(expr: Any, values: Sequence[Any]) -> Any:
            return case(*((expr == k, literal(v)) for k, v in enumerate(values)), else_=None)

        async def fill(model: Any, cols: dict[str, Any], where: Any = None) -> None:
            query = select(*(v.label(k) for k, v in cols.items())).select_from(n)
            if where is not None:
                query = query.where(where)
            await s.execute(insert(model).from_select(list(cols), query))

        await fill(
            Person,
            {
                "id": i,
                "personal_id": literal("B") + cast(i, String),
                "full_name": literal("Người"),
                "unit_id": 2 + i % PLAN_COMMUNES,
                "position_id": case((i % 10 == 0, None), else_=first + i % count),
                "civil_service_rank": cases(i % 5, ["chuyen_vien_chinh", "chuyen_vien"]),
                "person_type": literal("cong_chuc"),
                "active": literal(True),
                "updated_at": literal(now, UTCDateTime()),
            },
        )
        await fill(
            ChatAccount,
            {
                "channel": literal("telegram"),
                "chat_user_id": cast(i, String),
                "chat_id": cast(i, String),
                "person_id": i,
                "active": i % 50 != 0,
                "failed_attempts": literal(0),
                "created_at": literal(now, UTCDateTime()),
            },
        )
        quals = [
            (
                "education",
                cases(i % 4, ["dai_hoc", "cao_dang", "thac_si", "trung_cap"]),
                i % 3 != 0,
            ),
            ("political_theory", literal("trung_cap"), i % 2 == 0),
            ("state_management", literal("chuyen_vien"), i % 3 == 0),
            ("digital_skills", literal(""), i % 4 != 1),
        ]
        for kind, level, where in quals:
            await fill(
                Qualification,
                {
                    "person_id": i,
                    "kind": literal(kind),
                    "level": level,
                    "source": literal("roster"),
                    "field": cases(i % 5, ["Luật", "Kế toán", "Văn hóa", "Công nghệ", ""])
                    if kind == "education"
                    else literal(""),
                },
                where,
            )
        await fill(
            TrainingRecord,
            {
                "person_id": i,
                "title": literal("x"),
                "hours": case((i % 3 == 0, 12), else_=40),
                "ends_on": literal(date(year, 3, 1)),
            },
            i % 3 != 2,
        )
        await fill(
            Registration,
            {
                "course_id": literal(2) + i % 3,
                "person_id": i,
                "status": literal("registered"),
                "queue_seq": literal(0),
                "created_at": literal(now, UTCDateTime()),
                "updated_at": literal(now, UTCDateTime()),
            },
            i % 7 == 0,
        )
        await fill(
            DegreeStudy,
            {
                "person_id": i,
                "level": literal("dai_hoc"),
                "field": literal("Luật"),
                "starts_on": literal(date(year - 1, 9, 1)),
                "expected_end": literal(date(year + 1, 6, 30)),
            },
            i % 100 == 0,
        )
        await fill(
            Secondment,
            {
                "person_id": i,
                "to_unit_id": 2 + (i + 1) % PLAN_COMMUNES,
                "kind": literal("secondment"),
                "starts_on": literal(date(year, 3, 1)),
                "review_every_months": literal(6),
            },
            i % 500 == 0,
        )
        grants = [
            {"person_id": 1, "role": "organizer", "unit_id": 1, "granted_by": "", "granted_at": now}
        ]
        grants += [
            {
                "person_id": u + 1,
                "role": "unit_head",
                "unit_id": u,
                "granted_by": "",
                "granted_at": now,
            }
            for u in range(2, min(people, PLAN_COMMUNES + 2))
        ]
        await s.execute(insert(RoleGrant), grants)
    if dialect == "postgresql":
        async with engine.begin() as conn:  # fresh statistics, as autovacuum would keep them
            await conn.execute(text("ANALYZE"))
    return time.perf_counter() - started


async def planner_run(label: str, engine: AsyncEngine, people: int, passes: int) -> None:
    from bot.context import Resources
    from schedules.notifications import plan_all

    now = datetime.now(UTC)
    print(f"\n== planner pass, {label}: building {people:,} linked people …", flush=True)
    built = await build_planner_fixture(engine, people, now)
    print(f"built in {built:.1f} s", flush=True)
    res = Resources(Settings(_env_file=None), make_sessionmaker(engine))  # type: ignore[call-arg]
    for n in range(1, passes + 1):
        started = time.perf_counter()
        added = await plan_all(res)
        took = time.perf_counter() - started
        print(
            f"pass {n}: {took:.1f} s, {added:,} rows added ({people / took:,.0f} people/s)",
            flush=True,
        )
        if n == 1 and engine.dialect.name == "postgresql":
            # Passes are hours apart: autovacuum will have gone over the rows the first added.
            started = time.perf_counter()
            async with engine.connect() as conn:
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.execute(text("VACUUM (ANALYZE) notifications"))
            took = time.perf_counter() - started
            print(f"VACUUM (ANALYZE) notifications, as autovacuum would: {took:.1f} s", flush=True)


async def planner_main(args: argparse.Namespace) -> int:
    from bench.engines import postgres_engine, sqlite_engine

    print(f"machine: {machine_load()}", flush=True)
    if args.planner_sqlite:
        async with sqlite_engine("planner.db") as engine:
            await planner_run("SQLite", engine, args.planner_sqlite, args.planner_passes)
    if args.planner_postgresql and args.postgres_url:
        async with postgres_engine(args.postgres_url) as engine:
            await planner_run("PostgreSQL", engine, args.planner_postgresql, args.planner_passes)
    print(f"\nmachine at the end: {machine_load()}")
    return 0


def _args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--people", type=int, default=20_000)
    p.add_argument("--week-rows", type=int, default=100_000)
    p.add_argument("--peak", type=int, default=5_000)
    p.add_argument("--steady", action="store_true", help="the peak after the planning pass")
    p.add_argument("--lead", type=float, default=15.0, help="seconds from launch to the peak")
    p.add_argument("--trade-off", action="store_true", help="add the runs at --compare-rates")
    p.add_argument("--compare-rates", type=float, nargs="+", default=[25.0, 29.0])
    p.add_argument("--compare-peak", type=int, default=2_000)
    p.add_argument("--skip-main", action="store_true", help="only the trade-off runs")
    p.add_argument("--keep", help="work in this directory and keep databases and bot logs")
    p.add_argument("--planner", action="store_true", help="only time the planner's passes")
    p.add_argument("--planner-sqlite", type=int, default=20_000, help="people (0: skip)")
    p.add_argument("--planner-postgresql", type=int, default=1_000_000, help="people (0: skip)")
    p.add_argument("--planner-passes", type=int, default=2, help="the first adds, the rest find")
    p.add_argument("--postgres-url", default=POSTGRES_URL, help="for --planner; empty to skip")
    args = p.parse_args()
    if args.peak + HELPERS > args.people:
        p.error(f"--people must exceed --peak by at least {HELPERS} (the chatting users)")
    if args.keep:
        Path(args.keep).mkdir(parents=True, exist_ok=True)
    return args


if __name__ == "__main__":
    _a = _args()
    raise SystemExit(asyncio.run(planner_main(_a) if _a.planner else main(_a)))
