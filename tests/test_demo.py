"""The demo database reproduces the seed figures, and the console chat drives the real bot."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from bot.console import run_demo
from bot.demo import DemoInfo, build_demo
from config.settings import load_settings
from domain.catalog import open_for
from locales import Translator
from storage.db import create_engine, make_sessionmaker, upgrade
from tests.factories import POLICY, ZONE

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
TZ = ZoneInfo("Asia/Ho_Chi_Minh")

CULTURE_SOCIAL = """
    FROM people p JOIN positions po ON po.id = p.position_id
    WHERE po.code = 'cc_van_hoa_xa_hoi'
"""
UNIVERSITY = """
    AND EXISTS (SELECT 1 FROM qualifications q WHERE q.person_id = p.id
                AND q.kind = 'education' AND q.level IN ('dai_hoc', 'thac_si', 'tien_si'))
"""
IN_DISTRICT = """
    AND p.unit_id IN (SELECT u.id FROM units u JOIN units d ON d.id = u.parent_id
                      WHERE d.code = 'LS-TD')
"""


async def _build(path: Path, now: datetime = NOW, seed: int = 2024) -> DemoInfo:
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        await upgrade(engine)
        async with make_sessionmaker(engine).begin() as session:
            return await build_demo(session, now=now, seed=seed, tz=ZONE)
    finally:
        await engine.dispose()


async def _scalars(path: Path, *queries: str) -> list[object]:
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        async with engine.connect() as conn:
            return [(await conn.execute(text(q))).scalar_one() for q in queries]
    finally:
        await engine.dispose()


async def test_demo_reproduces_the_lang_son_figures(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    info = await _build(db)
    assert info.courses == 12
    total, university, district, district_university, district_it = await _scalars(
        db,
        f"SELECT count(*) {CULTURE_SOCIAL}",
        f"SELECT count(*) {CULTURE_SOCIAL} {UNIVERSITY}",
        f"SELECT count(*) {CULTURE_SOCIAL} {IN_DISTRICT}",
        f"SELECT count(*) {CULTURE_SOCIAL} {IN_DISTRICT} {UNIVERSITY}",
        f"SELECT count(*) {CULTURE_SOCIAL} {IN_DISTRICT} AND EXISTS (SELECT 1 FROM "
        "qualifications q WHERE q.person_id = p.id AND q.kind = 'it')",
    )
    assert (total, university) == (395, 280)
    assert round(100 * university / total, 1) == 70.9  # type: ignore[operator]
    assert (district, district_university, district_it) == (38, 25, 38)
    assert 100 * district_university / district == pytest.approx(65.78, abs=0.01)  # type: ignore[operator]


async def test_demo_shape(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    await _build(db)
    (
        communes,
        per_commune_max,
        per_commune_min,
        bad_ids,
        distinct_ids,
        distinct_phones,
        people,
        courses,
        categories,
        past_deadline,
        district_only,
        full,
        leaders,
    ) = await _scalars(
        db,
        "SELECT count(*) FROM units WHERE kind = 'commune'",
        f"SELECT max(n) FROM (SELECT count(*) AS n {CULTURE_SOCIAL} GROUP BY p.unit_id)",
        f"SELECT min(n) FROM (SELECT count(*) AS n {CULTURE_SOCIAL} GROUP BY p.unit_id)",
        "SELECT count(*) FROM people WHERE length(personal_id) != 12 OR personal_id NOT LIKE "
        "'020%' OR phone NOT LIKE '09%' OR length(phone) != 10",
        "SELECT count(DISTINCT personal_id) FROM people",
        "SELECT count(DISTINCT phone) FROM people",
        "SELECT count(*) FROM people",
        "SELECT count(*) FROM courses",
        "SELECT count(DISTINCT category) FROM courses",
        f"SELECT count(*) FROM courses WHERE registration_deadline < '{NOW:%Y-%m-%d %H:%M}'",
        "SELECT count(*) FROM courses WHERE audience LIKE '%LS-TD%'",
        "SELECT count(*) FROM courses c WHERE capacity = (SELECT count(*) FROM registrations r "
        "WHERE r.course_id = c.id AND r.status = 'registered')",
        "SELECT count(*) FROM people p JOIN positions po ON po.id = p.position_id "
        "WHERE po.code IN ('chu_tich_ubnd', 'pho_chu_tich_ubnd')",
    )
    assert communes == 200
    assert (per_commune_min, per_commune_max) == (1, 2)
    assert bad_ids == 0
    assert distinct_ids == distinct_phones == people
    assert (courses, categories) == (12, 8)
    assert (past_deadline, district_only, full) == (1, 1, 1)
    assert leaders == 80


async def test_demo_is_deterministic(tmp_path: Path) -> None:
    first = await _build(tmp_path / "a.db")
    second = await _build(tmp_path / "b.db")
    assert first == second
    assert {p.role for p in first.suggested} == {"no_degree", "meets_all", "chairperson"}


# ---- the console chat -------------------------------------------------------------------------


def _plain(message: str) -> str:
    """A catalogue message as the console prints it: HTML tags dropped."""
    return re.sub(r"<[^>]+>", "", message)


async def _demo_for_console(path: Path, role: str = "no_degree") -> tuple[str, str, str, int]:
    """Build the demo for today; the person's ID and name, and their first listed course."""
    now = datetime.now(UTC)
    info = await _build(path, now=now)
    person = next(p for p in info.suggested if p.role == role)
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        async with make_sessionmaker(engine).begin() as session:
            person_id = (
                await session.execute(
                    text("SELECT id FROM people WHERE personal_id = :p"), {"p": person.personal_id}
                )
            ).scalar_one()
            first = (await open_for(session, person_id=person_id, now=now))[0]
    finally:
        await engine.dispose()
    return person.personal_id, person.name, first.title, first.id


