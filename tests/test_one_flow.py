"""Issue 16's "done when": a trivial command added to both channels touches one flow and the
router's table, and no adapter. The command is registered the way every flow is (an entry in
handlers.router's ACTIONS and COMMANDS) before the applications are built."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.zalo.client import ZaloClient
from bot.zalo.conversation import ZaloBot
from config.settings import Settings
from handlers import router
from handlers.core import Ctx, Say
from tests.harness import AN, running, said, settings
from tests.zalo_standin import StandInZalo, Zalo

pytestmark = pytest.mark.databases("sqlite")


async def ping(ctx: Ctx, arg: str) -> list[Say]:
    """A trivial flow: one answer from the catalogue, the same on every channel."""
    return [Say(ctx._("OK, nothing changed."))]


async def test_a_command_added_to_the_router_answers_on_telegram_and_zalo(
    monkeypatch: pytest.MonkeyPatch, db_engine: AsyncEngine, db: async_sessionmaker[AsyncSession]
) -> None:
    monkeypatch.setitem(router.ACTIONS, "ping", ping)
    monkeypatch.setattr(router, "COMMANDS", (*router.COMMANDS, "ping"))
    async with running(settings(), db_engine, db) as tg:
        chat = tg.chat(AN)
        await chat.send("/ping")
        assert chat.last_text == said("OK, nothing changed.")
    async with StandInZalo() as srv:
        config = Settings(_env_file=None, zalo_bot_token=srv.token,  # type: ignore[call-arg]
                          zalo_base_url=srv.base_url)  # type: ignore[arg-type]  # fmt: skip
        client = ZaloClient(srv.token, base_url=srv.base_url)
        try:
            zalo = Zalo(srv, client, ZaloBot(config, db, client), db, config)
            answers = await zalo.say("z1", "ping")
        finally:
            await client.aclose()
    assert answers == [said("OK, nothing changed.")]
