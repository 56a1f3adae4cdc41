"""The typed context every handler receives: database, settings, translator, who is talking."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram.ext import Application, CallbackContext, ExtBot

from config.resources import Resources
from config.settings import Settings
from locales import Translator

__all__ = ["BotContext", "Resources"]


class BotContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """Set once per update by handlers.middleware (group -1), read by every handler."""

    def __init__(
        self,
        application: Application[Any, Any, Any, Any, Any, Any],
        chat_id: int | None = None,
        user_id: int | None = None,
    ) -> None:
        super().__init__(application=application, chat_id=chat_id, user_id=user_id)
        self._t: Translator | None = None
        self.account_id: int | None = None
        self.person_id: int | None = None

    @property
    def resources(self) -> Resources:
        res = self.bot_data["resources"]
        assert isinstance(res, Resources)
        return res

    @property
    def db(self) -> async_sessionmaker[AsyncSession]:
        return self.resources.db

    @property
    def settings(self) -> Settings:
        return self.resources.settings

    @property
    def t(self) -> Translator:
        if self._t is None:  # updates that bypass the middleware (e.g. jobs) get the default
            self._t = Translator(self.settings.default_language, self.settings.tz)
        return self._t

    @t.setter
    def t(self, value: Translator) -> None:
        self._t = value

    def wake(self) -> None:
        """New rows to deliver (notifications, a broadcast sent now): deliver them soon."""
        wake = self.bot_data.get("wake")
        if wake is not None:
            wake()

    @staticmethod
    def now() -> datetime:
        return datetime.now(UTC)
