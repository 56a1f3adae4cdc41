"""Every message the code shows is translated in both catalogues, with the same placeholders."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from locales import LANGUAGES, LOCALES

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "handlers", "domain", "schedules", "storage", "zalo")
PLACEHOLDER = re.compile(r"%\((\w+)\)[sdf]")


def _source_messages() -> dict[str, str]:
    """msgid → where it is used, as Babel's extractor finds them in the code."""
    found: dict[str, str] = {}
    for package in PACKAGES:
        for filename, lineno, message, _comments, _ctx in extract_from_dir(
            ROOT / package, method_map=[("**.py", "python")]
        ):
            msgid = message if isinstance(message, str) else message[0]
            found.setdefault(msgid, f"{package}/{filename}:{lineno}")
    return found


def _catalogue(lang: str) -> Catalog:
    with (LOCALES / lang / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        return read_po(fh, locale=lang)


SOURCE = _source_messages()


def test_the_code_has_messages_to_check() -> None:
    assert len(SOURCE) > 50


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_message_in_the_code_is_translated(lang: str) -> None:
    cat = _catalogue(lang)
    missing = [
        f"{where}: {msgid!r}"
        for msgid, where in sorted(SOURCE.items())
        if msgid not in cat
        or not (
            all(cat[msgid].string) if isinstance(cat[msgid].string, tuple) else cat[msgid].string
        )
    ]
    assert not missing, f"untranslated in {lang}:\n" + "\n".join(missing)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_translations_keep_the_placeholders(lang: str) -> None:
    wrong = []
    for message in _catalogue(lang):
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        expected = set(PLACEHOLDER.findall(ids[-1]))
        for string in strings:
            if string and set(PLACEHOLDER.findall(string)) != expected:
                wrong.append(f"{ids[0]!r} → {string!r}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_no_stale_entries_linger_in_the_catalogue(lang: str) -> None:
    stale = [
        message.id
        for message in _catalogue(lang)
        if message.id
        and (message.id if isinstance(message.id, str) else message.id[0]) not in SOURCE
    ]
    assert not stale
