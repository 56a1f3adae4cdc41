"""/broadcast: an organizer writes a message, picks who gets it, sees it exactly as they will,
and sends it now or at a chosen time. schedules/broadcasts.py delivers it, edits a progress
message with a Cancel button and ends with the report; recipients may press "Received".

Every step, typed or pressed, passes the organizer gate again on the server, and the domain
checks that the broadcast is the organizer's own draft and the audience inside their scope.
"""

from __future__ import annotations

import enum
import warnings
from collections.abc import Awaitable, Callable
from datetime import datetime
from html import escape
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
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
from bot.telegram.adapter import keyboard
from bot.telegram.common import reply, require_person, require_role
from bot.telegram.organizer_common import unclear_unit
from bot.telegram.sender import post
from domain import broadcasts, recipients, roles, unit_search
from domain.broadcasts import Preview
from domain.errors import DomainError, Refusal
from domain.recipients import Audience
from handlers import actions as cb
from handlers.render import refusal, rule_title, short
from locales import Translator
from schedules.broadcasts import (
    cancel_choice,
    content_of,
    message,
    progress_text,
    refresh_choice,
    report_text,
)
from storage.models import Role

ACTION = "broadcast"
KIND = "broadcast_kind"  # user_data: what the typed answer names (unit, pos, reg, wait)
END = ConversationHandler.END
T = TypeVar("T")


class Step(enum.IntEnum):
    COMPOSE = 0
    AUDIENCE = 1
    TYPED = 2
    ACK = 3
    CONFIRM = 4
    WHEN = 5


# -- shared pieces ------------------------------------------------------------------------------


async def _allowed(update: Update, context: BotContext) -> bool:
    return await require_role(update, context, Role.ORGANIZER, ACTION) is not None


def html_problem_text(t: Translator, error: DomainError) -> str:
    """What is wrong with the organizer's HTML, and where; they are asked to send it again."""
    _ = t.gettext
    tag, close = escape(f"<{error.details['tag']}>"), escape(f"</{error.details['tag']}>")
    issues = {
        "bare_lt": lambda: _("a “%(char)s” that starts no tag (write %(fix)s)")
        % {"char": escape("<"), "fix": escape("&lt;")},
        "bare_amp": lambda: _("an “%(char)s” that starts no entity (write %(fix)s)")
        % {"char": escape("&"), "fix": escape("&amp;")},
        "unknown_tag": lambda: _("the tag %(tag)s is not supported") % {"tag": tag},
        "bad_attribute": lambda: _("the tag %(tag)s has attributes Telegram does not accept")
        % {"tag": tag},
        "unclosed": lambda: _("the tag %(tag)s is never closed") % {"tag": tag},
        "misnested": lambda: _("%(tag)s closes before the tags opened inside it")
        % {"tag": close},
        "stray_close": lambda: _("%(tag)s closes no open tag") % {"tag": close},
    }
    return _(
        "Telegram would refuse this message: %(what)s, at character %(at)d (“%(near)s”). "
        "Please correct it and send the message again."
    ) % {
        "what": issues[str(error.details["issue"])](),
        "at": int(str(error.details["at"])),
        "near": escape(str(error.details["near"])),
    }


def problem_text(t: Translator, error: DomainError) -> str:
    _ = t.gettext
    value = escape(str(error.details.get("value", "")))
    texts = {
        "unit": lambda: _("There is no unit with the code %(value)s.") % {"value": value},
        "position": lambda: _("There is no position with the code %(value)s.") % {"value": value},
        "course": lambda: _("There is no course with the code %(value)s.") % {"value": value},
        "rule": lambda: _("There is no active standard %(value)s.") % {"value": value},
        "broadcast": lambda: _("This broadcast no longer exists."),
        "not_yours": lambda: _("This broadcast was written by another organizer."),
        "not_draft": lambda: _("This broadcast was already sent, scheduled or cancelled."),
        "finished": lambda: _("This broadcast has already finished."),
        "empty": lambda: _("Please send some text, a photo or a document."),
        "too_long": lambda: _(
            "That is too long: at most 4096 characters, or 1024 under a photo or document."
        ),
        "past": lambda: _("That time is already past. Please give a later time."),
        "nobody": lambda: _("Nobody matches this audience. Send /broadcast to start again."),
    }
    problem = error.details.get("problem")
    if problem == "html":
        return html_problem_text(t, error)
    if error.code == Refusal.FORBIDDEN and value:
        return _("The unit %(value)s is outside your scope.") % {"value": value}
    if isinstance(problem, str) and problem in texts:
        return texts[problem]()
    return refusal(t, error)


