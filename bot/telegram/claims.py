"""Record claims: from /status a person reports a mistake or claims a qualification or outside
training with a photo or PDF; organizers of their unit decide from /claims (a claim made on
Zalo, see zalo/claims.py, brings its photo as stored bytes)."""

from __future__ import annotations

import enum
import warnings
from datetime import date, timedelta
from html import escape, unescape
from typing import Any

from telegram import Chat, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)
from telegram.warnings import PTBUserWarning

from bot.context import BotContext
from bot.telegram.common import reply, require_person, require_role
from bot.telegram.menus import menu_pattern
from domain import claims, roles
from domain.claims import ClaimView, EvidenceFile
from domain.errors import DomainError, Refusal
from handlers import actions as cb
from handlers.render import kind_label, label, refusal, short
from locales import Translator
from storage.models import Role

# Main-menu buttons keep working in the middle of a claim; they are not a description.
_MENU = (
    filters.Regex(menu_pattern("status"))
    | filters.Regex(menu_pattern("courses"))
    | filters.Regex(menu_pattern("my"))
    | filters.Regex(menu_pattern("help"))
)
_TEXT = filters.TEXT & ~filters.COMMAND & ~_MENU
_EVIDENCE = filters.PHOTO | filters.Document.PDF | filters.Document.IMAGE


class Claim(enum.IntEnum):
    KIND = 1
    QUALIFICATION = 2
    LEVEL = 3
    NOTE = 4
    TRAINING = 5
    EVIDENCE = 6


class Review(enum.IntEnum):
    REASON = 1


def _button(text: str, action: str, value: int | str | None = None) -> list[InlineKeyboardButton]:
    return [InlineKeyboardButton(text, callback_data=cb.build(action, value))]


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


# -- the person ------------------------------------------------------------------------------


async def start(update: Update, context: BotContext) -> int:
    """Ask what the person wants to report or claim."""
    query = update.callback_query
    assert query is not None
    await query.answer()
    if await require_person(update, context) is None:
        return ConversationHandler.END
    t = context.t
    rows = [_button(kind_label(t, k), cb.CLAIM_KIND, k) for k in claims.KINDS]
    text = t.gettext("What would you like to tell your organizer? /cancel to stop.")
    await reply(update, text, InlineKeyboardMarkup(rows))
    return Claim.KIND


async def kind(update: Update, context: BotContext) -> int:
    """Remember the kind and ask for what it needs."""
    query = update.callback_query
    assert query is not None and context.user_data is not None
    await query.answer()
    chosen, t = cb.argument(query.data), context.t
    context.user_data["claim"] = {"kind": chosen, "details": {}, "note": ""}
    if chosen == claims.QUALIFICATION:
        rows = [_button(label(t, k), cb.CLAIM_QUAL, k) for k in claims.QUALIFICATION_KINDS]
        await reply(
            update, t.gettext("Which qualification?"), InlineKeyboardMarkup(rows), edit=True
        )
        return Claim.QUALIFICATION
    if chosen == claims.TRAINING:
        text = t.gettext(
            "Send the training's title, hours and end date separated by semicolons, e.g.:\n"
            "<i>Kỹ năng số cho công chức; 16; 05/12/2026</i>"
        )
        await reply(update, text, edit=True)
        return Claim.TRAINING
    text = t.gettext("Describe what is wrong in your record and what it should be.")
    await reply(update, text, edit=True)
    return Claim.NOTE


async def qualification(update: Update, context: BotContext) -> int:
    """Remember the qualification kind; ask for its level when it has ranked levels."""
    query = update.callback_query
    assert query is not None and context.user_data is not None
    await query.answer()
    chosen, t = cb.argument(query.data), context.t
    context.user_data["claim"]["details"]["kind"] = chosen
    levels = claims.levels(chosen)
    if levels:
        rows = [_button(label(t, code), cb.CLAIM_LEVEL, code) for code in levels]
        await reply(update, t.gettext("Which level?"), InlineKeyboardMarkup(rows), edit=True)
        return Claim.LEVEL
    text = t.gettext("Type the certificate's name and level, e.g. <i>Tiếng Anh B1</i>.")
    await reply(update, text, edit=True)
    return Claim.NOTE


