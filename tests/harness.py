"""The chat-test harness: the production application talking to an in-memory Telegram.

Every test that drives the Telegram application builds it here: `build` wires
`bot.app.build_application` to `OfflineRequest` (the recording request class), so each Bot API
call lands in an `OfflineBotAPI` that checks it against the published spec and keeps the chats.
`Telegram` plays users (texts, files, contacts, button presses) and reads the chats back;
`Chat` is one user's view of it. The fixtures `tg` (strict: any refused call or logged error
fails the test), `chat` (the default settings) and `broadcasting` (no quiet hours) are
registered in `tests/conftest.py`.

Expected texts come from the message catalogues (`said`), so a test names a message by its
English source and checks the Vietnamese (or English) reply.

`post_init` does not run under `async with application:`. Of what it does, the schema is
migrated by the `db_engine` fixture, the command menus are set by the tests about them, and the
drainers are driven by `drain`/`drain_broadcasts`, as their jobs would.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from babel.messages.pofile import read_po
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application

from bot.app import OFFLINE_TOKEN, build_application
from bot.offline import OfflineBotAPI, OfflineRequest, render_text
from bot.telegram.sender import TelegramSender
from config.settings import Settings
from domain import registration
from locales import LOCALES, Translator
from schedules.broadcasts import drain_broadcasts
from schedules.notifications import drain_once
from schedules.pacing import Pacer
from storage.models import (
    ChatAccount,
    Course,
    Notification,
    Person,
    Position,
    Registration,
)
from tests.botapi.validator import SpecValidator
from tests.factories import CULTURE_SOCIAL, POLICY, make_course, make_person

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
PHONE = "0912345678"
AN = {"id": 700_000_101, "is_bot": False, "first_name": "An", "language_code": "vi"}
BINH = {"id": 700_000_102, "is_bot": False, "first_name": "Bình", "language_code": "vi"}
CUONG = {"id": 700_000_103, "is_bot": False, "first_name": "Cường", "language_code": "vi"}
NOT_MODIFIED = "message is not modified"

App = Application[Any, Any, Any, Any, Any, Any]
Message = dict[str, Any]
User = dict[str, Any]


# -- building the application ----------------------------------------------------------------------


def settings(**overrides: Any) -> Settings:
    """Settings from the defaults and `overrides` only: no .env file, no environment file."""
    return Settings(_env_file=None, **overrides)  # type: ignore[call-arg]


def recording_api() -> OfflineBotAPI:
    """An in-memory Telegram that checks every call against the Bot API spec."""
    return OfflineBotAPI(token=OFFLINE_TOKEN, validator=SpecValidator())


def build(
    config: Settings,
    engine: AsyncEngine,
    api: OfflineBotAPI | None = None,
    *,
    rate_limit: bool = False,
) -> App:
    """The production application; its Bot API calls go to `api`, or over HTTP (to a stand-in
    server named in the settings) when there is none."""
    request = OfflineRequest(api) if api is not None else None
    return build_application(config, engine, request=request, rate_limit=rate_limit)


@asynccontextmanager
async def running(
    config: Settings,
    engine: AsyncEngine,
    db: async_sessionmaker[AsyncSession],
    *,
    caplog: pytest.LogCaptureFixture | None = None,
) -> AsyncIterator[Telegram]:
    """The application, initialized, on a fresh in-memory Telegram; with `caplog` it is strict."""
    api = recording_api()
    app = build(config, engine, api)
    async with app:
        yield Telegram(app, api, db, config, caplog)


HANDLER_SETTINGS = {
    "bot_token": None,
    "timezone": "Asia/Ho_Chi_Minh",
    "default_language": "vi",
    "page_size": 5,
    "cancel_cutoff_hours": 24,
    "link_max_failures": 5,
}


@pytest.fixture
async def tg(
    db_engine: AsyncEngine,
    db: async_sessionmaker[AsyncSession],
    caplog: pytest.LogCaptureFixture,
) -> AsyncIterator[Telegram]:
    """Strict: a call Telegram refuses or an error in the log fails the test."""
    async with running(settings(**HANDLER_SETTINGS), db_engine, db, caplog=caplog) as telegram:
        yield telegram


@pytest.fixture
async def chat(
    db_engine: AsyncEngine, db: async_sessionmaker[AsyncSession]
) -> AsyncIterator[Telegram]:
    """The application with the default settings."""
    async with running(settings(), db_engine, db) as telegram:
        yield telegram


@pytest.fixture
async def broadcasting(
    db_engine: AsyncEngine, db: async_sessionmaker[AsyncSession]
) -> AsyncIterator[Telegram]:
    """The application without quiet hours: broadcasts and notices go out at any time."""
    async with running(settings(quiet_hours="00:00-00:00"), db_engine, db) as telegram:
        yield telegram


# -- expected texts, from the catalogues -----------------------------------------------------------


def plain(html: str) -> str:
    """What the user reads for an HTML message: tags rendered away, entities unescaped."""
    return render_text(html, "HTML")[0]


@cache
def _msgids(lang: str) -> tuple[str, ...]:
    with (LOCALES / lang / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        return tuple(m.id for m in read_po(fh, locale=lang) if m.id and isinstance(m.id, str))


def said(fragment: str, lang: str = "vi", **params: object) -> str:
    """The catalogue message whose English source is, or else uniquely contains, `fragment`,
    translated into `lang`, placeholders filled, as the user reads it."""
    ids = _msgids(lang)
    found = [fragment] if fragment in ids else [m for m in ids if fragment in m]
    assert len(found) == 1, f"{fragment!r} names {len(found)} catalogue messages"
    text = Translator(lang, TZ).gettext(found[0])
    return plain(text % params if params else text)


def at(day: str, clock: str) -> datetime:
    """A Vietnamese wall-clock time ("10/12/2026", "08:00") as aware UTC."""
    d = datetime.strptime(f"{day} {clock}", "%d/%m/%Y %H:%M")
    return d.replace(tzinfo=TZ).astimezone(UTC)


def local(moment: datetime) -> str:
    """A time as the bot shows it: dd/mm/yyyy HH:MM in Vietnam's time zone."""
    return moment.astimezone(TZ).strftime("%d/%m/%Y %H:%M")


