"""Open courses and free-text search, page by page (/courses, or words typed in the chat).

The words of the last search are kept in the chat's dialog row (handlers/dialog.py), so the
pages of its results still turn after a restart or on another worker.
"""

from __future__ import annotations

from html import escape

from domain import catalog
from domain.catalog import Page
from domain.search import Intent, understand
from handlers import actions as cb
from handlers.core import Choice, Ctx, Menu, Say
from handlers.render import course_page, full_text, greeting, no_match, short
from storage.db import reading


async def courses(ctx: Ctx, arg: str) -> list[Say]:
    """List open courses, soonest first."""
    return await _page(ctx, 0, "")


async def turn_page(ctx: Ctx, arg: str) -> list[Say]:
    """Another page of the open courses."""
    return await _page(ctx, int(arg), "", turning=True)


async def search(ctx: Ctx, text: str) -> list[Say]:
    """Answer free text: the menu to a greeting, else the courses its words mean."""
    query = text.strip()[:100]
    intent = understand(query).intent
    if intent is Intent.CHATTER:
        linked = ctx.person_id is not None
        return [Say(greeting(ctx.t, linked=linked), menu=Menu.MAIN if linked else Menu.CONTACT)]
    if intent is Intent.LIST:
        query = ""
    ctx.dialogs.keep(ctx.chat_id, ctx.now, query=query)
    return await _page(ctx, 0, query)


async def turn_search_page(ctx: Ctx, arg: str) -> list[Say]:
    """Another page of the last search's results."""
    return await _page(ctx, int(arg), ctx.dialog.kept.get("query", ""), turning=True)


async def _page(ctx: Ctx, page: int, query: str, *, turning: bool = False) -> list[Say]:
    async with reading(ctx.db) as session:
        result = await catalog.page_of(
            session,
            person_id=ctx.person_id,
            now=ctx.now,
            page=page,
            page_size=ctx.settings.page_size,
            query=query,
        )
    _ = ctx._
    if query and not result.total:
        list_all = [Choice(_("📚 List open courses"), cb.build(cb.PAGE, 0))]
        return [Say(no_match(ctx.t, query, result.open_total),
                    list_all if result.open_total else [], edit=turning)]  # fmt: skip
    if query:
        heading = _("🔎 Courses matching “%(q)s”: %(n)d") % {"q": escape(query), "n": result.total}
        action = cb.SEARCH_PAGE
    else:
        heading = _("📚 Open courses you can join: %(n)d") % {"n": result.total}
        action = cb.PAGE
    if ctx.buttons:  # the text lists the courses; their buttons hold the titles alone
        text, choices = course_page(ctx.t, result, action=action, heading=heading)
    else:  # each numbered line is a course with its date and seats, typed by number or title
        text, choices = _numbered_page(ctx, result, action=action, heading=heading)
    return [Say(text, choices, edit=turning)]


def _numbered_page(
    ctx: Ctx, result: Page, *, action: str, heading: str
) -> tuple[str, list[Choice]]:
    _ = ctx._
    if not result.items:
        return heading + "\n\n" + _("No open courses found."), []
    lines = [heading]
    if result.pages > 1:
        lines.append(
            _("Page %(page)d of %(pages)d") % {"page": result.page + 1, "pages": result.pages}
        )
    choices = []
    for v in result.items:
        seats = (
            _("%(n)d seats left") % {"n": v.seats_left}
            if v.seats_left
            else full_text(ctx.t, v.waitlisted)
        )
        detail = f"{ctx.t.local_date(v.course.starts_at)} · {seats}"
        label = f"{short(v.course.title, 80)} ({detail})"
        choices.append(Choice(label, cb.build(cb.COURSE, v.course.id), aliases=(v.course.title,)))
    if result.page > 0:
        choices.append(Choice(_("◀️ Previous page"), cb.build(action, result.page - 1)))
    if result.page + 1 < result.pages:
        choices.append(Choice(_("▶️ Next page"), cb.build(action, result.page + 1)))
    return "\n".join(lines), choices
