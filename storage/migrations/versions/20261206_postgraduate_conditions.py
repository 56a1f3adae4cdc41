"""postgraduate sending conditions as data

Decree 171/2025's conditions for sending someone to postgraduate study (age limit when first
sent, years of service, commitment to serve a multiple of the study period) get a one-row
table, seeded from the `postgraduate` section of storage/seed/standards.yaml; an
administrator changes it with `boiduong standards load FILE`.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 10:00:00
"""

from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
import yaml
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SEED = Path(__file__).resolve().parents[2] / "seed" / "standards.yaml"


def upgrade() -> None:
    table = op.create_table(
        "postgraduate_conditions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("levels", sa.JSON(), nullable=False),
        sa.Column("max_age_first_sending", sa.Integer(), nullable=True),
        sa.Column("min_years_of_service", sa.Integer(), nullable=True),
        sa.Column("commitment_multiple", sa.Integer(), nullable=False),
        sa.Column("basis", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_postgraduate_conditions")),
    )
    with SEED.open(encoding="utf-8") as f:
        seed = (yaml.safe_load(f) or {}).get("postgraduate")
    if seed:
        op.bulk_insert(table, [{
            "levels": list(seed.get("levels") or []),
            "max_age_first_sending": seed.get("max_age_first_sending"),
            "min_years_of_service": seed.get("min_years_of_service"),
            "commitment_multiple": seed["commitment_multiple"],
            "basis": " ".join(str(seed.get("basis") or "").split()),
        }])  # fmt: skip


def downgrade() -> None:
    op.drop_table("postgraduate_conditions")
