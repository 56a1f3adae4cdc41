"""Hostile and careless input through the real application: forged organizer buttons are refused
before any prompt, and messages built from long or odd data still fit what Telegram accepts
(the in-memory Telegram checks every call against the Bot API spec and its HTML rules)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.cli_broadcast import cmd_broadcast
from bot.offline import BotAPIError
from config.settings import Settings
from domain import broadcasts, claims, rich_text, roles
from domain.errors import DomainError
from domain.rich_text import Issue
from storage.models import Broadcast, Registration, RegistrationStatus, Role, Unit
from tests.botapi.validator import SpecValidator
from tests.factories import PNG, course_row, courses_xlsx, make_course, make_person, make_unit
from tests.harness import BINH, Telegram, linked, said, snapshot

pytestmark = [
    pytest.mark.databases("sqlite"),
    pytest.mark.filterwarnings("ignore:Ignoring `conversation_timeout`"),
]
Db = async_sessionmaker[AsyncSession]
OUTSIDER_PHONE = "0987654321"
ORGANIZER_PHONE = "0911111111"


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


# -- every message fits what Telegram accepts ---------------------------------------------------


def test_the_stand_in_refuses_what_telegram_refuses() -> None:
    check = SpecValidator()
    refused = [
        ("sendMessage", {"chat_id": 1, "text": "x" * 4097}),
        ("sendMessage", {"chat_id": 1, "text": "a", "reply_markup": {"inline_keyboard": []}}),
        ("sendMessage", {"chat_id": 1, "text": "a", "reply_markup": {"inline_keyboard": [[]]}}),
        ("sendPhoto", {"chat_id": 1, "photo": "F", "caption": "x" * 1025}),
        ("sendPhoto", {"chat_id": 1, "photo": "F", "caption": "&lt;&am", "parse_mode": "HTML"}),
        ("sendMessage", {"chat_id": 1, "text": "<b>a", "parse_mode": "HTML"}),
    ]
    for method, params in refused:
        with pytest.raises(BotAPIError):
            check(method, params)
    check("sendMessage", {"chat_id": 1, "text": "&lt;" * 4096, "parse_mode": "HTML"})


def test_long_html_is_cut_only_where_no_tag_or_entity_is_open() -> None:
    text = "<b>Danh sách</b>\n" + "\n".join(
        f"{i}. <i>Nguyễn &amp; Văn {i}</i> &lt;{'x' * 50}&gt;" for i in range(300)
    )
    pieces = rich_text.split_html(text, 4096)
    assert len(pieces) > 1
    assert all(rich_text.problem(p) is None and rich_text.plain_size(p) <= 4096 for p in pieces)
    assert "".join(rich_text.plain_text(p) for p in pieces).replace("\n", "") == (
        rich_text.plain_text(text).replace("\n", "")
    )
    one_tag = rich_text.split_html("<b>" + "ạ" * 5000 + "</b>", 4096)
    assert [rich_text.plain_size(p) for p in one_tag] == [4096, 904]
    assert all(p.startswith("<b>") and p.endswith("</b>") for p in one_tag)
    cut = rich_text.cut_html("Ghi chú: " + "&lt;&amp;&gt;" * 400, 1024)
    assert rich_text.problem(cut) is None and rich_text.plain_size(cut) == 1024
    assert cut.endswith("…")


async def test_a_claim_note_full_of_escaped_characters_reaches_the_organizer(
    tg: Telegram,
) -> None:
    a, _b = await _units(tg.db)
    await _organizer(tg.db, a, ORGANIZER_PHONE)
    async with tg.db.begin() as s:
        person = await make_person(s, unit=a, full_name="Lương Thị Hoa")
        claim = await claims.submit(
            s, person_id=person.id, kind=claims.CORRECTION, details={}, note="<&>" * 200,
            evidence_kind=claims.STORED_PHOTO, now=datetime.now(UTC),
            evidence=claims.EvidenceFile(PNG, "anh.png", "image/png"),
        )  # fmt: skip
    org = await linked(tg, BINH, ORGANIZER_PHONE)
    await org.receive_button(f"clv:{claim.id}")
    await org.press(f"clv:{claim.id}")  # no call refused: tg.process checks
    shown = org.last()
    assert "💬 <&><&>" in shown["caption"] and len(shown["caption"]) <= 1024
    assert [b for _, b in org.buttons()] == [f"cla:{claim.id}", f"clr:{claim.id}"]


async def test_thirty_no_shows_with_long_names_are_all_listed(tg: Telegram) -> None:
    a, _b = await _units(tg.db)
    async with tg.db.begin() as s:
        head = await make_person(s, unit=a, phone=ORGANIZER_PHONE)
        await roles.grant(s, person_id=head.id, role=Role.UNIT_HEAD, unit_id=a.id, by="t")
        course = await make_course(s, organizer=a, title="Bồi dưỡng " + "kỹ năng số " * 10)
        names = [f"Nguyễn Thị {i:02d} " + "Hoàng Phương Thảo " * 6 for i in range(30)]
        for i, name in enumerate(names):
            p = await make_person(s, unit=a, full_name=name.strip())
            s.add(Registration(course_id=course.id, person_id=p.id, queue_seq=i,
                               status=RegistrationStatus.NO_SHOW))  # fmt: skip
    head_chat = await linked(tg, BINH, ORGANIZER_PHONE)
    before = len(head_chat.messages())
    await head_chat.send("/noshows")
    shown = "\n".join(head_chat.texts()[before:])
    assert all(name.strip() in shown for name in names)
    assert len(head_chat.messages()) - before >= 2


async def test_an_unknown_unit_code_of_4090_characters_is_answered(tg: Telegram) -> None:
    a, _b = await _units(tg.db)
    await _organizer(tg.db, a, ORGANIZER_PHONE)
    org = await linked(tg, BINH, ORGANIZER_PHONE)
    await org.send("/broadcast")
    await org.send("Họp giao ban sáng thứ Hai")
    draft = next(d for _, d in org.buttons() if d.endswith(":unit"))
    await org.press(draft)
    before = len(org.messages())
    code = "X" * 4090
    await org.send(code)
    answer = "".join(org.texts()[before:])
    assert code in answer  # split over two messages, nothing refused
    async with tg.db() as s:
        assert (await s.get(Broadcast, int(draft.split(":")[1]))) is not None


async def test_nominating_for_a_course_nobody_lacks_says_so_without_an_empty_keyboard(
    tg: Telegram,
) -> None:
    a, _b = await _units(tg.db)
    async with tg.db.begin() as s:
        head = await make_person(s, unit=a, phone=ORGANIZER_PHONE)
        await roles.grant(s, person_id=head.id, role=Role.UNIT_HEAD, unit_id=a.id, by="t")
        course = await make_course(s, organizer=a)
    head_chat = await linked(tg, BINH, ORGANIZER_PHONE)
    await head_chat.receive_button(f"nc:{course.id}")
    await head_chat.press(f"nc:{course.id}")
    assert said("Nobody in your units misses what this course gives.") in head_chat.last_text
    assert "reply_markup" not in head_chat.last()


async def test_a_courses_file_with_21_long_bad_rows_is_answered_in_chat(
    tg: Telegram, tmp_path: Path
) -> None:
    a, _b = await _units(tg.db)
    await _organizer(tg.db, a, ORGANIZER_PHONE)
    org = await linked(tg, BINH, ORGANIZER_PHONE)
    rows = [
        {**course_row(f"QL-{i}", a.code), "title": f"{i} " + "Bồi dưỡng & <quản lý> " * 18}
        for i in range(21)
    ]  # fmt: skip
    path = courses_xlsx(tmp_path / "loi.xlsx", rows)
    before = len(org.messages())
    await tg.process(tg.api.document_update(BINH, "loi.xlsx", path.read_bytes()))
    answer = org.texts()[before:]
    assert len(answer) >= 2
    assert said("❌ Nothing was imported", "vi") in answer[0]
