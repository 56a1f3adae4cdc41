"""Spreadsheets sent in chat go through the same bounded reader as the command line: a bomb
is refused with the limit in the organizer's language, and a long list of bad rows comes as
a short message plus the whole list as an XLSX. (Issue 13, item 1.)"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.sheets import MAX_ROWS
from handlers.sheets import CHAT_MAX_ROWS
from storage.models import Course
from tests.factories import course_row, courses_xlsx, make_communes, make_organizer
from tests.harness import Telegram, link_account
from tests.hostile import row_bomb_xlsx

pytestmark = pytest.mark.databases("sqlite")


async def _organizer_chat(chat: Telegram, uid: int) -> dict[str, Any]:
    async with chat.db.begin() as s:
        units = await make_communes(s)
        return await link_account(s, chat.api, await make_organizer(s, units["LS-X1"]), uid)


async def test_a_row_bomb_sent_as_courses_is_refused_naming_the_limit(
    chat: Telegram, db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    api = chat.api
    org = await _organizer_chat(chat, 701)
    # 1 MB on the wire, past even the command line's limit.
    bomb = row_bomb_xlsx(tmp_path / "khoa-hoc.xlsx", MAX_ROWS + 1)
    await chat.send_file(org, "khoa-hoc.xlsx", bomb.read_bytes())
    refused = f"Bảng tính có quá nhiều dòng: tối đa {CHAT_MAX_ROWS} dòng."
    assert api.last_message(701)["text"] == refused
    lines = "Mã khóa học,Tên khóa học\n" + "QL,x\n" * CHAT_MAX_ROWS
    await chat.send_file(org, "khoa-hoc.csv", lines.encode())
    assert api.last_message(701)["text"] == refused
    await chat.send_file(org, "khoa-hoc.csv", b"x" * (10 * 1024 * 1024 + 1))
    assert api.last_message(701)["text"] == "Tệp quá lớn: tối đa 10 MB."


async def test_a_latin1_csv_is_refused_with_what_to_do(
    chat: Telegram, db: async_sessionmaker[AsyncSession]
) -> None:
    api = chat.api
    org = await _organizer_chat(chat, 702)
    text = "Code,Title\nQL-1,Gestión Ñandú\n"
    await chat.send_file(org, "courses.csv", text.encode("latin-1"))
    assert "CSV UTF-8" in api.last_message(702)["text"]


async def test_many_bad_rows_come_as_a_short_message_and_the_whole_list_as_xlsx(
    chat: Telegram, db: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    api = chat.api
    org = await _organizer_chat(chat, 703)
    rows = [{**course_row(f"QL-{i}", "LS-X1"), "capacity": "nhiều"} for i in range(30)]
    bad = courses_xlsx(tmp_path / "bad.xlsx", rows)
    await chat.send_file(org, "bad.xlsx", bad.read_bytes())
    sent = api.sent_to(703)
    summary, listing = sent[-2]["text"], sent[-1]
    assert "Chưa nhập gì" in summary and "… và 10 lỗi khác." in summary
    assert listing["caption"] == "Toàn bộ 30 lỗi, theo từng dòng."
    book = load_workbook(io.BytesIO(api.file_content(listing["document"]["file_id"])))
    table = list(book.active.iter_rows(values_only=True))  # type: ignore[union-attr]
    assert table[0] == ("Dòng", "Cột", "Giá trị", "Lỗi")
    assert [r[0] for r in table[1:]] == list(range(2, 32))
    assert table[1][1:] == ("Số chỗ", "nhiều", "không phải số nguyên")
    async with db() as s:
        assert (await s.execute(select(Course))).first() is None
