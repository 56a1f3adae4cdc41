"""One term for each thing, as the README's glossary names it: retired or ambiguous terms
must not come back into the catalogues."""

from __future__ import annotations

import re

import pytest
from babel.messages.pofile import read_po

from locales import LANGUAGES, LOCALES

# (pattern in a translation, why it is retired). Vietnamese first.
RETIRED = {
    "vi": [
        # "Cán bộ tổ chức" is the personnel officer; the role that organises training is
        # "cán bộ phụ trách bồi dưỡng".
        (r"cán bộ tổ chức", "the personnel officer, not the training organizer"),
        (r"^Tổ chức: ", "reads as 'Organisation:'; the role is 'Phụ trách bồi dưỡng'"),
        (r"(?<!Tiêu )\b[Cc]huẩn của tôi", "the menu is 'Tiêu chuẩn của tôi'"),
        (r"(?<![Cc]hức vụ, )chức danh", "one term: 'chức vụ, chức danh'"),
        (r"Chức vụ(?!, chức danh)", "one term: 'Chức vụ, chức danh'"),
        (r"\btiết\b", "the yearly target is in hours (giờ), not periods"),
        (r"ban đêm\)|không bao giờ .*ban đêm", "urgent notices do go out at night"),
        (r"chờ %\(n\)d\"?$", "'hết chỗ, chờ 0' reads badly"),
        (r"giúp công chức cấp xã", "the greeting is 'cán bộ, công chức cấp xã'"),
    ],
    "en": [
        (r"never at night", "urgent notices do go out at night"),
    ],
}
# Where the personnel officer is meant, by the English source.
PERSONNEL = "personnel officer"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_no_retired_term_is_shown(lang: str) -> None:
    with (LOCALES / lang / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        catalogue = read_po(fh, locale=lang)
    found = []
    for message in catalogue:
        if not message.id:
            continue
        source = message.id if isinstance(message.id, str) else message.id[0]
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for text in strings:
            for pattern, why in RETIRED[lang]:
                if PERSONNEL in source and "tổ chức" in pattern:
                    continue
                if re.search(pattern, text or "", re.MULTILINE):
                    found.append(f"{text!r}: {why}")
    assert not found, "\n".join(found)
