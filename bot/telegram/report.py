"""/report [YEAR] on Telegram: the summary, the workbook and the chart (handlers/report.py)."""

from __future__ import annotations

from telegram.ext import Application

from bot.telegram.adapter import commands


def register(app: Application) -> None:
    commands(app, ("report",))
