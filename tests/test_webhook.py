"""Telegram webhook mode (issue 17, "Ingress"): settings, the claim on each update, and the
real `boiduong run` process serving PTB's webhook against the stand-in Bot API.

The tests post to TELEGRAM_WEBHOOK_LISTEN over plain HTTP, as the TLS reverse proxy in front of
the bot does; the public https URL is only what setWebhook is told.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pydantic import SecretStr
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.redelivery import KEEP, PRUNE_EVERY, Redelivery
from bot.serve import serve, telegram_webhook
from config.settings import SettingsError, load_settings
from storage.db import create_engine, make_sessionmaker
from storage.models import ProcessedUpdate
from storage.repos.updates import UpdateRepo
from tests.conftest import POSTGRES_URL
from tests.fixtures_webhook import HEADER, SECRET, START, STEP, TOKEN, URL, postgres_database
from tests.process import cli_env, command, run_cli, tail_file
from tests.standin import StandInBotAPI
from tests.zalo_standin import Zalo

QUIET = 1.0  # how long "nothing more was sent" is watched for
STOP_TIMEOUT = 15.0


def _user(uid: int) -> dict[str, Any]:
    return {"id": uid, "is_bot": False, "first_name": f"U{uid}", "language_code": "vi"}


# -- settings ------------------------------------------------------------------------------------


def _settings(**values: str) -> Any:
    return load_settings(None, _env_file=None, **values)


def test_no_url_means_long_polling() -> None:
    settings = _settings()
    assert settings.telegram_webhook_url is None
    assert settings.telegram_webhook_listen == "0.0.0.0:8443"
    # An empty line in .env is "not set", not a malformed URL.
    blank = _settings(telegram_webhook_url="", telegram_webhook_secret="")
    assert blank.telegram_webhook_url is None and blank.telegram_webhook_secret is None


def test_the_webhook_arguments_come_from_the_settings() -> None:
    settings = _settings(
        telegram_webhook_url=URL,
        telegram_webhook_secret=SECRET,
        telegram_webhook_listen="127.0.0.1:9443",
    )
    args = telegram_webhook(settings)
    assert args == {
        "listen": "127.0.0.1",
        "port": 9443,
        "url_path": r"/tg/hook\.v1",  # a route of PTB's server: the dot is a dot
        "webhook_url": URL,
        "secret_token": SECRET,
        "drop_pending_updates": False,
    }
    assert SECRET not in repr(settings)


@pytest.mark.parametrize(
    ("values", "name", "words"),
    [
        ({"telegram_webhook_url": URL}, "TELEGRAM_WEBHOOK_SECRET", "required"),
        ({"telegram_webhook_url": "http://bot.example.vn/tg"}, "TELEGRAM_WEBHOOK_URL", "https"),
        ({"telegram_webhook_url": "http://127.0.0.1:8443/tg"}, "TELEGRAM_WEBHOOK_URL", "https"),
        ({"telegram_webhook_url": "https:///tg"}, "TELEGRAM_WEBHOOK_URL", "https://HOST"),
        ({"telegram_webhook_url": "https://bot.example.vn:9000/tg"}, "TELEGRAM_WEBHOOK_URL",
         "443, 80, 88 and 8443"),
        ({"telegram_webhook_url": "https://bot.example.vn:x/tg"}, "TELEGRAM_WEBHOOK_URL", "URL"),
        ({"telegram_webhook_url": "https://bot.example.vn/t(g)+"}, "TELEGRAM_WEBHOOK_URL", "path"),
        ({"telegram_webhook_url": "https://bot.example.vn/tg?a=1"}, "TELEGRAM_WEBHOOK_URL",
         "query"),
        ({"telegram_webhook_url": URL, "telegram_webhook_secret": "has space"},
         "TELEGRAM_WEBHOOK_SECRET", "1–256"),
        ({"telegram_webhook_url": URL, "telegram_webhook_secret": "x" * 257},
         "TELEGRAM_WEBHOOK_SECRET", "1–256"),
        ({"telegram_webhook_secret": "ünïcode"}, "TELEGRAM_WEBHOOK_SECRET", "A–Z"),
        ({"telegram_webhook_listen": "8443"}, "TELEGRAM_WEBHOOK_LISTEN", "HOST:PORT"),
    ],
)  # fmt: skip
def test_a_bad_webhook_setting_is_one_line_naming_it(
    values: dict[str, str], name: str, words: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        _settings(**values)
    message = str(caught.value)
    assert "\n" not in message and f"{name}: " in message and words in message, message
    assert "has space" not in message and "x" * 257 not in message  # the secret is not shown


def test_the_longest_and_shortest_secrets_pass() -> None:
    for secret in ("a", "A-z_09" * 42 + "abcd"):
        assert _settings(telegram_webhook_url=URL, telegram_webhook_secret=secret)


async def test_run_refuses_a_url_without_its_secret(tmp_path: Path) -> None:
    env = cli_env(tmp_path / "x.db", BOT_TOKEN=TOKEN, TELEGRAM_WEBHOOK_URL=URL)
    code, out, err = await run_cli(tmp_path, env, "run")
    assert code == 2, (code, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "TELEGRAM_WEBHOOK_SECRET" in lines[0], err
    assert not (tmp_path / "x.db").exists()


# -- the claim on each update --------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


async def _keys(db: async_sessionmaker[AsyncSession]) -> set[str]:
    async with db() as s:
        return set((await s.execute(select(ProcessedUpdate.update_key))).scalars())


async def test_an_update_is_claimed_once(db: async_sessionmaker[AsyncSession]) -> None:
    ledger = Redelivery(db)
    assert await ledger.first("telegram", "1:100")
    assert not await ledger.first("telegram", "1:100")
    assert not await Redelivery(db).first("telegram", "1:100")  # another process: the same
    # Another update, another bot, another channel: claims of their own.
    assert await ledger.first("telegram", "1:101")
    assert await ledger.first("telegram", "2:100")
    assert await ledger.first("zalo", "1:100")


async def test_claims_older_than_a_day_are_pruned_hourly(
    db: async_sessionmaker[AsyncSession],
) -> None:
    clock = Clock()
    ledger = Redelivery(db, clock=clock)
    assert await ledger.first("telegram", "1:1")  # the first claim prunes (nothing yet)
    clock.now += KEEP - timedelta(minutes=1)
    assert await ledger.first("telegram", "1:2")  # pruned: nothing is a day old yet
    assert await _keys(db) == {"1:1", "1:2"}
    clock.now += timedelta(minutes=2)
    assert await ledger.first("telegram", "1:3")  # within the hour: no prune, though due
    assert await _keys(db) == {"1:1", "1:2", "1:3"}
    clock.now += PRUNE_EVERY
    assert await ledger.first("telegram", "1:4")
    assert await _keys(db) == {"1:2", "1:3", "1:4"}
    assert not await ledger.first("telegram", "1:2")  # still remembered


async def _engines_like(engine: AsyncEngine, count: int) -> list[AsyncEngine]:
    """Engines of their own (as other processes would have) on the test's database."""
    if engine.dialect.name == "sqlite":
        url = engine.url.render_as_string(hide_password=False)
        return [create_engine(url) for _ in range(count)]
    async with engine.connect() as conn:
        schema = (await conn.execute(text("SELECT current_schema()"))).scalar_one()
    args = {"server_settings": {"search_path": schema}}
    return [create_engine(POSTGRES_URL, connect_args=args) for _ in range(count)]