async def _console(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    db: Path,
    personal_id: str,
    script: list[str],
    lang: str = "vi",
) -> str:
    monkeypatch.setattr(sys, "stdin", io.StringIO("".join(f"{line}\n" for line in script)))
    code = await run_demo(
        db,
        fresh=False,
        personal_id=personal_id,
        lang=lang,
        settings=load_settings(Path(os.devnull)),
    )
    assert code == 0
    return capsys.readouterr().out


def _turns(out: str) -> list[str]:
    """The output split at each echoed input line: turns[0] answers /start, turns[i] line i."""
    return re.split(r"\n> ", out)


async def test_console_links_registers_and_lists_in_vietnamese(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "demo.db"
    personal_id, name, title, course_id = await _demo_for_console(db)
    t = Translator("vi", TZ)
    # 1 = the contact button (the only inline-free reply keyboard: contact, help); then the
    # first course in the list; Register; Yes.
    script = ["1", "/status", "/courses", "1", "1", "1", "/my"]
    start, contact, status, courses, card, confirm, done, my = _turns(
        await _console(monkeypatch, capsys, db, personal_id, script)
    )
    assert "trò chuyện thử với bot" in start and "(offline demo chat" in start  # the intro
    assert _plain(t.gettext("📱 Share my phone number")) in start
    assert "[1] 📱 Chia sẻ số điện thoại" in start
    assert "[2] ❓ Hướng dẫn" in start

    assert f"Đã liên kết. Xin chào {name}!" in contact
    assert "[1] 📋 Tiêu chuẩn của tôi" in contact and "[2] 📚 Khóa học" in contact

    assert "Tiêu chuẩn của bạn" in status
    assert "Đại học trở lên, chuyên ngành phù hợp Văn hóa - Xã hội: chưa đạt" in status
    assert "Nghị định 33/2023/NĐ-CP" in status
    assert _plain(t.gettext("Courses that close your gaps:")) in status

    assert "Khóa học bạn tham gia được:" in courses
    assert f"[1] {title}" in courses

    assert card.splitlines()[3] == title  # "1", a blank line, "🤖 Bot:", then the bold title
    assert "Thời gian:" in card and "Sở Nội vụ" in card
    assert "[1] ✍️ Đăng ký" in card and "[2] « Tất cả khóa học" in card

    assert f"Đăng ký khóa {title}?" in confirm
    assert "[1] ✅ Có, đăng ký" in confirm and "[2] Không" in confirm

    assert "(edited)" in done
    assert f"Bạn đã đăng ký khóa {title}, bắt đầu lúc" in done
    assert f"[file: khoa-hoc-{course_id}.ics]" in done

    assert "Khóa học đã đăng ký" in my
    assert f"• {title}" in my and "· đã đăng ký" in my
    assert my.rstrip().endswith("Tạm biệt! (goodbye)")


async def test_console_in_english_and_the_waitlist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "demo.db"
    personal_id, name, _title, _id = await _demo_for_console(db)
    # Free text is a search (without diacritics); the only hit is the full course.
    script = ["1", "/status", "van hoa gia dinh", "1", "1", "1", "/my", "q", "/status"]
    turns = _turns(await _console(monkeypatch, capsys, db, personal_id, script, lang="en"))
    assert len(turns) == 9  # nothing is read after "q"
    _start, contact, status, search, card, confirm, waiting, my, _quit = turns
    assert f"Linked. Hello, {name}!" in contact
    assert "Your standards" in status
    assert "University degree in a field matching culture and social affairs: missing" in status
    assert "Courses matching “van hoa gia dinh”: 1" in search
    assert "[1] Xây dựng văn hóa gia đình" in search
    assert "Full; nobody is on the waitlist yet." in card and "[1] ✍️ Join the waitlist" in card
    assert "is full. Join its waitlist?" in confirm and "[1] ✅ Yes, join the waitlist" in confirm
    assert "You are number 1 on the waitlist for Xây dựng văn hóa gia đình" in waiting
    assert "waitlist no. 1" in my


async def test_console_notices_and_stale_choices(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "demo.db"
    personal_id, _name, _title, _id = await _demo_for_console(db)
    # Without linking, /courses still lists; "99" is no choice; an unknown command is answered.
    script = ["/courses", "99", "/nonsense"]
    _start, courses, bad, unknown = _turns(
        await _console(monkeypatch, capsys, db, personal_id, script)
    )
    assert "[1] " in courses
    assert "Không có lựa chọn [99]" in bad
    assert _plain(Translator("vi", TZ).gettext("I don't know that command. Send /help to see "
                                              "what I can do.")) in unknown  # fmt: skip


async def test_console_delivers_a_waitlist_promotion_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The drainer runs under the console: a seat freed while away is announced on return."""
    from datetime import timedelta

    from domain.registration import cancel

    db = tmp_path / "demo.db"
    personal_id, _name, _title, _id = await _demo_for_console(db)
    await _console(monkeypatch, capsys, db, personal_id, ["1", "van hoa gia dinh", "1", "1", "1"])
    engine = create_engine(f"sqlite+aiosqlite:///{db}")
    try:
        async with make_sessionmaker(engine).begin() as session:
            course_id, someone = (
                await session.execute(
                    text(
                        "SELECT r.course_id, r.person_id FROM registrations r JOIN courses c "
                        "ON c.id = r.course_id WHERE c.code = 'VHGD-01' "
                        "AND r.status = 'registered' ORDER BY r.id LIMIT 1"
                    )
                )
            ).one()
            result = await cancel(
                session,
                person_id=someone,
                course_id=course_id,
                now=datetime.now(UTC),
                cutoff=timedelta(hours=24),
                policy=POLICY,
            )
            assert (
                result.promoted_person_id
                == (
                    await session.execute(
                        text("SELECT id FROM people WHERE personal_id = :p"), {"p": personal_id}
                    )
                ).scalar_one()
            )
    finally:
        await engine.dispose()
    out = await _console(monkeypatch, capsys, db, personal_id, ["/my"])
    start, my = _turns(out)
    assert "Chào mừng bạn quay lại!" in start
    assert "🎉 Đã có chỗ trống: bạn đã được đăng ký khóa Xây dựng văn hóa gia đình" in start
    assert "[1] Xem khóa học" in start
    assert "· đã đăng ký" in my


def test_boiduong_demo_runs_as_a_subprocess(tmp_path: Path) -> None:
    import asyncio

    db = tmp_path / "demo.db"
    personal_id, name, _title, _id = asyncio.run(_demo_for_console(db))
    script = tmp_path / "script.txt"
    script.write_text("1\n/status\n/my\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "DATABASE_"))}
    env["PYTHONIOENCODING"] = "utf-8"
    with script.open("rb") as stdin:
        done = subprocess.run(
            [str(ROOT / ".venv" / "bin" / "boiduong"), "demo", "--db", str(db), "--person",
             personal_id],
            stdin=stdin,
            capture_output=True,
            cwd=tmp_path,  # no stray .env
            env=env,
            timeout=60,
            check=False,
        )  # fmt: skip
    out = done.stdout.decode()
    assert done.returncode == 0, done.stderr.decode()
    assert f"Xin chào {name}!" in out
    assert "Tiêu chuẩn của bạn" in out
    assert out.rstrip().endswith("Tạm biệt! (goodbye)")
    # Nothing but the chat on the console: log lines, if any, are in the demo's log file.
    assert " WARNING " not in out + done.stderr.decode() and " INFO " not in out
    assert (tmp_path / "demo.log").exists()


async def test_console_picks_a_suggested_person_or_refuses_an_unknown_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "demo.db"
    info = await _build(db, now=datetime.now(UTC))
    settings = load_settings(Path(os.devnull))
    monkeypatch.setattr(sys, "stdin", io.StringIO("2\n/quit\n"))
    assert await run_demo(db, fresh=False, personal_id=None, lang="vi", settings=settings) == 0
    out = capsys.readouterr().out
    chosen = info.suggested[1]
    assert f"Bạn là (you are): {chosen.name}" in out
    assert "Tạm biệt!" in out

    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    code = await run_demo(db, fresh=False, personal_id="020000000000", lang="vi", settings=settings)
    assert code == 1
    assert "020000000000" in capsys.readouterr().err


async def test_console_plays_the_person_chosen_now_not_the_one_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "demo.db"
    first_id, first_name, _t, _c = await _demo_for_console(db)
    await _console(monkeypatch, capsys, db, first_id, ["1"])  # link as the first person
    engine = create_engine(f"sqlite+aiosqlite:///{db}")
    try:
        async with make_sessionmaker(engine)() as session:
            other_id, other_name = (await session.execute(text(
                "SELECT personal_id, full_name FROM people WHERE personal_id != :p "
                "AND phone IS NOT NULL ORDER BY id LIMIT 1"), {"p": first_id})).one()  # fmt: skip
    finally:
        await engine.dispose()

    start, contact, privacy = _turns(
        await _console(monkeypatch, capsys, db, other_id, ["1", "/privacy"])
    )
    assert other_name in start and first_name not in start  # the banner
    assert f"Đã liên kết. Xin chào {other_name}!" in contact
    assert other_name in privacy and first_name not in privacy


async def test_demo_role_organizer_has_courses_and_claims_to_act_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "demo.db"
    await _demo_for_console(db)
    monkeypatch.setattr(sys, "stdin", io.StringIO("1\n/organize\n/claims\n1\n"))
    code = await run_demo(db, fresh=False, personal_id=None, lang="vi",
                          settings=load_settings(Path(os.devnull)), role="organizer")  # fmt: skip
    assert code == 0
    _start, _contact, organize, queue, claim = _turns(capsys.readouterr().out)
    assert "Khóa học bạn tổ chức: 12" in organize
    assert "2 đề nghị đang chờ" in queue
    assert "[1] ✅ Duyệt" in claim and "[2] ❌ Từ chối" in claim
