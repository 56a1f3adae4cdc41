"""/claims: an organizer of the claimant's unit decides a record claim (handlers/claims.py).

The pending claims of the organizer's units are listed oldest first; one is shown as its card
with the evidence and Approve / Reject. Approving changes the record (the domain audits it);
rejecting asks for the reason as the chat's next message, which the person reads. Either way
the person is told by a notice. Every step is one guarded action (handlers/guard.py): a claim
outside the organizer's units, or their own, is refused and audited.

The evidence goes with the card where the channel can show it (Telegram: the photo or PDF, by
its file id or from the stored bytes); a channel that cannot (Zalo) says a photo or file came
with the claim and where it can be seen.
"""

from __future__ import annotations

from datetime import date
from html import escape
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from domain import claims
from domain.claims import ClaimView
from domain.errors import DomainError, Refusal
from domain.roles import Scope
from handlers import actions as cb
from handlers.core import Choice, Ctx, File, Say
from handlers.guard import Refused, guarded
from handlers.render import kind_label, label, refusal, short
from locales import Translator

REASON = "claims.reason"  # the reason for rejecting, typed as the next message


def _words(t: Translator, error: DomainError) -> str:
    if error.code == Refusal.NOT_FOUND:
        return t.gettext("This claim no longer exists.")
    return refusal(t, error)


def card(t: Translator, view: ClaimView) -> str:
    """The claim as the organizer sees it (fits a caption)."""
    _, c, d = t.gettext, view.claim, view.claim.details
    lines = [
        _("<b>Claim %(id)d</b> · %(kind)s") % {"id": c.id, "kind": kind_label(t, c.kind)},
        f"{escape(view.person.full_name)} ({escape(view.person.personal_id)}) · "
        f"{escape(view.unit_name)}",
    ]
    if c.kind == claims.QUALIFICATION:
        level = f": {escape(label(t, d.get('level')))}" if d.get("level") else ""
        lines.append(f"🎓 {escape(label(t, str(d.get('kind'))))}{level}")
    elif c.kind == claims.TRAINING:
        lines.append(
            _("📚 %(title)s · %(hours)d hours · ended %(date)s")
            % {
                "title": escape(str(d.get("title"))),
                "hours": int(d.get("hours") or 0),
                "date": t.date(date.fromisoformat(str(d.get("ends_on")))),
            }
        )
    if c.note:
        lines.append("💬 " + escape(short(c.note, 400)))
    lines.append(_("Sent %(when)s") % {"when": t.datetime(c.created_at)})
    # Never cut here: cutting escaped text can split an entity; the bot's outgoing guard
    # (bot/outgoing.py) cuts a caption over Telegram's 1,024 characters where it is safe.
    return "\n".join(lines)


async def queue(ctx: Ctx, arg: str) -> list[Say]:
    """/claims: pending claims of people in the organizer's units, oldest first."""

    async def pending(session: AsyncSession, scope: Scope) -> list[ClaimView]:
        return await claims.queue(session, actor_id=ctx.person_id)

    found = await guarded(ctx, "claims", pending)
    if isinstance(found, Refused):
        return found.said()
    t = ctx.t
    if not found:
        return [Say(t.gettext("No claims are waiting for you."))]
    choices = [
        Choice(f"{v.claim.id} · {short(v.person.full_name, 28)} · {kind_label(t, v.claim.kind)}",
               cb.build(cb.CLAIM_VIEW, v.claim.id))
        for v in found
    ]  # fmt: skip
    text = t.ngettext(
        "<b>%(n)d claim</b> waiting, oldest first.",
        "<b>%(n)d claims</b> waiting, oldest first.",
        len(found),
    ) % {"n": len(found)}
    return [Say(text, choices)]