async def test_ten_simultaneous_deliveries_are_handled_once(db_engine: AsyncEngine) -> None:
    """Ten workers, each with an engine of its own, claim one update at the same moment:
    exactly one wins. Repeated over 20 updates."""
    engines = await _engines_like(db_engine, 10)
    try:
        workers = [Redelivery(make_sessionmaker(e)) for e in engines]
        for n, worker in enumerate(workers):  # connected and pruned, so the claims start together
            assert await worker.first("telegram", f"warm:{n}")
        for update_id in range(20):
            barrier = asyncio.Barrier(len(workers))

            async def deliver(
                worker: Redelivery, update_id: int = update_id, barrier: asyncio.Barrier = barrier
            ) -> bool:
                await barrier.wait()
                return await worker.first("telegram", f"1:{update_id}")

            won = await asyncio.gather(*(deliver(w) for w in workers))
            assert sum(won) == 1, (update_id, won)
    finally:
        for engine in engines:
            await engine.dispose()


async def test_a_claim_in_flight_holds_back_the_second(db_engine: AsyncEngine) -> None:
    """While one worker's claim is not yet committed, another's waits for it, and then loses
    (or wins, when the first rolled back): never both."""
    db = make_sessionmaker(db_engine)
    for commit in (True, False):
        key = f"1:{int(commit)}"
        async with db() as first:
            await first.begin()
            assert await UpdateRepo(first).claim("telegram", key, datetime.now(UTC))
            second = asyncio.create_task(Redelivery(db).first("telegram", key))
            await asyncio.sleep(0.5)
            assert not second.done()
            await (first.commit() if commit else first.rollback())
        assert await asyncio.wait_for(second, 10) is (not commit)


