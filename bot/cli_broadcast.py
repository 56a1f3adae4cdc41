"""`boiduong broadcast`: send a message to an audience from the command line.

The operator acts everywhere (like the other administration commands) and is audited as
`cli:<login>`. The command writes the broadcast and its delivery rows; the running bot sends
them at its pace. Like the other console commands: Vietnamese with English in brackets.

A photo or document is sent by its Telegram file id, which exists only once Telegram has the
file: the command uploads it with the preview it sends to the organizer (`--report-to`) before
asking, and keeps the id Telegram gives back. Every check that needs no network runs before the
draft is written; once written, the draft is deleted again unless the broadcast is confirmed (a
preview Telegram refuses, "N" at the question, Ctrl+C, a refused confirmation), so nothing is
left.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import Bot, InputFile
from telegram.error import Forbidden, TelegramError
from telegram.request import HTTPXRequest

from bot.cli_admin import operator
from bot.telegram.sender import post
from config.settings import Settings
from domain import broadcasts, rich_text
from domain.errors import DomainError, Refusal
from domain.recipients import Audience
from handlers.core import Upload
from locales import Translator, pick_language
from schedules.broadcasts import content_of
from schedules.broadcasts import message as broadcast_message
from storage.db import create_engine, make_sessionmaker, upgrade
from storage.models import Broadcast
from storage.repos.accounts import AccountRepo
from storage.repos.people import PeopleRepo

OK, INVALID = 0, 1
MB = 1024 * 1024
# What Telegram accepts from a bot: photos up to 10 MB, other files up to 50 MB.
UPLOAD_LIMITS = {"photo": 10 * MB, "document": 50 * MB}
KINDS_VI = {"photo": "ảnh", "document": "tài liệu"}
# 50 MB on a slow office line; the default 20 s would give up on anything large.
UPLOAD_SECONDS = 300.0

_PROBLEMS = {
    "unit": "Không có đơn vị (no such unit)",
    "position": "Không có chức danh (no such position)",
    "course": "Không có khóa học (no such course)",
    "rule": "Không có tiêu chuẩn đang áp dụng (no such active standard)",
    "empty": "Nội dung trống (the text is empty)",
    "too_long": "Nội dung quá dài, tối đa 4096 ký tự (the text is too long)",
    "caption_too_long": "Nội dung quá dài, tối đa 1024 ký tự khi kèm ảnh hoặc tài liệu "
    "(the caption is too long: at most 1024 characters with a photo or document)",
    "past": "Thời điểm đã qua (that time is past)",
    "nobody": "Không có ai thuộc đối tượng này (nobody matches this audience)",
}


_HTML_ISSUES = {
    "bare_lt": "dấu “<” không mở thẻ nào, hãy viết &lt; (a bare “<”: write &lt;)",
    "bare_amp": "dấu “&” không mở thực thể nào, hãy viết &amp; (a bare “&”: write &amp;)",
    "unknown_tag": "thẻ <{tag}> không được Telegram hỗ trợ (tag <{tag}> is not supported)",
    "bad_attribute": "thẻ <{tag}> có thuộc tính không hợp lệ (tag <{tag}> has attributes "
    "Telegram does not accept)",
    "unclosed": "thẻ <{tag}> chưa được đóng (tag <{tag}> is never closed)",
    "misnested": "thẻ </{tag}> đóng trước các thẻ mở bên trong nó (</{tag}> closes before "
    "the tags opened inside it)",
    "stray_close": "thẻ </{tag}> không có thẻ mở tương ứng (</{tag}> closes no open tag)",
}


def _html_problem(problem: rich_text.Problem) -> str:
    what = _HTML_ISSUES[problem.issue.value].format(tag=problem.tag)
    return (f"Nội dung HTML không hợp lệ (the HTML is not valid): {what}, tại ký tự (at "
            f"character) {problem.at}: {problem.near!r}")  # fmt: skip


class Invalid(Exception):
    """A reason to stop before anything is written, worded for the console."""


@dataclasses.dataclass(frozen=True)
class Media:
    kind: str  # "photo" or "document", as the broadcast stores it
    name: str
    content: bytes


def _problem(error: DomainError, media: bool = False) -> str:
    what = str(error.details.get("problem", error.code.value))
    if what == "html":  # checked before already; the domain checks again for every caller
        d = error.details
        issue = rich_text.Issue(str(d["issue"]))
        at, tag, near = int(str(d["at"])), str(d["tag"]), str(d["near"])
        return _html_problem(rich_text.Problem(issue, tag, at, near))
    if what == "too_long" and media:
        what = "caption_too_long"
    value = error.details.get("value")
    return _PROBLEMS.get(what, what) + (f": {value}" if value else "")


def read_media(
    photo: Path | None, document: Path | None, *, report_to: str | None, token: str | None
) -> Media | None:
    """The file to send with the broadcast, read and checked; raises Invalid with the reason."""
    if photo is not None and document is not None:
        raise Invalid("Chỉ một tệp (one file only): --photo hoặc (or) --document")
    kind, path = ("photo", photo) if photo is not None else ("document", document)
    if path is None:
        return None
    if not report_to:
        raise Invalid(f"--{kind} cần (needs) --report-to PERSONAL_ID: bản xem trước gửi tới người "
                      "đó trên Telegram (the preview goes to that person on Telegram, which "
                      "gives the file its id)")  # fmt: skip
    if not token:
        raise Invalid(f"--{kind} cần BOT_TOKEN trong cấu hình (needs BOT_TOKEN in the settings: "
                      "Telegram must receive the file)")  # fmt: skip
    try:
        size = path.stat().st_size
        if size > UPLOAD_LIMITS[kind]:
            raise Invalid(f"Tệp quá lớn (the file is too large): {path}, {size / MB:.1f} MB; "
                          f"{KINDS_VI[kind]} tối đa (a {kind} at most) "
                          f"{UPLOAD_LIMITS[kind] // MB} MB")  # fmt: skip
        content = path.read_bytes()
    except FileNotFoundError:
        raise Invalid(f"Không có tệp (no such file): {path}") from None
    except OSError as error:
        raise Invalid(f"Không đọc được tệp (cannot read the file) {path}: {error.strerror}") \
            from None  # fmt: skip
    if not content:
        raise Invalid(f"Tệp rỗng (the file is empty): {path}")
    return Media(kind, path.name, content)


async def preview(
    settings: Settings, chat_id: str, language: str | None, draft: Broadcast, media: Media
) -> str:
    """Send the broadcast to the organizer as recipients will see it, uploading the file;
    the file id Telegram gives it (the largest size of a photo)."""
    # post hands the file to send_photo/send_document, which take an upload as well.
    upload = Upload(media.kind, cast(str, InputFile(media.content, filename=media.name)))
    content = dataclasses.replace(content_of(draft), upload=upload)
    t = Translator(pick_language(language, None, settings.default_language), settings.tz)
    request = HTTPXRequest(read_timeout=60.0, media_write_timeout=UPLOAD_SECONDS)
    assert settings.token is not None  # read_media checked it
    async with Bot(settings.token, base_url=settings.telegram_base_url, request=request,
                   base_file_url=settings.telegram_base_file_url) as bot:  # fmt: skip
        message = await post(bot, chat_id, broadcast_message(t, content, media=True))
    if message.photo:
        return message.photo[-1].file_id
    if message.document:
        return message.document.file_id
    raise TelegramError("the answer holds no file")


async def _with_preview(
    db: async_sessionmaker[AsyncSession], settings: Settings, draft: Broadcast, media: Media,
    chat_id: str, language: str | None,
) -> TelegramError | None:  # fmt: skip
    """Preview the draft and keep the file id on it; the refusal if Telegram refuses (the
    caller then discards the draft)."""
    try:
        file_id = await preview(settings, chat_id, language, draft, media)
    except TelegramError as error:
        return error
    async with db.begin() as session:
        await broadcasts.attach_file(session, actor_person_id=None, broadcast_id=draft.id,
                                     media_file_id=file_id, operator=True)  # fmt: skip
    return None


async def _discard(db: async_sessionmaker[AsyncSession], draft: int) -> None:
    """Delete a draft that will not be sent (a draft has no delivery rows or audit yet)."""
    async with db.begin() as session:
        await broadcasts.discard_draft(session, actor_person_id=None, broadcast_id=draft,
                                       operator=True)  # fmt: skip


def _refused(report_to: str, error: TelegramError) -> str:
    if isinstance(error, Forbidden):
        return (f"{report_to} đã chặn bot, không gửi được bản xem trước (has blocked the bot: "
                "the preview could not be sent)")  # fmt: skip
    return f"Telegram không nhận bản xem trước (Telegram refused the preview): {error.message}"


async def cmd_broadcast(
    settings: Settings,
    *,
    text: str,
    units: Sequence[str],
    positions: Sequence[str],
    missing: str | None,
    course: str | None,
    waitlist: bool,
    ack: bool,
    at: str | None,
    everyone: bool,
    yes: bool,
    report_to: str | None = None,
    photo: Path | None = None,
    document: Path | None = None,
) -> int:
    """Count the audience, show a file's preview, ask (unless --yes), then create the broadcast
    for the bot to send."""
    audience = Audience(tuple(units), tuple(positions), missing, course, waitlist)
    if audience.everyone and not everyone:
        print("Chọn đối tượng (choose an audience): --unit, --position, --missing, --course, "
              "hoặc (or) --everyone", file=sys.stderr)  # fmt: skip
        return INVALID
    if waitlist and not course:
        print("--waitlist cần (needs) --course CODE", file=sys.stderr)
        return INVALID
    if (wrong := rich_text.problem(text)) is not None:  # before anything is written
        print(_html_problem(wrong), file=sys.stderr)
        return INVALID
    send_at = broadcasts.parse_local(at, settings.tz) if at else None
    if at and send_at is None:
        print(f"Thời điểm không hợp lệ (not a time like 05/12/2026 07:30): {at}", file=sys.stderr)
        return INVALID
    try:
        media = await asyncio.to_thread(read_media, photo, document, report_to=report_to,
                                        token=settings.token)  # fmt: skip
    except Invalid as problem:
        print(problem, file=sys.stderr)
        return INVALID
    now = datetime.now(UTC)
    kw: dict[str, Any] = {"now": now, "today": now.astimezone(settings.tz).date(),
          "hours_target": settings.annual_hours_target}  # fmt: skip
    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
        db = make_sessionmaker(engine)
        async with db.begin() as session:
            chat_id, language = None, None
            if report_to:
                person = await PeopleRepo(session).by_personal_id(report_to)
                account = await AccountRepo(session).linked_to("telegram", person.id) if person \
                    else None  # fmt: skip
                if account is None:
                    print(f"{report_to} chưa liên kết bot (is not linked to the bot)",
                          file=sys.stderr)  # fmt: skip
                    return INVALID
                chat_id, language = account.chat_id, account.language
            draft = await broadcasts.create_draft(
                session, actor_person_id=None, text=text,
                plain_length=len(rich_text.plain_text(text).strip()),
                media_kind=media.kind if media else None, report_chat_id=chat_id, operator=True,
            )  # fmt: skip
            counted = await broadcasts.choose_audience(
                session, actor_person_id=None, broadcast_id=draft, audience=audience,
                operator=True, **kw,
            )  # fmt: skip
            await broadcasts.ask_ack(session, actor_person_id=None, broadcast_id=draft, on=ack,
                                     operator=True, **kw)  # fmt: skip
            written = await broadcasts.get(session, actor_person_id=None, broadcast_id=draft,
                                           operator=True)  # fmt: skip
        confirmed = False
        try:
            if media is not None:
                assert chat_id is not None and report_to is not None  # read_media checked both
                refused = await _with_preview(db, settings, written, media, chat_id, language)
                if refused is not None:
                    print(_refused(report_to, refused), file=sys.stderr)
                    return INVALID
                print(f"Đã gửi bản xem trước tới (preview sent to) {report_to} trên Telegram.")
            print(f"Số người nhận (recipients): {counted.total}, đã liên kết bot (linked to the "
                  f"bot): {counted.linked}")  # fmt: skip
            answer = "y" if yes else await asyncio.to_thread(input, "Gửi? (send?) [y/N] ")
            if answer.strip().lower() not in ("y", "yes", "c", "co"):
                print("Đã bỏ (nothing sent).")
                return INVALID
            async with db.begin() as session:
                done = await broadcasts.confirm(
                    session, actor_person_id=None, broadcast_id=draft, send_at=send_at,
                    policy=settings.reminder_policy(), actor=operator(), operator=True, **kw,
                )  # fmt: skip
            confirmed = True
        finally:
            # Whatever stops the command before the confirmation took (an answer other than
            # yes, Ctrl+C, a refusal, an error), the draft goes: the module's promise.
            if not confirmed:
                await _discard(db, draft)
    except DomainError as error:
        if error.code == Refusal.NOT_FOUND or error.details.get("problem"):
            print(_problem(error, media is not None), file=sys.stderr)
            return INVALID
        raise
    finally:
        await engine.dispose()
    when = done.starts_at.astimezone(settings.tz).strftime("%d/%m/%Y %H:%M")
    print(f"Thông báo #{done.broadcast_id}: {done.total} người, gửi từ (sending from) {when}"
          + (" — sau giờ yên tĩnh (after the quiet hours)" if done.moved_by_quiet_hours else ""))
    print("Bot đang chạy sẽ gửi (the running bot sends it).")
    return OK
