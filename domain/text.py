"""Vietnamese text: accent-insensitive matching and Vietnamese name order.

People type with or without diacritics, in any case, and sometimes with raw Telex keystrokes
left in ("booif duwowngx" when the input method was off). Matching folds both sides to plain
ASCII-like lower case; sorting keeps the diacritics, because Vietnamese alphabet order and tone
order decide between names that fold to the same letters.
"""

from __future__ import annotations

import functools
import re
import unicodedata

__all__ = [
    "SortKey",
    "fold",
    "is_syllable",
    "matches",
    "search_tokens",
    "telex_variant",
    "vn_sort_key",
]

# đ has no decomposition in Unicode, so NFD alone leaves it. Eth (ð/Ð) is folded too: old
# fonts and some keyboards produce it where đ/Đ was meant.
_D_LIKE = str.maketrans({"đ": "d", "Đ": "d", "ð": "d", "Ð": "d"})
_NON_WORD = re.compile(r"[\W_]+")


@functools.lru_cache(maxsize=16384)  # spreadsheets and searches repeat the same few texts
def fold(s: str) -> str:
    """Lower case without diacritics, single-spaced: "Bồi dưỡng  LÝ LUẬN" -> "boi duong ly luan"."""
    decomposed = unicodedata.normalize("NFD", s.translate(_D_LIKE).lower())
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(bare.translate(_D_LIKE).split())


# --- Telex remnants -------------------------------------------------------------------------
#
# With the input method switched off, Telex leaves its keystrokes in the word: a doubled vowel
# for a circumflex (aa, ee, oo), w for breve/horn (aw, ow, uw, or w alone for ư), dd for đ, and
# one tone key (s f r x j; z clears the tone) anywhere after the first vowel. Once folded only
# the letters matter, so undoing Telex means deleting those keys. It is applied only when the
# result is a well-formed Vietnamese syllable and the typed token is not one already; that
# keeps Vietnamese words ("xoong"), codes ("cntt") and most English words ("online", "excel",
# "zoom") untouched.

_ONSET_LIST = "b c ch d g gh gi h k kh l m n ng ngh nh p ph qu r s t th tr v x"
_ONSETS = frozenset(["", *_ONSET_LIST.split()])
_FINALS = frozenset(["", *"c ch m n ng nh p t".split()])
# Vowel clusters of Vietnamese syllables once folded (ươ -> uo, ưu -> uu, oo only in "xoong").
_NUCLEI = frozenset(
    """a e i o u y ai ao au ay eo eu ia ie iu oa oe oi oo ua ue ui uo uu uy ya ye
    oai oao oay oeo uay uoi uou uya uye uyu ieu yeu""".split()
)
_VOWELS = frozenset("aeiouy")
_TONE_KEYS = frozenset("sfrxjz")
_SYLLABLE = re.compile(r"([^aeiouy]*)([aeiouy]+)([^aeiouy]*)")


def is_syllable(token: str) -> bool:
    """Whether a folded token is shaped like one Vietnamese syllable (onset, vowels, final)."""
    m = _SYLLABLE.fullmatch(token)
    if m is None:
        return False
    onset, nucleus, final = m.groups()
    if final not in _FINALS:
        return False
    splits = [(onset, nucleus)]
    # The u of "qu" and the i of "gi" belong to the onset when a vowel follows: quốc, giường.
    if onset in ("q", "g") and len(nucleus) > 1 and nucleus[0] == ("u" if onset == "q" else "i"):
        splits.append((onset + nucleus[0], nucleus[1:]))
    return any(o in _ONSETS and n in _NUCLEI for o, n in splits)