# -- the real process ----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _post(url: str, update: dict[str, Any], secret: str | None = SECRET) -> int:
    """POST an update as Telegram does (JSON, the secret in its header); the HTTP status."""
    headers = {HEADER: secret} if secret is not None else {}
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, json=update, headers=headers) as answer,
    ):
        return answer.status


class Worker:
    """One `boiduong run` process in webhook mode; `post` plays Telegram (or a stranger)."""

    def __init__(self, proc: asyncio.subprocess.Process, port: int, err: Path) -> None:
        self.proc, self.err = proc, err
        self.url = f"http://127.0.0.1:{port}/tg/hook.v1"  # the proxy's side of URL

    async def post(self, update: dict[str, Any], secret: str | None = SECRET) -> int:
        return await _post(self.url, update, secret)

    async def ready(self) -> None:
        """Wait until the webhook server answers (a wrong secret: 403, nothing handled)."""
        deadline = asyncio.get_running_loop().time() + START
        while True:
            try:
                assert await self.post({"update_id": 0}, secret="not-the-secret") == 403
                return
            except aiohttp.ClientConnectionError:
                if self.proc.returncode is not None or asyncio.get_running_loop().time() > deadline:
                    raise AssertionError(f"no webhook server:\n{tail_file(self.err)}") from None
                await asyncio.sleep(0.2)

    async def stop(self) -> int:
        """SIGTERM, as a service manager stops it; the exit code."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(self.proc.wait(), STOP_TIMEOUT)
        except TimeoutError:
            pytest.fail(f"no exit within {STOP_TIMEOUT} s of SIGTERM:\n{tail_file(self.err)}")


@asynccontextmanager
async def _worker(
    tmp_path: Path, srv: StandInBotAPI, name: str, **settings: str
) -> AsyncIterator[Worker]:
    port = _free_port()
    env = cli_env(
        tmp_path / "boiduong.db",
        BOT_TOKEN=TOKEN,
        TELEGRAM_BASE_URL=srv.base_url,
        TELEGRAM_BASE_FILE_URL=srv.base_file_url,
        TELEGRAM_WEBHOOK_URL=URL,
        TELEGRAM_WEBHOOK_SECRET=SECRET,
        TELEGRAM_WEBHOOK_LISTEN=f"127.0.0.1:{port}",
        **settings,
    )
    out_path, err_path = tmp_path / f"{name}.out", tmp_path / f"{name}.err"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        proc = await asyncio.create_subprocess_exec(
            *command("run"), cwd=tmp_path, env=env, stdin=asyncio.subprocess.DEVNULL,
            stdout=out, stderr=err,  # files, not pipes: a chatty log never blocks the bot
        )  # fmt: skip
    try:
        yield Worker(proc, port, err_path)
    finally:
        if proc.returncode is None:
            proc.kill()
            await asyncio.wait_for(proc.wait(), STOP_TIMEOUT)


def _sends_to(srv: StandInBotAPI, chat: int) -> int:
    return sum(1 for m, p in srv.api.calls if m.startswith("send") and p.get("chat_id") == chat)


async def _answered(srv: StandInBotAPI, worker: Worker, update: dict[str, Any]) -> None:
    """Deliver `update` and wait for the bot's answer to its chat."""
    chat = update["message"]["chat"]["id"]
    since = len(srv.api.calls)
    assert await worker.post(update) == 200
    try:
        await srv.wait_for(lambda m, p: m == "sendMessage" and p["chat_id"] == chat, STEP,
                           since=since)  # fmt: skip
    except TimeoutError as exc:
        raise AssertionError(f"{exc}\n--- bot stderr ---\n{tail_file(worker.err)}") from exc


