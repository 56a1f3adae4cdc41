"""Linking a chat to a roster person: shared contact, one-time codes, relinking, unlinking.

Every step runs in its own transaction, like one update of the bot, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain.linking import (
    CODE_ALPHABET,
    TOUCH_EVERY,
    LinkResult,
    LinkStatus,
    account_for,
    create_code,
    link_by_code,
    link_by_contact,
    unlink,
)
from storage.models import ChatAccount, LinkCode, Person
from tests.factories import make_account, make_person

Db = async_sessionmaker[AsyncSession]

NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
TTL = timedelta(hours=72)
MAX_FAILURES = 3
LOCKOUT = timedelta(minutes=60)
PHONE = "0912345678"


# --- helpers -------------------------------------------------------------------------------


async def _person(db: Db, **kw: Any) -> tuple[int, str]:
    """A roster person: (id, personal ID)."""
    async with db.begin() as s:
        person = await make_person(s, **kw)
        return person.id, person.personal_id


async def _account(db: Db, **kw: Any) -> tuple[int, str]:
    """A chat account: (id, Telegram user id)."""
    async with db.begin() as s:
        account = await make_account(s, **kw)
        return account.id, account.chat_user_id


async def _linked_account(db: Db, person_id: int, **kw: Any) -> int:
    async with db.begin() as s:
        person = await s.get(Person, person_id)
        return (await make_account(s, person=person, **kw)).id


async def _contact(
    db: Db, account_id: int, contact_user_id: int | str | None, phone: str = PHONE
) -> LinkResult:
    async with db.begin() as s:
        return await link_by_contact(
            s, account_id=account_id, contact_user_id=contact_user_id, phone=phone, now=NOW
        )


async def _code(db: Db, personal_id: str, now: datetime = NOW) -> str:
    async with db.begin() as s:
        made = await create_code(s, personal_id=personal_id, now=now, ttl=TTL)
    assert made is not None
    return made[0]


async def _use(db: Db, account_id: int, code: str, now: datetime = NOW) -> LinkResult:
    async with db.begin() as s:
        return await link_by_code(
            s,
            account_id=account_id,
            code=code,
            now=now,
            max_failures=MAX_FAILURES,
            lockout=LOCKOUT,
        )


async def _linked_to(db: Db, account_id: int) -> int | None:
    async with db() as s:
        account = await s.get(ChatAccount, account_id)
        assert account is not None
        return account.person_id


async def _accounts_of(db: Db, person_id: int) -> list[int]:
    async with db() as s:
        rows = await s.execute(
            select(ChatAccount.id).where(ChatAccount.person_id == person_id).order_by("id")
        )
        return list(rows.scalars())


# --- sharing a contact ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "shared", ["0912345678", "+84912345678", "84912345678", "+84 91 234 56 78", "0912.345.678"]
)
async def test_sharing_your_own_number_links_the_roster_person_with_it(db: Db, shared: str) -> None:
    person, _pid = await _person(db, phone=PHONE, full_name="Hoàng Thị Mai")
    await _person(db, phone="0987654321")  # someone else on the roster
    account, user_id = await _account(db)

    result = await _contact(db, account, int(user_id), shared)

    assert (result.status, result.person_id, result.person_name) == (
        LinkStatus.LINKED,
        person,
        "Hoàng Thị Mai",
    )
    assert await _linked_to(db, account) == person


@pytest.mark.parametrize("contact_user_id", [123, None], ids=["another_user", "no_user"])
async def test_someone_elses_contact_card_is_refused(db: Db, contact_user_id: int | None) -> None:
    await _person(db, phone=PHONE)
    account, _user = await _account(db)

    result = await _contact(db, account, contact_user_id)

    assert result.status == LinkStatus.FOREIGN_CONTACT
    assert await _linked_to(db, account) is None


@pytest.mark.parametrize("shared", ["0987000111", "not a phone", "+1 202 555 0100"])
async def test_a_number_not_on_the_roster_is_refused(db: Db, shared: str) -> None:
    await _person(db, phone=PHONE)
    account, user_id = await _account(db)

    result = await _contact(db, account, user_id, shared)

    assert result.status == LinkStatus.NO_MATCH
    assert await _linked_to(db, account) is None


async def test_a_number_of_someone_who_left_the_roster_is_refused(db: Db) -> None:
    await _person(db, phone=PHONE, active=False)
    account, user_id = await _account(db)

    assert (await _contact(db, account, user_id)).status == LinkStatus.NO_MATCH


async def test_a_number_shared_by_two_roster_people_links_neither(db: Db) -> None:
    await _person(db, phone=PHONE)
    await _person(db, phone=PHONE)
    account, user_id = await _account(db)

    result = await _contact(db, account, user_id)

    assert (result.status, result.person_id) == (LinkStatus.AMBIGUOUS, None)
    assert await _linked_to(db, account) is None


async def test_sharing_the_number_again_says_already_linked(db: Db) -> None:
    person, _pid = await _person(db, phone=PHONE)
    account, user_id = await _account(db)
    await _contact(db, account, user_id)

    again = await _contact(db, account, user_id)

    assert (again.status, again.person_id) == (LinkStatus.ALREADY_LINKED, person)
    assert await _accounts_of(db, person) == [account]


async def test_a_person_linked_in_another_chat_needs_a_code(db: Db) -> None:
    person, _pid = await _person(db, phone=PHONE)
    first = await _linked_account(db, person)
    second, user_id = await _account(db)

    result = await _contact(db, second, user_id)

    assert (result.status, result.person_id) == (LinkStatus.LINKED_ELSEWHERE, person)
    assert await _accounts_of(db, person) == [first]


async def test_a_person_can_have_one_linked_account_on_each_channel(db: Db) -> None:
    person, _pid = await _person(db, phone=PHONE)
    telegram = await _linked_account(db, person, channel="telegram")
    zalo, user_id = await _account(db, channel="zalo")

    result = await _contact(db, zalo, user_id)

    assert result.status == LinkStatus.LINKED
    assert await _accounts_of(db, person) == [telegram, zalo]


# --- one-time codes ------------------------------------------------------------------------


async def test_a_code_is_long_unambiguous_different_each_time_and_stored_only_as_a_hash(
    db: Db,
) -> None:
    _person_id, personal_id = await _person(db)

    codes = [await _code(db, personal_id) for _ in range(5)]

    assert len(set(codes)) == 5
    for code in codes:
        assert len(code) >= 10
        assert set(code) <= set(CODE_ALPHABET)
    assert not set("0O1IL") & set(CODE_ALPHABET)
    async with db() as s:
        stored = (await s.execute(select(LinkCode))).scalars().all()
    assert len(stored) == 5
    assert all(row.expires_at == NOW + TTL for row in stored)
    assert not {row.code_hash for row in stored} & set(codes)


async def test_no_code_for_a_personal_id_not_on_the_roster(db: Db) -> None:
    await _person(db, personal_id="020123456789")

    async with db.begin() as s:
        made = await create_code(s, personal_id="020999999999", now=NOW, ttl=TTL)

    assert made is None


@pytest.mark.parametrize("typed", ["{code}", "{lower}", "  {spaced}  ", "{dashed}"])
async def test_a_code_links_the_person_it_was_made_for_however_it_is_typed(
    db: Db, typed: str
) -> None:
    person, personal_id = await _person(db, full_name="Lưu Văn Bình")
    account, _user = await _account(db)
    code = await _code(db, personal_id)
    entered = typed.format(
        code=code,
        lower=code.lower(),
        spaced=f"{code[:5]} {code[5:]}",
        dashed=f"{code[:5]}-{code[5:]}",
    )

    result = await _use(db, account, entered)

    assert (result.status, result.person_id, result.person_name) == (
        LinkStatus.LINKED,
        person,
        "Lưu Văn Bình",
    )
    assert await _linked_to(db, account) == person


async def test_a_code_expires_after_its_validity(db: Db) -> None:
    person, personal_id = await _person(db)
    early, _u1 = await _account(db)
    late, _u2 = await _account(db)
    in_time = await _code(db, personal_id)
    too_late = await _code(db, personal_id)

    assert (await _use(db, early, in_time, now=NOW + TTL - timedelta(seconds=1))).status == (
        LinkStatus.LINKED
    )
    refused = await _use(db, late, too_late, now=NOW + TTL)

    assert refused.status == LinkStatus.BAD_CODE
    assert await _linked_to(db, late) is None
    assert await _accounts_of(db, person) == [early]


async def test_a_code_works_only_once(db: Db) -> None:
    person, personal_id = await _person(db)
    first, _u1 = await _account(db)
    second, _u2 = await _account(db)
    code = await _code(db, personal_id)
    await _use(db, first, code)

    again = await _use(db, second, code)

    assert again.status == LinkStatus.BAD_CODE
    assert await _accounts_of(db, person) == [first]


async def test_two_chats_racing_with_one_code_link_only_one(db: Db) -> None:
    person, personal_id = await _person(db)
    a, _u1 = await _account(db)
    b, _u2 = await _account(db)
    code = await _code(db, personal_id)

    results = await asyncio.gather(_use(db, a, code), _use(db, b, code))

    assert sorted(r.status for r in results) == sorted([LinkStatus.LINKED, LinkStatus.BAD_CODE])
    assert len(await _accounts_of(db, person)) == 1


async def test_wrong_codes_lock_the_chat_for_a_while(db: Db) -> None:
    person, personal_id = await _person(db)
    account, _user = await _account(db)
    other_chat, _u2 = await _account(db)
    code = await _code(db, personal_id)

    first = await _use(db, account, "WRONGCODE2")
    second = await _use(db, account, "WRONGCODE3")
    third = await _use(db, account, "WRONGCODE4")
    during = await _use(db, account, code, now=NOW + LOCKOUT - timedelta(seconds=1))

    assert [(r.status, r.attempts_left) for r in (first, second)] == [
        (LinkStatus.BAD_CODE, 2),
        (LinkStatus.BAD_CODE, 1),
    ]
    assert (third.status, third.locked_until) == (LinkStatus.LOCKED, NOW + LOCKOUT)
    # Even the right code waits out the pause, and is not used up by the attempt.
    assert (during.status, during.locked_until) == (LinkStatus.LOCKED, NOW + LOCKOUT)
    assert await _linked_to(db, account) is None
    # The limit is per chat: another chat is not locked out by this one's guesses.
    assert (await _use(db, other_chat, "WRONGCODE5")).attempts_left == MAX_FAILURES - 1
    # After the pause the right code works, and a fresh set of attempts starts.
    after = await _use(db, account, code, now=NOW + LOCKOUT)
    assert (after.status, after.person_id) == (LinkStatus.LINKED, person)
    assert (await _use(db, account, "WRONGCODE6", now=NOW + LOCKOUT)).attempts_left == 2


async def test_a_successful_code_forgives_earlier_wrong_ones(db: Db) -> None:
    _person_id, personal_id = await _person(db)
    account, _user = await _account(db)
    code = await _code(db, personal_id)
    await _use(db, account, "WRONGCODE2")
    await _use(db, account, "WRONGCODE3")

    assert (await _use(db, account, code)).status == LinkStatus.LINKED
    assert (await _use(db, account, "WRONGCODE4")).attempts_left == MAX_FAILURES - 1


# --- moving the link -----------------------------------------------------------------------


async def test_a_code_moves_the_link_from_the_old_chat_and_names_it_to_be_told(db: Db) -> None:
    person, personal_id = await _person(db)
    old = await _linked_account(db, person, chat_id="-1001", language="en")
    new, _user = await _account(db)
    code = await _code(db, personal_id)

    result = await _use(db, new, code)

    assert (result.status, result.person_id) == (LinkStatus.LINKED, person)
    assert (result.previous_chat_id, result.previous_language) == ("-1001", "en")
    assert await _linked_to(db, old) is None
    assert await _accounts_of(db, person) == [new]


async def test_a_code_for_your_own_chat_reports_no_previous_chat(db: Db) -> None:
    person, personal_id = await _person(db)
    account = await _linked_account(db, person)
    code = await _code(db, personal_id)

    result = await _use(db, account, code)

    assert (result.status, result.previous_chat_id) == (LinkStatus.LINKED, None)
    assert await _accounts_of(db, person) == [account]


async def test_a_code_for_another_person_switches_the_chat_to_them(db: Db) -> None:
    first, _pid1 = await _person(db)
    second, personal_id = await _person(db)
    account = await _linked_account(db, first)
    code = await _code(db, personal_id)

    result = await _use(db, account, code)

    assert (result.status, result.person_id, result.previous_chat_id) == (
        LinkStatus.LINKED,
        second,
        None,
    )
    assert await _accounts_of(db, first) == []
    assert await _accounts_of(db, second) == [account]


# --- unlinking and returning ---------------------------------------------------------------


async def test_unlinking_frees_the_person_for_another_chat(db: Db) -> None:
    person, _pid = await _person(db, phone=PHONE)
    old = await _linked_account(db, person)
    new, user_id = await _account(db)

    async with db.begin() as s:
        done = await unlink(s, account_id=old)
    async with db.begin() as s:
        again = await unlink(s, account_id=old)

    assert (done, again) == (True, False)
    assert await _linked_to(db, old) is None
    assert (await _contact(db, new, user_id)).status == LinkStatus.LINKED
    assert await _accounts_of(db, person) == [new]


async def test_a_returning_chat_keeps_its_account_and_link(db: Db) -> None:
    """The first message creates the account; later ones find it, even from a new chat id."""
    person, _pid = await _person(db, phone=PHONE)
    async with db.begin() as s:
        first = await account_for(
            s, channel="telegram", chat_user_id="42", chat_id="42", language="vi"
        )
        first_id = first.id
    await _contact(db, first_id, 42)

    async with db.begin() as s:
        first = await account_for(s, channel="telegram", chat_user_id="42", chat_id="43")
        again = (first.id, first.person_id, first.chat_id, first.language)

    assert again == (first_id, person, "43", "vi")


async def test_using_a_linked_chat_marks_it_used_and_keeps_when_it_was_linked(db: Db) -> None:
    """Use is recorded in last_used_at (at most every TOUCH_EVERY); linked_at never moves."""
    await _person(db, phone=PHONE)
    account, user_id = await _account(db)
    await _contact(db, account, int(user_id))  # linked at NOW
    seen = []
    for later in (TOUCH_EVERY / 2, TOUCH_EVERY, TOUCH_EVERY * 3 / 2):
        async with db.begin() as s:
            used = await account_for(
                s, channel="telegram", chat_user_id=user_id, chat_id=user_id, now=NOW + later
            )
            seen.append((used.linked_at, used.last_used_at))

    assert seen == [(NOW, NOW), (NOW, NOW + TOUCH_EVERY), (NOW, NOW + TOUCH_EVERY)]