async def _act(
    update: Update, context: BotContext, call: Callable[[AsyncSession], Awaitable[T]]
) -> T | None:
    """One domain call in one transaction; a refusal is answered (and audited). None then."""
    try:
        async with context.db.begin() as session:
            return await call(session)
    except DomainError as error:
        if error.code == Refusal.FORBIDDEN:
            async with context.db.begin() as session:
                await roles.audit(session, actor_person_id=context.person_id,
                                  actor=await roles.actor_label(session, context.person_id),
                                  action=ACTION, result="refused",
                                  target=str(error.details.get("value", "")))  # fmt: skip
        text = problem_text(context.t, error)
    if update.callback_query is not None:
        await update.callback_query.answer(text[:200], show_alert=True)
    else:
        await reply(update, text)
    return None


def _today_now(context: BotContext) -> dict[str, Any]:
    now = context.now()
    return {"now": now, "today": now.astimezone(context.settings.tz).date(),
            "hours_target": context.settings.annual_hours_target}  # fmt: skip


def _buttons(rows: list[list[tuple[str, str]]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(text, callback_data=data) for text, data in row] for row in rows]
    )


def _kinds(t: Translator, draft: int) -> InlineKeyboardMarkup:
    _ = t.gettext

    def b(kind: str) -> str:
        return cb.build(cb.BC_AUDIENCE, f"{draft}:{kind}")

    return _buttons([
        [(_("👥 Everyone in my units"), b("all"))],
        [(_("📋 People missing a standard"), b("miss"))],
        [(_("🏢 By unit"), b("unit")), (_("🪪 By position"), b("pos"))],
        [(_("✍️ Registrants of a course"), b("reg")), (_("⏳ Waitlist of a course"), b("wait"))],
        [(_("✖️ Cancel"), cb.build(cb.BC_CANCEL, draft))],
    ])  # fmt: skip


def _ack_question(t: Translator, preview: Preview) -> tuple[str, InlineKeyboardMarkup]:
    _ = t.gettext
    text = _("Recipients: %(total)d, of whom %(linked)d have linked the bot.") % {
        "total": preview.total, "linked": preview.linked}  # fmt: skip
    text += "\n" + _("Add a “Received” button so you can count who has read it?")
    d = preview.broadcast_id
    return text, _buttons([[(_("Yes, add it"), cb.build(cb.BC_ACK, f"{d}:1")),
                            (_("No"), cb.build(cb.BC_ACK, f"{d}:0"))]])  # fmt: skip


async def _audience_chosen(
    update: Update, context: BotContext, draft: int, audience: Audience
) -> int:
    """Count the audience and ask about the "Received" button."""
    preview = await _act(update, context, lambda s: broadcasts.choose_audience(
        s, actor_person_id=context.person_id, broadcast_id=draft, audience=audience,
        **_today_now(context)))  # fmt: skip
    if preview is None:
        return Step.TYPED if update.callback_query is None else Step.AUDIENCE
    if update.callback_query is not None:
        await update.callback_query.answer()
    await reply(update, *_ack_question(context.t, preview))
    return Step.ACK


# -- the conversation ---------------------------------------------------------------------------


async def start(update: Update, context: BotContext) -> int:
    """Ask for the message to broadcast."""
    if not await _allowed(update, context):
        return END
    await reply(update, context.t.gettext(
        "Send the message to broadcast: text (bold, italics and links are kept), or one photo "
        "or document with a caption. /cancel stops."))  # fmt: skip
    return Step.COMPOSE


async def composed(update: Update, context: BotContext) -> int:
    """Keep the message as a draft and ask how to choose the audience."""
    msg = update.message
    assert msg is not None and update.effective_chat is not None
    if not await _allowed(update, context):
        return END
    kind, file_id = ("photo", msg.photo[-1].file_id) if msg.photo else (
        ("document", msg.document.file_id) if msg.document else (None, None))  # fmt: skip
    text = (msg.caption_html or "") if kind else (msg.text_html or "")
    chat_id = str(update.effective_chat.id)
    plain = len(msg.caption or "") if kind else len(msg.text or "")
    draft = await _act(update, context, lambda s: broadcasts.create_draft(
        s, actor_person_id=context.person_id, text=text, plain_length=plain, media_kind=kind,
        media_file_id=file_id, report_chat_id=chat_id))  # fmt: skip
    if draft is None:
        return Step.COMPOSE
    await reply(update, context.t.gettext("Who should receive it?"), _kinds(context.t, draft))
    return Step.AUDIENCE


