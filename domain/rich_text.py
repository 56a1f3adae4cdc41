"""Organizer HTML checked against what Telegram's HTML parse mode accepts, when it is written.

A broadcast's text is stored as Telegram HTML and sent later to hundreds of people; a bare "<"
or "&" or an unclosed tag would make every delivery fail with "can't parse entities". So the
text is parsed here, strictly, before a draft exists: the allowed tags and attributes of the
Bot API's "HTML style", the four named entities and numeric ones, every tag closed and properly
nested. A problem says what and where, for the caller to word in the organizer's language.
"""

from __future__ import annotations

import enum
import html
import re
from dataclasses import dataclass


class Issue(enum.StrEnum):
    BARE_LT = "bare_lt"  # a "<" that starts no tag: write &lt;
    BARE_AMP = "bare_amp"  # an "&" that starts no entity: write &amp;
    UNKNOWN_TAG = "unknown_tag"  # a tag Telegram does not support
    BAD_ATTRIBUTE = "bad_attribute"  # e.g. <a> without href, <span> not a spoiler
    UNCLOSED = "unclosed"  # <i> never closed
    MISNESTED = "misnested"  # <b><i></b></i>
    STRAY_CLOSE = "stray_close"  # </b> with no <b> open


@dataclass(frozen=True)
class Problem:
    issue: Issue
    tag: str  # the tag concerned, "" for a bare character
    at: int  # 1-based position of the character in the text
    near: str  # a few characters from there, to find it


class HtmlProblem(ValueError):
    def __init__(self, problem: Problem) -> None:
        super().__init__(f"{problem.issue.value} <{problem.tag}> at {problem.at}: {problem.near}")
        self.problem = problem


# Tags and the attributes each may have (None: any value; a set: these values only).
_ALLOWED: dict[str, dict[str, set[str] | None]] = {
    **{tag: {} for tag in ("b", "strong", "i", "em", "u", "ins", "s", "strike", "del")},
    "tg-spoiler": {},
    "span": {"class": {"tg-spoiler"}},
    "a": {"href": None},
    "code": {"class": None},  # class="language-python" inside <pre>
    "pre": {},
    "blockquote": {"expandable": None},
    "tg-emoji": {"emoji-id": None},  # what a custom emoji in the organizer's message becomes
}
_REQUIRED = {"span": "class", "a": "href", "tg-emoji": "emoji-id"}
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|lt|gt|amp|quot);")
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[^<>]*)?)\s*(/?)>")
_ATTR = re.compile(
    r"""\s*([a-zA-Z][a-zA-Z0-9-]*)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?"""
)


def _problem(issue: Issue, tag: str, text: str, at: int) -> HtmlProblem:
    return HtmlProblem(Problem(issue, tag, at + 1, text[at : at + 20]))


def _attributes(raw: str) -> dict[str, str] | None:
    found: dict[str, str] = {}
    pos = 0
    while pos < len(raw):
        if raw[pos:].strip() == "":
            break
        m = _ATTR.match(raw, pos)
        if m is None or m.end() == pos:
            return None
        found[m[1].lower()] = html.unescape(next((v for v in m.groups()[1:] if v), ""))
        pos = m.end()
    return found


def plain_text(text: str) -> str:
    """The text a recipient reads (tags away, entities decoded); HtmlProblem if Telegram would
    refuse it."""
    out: list[str] = []
    stack: list[tuple[str, int]] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "&":
            entity = _ENTITY.match(text, i)
            if entity is None:
                raise _problem(Issue.BARE_AMP, "", text, i)
            out.append(html.unescape(entity[0]))
            i = entity.end()
        elif char == "<":
            tag = _TAG.match(text, i)
            if tag is None:
                raise _problem(Issue.BARE_LT, "", text, i)
            closing, name, raw, self_closing = tag[1] == "/", tag[2].lower(), tag[3], tag[4]
            if name not in _ALLOWED:
                raise _problem(Issue.UNKNOWN_TAG, name, text, i)
            if closing:
                if raw.strip() or self_closing:
                    raise _problem(Issue.BAD_ATTRIBUTE, name, text, i)
                if not stack:
                    raise _problem(Issue.STRAY_CLOSE, name, text, i)
                if stack[-1][0] != name:
                    open_names = [n for n, _ in stack]
                    issue = Issue.MISNESTED if name in open_names else Issue.STRAY_CLOSE
                    raise _problem(issue, name, text, i)
                stack.pop()
            else:
                attrs = _attributes(raw)
                allowed = _ALLOWED[name]
                if (
                    self_closing
                    or attrs is None
                    or any(a not in allowed for a in attrs)
                    or any(
                        (values := allowed[a]) is not None and v not in values
                        for a, v in attrs.items()
                    )
                    or (name in _REQUIRED and not attrs.get(_REQUIRED[name]))
                ):
                    raise _problem(Issue.BAD_ATTRIBUTE, name, text, i)
                stack.append((name, i))
            i = tag.end()
        else:
            out.append(char)
            i += 1
    if stack:
        name, at = stack[-1]
        raise _problem(Issue.UNCLOSED, name, text, at)
    return "".join(out)


