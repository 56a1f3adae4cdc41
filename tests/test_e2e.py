"""End to end: the real `boiduong run` process against the local stand-in Bot API.

The organizer prepares the data by running the README's "Running for real" commands verbatim
on an empty database (templates, their example rows imported), then a civil servant walks the
whole path over HTTP: /start, share the phone number, /status, /courses, a course card,
Register, confirm, the .ics file, /my. Finally the process is stopped with SIGTERM and must
exit 0 without a traceback, and the README's day-to-day commands run verbatim on what is left.
Every wait has a timeout and the process is always killed.
"""

from __future__ import annotations

import asyncio
import csv
import shlex
import signal
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from locales import Translator
from tests.process import (
    STEP,
    STOP_TIMEOUT,
    TOKEN,
    USER,
    call_to,
    cli_env,
    command,
    menu_set,
    run_cli,
    tail_file,
)
from tests.standin import StandInBotAPI

ROOT = Path(__file__).resolve().parent.parent
TZ = ZoneInfo("Asia/Ho_Chi_Minh")
CHAT = USER["id"]
PHONE_ON_ROSTER = "0912 345 678"
PHONE_SHARED = "84912345678"  # how Telegram clients often send the contact's number
NAME = "Hoàng Thị Lan"
COURSE_TITLE = "Kỹ năng số cho công chức cấp xã"
LEADERS_TITLE = "Bồi dưỡng lãnh đạo cấp xã"

VI = Translator("vi", TZ)
tr = VI.gettext


# -- running the CLI -----------------------------------------------------------------------------


# -- the organizer's data ------------------------------------------------------------------------


def _csv(path: Path, rows: Sequence[Mapping[str, str]]) -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as fh:  # as Excel saves "CSV UTF-8"
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def _local(day: datetime, hour: int) -> str:
    return day.replace(hour=hour, minute=0).strftime("%d/%m/%Y %H:%M")


def readme_blocks() -> list[list[list[str]]]:
    """The `./dev …` commands of the README's "Running for real" code blocks, as argv lists
    for `boiduong` (comments and `export` lines dropped), block by block."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Running for real\n", 1)[1].split("\n#", 1)[0]
    blocks = section.split("```bash\n")[1:]
    return [
        [shlex.split(line, comments=True)[1:] for line in block.split("```")[0].splitlines()
         if line.startswith("./dev ")]
        for block in blocks
    ]  # fmt: skip


async def _readme_block(tmp_path: Path, env: Mapping[str, str], commands: list[list[str]]) -> None:
    """Run a README block verbatim (but `run`): each command succeeds and prints no library
    progress lines or tracebacks."""
    for args in commands:
        if args[:1] == ["run"]:
            continue
        code, out, err = await run_cli(tmp_path, env, *args)
        assert code == 0, f"`boiduong {' '.join(args)}` failed ({code}):\n{out}\n{err}"
        assert "Traceback" not in err and " INFO " not in err, (args, err)


async def _prepare(tmp_path: Path, db: Path) -> None:
    """An empty installation loaded as the README says: templates written, their example
    rows imported, a role granted, a link code made; then a leaders' course beside them."""
    env = cli_env(db, BOT_TOKEN=TOKEN)
    await _readme_block(tmp_path, env, readme_blocks()[0])
    day = datetime.now(TZ) + timedelta(days=10)
    leaders = {
        "Mã khóa học": "LD-E2E-01", "Tên khóa học": LEADERS_TITLE, "Loại": "Quản lý nhà nước",
        "Đơn vị tổ chức": "LS", "Hình thức": "Trực tiếp", "Địa điểm": "Hội trường Sở Nội vụ",
        "Bắt đầu": _local(day, 8), "Kết thúc": _local(day, 17), "Số chỗ": "40",
        "Đối tượng": "Lãnh đạo", "Số giờ": "8",
    }  # fmt: skip
    path = _csv(tmp_path / "lanh-dao.csv", [leaders])
    code, out, err = await run_cli(tmp_path, env, "import", "courses", str(path))
    assert code == 0, f"import courses failed ({code}):\n{out}\n{err}"


# -- playing the user ----------------------------------------------------------------------------


def _buttons(markup: Any) -> list[dict[str, Any]]:
    if not isinstance(markup, dict):
        return []
    return [b for row in markup.get("inline_keyboard", []) for b in row]


def _data_of(markup: Any, prefix: str, text: str | None = None) -> str:
    """The callback data of the one inline button starting `prefix` (and labelled `text`)."""
    found = [
        b["callback_data"]
        for b in _buttons(markup)
        if b.get("callback_data", "").startswith(prefix) and (text is None or b["text"] == text)
    ]
    assert len(found) == 1, f"no single {prefix!r} button labelled {text!r} in {markup}"
    return str(found[0])


