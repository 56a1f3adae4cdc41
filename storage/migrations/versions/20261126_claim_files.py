"""claim evidence kept as bytes, for photos sent on Zalo

A Telegram claim refers to its evidence by Telegram file id; Zalo gives only a download URL
that does not last, so the photo's bytes are stored, one row per claim.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # LargeBinary is BLOB on SQLite and BYTEA on PostgreSQL.
    op.create_table(
        "claim_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("claim_id", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("mime", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["claim_id"],
            ["claims.id"],
            name=op.f("fk_claim_files_claim_id_claims"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim_files")),
        sa.UniqueConstraint("claim_id", name=op.f("uq_claim_files_claim_id")),
    )


def downgrade() -> None:
    # Their claims stay, pointing at no evidence (handlers.claims.view then shows the card alone).
    op.drop_table("claim_files")
