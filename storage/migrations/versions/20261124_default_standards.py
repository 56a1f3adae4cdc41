"""default positions and standards rule set

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 09:00:00

Seeds storage/seed/standards.yaml. The tables are written inline (sa.table) rather than taken
from storage.models, so this migration keeps working when the models change later. Codes
already present are skipped, so an administrator's earlier load is never overwritten.
"""

from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEED = Path(__file__).resolve().parents[2] / "seed" / "standards.yaml"
SCOPES = ("groups", "positions", "units", "ranks", "types")

positions = sa.table(
    "positions",
    sa.column("id", sa.Integer),
    sa.column("code", sa.String),
    sa.column("name_vi", sa.String),
    sa.column("name_en", sa.String),
    sa.column("group", sa.String),
)
rules = sa.table(
    "standard_rules",
    sa.column("code", sa.String),
    sa.column("title_vi", sa.String),
    sa.column("title_en", sa.String),
    sa.column("applies_to", sa.JSON),
    sa.column("requires_kind", sa.String),
    sa.column("requires_level", sa.String),
    sa.column("requires_fields", sa.JSON),
    sa.column("requires_hours", sa.Integer),
    sa.column("basis", sa.Text),
    sa.column("grace_until", sa.Date),
    sa.column("active", sa.Boolean),
)
people = sa.table("people", sa.column("position_id", sa.Integer))


def _seed() -> dict[str, Any]:
    with SEED.open(encoding="utf-8") as f:
        return yaml.safe_load(f) or {}


def _date(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def _rule_row(item: dict[str, Any]) -> dict[str, Any]:
    # The same shape domain/rulebook.py writes, so reloading the seed reports "unchanged".
    scope = item.get("applies_to") or {}
    requires = item.get("requires") or {}
    return {
        "code": item["code"],
        "title_vi": item["title_vi"],
        "title_en": item["title_en"],
        # The seed is read as it is now: later scopes (ranks, types) are kept when present.
        "applies_to": {k: list(scope.get(k) or []) for k in SCOPES
                       if scope.get(k) or k in SCOPES[:3]},
        "requires_kind": requires["kind"],
        "requires_level": requires.get("level"),
        "requires_fields": list(requires.get("fields") or []),
        "requires_hours": requires.get("hours"),
        "basis": item.get("basis") or "",
        "grace_until": _date(item.get("grace_until")),
        "active": bool(item.get("active", True)),
    }


def _existing(table: sa.TableClause) -> set[str]:
    return set(op.get_bind().execute(sa.select(table.c.code)).scalars())


def upgrade() -> None:
    seed = _seed()
    have = _existing(positions)
    op.bulk_insert(
        positions,
        [
            {"code": p["code"], "name_vi": p["vi"], "name_en": p["en"], "group": p["group"]}
            for p in seed.get("positions") or []
            if p["code"] not in have
        ],
    )
    have = _existing(rules)
    op.bulk_insert(rules, [_rule_row(r) for r in seed.get("rules") or [] if r["code"] not in have])


def downgrade() -> None:
    seed = _seed()
    rule_codes = [r["code"] for r in seed.get("rules") or []]
    op.execute(rules.delete().where(rules.c.code.in_(rule_codes)))
    # A position people still hold stays: deleting it would break their record.
    position_codes = [p["code"] for p in seed.get("positions") or []]
    held = sa.select(people.c.position_id).where(people.c.position_id == positions.c.id)
    op.execute(
        positions.delete().where(positions.c.code.in_(position_codes), ~sa.exists(held))
    )
