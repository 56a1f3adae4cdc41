"""Who a course or a standard is for: a scope of units, position groups, positions, and (for
standards) civil-service ranks and person types."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from storage.models import Course, Person, StandardRule


def matches(scope: Mapping[str, Any] | None, person: Person, unit_codes: Sequence[str]) -> bool:
    """Whether the person falls in the scope; an empty list means "anyone".

    `unit_codes` are the person's unit and its ancestors, so naming a unit covers its subtree.
    """
    scope = scope or {}
    units = scope.get("units") or []
    if units and not set(units) & set(unit_codes):
        return False
    # Civil-service ranks and person types narrow a standard to, e.g., principal officers.
    ranks, types = scope.get("ranks") or [], scope.get("types") or []
    if ranks and person.civil_service_rank not in ranks:
        return False
    if types and person.person_type not in types:
        return False
    groups, positions = scope.get("groups") or [], scope.get("positions") or []
    if not groups and not positions:
        return True
    pos = person.position
    return pos is not None and (pos.group in groups or pos.code in positions)


def in_audience(course: Course, person: Person, unit_codes: Sequence[str]) -> bool:
    """Whether the person is among the course's target audience."""
    return matches(course.audience, person, unit_codes)


def applies(rule: StandardRule, person: Person, unit_codes: Sequence[str]) -> bool:
    """Whether the standard applies to the person."""
    return matches(rule.applies_to, person, unit_codes)