async def pick_kind(update: Update, context: BotContext) -> int:
    """Everyone at once, the standards as buttons, or ask for codes to type."""
    query = update.callback_query
    assert query is not None and context.user_data is not None
    if not await _allowed(update, context):
        return END
    draft, kind = cb.parts(query.data)
    if kind == "all":
        return await _audience_chosen(update, context, int(draft), Audience())
    # The draft is the organizer's, checked before offering standards or asking for codes.
    if await _act(update, context, lambda s: broadcasts.get(
            s, actor_person_id=context.person_id, broadcast_id=int(draft))) is None:  # fmt: skip
        return END
    async with context.db.begin() as session:
        rules, positions = await recipients.choices(session)
    await query.answer()
    if kind == "miss":
        rows = [[(short(rule_title(context.t, r)), cb.build(cb.BC_RULE, f"{draft}:{r.id}"))]
                for r in rules]  # fmt: skip
        await reply(update, context.t.gettext("Which standard?"), _buttons(rows))
        return Step.AUDIENCE
    context.user_data[KIND] = (int(draft), kind)
    await reply(update, _typing_prompt(context.t, kind, positions))
    return Step.TYPED


def _typing_prompt(t: Translator, kind: str, positions: list[Any]) -> str:
    _ = t.gettext
    if kind == "unit":
        return _("Type one or more unit names (or parts of them, with or without accents) or "
                 "codes, separated by commas; a unit includes all units below it. E.g. "
                 "<code>Đề Thám, LS-X002</code>.")  # fmt: skip
    if kind == "pos":
        names = "\n".join(
            f"<code>{escape(p.code)}</code> {escape(p.name_en if t.lang == 'en' else p.name_vi)}"
            for p in positions[:40]
        )
        return _("Type one or more position codes, separated by spaces:") + "\n" + names
    return _("Type the course code, e.g. <code>KNS-01</code>.")


async def pick_rule(update: Update, context: BotContext) -> int:
    """Choose the people missing the standard pressed."""
    query = update.callback_query
    assert query is not None
    if not await _allowed(update, context):
        return END
    draft, rule_id = (int(x) for x in cb.parts(query.data))
    async with context.db.begin() as session:
        rules, _positions = await recipients.choices(session)
    code = next((r.code for r in rules if r.id == rule_id), str(rule_id))
    return await _audience_chosen(update, context, draft, Audience(missing=code))


async def typed(update: Update, context: BotContext) -> int:
    """Unit codes, position codes or a course code, as asked."""
    assert update.message is not None and context.user_data is not None
    if not await _allowed(update, context):
        return END
    draft, kind = context.user_data.get(KIND, (0, ""))
    text = update.message.text or ""
    words = tuple(dict.fromkeys(text.replace(",", " ").split()))
    if not words:
        await reply(update, context.t.gettext("Please type at least one code."))
        return Step.TYPED
    if kind == "unit":  # codes, or names (or parts of them) separated by commas
        async with context.db.begin() as session:
            found = await unit_search.resolve_many(session, text)
        if found.unclear is not None:
            await reply(update, unclear_unit(context.t, *found.unclear))
            return Step.TYPED
        words = tuple(found.codes)
    audience = {
        "unit": Audience(units=words),
        "pos": Audience(positions=words),
        "reg": Audience(course=words[0]),
        "wait": Audience(course=words[0], waitlist=True),
    }.get(kind, Audience())
    return await _audience_chosen(update, context, draft, audience)


async def pick_ack(update: Update, context: BotContext) -> int:
    """Show the message exactly as recipients will get it, then the count and the choices."""
    query = update.callback_query
    assert query is not None and update.effective_chat is not None
    if not await _allowed(update, context):
        return END
    draft, on = (int(x) for x in cb.parts(query.data))
    preview = await _act(update, context, lambda s: broadcasts.ask_ack(
        s, actor_person_id=context.person_id, broadcast_id=draft, on=bool(on),
        **_today_now(context)))  # fmt: skip
    if preview is None:
        return Step.ACK
    async with context.db.begin() as session:
        b = await broadcasts.get(session, actor_person_id=context.person_id, broadcast_id=draft)
        audience = Audience.from_json(b.audience)
        names = await recipients.names_of(session, audience)
    await query.answer()
    as_sent = message(context.t, content_of(b), media=True)
    await post(context.bot, update.effective_chat.id, as_sent)
    await reply(update, *_summary(context.t, preview, describe(context.t, audience, names)))
    return Step.CONFIRM


