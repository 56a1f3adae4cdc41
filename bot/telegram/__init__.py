"""Chat handlers. `register_all` wires every feature in one ordered list."""

from __future__ import annotations

from telegram.ext import Application

from bot.telegram import (
    account,
    adapter,
    admin,
    attendance,
    broadcast,
    claims,
    course_import,
    courses,
    help,
    middleware,
    my,
    nominations,
    organizer_courses,
    other_app,
    registration,
    reminders,
    report,
    reviews,
    start,
    status,
)


def register_all(app: Application) -> None:
    middleware.register(app)  # group -1: identifies the user before any handler runs
    for feature in (
        start, status, courses, registration, my, reminders, account, admin, report, help,
        other_app,
    ):  # fmt: skip
        feature.register(app)
    # A photo or document the chat owes (claim evidence, an attendance sheet, a broadcast's
    # message) goes to its step; any other spreadsheet is a courses import.
    adapter.owed_uploads(app)
    for feature in (
        broadcast, attendance, claims, organizer_courses, course_import,
        nominations,  # asks a decline's reason as the next message
        reviews,  # asks a review meeting's conclusions as the next message
    ):  # fmt: skip
        feature.register(app)
    # Order matters below: text (and /cancel) answers a step the chat owes (handlers.router
    # .STEPS), else it is a search when no menu button matched above, and the catch-alls
    # answer whatever is left.
    adapter.owed_steps(app)
    adapter.the_rest(app)  # what the router names and no module above wired
    courses.register_search(app)
    help.register_fallbacks(app)
