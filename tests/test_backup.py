"""`boiduong backup` and `boiduong restore`, run as the operator runs them, on SQLite and on
PostgreSQL: a backup taken while a writer keeps writing restores elsewhere with every row that
was there when it began, as one consistent snapshot; a backup from newer code is refused; the
password of DATABASE_URL is never printed."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.backup import head_revision
from storage.db import create_engine, upgrade
from tests.conftest import POSTGRES_URL
from tests.fixtures_postgres import admin
from tests.process import cli_env

PASSWORD = "n0t-sh0wn-pw"  # trust auth on the test server ignores it; it must never be printed
ROWS_BEFORE = 30


async def _cli(cwd: Path, url: str, *args: str, stdin: bytes = b"") -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", *args,
        cwd=cwd, env=cli_env(None, DATABASE_URL=url),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        out, err = await asyncio.wait_for(proc.communicate(stdin), 120)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


@pytest.fixture(params=["sqlite", "postgresql"])
async def urls(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[str, str]]:
    """The URLs of two empty databases of this test's own: the live one and a restore target."""
    if request.param == "sqlite":
        yield (f"sqlite+aiosqlite:///{tmp_path / 'live.db'}",
               f"sqlite+aiosqlite:///{tmp_path / 'elsewhere.db'}")  # fmt: skip
        return
    names = [f"bk_{uuid.uuid4().hex[:12]}" for _ in range(2)]
    try:
        for name in names:
            await admin(f'CREATE DATABASE "{name}"')
    except (OSError, SQLAlchemyError) as exc:
        pytest.skip(f"PostgreSQL unreachable at {POSTGRES_URL}: {exc}")
    base = POSTGRES_URL.rsplit("/", 1)[0].replace("postgres@", f"postgres:{PASSWORD}@")
    try:
        yield f"{base}/{names[0]}", f"{base}/{names[1]}"
    finally:
        for name in names:
            await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _codes(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        rows = await conn.execute(text("SELECT code FROM units WHERE code LIKE 'W%'"))
        return sorted((str(r[0]) for r in rows), key=lambda c: int(c[1:]))


INSERT = "INSERT INTO units (code, name, kind, active) VALUES (:c, 'x', 'commune', true)"


async def _write(
    engine: AsyncEngine, done: list[int], warm: asyncio.Event, stop: asyncio.Event
) -> None:
    """The bot at work: one short transaction after another, each adding one unit."""
    while not stop.is_set():
        n = len(done)
        async with engine.begin() as conn:
            await conn.execute(text(INSERT), {"c": f"W{n}"})
        done.append(n)
        if len(done) >= ROWS_BEFORE:
            warm.set()
        await asyncio.sleep(0.002)


async def test_a_backup_taken_while_writing_restores_elsewhere_with_every_row(
    urls: tuple[str, str], tmp_path: Path
) -> None:
    live_url, other_url = urls
    live = create_engine(live_url)
    other = create_engine(other_url)
    try:
        await upgrade(live)
        done: list[int] = []
        warm, stop = asyncio.Event(), asyncio.Event()
        writer = asyncio.create_task(_write(live, done, warm, stop))
        await asyncio.wait_for(warm.wait(), 60)
        committed = len(done)
        code, out, err = await _cli(tmp_path, live_url, "backup", str(tmp_path / "b.bak"))
        written_meanwhile = len(done) - committed
        stop.set()
        await writer
        assert code == 0, err
        assert PASSWORD not in out + err
        assert head_revision() in out

        code, out, err = await _cli(
            tmp_path, other_url, "restore", str(tmp_path / "b.bak"), "--yes"
        )
        assert code == 0, err
        assert PASSWORD not in out + err
        restored = await _codes(other)
    finally:
        await live.dispose()
        await other.dispose()
    # Every row committed before the backup began, and the rest as one snapshot: no gaps.
    assert len(restored) >= committed
    assert restored == [f"W{n}" for n in range(len(restored))]
    assert written_meanwhile > 0  # the writer really did write during the backup


async def test_restoring_asks_first_and_a_no_keeps_the_database(
    urls: tuple[str, str], tmp_path: Path
) -> None:
    live_url, other_url = urls
    for url in urls:
        engine = create_engine(url)
        try:
            await upgrade(engine)
        finally:
            await engine.dispose()
    code, _, err = await _cli(tmp_path, live_url, "backup", str(tmp_path / "b.bak"))
    assert code == 0, err
    code, out, _ = await _cli(
        tmp_path, other_url, "restore", str(tmp_path / "b.bak"), stdin=b"no\n"
    )
    assert code == 1
    assert "ghi đè (everything in the database now is overwritten)" in out
    assert "Không khôi phục (not restored)" in out


async def test_a_backup_from_newer_code_is_refused_and_nothing_is_overwritten(
    tmp_path: Path,
) -> None:
    live = tmp_path / "live.db"
    engine = create_engine(f"sqlite+aiosqlite:///{live}")
    try:
        await upgrade(engine)
        async with engine.begin() as conn:
            await conn.execute(text(
                "INSERT INTO units (code, name, kind, active) VALUES ('KEEP', 'x', 'commune', 1)"
            ))  # fmt: skip
    finally:
        await engine.dispose()
    url = f"sqlite+aiosqlite:///{live}"
    code, _, err = await _cli(tmp_path, url, "backup", str(tmp_path / "b.bak"))
    assert code == 0, err
    # The same backup as newer code would have written it: a migration this code lacks.
    with sqlite3.connect(tmp_path / "b.bak") as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999_from_the_future'")
        conn.execute("DELETE FROM units WHERE code = 'KEEP'")
    conn.close()

    code, _, err = await _cli(tmp_path, url, "restore", str(tmp_path / "b.bak"), "--yes")

    assert code == 1
    assert "9999_from_the_future" in err and "newer than this program" in err
    with sqlite3.connect(live) as conn:
        assert conn.execute("SELECT count(*) FROM units WHERE code = 'KEEP'").fetchone() == (1,)
    conn.close()


async def test_restoring_a_file_that_is_not_there_is_a_usage_error(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'live.db'}"
    code, _, err = await _cli(tmp_path, url, "restore", str(tmp_path / "missing.bak"), "--yes")
    assert code == 2
    assert "không tìm thấy tệp (file not found)" in err
