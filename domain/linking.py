"""Linking a chat account to a roster person: by shared phone contact or one-time code.

Results are returned, not raised, because a failed code attempt must still be recorded
(the attempt counter is what stops guessing) in the same transaction.
"""

from __future__ import annotations

import enum
import hashlib
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from domain.phones import normalize_phone
from storage.models import ChatAccount, LinkCode, Person
from storage.repos.accounts import AccountRepo
from storage.repos.people import PeopleRepo

# No 0/O, 1/I/L: codes are read aloud and typed on phones. 31^10 ≈ 8·10^14 possibilities.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 10


class LinkStatus(enum.StrEnum):
    LINKED = "linked"
    ALREADY_LINKED = "already_linked"  # this chat is already this person's
    FOREIGN_CONTACT = "foreign_contact"  # someone else's contact card
    NO_MATCH = "no_match"
    AMBIGUOUS = "ambiguous"  # the phone belongs to several roster rows
    LINKED_ELSEWHERE = "linked_elsewhere"  # the person has another chat; needs a code
    BAD_CODE = "bad_code"
    LOCKED = "locked"  # too many failed codes from this chat
    BAD_DETAILS = "bad_details"  # phone number and date of birth match no roster row


@dataclass(frozen=True)
class LinkResult:
    status: LinkStatus
    person_id: int | None = None
    person_name: str = ""
    previous_chat_id: str | None = None  # the chat that lost the link, to be told
    previous_language: str | None = None
    attempts_left: int | None = None
    locked_until: datetime | None = None


def hash_code(code: str) -> str:
    cleaned = "".join(ch for ch in code.upper() if ch.isalnum())
    return hashlib.sha256(cleaned.encode()).hexdigest()


# A linked account's `last_used_at` moves forward when the person uses it (at most this often,
# to spare a write per message): reminders go to the channel used last unless they chose one.
TOUCH_EVERY = timedelta(minutes=10)


async def account_for(
    session: AsyncSession,
    *,
    channel: str,
    chat_user_id: str,
    chat_id: str,
    language: str | None = None,
    now: datetime | None = None,
) -> ChatAccount:
    """The chat's account, created on first contact; `now` marks a linked one as just used."""
    repo = AccountRepo(session)
    account = await repo.find(channel, chat_user_id)
    if account is None:
        account = await _first_contact(session, channel, chat_user_id, chat_id, language)
    if account.chat_id != chat_id or not account.active:
        account.chat_id = chat_id
        account.active = True
    if _touch_due(account, now):
        account.last_used_at = now
    return account


def unchanged(account: ChatAccount, *, chat_id: str, now: datetime | None = None) -> bool:
    """True when `account_for` would change nothing: the update can be answered from a read
    transaction, without the write lock (most updates: a known chat, used recently)."""
    return account.chat_id == chat_id and account.active and not _touch_due(account, now)


def _touch_due(account: ChatAccount, now: datetime | None) -> bool:
    return (
        now is not None
        and account.person_id is not None
        and (account.last_used_at is None or now - account.last_used_at >= TOUCH_EVERY)
    )


async def _first_contact(
    session: AsyncSession, channel: str, chat_user_id: str, chat_id: str, language: str | None
) -> ChatAccount:
    """Create the account; when a brand-new user's first messages arrive at once (PostgreSQL
    runs them side by side), the others lose the unique key in a savepoint and read the
    winner's row instead of failing the update."""
    repo = AccountRepo(session)
    account = ChatAccount(
        channel=channel, chat_user_id=chat_user_id, chat_id=chat_id, language=language
    )
    try:
        async with session.begin_nested():
            repo.add(account)
            await session.flush()
    except IntegrityError:
        found = await repo.find(channel, chat_user_id)
        if found is None:
            raise
        return found
    return account


async def link_by_contact(
    session: AsyncSession,
    *,
    account_id: int,
    contact_user_id: int | str | None,
    phone: str,
    now: datetime,
) -> LinkResult:
    account = await _account(session, account_id)
    if contact_user_id is None or str(contact_user_id) != account.chat_user_id:
        return LinkResult(LinkStatus.FOREIGN_CONTACT)
    normalized = normalize_phone(phone)
    matches = await PeopleRepo(session).by_phone(normalized) if normalized else []
    if not matches:
        return LinkResult(LinkStatus.NO_MATCH)
    if len(matches) > 1:
        return LinkResult(LinkStatus.AMBIGUOUS)
    person = matches[0]
    if account.person_id == person.id:
        return LinkResult(LinkStatus.ALREADY_LINKED, person.id, person.full_name)
    other = await AccountRepo(session).linked_to(account.channel, person.id)
    if other is not None:
        return LinkResult(LinkStatus.LINKED_ELSEWHERE, person.id)
    _link(account, person, now)
    return LinkResult(LinkStatus.LINKED, person.id, person.full_name)