def problem(text: str) -> Problem | None:
    """What Telegram would refuse in `text` as HTML, or None."""
    try:
        plain_text(text)
    except HtmlProblem as refused:
        return refused.problem
    return None


# -- cutting HTML that is already valid (our own messages) to Telegram's limits ----------------

# One token: a tag, an entity, or one character (a tag or entity is never cut in two).
_TOKEN = re.compile(r"<[^<>]*>|&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z]+);|.", re.S)
_TAG_NAME = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)")
ELLIPSIS = "…"


def _units(char: str) -> int:
    """Telegram measures text in UTF-16 code units."""
    return 2 if ord(char) > 0xFFFF else 1


def _size(token: str) -> int:
    if token.startswith("<") and len(token) > 1:
        return 0
    if token.startswith("&") and len(token) > 1:
        return sum(_units(c) for c in html.unescape(token))
    return _units(token)


def _step(stack: list[tuple[str, str]], token: str) -> None:
    """Follow the open tags through one token."""
    tag = _TAG_NAME.match(token) if token.startswith("<") else None
    if tag is None:
        return
    name = tag[2].lower()
    if tag[1]:
        for k in range(len(stack) - 1, -1, -1):
            if stack[k][0] == name:
                del stack[k:]
                break
    elif not token.endswith("/>"):
        stack.append((name, token))


def _closing(stack: list[tuple[str, str]]) -> str:
    return "".join(f"</{name}>" for name, _ in reversed(stack))


def _opening(stack: list[tuple[str, str]]) -> str:
    return "".join(raw for _, raw in stack)


def split_html(text: str, limit: int) -> list[str]:
    """Pieces of Telegram HTML each at most `limit` characters as read, cut at a line break
    (else a space, else anywhere) but never inside a tag or an entity; a tag open at a cut is
    closed there and opened again in the next piece. Empty pieces are left out."""
    tokens = _TOKEN.findall(text)
    pieces: list[str] = []
    stack: list[tuple[str, str]] = []
    i = 0
    while i < len(tokens):
        size, j, walk = 0, i, list(stack)
        at_line: tuple[int, list[tuple[str, str]]] | None = None
        at_space: tuple[int, list[tuple[str, str]]] | None = None
        while j < len(tokens) and size + _size(tokens[j]) <= limit:
            size += _size(tokens[j])
            _step(walk, tokens[j])
            j += 1
            # A break that leaves less than half a piece is not worth it: cut hard instead.
            if tokens[j - 1] == "\n" and size * 2 >= limit:
                at_line = (j, list(walk))
            elif tokens[j - 1] == " " and size * 2 >= limit:
                at_space = (j, list(walk))
        if j < len(tokens) and (cut := at_line or at_space) is not None:
            j, walk = cut
        if j == i:  # a single token longer than the limit cannot happen for limit >= 2
            j, walk = i + 1, list(stack)
            _step(walk, tokens[i])
        piece = _opening(stack) + "".join(tokens[i:j]) + _closing(walk)
        if plain_size(piece) > 0 and plain_text_lenient(piece).strip():
            pieces.append(piece.strip("\n") if not stack and not walk else piece)
        stack, i = walk, j
    return pieces


def cut_html(text: str, limit: int) -> str:
    """The start of `text` that fits in `limit` characters as read, with "…" when cut; tags
    open at the cut are closed."""
    if plain_size(text) <= limit:
        return text
    first = split_html(text, limit - 1)
    if not first:
        return ELLIPSIS
    piece = first[0]
    # Put the ellipsis inside the closing tags the cut added.
    tokens = _TOKEN.findall(piece)
    tail = 0
    while tail < len(tokens) and tokens[-1 - tail].startswith("</"):
        tail += 1
    head = tokens[: len(tokens) - tail]
    return "".join(head).rstrip() + ELLIPSIS + "".join(tokens[len(tokens) - tail :])


def plain_text_lenient(text: str) -> str:
    """What a reader sees of our own HTML (no checking: tags dropped, entities decoded)."""
    return "".join(
        "" if t.startswith("<") and len(t) > 1 else html.unescape(t) if t.startswith("&") else t
        for t in _TOKEN.findall(text)
    )


def plain_size(text: str) -> int:
    """The length Telegram counts for HTML text: UTF-16 code units after parsing."""
    return sum(_size(t) for t in _TOKEN.findall(text))
