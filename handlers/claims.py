"""Reporting a record mistake or claiming a qualification or outside training on Zalo: the
counterpart of handlers/claims.py's conversation (kind → details → evidence), with the same
wording and domain checks.

The choices (kind, qualification, level) are numbered; the details are typed as the chat's
next message (zalo/conversation.py hands it over while a step is open), and the evidence is a
photo: Zalo bots receive images only, never PDFs. The photo is downloaded from the URL in the
image event and its bytes are filed with the claim, as Telegram file ids cannot be made here.
The steps are kept in the chat's dialog state, so they end with a restart or their TTL: a
typed step (a description, the training) lasts TYPED_TTL and is dropped by a pushed notice, so
unrelated text typed later is not filed as the claim; the photo step keeps the dialog's longer
TTL (finding and photographing a certificate takes time) and outlives a notice, as only a
photo answers it and a photo cannot be mistaken for an answer to the notice.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta

from domain import claims
from handlers.core import Choice, Ctx, Downloaded, DownloadFailed, Say
from handlers.flows import main_menu, not_linked
from handlers.render import kind_label, label

log = logging.getLogger(__name__)

# What the chat's next message is, and the draft so far (kind, qualification, level, details).
NOTE = "claim_note"  # a typed description (a correction, or a qualification's field)
TRAINING = "claim_training"  # "title; hours; end date"
PHOTO = "claim_photo"  # a photo of the evidence
STEPS = (NOTE, TRAINING, PHOTO)
TYPED_TTL = timedelta(minutes=10)  # longer than a reason's: a description takes a while

Fetch = Callable[[str], Awaitable[Downloaded]]


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
        return [Say(_("Which qualification?"), choices)]
    if arg == claims.TRAINING:
        _expect_typed(ctx, TRAINING, kind=arg)
        return [Say(_training_prompt(ctx))]
    if arg != claims.CORRECTION:
        return await start(ctx, "")
    _expect_typed(ctx, NOTE, kind=arg)
    return [Say(_("Describe what is wrong in your record and what it should be."))]


async def qualification(ctx: Ctx, arg: str) -> list[Say]:
    """Ask for the level of a ranked qualification, or the certificate's name and level."""
    if ctx.person_id is None:
        return not_linked(ctx)
    if arg not in claims.QUALIFICATION_KINDS:
        return await kind(ctx, claims.QUALIFICATION)
    levels = claims.levels(arg)
    if levels:
        choices = [Choice(label(ctx.t, code), f"cll:{arg}:{code}") for code in levels]
        return [Say(ctx._("Which level?"), choices)]
    _expect_typed(ctx, NOTE, kind=claims.QUALIFICATION, qual=arg)
    return [Say(ctx._("Type the certificate's name and level, e.g. <i>Tiếng Anh B1</i>."))]


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
    return [Say(text)]


async def typed(ctx: Ctx, step: str, draft: dict[str, str], text: str) -> list[Say]:
    """The message typed at an open step: the description, the training, or not a photo."""
    _ = ctx._
    if step == NOTE:
        note = text[: claims.NOTE_MAX]
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
    return [Say(_("Please send a photo of the certificate or document, or /cancel."))]


def _ask_photo(ctx: Ctx, kind: str, details: Mapping[str, object], note: str) -> list[Say]:
    _expect_photo(ctx, kind=kind, details=json.dumps(details), note=note)
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


async def photo(ctx: Ctx, url: str, fetch: Fetch) -> list[Say] | None:
    """File the claim waiting for this photo; None when no claim waits for one. A photo that
    cannot be fetched is asked for again and the step stays open."""
    state = ctx.dialogs.state(ctx.chat_id, ctx.now)
    if state.expect != PHOTO or ctx.person_id is None:
        return None
    draft = dict(state.data)
    try:
        got = await fetch(url)
    except DownloadFailed as exc:
        log.warning("could not download a claim photo for zalo chat %s: %s", ctx.chat_id, exc)
        return [Say(_refusal(ctx, exc.reason))]
    async with ctx.db.begin() as session:
        filed = await claims.submit(
            session,
            person_id=ctx.person_id,
            kind=draft["kind"],
            details=json.loads(draft["details"]),
            note=draft["note"],
            evidence_kind=claims.STORED_PHOTO,
            evidence=claims.EvidenceFile(got.content, got.filename, got.mime),
            now=ctx.now,
        )
    ctx.dialogs.expect(ctx.chat_id, None, ctx.now)
    text = ctx._(
        "📨 Sent (number %(id)d). An organizer of your unit will check it; I will tell you "
        "the result."
    ) % {"id": filed.id}
    return [Say(text, main_menu(ctx.t))]


def _refusal(ctx: Ctx, reason: str) -> str:
    """Why a photo was not taken, when the sender can do something about it."""
    if reason == DownloadFailed.TOO_LARGE:
        return ctx._(
            "That photo is too large: at most %(limit)d MB. Please send a smaller one, or /cancel."
        ) % {"limit": claims.EVIDENCE_MAX_BYTES // (1024 * 1024)}
    if reason == DownloadFailed.NOT_A_PHOTO:
        return ctx._(
            "That is not a photo (JPEG, PNG or HEIC). Please send a photo of the document, "
            "or /cancel."
        )
    return ctx._("I could not get that photo. Please send it again.")


async def cancel(ctx: Ctx, arg: str) -> list[Say]:
    """/cancel (or "hủy"): drop the draft; the step was already closed by this message."""
    ctx.dialogs.expect(ctx.chat_id, None, ctx.now)
    return [Say(ctx._("Cancelled."), main_menu(ctx.t))]