def _message_with(srv: StandInBotAPI, data: str) -> int:
    """The id of the newest bot message in the chat carrying a button with `data`."""
    for msg in reversed(srv.api.sent_to(CHAT)):
        if any(b.get("callback_data") == data for b in _buttons(msg.get("reply_markup"))):
            return int(msg["message_id"])
    raise AssertionError(f"no message in chat {CHAT} has a button {data!r}")


async def _press(srv: StandInBotAPI, data: str) -> None:
    """Press an inline button and see the bot answer the query."""
    update = srv.api.callback_update(USER, _message_with(srv, data), data)
    query_id = update["callback_query"]["id"]
    srv.api.push(update)
    await srv.wait_for(
        lambda m, p: m == "answerCallbackQuery" and p["callback_query_id"] == query_id,
        STEP,
        since=len(srv.api.calls),
    )


async def _walk(srv: StandInBotAPI) -> None:
    """The civil servant's path, from /start to /my."""
    # Start-up: command menus in both languages (and the default one), before polling.
    for lang in ("vi", "en"):
        # The first one waits for the interpreter, the imports and the migrations check.
        await srv.wait_for(menu_set(lang), 3 * STEP, since=0)

    # /start: not linked yet, so the bot asks for the phone number with a contact button.
    srv.api.push(srv.api.message_update(USER, "/start"))
    _, sent = await srv.wait_for(call_to("sendMessage"), STEP)
    keyboard = sent["reply_markup"]["keyboard"]
    assert any(b.get("request_contact") for row in keyboard for b in row), keyboard

    # Share one's own contact: the number matches the roster and the chat is linked.
    srv.api.push(srv.api.contact_update(USER, PHONE_SHARED, USER["id"]))
    _, sent = await srv.wait_for(call_to("sendMessage"), STEP)
    assert NAME in sent["text"], sent["text"]
    menu = [b if isinstance(b, str) else b["text"] for row in sent["reply_markup"]["keyboard"]
            for b in row]  # fmt: skip
    assert tr("📋 My standards") in menu and tr("📚 Courses") in menu, menu

    # /status: the standards of the position.
    srv.api.push(srv.api.message_update(USER, "/status"))
    _, sent = await srv.wait_for(call_to("sendMessage"), STEP)
    # The README's example secondment comes first, then the standards of the position.
    assert sent["text"].startswith("🔄 Biệt phái đến <b>Sở Nội vụ"), sent["text"]
    assert tr("<b>Your standards</b>") in sent["text"], sent["text"]

    # /courses: the open course for civil servants, not the one for leaders.
    srv.api.push(srv.api.message_update(USER, "/courses"))
    _, sent = await srv.wait_for(call_to("sendMessage"), STEP)
    assert COURSE_TITLE in sent["text"] and LEADERS_TITLE not in sent["text"], sent["text"]
    show = _data_of(sent["reply_markup"], "c:", COURSE_TITLE)
    course_id = show.split(":")[1]

    # Open the course card: it offers Register.
    await _press(srv, show)
    _, sent = await srv.wait_for(call_to("sendMessage"), STEP)
    assert sent["text"].startswith(f"<b>{COURSE_TITLE}</b>"), sent["text"]
    register = _data_of(sent["reply_markup"], "r:", tr("✍️ Register"))
    assert register == f"r:{course_id}"

    # Register: the bot asks to confirm.
    await _press(srv, register)
    _, sent = await srv.wait_for(call_to("sendMessage"), STEP)
    assert COURSE_TITLE in sent["text"], sent["text"]
    confirm = _data_of(sent["reply_markup"], "rc:")
    prompt_id = _message_with(srv, confirm)

    # Confirm: the prompt becomes "registered" and the calendar file follows.
    await _press(srv, confirm)
    _, edited = await srv.wait_for(call_to("editMessageText"), STEP)
    assert edited["message_id"] == prompt_id
    assert "✅" in edited["text"] and COURSE_TITLE in edited["text"], edited["text"]
    assert "reply_markup" not in edited  # the Yes/No buttons are gone
    _, doc = await srv.wait_for(call_to("sendDocument"), STEP)
    assert doc["document"]["filename"] == f"khoa-hoc-{course_id}.ics"
    ics = doc["document"]["content"].decode()
    assert ics.startswith("BEGIN:VCALENDAR") and "BEGIN:VEVENT" in ics, ics[:200]

    # /my: the course is there, registered.
    srv.api.push(srv.api.message_update(USER, "/my"))
    _, sent = await srv.wait_for(call_to("sendMessage"), STEP)
    assert COURSE_TITLE in sent["text"] and tr("registered") in sent["text"], sent["text"]
    assert _data_of(sent["reply_markup"], "c:") == show


