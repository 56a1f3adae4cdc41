"""What an organizer types while creating or editing a course, parsed into plain values.

Each parser takes one answer of the chat conversation and returns the value to store, or
raises Invalid with a code (and the offending piece) for the channel to word in the user's
language. Times are typed in Vietnam's zone as dd/mm/yyyy HH:MM and kept in UTC.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from domain import unit_search
from domain.import_rows import POSITION_GROUP, local_to_utc, parse_when
from domain.text import fold
from domain.vocab import COURSE_CATEGORY, QUALIFICATION_KIND, VocabError, level_vocab
from storage.repos.roster import PositionRepo, UnitRepo

Span = tuple[datetime, datetime]

TITLE_MAX, PLACE_MAX, LINK_MAX = 300, 300, 500
HOURS_MIN, HOURS_MAX = 0, 5000  # training hours a course counts for (0: none)
# What completing a course may grant; refresher hours are counted by the hours themselves.
GRANTABLE = frozenset(k.code for k in QUALIFICATION_KIND if k.code != "refresher_hours")
NOTHING = frozenset({"-", "0", "khong", "no", "none", "khong co"})  # folded "nothing" answers
EVERYONE = frozenset({"all", "tat ca", "moi nguoi", "everyone", "-"})

_LINK = re.compile(r"https?://\S+", re.IGNORECASE)
_TIME = r"(\d{1,2})[:hH](\d{2})?"
_SESSION = re.compile(r"(\d{1,2}[/.\-]\d{1,2}[/.\-]\d{4})\s+" + _TIME + r"\s*[-–—]\s*" + _TIME)
_SPLIT = re.compile(r"[,;\n]")


class Problem(enum.StrEnum):
    EMPTY = "empty"
    TOO_LONG = "too_long"
    BAD_MOMENT = "bad_moment"  # not dd/mm/yyyy HH:MM
    PAST = "past"
    END_BEFORE_START = "end_before_start"
    BAD_SESSION = "bad_session"
    SESSION_OUTSIDE = "session_outside"
    BAD_NUMBER = "bad_number"
    DEADLINE_AFTER_END = "deadline_after_end"
    UNKNOWN_CATEGORY = "unknown_category"
    UNKNOWN_AUDIENCE = "unknown_audience"
    UNKNOWN_GRANT = "unknown_grant"  # a qualification (or level) a course cannot grant
    BELOW_REGISTERED = "below_registered"  # capacity smaller than the seats already taken


class Invalid(ValueError):
    """A typed value the course cannot take; `value` is the piece that was wrong."""

    def __init__(self, code: Problem, value: str = "", **details: Any) -> None:
        super().__init__(f"{code}: {value}")
        self.code = code
        self.value = value
        self.details = details


@dataclass(frozen=True)
class Where:
    place: str | None
    link: str | None

    @property
    def mode(self) -> str:
        if self.place and self.link:
            return "blended"
        return "online" if self.link else "in_person"


@dataclass
class Draft:
    """A course being typed in chat; fields fill in one answer at a time."""

    title: str = ""
    category: str = ""
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    sessions: list[Span] = field(default_factory=list)
    where: Where = Where(None, None)
    capacity: int = 0
    registration_deadline: datetime | None = None
    audience: dict[str, list[str]] = field(default_factory=dict)
    hours: int = 0
    grants_kind: str | None = None
    grants_level: str | None = None
    requires_approval: bool = False


def parse_title(text: str) -> str:
    title = " ".join(text.split())
    if not title:
        raise Invalid(Problem.EMPTY)
    if len(title) > TITLE_MAX:
        raise Invalid(Problem.TOO_LONG, str(TITLE_MAX))
    return title


def parse_category(text: str) -> str:
    try:
        code = COURSE_CATEGORY.parse(text)
    except VocabError:
        code = None
    if code is None:
        raise Invalid(Problem.UNKNOWN_CATEGORY, text.strip())
    return code


def parse_moment(
    text: str, *, now: datetime, tz: ZoneInfo, end_of_day: bool = False
) -> datetime:
    """A future time in `tz` typed dd/mm/yyyy HH:MM; with `end_of_day` a bare date is 23:59."""
    parsed = parse_when(" ".join(text.split()))
    if parsed is None or (parsed[1] is None and not end_of_day):
        raise Invalid(Problem.BAD_MOMENT, text.strip())
    moment = local_to_utc(parsed[0], parsed[1] or time(23, 59), tz)
    if moment <= now:
        raise Invalid(Problem.PAST, text.strip())
    return moment


def parse_end(text: str, *, starts: datetime, now: datetime, tz: ZoneInfo) -> datetime:
    ends = parse_moment(text, now=now, tz=tz)
    if ends <= starts:
        raise Invalid(Problem.END_BEFORE_START, text.strip())
    return ends


def parse_sessions(
    text: str, *, starts: datetime, ends: datetime, tz: ZoneInfo
) -> list[Span]:
    """Sessions as dd/mm/yyyy HH:MM-HH:MM separated by ';' or new lines; '-' for none."""
    if fold(text.strip()) in NOTHING:
        return []
    spans: list[Span] = []
    for piece in re.split(r"[;\n]", text):
        piece = " ".join(piece.split())
        if not piece:
            continue
        m = _SESSION.fullmatch(piece)
        day = parse_when(m[1]) if m else None
        if m is None or day is None:
            raise Invalid(Problem.BAD_SESSION, piece)
        try:
            begin = local_to_utc(day[0], time(int(m[2]), int(m[3] or 0)), tz)
            end = local_to_utc(day[0], time(int(m[4]), int(m[5] or 0)), tz)
        except ValueError as exc:
            raise Invalid(Problem.BAD_SESSION, piece) from exc
        if end <= begin:
            raise Invalid(Problem.END_BEFORE_START, piece)
        if begin < starts or end > ends:
            raise Invalid(Problem.SESSION_OUTSIDE, piece)
        spans.append((begin, end))
    return sorted(spans)


def parse_where(text: str) -> Where:
    """A place, an https:// link for online study, or both in one answer."""
    links = _LINK.findall(text)
    place = " ".join(_LINK.sub(" ", text).split()).strip(" ,;–-") or None
    link = links[0] if links else None
    if place is None and link is None:
        raise Invalid(Problem.EMPTY)
    if (place and len(place) > PLACE_MAX) or (link and len(link) > LINK_MAX):
        raise Invalid(Problem.TOO_LONG, str(PLACE_MAX))
    return Where(place, link)


