"""People linked on Zalo and what they read there: for the Zalo tests, search and the parity
tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.dialog import plain
from locales import Translator
from storage.models import (
    ChatAccount,
)
from tests.factories import make_person
from tests.zalo_standin import Zalo

TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def at(day: str, clock: str) -> datetime:
    d = datetime.strptime(f"{day} {clock}", "%d/%m/%Y %H:%M")
    return d.replace(tzinfo=TZ).astimezone(UTC)


async def person_on_zalo(
    db: async_sessionmaker[AsyncSession], user: str, lang: str = "vi", **person: Any
) -> int:
    async with db.begin() as s:
        p = await make_person(s, **person)
        s.add(
            ChatAccount(
                channel="zalo",
                chat_user_id=user,
                chat_id=user,
                person_id=p.id,
                language=lang,
                linked_at=datetime.now(UTC),
            )
        )
        return p.id


async def linked(zalo: Zalo, user: str, lang: str = "vi", **person: Any) -> int:
    return await person_on_zalo(zalo.db, user, lang, **person)


def said(lang: str, msgid: str, **values: Any) -> str:
    """What the user reads for a catalogue message: translated, filled in, made plain."""
    text = Translator(lang, TZ).gettext(msgid)
    return plain(text % values if values else text)


CLAIM = "✏️ Report a mistake or claim a qualification"


ASK_PHOTO = "Now send a photo of the certificate or document."


def choice(message: str, text: str) -> str:
    """The number of the choice labelled `text` in a message of numbered choices."""
    numbers = [
        line.split(". ", 1)[0] for line in message.splitlines() if line.endswith(". " + text)
    ]
    assert len(numbers) == 1, f"no choice {text!r} in {message!r}"
    return numbers[0]
