"""`boiduong demo`: chat with the real bot in a terminal, offline, as a demo civil servant.

The real Application runs with every handler, the database and the notification drainer; only
Telegram is replaced by an in-memory stand-in (bot.offline). Each line typed becomes an update
from a fixed fake user; each message the bot sends to that user's chat is printed as plain
text, with its buttons numbered so that typing a number presses one.

Lines are read from standard input one at a time, so a script works as well as a person:
`printf '1\\n/status\\n' | boiduong demo --person 020...` plays two turns and stops at EOF.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import logging
import os
import signal
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from telegram import Update
from telegram.ext import Application

from bot.app import OFFLINE_TOKEN, build_application
from bot.demo import DemoPerson, build_demo, demo_people
from bot.demo_roles import prepare_role
from bot.jobs import start_drainer
from bot.offline import OfflineBotAPI, OfflineRequest
from bot.telegram.help import set_commands
from config.settings import Settings
from storage.db import create_engine, make_sessionmaker, upgrade
from storage.models import ChatAccount, Notification, NotificationState, Person, Unit

log = logging.getLogger(__name__)

USER_ID = 700_000_001  # the fake Telegram user the operator plays; their chat has the same id
FIRST_NAME = "Demo"
SETTLE_SECONDS = 5.0  # longest wait for the drainer to deliver what an update queued
QUIT = ("/quit", "q")

# Operator-facing framing (not bot text, so not in the catalogues): Vietnamese first.
INTRO = """\
══════════════════════════════════════════════════════════════════════════
 Bồi dưỡng cán bộ, công chức cấp xã — trò chuyện thử với bot, không cần mạng
 (offline demo chat with the training bot: no Telegram, no token needed)
──────────────────────────────────────────────────────────────────────────
 Bạn nhập vai một công chức trong dữ liệu mẫu của tỉnh Lạng Sơn.
 (You play a civil servant from the Lạng Sơn sample data.)
 • Gõ số [1], [2]… để bấm nút tương ứng (type a number to press that button).
 • Gõ chữ hoặc lệnh như /status, /courses, /my, /help để gửi tin nhắn
   (type text or a command to send it as a message).
 • Thoát: /quit, q, Ctrl-D hoặc Ctrl-C (to quit).
