"""Linking a Zalo chat to a roster person: a one-time code, or phone number + date of birth.

Zalo cannot share a verified contact the way Telegram does, so the phone number alone proves
nothing; with the date of birth from the roster it is accepted, under the same attempt counter
and lockout as codes. A code also moves a link from another Zalo account.
"""

from __future__ import annotations

import logging
import re
from datetime import date, timedelta
from html import escape

from domain.linking import LinkResult, LinkStatus, link_by_birth, link_by_code
from domain.phones import normalize_phone
from handlers.core import Ctx, Say
from handlers.flows import main_menu, not_linked

log = logging.getLogger(__name__)

BIRTH = "birth"  # the chat owes a date of birth after typing a phone number
_CODE = re.compile(r"^[A-Za-z0-9]{10}$")
_DATE = re.compile(r"^\s*(\d{1,2})\s*[/.\-\s]\s*(\d{1,2})\s*[/.\-\s]\s*(\d{4})\s*$")


def looks_like_code(text: str) -> str | None:
    cleaned = re.sub(r"[\s\-]", "", text)
    if _CODE.match(cleaned) and not cleaned.isdigit():
        return cleaned.upper()
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
    _ = ctx._
    return [
        Say(
            _(
                "Hi! This bot helps commune civil servants check their standards and register for "
                "training.\n\nTo begin, type the <b>link code</b> your organizer gave you "
                "(10 letters and digits), or your <b>phone number</b> as on your unit's roster; "
                "I will then ask for your date of birth."
            )
        )
    ]


async def start(ctx: Ctx, arg: str) -> list[Say]:
    code = looks_like_code(arg) if arg else None
    if code:
        return await by_code(ctx, code)
    if ctx.person_id is not None:
        return [Say(ctx._("Welcome back! Choose from the menu below."), main_menu(ctx.t))]
    return welcome(ctx)


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
        log.warning("zalo link code refused for account %s: %s", ctx.account_id, result.status)
    says = answer(ctx, result)
    if result.previous_chat_id:
        says.append(
            Say(
                ctx._(
                    "Your roster record was linked to another Zalo account with an organizer's "
                    "code, so this chat is no longer linked. If this was not you, contact your "
                    "organizer."
                ),
                chat_id=result.previous_chat_id,
            )
        )
    return says


async def by_phone(ctx: Ctx, phone: str) -> list[Say]:
    ctx.dialogs.expect(ctx.chat_id, BIRTH, ctx.now, phone=phone)
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
        ctx.dialogs.expect(ctx.chat_id, BIRTH, ctx.now, phone=phone)
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
        log.warning("zalo phone link refused for account %s: %s", ctx.account_id, result.status)
    return answer(ctx, result)


async def unlinked_text(ctx: Ctx, text: str) -> list[Say]:
    """Free text from a chat that is not linked: a code, a phone number, or a greeting."""
    state = ctx.dialogs.state(ctx.chat_id, ctx.now)
    owed = state.data.get("phone") if state.expect == BIRTH else None
    ctx.dialogs.expect(ctx.chat_id, None, ctx.now)
    code = looks_like_code(text)
    if code:
        return await by_code(ctx, code)
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
        return [Say(text, main_menu(t))]
    texts = {
        LinkStatus.BAD_DETAILS: _(
            "This phone number and date of birth do not match the roster. Attempts left: "
            "%(n)d. Type your phone number to try again, or ask your organizer for a link code."
        )
        % {"n": result.attempts_left or 0},
        LinkStatus.AMBIGUOUS: _(
            "Several people on the roster have this phone number. Please ask "
            "your organizer for a link code and type it here."
        ),
        LinkStatus.LINKED_ELSEWHERE: _(
            "This person is already linked to another Zalo account. To move the link here, "
            "ask your organizer for a code and type it here."
        ),
        LinkStatus.BAD_CODE: _("This code is wrong, used or expired. Attempts left: %(n)d.")
        % {"n": result.attempts_left or 0},
        LinkStatus.LOCKED: _("Too many wrong attempts. Please try again after %(time)s.")
        % {"time": t.datetime(result.locked_until)},
    }
    if result.status not in texts:
        return not_linked(ctx)
    return [Say(texts[result.status])]
