"""The `boiduong` command: run the bot, try it offline, load data, make link codes."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.cli_secondments import add_parser as add_secondments_parser
from bot.cli_units import add_parsers
from bot.logs import configure_logging
from config.settings import Settings, SettingsError, load_settings

log = logging.getLogger(__name__)
# What `import` and `template` take, in the order a new installation loads them.
KINDS = ["units", "positions", "roster", "courses", "secondments", "plans", "training",
         "studies"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="boiduong", description="Training-registration bot for commune civil servants."
    )
    parser.add_argument("--env-file", type=Path, help="read settings from this .env file")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="show the libraries' progress lines too"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser(
        "run", help="run the bot on every channel whose token is set (BOT_TOKEN, ZALO_BOT_TOKEN)"
    )
    run.add_argument("--channel", choices=["telegram", "zalo"], help="run only this channel")
    run.add_argument(
        "--workers", type=int, default=1, metavar="N",
        help="start N processes sharing the PostgreSQL database, in webhook mode; worker i "
        "listens on each *_LISTEN port + i (put a reverse proxy in front of them)",
    )  # fmt: skip
    demo = sub.add_parser("demo", help="offline console chat on a demo database (no token)")
    demo.add_argument("--db", type=Path, default=Path("demo.db"), help="demo database file")
    demo.add_argument("--fresh", action="store_true", help="rebuild the demo database")
    played = demo.add_mutually_exclusive_group()
    played.add_argument("--person", help="personal ID of the civil servant to play")
    played.add_argument(
        "--role", choices=["organizer", "unit_head", "admin"],
        help="play someone with this role over the demo district, with claims waiting",
    )  # fmt: skip
    demo.add_argument("--lang", choices=["vi", "en"], default="vi")
    imp = sub.add_parser(
        "import", help="import units, positions, a roster, courses, secondments, yearly plans, "
        "training history or degree studies (XLSX, XLS, ODS or CSV)"
    )
    imp.add_argument("kind", choices=KINDS)
    imp.add_argument("file", type=Path)
    imp.add_argument("--dry-run", action="store_true", help="report changes, write nothing")
    imp.add_argument("--as-of", metavar="dd/mm/yyyy",
                     help="roster only: the date its levels were true (an older roster, for "
                     "report --compare)")  # fmt: skip
    tpl = sub.add_parser("template", help="write a blank import template (XLSX)")
    tpl.add_argument("kind", choices=KINDS)
    tpl.add_argument("out", type=Path)
    std = sub.add_parser("standards", help="manage the standards rule set")
    std_sub = std.add_subparsers(dest="action", required=True)
    load = std_sub.add_parser("load", help="load rules from YAML or XLSX")
    load.add_argument("file", type=Path)
    load.add_argument("--dry-run", action="store_true")
    code = sub.add_parser("link-code", help="make a one-time code that links a chat to a person")
    code.add_argument("personal_id")
    course = sub.add_parser("course", help="manage a course")
    course_sub = course.add_subparsers(dest="action", required=True)
    cancel = course_sub.add_parser(
        "cancel", help="cancel a course and tell everyone registered or waitlisted"
    )
    cancel.add_argument("code", help="the course code, as in the courses file")
    cancel.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    for verb, text in (("grant", "give a role"), ("revoke", "take a role away")):
        role = sub.add_parser(verb, help=f"{text}: admin, organizer or unit_head")
        role.add_argument("personal_id")
        role.add_argument("role", choices=["admin", "organizer", "unit_head"])
        role.add_argument("--unit", help="code of the unit (and its subtree) the role covers")
    audit = sub.add_parser("audit", help="show the newest entries of the audit log")
    audit.add_argument("--limit", type=int, default=50)
    rep = sub.add_parser("report", help="write the yearly report (XLSX and PNG) of a unit")
    rep.add_argument("--unit", help="code of the unit (and its subtree); default: everything")
    rep.add_argument("--year", type=int, help="the year reported on; default: this year")
    rep.add_argument("--out", type=Path, required=True, help="folder to write the files into")
    rep.add_argument("--since", type=int, metavar="YEAR",
                     help="also print totals per year from this year to --year")  # fmt: skip
    rep.add_argument("--compare", type=int, metavar="YEAR",
                     help="also compare the qualification shares with the end of YEAR")  # fmt: skip
    rep.add_argument("--lang", choices=["vi", "en"], default="vi",
                     help="language of the files and the summary; default: vi")  # fmt: skip
    add_parsers(sub)
    add_secondments_parser(sub)
    bc = sub.add_parser("broadcast", help="send a message to an audience (the bot sends it)")
    bc.add_argument("--text", required=True, help="the message; Telegram HTML (<b>, <i>, <a>)")
    bc.add_argument("--unit", action="append", default=[], help="unit code (subtree included)")
    bc.add_argument("--position", action="append", default=[], help="position code")
    bc.add_argument("--missing", metavar="RULE_CODE", help="people missing this standard")
    bc.add_argument("--course", metavar="CODE", help="registrants of this course")
    bc.add_argument("--waitlist", action="store_true", help="the course's waitlist instead")
    bc.add_argument("--everyone", action="store_true", help="everyone, when no filter is given")
    bc.add_argument("--ack", action="store_true", help="add a 'received' button")
    bc.add_argument("--at", metavar="'dd/mm/yyyy HH:MM'", help="send later (local time)")
    bc.add_argument("--report-to", metavar="PERSONAL_ID", help="progress and report to this chat")
    media = bc.add_mutually_exclusive_group()
    media.add_argument("--photo", metavar="FILE", type=Path,
                       help="send this photo (≤ 10 MB) with the text as its caption; needs "
                       "--report-to, whose preview uploads it")  # fmt: skip
    media.add_argument("--document", metavar="FILE", type=Path,
                       help="send this file (≤ 50 MB) the same way")  # fmt: skip
    bc.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    sub.add_parser("migrate", help="bring the database schema up to date")
    bk = sub.add_parser("backup", help="back up the database to FILE (safe while the bot runs)")
    bk.add_argument("file", type=Path)
    rs = sub.add_parser("restore", help="replace the database with a backup FILE")
    rs.add_argument("file", type=Path)
    rs.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # A running bot logs what it does; a one-off command prints only what its user needs.
    quiet = args.command != "run" and not args.verbose
    try:
        settings = load_settings(args.env_file)
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        return 2
    # The demo's console is the chat: its log goes to a file beside the demo database, so a
    # warning never lands between the bot's lines.
    configure_logging(
        level=logging.WARNING if quiet else logging.INFO,
        json_lines=settings.log_format == "json",
        file=args.db.with_suffix(".log") if args.command == "demo" else None,
        # Set by `run --workers` or a supervisor: the workers' lines are told apart.
        worker=settings.worker if "worker" in settings.model_fields_set else None,
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if args.command not in _NO_DATABASE:
        problem = _database_problem(settings.database_url)
        if problem is not None:
            print(problem, file=sys.stderr)
            return 2
    try:
        return _dispatch(args, settings)
    except KeyboardInterrupt:
        return 130


# Commands that never open DATABASE_URL (the demo has a database file of its own).
_NO_DATABASE = frozenset({"demo", "template"})
_CONNECT_TIMEOUT = 10.0


def _database_problem(url: str) -> str | None:
    """One line naming the database (password hidden) when it cannot be opened, else None:
    checked before any command uses it, so a wrong URL is not answered with a traceback."""
    from sqlalchemy import make_url

    parsed = make_url(url)
    shown = parsed.render_as_string(hide_password=True)
    head = f"Không mở được cơ sở dữ liệu (cannot open the database) DATABASE_URL={shown}: "
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        # Connecting would create the file: a command that stops for another reason (no
        # BOT_TOKEN) must leave none behind. What fails is a folder that is not there.
        file = Path(parsed.database or "")
        if not file.exists():
            if file.parent.is_dir() and os.access(file.parent, os.W_OK):
                return None
            return head + f"no writable folder {file.parent}"
    problem = asyncio.run(_connect(url))
    if problem is None:
        return None
    if parsed.password:  # the driver's text may repeat the URL: never its password
        problem = problem.replace(str(parsed.password), "***")
    return head + problem


async def _connect(url: str) -> str | None:
    """Why a first connection and SELECT 1 fail (within _CONNECT_TIMEOUT), or None."""
    # Not storage.db: importing alembic logs lines of its own before the one line we print.
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url)
    try:
        async with asyncio.timeout(_CONNECT_TIMEOUT), engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except TimeoutError:
        return f"no answer in {_CONNECT_TIMEOUT:.0f} s"
    except (OSError, SQLAlchemyError, ValueError) as exc:
        reason = getattr(exc, "orig", None) or exc
        first = (str(reason).strip().splitlines() or [type(reason).__name__])[0][:200]
        return f"{type(reason).__name__}: {first}" if isinstance(reason, OSError) else first
    finally:
        await engine.dispose()
    return None


def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "run":
        from bot.workers import refusal

        problem = refusal(settings, args.workers, args.channel)
        if problem is not None:
            print(problem, file=sys.stderr)
            return 2
        if args.workers > 1:
            from bot.workers import supervise, worker_command, worker_env

            command = worker_command(
                env_file=args.env_file, verbose=args.verbose, channel=args.channel
            )
            count = args.workers
            return asyncio.run(supervise(command, count, lambda i: worker_env(settings, i, count)))
        return _run(settings, args.channel)
    if args.command == "demo":
        from bot.console import run_demo

        return asyncio.run(
            run_demo(
                args.db,
                fresh=args.fresh,
                personal_id=args.person,
                lang=args.lang,
                settings=settings,
                role=args.role,
            )
        )
    if args.command == "import":
        from bot.cli_data import cmd_import

        return asyncio.run(
            cmd_import(settings, args.kind, args.file, args.dry_run, as_of=args.as_of)
        )
    if args.command == "template":
        from bot.cli_data import cmd_template

        return cmd_template(args.kind, args.out, today=datetime.now(settings.tz).date())
    if args.command == "standards":
        from bot.cli_data import cmd_standards_load

        return asyncio.run(cmd_standards_load(settings, args.file, args.dry_run))
    if args.command == "link-code":
        return asyncio.run(_link_code(settings, args.personal_id))
    if args.command == "course":
        from bot.cli_data import cmd_cancel_course

        return asyncio.run(cmd_cancel_course(settings, args.code, yes=args.yes))
    if args.command in ("grant", "revoke"):
        from bot.cli_admin import cmd_role

        give = args.command == "grant"
        return asyncio.run(cmd_role(settings, args.personal_id, args.role, args.unit, give=give))
    if args.command == "audit":
        from bot.cli_admin import cmd_audit

        return asyncio.run(cmd_audit(settings, args.limit))
    if args.command == "report":
        from bot.cli_report import cmd_report

        return asyncio.run(cmd_report(
            settings, args.unit, args.year, args.out, since=args.since, compare=args.compare,
            lang=args.lang,
        ))
    if args.command == "export" and args.what == "registrants":
        from bot.cli_export import cmd_export_registrants

        return asyncio.run(cmd_export_registrants(settings, args.code, args.out))
    if args.command == "export":
        from bot.cli_units import cmd_export

        return asyncio.run(cmd_export(settings, args.what, args.out, getattr(args, "unit", None)))
    if args.command == "units":
        from bot.cli_units import cmd_units

        return asyncio.run(cmd_units(settings, args))
    if args.command == "broadcast":
        from bot.cli_broadcast import cmd_broadcast

        return asyncio.run(cmd_broadcast(
            settings, text=args.text, units=args.unit, positions=args.position,
            missing=args.missing, course=args.course, waitlist=args.waitlist, ack=args.ack,
            at=args.at, everyone=args.everyone, yes=args.yes, report_to=args.report_to,
            photo=args.photo, document=args.document,
        ))  # fmt: skip
    if args.command == "secondments":
        from bot.cli_secondments import cmd_secondments

        return asyncio.run(cmd_secondments(settings, args))
    if args.command == "migrate":
        return asyncio.run(_migrate(settings))
    if args.command in ("backup", "restore"):
        from bot.cli_backup import cmd_backup, cmd_restore

        if args.command == "backup":
            return asyncio.run(cmd_backup(settings, args.file))
        return asyncio.run(cmd_restore(settings, args.file, yes=args.yes))
    raise AssertionError(args.command)


def _run(settings: Settings, channel: str | None = None) -> int:
    zalo = channel != "telegram" and settings.zalo_token is not None
    if channel == "zalo" or (zalo and channel is None):
        return _run_channels(settings, telegram=channel is None and bool(settings.token))
    if not settings.token:
        # Checked before the heavy imports below: importing them already logs (alembic).
        print(
            "BOT_TOKEN is not set. Set it (or put it in .env), or try `boiduong demo` "
            "for the offline console chat.",
            file=sys.stderr,
        )
        return 2
    # bot/serve.py rather than PTB's run_polling/run_webhook: its stop on SIGTERM/SIGINT is
    # the same whenever the signal comes and however often (a worker may get it twice: from
    # the terminal and from `run --workers`), and it always ends in the graceful stop.
    from bot.serve import serve
    from storage.db import create_engine

    engine = create_engine(settings.database_url)
    return asyncio.run(serve(settings, engine, telegram=True, zalo=False))


def _run_channels(settings: Settings, *, telegram: bool) -> int:
    """Zalo, alone or beside Telegram, in one asyncio process (bot/serve.py)."""
    if not settings.zalo_token:
        print("ZALO_BOT_TOKEN is not set (see README, section Zalo).", file=sys.stderr)
        return 2
    if settings.zalo_webhook_url and not settings.zalo_webhook_secret:
        print("ZALO_WEBHOOK_URL needs ZALO_WEBHOOK_SECRET (8–256 characters).", file=sys.stderr)
        return 2
    from bot.serve import serve
    from storage.db import create_engine

    engine = create_engine(settings.database_url)
    return asyncio.run(serve(settings, engine, telegram=telegram, zalo=True))


async def _link_code(settings: Settings, personal_id: str) -> int:
    from domain.linking import create_code
    from storage.db import create_engine, make_sessionmaker, upgrade

    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
        async with make_sessionmaker(engine).begin() as session:
            made = await create_code(
                session,
                personal_id=personal_id.strip(),
                now=datetime.now(UTC),
                ttl=timedelta(hours=settings.link_code_ttl_hours),
            )
    finally:
        await engine.dispose()
    if made is None:
        print(
            f"Không tìm thấy số CCCD {personal_id} trong danh sách (personal ID not on the "
            "roster).",
            file=sys.stderr,
        )
        return 1
    code, expires = made
    local = expires.astimezone(settings.tz).strftime("%d/%m/%Y %H:%M")
    print(f"Mã liên kết (link code): {code}")
    print(f"Người dùng gõ (the user types): /start {code}")
    if settings.zalo_token:
        print(f"Trên Zalo, gõ mã (on Zalo, type the code): {code}")
    print(f"Hết hạn (expires): {local} — dùng một lần (single use)")
    return 0


async def _migrate(settings: Settings) -> int:
    from storage.db import create_engine, upgrade

    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()
    print("Database schema is up to date.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
