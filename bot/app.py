"""Assembling the PTB Application: one place that wires settings, database and handlers."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from telegram import Update
from telegram.ext import Application, ApplicationBuilder, ContextTypes
from telegram.request import BaseRequest, HTTPXRequest

from bot.context import BotContext, Resources
from bot.jobs import kick_broadcasts, kick_drainer, start_broadcasts, start_drainer
from bot.limiter import PacedLimiter, PriorityPacer
from bot.metrics import Health, start_metrics, stop_metrics
from bot.outgoing import GuardedBot
from bot.redelivery import Redelivery
from bot.telegram import register_all
from bot.telegram.adapter import CHANNEL
from bot.telegram.help import set_commands
from bot.telegram_kinds import telegram_kind
from config.instruments import DUPLICATES, UPDATE_SECONDS, UPDATES
from config.settings import Settings
from handlers.dialog import Dialogs
from storage.db import make_sessionmaker, upgrade

log = logging.getLogger(__name__)

OFFLINE_TOKEN = "100000:OFFLINE-DEMO-TOKEN"


def build_application(
    settings: Settings,
    engine: AsyncEngine,
    *,
    request: BaseRequest | None = None,
    rate_limit: bool = True,
) -> Application[Any, Any, Any, Any, Any, Any]:
    """The production application; tests pass a recording `request` instead of the network."""
    # One pace for replies, reminders and broadcasts together (bot/limiter.py).
    pacer = PriorityPacer(settings.send_rate_per_second)
    # Every send goes through the outgoing-message guard (bot/outgoing.py). The requests are
    # those ApplicationBuilder would make: a large pool for sends, one connection for polling.
    bot = GuardedBot(
        settings.token or OFFLINE_TOKEN,
        base_url=settings.telegram_base_url,
        base_file_url=settings.telegram_base_file_url,
        request=request or HTTPXRequest(connection_pool_size=256),
        get_updates_request=request or HTTPXRequest(connection_pool_size=1),
        rate_limiter=PacedLimiter(pacer) if rate_limit else None,
        registers_webhook=settings.worker == 0,
    )
    builder = (
        ApplicationBuilder()
        .application_class(MeteredApplication)
        .bot(bot)
        .context_types(ContextTypes(context=BotContext))
        # Users are answered while a slow update (or a long send) is still running.
        .concurrent_updates(True)
        .post_init(_post_init)
        .post_shutdown(_post_shutdown)
    )
    app = builder.build()
    app.bot_data["pacer"] = pacer
    app.bot_data["resources"] = Resources(settings=settings, db=make_sessionmaker(engine))
    app.bot_data["engine"] = engine
    app.bot_data["dialogs"] = Dialogs(app.bot_data["resources"].db, CHANNEL)
    app.bot_data["wake"] = lambda: _wake(app)
    register_all(app)
    return app


def _wake(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """New rows to send (notifications, or a broadcast sent now): deliver them soon."""
    kick_drainer(app)
    kick_broadcasts(app)


class MeteredApplication(Application[Any, Any, Any, Any, Any, Any]):
    """Drops updates already handled (bot/redelivery.py); counts each update by kind and times
    it, from its arrival to the end of its handlers (every group, whatever ends them) for
    /metrics; keeps each chat's conversation state."""

    async def process_update(self, update: object) -> None:
        # Set by _post_init, i.e. when serving; tests driving process_update replay at will.
        redelivery: Redelivery | None = self.bot_data.get("redelivery")
        if isinstance(update, Update) and redelivery is not None:
            if not await redelivery.first("telegram", f"{self.bot.id}:{update.update_id}"):
                DUPLICATES.labels("telegram").inc()
                log.info("update %d was handled already; dropped", update.update_id)
                return
        UPDATES.labels("telegram", telegram_kind(update)).inc()
        chat = update.effective_chat if isinstance(update, Update) else None
        if chat is None:
            with UPDATE_SECONDS.labels("telegram").time():
                await super().process_update(update)
            return
        # One chat's updates are answered in turn, each with the conversation state the one
        # before it left (loaded by the middleware, written back here).
        key, dialogs = str(chat.id), self.bot_data["dialogs"]
        async with dialogs.turn(key):
            with UPDATE_SECONDS.labels("telegram").time():
                try:
                    await super().process_update(update)
                except BaseException:
                    dialogs.drop(key)
                    raise
                await dialogs.save(key, datetime.now(UTC))


def _alive(app: Application[Any, Any, Any, Any, Any, Any]) -> bool:
    return bool(app.running and app.updater is not None and app.updater.running)


async def _post_init(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Runs when serving only (bot/serve.py): schema, command menus, the drainers, the claim
    on each update, and the health and metrics server when METRICS_LISTEN is set. Of several
    workers (WORKER), only worker 0 sets the menus and plans reminders."""
    await upgrade(app.bot_data["engine"])
    res: Resources = app.bot_data["resources"]
    first = res.settings.worker == 0  # the others share its menus and its reminder plan
    if first:
        await set_commands(app)
    start_drainer(app, plan=first)
    start_broadcasts(app)
    app.bot_data["redelivery"] = Redelivery(res.db)
    if res.settings.metrics_listen:
        health = Health(res.db, alive=lambda: _alive(app))
        listen = res.settings.listen(res.settings.metrics_listen)
        app.bot_data["metrics"] = await start_metrics(listen, health)
    log.info("bot @%s is ready", app.bot.username)


async def _post_shutdown(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    await stop_metrics(app.bot_data.pop("metrics", None))
    await app.bot_data["engine"].dispose()
