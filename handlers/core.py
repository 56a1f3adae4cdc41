"""What a flow reads (`Ctx`) and what it answers (`Say`), for every channel alike.

A flow is `async def flow(ctx, arg) -> list[Say]`: `arg` is what follows the action's name in
a picked choice ("r:42" → "42"), a command's text, or the text typed at an owed step. It
calls the domain in one transaction and returns messages; an adapter renders them (Telegram:
HTML, inline keyboards, documents; Zalo and the console: plain text with numbered choices).
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config.settings import Settings
from handlers.dialog import ChatState, Choice, Dialogs
from locales import Translator

__all__ = [
    "Choice", "Contact", "Ctx", "DownloadFailed", "Downloaded", "Fetch", "File", "Flow", "Menu",
    "Say", "Upload",
]
APPS = {"telegram": "Telegram", "zalo": "Zalo"}  # a channel's name as people call the app


class Menu(enum.Enum):
    """The standing menu under the input field, where a channel has one (Telegram)."""

    MAIN = "main"  # standards, courses, registrations, help
    CONTACT = "contact"  # share my phone number (linking)
    REMOVE = "remove"  # no menu (after unlinking)


@dataclass(frozen=True)
class File:
    name: str
    content: bytes
    caption: str = ""
    instead: str = ""  # the text a channel that cannot send files shows in its place
    ref: str = ""  # the channel's own id of a file it holds (a Telegram file id): sent by it
    photo: bool = False  # shown as a picture where the channel can (else sent as a file)
    # The Say's text is the file's caption and its choices sit under it, as one message
    # (a claim's evidence under its card), where the channel can.
    attached: bool = False


@dataclass
class Say:
    """One message: HTML of our catalogue (made plain where a channel has no markup). An
    `edit` without text changes only the choices under the picked message."""

    text: str = ""
    choices: list[Choice] = field(default_factory=list)
    chat_id: str | None = None  # another chat of the same channel (e.g. one that lost a link)
    # Replaces the message whose choice was picked, where a channel can; without text only
    # its choices change (none: they are removed).
    edit: bool = False
    alert: str | None = None  # a short notice answering the pick (a pop-up on Telegram)
    file: File | None = None  # sent after the text, where the channel can send files
    menu: Menu | None = None
    # The message is this photo or document, `text` its caption (channels with `files`).
    upload: Upload | None = None

    def rows(self) -> list[list[Choice]]:
        """The choices in rows: a `joined` choice sits beside the one before it."""
        rows: list[list[Choice]] = []
        for choice in self.choices:
            if choice.joined and rows:
                rows[-1].append(choice)
            else:
                rows.append([choice])
        return rows


@dataclass(frozen=True)
class Contact:
    """A contact card the person shared (Telegram's "share my phone number" button)."""

    phone: str
    user_id: str | None  # the channel's id of the card's owner: the sender's own for their card


Wake = Callable[[], None]


@dataclass
class Ctx:
    """Who is talking, on which channel, and what the flow may use."""

    settings: Settings
    db: async_sessionmaker[AsyncSession]
    dialogs: Dialogs
    channel: str
    chat_id: str
    user_id: str
    account_id: int
    person_id: int | None
    t: Translator
    now: datetime
    wake: Wake = lambda: None  # new notification rows were queued: deliver them soon
    # What the channel can do, set once by its adapter: flows word their answers by these,
    # never by the channel's name.
    buttons: bool = False  # choices are buttons that can edit their message, and a /commands
    # menu; else numbered lines and words typed instead of commands
    files: bool = False  # sends and receives photos and documents (a PDF, a sheet), choices under
    # them; else a File is shown as its `instead`, a broadcast as its text, and only photos come
    contact: bool = False  # a button that shares the person's phone number
    # The step this message left (router.owed), so that a picked choice continues it.
    left: tuple[str, dict[str, Any]] | None = None
    # The formatting of a typed answer (or of a sent file's caption) as our HTML, where the
    # channel has it.
    html: str | None = None
    # Chats of this channel that stopped speaking for their person in this update (unlinked,
    # or their link moved elsewhere): an adapter resets what it showed them for that person.
    unlinked: list[str] = field(default_factory=list)

    @property
    def _(self) -> Callable[[str], str]:
        return self.t.gettext

    @property
    def actor(self) -> str:
        """How the audit log names who acted: "telegram:123", "zalo:abc", "cli:user"."""
        return f"{self.channel}:{self.user_id}"

    @property
    def app(self) -> str:
        """The app this chat is in, as people call it ("Telegram", "Zalo")."""
        return APPS.get(self.channel, self.channel.capitalize())

    @property
    def dialog(self) -> ChatState:
        return self.dialogs.state(self.chat_id, self.now)

    def expect(self, what: str | None, **data: object) -> None:
        """Owe `what` (a step name, "feature.step") as the chat's next typed message."""
        self.dialogs.owe(self.chat_id, what, self.now, data)

    def step(self, prefix: str) -> tuple[str, dict[str, Any]] | None:
        """The step of a feature (`prefix`, e.g. "newcourse.") the chat owes, with its data, or
        the one it owed until this message: a channel without buttons (Zalo) leaves the step
        when a number picks a choice, and the choice's flow continues from it."""
        state = self.dialog
        if state.expect is not None and state.expect.startswith(prefix):
            return state.expect, dict(state.data)
        if self.left is not None and self.left[0].startswith(prefix):
            return self.left[0], dict(self.left[1])
        return None


Flow = Callable[[Ctx, str], Awaitable[list[Say]]]


class DownloadFailed(Exception):
    """A file in an update could not be fetched: gone, too large, not an image, or too slow.

    `reason` is TOO_LARGE or NOT_A_PHOTO when the sender can do something about it."""

    TOO_LARGE, NOT_A_PHOTO = "too_large", "not_a_photo"

    def __init__(self, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Downloaded:
    content: bytes
    filename: str
    mime: str


# The bytes of a file sent in chat, refused (DownloadFailed TOO_LARGE) over `limit` bytes.
Fetch = Callable[[int], Awaitable[Downloaded]]


@dataclass(frozen=True)
class Upload:
    """A photo or document a person sent, as the channel holds it: by the id it gave it
    (Telegram's file_id), by which it can be sent again; its bytes are fetched only when a
    flow needs them (where the channel keeps no id, as Zalo, they are all there is)."""

    kind: str  # "photo" (re-encoded by a channel that gives it an id) | "document"
    file_id: str = ""
    size: int | None = None  # as the channel states it, before anything is downloaded
    fetch: Fetch | None = None
    name: str = ""  # a document's file name, as the sender gave it
    caption: str = ""  # the text sent with it
