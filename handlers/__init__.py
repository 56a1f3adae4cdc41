"""Chat handlers. `register_all` wires every feature in one ordered list."""

from __future__ import annotations

from telegram.ext import Application

from handlers import (
    account,
    admin,
    courses,
    help,
    middleware,
    my,
    registration,
    reminders,
    start,
    status,
)


def register_all(app: Application) -> None:
    middleware.register(app)  # group -1: identifies the user before any handler runs
    for feature in (start, status, courses, registration, my, reminders, account, admin, help):
        feature.register(app)
    # Order matters below: free text is a search only when no menu button matched above,
    # and the catch-alls answer whatever is left.
    courses.register_search(app)
    help.register_fallbacks(app)