def telex_variant(token: str) -> str | None:
    """The folded syllable a raw-Telex token stands for ("booif" -> "boi"), or None."""
    if not token.isascii() or not token.isalpha() or is_syllable(token):
        return None
    word = token[1:] if token.startswith("dd") else token  # dd -> đ, folded to d
    first = next((i for i, ch in enumerate(word) if ch in _VOWELS or ch == "w"), None)
    if first is None:
        return None
    head, tail = word[:first], word[first:]
    if tail[0] == "w":
        # A w before any vowel is ư on its own: "nhw" = "như", "wng" = "ưng".
        tail = "u" + tail[1:]
    tones = [ch for ch in tail if ch in _TONE_KEYS]
    if len(tones) > 1:
        return None
    tail = "".join(ch for ch in tail if ch not in _TONE_KEYS)
    # w after a, o or u marks breve/horn; anywhere else it is not Telex.
    if re.search(r"(?<![aou])w", tail):
        return None
    tail = tail.replace("w", "")
    tail = re.sub(r"([aeo])\1", r"\1", tail)
    result = head + tail
    if result == token or len(result) < 2 or not is_syllable(result):
        return None
    return result


def _raw_tokens(query: str) -> list[str]:
    return _NON_WORD.sub(" ", fold(query)).split()


def search_tokens(query: str, *, telex: bool = True) -> list[str]:
    """Folded words of a free-text query, punctuation dropped, for substring search.

    With `telex`, a word that is a raw Telex spelling is replaced by the syllable it stands
    for ("chinhs" -> "chinh"); the raw spelling could not occur in folded Vietnamese text.
    """
    tokens = _raw_tokens(query)
    if not telex:
        return tokens
    return [telex_variant(t) or t for t in tokens]


def _searchable(s: str) -> str:
    # i/y spellings vary freely in Vietnamese (lý/lí, kỹ/kĩ, sỹ/sĩ), so compare them as one.
    return _NON_WORD.sub(" ", fold(s)).replace("y", "i")


def matches(query: str, text: str, *, telex: bool = True) -> bool:
    """Whether every word of the query occurs in the text, ignoring case and diacritics."""
    haystack = _searchable(text)
    for token in _raw_tokens(query):
        candidates = [token]
        variant = telex_variant(token) if telex else None
        if variant is not None:
            candidates.append(variant)
        if not any(c.replace("y", "i") in haystack for c in candidates):
            return False
    return True


# --- Vietnamese name order ------------------------------------------------------------------

_ALPHABET = "aăâbcdđeêghiklmnoôơpqrstuưvxy" + "fjwz"
_LETTER_RANK = {ch: i for i, ch in enumerate(_ALPHABET)}
# Combining marks that make a different letter (ă â ê ô ơ ư) rather than a tone.
_LETTER_MARKS = frozenset("\u0306\u0302\u031b")
# Tone order of Vietnamese dictionaries: none, huyền, hỏi, ngã, sắc, nặng.
_TONE_RANK = {"\u0300": 1, "\u0309": 2, "\u0303": 3, "\u0301": 4, "\u0323": 5}
_OTHER_BASE = len(_ALPHABET)  # digits and other characters sort after all letters

Word = tuple[int, ...]
SortKey = tuple[tuple[Word, ...], tuple[Word, ...], str, str]


def _word_key(word: str) -> tuple[Word, Word]:
    """Letter ranks and tone ranks of one word, one entry per letter."""
    letters: list[int] = []
    tones: list[int] = []
    for ch in word:
        decomposed = unicodedata.normalize("NFD", ch)
        base, marks = decomposed[0], decomposed[1:]
        letter_marks = "".join(m for m in marks if m in _LETTER_MARKS)
        letter = unicodedata.normalize("NFC", base + letter_marks)
        rank = _LETTER_RANK.get(letter)
        letters.append(rank if rank is not None else _OTHER_BASE + ord(letter))
        tones.append(max((_TONE_RANK.get(m, 0) for m in marks), default=0))
    return tuple(letters), tuple(tones)


def vn_sort_key(full_name: str) -> SortKey:
    """Sort key for a Vietnamese full name: given name first, then surname and middle names.

    Letters are compared over the whole key first (Vietnamese alphabet, f j w z after y),
    tones only when all letters tie, then the exact spelling so the order is total.
    """
    normalized = unicodedata.normalize("NFC", full_name).lower().replace("ð", "đ")
    words = normalized.split()
    ordered = words[-1:] + words[:-1]
    keys = [_word_key(w) for w in ordered]
    # The last two parts only break ties (case, spacing) so that the order is total.
    return (tuple(k[0] for k in keys), tuple(k[1] for k in keys), " ".join(ordered), full_name)