══════════════════════════════════════════════════════════════════════════"""
ROLES = {
    "no_degree": "công chức Văn hóa - Xã hội chưa có bằng đại học "
    "(culture–social civil servant without a university degree)",
    "meets_all": "công chức Văn hóa - Xã hội đạt mọi tiêu chuẩn "
    "(culture–social civil servant who meets every standard)",
    "chairperson": "Chủ tịch UBND xã (commune chairperson)",
}
PICK_PERSON = "Chọn người để nhập vai, hoặc gõ số CCCD (pick whom to play, or a personal ID) [1]: "
ASK_ID = "Nhập số CCCD của người cần nhập vai (enter the personal ID to play): "
NOT_FOUND = "Không có số CCCD {pid} trong cơ sở dữ liệu (personal ID not in the database)."
BAD_CHOICE = "Không có lựa chọn [{n}] (no such choice); hãy chọn 1–{k} (pick 1–{k})."
PLAYING = "Bạn là (you are): {name} — {unit} · CCCD {pid} · ĐT {phone}"
ROLE_NOTE = {
    "organizer": "Vai trò: cán bộ phụ trách bồi dưỡng của tỉnh Lạng Sơn (role: training "
    "organizer of the province) — thử /organize, /claims, /attendance, /nominate, /broadcast, "
    "/report",
    "unit_head": "Vai trò: thủ trưởng đơn vị, Huyện Tràng Định (role: unit head of the "
    "district) — thử /nominate và duyệt đăng ký (try /nominate and approvals)",
    "admin": "Vai trò: quản trị viên (role: administrator) — thử /grant, /audit và mọi lệnh "
    "của cán bộ phụ trách bồi dưỡng (and every organizer command)",
}
BUILDING = "Đang tạo dữ liệu mẫu tại {path} (building the demo data)…"
BUILT = "Đã tạo (built): {units} đơn vị (units), {people} người (people), {courses} khóa học."
CONTACT_NOTE = "(gửi số điện thoại của {name}: {phone} — shares the demo person's phone)"
BOT = "🤖 Bot:"
EDITED = "✏️ Bot, sửa tin nhắn (edited):"
NOTICE = "💬 Thông báo (notice):"
KEYBOARD = "⌨️  Bàn phím (keyboard):"
GONE = "Nút này không còn nữa (that button is gone)."
BYE = "Tạm biệt! (goodbye)"


@dataclass(frozen=True)
class Choice:
    """A numbered button: what pressing it sends."""

    label: str
    kind: str  # "callback" | "text" | "contact"
    data: str = ""  # callback data or text to send
    message_id: int = 0  # the message that carries an inline button


async def run_demo(
    db_path: Path,
    *,
    fresh: bool,
    personal_id: str | None,
    lang: str,
    settings: Settings,
    role: str | None = None,
) -> int:
    """Open (or build) the demo database and chat with the bot until EOF or /quit."""
    if fresh:
        _remove_database(db_path)
    engine = create_engine(f"sqlite+aiosqlite:///{db_path}")
    lines = _Lines(sys.stdin)
    try:
        await upgrade(engine)
        db = make_sessionmaker(engine)
        suggested = await _prepare(db, db_path, settings.tz)
        print(INTRO)
        if role is not None:
            async with db.begin() as session:
                person: DemoPerson | None = await prepare_role(
                    session, role=role, now=datetime.now(UTC), tz=settings.tz
                )
        else:
            person = await _choose(db, suggested, personal_id, lines)
        if person is None:
            return 1 if personal_id else 0
        print(PLAYING.format(name=person.name, unit=person.unit, pid=person.personal_id,
                             phone=person.phone))  # fmt: skip
        if role is not None:
            print(ROLE_NOTE[role])
        await _forget_someone_else(db, person)
        return await _chat(settings, engine, person, lang, lines)
    finally:
        lines.close()
        await engine.dispose()


async def _forget_someone_else(db: async_sessionmaker[AsyncSession], person: DemoPerson) -> None:
    """The demo chat is one fake user: when it was linked to another person in an earlier run,
    unlink it, so that the person chosen now is the one in the chat (they share their phone
    again, as on first use)."""
    async with db.begin() as session:
        account = (
            await session.execute(
                select(ChatAccount).where(
                    ChatAccount.channel == "telegram", ChatAccount.chat_user_id == str(USER_ID)
                )
            )
        ).scalar_one_or_none()
        chosen = (
            await session.execute(
                select(Person.id).where(Person.personal_id == person.personal_id)
            )
        ).scalar_one_or_none()
        if account is not None and account.person_id not in (None, chosen):
            account.person_id = None
            account.linked_at = None


def _remove_database(db_path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)


async def _prepare(
    db: async_sessionmaker[AsyncSession], db_path: Path, tz: ZoneInfo
) -> list[DemoPerson]:
    """Build the demo when the database has nobody in it; the suggested people either way."""
    now = datetime.now(UTC)
    async with db.begin() as session:
        people = (await session.execute(select(func.count()).select_from(Person))).scalar_one()
        if people:
            return await demo_people(session, now=now, tz=tz)
        print(BUILDING.format(path=db_path))
        info = await build_demo(session, now=now, tz=tz)
    print(BUILT.format(units=info.units, people=info.people, courses=info.courses))
    return info.suggested


async def _choose(
    db: async_sessionmaker[AsyncSession],
    suggested: list[DemoPerson],
    personal_id: str | None,
    lines: _Lines,
) -> DemoPerson | None:
    """The person to play: --person, or a suggestion picked by number, or a typed ID."""
    if personal_id is not None:
        found = await _person(db, personal_id)
        if found is None:
            print(NOT_FOUND.format(pid=personal_id), file=sys.stderr)
        return found
    if suggested:
        print("\nGợi ý (suggested people):")
        for index, p in enumerate(suggested, 1):
            print(f"  [{index}] {p.name} — {ROLES.get(p.role, p.role)}")
            print(f"      {p.unit} · CCCD {p.personal_id} · ĐT {p.phone}")
    while True:
        line = await lines.read(PICK_PERSON if suggested else ASK_ID)
        if line is None or line.lower() in QUIT:
            return None
        if suggested and not line:
            return suggested[0]
        if suggested and line.isdigit() and 1 <= int(line) <= len(suggested):
            return suggested[int(line) - 1]
        found = await _person(db, line) if line else None
        if found is not None:
            return found
        print(NOT_FOUND.format(pid=line))


async def _person(db: async_sessionmaker[AsyncSession], personal_id: str) -> DemoPerson | None:
    stmt = (
        select(Person.personal_id, Person.full_name, Person.phone, Unit.name)
        .join(Unit, Unit.id == Person.unit_id)
        .where(Person.personal_id == personal_id.strip())
    )
    async with db.begin() as session:
        row = (await session.execute(stmt)).first()
    return None if row is None else DemoPerson("", row[0], row[1], row[2] or "", row[3])


class _Lines:
    """Input lines. A terminal is watched without blocking the event loop, so the JobQueue (and
    with it the notification drainer) keeps running while the operator thinks; a pipe, a file
    or a StringIO is read synchronously, since its lines are already there."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        try:
            self.interactive = stream.isatty()
        except (AttributeError, ValueError):
            self.interactive = False
        self._pending = ""
        self._eof = False
        self._interrupted = False
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._watching: bool | None = None

    async def read(self, prompt: str = "> ") -> str | None:
        """The next line, stripped, or None at EOF, Ctrl-D or Ctrl-C."""
        if not self.interactive:
            line = self.stream.readline()
            if not line:
                return None
            print(f"{prompt}{line.rstrip()}")  # echo, so a transcript shows what was "typed"
            return line.strip()
        print(prompt, end="", flush=True)
        if self._watch():
            got = await self._terminal_line()
        else:  # no add_reader on this platform's loop: block, the drainer waits meanwhile
            got = self.stream.readline() or None
        if got is None:
            print()
        return None if got is None else got.strip()

    def _watch(self) -> bool:
        if self._watching is None:
            self._loop = asyncio.get_running_loop()
            fd = self.stream.fileno()
            decode = codecs.getincrementaldecoder(self.stream.encoding or "utf-8")(
                errors="replace"
            ).decode

            def readable() -> None:
                chunk = os.read(fd, 4096)
                self._eof = not chunk
                self._pending += decode(chunk, self._eof)
                self._wake.set()

            try:
                self._loop.add_reader(fd, readable)
                self._watching = True
            except NotImplementedError:
                self._watching = False
            # Ctrl-C ends the chat like /quit once the current update is done, not mid-update.
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                self._loop.add_signal_handler(signal.SIGINT, self._interrupt)
        return self._watching

    async def _terminal_line(self) -> str | None:
        while "\n" not in self._pending and not self._eof and not self._interrupted:
            self._wake.clear()
            await self._wake.wait()
        if self._interrupted:
            return None
        if "\n" in self._pending:
            line, self._pending = self._pending.split("\n", 1)
            return line
        line, self._pending = self._pending, ""  # Ctrl-D after a partial line sends it
        return line or None

    def _interrupt(self) -> None:
        self._interrupted = True
        self._wake.set()

    def close(self) -> None:
        if self._loop is None:
            return
        with contextlib.suppress(Exception):
            self._loop.remove_reader(self.stream.fileno())
        with contextlib.suppress(Exception):
            self._loop.remove_signal_handler(signal.SIGINT)