async def test_the_bot_serves_a_webhook_with_its_secret(tmp_path: Path) -> None:
    async with StandInBotAPI(token=TOKEN) as srv, _worker(tmp_path, srv, "bot") as bot:
        # setWebhook told Telegram the public URL and the secret, before the server listened.
        _, hook = await srv.wait_for(lambda m, p: m == "setWebhook", START, since=0)
        assert hook["url"] == URL and hook["secret_token"] == SECRET, hook
        await bot.ready()

        # Without the secret header, or with a wrong one: 403, and nothing is handled.
        stranger, forger = srv.api.message_update(_user(701), "/start"), None
        assert await bot.post(stranger, secret=None) == 403
        forger = srv.api.message_update(_user(702), "/start")
        assert await bot.post(forger, secret=SECRET[:-1] + "X") == 403
        assert await bot.post(forger, secret="") == 403

        # With it: answered.
        await _answered(srv, bot, srv.api.message_update(_user(703), "/start"))
        once = _sends_to(srv, 703)

        # The same update three times (twice at once, once after its answer): answered once.
        twice = srv.api.message_update(_user(704), "/start")
        assert await asyncio.gather(bot.post(twice), bot.post(twice)) == [200, 200]
        await srv.wait_for(lambda m, p: m == "sendMessage" and p["chat_id"] == 704, STEP)
        assert await bot.post(twice) == 200
        # Updates after them are answered, and nothing more reached the others meanwhile.
        await _answered(srv, bot, srv.api.message_update(_user(705), "/help"))
        await asyncio.sleep(QUIET)
        assert _sends_to(srv, 704) == once, srv.api.sent_to(704)
        assert _sends_to(srv, 701) == _sends_to(srv, 702) == 0

        methods = {m for m, _ in srv.api.calls}
        assert "getUpdates" not in methods and "deleteWebhook" not in methods, methods
        assert srv.rejected == [] and srv.api.failed == [], (srv.rejected, srv.api.failed)
        code = await bot.stop()

    stderr = bot.err.read_text(encoding="utf-8", errors="replace")
    assert code == 0, f"exit code {code}:\n{tail_file(bot.err)}"
    assert "Traceback" not in stderr and " ERROR " not in stderr, stderr
    assert stderr.count("was handled already; dropped") == 2, stderr
    assert SECRET not in stderr


