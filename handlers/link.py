"""Linking a chat to a roster person: a shared contact, a one-time code, or phone number + date
of birth.

Where the channel shares a verified contact (Telegram's button), the phone number is linked
that way. Elsewhere (Zalo) a typed phone number proves nothing, so the date of birth from the
roster must follow, under the same attempt counter and lockout as codes. A code, after /start
or typed alone, links on any channel and also moves a link from another account.
"""

from __future__ import annotations

import logging
import re
from datetime import date, timedelta
from html import escape

from domain.linking import (
    CODE_ALPHABET,
    CODE_LENGTH,
    LinkResult,
    LinkStatus,
    link_by_birth,
    link_by_code,
    link_by_contact,
)
from domain.phones import normalize_phone
from handlers.core import Contact, Ctx, Menu, Say
from handlers.flows import not_linked
from locales import Translator

log = logging.getLogger(__name__)

BIRTH = "birth"  # the chat owes a date of birth after typing a phone number
_ALPHABET = frozenset(CODE_ALPHABET)
_DATE = re.compile(r"^\s*(\d{1,2})\s*[/.\-\s]\s*(\d{1,2})\s*[/.\-\s]\s*(\d{4})\s*$")


def looks_like_code(text: str) -> str | None:
    """The code in `text`, typed in any case, spaced or not; None for anything else. Codes
    use no I, L, O, 0 or 1, which keeps most words (a search) from passing for one."""
    cleaned = re.sub(r"[\s\-]", "", text).upper()
    if len(cleaned) == CODE_LENGTH and set(cleaned) <= _ALPHABET and not cleaned.isdigit():
        return cleaned
    return None


def parse_birth(text: str) -> date | None:
    match = _DATE.match(text)
    if not match:
        return None
    day, month, year = (int(g) for g in match.groups())
    try:
        return date(year, month, day)
    except ValueError:
        return None


def welcome(ctx: Ctx) -> list[Say]:
    """How to begin, for a chat that is not linked: by the contact button where there is one."""
    _ = ctx._
    if ctx.contact:
        text = _(
            "Hello! I help commune civil servants check their standards and register for "
            "training.\n\nTo begin, tap <b>📱 Share my phone number</b> below. Your number must "
            "match the one on your unit's roster.\n\nIf your organizer gave you a code, type "
            "/start followed by the code, for example: <code>/start ABCD234567</code>"
        )
        return [Say(text, menu=Menu.CONTACT)]
    text = _(
        "Hi! This bot helps commune civil servants check their standards and register for "
        "training.\n\nTo begin, type the <b>link code</b> your organizer gave you "
        "(10 letters and digits), or your <b>phone number</b> as on your unit's roster; "
        "I will then ask for your date of birth."
    )
    return [Say(text)]


async def start(ctx: Ctx, arg: str) -> list[Say]:
    """Greet a linked person, link with the code after /start, or say how to link."""
    if arg:
        return await by_code(ctx, looks_like_code(arg) or arg.strip())
    if ctx.person_id is not None:
        return [Say(ctx._("Welcome back! Choose from the menu below."), menu=Menu.MAIN)]
    return welcome(ctx)


async def contact(ctx: Ctx, shared: Contact) -> list[Say]:
    """Link when the person shares their own phone number and it matches the roster."""
    async with ctx.db.begin() as session:
        result = await link_by_contact(
            session,
            account_id=ctx.account_id,
            contact_user_id=shared.user_id,
            phone=shared.phone,
            now=ctx.now,
        )
    return answer(ctx, result)


async def by_code(ctx: Ctx, code: str) -> list[Say]:
    s = ctx.settings
    async with ctx.db.begin() as session:
        result = await link_by_code(
            session,
            account_id=ctx.account_id,
            code=code,
            now=ctx.now,
            max_failures=s.link_max_failures,
            lockout=timedelta(minutes=s.link_lockout_minutes),
        )
    if result.status != LinkStatus.LINKED:
        log.warning("link code refused for %s account %s: %s", ctx.channel, ctx.account_id,
                    result.status)  # fmt: skip
    says = answer(ctx, result)
    if result.previous_chat_id:  # told in the language that chat chose
        ctx.unlinked.append(result.previous_chat_id)
        lang = result.previous_language or ctx.settings.default_language
        told = Translator(lang, ctx.settings.tz).gettext(
            "Your roster record was linked to another %(app)s account with an organizer's "
            "code, so this chat is no longer linked. If this was not you, contact your organizer."
        ) % {"app": ctx.app}
        says.append(Say(told, chat_id=result.previous_chat_id))
    return says