async def _chat(
    settings: Settings, engine: AsyncEngine, person: DemoPerson, lang: str, lines: _Lines
) -> int:
    """Run the real application against the in-memory Telegram and relay the conversation."""
    # Never put a real token into fake traffic: the offline bot has its own.
    offline = settings.model_copy(update={"bot_token": None})
    api = OfflineBotAPI(OFFLINE_TOKEN)
    app = build_application(offline, engine, request=OfflineRequest(api), rate_limit=False)
    chat = _Conversation(api, person, lang, make_sessionmaker(engine))
    # The user has "started the bot" before: a reminder due at start-up can reach their chat.
    api.add_user(chat.user)
    async with app:
        await app.start()
        try:
            # What _post_init does under run_polling (the schema is already current).
            await set_commands(app)
            start_drainer(app)
            await chat.send(app, "/start")
            while True:
                line = await lines.read()
                if line is None or line.lower() in QUIT:
                    break
                if line:
                    await chat.send(app, line)
        finally:
            await app.stop()
    print(BYE)
    return 0


class _Conversation:
    """The operator's side of the chat: lines become updates, the bot's output is printed."""

    def __init__(
        self,
        api: OfflineBotAPI,
        person: DemoPerson,
        lang: str,
        db: async_sessionmaker[AsyncSession],
    ) -> None:
        self.api = api
        self.person = person
        self.db = db
        self.user = {"id": USER_ID, "is_bot": False, "first_name": FIRST_NAME,
                     "language_code": lang}  # fmt: skip
        self.seen_calls = 0
        self.seen_messages: set[int] = set()
        self.inline: list[Choice] = []  # buttons of the latest output, numbered first
        self.keyboard_hidden = False  # a one-time keyboard hides once a button is used

    async def send(self, app: Application[Any, Any, Any, Any, Any, Any], line: str) -> None:
        """Send one line as the user, wait for what it set off, and print the bot's answer."""
        update = self._update_for(line)
        if update is None:
            return
        await app.process_update(Update.de_json(update, app.bot))
        await self._settle()
        self._show()

    def choices(self) -> list[Choice]:
        return self.inline + [key for row in self._keyboard() for key in row]

    def _update_for(self, line: str) -> dict[str, Any] | None:
        choices = self.choices()
        if not (line.isdigit() and choices):
            return self.api.message_update(self.user, line)
        number = int(line)
        if not 1 <= number <= len(choices):
            print(BAD_CHOICE.format(n=number, k=len(choices)))
            return None
        choice = choices[number - 1]
        if choice.kind == "callback":
            try:
                return self.api.callback_update(self.user, choice.message_id, choice.data)
            except (LookupError, ValueError):  # the message or its button is gone
                print(GONE)
                return None
        keyboard = self.api.reply_keyboard(USER_ID) or {}
        self.keyboard_hidden = bool(keyboard.get("one_time_keyboard"))
        if choice.kind == "contact":
            # Telegram clients send the number in international form without "+".
            phone = "84" + self.person.phone[1:] if self.person.phone else ""
            return self.api.contact_update(self.user, phone, USER_ID)
        return self.api.message_update(self.user, choice.data)

    async def _settle(self) -> None:
        """Wait until the drainer has delivered what is due, e.g. a waitlist promotion."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SETTLE_SECONDS
        busy = (NotificationState.PENDING, NotificationState.SENDING)
        while loop.time() < deadline:
            stmt = select(func.count()).where(
                Notification.state.in_(busy), Notification.due_at <= datetime.now(UTC)
            )
            async with self.db() as session:
                if not (await session.execute(stmt)).scalar_one():
                    return
            await asyncio.sleep(0.1)
        log.warning("notifications still pending after %.0f s", SETTLE_SECONDS)

    def _show(self) -> None:
        """Print what the bot did in our chat since the last turn, in the order it did it."""
        calls, self.seen_calls = self.api.calls[self.seen_calls :], len(self.api.calls)
        visible = {int(m["message_id"]): m for m in self.api.sent_to(USER_ID)}
        fresh = iter(sorted(set(visible) - self.seen_messages))
        self.seen_messages |= set(visible)
        printed: set[int] = set()
        inline: list[Choice] = []
        for name, params in calls:
            if name == "answerCallbackQuery":
                if params.get("text"):
                    print(f"\n{NOTICE} {params['text']}")
                continue
            if params.get("chat_id") != USER_ID:
                continue  # another person's chat (a promoted waitlister, for one)
            if (
                isinstance(params.get("reply_markup"), dict)
                and "keyboard" in params["reply_markup"]
            ):
                self.keyboard_hidden = False  # a new reply keyboard shows up again
            if name.startswith("send") and name != "sendChatAction":
                message_id, edited = next(fresh, 0), False
            elif name.startswith("editMessage"):
                message_id, edited = int(params.get("message_id", 0)), True
            else:
                continue
            message = visible.get(message_id)
            if message is None or message_id in printed:
                continue  # deleted since, or sent and edited within this turn: shown once
            printed.add(message_id)
            inline += self._print_message(message, edited=edited, numbered=len(inline))
        if printed:
            self.inline = inline
        elif self.inline:  # nothing new (only a notice): remind what can still be pressed
            print("\n" + "   ".join(f"[{i}] {c.label}" for i, c in enumerate(self.inline, 1)))
        self._print_keyboard()

    def _print_message(
        self, message: dict[str, Any], *, edited: bool, numbered: int
    ) -> list[Choice]:
        """Print one message (its text is already plain: the API parsed the HTML) and its
        inline buttons; returns those buttons as choices."""
        print(f"\n{EDITED if edited else BOT}")
        if "document" in message:
            print(f"[file: {message['document'].get('file_name', '?')}]")
        body = message.get("text") or message.get("caption")
        if body:
            print(body)
        found: list[Choice] = []
        markup = message.get("reply_markup") or {}
        for row in markup.get("inline_keyboard", []):
            labels = []
            for button in row:
                found.append(
                    Choice(button["text"], "callback", button.get("callback_data", ""),
                           int(message["message_id"]))
                )  # fmt: skip
                labels.append(f"[{numbered + len(found)}] {button['text']}")
            print("  " + "   ".join(labels))
        return found

    def _keyboard(self) -> list[list[Choice]]:
        """The reply keyboard the user's client shows now, as choices."""
        keyboard = None if self.keyboard_hidden else self.api.reply_keyboard(USER_ID)
        if not keyboard:
            return []
        return [[self._key(button) for button in row] for row in keyboard.get("keyboard", [])]

    def _key(self, button: Any) -> Choice:
        if isinstance(button, str):
            return Choice(button, "text", button)
        if button.get("request_contact"):
            note = CONTACT_NOTE.format(name=self.person.name, phone=self.person.phone)
            return Choice(f"{button['text']} {note}", "contact")
        return Choice(button["text"], "text", button["text"])

    def _print_keyboard(self) -> None:
        rows = self._keyboard()
        if not rows:
            return
        number = len(self.inline)
        print(KEYBOARD)
        for row in rows:
            labels = []
            for key in row:
                number += 1
                labels.append(f"[{number}] {key.label}")
            print("  " + "   ".join(labels))
