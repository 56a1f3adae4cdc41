"""What reaches the log: with LOG_FORMAT=json one JSON object per line (time, level, logger,
message), and never a personal ID or a phone number in full, in text or JSON, in a message, its
arguments or a traceback, whichever logger wrote it."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.logs import JsonLines, MaskPersonalData
from tests.process import cli_env, run_cli

PERSONAL_ID = "020123456789"
PHONES = ["0912345678", "0912 345 678", "0912.345.678", "84912345678", "+84 912 345 678"]


@pytest.fixture(params=["text", "json"])
def captured(request: pytest.FixtureRequest) -> Iterator[io.StringIO]:
    """A handler as `boiduong` sets it up (the filter, then text or JSON lines) on the root
    logger, writing into a buffer."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(JsonLines() if request.param == "json" else logging.Formatter())
    handler.addFilter(MaskPersonalData())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield buffer
    finally:
        root.removeHandler(handler)


def test_personal_ids_and_phones_are_never_logged_in_full(captured: io.StringIO) -> None:
    log = logging.getLogger("domain.linking")
    log.warning("linked %s to chat 4242", PERSONAL_ID)
    for phone in PHONES:
        log.warning("no roster row for phone %s", phone)
    logging.getLogger("some.library").warning(f"raw text {PERSONAL_ID}/{PHONES[0]}")
    try:
        raise ValueError(f"bad row for {PERSONAL_ID}, phone {PHONES[1]}")
    except ValueError:
        log.exception("import failed")

    out = captured.getvalue()
    assert PERSONAL_ID not in out
    for phone in PHONES:
        assert phone not in out, phone
    # The last digits stay, so an operator can still tell whose line it is.
    assert "*********789" in out and "*******678" in out
    assert "+** *** *** 678" in out
    assert "import failed" in out and "ValueError" in out


def test_other_numbers_are_left_alone(captured: io.StringIO) -> None:
    logging.getLogger("bot").warning(
        "update 123456789 chat 4242 took 12.5 ms; course 2026 of 40 hours; id 0201234567890"
    )
    assert "update 123456789 chat 4242 took 12.5 ms; course 2026 of 40 hours" in (
        captured.getvalue()
    )
    assert "0201234567890" in captured.getvalue()  # 13 digits: not a personal ID


def test_json_lines_carry_time_level_logger_and_message() -> None:
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(JsonLines())
    handler.addFilter(MaskPersonalData())
    log = logging.getLogger("schedules.notifications")
    log.addHandler(handler)
    try:
        log.warning("sent %d of %d, phone %s\nsecond line", 3, 4, "0912345678")
    finally:
        log.removeHandler(handler)
    lines = buffer.getvalue().splitlines()
    assert len(lines) == 1  # a newline in the message stays inside the JSON string
    entry = json.loads(lines[0])
    assert set(entry) == {"time", "level", "logger", "message"}
    assert entry["level"] == "WARNING" and entry["logger"] == "schedules.notifications"
    assert entry["message"] == "sent 3 of 4, phone *******678\nsecond line"
    assert entry["time"].endswith("+00:00")


async def test_log_format_json_makes_every_line_of_a_command_json(tmp_path: Path) -> None:
    env = cli_env(tmp_path / "x.db", LOG_FORMAT="json")
    code, _, err = await run_cli(tmp_path, env, "-v", "migrate")
    assert code == 0, err
    lines = err.splitlines()
    assert lines, "a verbose migrate logs its progress"
    for line in lines:
        entry = json.loads(line)
        assert {"time", "level", "logger", "message"} <= set(entry), line


async def test_an_unknown_log_format_is_named(tmp_path: Path) -> None:
    code, _, err = await run_cli(tmp_path, cli_env(tmp_path / "x.db", LOG_FORMAT="xml"), "migrate")
    assert code == 2 and "LOG_FORMAT" in err
