"""a training record names the claim it came from, at most once

Approving a claim of outside training adds a training record. Two organizers (or one double
tap) approving at once on PostgreSQL could add it twice and count the hours twice; the claim
row is locked now, and this unique key makes a second record impossible whatever the code.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Records from before have no claim: NULLs never collide on SQLite or PostgreSQL.
    with op.batch_alter_table("training_records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claim_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_training_records_claim_id_claims"),
            "claims",
            ["claim_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_unique_constraint(batch_op.f("uq_training_records_claim_id"), ["claim_id"])


def downgrade() -> None:
    with op.batch_alter_table("training_records", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_training_records_claim_id"), type_="unique")
        batch_op.drop_constraint(
            batch_op.f("fk_training_records_claim_id_claims"), type_="foreignkey"
        )
        batch_op.drop_column("claim_id")