async def by_phone(ctx: Ctx, phone: str) -> list[Say]:
    ctx.expect(BIRTH, phone=phone)
    return [
        Say(
            ctx._(
                "Now type your date of birth as on the roster, as day/month/year, e.g. 25/03/1985."
            )
        )
    ]


async def by_birth(ctx: Ctx, text: str, phone: str) -> list[Say]:
    born = parse_birth(text)
    if born is None:
        ctx.expect(BIRTH, phone=phone)
        return [Say(ctx._("Please type the date of birth as day/month/year, e.g. 25/03/1985."))]
    s = ctx.settings
    async with ctx.db.begin() as session:
        result = await link_by_birth(
            session,
            account_id=ctx.account_id,
            phone=phone,
            date_of_birth=born,
            now=ctx.now,
            max_failures=s.link_max_failures,
            lockout=timedelta(minutes=s.link_lockout_minutes),
        )
    if result.status != LinkStatus.LINKED:
        log.warning("phone link refused for %s account %s: %s", ctx.channel, ctx.account_id,
                    result.status)  # fmt: skip
    return answer(ctx, result)


async def unlinked_text(ctx: Ctx, text: str) -> list[Say] | None:
    """Free text from a chat that is not linked: a code, or (where no contact can be shared) a
    phone number and then the date of birth, or the welcome. None: not about linking (where a
    contact can be shared, such text is a search)."""
    state = ctx.dialog
    owed = state.data.get("phone") if state.expect == BIRTH else None
    ctx.expect(None)
    code = looks_like_code(text)
    if code:
        return await by_code(ctx, code)
    if ctx.contact:
        return None
    phone = normalize_phone(text)
    if owed and not phone:
        return await by_birth(ctx, text, owed)
    if phone:
        return await by_phone(ctx, phone)
    return welcome(ctx)


def answer(ctx: Ctx, result: LinkResult) -> list[Say]:
    t, _ = ctx.t, ctx._
    if result.status in (LinkStatus.LINKED, LinkStatus.ALREADY_LINKED):
        ctx.person_id = result.person_id
        text = _(
            "✅ Linked. Hello, %(name)s! Use the menu below to check your standards "
            "and find courses."
        ) % {"name": escape(result.person_name)}
        return [Say(text, menu=Menu.MAIN)]
    texts = {
        # A shared contact (Telegram)
        LinkStatus.FOREIGN_CONTACT: _(
            "Please share <b>your own</b> phone number with the button below, not someone "
            "else's contact."
        ),
        LinkStatus.NO_MATCH: _(
            "This phone number is not on the roster. Ask your unit's personnel officer to "
            "update it, or to give you a link code (then type /start CODE)."
        ),
        # A typed phone number and date of birth (Zalo)
        LinkStatus.BAD_DETAILS: _(
            "This phone number and date of birth do not match the roster. Attempts left: "
            "%(n)d. Type your phone number to try again, or ask your organizer for a link code."
        )
        % {"n": result.attempts_left or 0},
        # Either
        LinkStatus.AMBIGUOUS: _(
            "Several people on the roster have this phone number. Please ask "
            "your organizer for a link code and type it here."
        ),
        LinkStatus.LINKED_ELSEWHERE: _(
            "This person is already linked to another %(app)s account. To move the link here, "
            "ask your organizer for a code and type it here."
        )
        % {"app": ctx.app},
        LinkStatus.BAD_CODE: _("This code is wrong, used or expired. Attempts left: %(n)d.")
        % {"n": result.attempts_left or 0},
        LinkStatus.LOCKED: _("Too many wrong attempts. Please try again after %(time)s.")
        % {"time": t.datetime(result.locked_until)},
    }
    if result.status not in texts:
        return not_linked(ctx)
    return [Say(texts[result.status], menu=Menu.CONTACT)]
