"""What each chat is in the middle of, kept in the database, and numbered choices.

A chat may owe a typed answer (`expect`: a reason after "Decline", a step of /newcourse) with
data gathered so far; the state is a row per (channel, chat) with an expiry (storage.models
.Dialog), loaded when an update arrives and written back after it, so a restart, or another
worker, continues where the person was.

Channels without buttons (Zalo, the console) end a reply that offers choices with numbered
lines and a short hint; the next message picks one by its number, or by its label typed with
or without diacritics. The choices are kept in the same row until CHOICES_TTL; a stale number
gets a clear answer instead of a wrong action.

A notice the bot pushes (bot/zalo/sender.py) also becomes the current list, which re-binds the
numbers under the user's fingers: someone answering the list they were shown a moment ago
would act on the notice instead. So a push that replaces a recent list makes picks right
after it ask again (Replaced) rather than act, and it drops any typed answer the chat owed.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from html import unescape
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.text import fold
from storage.db import reading
from storage.repos.dialogs import DialogRepo

MAX_TEXT = 2000
CHOICES_TTL = timedelta(minutes=30)
# What a chat keeps apart from any step (the words of its last search, for the pages of its
# results) lasts as long as its buttons are likely to be pressed.
KEPT_TTL = timedelta(hours=24)
# A push replacing a list offered less than REPLACED_GRACE ago may meet a reply meant for that
# list; for PUSH_GUARD after such a push a pick is answered with the new list instead of acted on.
REPLACED_GRACE = timedelta(minutes=10)
PUSH_GUARD = timedelta(seconds=60)
_NUMBER = re.compile(r"^\s*(?:#|so\s*|số\s*)?(\d{1,3})\s*[.)]?\s*$", re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")


def key(text: str) -> str:
    """Letters and digits only, folded: "📚 Khóa học" and "khoa hoc" give the same key."""
    return " ".join(re.findall(r"\w+", fold(text)))


def plain(html: str) -> str:
    """Our Telegram HTML as plain text. User data in it is escaped, so a `<` is always a tag."""
    return unescape(_TAG.sub("", html))


def split(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Pieces of at most `limit` characters, cut at line breaks (at spaces for a long line)."""
    pieces: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:
            cut = line.rfind(" ", 0, limit)
            cut = cut if cut > 0 else limit
            if current:
                pieces.append(current)
                current = ""
            pieces.append(line[:cut])
            line = line[cut:].lstrip(" ")
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            pieces.append(current)
            candidate = line
        current = candidate
    if current.strip():
        pieces.append(current)
    return [p for p in (p.strip("\n") for p in pieces) if p.strip()]


@dataclass(frozen=True)
class Choice:
    label: str
    action: str  # "name:argument" (handlers/actions.py), as a button's callback data
    aliases: tuple[str, ...] = ()  # other texts that pick it (e.g. a course title alone)
    joined: bool = False  # shown beside the previous choice where a channel has rows

    def keys(self) -> set[str]:
        return {key(self.label), *(key(a) for a in self.aliases)} - {""}


@dataclass(frozen=True)
class Picked:
    action: str


@dataclass(frozen=True)
class Stale:
    """A number when no list is current: it expired, or the bot restarted."""


@dataclass(frozen=True)
class OutOfRange:
    count: int


@dataclass(frozen=True)
class Replaced:
    """A pick right after a pushed notice replaced the list the user may have been answering."""

    count: int


Pick = Picked | Stale | OutOfRange | Replaced | None


_TIMES = ("choices_until", "offered_at", "guard_until", "until", "kept_until")