def parse_count(text: str, *, minimum: int, maximum: int = 100_000) -> int:
    cleaned = text.strip().replace(".", "").replace(" ", "")
    if not cleaned.isdigit() or not minimum <= int(cleaned) <= maximum:
        raise Invalid(Problem.BAD_NUMBER, text.strip(), minimum=minimum)
    return int(cleaned)


def parse_hours(text: str) -> int:
    """The training hours a course counts for: a whole number, 0 for none."""
    return parse_count(text, minimum=HOURS_MIN, maximum=HOURS_MAX)


def check_hours(hours: int) -> int:
    """Hours given as a number (a chosen value, not typed) within the same bounds."""
    if not HOURS_MIN <= hours <= HOURS_MAX:
        raise Invalid(Problem.BAD_NUMBER, str(hours), minimum=HOURS_MIN)
    return hours


def parse_grants(kind: str | None, level: str | None) -> tuple[str | None, str | None]:
    """What completing grants: None (the hours only), or a grantable qualification kind with
    one of its levels where the kind has ranked levels (and no level where it has none)."""
    if kind is None:
        if level is not None:
            raise Invalid(Problem.UNKNOWN_GRANT, level)
        return None, None
    if kind not in GRANTABLE:
        raise Invalid(Problem.UNKNOWN_GRANT, kind)
    levels = level_vocab(kind)
    if (levels is None) != (level is None) or (levels is not None and level not in levels):
        raise Invalid(Problem.UNKNOWN_GRANT, level or kind)
    return kind, level


def parse_deadline(
    text: str, *, starts: datetime, ends: datetime, now: datetime, tz: ZoneInfo
) -> datetime:
    """The registration deadline; '-' means until the course starts."""
    if fold(text.strip()) in NOTHING:
        return starts
    deadline = parse_moment(text, now=now, tz=tz, end_of_day=True)
    if deadline > ends:
        raise Invalid(Problem.DEADLINE_AFTER_END, text.strip())
    return deadline


async def parse_audience(session: AsyncSession, text: str) -> dict[str, list[str]]:
    """'all', or unit codes/names, position codes/names and position groups, comma-separated.

    Units include their subtrees; an empty result means everyone.
    """
    tokens = [" ".join(t.split()) for t in _SPLIT.split(text) if t.strip()]
    if not tokens or (len(tokens) == 1 and fold(tokens[0]) in EVERYONE):
        return {}
    units = await UnitRepo(session).index()
    positions_repo = PositionRepo(session)
    positions = await positions_repo.lookup(fold)
    codes = {p.id: p.code for p in await positions_repo.all()}
    groups = await positions_repo.groups()
    found: dict[str, list[str]] = {"units": [], "groups": [], "positions": []}
    for token in tokens:
        unit_id, _ambiguous = units.resolve(token)
        if unit_id is not None:
            found["units"].append(units.code_of[unit_id])
            continue
        position_id = positions.get(fold(token))
        if position_id is not None:
            found["positions"].append(codes[position_id])
            continue
        try:
            group = POSITION_GROUP.parse(token)
        except VocabError:
            group = token if token in groups else None
        if group is not None:
            found["groups"].append(group)
            continue
        # Part of a unit's name, typed with or without accents ("de tham").
        matches = await unit_search.find(session, token)
        if len(matches) != 1:
            raise Invalid(Problem.UNKNOWN_AUDIENCE, token, matches=matches)
        found["units"].append(matches[0].code)
    return {k: list(dict.fromkeys(v)) for k, v in found.items() if v}


AUDIENCE_KEYS = ("units", "groups", "positions")


async def check_audience(
    session: AsyncSession, audience: Mapping[str, Any]
) -> dict[str, list[str]]:
    """An audience given as codes, as parse_audience returns it, checked against the roster
    once more (it may come from any channel): only its three keys, unit codes that exist (a
    merged unit's code becomes its successor's, as parse_audience gives it), position codes
    that exist and known groups. Anything else raises Invalid(UNKNOWN_AUDIENCE)."""
    units = await UnitRepo(session).index()
    positions_repo = PositionRepo(session)
    position_codes = {p.code for p in await positions_repo.all()}
    groups = await positions_repo.groups()
    found: dict[str, list[str]] = {}
    for key, values in audience.items():
        if key not in AUDIENCE_KEYS or not isinstance(values, list | tuple):
            raise Invalid(Problem.UNKNOWN_AUDIENCE, str(key))
        for value in values:
            code = value if isinstance(value, str) else None
            if key == "units":
                unit_id = units.by_code.get(code.casefold()) if code else None
                code = units.code_of[unit_id] if unit_id is not None else None
            elif key == "positions":
                code = code if code in position_codes else None
            elif code not in POSITION_GROUP and code not in groups:
                code = None
            if code is None:
                raise Invalid(Problem.UNKNOWN_AUDIENCE, str(value))
            found.setdefault(key, []).append(code)
    return {k: list(dict.fromkeys(v)) for k, v in found.items()}
