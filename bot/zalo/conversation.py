"""One Zalo update in, replies out: who is talking, which flow answers, numbered choices.

The counterpart of bot/telegram/middleware.py and bot/app.py for Telegram: the account,
language and the chat's dialog state are settled first, then a typed number or label picks
the current choice (handlers/router.py runs its action), a command word runs its flow, and
other text goes to the step the chat owes (a reason for declining, a step of a claim), links
(unlinked chats) or searches courses. A photo is a claim's evidence when a claim waits for
one. Updates of one chat are handled one at a time, in order (the state is written back
before the next is read); repeated deliveries are dropped.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.zalo.client import ZaloClient, ZaloError, ZaloRateLimited
from config.instruments import UPDATE_SECONDS, UPDATES, zalo_kind
from config.settings import Settings
from handlers import flows, router
from handlers.caller import identify
from handlers.core import Choice, Ctx, Downloaded, Menu, Say, Upload
from handlers.dialog import Dialogs, OutOfRange, Picked, Replaced, Stale, compose, split
from locales import Translator, pick_language

log = logging.getLogger(__name__)

CHANNEL = "zalo"
TEXT_EVENT = "message.text.received"
IMAGE_EVENT = "message.image.received"
SEEN_MAX = 5000


@dataclass(frozen=True)
class Turn:
    """One incoming message, reduced to what the flows read."""

    event: str
    chat_id: str
    user_id: str
    text: str | None
    photo: str | None  # the URL of an image's photo
    message_id: str
    private: bool
    from_bot: bool


def parse_update(update: dict[str, Any]) -> Turn | None:
    """A Turn from an update object (the `result` of a wrapped body); None if unusable."""
    message = update.get("message")
    if not isinstance(message, dict):
        return None
    sender, chat = message.get("from") or {}, message.get("chat") or {}
    chat_id = str(chat.get("id") or sender.get("id") or "")
    if not chat_id:
        return None
    event = str(update.get("event_name") or "")
    text = message.get("text") if event == TEXT_EVENT else None
    photo = message.get("photo") if event == IMAGE_EVENT else None
    return Turn(
        event=event,
        chat_id=chat_id,
        user_id=str(sender.get("id") or chat_id),
        text=text if isinstance(text, str) else None,
        photo=photo if isinstance(photo, str) and photo else None,
        message_id=str(message.get("message_id") or ""),
        private=str(chat.get("chat_type") or "PRIVATE").upper() == "PRIVATE",
        from_bot=bool(sender.get("is_bot")),
    )


class ZaloBot:
    """Answers Zalo updates, whichever way they arrive (polling or webhook)."""

    def __init__(
        self,
        settings: Settings,
        db: async_sessionmaker[AsyncSession],
        client: ZaloClient,
        *,
        dialogs: Dialogs | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.client = client
        self.dialogs = dialogs or Dialogs(db, CHANNEL)
        self._seen: collections.OrderedDict[str, None] = collections.OrderedDict()

    def duplicate(self, update: dict[str, Any]) -> bool:
        """True for an update already handled: same event and message id or, for an event
        without an id, the same content (Zalo's events carry their time, so a user typing the
        same words twice is two events, and a replay is one)."""
        message = update.get("message") if isinstance(update.get("message"), dict) else {}
        message_id = str((message or {}).get("message_id") or "")
        if message_id:
            seen_key = f"{update.get('event_name')}:{message_id}"
        else:
            canonical = json.dumps(update, sort_keys=True, ensure_ascii=False, default=str)
            seen_key = "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
        if seen_key in self._seen:
            return True
        self._seen[seen_key] = None
        while len(self._seen) > SEEN_MAX:
            self._seen.popitem(last=False)
        return False

    async def handle(self, update: dict[str, Any]) -> None:
        """Answer one update; failures are logged and apologised for, never raised."""
        UPDATES.labels("zalo", zalo_kind(update)).inc()
        with UPDATE_SECONDS.labels("zalo").time():
            await self._handle(update)

    async def _handle(self, update: dict[str, Any]) -> None:
        turn = parse_update(update)
        if turn is None or turn.from_bot:
            log.info("ignored a zalo update without a usable message: %s", update.get("event_name"))
            return
        if self.duplicate(update):
            log.info("dropped a repeated zalo delivery of message %s", turn.message_id)
            return
        async with self.dialogs.turn(turn.chat_id):
            await self._answer(turn)

    async def _answer(self, turn: Turn) -> None:
        now = datetime.now(UTC)
        t = Translator(self.settings.default_language, self.settings.tz)
        try:
            if not turn.private:
                await self._send(turn.chat_id, t.gettext("Please write to me in a private chat."))
                return
            caller = await identify(
                self.db,
                self.dialogs,
                channel=CHANNEL,
                chat_user_id=turn.user_id,
                chat_id=turn.chat_id,
                now=now,
            )
            account_id, person_id, stored = caller.account_id, caller.person_id, caller.language
            lang = pick_language(stored, None, self.settings.default_language)
            ctx = Ctx(
                settings=self.settings,
                db=self.db,
                dialogs=self.dialogs,
                channel=CHANNEL,
                chat_id=turn.chat_id,
                user_id=turn.user_id,
                account_id=account_id,
                person_id=person_id,
                t=Translator(lang, self.settings.tz),
                now=now,
                # Numbered plain text: no buttons, files or contact card (photos come in).
                buttons=False,
                files=False,
                contact=False,
            )
            t = ctx.t
            evidence = None
            if turn.photo is not None:  # a claim's evidence, when a claim waits for a photo
                evidence = await router.upload(ctx, self._photo(turn.photo))
            if evidence is not None:
                says = evidence
            elif turn.text is None or not turn.text.strip():
                says = [Say(t.gettext("I can only read text. Please type your message."))]
            else:
                says = await self.respond(ctx, turn.text.strip())
            await self.deliver(ctx, says)
            await self.dialogs.save(turn.chat_id, now)
        except Exception:
            log.exception("error while answering zalo chat %s", turn.chat_id)
            self.dialogs.drop(turn.chat_id)
            await self._send(
                turn.chat_id,
                t.gettext("Sorry, something went wrong. Please try again in a moment."),
            )

    def _photo(self, url: str) -> Upload:
        """A photo of an image event: Zalo keeps no id to send it again, so its bytes are
        fetched (and kept by the flow that takes it)."""

        async def fetch(limit: int) -> Downloaded:
            return await self.client.download_image(url, max_bytes=limit)

        return Upload("photo", fetch=fetch)

    async def respond(self, ctx: Ctx, text: str) -> list[Say]:
        """Which flow answers this text: a number or label picks a choice offered before."""
        _ = ctx._
        picked = self.dialogs.pick(ctx.chat_id, text, ctx.now)
        if isinstance(picked, Replaced):
            # A notice just re-bound the numbers: show them, and let the next pick act.
            state = self.dialogs.state(ctx.chat_id, ctx.now)
            again = _(
                "A new message has just arrived, so the numbers have changed. Please choose again:"
            )
            return [Say(again, list(state.choices))]
        if isinstance(picked, OutOfRange):
            # Nothing is answered: a step owed stays owed, and the same choices are shown
            # again, so their numbers stay valid.
            self.dialogs.ask_again(ctx.chat_id, ctx.now)
            state = self.dialogs.state(ctx.chat_id, ctx.now)
            text = _("Please reply with a number from 1 to %(n)d.") % {"n": picked.count}
            return [Say(text, list(state.choices))]
        step = router.owed(ctx)
        if isinstance(picked, Stale) and step is not None:
            picked = None  # no list is offered at this step: a number (seats, hours) is text
        if isinstance(picked, Picked):
            says = await router.run(ctx, picked.action)
            if says is not None:
                return says
            picked = Stale()
        if isinstance(picked, Stale):
            menu = flows.main_menu(ctx.t) if ctx.person_id is not None else []
            return [Say(_("That list has expired. Please choose again:"), menu)]
        says = await router.command(ctx, text)
        if says is not None:
            return says
        return await router.typed(ctx, text, step)

    async def deliver(self, ctx: Ctx, says: list[Say]) -> None:
        """Send the replies as plain text; the last list of choices becomes the chat's current
        one. The main menu is offered as choices; a file is replaced by its text."""
        hint = ctx._("Reply with a number, or type the name of your choice.")
        offered = False
        for chat_id, text, choices in _messages(ctx, says):
            if chat_id != ctx.chat_id:
                for piece in split(compose(text, [], hint)):
                    await self._send(chat_id, piece)
                continue
            if choices:
                self.dialogs.offer(ctx.chat_id, choices, ctx.now)
                offered = True
            for piece in split(compose(text, choices, hint)):
                await self._send(ctx.chat_id, piece)
        if not offered:
            self.dialogs.offer(ctx.chat_id, [], ctx.now)

    async def _send(self, chat_id: str, text: str) -> None:
        for attempt in range(3):
            try:
                await self.client.send_message(chat_id, text)
                return
            except ZaloRateLimited:
                await asyncio.sleep(0.5 * 2**attempt)
            except ZaloError as exc:
                log.warning("could not answer zalo chat %s: %s", chat_id, exc)
                return
        log.warning("zalo kept refusing to answer chat %s: quota exceeded", chat_id)


def _messages(ctx: Ctx, says: list[Say]) -> list[tuple[str, str, list[Choice]]]:
    """Each reply as (chat, plain-text body, choices). A file becomes its text; a file sent on
    its own right after a message (a course's schedule after "You are registered") joins that
    message above its choices, so the numbered list stays the last thing the person reads."""
    messages: list[tuple[str, str, list[Choice]]] = []
    for say in says:
        chat_id = say.chat_id or ctx.chat_id
        instead = say.file.instead if say.file is not None else ""
        if instead and not say.text and not say.choices and messages:
            before_chat, before, choices = messages[-1]
            if before_chat == chat_id:
                messages[-1] = (chat_id, f"{before}\n\n{instead}", choices)
                continue
        text = say.text or ("" if say.file else say.alert or "")
        if instead:
            text = f"{text}\n\n{instead}" if text else instead
        if not text:
            continue
        choices = say.choices
        if not choices and say.menu is Menu.MAIN and ctx.person_id is not None:
            choices = flows.main_menu(ctx.t)
        messages.append((chat_id, text, choices))
    return messages
