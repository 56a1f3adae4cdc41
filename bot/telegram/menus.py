"""Keyboards shared by several features: the main menu and the contact request."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

from telegram import KeyboardButton, ReplyKeyboardMarkup

from locales import LANGUAGES, Translator, catalogue


def _labels(t: Translator) -> dict[str, str]:
    _ = t.gettext
    return {
        "status": _("📋 My standards"),
        "courses": _("📚 Courses"),
        "my": _("🗓 My registrations"),
        "help": _("❓ Help"),
    }


def main_menu(t: Translator) -> ReplyKeyboardMarkup:
    labels = _labels(t)
    return ReplyKeyboardMarkup(
        [[labels["status"], labels["courses"]], [labels["my"], labels["help"]]],
        resize_keyboard=True,
        is_persistent=True,
    )


def contact_menu(t: Translator) -> ReplyKeyboardMarkup:
    button = KeyboardButton(t.gettext("📱 Share my phone number"), request_contact=True)
    return ReplyKeyboardMarkup(
        [[button], [_labels(t)["help"]]], resize_keyboard=True, one_time_keyboard=True
    )


def menu_pattern(key: str) -> re.Pattern[str]:
    """Match a main-menu button's text in any language the bot speaks."""
    texts = set()
    for lang in LANGUAGES:
        catalogue(lang)  # warm the cache
        texts.add(_labels(Translator(lang, ZoneInfo("UTC")))[key])
    return re.compile("^(" + "|".join(re.escape(x) for x in sorted(texts)) + ")$")
