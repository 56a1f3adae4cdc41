"""What the running bot shares with every update and scheduled job: its settings and database."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config.settings import Settings


@dataclass
class Resources:
    """Made once by the entry point (kept in PTB's bot_data on Telegram) and handed down."""

    settings: Settings
    db: async_sessionmaker[AsyncSession]
