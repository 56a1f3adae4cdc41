"""Which flow answers: the one table of actions, commands and owed steps for every channel.

A picked choice or pressed button carries an action ("r:42", handlers/actions.py); a command
or a word typed instead of one names a flow; text typed while the chat owes a step (a reason
for declining, a step of a claim) goes to that step's flow; other text links an unlinked chat
or searches courses.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from zoneinfo import ZoneInfo

from handlers import (
    account,
    checkin,
    claims,
    courses,
    flows,
    help,
    link,
    my,
    nominations,
    other_app,
    reminders,
    status,
)
from handlers.core import Ctx, Flow, Say
from handlers.dialog import key
from locales import LANGUAGES, Translator

# Choices and typed commands lead to the same flows; the names mirror Telegram's commands.
ACTIONS: dict[str, Flow] = {  # an action's name (handlers/actions.py) → its flow
    "start": link.start,
    "status": status.status,
    "courses": courses.courses,
    "p": courses.turn_page,
    "s": courses.turn_search_page,
    "c": flows.show_course,
    "r": flows.ask_register,
    "rc": flows.confirm_register,
    "u": flows.ask_cancel,
    "uc": flows.confirm_cancel,
    "x": flows.dismiss,
    "na": nominations.accept_nomination,
    "nd": nominations.ask_decline_reason,
    "nomskip": nominations.decline_without_reason,
    "aa": nominations.approve_request,
    "ad": nominations.ask_request_reason,
    "appskip": nominations.decline_request_without_reason,
    "my": my.my,
    "reminders": reminders.show,
    "rem": reminders.toggle,
    "off": reminders.turn_off,
    "via": reminders.choose_channel,
    "language": account.language,
    "lang": account.set_language,
    "privacy": account.privacy,
    "unlink": account.ask_unlink,
    "unlinkc": account.unlink,
    "help": help.help_,
    "telegram": other_app.code,
    "zalo": other_app.code,
    "checkin": checkin.checkin,
    "cl": claims.start,
    "clk": claims.kind,
    "clq": claims.qualification,
    "cll": claims.level,
    "cancel": claims.cancel,
}
COMMANDS = (
    "start",
    "status",
    "courses",
    "my",
    "reminders",
    "language",
    "privacy",
    "help",
    "telegram",
    "checkin",
    "cancel",
)
# Words people type instead of a command (folded: accents and case do not matter).
_WORDS = {
    "start": ("bat dau", "lien ket", "link"),
    "status": ("chuan", "chuan cua toi", "tieu chuan"),
    "courses": ("khoa hoc", "danh sach khoa hoc"),
    "my": ("dang ky cua toi", "cua toi"),
    "reminders": ("nhac nho", "nhac"),
    "language": ("ngon ngu",),
    "privacy": ("rieng tu", "quyen rieng tu"),
    "help": ("tro giup", "huong dan", "menu"),
    "telegram": ("ma telegram", "lien ket telegram"),
    "checkin": ("diem danh", "check in"),
    "cancel": ("huy", "huy bo"),
}
# Words that take what follows them, e.g. "điểm danh 482 913".
_WITH_ARGUMENT = ("checkin",)


def command_words() -> dict[str, str]:
    """Every word that names a command (folded), with the command it names."""
    words = {name: name for name in COMMANDS}
    for name, aliases in _WORDS.items():
        words.update({alias: name for alias in aliases})
    for lang in LANGUAGES:  # the main menu's labels, in either language
        for choice in flows.main_menu(Translator(lang, ZoneInfo("UTC"))):
            words[key(choice.label)] = choice.action
    return words

# A typed answer the chat owes: step name → its flow, given the step's data.
StepFlow = Callable[[Ctx, str, dict[str, Any], str], Awaitable[list[Say]]]


async def _reason(ctx: Ctx, step: str, data: dict[str, Any], text: str) -> list[Say]:
    return await nominations.decline_owed(ctx, data, text)


STEPS: dict[str, StepFlow] = {
    nominations.REASON: _reason,
    **{step: claims.typed for step in claims.STEPS},
}
_WORD_TABLE = command_words()


async def run(ctx: Ctx, action: str) -> list[Say] | None:
    """The answer to a picked choice, or None when the action is not ours (malformed)."""
    name, _sep, arg = action.partition(":")
    flow = ACTIONS.get(name)
    if flow is None:
        return None
    try:
        return await flow(ctx, arg)
    except ValueError:  # a malformed argument cannot come from our own choices
        return None


def owed(ctx: Ctx) -> tuple[str, dict[str, Any]] | None:
    """The step this chat owes and its data, used up by this message whatever it is: a
    choice or a command leaves the step; typed text is answered by the step's flow."""
    state = ctx.dialog
    if state.expect not in STEPS:
        return None
    if state.expect in claims.STEPS and ctx.person_id is None:
        return None
    step = (state.expect, dict(state.data))
    ctx.expect(None)
    return step


async def command(ctx: Ctx, text: str) -> list[Say] | None:
    """The answer to a command ("/status", "khoa hoc", "điểm danh 123456"), or None."""
    if text.startswith("/"):
        word, _sep, arg = text[1:].partition(" ")
        name = _WORD_TABLE.get(key(word))
        if name is None:
            return [Say(ctx._("I don't know that command. Send /help to see what I can do."))]
        return await ACTIONS[name](ctx, arg.strip())
    name = _WORD_TABLE.get(key(text))
    if name is not None:
        return await ACTIONS[name](ctx, "")
    words = text.split()
    for n in (2, 1):  # a command word of one or two words, then its argument
        name = _WORD_TABLE.get(key(" ".join(words[:n])))
        if name in _WITH_ARGUMENT and len(words) > n:
            return await ACTIONS[name](ctx, " ".join(words[n:]))
    return None


async def typed(ctx: Ctx, text: str, step: tuple[str, dict[str, Any]] | None) -> list[Say]:
    """Text that is no command: the owed step's answer, a link attempt, or a search."""
    if step is not None:
        name, data = step
        return await STEPS[name](ctx, name, data, text)
    if ctx.person_id is None:
        says = await link.unlinked_text(ctx, text)
        if says is not None:
            return says
    return await courses.search(ctx, text)
