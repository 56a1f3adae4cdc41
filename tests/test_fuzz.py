"""Property tests: whatever callback data a forged client sends, and whatever shape an update
has, the real application answers without an unhandled error and changes nothing.

Hypothesis draws the inputs; each example goes through `process_update` of the production
application against the in-memory Telegram, which refuses any call the real one would refuse.
The world (an organizer and a unit head with a course, a claim and a broadcast draft, and a
stranger) is made once per test: every example must leave it as it was.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from telegram import Message

from domain import broadcasts, claims, rich_text, roles
from handlers import actions as cb
from storage.models import AuditEntry, Broadcast, Claim, Role
from tests.factories import make_course, make_person, make_unit
from tests.harness import AN, BINH, Chat, Telegram, linked, snapshot

pytestmark = [
    pytest.mark.databases("sqlite"),
    pytest.mark.filterwarnings("ignore:Ignoring `conversation_timeout`"),
]
PHONE = "0933333333"
FUZZ = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,  # the same examples on every run: CI stays reproducible
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
PREFIXES = sorted(
    {v for k, v in vars(cb).items() if k.isupper() and isinstance(v, str) and len(v) <= 8}
)
_word = st.one_of(
    st.integers(-5, 10**10).map(str),
    st.sampled_from(["0", "1", "999999999", "all", "unit", "vi", "en", "title", "cat", "x"]),
    st.text(alphabet="abcz09:_-đ ", max_size=12),
)


def _fits(data: str) -> bool:
    return 1 <= len(data.encode()) <= 64


CALLBACK_DATA = st.one_of(
    st.builds(
        lambda p, parts: ":".join([p, *parts]),
        st.sampled_from(PREFIXES),
        st.lists(_word, max_size=5),
    ),
    st.text(min_size=1, max_size=64),
).filter(_fits)


async def _world(tg: Telegram) -> tuple[Chat, Chat]:
    """An organizer and unit head of one unit; the course, the claim and the broadcast draft
    belong to another unit's organizer, so no press of theirs is a valid path to a change
    (random presses on their own things would be, and would change things legitimately)."""
    async with tg.db.begin() as s:
        unit, other = await make_unit(s), await make_unit(s)
        boss = await make_person(s, unit=unit, phone=PHONE, full_name="Cán bộ phụ trách")
        rival = await make_person(s, unit=other, full_name="Cán bộ đơn vị khác")
        for role in (Role.ORGANIZER, Role.UNIT_HEAD):
            await roles.grant(s, person_id=boss.id, role=role, unit_id=unit.id, by="t")
            await roles.grant(s, person_id=rival.id, role=role, unit_id=other.id, by="t")
        await make_course(s, organizer=other, grants_kind="digital_skills")
        person = await make_person(s, unit=other)
        await claims.submit(
            s, person_id=person.id, kind=claims.CORRECTION, details={}, note="Sai tên",
            evidence_kind="photo", evidence_file_id="F1", now=datetime.now(UTC),
        )  # fmt: skip
        await broadcasts.create_draft(s, actor_person_id=rival.id, text="Họp", plain_length=3)
    organizer = await linked(tg, AN, PHONE)
    stranger = tg.chat(BINH)
    await stranger.send("/start")
    return organizer, stranger


async def _decisions(tg: Telegram) -> tuple[object, ...]:
    """What a press could change beyond the chat snapshot: claims, broadcasts, successful
    organizer actions (refusals are audited, so only the entries that did something count)."""
    async with tg.db() as s:
        claim_states = (await s.execute(select(Claim.id, Claim.state))).all()
        drafts = (await s.execute(select(Broadcast.id, Broadcast.status))).all()
        done = (
            await s.execute(select(AuditEntry.action).where(AuditEntry.result != "refused"))
        ).all()
    return (await snapshot(tg.db), claim_states, drafts, done)


@given(data=st.lists(CALLBACK_DATA, min_size=1, max_size=3))
@FUZZ
async def test_random_callback_data_is_answered_and_changes_nothing(
    tg: Telegram, data: list[str]
) -> None:
    if not hasattr(tg, "people"):
        tg.people = await _world(tg)  # type: ignore[attr-defined]
    before = await _decisions(tg)
    for chat in tg.people:  # type: ignore[attr-defined]
        for one in data:
            await chat.receive_button(one)
            await chat.press(one)  # answered exactly once, nothing refused, nothing logged
    assert await _decisions(tg) == before


_TEXT = st.one_of(
    st.text(max_size=60),
    st.sampled_from(["/start", "/cancel", "/claims", "/broadcast", "/nominate", "/noshows",
                     "/attendance", "/mycourses", "/start abc", "/checkin 12345"]),
)  # fmt: skip
_MESSAGE_EXTRAS = st.fixed_dictionaries(
    {},
    optional={
        "text": _TEXT,
        "caption": st.text(max_size=30),
        "sticker": st.just(
            {
                "file_id": "S",
                "file_unique_id": "s",
                "type": "regular",
                "width": 1,
                "height": 1,
                "is_animated": False,
                "is_video": False,
            }
        ),
        "location": st.just({"latitude": 21.0, "longitude": 105.8}),
        "contact": st.builds(
            lambda phone, uid: {
                "phone_number": phone,
                "first_name": "X",
                **({"user_id": uid} if uid else {}),
            },
            st.text(alphabet="+0123456789 ", max_size=15),
            st.sampled_from([None, AN["id"], 1]),
        ),
        "document": st.just({"file_id": "D", "file_unique_id": "d", "file_name": "x.exe"}),
    },
)


@given(kind=st.sampled_from(["message", "edited_message", "channel_post", "my_chat_member"]),
       extras=_MESSAGE_EXTRAS, who=st.sampled_from([AN, BINH]))  # fmt: skip
@FUZZ
async def test_random_update_shapes_change_nothing(
    tg: Telegram, kind: str, extras: dict[str, Any], who: dict[str, Any]
) -> None:
    if not hasattr(tg, "people"):
        tg.people = await _world(tg)  # type: ignore[attr-defined]
    before = await _decisions(tg)
    base = tg.api.message_update(who, "x")
    message = copy.deepcopy(base["message"])
    message.pop("text", None)
    message.pop("entities", None)
    message.update(extras)
    if "text" in message and str(message["text"]).startswith("/"):
        word = str(message["text"]).split(" ")[0]
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(word)}]
    if kind == "my_chat_member":
        member = {"user": who, "status": "kicked", "until_date": 0}
        update = {
            "update_id": base["update_id"],
            kind: {
                "chat": message["chat"],
                "from": who,
                "date": message["date"],
                "old_chat_member": {"user": who, "status": "member"},
                "new_chat_member": member,
            },
        }
    else:
        update = {"update_id": base["update_id"], kind: message}
    await tg.process(update)
    after = await _decisions(tg)
    # Sharing one's own contact or typing /start may create or link an account: the only
    # changes a stray update may make are to chat accounts, never to decisions.
    assert after[1:] == before[1:]
    assert after[0][0] == before[0][0] and after[0][2:] == before[0][2:]


_ENTITY_KINDS = st.sampled_from(
    ["bold", "italic", "underline", "strikethrough", "spoiler", "code", "pre", "text_link",
     "blockquote", "expandable_blockquote", "custom_emoji", "url", "mention", "text_mention"]
)  # fmt: skip


_ENTITY_FIELDS: dict[str, dict[str, Any]] = {
    "pre": {"language": "python"},
    "text_link": {"url": "https://sonoivu.vn/?a=1&b=2"},
    "custom_emoji": {"custom_emoji_id": "5368324170671202286"},
    "text_mention": {"user": {"id": 1, "is_bot": False, "first_name": "A"}},
}


@st.composite
def _formatted(draw: st.DrawFn) -> tuple[str, list[dict[str, Any]]]:
    """A message as an organizer might format it: text with disjoint entities of any kind."""
    text = draw(st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\x00"),
                        min_size=1, max_size=80))  # fmt: skip
    cuts = sorted(set(draw(st.lists(st.integers(0, len(text)), max_size=8))))
    entities = []
    for start, end in zip(cuts[::2], cuts[1::2], strict=False):
        if end > start:
            kind = draw(_ENTITY_KINDS)
            entity: dict[str, Any] = {"type": kind, "offset": start, "length": end - start}
            entities.append(entity | _ENTITY_FIELDS.get(kind, {}))
    return text, entities


@given(message=_formatted())
@settings(max_examples=100, deadline=None, derandomize=True)
def test_whatever_an_organizer_formats_in_chat_passes_the_broadcast_html_check(
    message: tuple[str, list[dict[str, Any]]],
) -> None:
    """The chat flow keeps the organizer's message as PTB's text_html: the strict check must
    accept all of it, or organizers would be refused for using Telegram's own formatting."""
    text, entities = message
    # Telegram counts offsets in UTF-16 code units; keep to the BMP so they equal indices.
    assume(all(ord(c) <= 0xFFFF for c in text))
    msg = Message.de_json(
        {"message_id": 1, "date": 0, "chat": {"id": 1, "type": "private"}, "text": text,
         "entities": entities},
        None,
    )  # fmt: skip
    assert msg is not None
    assert rich_text.problem(msg.text_html) is None, msg.text_html
