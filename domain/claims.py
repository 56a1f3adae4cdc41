"""Record corrections and outside training: a person claims, an organizer of their unit decides.

Rosters are often stale and many civil servants study on their own. A claim carries what is
claimed and its evidence: the Telegram file id of a photo or a PDF, or the bytes of a photo
where no such id exists (sent on Zalo, kept in claim_files); an organizer whose scope
covers the person's unit approves it (the record changes, audited) or rejects it with a
reason. Either way the person is told by a notification row.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain import reminders, roles
from domain.completion import grant_qualification
from domain.errors import DomainError, Refusal
from domain.import_rows import parse_when
from domain.vocab import level_vocab
from storage.models import Claim, ClaimFile, ClaimState, Person, Role, TrainingRecord, Unit

CORRECTION, QUALIFICATION, TRAINING = "correction", "qualification", "training"
KINDS = (CORRECTION, QUALIFICATION, TRAINING)
QUALIFICATION_KINDS = (
    "education",
    "political_theory",
    "state_management",
    "it",
    "foreign_language",
    "digital_skills",
)
STORED_PHOTO = "zalo_photo"  # a photo whose bytes are kept: Zalo has no reusable file ids
EVIDENCE_KINDS = ("photo", "document", STORED_PHOTO)
EVIDENCE_MAX_BYTES = 10 * 1024 * 1024  # Telegram's limit for a photo sent to an organizer
# HEIC/HEIF (iPhone photos): an ISO box "ftyp" whose brand names the format.
_HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1")


def is_heif(b: bytes) -> bool:
    return b[4:8] == b"ftyp" and b[8:12] in _HEIF_BRANDS


# What evidence may be, told by the first bytes, never by the file's name or declared type:
# "virus.exe.pdf" starts with MZ, an SVG is text that can carry scripts.
EVIDENCE_TYPES: dict[str, Callable[[bytes], bool]] = {
    "application/pdf": lambda b: b.startswith(b"%PDF-"),
    "image/jpeg": lambda b: b.startswith(b"\xff\xd8\xff"),
    "image/png": lambda b: b.startswith(b"\x89PNG\r\n\x1a\n"),
    "image/heic": is_heif,
}


class EvidenceProblem(enum.StrEnum):
    TOO_LARGE = "too_large"  # over EVIDENCE_MAX_BYTES
    WRONG_TYPE = "wrong_type"  # not one of EVIDENCE_TYPES by its content
    EMPTY = "empty"


def evidence_type(content: bytes) -> str | None:
    """The MIME type of evidence by its first bytes; None when it is not an accepted type."""
    return next((t for t, magic in EVIDENCE_TYPES.items() if magic(content[:16])), None)


def evidence_problem(*, size: int | None, content: bytes | None = None) -> EvidenceProblem | None:
    """Why a file cannot be evidence: its size (known before it is fetched) or, once fetched,
    its content. None when it may be filed."""
    if size is not None and size > EVIDENCE_MAX_BYTES:
        return EvidenceProblem.TOO_LARGE
    if content is None:
        return None
    if not content:
        return EvidenceProblem.EMPTY
    if len(content) > EVIDENCE_MAX_BYTES:
        return EvidenceProblem.TOO_LARGE
    return None if evidence_type(content) else EvidenceProblem.WRONG_TYPE


NOTE_MAX = 1000
# "Kỹ năng số cho công chức; 16; 05/12/2026" (title; hours; end date), ";" or newlines.
_TRAINING_SPLIT = re.compile(r"\s*[;\n]\s*")


@dataclass(frozen=True)
class EvidenceFile:
    content: bytes
    filename: str
    mime: str


@dataclass(frozen=True)
class ClaimView:
    claim: Claim
    person: Person
    unit_name: str
    file: EvidenceFile | None = None  # the stored bytes, when asked for and there are any


@dataclass(frozen=True)
class Review:
    view: ClaimView
    done: bool  # False: somebody had already decided it; nothing changed


def levels(kind: str) -> list[str]:
    """Level codes to choose from for a ranked qualification kind; none for certificates."""
    vocab = level_vocab(kind)
    return vocab.codes if vocab is not None else []


def parse_training(text: str) -> dict[str, Any] | None:
    """Title, hours and end date of outside training, or None when it is not in that shape."""
    parts = [p for p in _TRAINING_SPLIT.split(text.strip()) if p]
    if len(parts) != 3 or not parts[1].isdigit() or not 0 < int(parts[1]) <= 2000:
        return None
    when = parse_when(parts[2])
    if when is None or len(parts[0]) > 300:
        return None
    return {"title": parts[0], "hours": int(parts[1]), "ends_on": when[0].isoformat()}


async def submit(
    session: AsyncSession,
    *,
    person_id: int,
    kind: str,
    details: dict[str, Any],
    note: str,
    evidence_kind: str,
    evidence_file_id: str | None = None,
    evidence: EvidenceFile | None = None,
    now: datetime,
) -> Claim:
    """File a claim with its evidence for the organizers of the person's unit: a file id,
    or (STORED_PHOTO) the photo's bytes, stored with the claim in the caller's transaction."""
    if kind not in KINDS or evidence_kind not in EVIDENCE_KINDS:
        raise ValueError(f"claim kind {kind} / evidence {evidence_kind}")
    if (evidence_kind == STORED_PHOTO) != (evidence is not None) or (
        evidence is None and not evidence_file_id
    ):
        raise ValueError(f"evidence {evidence_kind} needs bytes exactly when it is stored")
    if evidence is not None and not 0 < len(evidence.content) <= EVIDENCE_MAX_BYTES:
        raise ValueError(f"evidence of {len(evidence.content)} bytes")
    if kind == QUALIFICATION and details.get("kind") not in QUALIFICATION_KINDS:
        raise ValueError(f"qualification kind {details.get('kind')}")
    claim = Claim(
        person_id=person_id,
        kind=kind,
        details=details,
        note=note[:NOTE_MAX],
        evidence_file_id=evidence_file_id,
        evidence_kind=evidence_kind,
        state=ClaimState.PENDING,
        created_at=now,
    )
    session.add(claim)
    await session.flush()
    if evidence is not None:
        session.add(
            ClaimFile(
                claim_id=claim.id,
                content=evidence.content,
                filename=evidence.filename[:200],
                mime=evidence.mime[:100],
            )
        )
        await session.flush()
    return claim


async def queue(session: AsyncSession, *, actor_id: int | None, limit: int = 20) -> list[ClaimView]:
    """Pending claims of people in the organizer's scope, oldest first."""
    scope = await roles.require(session, person_id=actor_id, role=Role.ORGANIZER)
    stmt = (
        select(Claim, Person, Unit.name)
        .join(Person, Person.id == Claim.person_id)
        .join(Unit, Unit.id == Person.unit_id)
        .where(Claim.state == ClaimState.PENDING)
        .order_by(Claim.created_at, Claim.id)
        .limit(limit)
    )
    if not scope.everywhere:
        stmt = stmt.where(Person.unit_id.in_(scope.unit_ids))
    return [ClaimView(c, p, u) for c, p, u in await session.execute(stmt)]


