"""Record claims on Telegram: the person's claim (handlers/claims.py) and the organizer's
/claims (handlers/claim_review.py). Their choices are the inline buttons wired here; typed
steps are answered by adapter.OwedStep, and the evidence, a photo or document, by
adapter.OwedUpload."""

from __future__ import annotations

from telegram.ext import Application

from bot.telegram.adapter import actions, commands
from handlers import actions as cb


def register(app: Application) -> None:
    actions(app, (cb.CLAIM_START, cb.CLAIM_KIND, cb.CLAIM_QUAL, cb.CLAIM_LEVEL))
    commands(app, ("claims",))
    actions(app, (cb.CLAIM_VIEW, cb.CLAIM_APPROVE, cb.CLAIM_REJECT))
