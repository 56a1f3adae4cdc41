"""Several workers on one PostgreSQL database (issue 17, "Several workers" and "Graceful stop"):
real `boiduong run` processes in webhook mode against the stand-in Bot API.

The tests play the TLS reverse proxy: they post each update to one worker's port (worker i
listens on TELEGRAM_WEBHOOK_LISTEN's port + i), and to the other when that one does not take
connections, as a proxy's next-upstream rule does.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from sqlalchemy import select

from config.settings import load_settings
from domain import broadcasts
from domain.recipients import Audience
from storage.db import create_engine, make_sessionmaker
from storage.models import Broadcast, BroadcastDelivery
from tests.factories import make_account, make_person, make_unit
from tests.fixtures_webhook import HEADER, SECRET, START, STEP, TOKEN, URL, postgres_database
from tests.process import STOP_TIMEOUT
from tests.process import cli_env as _env
from tests.process import command as _command
from tests.process import run_cli as _cli
from tests.process import tail_file as _tail
from tests.standin import StandInBotAPI

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
PATH = "/tg/hook.v1"  # URL's path
QUIET = 1.0
UPDATES = 300  # bench/workers.py: 1,000
BOTH_EVERY = 10  # every tenth update is posted to both workers at once
RECIPIENTS = 160  # bench/workers.py: more
PACE = 6.0  # sends a second per worker: the broadcast lasts through both restarts
TEXT = "Thông báo: họp giao ban trực tuyến sáng thứ Hai"
ORGANIZER = 5100


def _user(uid: int) -> dict[str, Any]:
    return {"id": uid, "is_bot": False, "first_name": f"U{uid}", "language_code": "vi"}


def _free_ports(count: int) -> int:
    """A port P with P … P+count-1 all free (worker i listens on P + i)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = int(probe.getsockname()[1])
        if base + count > 65535:
            continue
        try:
            for port in range(base + 1, base + count):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise AssertionError("no free run of ports")


def _quiet_hours_elsewhere() -> str:
    """A one-minute quiet window twelve hours from now: broadcasts are not paused."""
    start = datetime.now(TZ) + timedelta(hours=12)
    end = start + timedelta(minutes=1)
    return f"{start:%H:%M}-{end:%H:%M}"


class Proxy:
    """The reverse proxy in front of the workers: posts an update to a chosen worker."""

    def __init__(self, base: int, count: int, http: aiohttp.ClientSession) -> None:
        self.urls = [f"http://127.0.0.1:{base + i}{PATH}" for i in range(count)]
        self.http = http

    async def post(self, index: int, update: dict[str, Any], secret: str = SECRET) -> int:
        async with self.http.post(self.urls[index], json=update, headers={HEADER: secret}) as r:
            return r.status

    async def deliver(self, update: dict[str, Any], first: int = 0) -> int:
        """To worker `first`, or the next that takes connections (proxy_next_upstream)."""
        order = [(first + k) % len(self.urls) for k in range(len(self.urls))]
        for index in order:
            try:
                assert await self.post(index, update) == 200
                return index
            except aiohttp.ClientConnectionError:
                continue
        raise AssertionError("no worker takes connections")

    async def ready(self, index: int, alive: Any = None) -> None:
        """Wait until worker `index` answers (a wrong secret: 403, nothing handled)."""
        deadline = time.monotonic() + START
        while True:
            try:
                assert await self.post(index, {"update_id": 0}, secret="wrong") == 403
                return
            except aiohttp.ClientConnectionError:
                if time.monotonic() > deadline or (alive is not None and not alive()):
                    raise AssertionError(f"worker {index} does not listen") from None
                await asyncio.sleep(0.2)


def _settings(srv: StandInBotAPI, url: str, base: int, **extra: str) -> dict[str, str]:
    return _env(
        None,
        DATABASE_URL=url,
        BOT_TOKEN=TOKEN,
        TELEGRAM_BASE_URL=srv.base_url,
        TELEGRAM_BASE_FILE_URL=srv.base_file_url,
        TELEGRAM_WEBHOOK_URL=URL,
        TELEGRAM_WEBHOOK_SECRET=SECRET,
        TELEGRAM_WEBHOOK_LISTEN=f"127.0.0.1:{base}",
        **extra,
    )


