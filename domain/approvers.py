"""Who decides on a person's registration ("the unit head"), and asking them.

Kept apart from domain/nominations.py so that registering (domain/registration.py) can ask
for an approval without importing the nomination flow, which itself builds on registering.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.reminders import APPROVAL_REQUEST, Policy, notify_now
from storage.models import Course, Registration, Role, RoleGrant
from storage.repos.people import PeopleRepo

log = logging.getLogger(__name__)


async def approvers_of(session: AsyncSession, person_id: int) -> list[int]:
    """The unit head(s) of a person: holders of UNIT_HEAD or ORGANIZER on the nearest unit
    of the person's chain that has any; failing that, organizers everywhere and
    administrators. The person never approves themself."""
    person = await PeopleRepo(session).get(person_id)
    if person is None:
        return []
    chain = [u.id for u in await PeopleRepo(session).unit_chain(person.unit_id)]
    rows = (
        await session.execute(
            select(RoleGrant.person_id, RoleGrant.role, RoleGrant.unit_id).where(
                RoleGrant.person_id != person_id,
                or_(
                    RoleGrant.role.in_((Role.UNIT_HEAD, Role.ORGANIZER))
                    & RoleGrant.unit_id.in_(chain),
                    RoleGrant.role == Role.ADMIN,
                    (RoleGrant.role == Role.ORGANIZER) & RoleGrant.unit_id.is_(None),
                ),
            )
        )
    ).all()
    for unit_id in chain:
        nearest = sorted({p for p, role, u in rows if u == unit_id and role != Role.ADMIN})
        if nearest:
            return nearest
    return sorted({p for p, role, u in rows if role == Role.ADMIN or u is None})


def approval_hold(course: Course, now: datetime, policy: Policy) -> datetime:
    """Until when a pending approval holds its seat: `approval_margin` before registration
    closes; a request made later than that gets until the deadline, and one made after the
    deadline (a waitlist promotion) gets the margin itself, but never past the start."""
    target = course.registration_deadline - policy.approval_margin
    if target > now:
        return target
    if course.registration_deadline > now:
        return course.registration_deadline
    return min(now + policy.approval_margin, course.starts_at)


async def ask_approval(
    session: AsyncSession, *, reg: Registration, course: Course, now: datetime
) -> int:
    """Send an approve/decline request to each approver of the registration's person."""
    heads = await approvers_of(session, reg.person_id)
    if not heads:
        log.warning("nobody can approve registration %s (course %s)", reg.id, course.id)
    for head in heads:
        await notify_now(
            session,
            key=f"{APPROVAL_REQUEST}:{reg.id}:{reg.queue_seq}:{head}",
            person_id=head,
            kind=APPROVAL_REQUEST,
            now=now,
            course_id=course.id,
            params={"reg_id": reg.id},
        )
    return len(heads)