async def level(update: Update, context: BotContext) -> int:
    """Remember the level; ask for the field of study and where it was obtained."""
    query = update.callback_query
    assert query is not None and context.user_data is not None
    await query.answer()
    context.user_data["claim"]["details"]["level"] = cb.argument(query.data)
    text = context.t.gettext(
        "Type the field of study, the school and the year (e.g. <i>Luật, Đại học Huế, 2019</i>)."
    )
    await reply(update, text, edit=True)
    return Claim.NOTE


async def note(update: Update, context: BotContext) -> int:
    """Keep the description and ask for the evidence."""
    assert update.message is not None and update.message.text is not None
    assert context.user_data is not None
    draft = context.user_data["claim"]
    draft["note"] = update.message.text.strip()[: claims.NOTE_MAX]
    if draft["kind"] == claims.QUALIFICATION:
        draft["details"]["field"] = draft["note"][:200]
    await reply(update, _ask_evidence(context.t))
    return Claim.EVIDENCE


async def training(update: Update, context: BotContext) -> int:
    """Read title; hours; end date, or ask again."""
    assert update.message is not None and update.message.text is not None
    assert context.user_data is not None
    parsed = claims.parse_training(update.message.text)
    if parsed is None:
        text = context.t.gettext(
            "I could not read that. Please send: title; hours; end date (dd/mm/yyyy)."
        )
        await reply(update, text)
        return Claim.TRAINING
    context.user_data["claim"]["details"] = parsed
    await reply(update, _ask_evidence(context.t))
    return Claim.EVIDENCE


def _ask_evidence(t: Translator) -> str:
    return t.gettext("Now send a photo or a PDF of the certificate or document.")


async def evidence(update: Update, context: BotContext) -> int:
    """File the claim with the photo or PDF sent."""
    message = update.message
    assert message is not None and context.user_data is not None
    person_id = await require_person(update, context)
    if person_id is None:
        return ConversationHandler.END
    problem = await _evidence_problem(message)
    if problem is not None:
        await reply(update, _evidence_refusal(context.t, problem))
        return Claim.EVIDENCE
    if message.photo:
        file_id, evidence_kind = message.photo[-1].file_id, "photo"
    else:
        assert message.document is not None
        file_id, evidence_kind = message.document.file_id, "document"
    draft: dict[str, Any] = context.user_data.pop("claim")
    async with context.db.begin() as session:
        filed = await claims.submit(
            session,
            person_id=person_id,
            kind=draft["kind"],
            details=draft["details"],
            note=draft["note"],
            evidence_file_id=file_id,
            evidence_kind=evidence_kind,
            now=context.now(),
        )
    text = context.t.gettext(
        "📨 Sent (number %(id)d). An organizer of your unit will check it; I will tell you "
        "the result."
    ) % {"id": filed.id}
    await reply(update, text)
    return ConversationHandler.END


async def _evidence_problem(message: Message) -> claims.EvidenceProblem | None:
    """Check the size Telegram states, then a document's content: its name and declared type
    are the sender's word. Photos are re-encoded as JPEG by Telegram itself."""
    if message.photo:
        return claims.evidence_problem(size=message.photo[-1].file_size)
    assert message.document is not None
    problem = claims.evidence_problem(size=message.document.file_size)
    if problem is not None:
        return problem
    content = bytes(await (await message.document.get_file()).download_as_bytearray())
    return claims.evidence_problem(size=len(content), content=content)


