"""Vietnamese phone numbers and personal ID (CCCD) numbers as people and spreadsheets write them.

Both are stored in one canonical form so that a roster row, a Telegram contact and a typed
number find the same person.
"""

from __future__ import annotations

import re
from decimal import Decimal

__all__ = ["normalize_phone", "valid_personal_id"]

# Separators people put inside phone numbers; anything else (letters, a second number after
# "/" or ",") makes the text not one phone number.
_PHONE_NOISE = re.compile(r"[\s.\-()\u00a0]")
_EXCEL_FLOAT = re.compile(r"(\d+)\.0+")
# Mobile numbers start 03, 05, 07, 08 or 09 since the 2018 renumbering; landlines are
# 02 + area code, 11 digits in all.
_MOBILE = re.compile(r"0[35789]\d{8}")
_LANDLINE = re.compile(r"02\d{9}")
# The 2018 renumbering of 11-digit mobile numbers (01xx -> 0xx). Old rosters still hold them,
# and the mapping is fixed history, so converting is safe.
_OLD_MOBILE_PREFIX = {
    "0120": "070", "0121": "079", "0122": "077", "0126": "076", "0128": "078",
    "0123": "083", "0124": "084", "0125": "085", "0127": "081", "0129": "082",
    "0162": "032", "0163": "033", "0164": "034", "0165": "035", "0166": "036",
    "0167": "037", "0168": "038", "0169": "039",
    "0186": "056", "0188": "058", "0199": "059",
}  # fmt: skip


def normalize_phone(raw: str) -> str | None:
    """The national form of a Vietnamese phone number ("0912345678"), or None if it is not one.

    Accepts spaces, dots, dashes and brackets, the +84 / 84 / 0084 prefixes (Telegram contacts
    often come as "84912345678"), a stray 0 after the country code, and a leading 0 lost by a
    spreadsheet ("912345678").
    """
    text = raw.strip()
    excel = _EXCEL_FLOAT.fullmatch(text)
    if excel:
        text = excel.group(1)
    text = _PHONE_NOISE.sub("", text)
    international = text.startswith("+")
    if international:
        text = text[1:]
    if not text.isdigit() or not text.isascii():
        return None
    if text.startswith("0084"):
        text, international = text[4:], True
    elif text.startswith("84") and len(text) >= 11:
        # 84 + 9 (mobile) or 10 (landline) digits; a national number never starts 84.
        text, international = text[2:], True
    elif international:
        return None  # another country's number
    if international and text.startswith("0"):
        text = text[1:]  # "+84 0912 ..." is a common way of writing it
    if not text.startswith("0"):
        text = "0" + text  # the spreadsheet or the country code ate the trunk 0
    if len(text) == 11 and text[:4] in _OLD_MOBILE_PREFIX:
        text = _OLD_MOBILE_PREFIX[text[:4]] + text[4:]
    if _MOBILE.fullmatch(text) or _LANDLINE.fullmatch(text):
        return text
    return None


_CCCD_LENGTH = 12
# The first three digits are the province of registration, 001 (Hà Nội) to 096 (Cà Mau), so
# a genuine number always starts with 0 and loses one or two zeros when stored as a number.
_MAX_PROVINCE = 96
_SCIENTIFIC = re.compile(r"\d+(\.\d+)?[eE]\+?\d+")


def valid_personal_id(raw: str) -> str | None:
    """The 12-digit citizen ID (CCCD), or None.

    Tolerates what spreadsheets do to it: spaces, a leading apostrophe, a trailing ".0",
    exact scientific notation ("1.23456789012e11"), and leading zeros dropped by a number
    format (11 digits, or 10 for provinces 001-009, never starting with 0: an 11-digit text
    "0…" lost a digit, not a zero, and is refused).
    """
    text = re.sub(r"\s", "", raw).lstrip("'")
    excel = _EXCEL_FLOAT.fullmatch(text)
    if excel:
        text = excel.group(1)
    elif _SCIENTIFIC.fullmatch(text):
        exponent = Decimal(text).normalize().as_tuple().exponent
        # A positive exponent left after normalising means trailing digits were cut off for
        # display ("9.60123E+10"): refuse rather than invent an ID. Negative: not a whole number.
        if exponent != 0:
            return None
        text = str(int(Decimal(text)))
    if not text.isascii() or not text.isdigit():
        return None
    # A number format drops leading zeros, so what it leaves never starts with 0. Text that
    # does and is short lost a digit somewhere else: padding it would make another person.
    if len(text) in (_CCCD_LENGTH - 2, _CCCD_LENGTH - 1) and not text.startswith("0"):
        text = text.zfill(_CCCD_LENGTH)
    if len(text) != _CCCD_LENGTH:
        return None
    if not 1 <= int(text[:3]) <= _MAX_PROVINCE:
        return None
    return text