async def for_review(
    session: AsyncSession,
    *,
    actor_id: int | None,
    claim_id: int,
    with_file: bool = False,
    lock: bool = False,
) -> ClaimView:
    """One claim, when the actor organizes for the claimant's unit (and is not the claimant);
    `with_file` also loads the evidence's stored bytes, if it has any. `lock` takes the row
    lock (PostgreSQL; SQLite's BEGIN IMMEDIATE already serialises) and reads it afresh, so of
    several organizers deciding at once exactly one finds it pending."""
    stmt = select(Claim).where(Claim.id == claim_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    claim = (await session.execute(stmt)).scalar_one_or_none()
    if claim is None:
        raise DomainError(Refusal.NOT_FOUND)
    person = await session.get(Person, claim.person_id)
    assert person is not None
    await roles.require(session, person_id=actor_id, role=Role.ORGANIZER, unit_id=person.unit_id)
    if claim.person_id == actor_id:  # nobody approves their own record
        raise DomainError(Refusal.FORBIDDEN, role=Role.ORGANIZER.value)
    unit = await session.get(Unit, person.unit_id)
    file = None
    if with_file:
        row = (
            await session.execute(select(ClaimFile).where(ClaimFile.claim_id == claim.id))
        ).scalar_one_or_none()
        file = EvidenceFile(row.content, row.filename, row.mime) if row is not None else None
    return ClaimView(claim, person, unit.name if unit else "", file)


async def approve(
    session: AsyncSession, *, actor_id: int | None, claim_id: int, now: datetime
) -> Review:
    """Apply the claim to the record (a qualification, or a training record), audited; a
    correction is marked approved for the roster keeper to apply. The person is told."""
    view = await for_review(session, actor_id=actor_id, claim_id=claim_id, lock=True)
    claim = view.claim
    if claim.state != ClaimState.PENDING:
        return Review(view, done=False)
    d = claim.details
    changed = False
    if claim.kind == QUALIFICATION:
        changed = await grant_qualification(
            session,
            person_id=claim.person_id,
            kind=str(d["kind"]),
            level=d.get("level"),
            field=str(d.get("field") or claim.note or ""),
            obtained_on=None,
            source="claim",
        )
    elif claim.kind == TRAINING:
        session.add(
            TrainingRecord(
                person_id=claim.person_id,
                course_id=None,
                title=str(d["title"])[:300],
                hours=int(d["hours"]),
                ends_on=date.fromisoformat(str(d["ends_on"])),
                certificate_no=(str(d["certificate_no"])[:60] if d.get("certificate_no") else None),
                claim_id=claim.id,
            )
        )
        changed = True
    await _decide(session, view, actor_id, ClaimState.APPROVED, None, now, changed=changed)
    return Review(view, done=True)


async def reject(
    session: AsyncSession, *, actor_id: int | None, claim_id: int, reason: str, now: datetime
) -> Review:
    """Reject with a reason the person will read; the record does not change."""
    view = await for_review(session, actor_id=actor_id, claim_id=claim_id, lock=True)
    if view.claim.state != ClaimState.PENDING:
        return Review(view, done=False)
    await _decide(session, view, actor_id, ClaimState.REJECTED, reason[:NOTE_MAX], now)
    return Review(view, done=True)


async def _decide(
    session: AsyncSession,
    view: ClaimView,
    actor_id: int | None,
    state: ClaimState,
    reason: str | None,
    now: datetime,
    *,
    changed: bool = False,
) -> None:
    claim = view.claim
    claim.state, claim.reviewer_id, claim.reviewed_at, claim.reason = state, actor_id, now, reason
    await session.flush()
    await roles.audit(
        session,
        actor_person_id=actor_id,
        actor=await roles.actor_label(session, actor_id),
        action=f"claim_{'approve' if state == ClaimState.APPROVED else 'reject'}",
        target=f"claim {claim.id} ({claim.kind}): {view.person.full_name} "
        f"({view.person.personal_id})",
        now=now,
        details=claim.details,
        record_changed=changed,
    )
    await reminders.notify_now(
        session,
        key=f"{reminders.CLAIM_RESULT}:{claim.id}",
        person_id=claim.person_id,
        kind=reminders.CLAIM_RESULT,
        now=now,
        params={
            "claim_id": claim.id,
            "kind": claim.kind,
            "approved": state == "approved",
            "reason": reason or "",
        },
    )
