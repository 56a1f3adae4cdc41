"""Hostile and careless input through the real application: forged organizer buttons are refused
before any prompt, and messages built from long or odd data still fit what Telegram accepts
(the in-memory Telegram checks every call against the Bot API spec and its HTML rules)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain import broadcasts, claims, roles
from storage.models import Role, Unit
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
