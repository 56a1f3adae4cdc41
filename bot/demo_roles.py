"""The demo's organizer side: `./dev demo --role organizer|unit_head|admin` plays someone who
holds that role (an organizer of the demo province, whose departments run the courses; a
unit head of the demo district), with something waiting to be acted on.

The person is one of the demo's suggested civil servants (the chairperson for a unit head);
the role is granted as `boiduong grant` would, and two people of the district have reported a
qualification with a photo, so `/claims` has a queue. The courses already have registrants
and a waitlist, so `/organize`, `/attendance`, `/nominate` and `/broadcast` have data too.
"""

from __future__ import annotations

import base64
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.demo import DISTRICT_CODE, PROVINCE_CODE, DemoPerson, demo_people
from domain import claims, roles
from storage.models import Claim, ClaimState, Person, Role, Unit

ROLES = ("organizer", "unit_head", "admin")
# A 1×1 PNG: the claims' photo of a diploma (the organizer's chat shows it as a photo).
_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
_CLAIMS = (
    ({"kind": "education", "level": "dai_hoc", "field": "Quản lý văn hóa"},
     "Tôi đã tốt nghiệp đại học hệ vừa làm vừa học, gửi kèm ảnh bằng."),
    ({"kind": "political_theory", "level": "trung_cap", "field": ""},
     "Đã học xong trung cấp lý luận chính trị, xin cập nhật."),
)  # fmt: skip


async def prepare_role(
    session: AsyncSession, *, role: str, now: datetime, tz: ZoneInfo
) -> DemoPerson:
    """Grant `role` to the demo person who plays it and make sure claims are waiting."""
    people = {p.role: p for p in await demo_people(session, now=now, tz=tz)}
    player = people["chairperson" if role == "unit_head" else "meets_all"]
    person_id = (
        await session.execute(select(Person.id).where(Person.personal_id == player.personal_id))
    ).scalar_one()
    units = dict(
        (await session.execute(
            select(Unit.code, Unit.id).where(Unit.code.in_([DISTRICT_CODE, PROVINCE_CODE]))
        )).all()
    )  # fmt: skip
    district = units[DISTRICT_CODE]
    scope = district if role == "unit_head" else units[PROVINCE_CODE]
    await roles.grant(session, person_id=person_id, role=Role(role), unit_id=scope, by="demo")
    waiting = (
        await session.execute(
            select(func.count()).select_from(Claim).where(Claim.state == ClaimState.PENDING)
        )
    ).scalar_one()
    if not waiting:
        await _claims(session, district=district, player=person_id, now=now)
    return player


async def _claims(session: AsyncSession, *, district: int, player: int, now: datetime) -> None:
    units = await roles.subtree(session, [district])
    authors = (
        await session.execute(
            select(Person.id)
            .where(Person.unit_id.in_(sorted(units)), Person.id != player)
            .order_by(Person.id)
            .limit(len(_CLAIMS))
        )
    ).scalars()
    for person_id, (details, note) in zip(authors, _CLAIMS, strict=False):
        await claims.submit(
            session, person_id=person_id, kind=claims.QUALIFICATION, details=details, note=note,
            evidence_kind=claims.STORED_PHOTO,
            evidence=claims.EvidenceFile(_PNG, "bang.png", "image/png"), now=now,
        )  # fmt: skip
