"""Migrations build exactly the models' schema, seed the default rules, are idempotent, and
move existing data when a representation changes (or keep it when a table goes)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import (
    JSON,
    Boolean,
    Connection,
    Integer,
    LargeBinary,
    String,
    column,
    func,
    inspect,
    select,
    table,
)
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from storage.db import alembic_config, upgrade
from storage.models import Base, Position, StandardRule, UTCDateTime

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


# -- data moved by a migration ------------------------------------------------------------
# Tables as the migrations see them (the models describe only the newest schema).

units = table("units", column("id", Integer), column("code", String), column("name", String),
              column("kind", String), column("active", Boolean))  # fmt: skip
people = table("people", column("id", Integer), column("personal_id", String),
               column("full_name", String), column("unit_id", Integer), column("active", Boolean),
               column("updated_at", UTCDateTime), column("preferred_channel", String))  # fmt: skip
accounts = table("chat_accounts", column("id", Integer), column("channel", String),
                 column("chat_user_id", String), column("chat_id", String),
                 column("person_id", Integer), column("active", Boolean),
                 column("failed_attempts", Integer), column("created_at", UTCDateTime),
                 column("linked_at", UTCDateTime), column("last_used_at", UTCDateTime))  # fmt: skip
opt_outs = table("reminder_opt_outs", column("person_id", Integer), column("category", String),
                 column("created_at", UTCDateTime))  # fmt: skip
LINKED = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
USED = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)


async def _migrate(engine: AsyncEngine, revision: str, *, down: bool = False) -> None:
    def _run(conn: Connection) -> None:
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(cfg, revision)

    async with engine.begin() as conn:
        await conn.run_sync(_run)


async def _two_people_one_linked(engine: AsyncEngine, **extra: Any) -> None:
    """Person 1 has a Zalo account linked at LINKED; person 2 has none."""
    async with engine.begin() as conn:
        unit = (await conn.execute(
            units.insert().values(code="test-commune", name="Xã Thử", kind="commune", active=True)
            .returning(units.c.id)
        )).scalar_one()  # fmt: skip
        await conn.execute(
            people.insert(),
            [
                {"id": pid, "personal_id": f"02000000000{pid}", "full_name": f"Người {pid}",
                 "unit_id": unit, "active": True, "updated_at": LINKED}
                for pid in (1, 2)
            ],
        )  # fmt: skip
        await conn.execute(
            accounts.insert().values(
                channel="zalo", chat_user_id="z1", chat_id="z1", person_id=1, active=True,
                failed_attempts=0, created_at=LINKED, linked_at=LINKED, **extra,
            )
        )  # fmt: skip


async def _read(engine: AsyncEngine, *columns: Any) -> list[Any]:
    async with engine.connect() as conn:
        return [tuple(r) for r in await conn.execute(select(*columns).order_by(*columns))]


async def test_channel_columns_take_over_prefer_rows_and_linked_at(
    blank_engine: AsyncEngine,
) -> None:
    """0007: a "prefer:zalo" opt-out row becomes people.preferred_channel, and linked_at
    (which moved forward on use) seeds chat_accounts.last_used_at."""
    await _migrate(blank_engine, "0006")
    await _two_people_one_linked(blank_engine)
    async with blank_engine.begin() as conn:
        await conn.execute(
            opt_outs.insert(),
            [
                {"person_id": 1, "category": "prefer:zalo", "created_at": LINKED},
                {"person_id": 1, "category": "course", "created_at": LINKED},
                {"person_id": 2, "category": "hours", "created_at": LINKED},
            ],
        )

    await upgrade(blank_engine)

    assert await _read(blank_engine, people.c.id, people.c.preferred_channel) == [
        (1, "zalo"),
        (2, None),
    ]
    assert await _read(blank_engine, opt_outs.c.person_id, opt_outs.c.category) == [
        (1, "course"),
        (2, "hours"),
    ]
    assert await _read(blank_engine, accounts.c.linked_at, accounts.c.last_used_at) == [
        (LINKED, LINKED)
    ]


async def test_channel_columns_downgrade_to_prefer_rows_and_linked_at(
    blank_engine: AsyncEngine,
) -> None:
    """Back to 0006: the preference is a "prefer:" row again and linked_at the last use."""
    await upgrade(blank_engine)
    await _two_people_one_linked(blank_engine, last_used_at=USED)
    async with blank_engine.begin() as conn:
        await conn.execute(people.update().where(people.c.id == 1).values(preferred_channel="zalo"))

    await _migrate(blank_engine, "0006", down=True)

    assert await _read(blank_engine, opt_outs.c.person_id, opt_outs.c.category) == [
        (1, "prefer:zalo")
    ]
    assert await _read(blank_engine, accounts.c.linked_at) == [(USED,)]
    async with blank_engine.connect() as conn:
        names = await conn.run_sync(
            lambda c: {t: {col["name"] for col in inspect(c).get_columns(t)}
                       for t in ("people", "chat_accounts")}
        )  # fmt: skip
    assert "preferred_channel" not in names["people"]
    assert "last_used_at" not in names["chat_accounts"]
    # Nothing referring to people was lost on the way (a table copy would cascade deletes).
    assert await _read(blank_engine, people.c.id) == [(1,), (2,)]
    assert await _read(blank_engine, accounts.c.person_id) == [(1,)]


claims_table = table("claims", column("id", Integer), column("person_id", Integer),
                     column("kind", String), column("details", JSON), column("note", String),
                     column("evidence_kind", String), column("state", String),
                     column("created_at", UTCDateTime))  # fmt: skip
claim_files = table("claim_files", column("claim_id", Integer), column("content", LargeBinary),
                    column("filename", String), column("mime", String))  # fmt: skip
BYTES = b"\x89PNG\r\n\x1a\n\x00\xff" * 100  # NUL and high bytes survive both databases


async def test_claim_files_keep_photo_bytes_and_downgrade_leaves_the_claims(
    blank_engine: AsyncEngine,
) -> None:
    """0008: a claim filed before it gains a table for its evidence's bytes; back to 0007 the
    table goes and the claims stay."""
    await _migrate(blank_engine, "0007")
    await _two_people_one_linked(blank_engine)
    async with blank_engine.begin() as conn:
        await conn.execute(claims_table.insert().values(
            id=1, person_id=1, kind="qualification", details={"kind": "it"}, note="",
            evidence_kind="zalo_photo", state="pending", created_at=LINKED,
        ))  # fmt: skip

    await _migrate(blank_engine, "0008")
    async with blank_engine.begin() as conn:
        await conn.execute(
            claim_files.insert().values(
                claim_id=1, content=BYTES, filename="photo.jpg", mime="image/jpeg"
            )
        )
    assert await _read(blank_engine, claim_files.c.claim_id, claim_files.c.content) == [(1, BYTES)]

    await _migrate(blank_engine, "0007", down=True)
    async with blank_engine.connect() as conn:
        names = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    assert "claim_files" not in names
    assert await _read(blank_engine, claims_table.c.id, claims_table.c.evidence_kind) == [
        (1, "zalo_photo")
    ]
    await upgrade(blank_engine)  # and up again
    assert await _read(blank_engine, claim_files.c.claim_id) == []