async def view(ctx: Ctx, arg: str) -> list[Say]:
    """The claim's card with its evidence, and Approve / Reject."""
    claim_id = int(arg)

    async def one(session: AsyncSession, scope: Scope) -> ClaimView:
        return await claims.for_review(
            session, actor_id=ctx.person_id, claim_id=claim_id, with_file=True
        )

    found = await guarded(ctx, "claim_view", one, words=_words)
    if isinstance(found, Refused):
        return found.shown()
    _ = ctx._
    choices = [
        Choice(_("✅ Approve"), cb.build(cb.CLAIM_APPROVE, claim_id)),
        Choice(_("❌ Reject"), cb.build(cb.CLAIM_REJECT, claim_id), joined=True),
    ]
    return [Say(card(ctx.t, found), choices, file=_evidence(ctx.t, found))]


def _evidence(t: Translator, view: ClaimView) -> File | None:
    """The evidence under the card: the stored bytes (a photo sent on Zalo), or the file the
    channel holds by its id; what a channel without files says instead."""
    claim, _ = view.claim, t.gettext
    photo = view.file is not None or claim.evidence_kind == "photo"
    instead = (
        _("📎 Evidence: a photo came with this claim. It cannot be shown in this chat; "
          "/claims in the bot on Telegram shows it.")
        if photo
        else _("📎 Evidence: a file came with this claim. It cannot be shown in this chat; "
               "/claims in the bot on Telegram shows it.")
    )  # fmt: skip
    if view.file is not None:
        return File(view.file.filename, view.file.content, instead=instead, photo=True,
                    attached=True)  # fmt: skip
    if claim.evidence_file_id:
        return File("", b"", instead=instead, ref=claim.evidence_file_id, photo=photo,
                    attached=True)  # fmt: skip
    return None


async def approve(ctx: Ctx, arg: str) -> list[Say]:
    """Approve: the record changes (audited) and the person is told."""
    claim_id = int(arg)

    async def decide(session: AsyncSession, scope: Scope) -> claims.Review:
        return await claims.approve(
            session, actor_id=ctx.person_id, claim_id=claim_id, now=ctx.now
        )

    review = await guarded(ctx, "claim_approve", decide, words=_words)
    if isinstance(review, Refused):
        return review.shown()
    return _decided(ctx, review)


async def ask_reason(ctx: Ctx, arg: str) -> list[Say]:
    """Ask the organizer why, before rejecting (a claim that is not theirs is refused here)."""
    claim_id = int(arg)

    async def theirs(session: AsyncSession, scope: Scope) -> ClaimView:
        return await claims.for_review(session, actor_id=ctx.person_id, claim_id=claim_id)

    found = await guarded(ctx, "claim_reject", theirs, words=_words)
    if isinstance(found, Refused):
        return found.shown()
    ctx.expect(REASON, claim=claim_id)
    text = ctx._(
        "Why is claim %(id)d rejected? Your words are sent to the person. /cancel to stop."
    ) % {"id": claim_id}
    return [Say(text)]


async def reason(ctx: Ctx, step: str, data: dict[str, Any], text: str) -> list[Say]:
    """Reject with the reason typed; the person is told."""
    claim_id, given = int(data["claim"]), text.strip()
    if not given or given.lower() == "/skip":  # the person reads it: a reason is needed
        return await ask_reason(ctx, str(claim_id))

    async def decide(session: AsyncSession, scope: Scope) -> claims.Review:
        return await claims.reject(
            session, actor_id=ctx.person_id, claim_id=claim_id, reason=given, now=ctx.now
        )

    review = await guarded(ctx, "claim_reject", decide, words=_words)
    if isinstance(review, Refused):
        return review.said()
    return _decided(ctx, review)


def _decided(ctx: Ctx, review: claims.Review) -> list[Say]:
    """Say what happened, drop the choices under the evidence, and deliver the notice now."""
    _, c = ctx._, review.view.claim
    if not review.done:
        return [Say(_("Claim %(id)d was already decided.") % {"id": c.id})]
    ctx.wake()
    text = (
        _("✅ Claim %(id)d approved; the record of %(name)s is updated.")
        if c.state == "approved"
        else _("Claim %(id)d rejected; %(name)s will be told why.")
    ) % {"id": c.id, "name": escape(review.view.person.full_name)}
    return [Say(edit=True), Say(text)]