# -- the tests -----------------------------------------------------------------------------------


async def test_a_civil_servant_registers_through_the_running_bot(tmp_path: Path) -> None:
    db = tmp_path / "boiduong.db"
    await _prepare(tmp_path, db)
    out_path, err_path = tmp_path / "bot.out", tmp_path / "bot.err"

    async with StandInBotAPI(token=TOKEN) as srv:
        env = cli_env(
            db,
            BOT_TOKEN=TOKEN,
            TELEGRAM_BASE_URL=srv.base_url,
            TELEGRAM_BASE_FILE_URL=srv.base_file_url,
        )
        with out_path.open("wb") as out, err_path.open("wb") as err:
            proc = await asyncio.create_subprocess_exec(
                *command("run"),
                cwd=tmp_path,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,  # files, not pipes: a chatty log can never block the bot
                stderr=err,
            )
        try:
            try:
                await _walk(srv)
            except (AssertionError, TimeoutError) as exc:
                raise AssertionError(f"{exc}\n--- bot stderr ---\n{tail_file(err_path)}") from exc
            assert proc.returncode is None, f"the bot exited early:\n{tail_file(err_path)}"
            assert srv.rejected == [] and srv.api.failed == [], (srv.rejected, srv.api.failed)

            # Stop like a service manager does, and wait for a clean exit.
            proc.send_signal(signal.SIGTERM)
            try:
                code = await asyncio.wait_for(proc.wait(), STOP_TIMEOUT)
            except TimeoutError:
                pytest.fail(f"no exit within {STOP_TIMEOUT} s of SIGTERM:\n{tail_file(err_path)}")
        finally:
            if proc.returncode is None:
                proc.kill()
                await asyncio.wait_for(proc.wait(), STOP_TIMEOUT)

        calls = list(srv.api.calls)
        methods = {m for m, _ in calls}
        # On the way out PTB abandons its long poll and confirms the offset with a short
        # getUpdates; the server ends the abandoned poll with 409, as Telegram does. Nothing
        # else may fail or be refused.
        late = srv.api.failed
        assert all(m == "getUpdates" and "Conflict" in d for m, _, d in late), late
        assert srv.rejected == [], srv.rejected

    stderr = err_path.read_text(encoding="utf-8", errors="replace")
    assert code == 0, f"exit code {code}:\n{tail_file(err_path)}"
    # The README's day-to-day commands, verbatim, on what the walk left behind.
    await _readme_block(tmp_path, cli_env(db, BOT_TOKEN=TOKEN), readme_blocks()[1])
    assert (tmp_path / "dk.xlsx").exists() and (tmp_path / "danh-sach-moi.xlsx").exists()
    assert "Traceback" not in stderr and " ERROR " not in stderr, stderr
    assert {"getMe", "getUpdates", "setMyCommands", "sendMessage", "editMessageText",
            "answerCallbackQuery", "sendDocument"} <= methods, methods  # fmt: skip
    # Long polling: getUpdates waited on the server (timeout > 0) and carried the user's updates.
    polls = [i for i, (m, p) in enumerate(calls) if m == "getUpdates" and p.get("timeout", 0) > 0]
    assert polls, "no long poll"
    # Command menus in Vietnamese and English were set at start-up, before the first update.
    menus = {p.get("language_code"): p["commands"] for m, p in calls[: polls[0]]
             if m == "setMyCommands"}  # fmt: skip
    assert {"vi", "en"} <= set(menus), menus
    en = Translator("en", TZ).gettext
    for lang, gettext in (("vi", tr), ("en", en)):
        assert {c["command"] for c in menus[lang]} >= {"start", "status", "courses", "my"}
        start = next(c["description"] for c in menus[lang] if c["command"] == "start")
        assert start == gettext("Start and link your account"), (lang, start)
    assert menus["vi"] != menus["en"]


async def test_run_without_token_names_the_missing_setting(tmp_path: Path) -> None:
    code, out, err = await run_cli(tmp_path, cli_env(tmp_path / "x.db"), "run")
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "BOT_TOKEN" in lines[0], err
    assert "Traceback" not in err + out
    assert not (tmp_path / "x.db").exists()


@pytest.mark.parametrize(
    ("name", "value"),
    [("PAGE_SIZE", "abc"), ("DATABASE_URL", "mysql://root@localhost/x")],
)
async def test_run_with_a_malformed_setting_names_it(tmp_path: Path, name: str, value: str) -> None:
    env = cli_env(tmp_path / "x.db", BOT_TOKEN=TOKEN, **{name: value})
    code, out, err = await run_cli(tmp_path, env, "run")
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1 and name in lines[0], err
    assert "Traceback" not in err + out