async def test_two_workers_given_the_same_updates_answer_each_once(tmp_path: Path) -> None:
    """Issue 17, "Several workers": two processes on one PostgreSQL database, each given every
    update at the same moment (as a load balancer retrying on the other might): one answer."""
    async with postgres_database() as url:
        code, out, err = await run_cli(tmp_path, cli_env(None, DATABASE_URL=url), "migrate")
        assert code == 0, (out, err)
        async with (
            StandInBotAPI(token=TOKEN) as srv,
            _worker(tmp_path, srv, "one", DATABASE_URL=url) as one,
            _worker(tmp_path, srv, "two", DATABASE_URL=url) as two,
        ):
            await asyncio.gather(one.ready(), two.ready())
            await _answered(srv, one, srv.api.message_update(_user(800), "/start"))
            once = _sends_to(srv, 800)
            users = range(801, 811)
            for uid in users:
                update = srv.api.message_update(_user(uid), "/start")
                assert await asyncio.gather(one.post(update), two.post(update)) == [200, 200]
            for uid in users:
                await srv.wait_for(lambda m, p, uid=uid: m == "sendMessage" and p["chat_id"] == uid,
                                   STEP, since=0)  # fmt: skip
            await _answered(srv, one, srv.api.message_update(_user(811), "/help"))
            await _answered(srv, two, srv.api.message_update(_user(812), "/help"))
            await asyncio.sleep(QUIET)
            assert [_sends_to(srv, uid) for uid in users] == [once] * len(users)
            assert srv.rejected == [] and srv.api.failed == [], (srv.rejected, srv.api.failed)
            assert await asyncio.gather(one.stop(), two.stop()) == [0, 0]
    dropped = sum(
        w.read_text(encoding="utf-8").count("was handled already; dropped")
        for w in (tmp_path / "one.err", tmp_path / "two.err")
    )
    assert dropped == len(users)


async def test_telegram_webhook_beside_zalo_in_one_process(
    zalo: Zalo, db_engine: AsyncEngine
) -> None:
    """`run` with both tokens (bot/serve.py): PTB's webhook starts beside the Zalo poller, on
    SQLite and PostgreSQL, and both stop on the signal."""
    port = _free_port()
    async with StandInBotAPI(token=TOKEN) as srv:
        settings = zalo.settings.model_copy(
            update={
                "bot_token": SecretStr(TOKEN),
                "telegram_base_url": srv.base_url,
                "telegram_base_file_url": srv.base_file_url,
                "telegram_webhook_url": URL,
                "telegram_webhook_secret": SecretStr(SECRET),
                "telegram_webhook_listen": f"127.0.0.1:{port}",
            }
        )
        stop = asyncio.Event()
        task = asyncio.create_task(serve(settings, db_engine, telegram=True, zalo=True, stop=stop))
        url = f"http://127.0.0.1:{port}/tg/hook.v1"
        try:
            _, hook = await srv.wait_for(lambda m, p: m == "setWebhook", START, since=0)
            assert hook["url"] == URL and hook["secret_token"] == SECRET
            for _ in range(100):
                with contextlib.suppress(aiohttp.ClientConnectionError):
                    assert await _post(url, {"update_id": 0}, secret=None) == 403
                    break
                await asyncio.sleep(0.1)
            twice = srv.api.message_update(_user(901), "/start")
            assert await _post(url, twice) == 200
            await srv.wait_for(lambda m, p: m == "sendMessage" and p["chat_id"] == 901, STEP)
            once = _sends_to(srv, 901)
            assert await _post(url, twice) == 200
            zalo.srv.push(zalo.srv.text_update("z1", "xin chào"))
            assert await zalo.srv.reply_to("z1")
            assert await _post(url, srv.api.message_update(_user(902), "/help")) == 200
            await srv.wait_for(lambda m, p: m == "sendMessage" and p["chat_id"] == 902, STEP)
            await asyncio.sleep(QUIET)
            assert _sends_to(srv, 901) == once
            assert "getUpdates" not in {m for m, _ in srv.api.calls}
        finally:
            stop.set()
            assert await asyncio.wait_for(task, STOP_TIMEOUT) == 0
