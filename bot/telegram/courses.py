"""/courses and free-text search: open courses the person may join, and a course's card."""

from __future__ import annotations

from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot.context import BotContext
from bot.telegram.adapter import keyboard
from bot.telegram.common import reply
from bot.telegram.menus import contact_menu, main_menu, menu_pattern
from domain import catalog
from domain.search import Intent, understand
from handlers import actions as cb
from handlers.render import (
    course_page,
    greeting,
    no_match,
)
from storage.db import reading

QUERY_KEY = "search_query"


async def _page(update: Update, context: BotContext, *, page: int, query: str) -> None:
    async with reading(context.db) as session:
        result = await catalog.page_of(
            session,
            person_id=context.person_id,
            now=context.now(),
            page=page,
            page_size=context.settings.page_size,
            query=query,
        )
    _ = context.t.gettext
    if query and not result.total:
        text = no_match(context.t, query, result.open_total)
        button = InlineKeyboardButton(_("📚 List open courses"), callback_data=cb.build(cb.PAGE, 0))
        markup = InlineKeyboardMarkup([[button]]) if result.open_total else None
        await reply(update, text, markup, edit=update.callback_query is not None)
        return
    if query:
        heading = _("🔎 Courses matching “%(q)s”: %(n)d") % {"q": escape(query), "n": result.total}
        action = cb.SEARCH_PAGE
    else:
        heading = _("📚 Open courses you can join: %(n)d") % {"n": result.total}
        action = cb.PAGE
    text, choices = course_page(context.t, result, action=action, heading=heading)
    await reply(update, text, keyboard(choices), edit=update.callback_query is not None)


async def courses(update: Update, context: BotContext) -> None:
    """List open courses, soonest first."""
    await _page(update, context, page=0, query="")


async def search(update: Update, context: BotContext) -> None:
    """Answer free text: the menu to a greeting, else the courses its words mean."""
    message = update.effective_message
    assert message is not None and message.text is not None
    query = message.text.strip()[:100]
    assert context.user_data is not None
    intent = understand(query).intent
    if intent is Intent.CHATTER:
        linked = context.person_id is not None
        menu = main_menu(context.t) if linked else contact_menu(context.t)
        await reply(update, greeting(context.t, linked=linked), menu)
        return
    if intent is Intent.LIST:
        query = ""
    context.user_data[QUERY_KEY] = query
    await _page(update, context, page=0, query=query)


async def turn_page(update: Update, context: BotContext) -> None:
    """Show another page of the course list or of the last search."""
    query = update.callback_query
    assert query is not None and context.user_data is not None
    await query.answer()
    searching = query.data is not None and query.data.startswith(cb.SEARCH_PAGE + ":")
    text = context.user_data.get(QUERY_KEY, "") if searching else ""
    await _page(update, context, page=cb.number(query.data), query=text)


def register(app: Application) -> None:
    app.add_handler(CommandHandler("courses", courses))
    app.add_handler(MessageHandler(filters.Regex(menu_pattern("courses")), courses))
    app.add_handler(CallbackQueryHandler(turn_page, pattern=cb.pattern(cb.PAGE)))
    app.add_handler(CallbackQueryHandler(turn_page, pattern=cb.pattern(cb.SEARCH_PAGE)))


def register_search(app: Application) -> None:
    """Free text is a search; registered last so menu buttons and commands win."""
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, search))
