"""`boiduong broadcast --photo/--document`: the file reaches Telegram with the organizer's preview,
and every recipient gets the same file id; every refusal leaves no broadcast behind.

Against the local stand-in Bot API (tests/standin.py), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import os
import struct
import sys
import threading
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.cli_broadcast import cmd_broadcast
from bot.telegram.sender import TelegramSender
from config.settings import Settings
from schedules.broadcasts import drain_broadcasts
from schedules.pacing import Pacer
from storage.db import make_sessionmaker
from storage.models import Broadcast, BroadcastDelivery, BroadcastStatus
from tests.factories import make_account, make_person, make_unit
from tests.harness import build, button_data
from tests.standin import StandInBotAPI

ROOT = Path(__file__).resolve().parents[1]
ORGANIZER, RECIPIENTS = 100, (301, 302, 303)
ORGANIZER_ID = "001090000100"
CAPTION = "<b>Lịch họp</b> tuần sau, xem ảnh"
SHOWN = "Lịch họp tuần sau, xem ảnh"  # as Telegram renders it


def user(uid: int) -> dict[str, Any]:
    return {"id": uid, "is_bot": False, "first_name": "U", "language_code": "vi"}


def png(width: int = 4, height: int = 3) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\xcc\x20\x20" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))  # fmt: skip


async def people(db: async_sessionmaker[AsyncSession], srv: StandInBotAPI) -> None:
    """The organizer in the district; three linked people in the commune LS-X9."""
    async with db.begin() as s:
        district = await make_unit(s, code="LS-TD", kind="district")
        commune = await make_unit(s, code="LS-X9", parent=district)
        org = await make_person(s, unit=district, personal_id=ORGANIZER_ID, full_name="Trần Tổ")
        await make_account(s, person=org, chat_user_id=str(ORGANIZER), language="vi")
        for uid in RECIPIENTS:
            person = await make_person(s, unit=commune, full_name=f"Người Nhận {uid}")
            await make_account(s, person=person, chat_user_id=str(uid), language="vi")
    for uid in (ORGANIZER, *RECIPIENTS):
        srv.api.add_user(user(uid))


def settings_for(srv: StandInBotAPI, **given: Any) -> Settings:
    values = {"bot_token": srv.token, "telegram_base_url": srv.base_url,
              "telegram_base_file_url": srv.base_file_url, "quiet_hours": "00:00-00:00"}
    return Settings(_env_file=None, **{**values, **given})  # type: ignore[call-arg]


async def broadcast(settings: Settings, **given: Any) -> int:
    args: dict[str, Any] = {"text": CAPTION, "units": ["LS-X9"], "positions": [], "missing": None,
                            "course": None, "waitlist": False, "ack": True, "at": None,
                            "everyone": False, "yes": True, "report_to": ORGANIZER_ID}  # fmt: skip
    return await cmd_broadcast(settings, **{**args, **given})


async def broadcasts_written(db: async_sessionmaker[AsyncSession]) -> int:
    async with db() as s:
        return int((await s.execute(select(func.count()).select_from(Broadcast))).scalar_one())


def sends(srv: StandInBotAPI) -> list[tuple[str, dict[str, Any]]]:
    return [(m, p) for m, p in srv.api.calls if m.startswith("send")]


@pytest.fixture
async def srv(
    db_engine: AsyncEngine, db: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[StandInBotAPI]:
    """The stand-in, the people, and the command on this test's database (its URL alone does
    not reach a test's own PostgreSQL schema)."""
    monkeypatch.setattr("bot.cli_broadcast.create_engine", lambda _url: db_engine)
    async with StandInBotAPI() as server:
        await people(db, server)
        yield server


