"""A bad setting or a database that cannot be opened stops every command with one line naming
it (the password hidden) and exit code 2, never a traceback. (Issue 13, item 7.)"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


def _boiduong(tmp_path: Path, env: dict[str, str], *args: str) -> tuple[int, list[str]]:
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=tmp_path,  # no stray .env file from the checkout
        env={"PATH": "", "BOT_TOKEN": "1:x", **env},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.stdout == ""
    return done.returncode, done.stderr.splitlines()


def test_a_misspelt_time_zone_is_one_line_naming_it(tmp_path: Path) -> None:
    code, lines = _boiduong(tmp_path, {"TIMEZONE": "Asia/Hanoii"}, "migrate")
    assert code == 2
    assert len(lines) == 1
    assert lines[0].startswith("Invalid configuration: TIMEZONE: ")
    assert "Asia/Hanoii" in lines[0]


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("postgresql://boiduong:s3cr3t-pw@127.0.0.1:5432/no_such_database_i13", "missing"),
        ("postgresql+asyncpg://boiduong:s3cr3t-pw@127.0.0.1:1/boiduong", "unreachable"),
    ],
)
@pytest.mark.parametrize(
    "command",
    [
        ("migrate",),
        ("run",),
        ("import", "roster", "ds.xlsx"),
        ("link-code", "001234567890"),
        ("audit",),
    ],
)
def test_a_database_that_cannot_be_opened_is_one_line_with_the_password_hidden(
    tmp_path: Path, url: str, why: str, command: tuple[str, ...]
) -> None:
    code, lines = _boiduong(tmp_path, {"DATABASE_URL": url}, *command)
    assert code == 2
    assert len(lines) == 1, lines
    assert "s3cr3t-pw" not in lines[0]
    shown = url.replace("s3cr3t-pw", "***").replace("postgresql://", "postgresql+asyncpg://")
    assert f"DATABASE_URL={shown}" in lines[0]
