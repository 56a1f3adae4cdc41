"""Administrators in chat: /grant and /revoke a role, /audit to read the newest log entries.

"/grant PERSONAL_ID admin|organizer|unit_head UNIT" (a unit by code or name; several units
answering to a name are offered with their codes). Every step is guarded (handlers/guard.py):
only an administrator passes, a refusal is audited; what a grant changes, the domain audits.
"""

from __future__ import annotations

from html import escape

from sqlalchemy.ext.asyncio import AsyncSession

from domain import roles
from domain.errors import DomainError, Refusal
from handlers.core import Ctx, Say
from handlers.guard import Refused, guarded
from handlers.organizer import unit_choices
from handlers.render import refusal
from locales import Translator
from storage.models import AuditEntry, Role

ROLES = {r.value: r for r in Role}
AUDIT_ENTRIES = 20
AUDIT_CHARS = 3800  # the log stays inside one message


async def grant(ctx: Ctx, arg: str) -> list[Say]:
    """/grant PERSONAL_ID ROLE [UNIT]: give a role in a unit's subtree (admin: everywhere)."""
    return await _change(ctx, arg, give=True)


async def revoke(ctx: Ctx, arg: str) -> list[Say]:
    """/revoke PERSONAL_ID ROLE [UNIT]: take a role back."""
    return await _change(ctx, arg, give=False)


async def _change(ctx: Ctx, arg: str, *, give: bool) -> list[Say]:
    args = arg.split()
    unit = " ".join(args[2:])
    usage = len(args) < 2 or args[1] not in ROLES or (give and args[1] != Role.ADMIN and not unit)

    async def change(session: AsyncSession, scope: roles.Scope) -> bool | None:
        if usage:
            return None
        actor = await roles.actor_label(session, ctx.person_id)
        return await roles.change_role(
            session, actor_person_id=ctx.person_id, actor=actor, personal_id=args[0],
            role=ROLES[args[1]], unit_code=unit or None, give=give,
        )  # fmt: skip

    def words(t: Translator, error: DomainError) -> str:
        matches = error.details.get("matches")
        if isinstance(matches, list) and matches:
            return unit_choices(t, unit, matches)
        if error.details.get("what") == "person":
            return t.gettext("No such person.")
        return t.gettext("No such unit.")

    def refused(t: Translator, error: DomainError) -> str:
        return refusal(t, error) if error.code == Refusal.FORBIDDEN else words(t, error)

    changed = await guarded(ctx, "grant" if give else "revoke", change, role=Role.ADMIN,
                            words=refused)  # fmt: skip
    if isinstance(changed, Refused):
        return changed.said()
    _ = ctx._
    if changed is None:
        return [Say(_("Usage: /grant PERSONAL_ID admin|organizer|unit_head UNIT_CODE"))]
    return [Say(_("Done.") if changed else _("Nothing changed."))]


async def audit(ctx: Ctx, arg: str) -> list[Say]:
    """Show the newest audit entries to an administrator."""

    async def recent(session: AsyncSession, scope: roles.Scope) -> list[AuditEntry]:
        return await roles.recent_audit(session, limit=AUDIT_ENTRIES)

    entries = await guarded(ctx, "audit", recent, role=Role.ADMIN)
    if isinstance(entries, Refused):
        return entries.said()
    lines = [ctx._("<b>Audit log, newest first</b>")]
    for e in entries:
        lines.append(
            f"{ctx.t.datetime(e.at)} · {escape(e.result)} · {escape(e.action)} · "
            f"{escape(e.actor)} → {escape(e.target)}"
        )
        if sum(len(line) + 1 for line in lines) > AUDIT_CHARS:
            lines.pop()
            break
    return [Say("\n".join(lines))]