def _summary(t: Translator, p: Preview, audience: str) -> tuple[str, InlineKeyboardMarkup]:
    _ = t.gettext
    lines = [_("⬆️ This is how recipients will see it."), audience,
             _("Recipients: %(total)d, of whom %(linked)d have linked the bot.")
             % {"total": p.total, "linked": p.linked}]  # fmt: skip
    if p.total > p.linked:
        lines.append(_("The other %(n)d will be listed in the report, to phone them.")
                     % {"n": p.total - p.linked})  # fmt: skip
    d = p.broadcast_id
    return "\n".join(lines), _buttons([
        [(_("📤 Send now"), cb.build(cb.BC_SEND, d)),
         (_("🕒 Choose a time"), cb.build(cb.BC_WHEN, d))],
        [(_("✖️ Cancel"), cb.build(cb.BC_CANCEL, d))],
    ])  # fmt: skip


def describe(t: Translator, a: Audience, names: recipients.AudienceNames) -> str:
    """The audience in words a person reads: names of units, positions and the standard."""
    _ = t.gettext
    parts = []
    if a.units:
        units = ", ".join(names.units.get(code, code) for code in a.units)
        parts.append(_("units %(codes)s") % {"codes": escape(units)})
    if a.positions:
        found = [names.positions.get(code) for code in a.positions]
        titles = [
            (p.name_en if t.lang == "en" else p.name_vi) if p else code
            for p, code in zip(found, a.positions, strict=True)
        ]
        parts.append(_("positions %(codes)s") % {"codes": escape(", ".join(titles))})
    if a.missing:
        rule = rule_title(t, names.rule) if names.rule else a.missing
        parts.append(_("missing the standard %(code)s") % {"code": escape(rule)})
    if a.course:
        text = _("waitlist of %(code)s") if a.waitlist else _("registrants of %(code)s")
        course = f"{names.course} ({a.course})" if names.course else a.course
        parts.append(text % {"code": escape(course)})
    return _("Audience: %(who)s") % {"who": "; ".join(parts) or _("everyone in your units")}


async def _confirm(update: Update, context: BotContext, draft: int, at: datetime | None) -> int:
    """Create the rows and tell when sending starts."""
    done = await _act(update, context, lambda s: broadcasts.confirm(
        s, actor_person_id=context.person_id, broadcast_id=draft, send_at=at,
        policy=context.settings.reminder_policy(), **_today_now(context)))  # fmt: skip
    if done is None:
        return Step.CONFIRM if at is None else Step.WHEN
    _ = context.t.gettext
    markup = None
    if done.sending_now:
        text = _("📤 Sending to %(n)d people. Progress follows below.") % {"n": done.total}
        context.wake()
    else:
        markup = keyboard([cancel_choice(context.t, draft)])
        text = _("🕒 Scheduled for %(time)s, to %(n)d people.") % {
            "time": context.t.datetime(done.starts_at), "n": done.total}  # fmt: skip
        if done.moved_by_quiet_hours:
            text += "\n" + _("(Moved out of the quiet hours, when nothing is sent.)")
    if update.callback_query is not None:
        await update.callback_query.answer()
    await reply(update, text, markup)
    return END


async def send_now(update: Update, context: BotContext) -> int:
    """Send the previewed broadcast now (or at the end of the quiet hours)."""
    if not await _allowed(update, context):
        return END
    return await _confirm(update, context, cb.number(update.callback_query.data), None)  # type: ignore[union-attr]


async def ask_when(update: Update, context: BotContext) -> int:
    """Ask for the time to send."""
    query = update.callback_query
    assert query is not None and context.user_data is not None
    if not await _allowed(update, context):
        return END
    bid = cb.number(query.data)
    # The draft is the organizer's, checked before asking for a time.
    if await _act(update, context, lambda s: broadcasts.get(
            s, actor_person_id=context.person_id, broadcast_id=bid)) is None:  # fmt: skip
        return END
    context.user_data[KIND] = (cb.number(query.data), "when")
    await query.answer()
    await reply(update, context.t.gettext("When? Type a date and time like 05/12/2026 07:30."))
    return Step.WHEN


async def typed_when(update: Update, context: BotContext) -> int:
    """Schedule the broadcast at the typed local time."""
    assert update.message is not None and context.user_data is not None
    if not await _allowed(update, context):
        return END
    at = broadcasts.parse_local(update.message.text or "", context.settings.tz)
    if at is None:
        _ = context.t.gettext
        await reply(update, _("That is not a date and time like 05/12/2026 07:30. Try again."))
        return Step.WHEN
    return await _confirm(update, context, context.user_data.get(KIND, (0, ""))[0], at)


# -- buttons that outlive the conversation -----------------------------------------------------


