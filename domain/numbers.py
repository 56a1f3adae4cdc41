"""Shares as the reports print them, in one place for every report module."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal


def percent(part: int, whole: int) -> Decimal | None:
    """`part` of `whole` in percent with one decimal, halves rounded up (280/395 → 70.9)."""
    if whole <= 0:
        return None
    return (Decimal(100 * part) / Decimal(whole)).quantize(Decimal("0.1"), ROUND_HALF_UP)