# -- reading messages ------------------------------------------------------------------------------


def text_of(message: Message) -> str:
    return str(message.get("text") or message.get("caption") or "")


def buttons(message: Message) -> list[tuple[str, str]]:
    """(label, callback data) of a message's inline buttons."""
    markup = message.get("reply_markup") or {}
    return [
        (b["text"], b.get("callback_data", ""))
        for row in markup.get("inline_keyboard", [])
        for b in row
    ]


def button_data(message: Message) -> list[str]:
    """The callback data of a message's inline buttons."""
    return [data for _, data in buttons(message)]


def button_labels(message: Message) -> list[str]:
    return [label for label, _ in buttons(message)]


def button(message: Message, label: str) -> str:
    """The callback data of the first button whose label contains `label`."""
    found = [data for text, data in buttons(message) if label in text]
    assert found, f"no button {label!r} in {buttons(message)}"
    return found[0]


def user(uid: int, lang: str = "vi", first_name: str = "U") -> User:
    return {"id": uid, "is_bot": False, "first_name": first_name, "language_code": lang}


async def link_account(
    s: AsyncSession,
    api: OfflineBotAPI | None,
    person_id: int,
    uid: int,
    *,
    lang: str | None = None,
    first_name: str = "U",
    linked_at: datetime | None = None,
) -> User:
    """Link Telegram user `uid` to a roster person (the account's language: `lang`, if any),
    in the caller's transaction; the user's chat becomes known to `api`."""
    s.add(
        ChatAccount(
            channel="telegram",
            chat_user_id=str(uid),
            chat_id=str(uid),
            person_id=person_id,
            language=lang,
            linked_at=linked_at or datetime.now(UTC),
        )
    )
    await s.flush()
    who = user(uid, lang or "vi", first_name)
    if api is not None:
        api.add_user(who)
    return who


# -- playing Telegram ------------------------------------------------------------------------------