async def cancel(update: Update, context: BotContext) -> int:
    """Cancel a draft, a scheduled or a running broadcast (the Cancel button)."""
    query = update.callback_query
    assert query is not None
    if not await _allowed(update, context):
        return END
    p = await _act(update, context, lambda s: broadcasts.cancel(
        s, actor_person_id=context.person_id, broadcast_id=cb.number(query.data),
        now=context.now()))  # fmt: skip
    if p is None:
        return END
    await query.answer(context.t.gettext("Cancelled."))
    text = report_text(context.t, p) if p.total else context.t.gettext("OK, nothing was sent.")
    await reply(update, text, edit=True)
    return END


async def refresh(update: Update, context: BotContext) -> None:
    """Show the report again with the receipts confirmed so far."""
    query = update.callback_query
    assert query is not None
    if not await _allowed(update, context):
        return
    p = await _act(update, context, lambda s: broadcasts.progress_for(
        s, actor_person_id=context.person_id, broadcast_id=cb.number(query.data)))  # fmt: skip
    if p is None:
        return
    await query.answer()
    text = report_text(context.t, p) if not p.waiting else progress_text(
        context.t, p, rate=context.settings.send_rate_per_second, paused_until=None)  # fmt: skip
    await reply(update, text, keyboard([refresh_choice(context.t, p.broadcast_id)]), edit=True)


async def received(update: Update, context: BotContext) -> None:
    """A recipient confirms they have read the broadcast."""
    query = update.callback_query
    assert query is not None
    person_id = await require_person(update, context)
    if person_id is None:
        return
    async with context.db.begin() as session:
        ok = await broadcasts.acknowledge(session, person_id=person_id,
                                          broadcast_id=cb.number(query.data), now=context.now())
    _ = context.t.gettext
    await query.answer(_("Thank you, noted.") if ok else _("This button is no longer valid."))
    if ok:
        await query.edit_message_reply_markup(reply_markup=None)


async def abort(update: Update, context: BotContext) -> int:
    """/cancel: drop the draft being written."""
    assert context.user_data is not None
    context.user_data.pop(KIND, None)
    await reply(update, context.t.gettext("OK, nothing was sent."))
    return END


async def stale(update: Update, context: BotContext) -> None:
    """A button of a finished /broadcast conversation."""
    query = update.callback_query
    assert query is not None
    if await _allowed(update, context):
        await query.answer(context.t.gettext("This button is no longer valid."), show_alert=True)


def register(app: Application) -> None:
    text = filters.TEXT & ~filters.COMMAND
    cancel_button = CallbackQueryHandler(cancel, pattern=cb.pattern(cb.BC_CANCEL))
    states: dict[object, list[Any]] = {
        Step.COMPOSE: [MessageHandler(text | filters.PHOTO | filters.Document.ALL, composed)],
        Step.AUDIENCE: [CallbackQueryHandler(pick_kind, pattern=cb.pattern(cb.BC_AUDIENCE)),
                        CallbackQueryHandler(pick_rule, pattern=cb.pattern(cb.BC_RULE))],
        Step.TYPED: [MessageHandler(text, typed)],
        Step.ACK: [CallbackQueryHandler(pick_ack, pattern=cb.pattern(cb.BC_ACK))],
        Step.CONFIRM: [CallbackQueryHandler(send_now, pattern=cb.pattern(cb.BC_SEND)),
                       CallbackQueryHandler(ask_when, pattern=cb.pattern(cb.BC_WHEN))],
        Step.WHEN: [MessageHandler(text, typed_when)],
    }  # fmt: skip
    fallbacks: list[Any] = [CommandHandler("cancel", abort), cancel_button]
    with warnings.catch_warnings():
        # Steps are tracked per user and chat, not per message: the newest prompt counts.
        warnings.simplefilter("ignore", PTBUserWarning)
        handler = ConversationHandler(
            entry_points=[CommandHandler("broadcast", start)],
            states=states,
            fallbacks=fallbacks,
            allow_reentry=True,
            name="broadcast",
        )
    app.add_handler(handler)
    app.add_handler(cancel_button)
    app.add_handler(CallbackQueryHandler(refresh, pattern=cb.pattern(cb.BC_REFRESH)))
    app.add_handler(CallbackQueryHandler(received, pattern=cb.pattern(cb.BC_RECEIVED)))
    for action in (cb.BC_AUDIENCE, cb.BC_RULE, cb.BC_ACK, cb.BC_SEND, cb.BC_WHEN):
        app.add_handler(CallbackQueryHandler(stale, pattern=cb.pattern(action)))
