"""Chat accounts and one-time link codes."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ChatAccount, LinkCode


class AccountRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, account_id: int) -> ChatAccount | None:
        return await self.session.get(ChatAccount, account_id)

    async def find(self, channel: str, chat_user_id: str) -> ChatAccount | None:
        stmt = select(ChatAccount).where(
            ChatAccount.channel == channel, ChatAccount.chat_user_id == chat_user_id
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def linked_to(self, channel: str, person_id: int) -> ChatAccount | None:
        stmt = select(ChatAccount).where(
            ChatAccount.channel == channel, ChatAccount.person_id == person_id
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def of_person(self, person_id: int) -> list[ChatAccount]:
        stmt = select(ChatAccount).where(
            ChatAccount.person_id == person_id, ChatAccount.active.is_(True)
        )
        return list((await self.session.execute(stmt)).scalars())

    def add(self, account: ChatAccount) -> None:
        self.session.add(account)

    async def code_by_hash(self, code_hash: str) -> LinkCode | None:
        # Locked and read afresh: of ten chats typing one code at once, one gets it.
        stmt = (
            select(LinkCode)
            .where(LinkCode.code_hash == code_hash)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    def add_code(self, code: LinkCode) -> None:
        self.session.add(code)
