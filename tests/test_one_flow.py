"""The router as both channels use it. Issue 16's "done when": a trivial command added to both
channels touches one flow and the router's table, and no adapter (the command is registered the
way every flow is, an entry in handlers.router's ACTIONS and COMMANDS, before the applications
are built). And a file owed by a chat unlinked meanwhile is answered, never dropped."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.zalo.client import ZaloClient
from bot.zalo.conversation import ZaloBot
from config.settings import Settings
from handlers import claims, router
from handlers.core import Ctx, Say
from storage.models import ChatAccount
from tests.fixtures_zalo import person_on_zalo
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


async def test_a_photo_owed_by_a_chat_unlinked_meanwhile_is_answered_with_how_to_link(
    zalo: Zalo,
) -> None:
    """A claim's photo step outlives the link (an organizer unlinked the chat, or it was
    linked elsewhere): the photo gets how to link, not silence, and the step is gone."""
    await person_on_zalo(zalo.db, "z2")
    dialogs, now = zalo.bot.dialogs, datetime.now(UTC)
    async with dialogs.turn("z2"):
        await dialogs.load("z2", now)
        dialogs.owe("z2", claims.PHOTO, now, {"kind": "training"}, survives_push=True)
        await dialogs.save("z2", now)
    async with zalo.db.begin() as s:
        await s.execute(update(ChatAccount).values(person_id=None))
    before = len(zalo.srv.sent_to("z2"))
    await zalo.bot.handle(zalo.srv.image_update("z2"))
    answers = zalo.srv.sent_to("z2")[before:]
    assert answers and answers[0].startswith(said("You are not linked yet.")[:20]), answers
    assert (await zalo.dialog("z2")).expect is None
