"""Message catalogues (gettext .po files under locales/) and locale-aware formatting."""

from __future__ import annotations

import datetime as dt
import gettext
import io
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALES = Path(__file__).resolve().parent
LANGUAGES = ("vi", "en")
DOMAIN = "messages"


@cache
def catalogue(lang: str) -> gettext.NullTranslations:
    """Compile the .po in memory: no build step, no binary files in the repository."""
    po = LOCALES / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not po.exists():
        return gettext.NullTranslations()
    with po.open("rb") as fh:
        cat = read_po(fh, locale=lang)
    buffer = io.BytesIO()
    write_mo(buffer, cat)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def pick_language(stored: str | None, client: str | None, default: str) -> str:
    """Stored preference, then the app's language, then the default."""
    if stored in LANGUAGES:
        return stored
    if client:
        short = client.split("-")[0].lower()
        if short in LANGUAGES:
            return short
    return default


@dataclass(frozen=True)
class Translator:
    lang: str
    tz: ZoneInfo

    def gettext(self, message: str) -> str:
        return catalogue(self.lang).gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return catalogue(self.lang).ngettext(singular, plural, n)

    def date(self, value: dt.date | None) -> str:
        return value.strftime("%d/%m/%Y") if value else "—"

    def datetime(self, value: dt.datetime | None) -> str:
        if value is None:
            return "—"
        return value.astimezone(self.tz).strftime("%d/%m/%Y %H:%M")

    def local_date(self, value: dt.datetime) -> str:
        return value.astimezone(self.tz).strftime("%d/%m/%Y")

    def time(self, value: dt.datetime) -> str:
        return value.astimezone(self.tz).strftime("%H:%M")