async def link_by_code(
    session: AsyncSession,
    *,
    account_id: int,
    code: str,
    now: datetime,
    max_failures: int,
    lockout: timedelta,
) -> LinkResult:
    """Link with an organizer's one-time code; it may move the link from another chat."""
    account = await _account(session, account_id)
    if account.locked_until is not None and account.locked_until > now:
        return LinkResult(LinkStatus.LOCKED, locked_until=account.locked_until)
    repo = AccountRepo(session)
    row = await repo.code_by_hash(hash_code(code))
    if row is None or row.used_at is not None or row.expires_at <= now:
        account.failed_attempts += 1
        if account.failed_attempts >= max_failures:
            account.failed_attempts = 0
            account.locked_until = now + lockout
            return LinkResult(LinkStatus.LOCKED, locked_until=account.locked_until)
        return LinkResult(LinkStatus.BAD_CODE, attempts_left=max_failures - account.failed_attempts)
    row.used_at = now
    person = await session.get(Person, row.person_id)
    assert person is not None  # the foreign key guarantees it
    previous = await repo.linked_to(account.channel, person.id)
    previous_chat = previous_language = None
    if previous is not None and previous.id != account.id:
        previous.person_id = None
        previous.linked_at = previous.last_used_at = None
        previous_chat, previous_language = previous.chat_id, previous.language
        await session.flush()  # free the (channel, person) slot before taking it
    if account.person_id != person.id:
        account.person_id = None
        await session.flush()
        _link(account, person, now)
    account.failed_attempts = 0
    account.locked_until = None
    return LinkResult(
        LinkStatus.LINKED,
        person.id,
        person.full_name,
        previous_chat_id=previous_chat,
        previous_language=previous_language,
    )


async def link_by_birth(
    session: AsyncSession,
    *,
    account_id: int,
    phone: str,
    date_of_birth: date,
    now: datetime,
    max_failures: int,
    lockout: timedelta,
) -> LinkResult:
    """Link with the phone number and date of birth on the roster (channels without a
    verified contact, e.g. Zalo). Both must match one active person; a wrong pair counts as a
    failed attempt with the same counter and lockout as codes, and says nothing about which
    half was wrong, so the roster cannot be probed for phone numbers."""
    account = await _account(session, account_id)
    if account.locked_until is not None and account.locked_until > now:
        return LinkResult(LinkStatus.LOCKED, locked_until=account.locked_until)
    normalized = normalize_phone(phone)
    matches: list[Person] = []
    if normalized:
        stmt = select(Person).where(
            Person.phone == normalized,
            Person.date_of_birth == date_of_birth,
            Person.active.is_(True),
        )
        matches = list((await session.execute(stmt.limit(2))).scalars())
    if len(matches) != 1:
        account.failed_attempts += 1
        if account.failed_attempts >= max_failures:
            account.failed_attempts = 0
            account.locked_until = now + lockout
            return LinkResult(LinkStatus.LOCKED, locked_until=account.locked_until)
        status = LinkStatus.AMBIGUOUS if matches else LinkStatus.BAD_DETAILS
        return LinkResult(status, attempts_left=max_failures - account.failed_attempts)
    person = matches[0]
    account.failed_attempts = 0
    account.locked_until = None
    if account.person_id == person.id:
        return LinkResult(LinkStatus.ALREADY_LINKED, person.id, person.full_name)
    other = await AccountRepo(session).linked_to(account.channel, person.id)
    if other is not None:
        return LinkResult(LinkStatus.LINKED_ELSEWHERE, person.id)
    if account.person_id is not None:
        account.person_id = None
        await session.flush()
    _link(account, person, now)
    return LinkResult(LinkStatus.LINKED, person.id, person.full_name)


async def code_for_person(
    session: AsyncSession, *, person_id: int, now: datetime, ttl: timedelta
) -> tuple[str, datetime] | None:
    """A one-time code a linked person uses to link their other chat app."""
    person = await session.get(Person, person_id)
    if person is None:
        return None
    return await create_code(session, personal_id=person.personal_id, now=now, ttl=ttl)


async def create_code(
    session: AsyncSession, *, personal_id: str, now: datetime, ttl: timedelta
) -> tuple[str, datetime] | None:
    """A fresh one-time code for the person (None if the ID is not on the roster)."""
    person = await PeopleRepo(session).by_personal_id(personal_id)
    if person is None:
        return None
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    expires = now + ttl
    AccountRepo(session).add_code(
        LinkCode(code_hash=hash_code(code), person_id=person.id, expires_at=expires)
    )
    await session.flush()
    return code, expires


async def unlink(session: AsyncSession, *, account_id: int) -> bool:
    account = await _account(session, account_id)
    if account.person_id is None:
        return False
    account.person_id = None
    account.linked_at = account.last_used_at = None
    return True


async def set_language(session: AsyncSession, *, account_id: int, language: str) -> None:
    (await _account(session, account_id)).language = language


def _link(account: ChatAccount, person: Person, now: datetime) -> None:
    account.person_id = person.id
    account.linked_at = account.last_used_at = now  # linking from a chat is using it


async def _account(session: AsyncSession, account_id: int) -> ChatAccount:
    account = await AccountRepo(session).get(account_id)
    if account is None:
        raise LookupError(f"chat account {account_id} does not exist")
    return account
