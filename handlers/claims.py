"""Reporting a record mistake or claiming a qualification or outside training, on every
channel: kind → details → evidence, from the status answer (the organizer decides in
handlers/claim_review.py).

The choices (kind, qualification, level) are buttons or numbered lines; the details are typed
as the chat's next message (an owed step), and the evidence is a photo or, where the channel
takes files (Telegram), a PDF: an `Upload` the adapter hands over while the step is owed
(handlers.router.UPLOADS). It is checked by its stated size, then by its content; a channel
that can send it again by its own id (a Telegram file id) keeps only that id, others (Zalo)
file its bytes with the claim. The steps are kept in the chat's dialog state, so they outlive
a restart and end with their TTL: a typed step (a description, the training) lasts TYPED_TTL
and is dropped by a pushed notice, so unrelated text typed later is not filed as the claim;
the evidence step keeps the dialog's longer TTL (finding and photographing a certificate
takes time) and outlives a notice, as only a photo answers it and a photo cannot be mistaken
for an answer to the notice.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from domain import claims
from handlers.core import Choice, Ctx, DownloadFailed, Menu, Say, Upload
from handlers.flows import not_linked
from handlers.render import kind_label, label

log = logging.getLogger(__name__)

# What the chat's next message is, and the draft so far (kind, qualification, level, details).
NOTE = "claim_note"  # a typed description (a correction, or a qualification's field)
TRAINING = "claim_training"  # "title; hours; end date"
PHOTO = "claim_photo"  # the evidence: a photo (or a PDF where the channel takes files)
STEPS = (NOTE, TRAINING, PHOTO)
TYPED_TTL = timedelta(minutes=10)  # longer than a reason's: a description takes a while


async def start(ctx: Ctx, arg: str) -> list[Say]:
    """Ask what the person wants to report or claim (from the status answer)."""
    if ctx.person_id is None:
        return not_linked(ctx)
    choices = [Choice(kind_label(ctx.t, k), f"clk:{k}") for k in claims.KINDS]
    return [Say(ctx._("What would you like to tell your organizer? /cancel to stop."), choices)]


async def kind(ctx: Ctx, arg: str) -> list[Say]:
    """Ask for what the chosen kind needs: a qualification, training details or a description."""
    if ctx.person_id is None:
        return not_linked(ctx)
    _ = ctx._
    if arg == claims.QUALIFICATION:
        choices = [Choice(label(ctx.t, k), f"clq:{k}") for k in claims.QUALIFICATION_KINDS]
        return [Say(_("Which qualification?"), choices, edit=True)]
    if arg == claims.TRAINING:
        _expect_typed(ctx, TRAINING, kind=arg)
        return [Say(_training_prompt(ctx), edit=True)]
    if arg != claims.CORRECTION:
        return await start(ctx, "")
    _expect_typed(ctx, NOTE, kind=arg)
    return [Say(_("Describe what is wrong in your record and what it should be."), edit=True)]


async def qualification(ctx: Ctx, arg: str) -> list[Say]:
    """Ask for the level of a ranked qualification, or the certificate's name and level."""
    if ctx.person_id is None:
        return not_linked(ctx)
    if arg not in claims.QUALIFICATION_KINDS:
        return await kind(ctx, claims.QUALIFICATION)
    levels = claims.levels(arg)
    if levels:
        choices = [Choice(label(ctx.t, code), f"cll:{arg}:{code}") for code in levels]
        return [Say(ctx._("Which level?"), choices, edit=True)]
    _expect_typed(ctx, NOTE, kind=claims.QUALIFICATION, qual=arg)
    text = ctx._("Type the certificate's name and level, e.g. <i>Tiếng Anh B1</i>.")
    return [Say(text, edit=True)]


async def level(ctx: Ctx, arg: str) -> list[Say]:
    """Remember the level ("qualification:level"); ask for the field, school and year."""
    if ctx.person_id is None:
        return not_linked(ctx)
    qual, _sep, code = arg.partition(":")
    if qual not in claims.QUALIFICATION_KINDS or code not in claims.levels(qual):
        return await kind(ctx, claims.QUALIFICATION)
    _expect_typed(ctx, NOTE, kind=claims.QUALIFICATION, qual=qual, level=code)
    text = ctx._(
        "Type the field of study, the school and the year (e.g. <i>Luật, Đại học Huế, 2019</i>)."
    )
    return [Say(text, edit=True)]


async def typed(ctx: Ctx, step: str, draft: dict[str, str], text: str) -> list[Say]:
    """The message typed at an open step: the description, the training, or not a photo."""
    _ = ctx._
    if step == NOTE:
        note = text.strip()[: claims.NOTE_MAX]
        details: dict[str, str] = {}
        if draft["kind"] == claims.QUALIFICATION:
            details = {"kind": draft["qual"], "field": note[:200]}
            if draft.get("level"):
                details["level"] = draft["level"]
        return _ask_photo(ctx, draft["kind"], details, note)
    if step == TRAINING:
        parsed = claims.parse_training(text)
        if parsed is not None:
            return _ask_photo(ctx, claims.TRAINING, parsed, "")
        _expect_typed(ctx, TRAINING, **draft)
        return [Say(_("I could not read that. Please send: title; hours; end date (dd/mm/yyyy)."))]
    _expect_photo(ctx, **draft)
    return [Say(_not_evidence(ctx))]