class Process:
    """One `boiduong` process, its output in files (a chatty log never blocks it)."""

    def __init__(self, cwd: Path, name: str, env: dict[str, str], *args: str) -> None:
        self.cwd, self.env, self.args = cwd, env, args or ("run",)
        self.err = cwd / f"{name}.err"
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with (self.cwd / self.err.with_suffix(".out").name).open("ab") as out, \
                self.err.open("ab") as err:  # fmt: skip
            self.proc = await asyncio.create_subprocess_exec(
                *_command(*self.args), cwd=self.cwd, env=self.env,
                stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=err,
            )  # fmt: skip

    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def stop(self, sig: signal.Signals = signal.SIGTERM) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        try:
            return await asyncio.wait_for(self.proc.wait(), STOP_TIMEOUT)
        except TimeoutError:
            pytest.fail(f"no exit within {STOP_TIMEOUT} s of {sig.name}:\n{_tail(self.err)}")

    async def kill(self) -> None:
        if self.alive():
            assert self.proc is not None
            self.proc.kill()
            await self.proc.wait()

    def log(self) -> str:
        return self.err.read_text(encoding="utf-8", errors="replace")


@asynccontextmanager
async def _fresh(tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database: the workers started together migrate it in turn."""
    async with postgres_database() as url:
        yield url


def _answers(srv: StandInBotAPI, chats: Sequence[int]) -> Counter[int]:
    wanted = set(chats)
    return Counter(
        p["chat_id"] for m, p in srv.api.calls if m == "sendMessage" and p["chat_id"] in wanted
    )


async def _until(check: Any, timeout: float, what: str, logs: Sequence[Process]) -> None:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            tails = "\n".join(f"--- {p.err.name} ---\n{_tail(p.err)}" for p in logs)
            raise AssertionError(f"{what} within {timeout} s\n{tails}")
        await asyncio.sleep(0.1)


# -- refusals -------------------------------------------------------------------------------------


async def test_workers_need_postgresql_and_a_webhook(tmp_path: Path) -> None:
    sqlite = _env(tmp_path / "x.db", BOT_TOKEN=TOKEN, TELEGRAM_WEBHOOK_URL=URL,
                  TELEGRAM_WEBHOOK_SECRET=SECRET)  # fmt: skip
    async with _fresh(tmp_path) as url:
        polling = _env(None, DATABASE_URL=url, BOT_TOKEN=TOKEN)
        cases = [
            (sqlite, ("run", "--workers", "2"), "--workers 2 needs PostgreSQL"),
            ({**sqlite, "WORKER": "1"}, ("run",), "WORKER=1 needs PostgreSQL"),
            (sqlite, ("run", "--workers", "0"), "at least 1"),
            (polling, ("run", "--workers", "3"),
             "--workers 3 needs TELEGRAM_WEBHOOK_URL: long polling cannot be shared."),
        ]  # fmt: skip
        results = await asyncio.gather(*(_cli(tmp_path, env, *args) for env, args, _ in cases))
    for (_, args, words), (code, out, err) in zip(cases, results, strict=True):
        assert code == 2, (args, code, out, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and words in lines[0], err
    assert not (tmp_path / "x.db").exists()


# -- (a) two workers, a thousand updates ---------------------------------------------------------


async def test_two_workers_answer_each_update_once(tmp_path: Path) -> None:
    await many_updates(tmp_path, UPDATES)


async def many_updates(tmp_path: Path, updates: int) -> float:
    """`run --workers 2`: one parent, two workers; `updates` updates from as many people, each
    posted to one worker and every tenth to both at once: each is answered exactly once. Only
    worker 0 registers the webhook. A worker killed outright is started again by the parent;
    SIGTERM to the parent stops both cleanly. Returns the updates answered per second
    (bench/workers.py runs it with 1,000)."""
    base = _free_ports(2)
    async with (
        _fresh(tmp_path) as url,
        StandInBotAPI(token=TOKEN) as srv,
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as http,
    ):
        # Telegram's cap lifted: the figure is the workers', not the pace's (29 a second).
        env = _settings(srv, url, base, SEND_RATE_PER_SECOND="1000")
        parent = Process(tmp_path, "parent", env, "run", "--workers", "2")
        proxy = Proxy(base, 2, http)
        try:
            await parent.start()
            await asyncio.gather(*(proxy.ready(i, parent.alive) for i in (0, 1)))
            # The answer to one /help, as a single process gives it.
            warm = srv.api.message_update(_user(99), "/help")
            await proxy.deliver(warm)
            await _until(lambda: _answers(srv, [99])[99] > 0, STEP, "no answer", [parent])
            await asyncio.sleep(QUIET)
            once = _answers(srv, [99])[99]

            users = list(range(100_000, 100_000 + updates))
            gate = asyncio.Semaphore(64)
            started = time.monotonic()

            async def post(n: int, uid: int) -> None:
                update = srv.api.message_update(_user(uid), "/help")
                async with gate:
                    if n % BOTH_EVERY == 0:
                        assert await asyncio.gather(proxy.post(0, update),
                                                    proxy.post(1, update)) == [200, 200]
                    else:
                        assert await proxy.post(n % 2, update) == 200  # fmt: skip

            await asyncio.gather(*(post(n, uid) for n, uid in enumerate(users)))
            await _until(lambda: len(_answers(srv, users)) == updates, 120, "not all answered",
                         [parent])  # fmt: skip
            took = time.monotonic() - started
            await asyncio.sleep(QUIET)
            counts = _answers(srv, users)
            assert [u for u in users if counts[u] != once] == [], counts.most_common(3)
            print(f"\n{updates} updates answered by two workers in {took:.1f} s "
                  f"({updates / took:.0f}/s)")  # fmt: skip

            # Worker 0 registered the webhook and set the menus; worker 1 did neither.
            methods = Counter(m for m, _ in srv.api.calls)
            assert methods["setWebhook"] == 1 and methods["getUpdates"] == 0, methods
            log = parent.log()
            assert "worker1 " in log and "the webhook is registered by worker 0" in log
            dropped = log.count("was handled already; dropped")
            assert dropped == len(range(0, updates, BOTH_EVERY)), dropped

            # Worker 1 killed outright: the parent starts it again; it answers as before.
            pid = int(re.findall(r"worker 1 started \(pid (\d+)\)", log)[-1])
            os.kill(pid, signal.SIGKILL)
            await _until(lambda: "ended unexpectedly with status -9" in parent.log(), STEP,
                         "no restart", [parent])  # fmt: skip
            await proxy.ready(1, parent.alive)
            await proxy.post(1, srv.api.message_update(_user(98), "/help"))
            await _until(lambda: _answers(srv, [98])[98] == once, STEP, "no answer", [parent])

            assert await parent.stop() == 0
        finally:
            await parent.kill()
        assert srv.rejected == [] and srv.api.failed == [], (srv.rejected, srv.api.failed)
    log = parent.log()
    assert "Traceback" not in log, _tail(parent.err, 80)
    assert log.count("stopped with status 0") == 2, _tail(parent.err)
    return updates / took


# -- (b) a rolling restart in the middle of a broadcast -----------------------------------------


async def _broadcast(url: str, recipients: Sequence[int]) -> int:
    """An organizer (chat ORGANIZER) and the linked recipients; a broadcast to them confirmed
    to go now, as `boiduong broadcast --unit WK-X1 --report-to …` does. Its id."""
    engine = create_engine(url)
    try:
        db = make_sessionmaker(engine)
        async with db.begin() as s:
            district = await make_unit(s, code="WK-H1", kind="district")
            commune = await make_unit(s, code="WK-X1", parent=district)
            org = await make_person(s, unit=district, full_name="Trần Tổ Chức")
            await make_account(s, person=org, chat_user_id=str(ORGANIZER), language="vi")
            for uid in recipients:
                person = await make_person(s, unit=commune)
                await make_account(s, person=person, chat_user_id=str(uid), language="vi")
        now = datetime.now(UTC)
        kw: dict[str, Any] = {"now": now, "today": now.astimezone(TZ).date(), "hours_target": 40}
        async with db.begin() as s:
            draft = await broadcasts.create_draft(
                s, actor_person_id=None, text=TEXT, plain_length=len(TEXT),
                report_chat_id=str(ORGANIZER), operator=True,
            )  # fmt: skip
            audience = Audience(("WK-X1",), (), None, None, False)
            counted = await broadcasts.choose_audience(
                s, actor_person_id=None, broadcast_id=draft, audience=audience, operator=True, **kw
            )
            assert counted.linked == len(recipients)
        policy = load_settings(None, _env_file=None, quiet_hours=_quiet_hours_elsewhere())
        async with db.begin() as s:
            await broadcasts.confirm(
                s, actor_person_id=None, broadcast_id=draft, send_at=None,
                policy=policy.reminder_policy(), actor="test", operator=True, **kw,
            )  # fmt: skip
        return draft
    finally:
        await engine.dispose()


async def _rows(url: str, broadcast_id: int) -> tuple[Counter[str], Any]:
    engine = create_engine(url)
    try:
        async with make_sessionmaker(engine)() as s:
            states = (await s.execute(select(BroadcastDelivery.state).where(
                BroadcastDelivery.broadcast_id == broadcast_id))).scalars()  # fmt: skip
            counted = Counter(str(state) for state in states)
            return counted, await s.get(Broadcast, broadcast_id)
    finally:
        await engine.dispose()


async def test_a_rolling_restart_mid_broadcast_sends_each_message_once(tmp_path: Path) -> None:
    await rolling_restart(tmp_path, RECIPIENTS)


async def rolling_restart(tmp_path: Path, recipients: int) -> float:
    """Two workers started by a supervisor (WORKER=0 and 1) send a broadcast at PACE a second
    each. Worker A gets SIGTERM mid-broadcast and is started again, then worker B: every
    recipient gets the message exactly once, every row ends "sent" (none left for a phone
    call), the organizer gets one report, and /status is answered all along. Returns the
    seconds the broadcast took (bench/workers.py runs it with more people)."""
    base = _free_ports(2)
    people = list(range(200_000, 200_000 + recipients))
    async with (
        _fresh(tmp_path) as url,
        StandInBotAPI(token=TOKEN) as srv,
        aiohttp.ClientSession() as http,
    ):
        for uid in (ORGANIZER, *people):
            srv.api.add_user(_user(uid))
        env = _settings(srv, url, base, SEND_RATE_PER_SECOND=str(PACE),
                        QUIET_HOURS=_quiet_hours_elsewhere())  # fmt: skip
        workers = [Process(tmp_path, f"w{i}", {**env, "WORKER": str(i)}) for i in (0, 1)]
        proxy = Proxy(base, 2, http)
        statuses = 0

        def reports() -> int:
            return sum(1 for m, p in srv.api.calls if m == "sendMessage"
                       and p["chat_id"] == ORGANIZER and "đã gửi xong" in p["text"])  # fmt: skip

        def got() -> int:
            return sum(1 for m, p in srv.api.calls if m == "sendMessage" and p.get("text") == TEXT)

        async def status() -> None:
            """/status from the organizer through the proxy: answered."""
            nonlocal statuses
            statuses += 1
            since = len(srv.api.calls)
            await proxy.deliver(srv.api.message_update(_user(ORGANIZER), "/status"), statuses % 2)
            await srv.wait_for(lambda m, p: m == "sendMessage" and p["chat_id"] == ORGANIZER
                               and not p["text"].startswith("📣") and p["text"] != TEXT, STEP,
                               since=since)  # fmt: skip

        try:
            await asyncio.gather(*(w.start() for w in workers))
            await asyncio.gather(*(proxy.ready(i, w.alive) for i, w in enumerate(workers)))
            broadcast_id = await _broadcast(url, people)
            started = time.monotonic()
            seen = []
            for index, worker in enumerate(workers):
                await _until(lambda n=len(seen): got() >= (n + 1) * recipients // 4, 60,
                             "the broadcast does not go on", workers)  # fmt: skip
                seen.append(got())
                assert await worker.stop() == 0, _tail(worker.err)
                await status()  # the other worker answers meanwhile
                await worker.start()
                await proxy.ready(index, worker.alive)
                await status()
            assert seen[-1] < recipients, "the broadcast ended before the second restart"
            await _until(lambda: got() >= recipients, 120, "not everyone reached", workers)
            took = time.monotonic() - started
            await _until(lambda: reports() == 1, 30, "no report", workers)
            await asyncio.sleep(QUIET)
            assert await asyncio.gather(*(w.stop() for w in workers)) == [0, 0]
            assert reports() == 1
        finally:
            for worker in workers:
                await worker.kill()
        sent = Counter(p["chat_id"] for m, p in srv.api.calls
                       if m == "sendMessage" and p.get("text") == TEXT)  # fmt: skip
        assert srv.rejected == [] and srv.api.failed == [], (srv.rejected, srv.api.failed)
        rows, broadcast = await _rows(url, broadcast_id)
    assert sorted(sent) == people and set(sent.values()) == {1}, sent.most_common(3)
    assert rows == {"sent": recipients}, rows
    assert broadcast.finished_at is not None
    print(f"\n{recipients} recipients at {PACE:.0f}/s a worker, two restarts: {took:.1f} s; "
          f"sent before each stop: {seen}")  # fmt: skip
    for worker in workers:
        assert "Traceback" not in worker.log(), _tail(worker.err, 80)
    return took
