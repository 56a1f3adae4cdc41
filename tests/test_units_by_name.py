"""Organizers name units as they speak of them: part of the name, with or without accents;
several matches are offered with their codes, and codes still work. What they read names
units and standards, never internal codes. Through the real application.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from storage.models import ChatAccount, Person, Role, RoleGrant, StandardRule, Unit
from tests.factories import CULTURE_SOCIAL_DEGREE as RULE
from tests.factories import grant, make_unit, person_in, seeded_position
from tests.harness import Telegram, button_data, user

pytestmark = pytest.mark.databases("sqlite")

ORGANIZER, ADMIN, OTHER = 100, 110, 120


async def _province(w: Telegram) -> dict[str, Any]:
    async with w.db.begin() as s:
        district = await make_unit(s, code="LS-TD", name="Huyện Tràng Định", kind="district")
        de_tham = await make_unit(s, code="LS-X1", name="Xã Đề Thám", parent=district)
        await make_unit(s, code="LS-X2", name="Xã Tân Lập", parent=district)
        await make_unit(s, code="LS-X3", name="Xã Tân Văn", parent=district)
        cs = await seeded_position(s)
        org = await person_in(s, district, uid=ORGANIZER, name="Trần Phụ Trách")
        await grant(s, org, district, Role.ORGANIZER)
        admin = await person_in(s, district, uid=ADMIN, name="Hà Quản Trị")
        await grant(s, admin, None, Role.ADMIN)
        other = await person_in(s, de_tham, uid=OTHER, pos=cs, name="Lê Thị Hoa")
        rule = (await s.execute(select(StandardRule).where(StandardRule.code == RULE))).scalar_one()
    for uid in (ORGANIZER, ADMIN, OTHER):
        w.api.add_user({"id": uid, "is_bot": False, "first_name": "U", "language_code": "vi"})
    return {"other": other, "rule": rule}


async def test_a_broadcast_goes_to_a_unit_typed_by_part_of_its_name(broadcasting: Telegram) -> None:
    w = broadcasting
    await _province(w)
    await w.say(user(ORGANIZER), "/broadcast")
    await w.say(user(ORGANIZER), "Họp giao ban")
    draft = int(button_data(w.api.last_message(ORGANIZER))[0].split(":")[1])
    await w.press_answer(user(ORGANIZER), f"bca:{draft}:unit")
    offered = (await w.say(user(ORGANIZER), "tan"))["text"]
    assert offered.startswith("Có nhiều đơn vị khớp với “tan”.")
    assert "LS-X2 — Xã Tân Lập (Huyện Tràng Định)" in offered
    assert "LS-X3 — Xã Tân Văn (Huyện Tràng Định)" in offered
    missing = (await w.say(user(ORGANIZER), "Xã Hồng Phong"))["text"]
    assert missing.startswith("Không có đơn vị nào có tên hoặc mã như “Xã Hồng Phong”")
    asked = (await w.say(user(ORGANIZER), "de tham"))["text"]  # no accents, part of the name
    assert "Số người nhận: 1" in asked
    await w.press_answer(user(ORGANIZER), f"bck:{draft}:0")
    summary = w.api.last_message(ORGANIZER)["text"]
    assert "Đối tượng: đơn vị Xã Đề Thám" in summary and "LS-X1" not in summary


async def test_the_preview_names_the_standard_not_its_code(broadcasting: Telegram) -> None:
    w = broadcasting
    found = await _province(w)
    await w.say(user(ORGANIZER), "/broadcast")
    await w.say(user(ORGANIZER), "Nhắc nộp bằng")
    draft = int(button_data(w.api.last_message(ORGANIZER))[0].split(":")[1])
    await w.press_answer(user(ORGANIZER), f"bca:{draft}:miss")
    await w.press_answer(user(ORGANIZER), f"bcr:{draft}:{found['rule'].id}")
    await w.press_answer(user(ORGANIZER), f"bck:{draft}:0")
    summary = w.api.last_message(ORGANIZER)["text"]
    assert f"thiếu chuẩn {found['rule'].title_vi}" in summary and RULE not in summary


async def test_grant_in_chat_takes_a_unit_name_and_offers_matches(broadcasting: Telegram) -> None:
    w = broadcasting
    await _province(w)
    async with w.db() as s:
        pid = (await s.execute(select(Unit.id).where(Unit.code == "LS-X1"))).scalar_one()
    personal_id = await _personal_id(w, OTHER)
    offered = (await w.say(user(ADMIN), f"/grant {personal_id} unit_head Tân"))["text"]
    assert "LS-X2 — Xã Tân Lập" in offered and "LS-X3 — Xã Tân Văn" in offered
    assert (await w.say(user(ADMIN), f"/grant {personal_id} unit_head xa de tham"))[
        "text"
    ] == "Đã xong."
    async with w.db() as s:
        given = (await s.execute(select(RoleGrant.role, RoleGrant.unit_id))).all()
    assert (Role.UNIT_HEAD.value, pid) in [(str(r), u) for r, u in given]
    assert (await w.say(user(ADMIN), f"/grant {personal_id} organizer LS-X2"))["text"] == "Đã xong."


async def test_an_organizer_asking_for_an_administrators_command_is_told_so(
    broadcasting: Telegram,
) -> None:
    w = broadcasting
    await _province(w)
    for command in ("/audit", "/grant 020000000000 organizer LS-X1"):
        assert (await w.say(user(ORGANIZER), command))[
            "text"
        ] == "Việc này cần quyền quản trị viên."


async def _personal_id(w: Telegram, uid: int) -> str:
    async with w.db() as s:
        query = (
            select(Person.personal_id)
            .join(ChatAccount, ChatAccount.person_id == Person.id)
            .where(ChatAccount.chat_user_id == str(uid))
        )
        return str((await s.execute(query)).scalar_one())
