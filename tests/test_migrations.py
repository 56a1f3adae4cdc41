"""Migrations build exactly the models' schema, seed the default rules, and are idempotent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, func, inspect, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from storage.db import upgrade
from storage.models import Base, Position, StandardRule

SEED = Path(__file__).resolve().parents[1] / "storage" / "seed" / "standards.yaml"


def _seed() -> dict[str, Any]:
    return yaml.safe_load(SEED.read_text(encoding="utf-8"))


async def test_upgrade_creates_every_table(db_engine: AsyncEngine) -> None:
    async with db_engine.connect() as conn:
        names = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    assert set(Base.metadata.tables) <= names
    assert "alembic_version" in names


async def test_upgrade_seeds_default_rules(db: async_sessionmaker[AsyncSession]) -> None:
    seed = _seed()
    async with db() as session:
        rules = {r.code: r for r in (await session.execute(select(StandardRule))).scalars()}
        positions = set((await session.execute(select(Position.code))).scalars())
    assert set(rules) == {r["code"] for r in seed["rules"]}
    assert positions == {p["code"] for p in seed["positions"]}
    leader = rules["leader-university"]
    assert leader.applies_to == {"groups": ["leader", "mass_org"], "positions": [], "units": []}
    assert (leader.requires_kind, leader.requires_level) == ("education", "dai_hoc")
    assert leader.grace_until is not None and leader.grace_until.isoformat() == "2028-08-01"
    assert "luat" in rules["cs-justice-degree"].requires_fields
    assert all(r.active for r in rules.values())


async def test_upgrade_twice_is_a_no_op(
    db_engine: AsyncEngine, db: async_sessionmaker[AsyncSession]
) -> None:
    await upgrade(db_engine)  # the fixture already upgraded once
    async with db() as session:
        rules = (await session.execute(select(func.count()).select_from(StandardRule))).scalar()
        positions = (await session.execute(select(func.count()).select_from(Position))).scalar()
    seed = _seed()
    assert rules == len(seed["rules"])
    assert positions == len(seed["positions"])


def _diff(conn: Connection) -> list[Any]:
    context = MigrationContext.configure(conn, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_models_and_migrations_agree(db_engine: AsyncEngine) -> None:
    async with db_engine.connect() as conn:
        diff = await conn.run_sync(_diff)
    assert diff == []