@dataclass
class ChatState:
    choices: tuple[Choice, ...] = ()
    choices_until: datetime | None = None
    offered_at: datetime | None = None  # when the current (non-empty) list was offered
    guard_until: datetime | None = None  # picks before this get Replaced (set by a push)
    expect: str | None = None  # a typed answer the chat owes, e.g. "birth" after a phone
    data: dict[str, Any] = field(default_factory=dict)
    until: datetime | None = None
    survives_push: bool = False  # the expectation outlives a pushed notice (a claim's photo)
    owed_for: float = 0.0  # seconds the answer is owed for, counted from when it is asked
    kept: dict[str, Any] = field(default_factory=dict)  # outlives steps: the last search's words
    kept_until: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        raw = asdict(self)
        raw["choices"] = [[c.label, c.action, list(c.aliases), c.joined] for c in self.choices]
        for name in _TIMES:
            value = getattr(self, name)
            raw[name] = value.isoformat() if value is not None else None
        return raw

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> ChatState:
        state = cls(
            choices=tuple(
                Choice(label, action, tuple(aliases), bool(joined))
                for label, action, aliases, joined in raw.get("choices") or ()
            ),
            expect=raw.get("expect"),
            data=dict(raw.get("data") or {}),
            survives_push=bool(raw.get("survives_push")),
            owed_for=float(raw.get("owed_for") or 0.0),
            kept=dict(raw.get("kept") or {}),
        )
        for name in _TIMES:
            value = raw.get(name)
            setattr(state, name, datetime.fromisoformat(value) if value else None)
        return state

    def expires(self, now: datetime) -> datetime | None:
        """When nothing of this state matters any more (None: already)."""
        times = [
            t
            for t in (self.choices_until, self.until, self.guard_until, self.kept_until)
            if t and t > now
        ]
        return max(times) if times else None

    def settle(self) -> None:
        """Owe nothing any more."""
        self.expect, self.data, self.until, self.survives_push, self.owed_for = (
            None, {}, None, False, 0.0
        )  # fmt: skip