def _evidence_refusal(t: Translator, problem: claims.EvidenceProblem) -> str:
    if problem == claims.EvidenceProblem.TOO_LARGE:
        return t.gettext(
            "That file is too large: at most %(limit)d MB. Please send a smaller photo or PDF, "
            "or /cancel."
        ) % {"limit": claims.EVIDENCE_MAX_BYTES // (1024 * 1024)}
    return t.gettext(
        "That file is not a PDF or a photo (JPEG, PNG or HEIC), so it cannot be passed on to "
        "an organizer. Please send a photo or a PDF of the document, or /cancel."
    )


async def not_evidence(update: Update, context: BotContext) -> int:
    """Anything but a photo or a PDF while evidence is awaited."""
    await reply(update, context.t.gettext("Please send a photo or a PDF file, or /cancel."))
    return Claim.EVIDENCE


async def cancel(update: Update, context: BotContext) -> int:
    """Drop the draft."""
    if context.user_data is not None:
        context.user_data.pop("claim", None)
        context.user_data.pop("reject_claim", None)
    await reply(update, context.t.gettext("Cancelled."))
    return ConversationHandler.END


# -- the organizer ---------------------------------------------------------------------------


async def _refused(update: Update, context: BotContext, action: str, error: DomainError) -> None:
    """A claim outside the organizer's units (audited), or one that no longer exists."""
    if error.code == Refusal.FORBIDDEN:
        async with context.db.begin() as session:
            await roles.audit(
                session,
                actor_person_id=context.person_id,
                actor=await roles.actor_label(session, context.person_id),
                action=action,
                result="refused",
            )
    text = (
        context.t.gettext("This claim no longer exists.")
        if error.code == Refusal.NOT_FOUND
        else refusal(context.t, error)
    )
    if update.callback_query is not None:
        await update.callback_query.answer(unescape(text)[:200], show_alert=True)
    else:
        await reply(update, text)


async def queue(update: Update, context: BotContext) -> None:
    """/claims: pending claims of people in the organizer's units, oldest first."""
    if await require_role(update, context, Role.ORGANIZER, "claims") is None:
        return
    async with context.db.begin() as session:
        pending = await claims.queue(session, actor_id=context.person_id)
    t = context.t
    if not pending:
        await reply(update, t.gettext("No claims are waiting for you."))
        return
    rows = [
        _button(
            f"{v.claim.id} · {short(v.person.full_name, 28)} · {kind_label(t, v.claim.kind)}",
            cb.CLAIM_VIEW,
            v.claim.id,
        )
        for v in pending
    ]
    text = t.ngettext(
        "<b>%(n)d claim</b> waiting, oldest first.",
        "<b>%(n)d claims</b> waiting, oldest first.",
        len(pending),
    ) % {"n": len(pending)}
    await reply(update, text, InlineKeyboardMarkup(rows))


async def view(update: Update, context: BotContext) -> None:
    """Send the claim's evidence back with the claim and Approve / Reject buttons."""
    query = update.callback_query
    assert query is not None and update.effective_chat is not None
    if await require_role(update, context, Role.ORGANIZER, "claim_view") is None:
        return
    try:
        async with context.db.begin() as session:
            found = await claims.for_review(
                session,
                actor_id=context.person_id,
                claim_id=cb.number(query.data),
                with_file=True,
            )
    except DomainError as error:
        await _refused(update, context, "claim_view", error)
        return
    await query.answer()
    _, cid, chat = context.t.gettext, found.claim.id, update.effective_chat
    markup = InlineKeyboardMarkup(
        [
            _button(_("✅ Approve"), cb.CLAIM_APPROVE, cid)
            + _button(_("❌ Reject"), cb.CLAIM_REJECT, cid)
        ]
    )
    caption, file_id = card(context.t, found), found.claim.evidence_file_id
    if found.file is not None:
        await _send_stored(chat, found.file, caption, markup)
    elif found.claim.evidence_kind == "photo" and file_id:
        await chat.send_photo(file_id, caption=caption, parse_mode="HTML", reply_markup=markup)
    elif file_id:
        await chat.send_document(file_id, caption=caption, parse_mode="HTML", reply_markup=markup)
    else:
        await reply(update, caption, markup)


async def _send_stored(
    chat: Chat, file: EvidenceFile, caption: str, markup: InlineKeyboardMarkup
) -> None:
    """Upload a photo kept as bytes (sent on Zalo). Uploaded on every view rather than its
    Telegram file id kept: views are few, the view stays read-only, and bytes outlive a
    change of bot token. A photo Telegram will not take as a photo goes as a file."""
    try:
        await chat.send_photo(
            file.content, caption, filename=file.filename, parse_mode="HTML", reply_markup=markup
        )
    except BadRequest:
        await chat.send_document(
            file.content, caption, filename=file.filename, parse_mode="HTML", reply_markup=markup
        )


async def approve(update: Update, context: BotContext) -> None:
    """Approve: the record changes (audited) and the person is told."""
    query = update.callback_query
    assert query is not None
    if await require_role(update, context, Role.ORGANIZER, "claim_approve") is None:
        return
    try:
        async with context.db.begin() as session:
            review = await claims.approve(
                session,
                actor_id=context.person_id,
                claim_id=cb.number(query.data),
                now=context.now(),
            )
    except DomainError as error:
        await _refused(update, context, "claim_approve", error)
        return
    await query.answer()
    await _done(update, context, review)


async def reject_ask(update: Update, context: BotContext) -> int:
    """Ask the organizer why, before rejecting."""
    query = update.callback_query
    assert query is not None and context.user_data is not None
    if await require_role(update, context, Role.ORGANIZER, "claim_reject") is None:
        return ConversationHandler.END
    try:  # the claim is theirs to decide, before asking why (a forged button is refused here)
        async with context.db.begin() as session:
            await claims.for_review(
                session, actor_id=context.person_id, claim_id=cb.number(query.data)
            )
    except DomainError as error:
        await _refused(update, context, "claim_reject", error)
        return ConversationHandler.END
    await query.answer()
    context.user_data["reject_claim"] = cb.number(query.data)
    text = context.t.gettext(
        "Why is claim %(id)d rejected? Your words are sent to the person. /cancel to stop."
    ) % {"id": cb.number(query.data)}
    await reply(update, text)
    return Review.REASON


async def reject(update: Update, context: BotContext) -> int:
    """Reject with the reason typed; the person is told."""
    assert update.message is not None and update.message.text is not None
    assert context.user_data is not None
    if await require_role(update, context, Role.ORGANIZER, "claim_reject") is None:
        return ConversationHandler.END
    claim_id = context.user_data.pop("reject_claim")
    try:
        async with context.db.begin() as session:
            review = await claims.reject(
                session,
                actor_id=context.person_id,
                claim_id=claim_id,
                reason=update.message.text.strip(),
                now=context.now(),
            )
    except DomainError as error:
        await _refused(update, context, "claim_reject", error)
        return ConversationHandler.END
    await _done(update, context, review)
    return ConversationHandler.END


async def _done(update: Update, context: BotContext, review: claims.Review) -> None:
    """Say what happened, drop the buttons under the evidence, and deliver the notice now."""
    _, c = context.t.gettext, review.view.claim
    if not review.done:
        await reply(update, _("Claim %(id)d was already decided.") % {"id": c.id})
        return
    query = update.callback_query
    if query is not None and query.message is not None:
        try:
            await query.edit_message_reply_markup(None)
        except BadRequest:  # already without buttons
            pass
    text = (
        _("✅ Claim %(id)d approved; the record of %(name)s is updated.")
        if c.state == "approved"
        else _("Claim %(id)d rejected; %(name)s will be told why.")
    ) % {"id": c.id, "name": escape(review.view.person.full_name)}
    await reply(update, text)
    context.wake()


def register(app: Application) -> None:
    app.add_handler(CommandHandler("claims", queue))
    app.add_handler(CallbackQueryHandler(view, pattern=cb.pattern(cb.CLAIM_VIEW)))
    app.add_handler(CallbackQueryHandler(approve, pattern=cb.pattern(cb.CLAIM_APPROVE)))
    with warnings.catch_warnings():
        # Buttons lead these conversations; tracking them per chat is what we want.
        warnings.filterwarnings("ignore", ".*CallbackQueryHandler", PTBUserWarning)
        app.add_handler(
            ConversationHandler(
                entry_points=[CallbackQueryHandler(start, pattern=cb.pattern(cb.CLAIM_START))],
                states={
                    Claim.KIND: [CallbackQueryHandler(kind, pattern=cb.pattern(cb.CLAIM_KIND))],
                    Claim.QUALIFICATION: [
                        CallbackQueryHandler(qualification, pattern=cb.pattern(cb.CLAIM_QUAL))
                    ],
                    Claim.LEVEL: [CallbackQueryHandler(level, pattern=cb.pattern(cb.CLAIM_LEVEL))],
                    Claim.NOTE: [MessageHandler(_TEXT, note)],
                    Claim.TRAINING: [MessageHandler(_TEXT, training)],
                    Claim.EVIDENCE: [
                        MessageHandler(_EVIDENCE, evidence),
                        MessageHandler(~filters.COMMAND & ~_MENU, not_evidence),
                    ],
                },
                fallbacks=[CommandHandler("cancel", cancel)],
                allow_reentry=True,
                conversation_timeout=timedelta(minutes=30),
                name="claim",
            )
        )
        app.add_handler(
            ConversationHandler(
                entry_points=[
                    CallbackQueryHandler(reject_ask, pattern=cb.pattern(cb.CLAIM_REJECT))
                ],
                states={Review.REASON: [MessageHandler(_TEXT, reject)]},
                fallbacks=[CommandHandler("cancel", cancel)],
                allow_reentry=True,
                conversation_timeout=timedelta(minutes=30),
                name="claim_reject",
            )
        )
