"""`boiduong run`: every channel whose token is set, in one asyncio process.

Telegram runs as PTB's Application started by hand (not `run_polling`, which would own the
event loop) beside the Zalo poller or webhook; it long-polls, or serves PTB's own webhook when
TELEGRAM_WEBHOOK_URL is set (`telegram_webhook`, also used by a Telegram-only `run`). With
Telegram, PTB's JobQueue drives the drainers and hands them the Zalo sender too; without it,
schedules/loops.py does.
Ctrl+C or SIGTERM stops every part and waits for answers in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import signal
from collections.abc import Coroutine
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.metrics import Health, start_metrics, stop_metrics
from bot.zalo.client import ZaloClient
from bot.zalo.conversation import ZaloBot
from bot.zalo.polling import Poller
from bot.zalo.sender import ZaloSender
from bot.zalo.webhook import serve as serve_webhook
from config.resources import Resources
from config.settings import Settings
from schedules.loops import run_schedules
from schedules.pacing import Pacer
from storage.db import make_sessionmaker, upgrade

log = logging.getLogger(__name__)


def telegram_webhook(settings: Settings) -> dict[str, Any]:
    """Arguments of PTB's run_webhook/start_webhook for TELEGRAM_WEBHOOK_URL. PTB's tornado
    server listens on TELEGRAM_WEBHOOK_LISTEN at the URL's path (plain HTTP: the TLS proxy in
    front forwards to it), calls setWebhook with the URL and secret_token, and answers 403,
    unhandled, to a request whose X-Telegram-Bot-Api-Secret-Token header is missing or wrong.
    """
    url, secret = settings.telegram_webhook_url, settings.telegram_webhook_secret
    assert url is not None and secret is not None  # both checked together by Settings
    host, _, port = settings.listen(settings.telegram_webhook_listen).rpartition(":")
    return {
        "listen": host,
        "port": int(port),
        # PTB routes by regular expression; the path's "." must match itself only.
        "url_path": re.escape(urlsplit(url).path or "/"),
        "webhook_url": url,
        "secret_token": secret.get_secret_value(),
        "drop_pending_updates": False,
    }


def zalo_parts(settings: Settings, engine: AsyncEngine) -> tuple[ZaloBot, ZaloSender]:
    assert settings.zalo_token is not None
    client = ZaloClient(settings.zalo_token, base_url=settings.zalo_base_url)
    bot = ZaloBot(settings, make_sessionmaker(engine), client)
    sender = ZaloSender(client, bot.dialogs, Pacer(settings.zalo_send_rate_per_second))
    return bot, sender


def zalo_updates(
    settings: Settings, bot: ZaloBot, stop: asyncio.Event
) -> Coroutine[Any, Any, None]:
    """Webhook mode when ZALO_WEBHOOK_URL is set, long polling otherwise."""
    if settings.zalo_webhook_url:
        assert settings.zalo_webhook_secret is not None  # checked by the caller
        return serve_webhook(
            bot,
            url=settings.zalo_webhook_url,
            secret=settings.zalo_webhook_secret.get_secret_value(),
            listen=settings.listen(settings.zalo_webhook_listen),
            stop=stop,
            register=settings.worker == 0,
        )
    return Poller(bot).run(stop)


async def serve(
    settings: Settings,
    engine: AsyncEngine,
    *,
    telegram: bool,
    zalo: bool,
    stop: asyncio.Event | None = None,
) -> int:
    """Serve until SIGINT/SIGTERM (or until `stop` is set, when one is given)."""
    signals = stop is None
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    if signals:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):  # not on Windows
                loop.add_signal_handler(sig, stop.set)
    parts: list[asyncio.Task[Any]] = []
    zalo_bot: ZaloBot | None = None
    metrics = None
    try:
        await upgrade(engine)
        if settings.metrics_listen and not telegram:  # with Telegram, its post_init starts it
            alive = lambda: not stop.is_set() and not any(p.done() for p in parts)  # noqa: E731
            health = Health(make_sessionmaker(engine), alive=alive)
            metrics = await start_metrics(settings.listen(settings.metrics_listen), health)
        if zalo:
            zalo_bot, sender = zalo_parts(settings, engine)
            parts.append(asyncio.create_task(zalo_updates(settings, zalo_bot, stop)))
            if not telegram:
                res = Resources(settings=settings, db=make_sessionmaker(engine))
                parts.append(asyncio.create_task(run_schedules(res, [sender], stop)))
        if telegram:
            return await _with_telegram(settings, engine, stop, parts, [sender] if zalo else [])
        return await _until_stopped(stop, parts)
    finally:
        await stop_metrics(metrics)
        if zalo_bot is not None:
            await zalo_bot.client.aclose()
        await engine.dispose()


async def _with_telegram(
    settings: Settings,
    engine: AsyncEngine,
    stop: asyncio.Event,
    parts: list[asyncio.Task[Any]],
    others: list[ZaloSender],
) -> int:
    from bot.app import build_application  # PTB and the Telegram handlers: only if served

    app = build_application(settings, engine)
    app.bot_data["senders"] = others
    async with app:
        assert app.post_init is not None and app.updater is not None
        await app.post_init(app)  # schema, command menus, drainers (as run_polling would)
        if settings.telegram_webhook_url:
            await app.updater.start_webhook(**telegram_webhook(settings))
        else:
            await app.updater.start_polling()
        await app.start()
        try:
            return await _until_stopped(stop, parts)
        finally:
            await app.updater.stop()
            await app.stop()
            await stop_metrics(app.bot_data.pop("metrics", None))


async def _until_stopped(stop: asyncio.Event, parts: list[asyncio.Task[Any]]) -> int:
    """Wait for a signal, or for a part to end by itself (e.g. a refused token)."""
    waiter = asyncio.create_task(stop.wait())
    done, _pending = await asyncio.wait([waiter, *parts], return_when=asyncio.FIRST_COMPLETED)
    stop.set()
    results = await asyncio.gather(*parts, return_exceptions=True)
    failed = [r for r in results if isinstance(r, BaseException)]
    for error in failed:
        log.error("a channel stopped: %r", error)
    waiter.cancel()
    return 1 if failed or waiter not in done else 0