@dataclass
class Telegram:
    """The application, the in-memory Telegram it talks to, and the test's database."""

    app: App
    api: OfflineBotAPI
    db: async_sessionmaker[AsyncSession]
    settings: Settings
    caplog: pytest.LogCaptureFixture | None = None  # strict when set

    def chat(self, who: User) -> Chat:
        return Chat(self, who)

    async def process(self, update: dict[str, Any]) -> None:
        """Hand one update to the application; when strict, fail on anything Telegram would
        refuse and on any logged error."""
        await self.app.process_update(Update.de_json(update, self.app.bot))
        if self.caplog is None:
            return
        assert not self.api.rejected, self.api.rejected  # a call the spec does not allow
        unexpected = [f for f in self.api.failed if NOT_MODIFIED not in f[2]]
        assert not unexpected, unexpected
        errors = [r for r in self.caplog.records if r.levelno >= logging.ERROR]
        assert not errors, [r.getMessage() for r in errors]

    async def link(self, person_id: int, uid: int, lang: str | None = None) -> User:
        """Link user `uid` to a roster person in a transaction of its own."""
        async with self.db.begin() as s:
            return await link_account(s, self.api, person_id, uid, lang=lang)

    # -- what users do --

    async def send(self, who: User, update: dict[str, Any]) -> Message:
        """Hand an update from `who` to the application; returns the newest message in their
        chat."""
        await self.process(update)
        return self.api.last_message(who["id"])

    async def say(self, who: User, text: str) -> Message:
        """Send a text; returns the newest message in the user's chat."""
        return await self.send(who, self.api.message_update(who, text))

    async def reply(self, who: User, text: str) -> str:
        """Send a text; returns the text of the newest message in the user's chat."""
        return str((await self.say(who, text)).get("text", ""))

    async def send_file(self, who: User, name: str, content: bytes) -> Message:
        return await self.send(who, self.api.document_update(who, name, content))

    def message_with(self, chat_id: int, data: str) -> Message:
        """The newest message in the chat with a button carrying `data`."""
        for message in reversed(self.api.sent_to(chat_id)):
            if any(d == data for _, d in buttons(message)):
                return message
        raise AssertionError(f"no button {data!r} in chat {chat_id}")

    async def tap(
        self,
        who: User,
        data: str,
        *,
        message: Message | None = None,
        owner: User | None = None,
        times: int = 1,
        at_once: bool = False,
    ) -> list[str | None]:
        """Press the button carrying `data` on `message` (by default the newest message with
        it) in `owner`'s chat (by default `who`'s; another owner makes it a replay). `times` > 1
        is a double tap: every press leaves the phone before the bot has answered any; with
        `at_once` the application handles them concurrently, as in production. Checks that
        each press was answered once; returns the answers' texts, in order."""
        owner = owner or who
        message = message or self.message_with(owner["id"], data)
        updates = []
        for _ in range(times):
            update = self.api.callback_update(owner, message["message_id"], data)
            update["callback_query"]["from"] = who
            updates.append(update)
        if at_once:
            await asyncio.gather(*(self.process(update) for update in updates))
        else:
            for update in updates:
                await self.process(update)
        answers = []
        for update in updates:
            answered = self.answer_to(update)
            assert len(answered) == 1, f"callback query {data!r} answered {len(answered)} times"
            answers.append(answered[0])
        return answers

    def answer_to(self, update: dict[str, Any]) -> list[str | None]:
        """The texts of every answerCallbackQuery to the update's callback query."""
        query_id = update["callback_query"]["id"]
        return [
            p.get("text")
            for name, p in self.api.calls
            if name == "answerCallbackQuery" and p["callback_query_id"] == query_id
        ]

    async def press(
        self,
        who: User,
        data: str,
        *,
        message: Message | None = None,
        owner: User | None = None,
    ) -> Message:
        """Press a button (as `tap`); returns the newest message in `owner`'s chat."""
        owner = owner or who
        await self.tap(who, data, message=message, owner=owner)
        return self.api.last_message(owner["id"])

    async def press_reply(self, who: User, data: str, *, owner: User | None = None) -> str:
        """Press the newest button carrying `data` (as `tap`); returns the text the bot
        answered with: its newest new text message, else the pressed message's as edited."""
        owner = owner or who
        message = self.message_with(owner["id"], data)
        newest = self.api.last_message(owner["id"])["message_id"]
        await self.tap(who, data, message=message, owner=owner)
        sent = self.api.sent_to(owner["id"])
        new = [m["text"] for m in sent if m.get("text") and m["message_id"] > newest]
        pressed = next(m for m in sent if m["message_id"] == message["message_id"])
        return str(new[-1] if new else pressed.get("text"))

    async def press_answer(
        self, who: User, data: str, *, message: Message | None = None
    ) -> str:
        """Press a button (as `tap`); returns the text of the answer to the press, if any."""
        return (await self.tap(who, data, message=message))[-1] or ""

    async def choose(self, who: User, message: Message, label: str) -> Message:
        """Press the button of `message` whose label contains `label` (as `press`)."""
        return await self.press(who, button(message, label), message=message)

    # -- what users see --

    def texts(self, chat_id: int) -> list[str]:
        return [text_of(m) for m in self.api.sent_to(chat_id)]

    def alerts(self) -> list[str]:
        """The texts of every answer to a button press, in order."""
        return [str(p.get("text", "")) for m, p in self.api.calls if m == "answerCallbackQuery"]

    # -- what the scheduled jobs do (JobQueue does not run in these tests) --

    async def drain(self) -> int:
        """One tick of the notification drainer."""
        sender = TelegramSender(self.app.bot, Pacer(rate=1000))
        return await drain_once(self.app.bot_data["resources"], [sender])

    async def drain_broadcasts(self) -> int:
        """One tick of the broadcast drainer."""
        res = self.app.bot_data["resources"]
        return await drain_broadcasts(res, [TelegramSender(self.app.bot, Pacer(1000))], shown={})


