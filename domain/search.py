"""Course search: what a typed message asks for, and which courses it means, best first.

People type a few words of a title ("ky nang so"), a whole sentence ("tôi muốn đăng ký khóa
kỹ năng số"), a greeting ("xin chào") or an emoji. A message is read once, channel-neutral:

- chatter (a greeting, a question without a subject, punctuation or emoji only) gets the menu;
- a sentence of request words only ("tôi muốn đăng ký khóa học") lists the open courses;
- otherwise its meaningful words must each match a course: a whole word of the folded text,
  or a word's beginning when the typed word is not a complete Vietnamese syllable ("digi",
  "ky nang s"), since "hoa" must not find "hoàng"; in a word of five letters or more one typo
  is forgiven (rapidfuzz's edit distance). Words found in the title rank above the category,
  and the category above the place; a course found only through its place is dropped when
  others are found through their titles or categories ("văn hóa" is not a course held at the
  "Trường Chính trị Hoàng Văn Thụ").

Ranking is done in Python over the open courses (hundreds at most), identically on SQLite
and PostgreSQL.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass

from rapidfuzz.distance import Levenshtein

from domain.text import fold, is_syllable, telex_variant
from domain.vocab import COURSE_CATEGORY
from storage.models import Course

__all__ = ["Intent", "Query", "rank", "understand"]

_NON_WORD = re.compile(r"[\W_]+")

# Words of a request that say nothing about which course ("tôi muốn đăng ký khóa ..."). They
# are optional: they never stop a course from matching, and count a little when they do match
# (a title may well contain "khóa học"). Folded, with y written i (see _words).
_REQUEST_PHRASES = (
    "dang ki", "tham gia", "khoa hoc", "lop hoc", "di hoc", "hoc tap", "tim kiem",
    "xin phep", "cho hoi", "muon biet", "danh sach",
)  # fmt: skip
_REQUEST_WORDS = frozenset(
    """toi minh em ban muon can tim kiem xem giup cho ve cac nhung mot lop khoa hoc nao co
    khong duoc o tai di voi va la thi nhe a oi vai nhi cua nai do dang ki
    mo con hien nam thang de neu phai""".split()
)
# Greetings, thanks and question words: a message made only of these (and request words)
# is conversation, not a search.
_CHATTER_WORDS = frozenset(
    """xin chao hello hi hei alo cam on thanks thank iou ok oke okai bie tam biet
    sao lam the nao gi dau bao gio khi ai hoi huong dan help menu bot da vang u uh""".split()
)
_SHORTEST_FUZZY = 5  # one typo is forgiven in words of at least this many letters
_TITLE, _CATEGORY, _PLACE = 3, 2, 1


class Intent(enum.Enum):
    CHATTER = "chatter"  # answer with the menu
    LIST = "list"  # list every open course
    SEARCH = "search"


@dataclass(frozen=True)
class Query:
    intent: Intent
    required: tuple[str, ...] = ()  # meaningful words: each must match
    optional: tuple[str, ...] = ()  # request words: they only add to the score


def _words(text: str) -> list[str]:
    # i/y spellings vary freely in Vietnamese (lý/lí, kỹ/kĩ), so compare them as one.
    return [w.replace("y", "i") for w in _NON_WORD.sub(" ", fold(text)).split()]


def understand(text: str) -> Query:
    """What a typed message asks for."""
    words = [telex_variant(w) or w for w in _words(text)]
    if not words:
        return Query(Intent.CHATTER)
    joined = f" {' '.join(words)} "
    for phrase in _REQUEST_PHRASES:
        joined = joined.replace(f" {phrase} ", " " + phrase.replace(" ", "_") + " ")
    required: list[str] = []
    optional: list[str] = []
    chatter = False
    for token in joined.split():
        if "_" in token:
            optional += token.split("_")
        elif token in _CHATTER_WORDS:
            chatter = True
            optional.append(token)
        elif token in _REQUEST_WORDS:
            optional.append(token)
        else:
            required.append(token)
    if not required:
        chatter = chatter or "?" in text
        return Query(Intent.CHATTER if chatter else Intent.LIST, optional=tuple(optional))
    return Query(Intent.SEARCH, tuple(required), tuple(optional))


@dataclass(frozen=True)
class _Fields:
    title: list[str]
    category: list[str]
    place: list[str]


def _fields(course: Course) -> _Fields:
    labels = ""
    if course.category in COURSE_CATEGORY:
        vocab = COURSE_CATEGORY
        labels = f"{vocab.label(course.category, 'vi')} {vocab.label(course.category, 'en')}"
    return _Fields(_words(course.title), _words(labels), _words(course.place or ""))


def _quality(word: str, candidates: Sequence[str]) -> int:
    """2: a whole word (or a word's beginning, for a partial word); 1: one typo; 0: none."""
    if word in candidates:
        return 2
    partial = not is_syllable(word)
    if partial and any(c.startswith(word) for c in candidates):
        return 2
    if len(word) >= _SHORTEST_FUZZY:
        for c in candidates:
            # A partial word is compared with the beginning of each word as well.
            for target in (c, c[: len(word)]) if partial else (c,):
                if Levenshtein.distance(word, target, score_cutoff=1) <= 1:
                    return 1
    return 0


@dataclass(frozen=True)
class _Score:
    tier: int  # the weakest field a required word needed: title 3, category 2, place 1
    exact: bool  # no typo was forgiven
    points: int


def _score(fields: _Fields, query: Query) -> _Score | None:
    tier, exact, points = _TITLE, True, 0
    by_field = ((_TITLE, fields.title), (_CATEGORY, fields.category), (_PLACE, fields.place))
    for word in query.required:
        best = max(((q, weight) for weight, words in by_field if (q := _quality(word, words))),
                   key=lambda qw: (qw[1], qw[0]), default=None)  # fmt: skip
        if best is None:
            return None
        quality, weight = best
        tier, exact = min(tier, weight), exact and quality == 2
        points += weight * 10 + quality
    for word in query.optional:
        points += next((weight for weight, words in by_field if word in words), 0)
    return _Score(tier, exact, points)


def rank(courses: Sequence[Course], query: Query) -> list[Course]:
    """The courses a search means, best first (then soonest); all of them unless searching."""
    if query.intent is not Intent.SEARCH:
        return list(courses)
    scored = [(s, c) for c in courses if (s := _score(_fields(c), query)) is not None]
    if any(s.exact for s, _c in scored):
        scored = [(s, c) for s, c in scored if s.exact]
    if any(s.tier > _PLACE for s, _c in scored):
        scored = [(s, c) for s, c in scored if s.tier > _PLACE]
    scored.sort(key=lambda sc: (-sc[0].tier, -sc[0].points, sc[1].starts_at, sc[1].id))
    return [c for _s, c in scored]
