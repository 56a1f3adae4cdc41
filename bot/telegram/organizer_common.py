"""The unit wording the Telegram handlers not yet written as flows (admin, broadcast) share;
it lives in handlers/organizer.py with the rest of what organizers read."""

from __future__ import annotations

from handlers.organizer import unclear_unit, unit_choices

__all__ = ["unclear_unit", "unit_choices"]
