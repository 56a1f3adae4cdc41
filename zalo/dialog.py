"""Numbered choices instead of buttons, and what each chat is in the middle of.

Zalo bots cannot show buttons. A reply that offers choices ends with numbered lines and a
short hint; the next message picks one by its number, or by its label typed with or without
diacritics. Choices are remembered per chat for a while (in memory: a restart or the TTL
makes them stale, and a stale number gets a clear answer instead of a wrong action).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from html import unescape

from domain.text import fold

MAX_TEXT = 2000
CHOICES_TTL = timedelta(minutes=30)
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


Pick = Picked | Stale | OutOfRange | None


@dataclass
class ChatState:
    choices: tuple[Choice, ...] = ()
    choices_until: datetime | None = None
    expect: str | None = None  # a free-text answer the chat owes, e.g. "birth" after a phone
    data: dict[str, str] = field(default_factory=dict)
    until: datetime | None = None


class Dialogs:
    """Per-chat conversation state, in memory."""

    def __init__(self, ttl: timedelta = CHOICES_TTL) -> None:
        self.ttl = ttl
        self._chats: dict[str, ChatState] = {}

    def state(self, chat_id: str, now: datetime) -> ChatState:
        chat = self._chats.pop(chat_id, None) or ChatState()
        self._chats[chat_id] = chat  # most recently used last
        if chat.until is not None and chat.until <= now:
            chat.expect, chat.data, chat.until = None, {}, None
        while len(self._chats) > MAX_CHATS:
            del self._chats[next(iter(self._chats))]
        return chat

    def offer(self, chat_id: str, choices: Sequence[Choice], now: datetime) -> None:
        """Make these the chat's current choices (an empty list clears them)."""
        chat = self.state(chat_id, now)
        chat.choices = tuple(choices)
        chat.choices_until = now + self.ttl if choices else None

    def expect(self, chat_id: str, what: str | None, now: datetime, **data: str) -> None:
        chat = self.state(chat_id, now)
        chat.expect, chat.data = what, dict(data)
        chat.until = now + self.ttl if what else None

    def pick(self, chat_id: str, text: str, now: datetime) -> Pick:
        """The choice `text` picks, a reason it cannot, or None when it is not a pick."""
        chat = self.state(chat_id, now)
        current = chat.choices if chat.choices_until and chat.choices_until > now else ()
        number = _NUMBER.match(text)
        if number:
            n = int(number.group(1))
            if not current:
                return Stale()
            if not 1 <= n <= len(current):
                return OutOfRange(len(current))
            return Picked(current[n - 1].action)
        typed = key(text)
        if typed:
            for choice in current:
                if typed in choice.keys():
                    return Picked(choice.action)
        return None


def compose(text: str, choices: Sequence[Choice], hint: str) -> str:
    """Plain text of a message and its numbered choices, with the hint under them."""
    body = plain(text)
    if not choices:
        return body
    lines = [f"{i}. {c.label}" for i, c in enumerate(choices, start=1)]
    return body + "\n\n" + "\n".join(lines) + "\n" + hint
