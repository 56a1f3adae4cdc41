"""Numbered choices instead of buttons, and what each chat is in the middle of.

Zalo bots cannot show buttons. A reply that offers choices ends with numbered lines and a
short hint; the next message picks one by its number, or by its label typed with or without
diacritics. Choices are remembered per chat for a while (in memory: a restart or the TTL
makes them stale, and a stale number gets a clear answer instead of a wrong action).

A notice the bot pushes (zalo/sender.py) also becomes the current list, which re-binds the
numbers under the user's fingers: someone answering the list they were shown a moment ago
would act on the notice instead. So a push that replaces a recent list makes picks right
after it ask again (Replaced) rather than act, and it drops any typed answer the chat owed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from html import unescape

from domain.text import fold

MAX_TEXT = 2000
CHOICES_TTL = timedelta(minutes=30)
# A push replacing a list offered less than REPLACED_GRACE ago may meet a reply meant for that
# list; for PUSH_GUARD after such a push a pick is answered with the new list instead of acted on.
REPLACED_GRACE = timedelta(minutes=10)
PUSH_GUARD = timedelta(seconds=60)
MAX_CHATS = 10_000  # forget the oldest chats beyond this (memory stays bounded)
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
    action: str  # "name:argument", dispatched by zalo.flows
    aliases: tuple[str, ...] = ()  # other texts that pick it (e.g. a course title alone)

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


@dataclass
class ChatState:
    choices: tuple[Choice, ...] = ()
    choices_until: datetime | None = None
    offered_at: datetime | None = None  # when the current (non-empty) list was offered
    guard_until: datetime | None = None  # picks before this get Replaced (set by a push)
    expect: str | None = None  # a free-text answer the chat owes, e.g. "birth" after a phone
    data: dict[str, str] = field(default_factory=dict)
    until: datetime | None = None
    survives_push: bool = False  # the expectation outlives a pushed notice (a claim's photo)


class Dialogs:
    """Per-chat conversation state, in memory."""

    def __init__(self, ttl: timedelta = CHOICES_TTL) -> None:
        self.ttl = ttl
        self._chats: dict[str, ChatState] = {}

    def state(self, chat_id: str, now: datetime) -> ChatState:
        chat = self._chats.pop(chat_id, None) or ChatState()
        self._chats[chat_id] = chat  # most recently used last
        if chat.until is not None and chat.until <= now:
            chat.expect, chat.data, chat.until, chat.survives_push = None, {}, None, False
        while len(self._chats) > MAX_CHATS:
            del self._chats[next(iter(self._chats))]
        return chat

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
            chat.expect, chat.data, chat.until, chat.survives_push = None, {}, None, False
        chat.choices = tuple(choices)
        chat.choices_until = now + self.ttl if choices else None
        chat.offered_at = now if choices else None

    def expect(self, chat_id: str, what: str | None, now: datetime, **data: str) -> None:
        """Owe `what` as the chat's next message, for the dialog's TTL (None clears it)."""
        self.owe(chat_id, what, now, data)

    def owe(
        self,
        chat_id: str,
        what: str | None,
        now: datetime,
        data: Mapping[str, str] | None = None,
        *,
        ttl: timedelta | None = None,
        survives_push: bool = False,
    ) -> None:
        """Owe `what` as the chat's next message for `ttl` (the dialog's TTL by default); a
        pushed list clears it unless `survives_push`. None clears it."""
        chat = self.state(chat_id, now)
        chat.expect, chat.data = what, dict(data or {})
        chat.until = now + (ttl or self.ttl) if what else None
        chat.survives_push = survives_push and what is not None

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
