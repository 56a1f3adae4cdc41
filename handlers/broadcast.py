"""/broadcast: an organizer writes a message, picks who gets it, sees it exactly as they will,
and sends it now or at a chosen time. schedules/broadcasts.py delivers it, shows its progress
with a Cancel choice and ends with the report; recipients may confirm "Received".

The draft is a broadcasts row from the first answer on, and every choice carries its id, so a
pressed choice needs no memory of the conversation; an answer to type (the message, codes, a
time) is a step the chat owes in its dialog row. A restart continues either way. Every step,
typed or picked, passes the organizer gate again (handlers/guard.py), and the domain checks
that the broadcast is the organizer's own draft and the audience inside their scope.

On a channel without `media` (Zalo) a broadcast is text only, and the organizer's progress
and report are asked for with a choice instead of being pushed into the chat.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from html import escape
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from domain import broadcasts, recipients, unit_search
from domain.broadcasts import Preview
from domain.errors import DomainError, Refusal
from domain.recipients import Audience
from handlers import actions as cb
from handlers.broadcast_text import (
    cancel_choice,
    describe,
    problem_text,
    progress_text,
    received_choice,
    refresh_choice,
    report_text,
)
from handlers.core import Choice, Ctx, Say, Upload
from handlers.flows import not_linked
from handlers.guard import Refused, allowed, guarded
from handlers.render import rule_title, short
from locales import Translator

ACTION = "broadcast"
PREFIX = "broadcast."  # the steps' names start with it (handlers/router.py CANCELLED)
TEXT = "broadcast.text"  # the message: text, or a photo or document with its caption
TYPED = "broadcast.typed"  # unit names or codes, position codes or a course code
WHEN = "broadcast.when"  # the local date and time to send at
STEPS = (TEXT, TYPED, WHEN)
# Refusals no other answer can mend: the broadcast is gone, another's, or past its draft.
_GONE = ("broadcast", "not_yours", "not_draft", "finished")
T = TypeVar("T")


def _kinds(t: Translator, draft: int) -> list[Choice]:
    _ = t.gettext

    def c(label: str, kind: str, joined: bool = False) -> Choice:
        return Choice(label, cb.build(cb.BC_AUDIENCE, f"{draft}:{kind}"), joined=joined)

    return [
        c(_("👥 Everyone in my units"), "all"),
        c(_("📋 People missing a standard"), "miss"),
        c(_("🏢 By unit"), "unit"), c(_("🪪 By position"), "pos", True),
        c(_("✍️ Registrants of a course"), "reg"), c(_("⏳ Waitlist of a course"), "wait", True),
        Choice(_("✖️ Cancel"), cb.build(cb.BC_CANCEL, draft)),
    ]  # fmt: skip


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


def _counted(t: Translator, p: Preview) -> str:
    return t.gettext("Recipients: %(total)d, of whom %(linked)d have linked the bot.") % {
        "total": p.total, "linked": p.linked}  # fmt: skip


def _summary(t: Translator, p: Preview, audience: str) -> Say:
    _ = t.gettext
    lines = [_("⬆️ This is how recipients will see it."), audience, _counted(t, p)]
    if p.total > p.linked:
        lines.append(_("The other %(n)d will be listed in the report, to phone them.")
                     % {"n": p.total - p.linked})  # fmt: skip
    d = p.broadcast_id
    return Say("\n".join(lines), [
        Choice(_("📤 Send now"), cb.build(cb.BC_SEND, d)),
        Choice(_("🕒 Choose a time"), cb.build(cb.BC_WHEN, d), joined=True),
        Choice(_("✖️ Cancel"), cb.build(cb.BC_CANCEL, d)),
    ])  # fmt: skip


# -- the guard ----------------------------------------------------------------------------------


async def _act(ctx: Ctx, call: Callable[[AsyncSession], Awaitable[T]]) -> T | Refused:
    """One domain call behind the organizer gate; a refusal is worded and audited."""
    return await guarded(ctx, ACTION, lambda s, _scope: call(s), words=problem_text)


def _leave(ctx: Ctx) -> None:
    """A choice of the conversation leaves the answer it owed untyped (as a picked number
    does on Zalo), so that text typed next is no part of the broadcast."""
    if ctx.dialog.expect in STEPS:
        ctx.expect(None)


async def _owing(
    ctx: Ctx, step: str, data: dict[str, Any], call: Callable[[AsyncSession], Awaitable[T]]
) -> T | Refused:
    """`call` for a typed answer: the step stays owed unless it succeeds, the organizer role
    itself is refused, or the broadcast can no longer take it (the next message is then no
    answer)."""

    async def again(session: AsyncSession) -> T:
        ctx.expect(step, **data)
        try:
            return await call(session)
        except DomainError as error:
            if error.details.get("problem") in _GONE:
                ctx.expect(None)
            raise

    result = await _act(ctx, again)
    if not isinstance(result, Refused):
        ctx.expect(None)
    return result


def _today_now(ctx: Ctx) -> dict[str, Any]:
    return {"now": ctx.now, "today": ctx.now.astimezone(ctx.settings.tz).date(),
            "hours_target": ctx.settings.annual_hours_target}  # fmt: skip


# -- the conversation ---------------------------------------------------------------------------


async def start(ctx: Ctx, arg: str) -> list[Say]:
    """Ask for the message to broadcast."""
    gate = await allowed(ctx, ACTION)
    if isinstance(gate, Refused):
        return gate.shown()
    ctx.expect(TEXT)
    return _ask_message(ctx)


def _ask_message(ctx: Ctx) -> list[Say]:
    _ = ctx._
    if ctx.files:
        return [Say(_(
            "Send the message to broadcast: text (bold, italics and links are kept), or one photo "
            "or document with a caption. /cancel stops."))]  # fmt: skip
    return [Say(_("Send the message to broadcast, as text. /cancel stops. A photo or document "
                  "can be broadcast from Telegram."))]  # fmt: skip


async def sent(ctx: Ctx, upload: Upload | None) -> list[Say]:
    """A photo or document sent as the message (its caption the text); anything else, or a
    file where the channel cannot broadcast one, is asked for again."""
    if upload is None or not ctx.files:
        return _ask_message(ctx)
    ctx.expect(None)
    return await composed(ctx, upload.caption, upload)


async def composed(ctx: Ctx, text: str, upload: Upload | None = None) -> list[Say]:
    """Keep the message as a draft and ask how to choose the audience."""
    html = ctx.html if ctx.html is not None else escape(text, quote=False)
    report_to = ctx.chat_id if ctx.buttons else None  # where the progress is edited in place
    draft = await _owing(ctx, TEXT, {}, lambda s: broadcasts.create_draft(
        s, actor_person_id=ctx.person_id, text=html, plain_length=len(text),
        media_kind=upload.kind if upload else None,
        media_file_id=upload.file_id if upload else None, report_chat_id=report_to))  # fmt: skip
    if isinstance(draft, Refused):
        return draft.said()
    return [Say(ctx._("Who should receive it?"), _kinds(ctx.t, draft))]


async def pick_kind(ctx: Ctx, arg: str) -> list[Say]:
    """Everyone at once, the standards as choices, or ask for codes to type."""
    number, kind = arg.split(":")
    draft = int(number)
    if kind not in cb.BC_KINDS:
        raise ValueError(kind)
    _leave(ctx)
    if kind == "all":
        return await _audience_chosen(ctx, draft, Audience())

    async def choices(s: AsyncSession) -> tuple[list[Any], list[Any]]:
        await broadcasts.draft(s, actor_person_id=ctx.person_id, broadcast_id=draft)
        return await recipients.choices(s)

    found = await _act(ctx, choices)
    if isinstance(found, Refused):
        return found.shown()
    rules, positions = found
    if kind == "miss":
        return [Say(ctx._("Which standard?"), [
            Choice(short(rule_title(ctx.t, r)), cb.build(cb.BC_RULE, f"{draft}:{r.id}"))
            for r in rules])]  # fmt: skip
    ctx.expect(TYPED, draft=draft, kind=kind)
    return [Say(_typing_prompt(ctx.t, kind, positions))]


async def pick_rule(ctx: Ctx, arg: str) -> list[Say]:
    """Choose the people missing the standard picked."""
    draft, rule_id = (int(x) for x in arg.split(":"))
    _leave(ctx)

    async def choose(s: AsyncSession) -> Preview:
        rules, _positions = await recipients.choices(s)
        code = next((r.code for r in rules if r.id == rule_id), str(rule_id))
        return await broadcasts.choose_audience(
            s, actor_person_id=ctx.person_id, broadcast_id=draft,
            audience=Audience(missing=code), **_today_now(ctx))  # fmt: skip

    found = await _act(ctx, choose)
    return found.shown() if isinstance(found, Refused) else _ack_question(ctx, found)


async def typed(ctx: Ctx, draft: int, kind: str, text: str) -> list[Say]:
    """Unit names or codes, position codes or a course code, as asked."""
    words = tuple(dict.fromkeys(text.replace(",", " ").split()))
    if not words:
        ctx.expect(TYPED, draft=draft, kind=kind)
        return [Say(ctx._("Please type at least one code."))]

    async def choose(s: AsyncSession) -> Preview:
        codes = words
        if kind == "unit":  # codes, or names (or parts of them) separated by commas
            found = await unit_search.resolve_many(s, text)
            if found.unclear is not None:
                name, matches = found.unclear
                raise DomainError(Refusal.NOT_FOUND, problem="unclear", typed=name,
                                  matches=matches)  # fmt: skip
            codes = tuple(found.codes)
        audience = {
            "unit": Audience(units=codes),
            "pos": Audience(positions=codes),
            "reg": Audience(course=codes[0]),
            "wait": Audience(course=codes[0], waitlist=True),
        }.get(kind, Audience())
        return await broadcasts.choose_audience(
            s, actor_person_id=ctx.person_id, broadcast_id=draft, audience=audience,
            **_today_now(ctx))  # fmt: skip

    found = await _owing(ctx, TYPED, {"draft": draft, "kind": kind}, choose)
    return found.said() if isinstance(found, Refused) else _ack_question(ctx, found)


async def _audience_chosen(ctx: Ctx, draft: int, audience: Audience) -> list[Say]:
    found = await _act(ctx, lambda s: broadcasts.choose_audience(
        s, actor_person_id=ctx.person_id, broadcast_id=draft, audience=audience,
        **_today_now(ctx)))  # fmt: skip
    return found.shown() if isinstance(found, Refused) else _ack_question(ctx, found)


def _ack_question(ctx: Ctx, preview: Preview) -> list[Say]:
    """The audience counted; ask about the "Received" choice."""
    _ = ctx._
    text = _counted(ctx.t, preview) + "\n" + _(
        "Add a “Received” button so you can count who has read it?")
    d = preview.broadcast_id
    return [Say(text, [Choice(_("Yes, add it"), cb.build(cb.BC_ACK, f"{d}:1")),
                       Choice(_("No"), cb.build(cb.BC_ACK, f"{d}:0"), joined=True)])]  # fmt: skip


async def pick_ack(ctx: Ctx, arg: str) -> list[Say]:
    """Show the message exactly as recipients will get it, then the count and the choices."""
    draft, on = (int(x) for x in arg.split(":"))
    _leave(ctx)

    async def ask(s: AsyncSession) -> tuple[Preview, Say, str]:
        preview = await broadcasts.ask_ack(s, actor_person_id=ctx.person_id, broadcast_id=draft,
                                           on=bool(on), **_today_now(ctx))  # fmt: skip
        b = await broadcasts.get(s, actor_person_id=ctx.person_id, broadcast_id=draft)
        audience = Audience.from_json(b.audience)
        names = await recipients.names_of(s, audience)
        return preview, _as_received(ctx, b), describe(ctx.t, audience, names)

    found = await _act(ctx, ask)
    if isinstance(found, Refused):
        return found.shown()
    preview, content, audience = found
    return [content, _summary(ctx.t, preview, audience)]


def _as_received(ctx: Ctx, b: Any) -> Say:
    """The broadcast as a recipient on this channel gets it (schedules/broadcasts.py)."""
    if not ctx.files:  # text only
        return Say(b.text)
    upload = Upload(b.media_kind, b.media_file_id) if b.media_kind and b.media_file_id else None
    choices = [received_choice(ctx.t, b.id)] if b.ask_ack else []
    return Say(b.text, choices, upload=upload)


async def send_now(ctx: Ctx, arg: str) -> list[Say]:
    """Send the previewed broadcast now (or at the end of the quiet hours)."""
    draft = int(arg)
    _leave(ctx)
    done = await _act(ctx, _confirm(ctx, draft, None))
    return done.shown() if isinstance(done, Refused) else _confirmed(ctx, draft, done)


async def ask_when(ctx: Ctx, arg: str) -> list[Say]:
    """Ask for the time to send."""
    draft = int(arg)
    _leave(ctx)
    found = await _act(ctx, lambda s: broadcasts.draft(
        s, actor_person_id=ctx.person_id, broadcast_id=draft))  # fmt: skip
    if isinstance(found, Refused):
        return found.shown()
    ctx.expect(WHEN, draft=draft)
    return [Say(ctx._("When? Type a date and time like 05/12/2026 07:30."))]


async def typed_when(ctx: Ctx, draft: int, text: str) -> list[Say]:
    """Schedule the broadcast at the typed local time."""
    at = broadcasts.parse_local(text, ctx.settings.tz)
    if at is None:
        ctx.expect(WHEN, draft=draft)
        return [Say(ctx._("That is not a date and time like 05/12/2026 07:30. Try again."))]
    done = await _owing(ctx, WHEN, {"draft": draft}, _confirm(ctx, draft, at))
    return done.said() if isinstance(done, Refused) else _confirmed(ctx, draft, done)


def _confirm(
    ctx: Ctx, draft: int, at: datetime | None
) -> Callable[[AsyncSession], Awaitable[broadcasts.Confirmed]]:
    return lambda s: broadcasts.confirm(
        s, actor_person_id=ctx.person_id, broadcast_id=draft, send_at=at,
        policy=ctx.settings.reminder_policy(), actor=ctx.actor, **_today_now(ctx))  # fmt: skip


def _confirmed(ctx: Ctx, draft: int, done: broadcasts.Confirmed) -> list[Say]:
    """When sending starts; the progress follows in this chat where the drainer reports."""
    _ = ctx._
    reported = ctx.buttons  # the drainer edits the progress into a message of this chat
    n = {"n": done.total}
    if done.sending_now:
        ctx.wake()
        if reported:
            return [Say(_("📤 Sending to %(n)d people. Progress follows below.") % n)]
        return [Say(_("📤 Sending to %(n)d people.") % n,
                    [refresh_choice(ctx.t, draft), cancel_choice(ctx.t, draft)])]  # fmt: skip
    text = _("🕒 Scheduled for %(time)s, to %(n)d people.") % {
        "time": ctx.t.datetime(done.starts_at), "n": done.total}  # fmt: skip
    if done.moved_by_quiet_hours:
        text += "\n" + _("(Moved out of the quiet hours, when nothing is sent.)")
    return [Say(text, [cancel_choice(ctx.t, draft)])]


# -- choices that outlive the conversation -----------------------------------------------------


async def cancel(ctx: Ctx, arg: str) -> list[Say]:
    """Cancel a draft, a scheduled or a running broadcast."""
    _leave(ctx)
    p = await _act(ctx, lambda s: broadcasts.cancel(
        s, actor_person_id=ctx.person_id, broadcast_id=int(arg), now=ctx.now,
        actor=ctx.actor))  # fmt: skip
    if isinstance(p, Refused):
        return p.shown()
    text = report_text(ctx.t, p) if p.total else ctx._("OK, nothing was sent.")
    return [Say(text, edit=True, alert=ctx._("Cancelled."))]


async def refresh(ctx: Ctx, arg: str) -> list[Say]:
    """Show the report again with the receipts confirmed so far (the progress, while sending)."""
    p = await _act(ctx, lambda s: broadcasts.progress_for(
        s, actor_person_id=ctx.person_id, broadcast_id=int(arg)))  # fmt: skip
    if isinstance(p, Refused):
        return p.shown()
    text = report_text(ctx.t, p) if not p.waiting else progress_text(
        ctx.t, p, rate=ctx.settings.send_rate_per_second, paused_until=None)  # fmt: skip
    return [Say(text, [refresh_choice(ctx.t, p.broadcast_id)], edit=True)]


async def received(ctx: Ctx, arg: str) -> list[Say]:
    """A recipient confirms they have read the broadcast; its choice goes away."""
    if ctx.person_id is None:
        return not_linked(ctx)
    async with ctx.db.begin() as session:
        ok = await broadcasts.acknowledge(session, person_id=ctx.person_id,
                                          broadcast_id=int(arg), now=ctx.now)  # fmt: skip
    if not ok:
        return [Say(alert=ctx._("This button is no longer valid."))]
    return [Say(alert=ctx._("Thank you, noted."), edit=True)]


def cancelled(ctx: Ctx) -> list[Say]:
    """/cancel at a step (handlers/router.py CANCELLED): nothing is sent (the draft stays a
    draft, never sent)."""
    return [Say(ctx._("OK, nothing was sent."))]


async def answer(ctx: Ctx, step: str, data: dict[str, Any], text: str) -> list[Say]:
    """The typed answer the chat owed (handlers/router.STEPS)."""
    if step == TEXT:
        return await composed(ctx, text)
    if step == TYPED:
        return await typed(ctx, int(data["draft"]), str(data["kind"]), text)
    return await typed_when(ctx, int(data["draft"]), text)