class Turns:
    """One chat's updates answered one at a time, in order of arrival: a lock per chat, kept
    while anyone holds or awaits it (a lock dropped while a waiter was being woken would let
    the next update run beside that waiter, each with its own copy of the state)."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    def busy(self, chat_id: str) -> bool:
        return chat_id in self._locks

    @asynccontextmanager
    async def hold(self, chat_id: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(chat_id, (None, 0))
        lock = lock or asyncio.Lock()
        self._locks[chat_id] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[chat_id]
            if users > 1:
                self._locks[chat_id] = (lock, users - 1)
            else:
                del self._locks[chat_id]


class Dialogs:
    """The conversation state of one channel's chats: loaded from the database when a chat's
    update arrives (`load`), changed by the flows, written back when it is answered (`save`).
    Between the two the chat's state is held here; one chat's updates are answered in turn."""

    def __init__(
        self,
        db: async_sessionmaker[AsyncSession],
        channel: str,
        ttl: timedelta = CHOICES_TTL,
    ) -> None:
        self.db = db
        self.channel = channel
        self.ttl = ttl
        self._chats: dict[str, ChatState] = {}
        self._loaded: dict[str, dict[str, Any] | None] = {}
        self._pushed: dict[str, tuple[tuple[Choice, ...], datetime]] = {}  # see `push`
        self.turns = Turns()

    def turn(self, chat_id: str) -> AbstractAsyncContextManager[None]:
        """Hold the chat for one update: from `load` to `save`, nothing else answers it."""
        return self.turns.hold(chat_id)

    async def load(self, chat_id: str, now: datetime, session: AsyncSession | None = None) -> None:
        """Read the chat's stored state (in `session` when given)."""
        if session is None:
            async with reading(self.db) as own:
                raw = await DialogRepo(own).state(self.channel, chat_id, now)
        else:
            raw = await DialogRepo(session).state(self.channel, chat_id, now)
        self._loaded[chat_id] = raw
        self._chats[chat_id] = ChatState.from_json(raw) if raw else ChatState()
        if (pushed := self._pushed.pop(chat_id, None)) is not None:
            self.offer(chat_id, pushed[0], pushed[1], pushed=True)

    async def save(self, chat_id: str, now: datetime) -> None:
        """Write the chat's state back if it changed, and let go of it."""
        chat = self._chats.pop(chat_id, None)
        before = self._loaded.pop(chat_id, None)
        if chat is None:
            return
        expires = chat.expires(now)
        after = chat.to_json() if expires is not None else None
        if after == before:
            return
        async with self.db.begin() as session:
            repo = DialogRepo(session)
            if after is None or expires is None:
                await repo.forget(self.channel, chat_id)
            else:
                await repo.put(self.channel, chat_id, after, expires)

    def drop(self, chat_id: str) -> None:
        """Let go of the chat's state unsaved (its update failed)."""
        self._chats.pop(chat_id, None)
        self._loaded.pop(chat_id, None)

    async def push(self, chat_id: str, choices: Sequence[Choice], now: datetime) -> None:
        """Make a notice's choices, just sent, the chat's current ones (see `offer`).

        While an update of the chat is being answered they join the state it holds, as they
        did when it lived in memory: its save writes them, and a list its answer offers later
        replaces them (that message is the last one the person reads). Written at once else."""
        if self.turns.busy(chat_id):
            if chat_id in self._chats:
                self.offer(chat_id, choices, now, pushed=True)
            else:  # the answer has yet to read the state: offered when it does
                self._pushed[chat_id] = (tuple(choices), now)
            return
        async with self.turn(chat_id):
            await self.load(chat_id, now)
            self.offer(chat_id, choices, now, pushed=True)
            await self.save(chat_id, now)

    def state(self, chat_id: str, now: datetime) -> ChatState:
        chat = self._chats.setdefault(chat_id, ChatState())
        if chat.until is not None and chat.until <= now:
            chat.settle()
        if chat.kept_until is not None and chat.kept_until <= now:
            chat.kept, chat.kept_until = {}, None
        return chat

    def keep(self, chat_id: str, now: datetime, **values: Any) -> None:
        """Keep `values` for the chat for KEPT_TTL, whatever steps it takes meanwhile."""
        chat = self.state(chat_id, now)
        chat.kept.update(values)
        chat.kept_until = now + KEPT_TTL

    def offer(
        self, chat_id: str, choices: Sequence[Choice], now: datetime, *, pushed: bool = False
    ) -> None:
        """Make these the chat's current choices (an empty list clears them). `pushed`: a
        notice the bot started, not an answer to the user's own message."""
        chat = self.state(chat_id, now)
        recent = (
            bool(chat.choices)
            and chat.choices_until is not None
            and chat.choices_until > now
            and chat.offered_at is not None
            and now - chat.offered_at < REPLACED_GRACE
        )
        chat.guard_until = now + PUSH_GUARD if pushed and recent and choices else None
        if pushed and chat.expect is not None and not chat.survives_push:
            # A reason typed after a notice would be read as one for an older question.
            chat.settle()
        chat.choices = tuple(choices)
        chat.choices_until = now + self.ttl if choices else None
        chat.offered_at = now if choices else None

    def expect(self, chat_id: str, what: str | None, now: datetime, **data: Any) -> None:
        """Owe `what` as the chat's next message, for the dialog's TTL (None clears it)."""
        self.owe(chat_id, what, now, data)

    def owe(
        self,
        chat_id: str,
        what: str | None,
        now: datetime,
        data: Mapping[str, Any] | None = None,
        *,
        ttl: timedelta | None = None,
        survives_push: bool = False,
    ) -> None:
        """Owe `what` as the chat's next message for `ttl` (the dialog's TTL by default); a
        pushed list clears it unless `survives_push`. None clears it."""
        chat = self.state(chat_id, now)
        if what is None:
            chat.settle()
            return
        ttl = ttl or self.ttl
        chat.expect, chat.data, chat.until = what, dict(data or {}), now + ttl
        chat.survives_push, chat.owed_for = survives_push, ttl.total_seconds()

    def ask_again(self, chat_id: str, now: datetime) -> None:
        """The answer owed is owed again, as long as when first asked (the question was
        shown again, e.g. after a number that is not on its list)."""
        chat = self.state(chat_id, now)
        if chat.expect is not None:
            chat.until = now + timedelta(seconds=chat.owed_for or self.ttl.total_seconds())

    def pick(self, chat_id: str, text: str, now: datetime) -> Pick:
        """The choice `text` picks, a reason it cannot, or None when it is not a pick."""
        chat = self.state(chat_id, now)
        current = chat.choices if chat.choices_until and chat.choices_until > now else ()
        guarded = bool(current) and chat.guard_until is not None and chat.guard_until > now
        number = _NUMBER.match(text)
        if number:
            n = int(number.group(1))
            if not current:
                return Stale()
            if guarded:
                return Replaced(len(current))
            if not 1 <= n <= len(current):
                return OutOfRange(len(current))
            return Picked(current[n - 1].action)
        typed = key(text)
        if typed:
            for choice in current:
                if typed in choice.keys():
                    return Replaced(len(current)) if guarded else Picked(choice.action)
        return None


def compose(text: str, choices: Sequence[Choice], hint: str) -> str:
    """Plain text of a message and its numbered choices, with the hint under them."""
    body = plain(text)
    if not choices:
        return body
    lines = [f"{i}. {c.label}" for i, c in enumerate(choices, start=1)]
    return body + "\n\n" + "\n".join(lines) + "\n" + hint