def _not_evidence(ctx: Ctx) -> str:
    if ctx.files:
        return ctx._("Please send a photo or a PDF file, or /cancel.")
    return ctx._("Please send a photo of the certificate or document, or /cancel.")


def _ask_photo(ctx: Ctx, kind: str, details: Mapping[str, object], note: str) -> list[Say]:
    _expect_photo(ctx, kind=kind, details=json.dumps(details), note=note)
    if ctx.files:
        return [Say(ctx._("Now send a photo or a PDF of the certificate or document."))]
    return [Say(ctx._("Now send a photo of the certificate or document."))]


def _expect_typed(ctx: Ctx, step: str, **draft: str) -> None:
    ctx.dialogs.owe(ctx.chat_id, step, ctx.now, draft, ttl=TYPED_TTL)


def _expect_photo(ctx: Ctx, **draft: str) -> None:
    ctx.dialogs.owe(ctx.chat_id, PHOTO, ctx.now, draft, survives_push=True)


def _training_prompt(ctx: Ctx) -> str:
    return ctx._(
        "Send the training's title, hours and end date separated by semicolons, e.g.:\n"
        "<i>Kỹ năng số cho công chức; 16; 05/12/2026</i>"
    )


@dataclass(frozen=True)
class _Kept:
    """How the evidence is filed: by the channel's id of it, or with its bytes."""

    kind: str  # claims.EVIDENCE_KINDS
    file_id: str | None = None
    file: claims.EvidenceFile | None = None


async def evidence(ctx: Ctx, upload: Upload | None) -> list[Say]:
    """File the claim waiting for this photo or file (`None`: something else was sent). A
    file refused or not fetched is asked for again, the reason told; the step stays open."""
    if upload is None:
        return [Say(_not_evidence(ctx))]
    try:
        kept = await _keep(upload)
    except DownloadFailed as exc:
        log.warning("could not download claim evidence in %s chat %s: %s", ctx.channel,
                    ctx.chat_id, exc)  # fmt: skip
        return [Say(_refusal(ctx, exc.reason))]
    if isinstance(kept, claims.EvidenceProblem):
        return [Say(_refusal(ctx, kept))]
    draft = dict(ctx.dialog.data)
    assert ctx.person_id is not None  # router.upload hands evidence of linked chats only
    async with ctx.db.begin() as session:
        filed = await claims.submit(
            session,
            person_id=ctx.person_id,
            kind=draft["kind"],
            details=json.loads(draft["details"]),
            note=draft["note"],
            evidence_kind=kept.kind,
            evidence_file_id=kept.file_id,
            evidence=kept.file,
            now=ctx.now,
        )
    ctx.expect(None)
    text = ctx._(
        "📨 Sent (number %(id)d). An organizer of your unit will check it; I will tell you "
        "the result."
    ) % {"id": filed.id}
    return [Say(text, menu=Menu.MAIN)]


async def _keep(upload: Upload) -> _Kept | claims.EvidenceProblem:
    """Check the stated size, then (unless it is a photo the channel re-encoded and keeps)
    the content: a file's name and declared type are the sender's word."""
    problem = claims.evidence_problem(size=upload.size)
    if problem is not None:
        return problem
    if upload.kind == "photo" and upload.file_id:
        return _Kept("photo", file_id=upload.file_id)
    if upload.fetch is None:  # nothing to check it by
        return claims.EvidenceProblem.WRONG_TYPE
    got = await upload.fetch(claims.EVIDENCE_MAX_BYTES)
    problem = claims.evidence_problem(size=len(got.content), content=got.content)
    if problem is not None:
        return problem
    if upload.file_id:
        return _Kept("document", file_id=upload.file_id)
    return _Kept(claims.STORED_PHOTO, file=claims.EvidenceFile(got.content, got.filename, got.mime))


_NOT_EVIDENCE = (DownloadFailed.NOT_A_PHOTO, claims.EvidenceProblem.WRONG_TYPE,
                 claims.EvidenceProblem.EMPTY)  # fmt: skip


def _refusal(ctx: Ctx, reason: str) -> str:
    """Why evidence was not taken, when the sender can do something about it."""
    _, files = ctx._, ctx.files
    if reason == DownloadFailed.TOO_LARGE:  # the same word as EvidenceProblem.TOO_LARGE
        limit = {"limit": claims.EVIDENCE_MAX_BYTES // (1024 * 1024)}
        if files:
            return _("That file is too large: at most %(limit)d MB. Please send a smaller "
                     "photo or PDF, or /cancel.") % limit  # fmt: skip
        return _("That photo is too large: at most %(limit)d MB. Please send a smaller one, "
                 "or /cancel.") % limit  # fmt: skip
    if reason in _NOT_EVIDENCE and files:
        return _("That file is not a PDF or a photo (JPEG, PNG or HEIC), so it cannot be passed "
                 "on to an organizer. Please send a photo or a PDF of the document, or /cancel.")
    if reason in _NOT_EVIDENCE:
        return _("That is not a photo (JPEG, PNG or HEIC). Please send a photo of the document, "
                 "or /cancel.")  # fmt: skip
    return _("I could not get that photo. Please send it again.")


async def cancel(ctx: Ctx, arg: str) -> list[Say]:
    """/cancel (or "hủy"): drop the draft; the step was already closed by this message."""
    ctx.expect(None)
    return [Say(ctx._("Cancelled."), menu=Menu.MAIN)]
