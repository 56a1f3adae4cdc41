"""/courses, its menu button and pages (handlers/courses.py); and free text, which goes where
it does on every channel (handlers/router.py): a command word, the answer a step awaits, a
link code, else a search."""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, MessageHandler, filters

from bot.context import BotContext
from bot.telegram.adapter import actions, commands, ctx_of, menu_buttons, render
from bot.telegram.help import follow_link
from handlers import actions as cb
from handlers import router


async def typed(update: Update, context: BotContext) -> None:
    """Answer text that no command, button or conversation took."""
    message = update.effective_message
    assert message is not None and message.text is not None
    text = message.text.strip()
    ctx = ctx_of(update, context)
    step = router.owed(ctx)
    says = await router.command(ctx, text)
    if says is None:
        says = await router.typed(ctx, text, step)
    context.t = ctx.t
    await render(update, context, says)
    await follow_link(update, context, ctx)  # a typed code may have linked the chat


def register(app: Application) -> None:
    commands(app, ("courses",))
    actions(app, ("courses",))  # the main menu offered as choices
    menu_buttons(app, ("courses",))
    actions(app, (cb.PAGE, cb.SEARCH_PAGE))


def register_search(app: Application) -> None:
    """Free text; registered last so menu buttons, commands and conversations win."""
    # New messages only: an edited earlier answer is not the answer to the step owed now.
    app.add_handler(
        MessageHandler(filters.UpdateType.MESSAGE & filters.TEXT & ~filters.COMMAND, typed)
    )