@dataclass
class Chat:
    """One user's private chat with the bot."""

    tg: Telegram
    user: User
    answers: list[str | None] = field(default_factory=list)  # answerCallbackQuery texts

    @property
    def id(self) -> int:
        return int(self.user["id"])

    async def send(self, text: str) -> None:
        await self.tg.process(self.tg.api.message_update(self.user, text))

    async def share_contact(self, phone: str, *, owner: int | str | None = "self") -> None:
        """Share a contact card: the user's own (the default) or someone else's."""
        owner_id = self.id if owner == "self" else owner
        assert owner_id is None or isinstance(owner_id, int)
        await self.tg.process(self.tg.api.contact_update(self.user, phone, owner_id))

    async def press(self, data: str, *, times: int = 1, at_once: bool = False) -> str | None:
        """Press the newest button carrying `data` (see `Telegram.tap`); returns the last
        answer's text, if any."""
        self.answers.extend(await self.tg.tap(self.user, data, times=times, at_once=at_once))
        return self.answers[-1]

    async def receive_button(self, data: str) -> None:
        """Leave a message with one button in the chat, as an older bot version (or a forged
        client) might have: the data need not be anything this version builds."""
        markup = InlineKeyboardMarkup([[InlineKeyboardButton("…", callback_data=data)]])
        await self.tg.app.bot.send_message(self.id, "…", reply_markup=markup)

    # -- what the user sees --

    def messages(self) -> list[Message]:
        return self.tg.api.sent_to(self.id)

    def last(self) -> Message:
        return self.tg.api.last_message(self.id)

    @property
    def last_text(self) -> str:
        return text_of(self.last())

    def texts(self) -> list[str]:
        return [text_of(m) for m in self.messages()]

    def buttons(self, message: Message | None = None) -> list[tuple[str, str]]:
        """(label, callback data) of a message's inline buttons, the newest message's default."""
        return buttons(message or self.last())

    def keyboard(self) -> list[list[dict[str, Any]]]:
        """The reply keyboard under the input field, as buttons."""
        return (self.tg.api.reply_keyboard(self.id) or {}).get("keyboard", [])

    def keyboard_labels(self) -> list[list[str]]:
        return [[b["text"] for b in row] for row in self.keyboard()]


# -- the roster and the courses --------------------------------------------------------------------


async def add_person(
    db: async_sessionmaker[AsyncSession],
    *,
    phone: str | None = PHONE,
    full_name: str = "Nguyễn Thị An",
    qualifications: tuple[tuple[str, str, str], ...] = (),
) -> Person:
    async with db.begin() as s:
        position = (
            await s.execute(select(Position).where(Position.code == CULTURE_SOCIAL))
        ).scalar_one()
        person = await make_person(
            s, phone=phone, full_name=full_name, position=position, qualifications=qualifications
        )
        return person


async def add_course(db: async_sessionmaker[AsyncSession], **kwargs: Any) -> int:
    async with db.begin() as s:
        return (await make_course(s, **kwargs)).id


async def fill(db: async_sessionmaker[AsyncSession], course_id: int, *people: int) -> None:
    """Other people register (or join the waitlist) in this order, outside the chat."""
    for person_id in people:
        async with db.begin() as s:
            await registration.register(
                s, person_id=person_id, course_id=course_id, now=datetime.now(UTC), policy=POLICY
            )


async def linked(tg: Telegram, who: User, phone: str = PHONE) -> Chat:
    """A chat whose user has shared their own phone number and been linked."""
    chat = tg.chat(who)
    await chat.send("/start")
    await chat.share_contact(phone)
    assert await person_of(tg.db, who) is not None, chat.last_text
    return chat


async def person_of(db: async_sessionmaker[AsyncSession], who: User) -> int | None:
    async with db() as s:
        stmt = select(ChatAccount.person_id).where(ChatAccount.chat_user_id == str(who["id"]))
        return (await s.execute(stmt)).scalar_one_or_none()


async def registrations(db: async_sessionmaker[AsyncSession]) -> list[tuple[int, int, str]]:
    """(course, person, status) of every registration row."""
    async with db() as s:
        stmt = select(Registration.course_id, Registration.person_id, Registration.status)
        return sorted((c, p, str(st)) for c, p, st in await s.execute(stmt))


async def snapshot(db: async_sessionmaker[AsyncSession]) -> tuple[object, ...]:
    """Everything a button press could change."""
    async with db() as s:
        accounts = (
            await s.execute(
                select(
                    ChatAccount.chat_user_id, ChatAccount.person_id, ChatAccount.failed_attempts
                ).order_by(ChatAccount.id)
            )
        ).all()
        queues = (await s.execute(select(Course.id, Course.queue_seq).order_by(Course.id))).all()
        notes = (
            await s.execute(select(Notification.id, Notification.state).order_by(Notification.id))
        ).all()
    return (await registrations(db), accounts, queues, notes)
