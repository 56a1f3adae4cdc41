"""Hostile and careless input through the real application: forged organizer buttons are refused
before any prompt, and messages built from long or odd data still fit what Telegram accepts
(the in-memory Telegram checks every call against the Bot API spec and its HTML rules)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.cli_broadcast import cmd_broadcast
from bot.settings import Settings
from domain import broadcasts, claims, rich_text, roles
from domain.errors import DomainError
from domain.rich_text import Issue
from storage.models import Broadcast, Role, Unit
from tests.factories import make_course, make_person, make_unit
from tests.test_handlers import BINH, Telegram, linked, said, snapshot, tg

__all__ = ["tg"]  # the fixture, shared with the chat-flow tests
pytestmark = [
    pytest.mark.databases("sqlite"),
    pytest.mark.filterwarnings("ignore:Ignoring `conversation_timeout`"),
]
Db = async_sessionmaker[AsyncSession]
OUTSIDER_PHONE = "0987654321"


async def _units(db: Db) -> tuple[Unit, Unit]:
    async with db.begin() as s:
        province = await make_unit(s, kind="province")
        return await make_unit(s, parent=province), await make_unit(s, parent=province)


async def _organizer(db: Db, unit: Unit, phone: str, name: str = "Cán bộ Tổ chức") -> int:
    async with db.begin() as s:
        person = await make_person(s, unit=unit, phone=phone, full_name=name)
        await roles.grant(s, person_id=person.id, role=Role.ORGANIZER, unit_id=unit.id, by="t")
        return person.id


# -- permission before prompt ---------------------------------------------------------------------


async def test_forged_organizer_buttons_are_refused_before_any_prompt(tg: Telegram) -> None:
    a, b = await _units(tg.db)
    owner = await _organizer(tg.db, a, "0911111111")
    await _organizer(tg.db, b, OUTSIDER_PHONE, "Cán bộ Xã Khác")
    async with tg.db.begin() as s:
        course = await make_course(s, organizer=a)
        person = await make_person(s, unit=a)
        claim = await claims.submit(
            s, person_id=person.id, kind=claims.CORRECTION, details={}, note="Sai tên",
            evidence_kind="photo", evidence_file_id="F1", now=datetime.now(UTC),
        )  # fmt: skip
        draft = await broadcasts.create_draft(
            s, actor_person_id=owner, text="Họp giao ban", plain_length=12
        )
    outsider = await linked(tg, BINH, OUTSIDER_PHONE)
    for data in (f"atf:{course.id}", f"atu:{course.id}", f"clr:{claim.id}", f"bct:{draft}"):
        await outsider.receive_button(data)
        before = await snapshot(tg.db)
        answer = await outsider.press(data)
        assert answer is not None and answer != said("Send the filled attendance sheet")
        assert outsider.last_text == "…", f"{data} showed {outsider.last_text!r}"  # no prompt
        assert await snapshot(tg.db) == before
    # Nothing is pending for the outsider's next message: typing is not taken as a reason.
    await outsider.send("Lý do giả mạo")
    async with tg.db() as s:
        assert (await s.get(claims.Claim, claim.id)).state == claims.ClaimState.PENDING  # type: ignore[union-attr]


# -- broadcast HTML is checked when it is written -------------------------------------------------


@pytest.mark.parametrize(
    ("text", "issue", "tag"),
    [
        ("Họp lúc 8h < 9h, mang CCCD & hồ sơ", Issue.BARE_LT, ""),
        ("Mang CCCD & hồ sơ", Issue.BARE_AMP, ""),
        ("<i>Họp giao ban", Issue.UNCLOSED, "i"),
        ("<b><i>Họp</b></i>", Issue.MISNESTED, "b"),
        ("Họp</b>", Issue.STRAY_CLOSE, "b"),
        ("<h1>Họp</h1>", Issue.UNKNOWN_TAG, "h1"),
        ('<span class="red">Họp</span>', Issue.BAD_ATTRIBUTE, "span"),
        ("<a>Họp</a>", Issue.BAD_ATTRIBUTE, "a"),
        ("&nbsp;Họp", Issue.BARE_AMP, ""),
    ],
)
def test_html_telegram_refuses_is_named(text: str, issue: Issue, tag: str) -> None:
    found = rich_text.problem(text)
    assert found is not None and (found.issue, found.tag) == (issue, tag)


def test_html_telegram_accepts_passes() -> None:
    ok = (
        "<b>Nhắc</b> <strong>nộp</strong> <i>bằng</i> <em>x</em> <u>u</u> <ins>i</ins> <s>s</s> "
        '<strike>s</strike> <del>d</del> <a href="https://sonoivu.vn/?a=1&amp;b=2">link</a> '
        '<code>c</code> <pre><code class="language-python">p</code></pre> '
        '<tg-spoiler>x</tg-spoiler> <span class="tg-spoiler">y</span> <blockquote>q</blockquote> '
        "&lt; &gt; &amp; &quot; "
        "&#272;&#x110; 8h > 9h"
    )
    assert rich_text.problem(ok) is None
    assert rich_text.plain_text("<b>Họp</b> 8h &lt; 9h &amp; &#272;") == "Họp 8h < 9h & Đ"


@pytest.mark.databases("sqlite", "postgresql")
@pytest.mark.parametrize(
    ("text", "named"),
    [("Họp lúc 8h < 9h, mang CCCD & hồ sơ", "“<”"), ("<i>Họp giao ban lúc 8h", "<i>")],
)
async def test_the_command_line_refuses_html_telegram_would_refuse_and_writes_nothing(
    db: Db,
    db_engine: AsyncEngine,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    text: str,
    named: str,
) -> None:
    monkeypatch.setattr("bot.cli_broadcast.create_engine", lambda _url: db_engine)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    async with db.begin() as s:
        unit = await make_unit(s, code="LS-X9")
        for _ in range(3):
            await make_person(s, unit=unit)
    args: dict[str, Any] = {"units": ["LS-X9"], "positions": [], "missing": None,
                            "course": None, "waitlist": False, "ack": False, "at": None,
                            "everyone": False, "yes": True}  # fmt: skip
    assert await cmd_broadcast(settings, text=text, **args) == 1
    err = capsys.readouterr().err
    assert "HTML không hợp lệ (the HTML is not valid)" in err and named in err, err
    async with db() as s:
        assert await s.scalar(select(func.count()).select_from(Broadcast)) == 0
    async with db.begin() as s:
        with pytest.raises(DomainError) as refused:  # and the domain refuses it for every caller
            await broadcasts.create_draft(
                s, actor_person_id=None, text=text, plain_length=len(text), operator=True
            )
    assert refused.value.details["problem"] == "html"