@pytest.mark.parametrize("kind", ["photo", "document"])
async def test_a_file_reaches_everyone_with_the_file_id_of_the_organizers_preview(
    kind: str,
    srv: StandInBotAPI,
    db: async_sessionmaker[AsyncSession],
    db_engine: AsyncEngine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / ("lich.png" if kind == "photo" else "lich.pdf")
    path.write_bytes(png() if kind == "photo" else b"%PDF-1.4 lich hop tuan sau")
    shown_when_asked: list[list[dict[str, Any]]] = []

    def answer(_prompt: str) -> str:
        shown_when_asked.append(srv.api.sent_to(ORGANIZER))
        return "y"

    monkeypatch.setattr("builtins.input", answer)
    settings = settings_for(srv)
    assert await broadcast(settings, yes=False, **{kind: path}) == 0, capsys.readouterr().err
    assert "bản xem trước" in capsys.readouterr().out

    # The organizer saw the broadcast, file, caption and button, before being asked.
    [[preview]] = shown_when_asked
    file_id = preview["photo"][-1]["file_id"] if kind == "photo" else preview[kind]["file_id"]
    assert preview["caption"] == SHOWN and preview["caption_entities"][0]["type"] == "bold"
    async with db() as s:
        row = (await s.execute(select(Broadcast))).scalar_one()
    assert (row.media_kind, row.media_file_id, row.status) == (kind, file_id,
                                                               BroadcastStatus.SENDING)
    assert button_data(preview) == [f"bok:{row.id}"]

    app = build(settings, db_engine)
    async with app:
        telegram = TelegramSender(app.bot, Pacer(1000))
        await drain_broadcasts(app.bot_data["resources"], [telegram], shown={})
    method = "sendPhoto" if kind == "photo" else "sendDocument"
    files = [(m, p["chat_id"], p[kind]) for m, p in sends(srv) if m == method]
    # One upload, to the organizer, first; then the file id, once to each recipient.
    assert files[0][:2] == (method, ORGANIZER) and isinstance(files[0][2], dict)
    assert sorted(files[1:]) == [(method, uid, file_id) for uid in RECIPIENTS]
    for uid in RECIPIENTS:
        [got] = srv.api.sent_to(uid)
        got_id = got["photo"][-1]["file_id"] if kind == "photo" else got[kind]["file_id"]
        assert (got_id, got["caption"], button_data(got)) == (file_id, SHOWN, button_data(preview))
    assert srv.rejected == [] and srv.api.failed == []


async def test_a_file_without_report_to_or_a_token_is_refused_and_nothing_is_written(
    srv: StandInBotAPI,
    db: async_sessionmaker[AsyncSession],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "lich.png"
    path.write_bytes(png())
    assert await broadcast(settings_for(srv), photo=path, report_to=None) == 1
    assert "--report-to" in capsys.readouterr().err
    assert await broadcast(settings_for(srv, bot_token=None), photo=path) == 1
    assert "BOT_TOKEN" in capsys.readouterr().err
    assert await broadcasts_written(db) == 0 and sends(srv) == []


async def test_a_missing_empty_or_too_large_file_is_refused_and_nothing_is_written(
    srv: StandInBotAPI,
    db: async_sessionmaker[AsyncSession],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = settings_for(srv)
    assert await broadcast(settings, photo=tmp_path / "khong-co.png") == 1
    assert "Không có tệp (no such file)" in capsys.readouterr().err
    assert await broadcast(settings, document=tmp_path) == 1  # a folder
    assert "Không đọc được tệp (cannot read the file)" in capsys.readouterr().err
    (tmp_path / "rong.pdf").write_bytes(b"")
    assert await broadcast(settings, document=tmp_path / "rong.pdf") == 1
    assert "Tệp rỗng (the file is empty)" in capsys.readouterr().err
    big = tmp_path / "lon.png"
    with big.open("wb") as f:  # sparse: 10 MB and one byte, Telegram's photo limit passed
        f.truncate(10 * 1024 * 1024 + 1)
    assert await broadcast(settings, photo=big) == 1
    assert "Tệp quá lớn (the file is too large)" in capsys.readouterr().err
    assert await broadcasts_written(db) == 0 and sends(srv) == []


async def test_a_caption_over_1024_characters_is_refused_before_the_upload(
    srv: StandInBotAPI,
    db: async_sessionmaker[AsyncSession],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "lich.png"
    path.write_bytes(png())
    settings = settings_for(srv)
    assert await broadcast(settings, text="x" * 1025, photo=path) == 1
    assert "tối đa 1024 ký tự" in capsys.readouterr().err
    assert await broadcasts_written(db) == 0 and sends(srv) == []
    assert await broadcast(settings, text="x" * 1024, photo=path) == 0  # the limit itself fits
    assert await broadcast(settings, text="x" * 1025) == 0  # and text alone may be longer
    async with db() as s:
        stmt = select(Broadcast.media_kind).order_by(Broadcast.id)
        kinds = list((await s.execute(stmt)).scalars())
    assert kinds == ["photo", None]


async def test_an_organizer_who_blocked_the_bot_gets_no_preview_and_nothing_is_written(
    srv: StandInBotAPI,
    db: async_sessionmaker[AsyncSession],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "lich.png"
    path.write_bytes(png())
    srv.api.block(ORGANIZER)
    assert await broadcast(settings_for(srv), photo=path) == 1
    assert "đã chặn bot" in capsys.readouterr().err
    assert await broadcasts_written(db) == 0 and sends(srv) == []
    async with db() as s:
        assert (await s.execute(select(func.count()).select_from(BroadcastDelivery))).scalar() == 0


@pytest.mark.databases("sqlite")
async def test_the_command_uploads_the_photo_in_a_process_of_its_own(
    srv: StandInBotAPI, db_engine: AsyncEngine, tmp_path: Path
) -> None:
    """`boiduong broadcast --photo` as typed: argument parsing, settings from the environment,
    and the imports of a fresh process (the preview code loads the chat handlers' modules)."""
    path = tmp_path / "lich.png"
    path.write_bytes(png())
    names = {name.lower() for name in Settings.model_fields}
    env = {k: v for k, v in os.environ.items() if k.lower() not in names}
    env.update(PYTHONPATH=str(ROOT), PTB_TIMEDELTA="1", BOT_TOKEN=srv.token,
               TELEGRAM_BASE_URL=srv.base_url, TELEGRAM_BASE_FILE_URL=srv.base_file_url,
               DATABASE_URL=db_engine.url.render_as_string(hide_password=False))  # fmt: skip
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "broadcast", "--text", CAPTION, "--unit", "LS-X9",
        "--photo", str(path), "--report-to", ORGANIZER_ID, "--yes",
        cwd=tmp_path, env=env, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    assert "Thông báo #1: 3 người" in out.decode()
    [(method, preview)] = sends(srv)
    assert (method, preview["chat_id"], preview["caption"]) == ("sendPhoto", ORGANIZER, CAPTION)
    async with make_sessionmaker(db_engine)() as s:
        row = (await s.execute(select(Broadcast))).scalar_one()
    assert row.media_kind == "photo" and row.media_file_id



@pytest.mark.parametrize("with_file", [False, True])
async def test_answering_no_leaves_no_broadcast(
    with_file: bool,
    srv: StandInBotAPI,
    db: async_sessionmaker[AsyncSession],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "lich.png"
    path.write_bytes(png())
    monkeypatch.setattr("builtins.input", lambda _prompt: "n")
    given: dict[str, Any] = {"photo": path} if with_file else {}
    assert await broadcast(settings_for(srv), yes=False, **given) == 1
    assert "Đã bỏ (nothing sent)." in capsys.readouterr().out
    assert await broadcasts_written(db) == 0
    assert len(sends(srv)) == (1 if with_file else 0)  # only the organizer's preview


async def test_a_refused_confirmation_leaves_no_broadcast(
    srv: StandInBotAPI, db: async_sessionmaker[AsyncSession], capsys: pytest.CaptureFixture[str]
) -> None:
    # Only confirm checks the time against the clock: the draft exists by then.
    assert await broadcast(settings_for(srv), report_to=None, at="01/01/2020 07:30") == 1
    assert "Thời điểm đã qua (that time is past)" in capsys.readouterr().err
    assert await broadcasts_written(db) == 0 and sends(srv) == []


@pytest.mark.parametrize("where", ["prompt", "upload"])
async def test_ctrl_c_at_the_prompt_or_during_the_upload_leaves_no_broadcast(
    where: str,
    srv: StandInBotAPI,
    db: async_sessionmaker[AsyncSession],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """asyncio.run turns Ctrl+C into the cancellation of the command's task."""
    path = tmp_path / "lich.png"
    path.write_bytes(png())
    reached, release = asyncio.Event(), threading.Event()
    loop = asyncio.get_running_loop()

    def keyboard(_prompt: str) -> str:  # the operator looks at the question and presses Ctrl+C
        loop.call_soon_threadsafe(reached.set)
        release.wait(10)
        return "y"

    async def uploading(*_args: Any) -> str:
        reached.set()
        await asyncio.Event().wait()  # an upload that never ends: Ctrl+C cancels it
        return "never"

    monkeypatch.setattr("builtins.input", keyboard)
    if where == "upload":
        monkeypatch.setattr("bot.cli_broadcast.preview", uploading)
    command = asyncio.create_task(broadcast(settings_for(srv), yes=False, photo=path))
    try:
        await asyncio.wait_for(reached.wait(), 10)
        assert await broadcasts_written(db) == 1  # the draft, while the command waits
        command.cancel()
        with pytest.raises(asyncio.CancelledError):
            await command
    finally:
        release.set()
    assert await broadcasts_written(db) == 0
