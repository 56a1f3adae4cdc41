"""Backing up and restoring the database named by DATABASE_URL.

SQLite: the sqlite3 online backup API, which copies a consistent snapshot while the bot keeps
writing (in WAL mode readers never block the writer). PostgreSQL: `pg_dump -Fc` and
`pg_restore --clean --if-exists`, given a libpq URL without the password (it goes in
PGPASSWORD, so it shows neither in `ps` nor in an error). Both tell the schema revision a
backup carries, so a restore can refuse one newer than this code. No user text here: the
CLI (bot/cli_backup.py) words the outcomes.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import URL, make_url

from storage.db import SQLITE_BUSY_TIMEOUT_MS, alembic_config


class BackupError(Exception):
    """A backup or restore that could not be done; `code` says why, `detail` gives the tool's
    own words (never the password)."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(code, detail)
        self.code = code
        self.detail = detail


def head_revision() -> str:
    """The newest migration this code knows."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def known_revision(revision: str | None) -> bool:
    """Whether this code knows `revision`: a backup at an unknown one comes from newer code."""
    if revision is None:
        return True  # an empty database: migrations create everything
    script = ScriptDirectory.from_config(alembic_config())
    return any(rev.revision == revision for rev in script.walk_revisions())


@dataclass(frozen=True)
class Target:
    """Where DATABASE_URL points, in the form the tools want."""

    sqlite_path: Path | None = None
    libpq_url: str = ""  # postgresql://user@host:port/db, no password
    password: str | None = None

    @property
    def shown(self) -> str:
        return str(self.sqlite_path) if self.sqlite_path is not None else self.libpq_url

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.password is not None:
            env["PGPASSWORD"] = self.password
        return env


def target(database_url: str) -> Target:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database in (None, "", ":memory:"):
            raise BackupError("memory_database")
        return Target(sqlite_path=Path(url.database or ""))
    return Target(libpq_url=libpq_url(url), password=url.password)


def libpq_url(url: URL) -> str:
    """`postgresql+asyncpg://u:p@h/db?ssl=require` → `postgresql://u@h/db?sslmode=require`."""
    query = dict(url.query)
    if "ssl" in query:  # asyncpg's name for libpq's sslmode
        query["sslmode"] = query.pop("ssl")
    # URL is a named tuple whose set() skips None values, so the password goes by _replace.
    plain = url._replace(drivername="postgresql", password=None).set(query=query)
    return plain.render_as_string(hide_password=False)


# -- SQLite --------------------------------------------------------------------------------------


def _sqlite_copy(source: Path, dest: Path, *, single_file: bool = False) -> None:
    """Copy `source` into `dest` with the online backup API, in one step: a step-wise copy
    starts again whenever the bot writes, so under steady writes it might never finish."""
    if not source.is_file():
        raise BackupError("no_database", str(source))
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)
    try:
        dst = sqlite3.connect(dest)
        try:
            src.backup(dst)
            if single_file:  # a backup is one file, with no -wal/-shm beside it
                dst.execute("PRAGMA journal_mode = DELETE")
        finally:
            dst.close()
    except sqlite3.Error as exc:
        raise BackupError("sqlite", str(exc)) from exc
    finally:
        src.close()


def _sqlite_revision(path: Path) -> str | None:
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        if "no such table" in str(exc):
            return None
        raise BackupError("not_a_backup", str(exc)) from exc
    return str(row[0]) if row else None


# -- PostgreSQL ----------------------------------------------------------------------------------


def _run(args: list[str], where: Target) -> str:
    try:
        done = subprocess.run(args, env=where.env(), capture_output=True, text=True, check=False)
    except FileNotFoundError as exc:
        raise BackupError("no_tool", args[0]) from exc
    if done.returncode != 0:
        detail = done.stderr.strip()
        if where.password:
            detail = detail.replace(where.password, "***")
        raise BackupError("tool_failed", f"{args[0]}: {detail}")
    return done.stdout


def _pg_revision(path: Path) -> str | None:
    """The alembic_version row inside a `pg_dump -Fc` file, read without restoring it."""
    dump = _run(["pg_restore", "--data-only", "--table=alembic_version", "-f", "-", str(path)],
                Target())  # fmt: skip
    lines = iter(dump.splitlines())
    for line in lines:
        if line.startswith("COPY ") and "alembic_version" in line:
            first = next(lines, "\\.")
            return None if first == "\\." else first.split("\t")[0]
    return None


# -- both ----------------------------------------------------------------------------------------


def backup(database_url: str, file: Path) -> str | None:
    """Write a backup of the database to `file` (replaced only once complete); returns the
    schema revision it holds."""
    where = target(database_url)
    partial = file.with_name(file.name + ".partial")
    try:
        if where.sqlite_path is not None:
            partial.unlink(missing_ok=True)
            _sqlite_copy(where.sqlite_path, partial, single_file=True)
        else:
            _run(["pg_dump", "-Fc", "--no-owner", "-f", str(partial), where.libpq_url], where)
        partial.replace(file)
    finally:
        partial.unlink(missing_ok=True)
    return backup_revision(database_url, file)


def backup_revision(database_url: str, file: Path) -> str | None:
    """The schema revision a backup file holds (None: no tables)."""
    if not file.is_file():
        raise BackupError("no_file", str(file))
    if target(database_url).sqlite_path is not None:
        return _sqlite_revision(file)
    return _pg_revision(file)


def restore(database_url: str, file: Path) -> None:
    """Replace the database's contents with the backup's. The caller checked the revision."""
    where = target(database_url)
    if where.sqlite_path is not None:
        _sqlite_copy(file, where.sqlite_path)
        return
    _run(["pg_restore", "--clean", "--if-exists", "--no-owner", "--exit-on-error",
          f"--dbname={where.libpq_url}", str(file)], where)  # fmt: skip
