"""the roster's person type, civil-service rank and old identity card number

Provinces report cadres, civil servants and public employees together and by type, and the
state-management standard follows the person's rank (ngạch); old 9-digit identity card
numbers are kept for reference only.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("people") as batch:
        batch.add_column(sa.Column("person_type", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("civil_service_rank", sa.String(length=30), nullable=True))
        batch.add_column(sa.Column("old_id_number", sa.String(length=9), nullable=True))


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35+), not a batch copy: copying `people` means dropping it,
    # and its ON DELETE rules would empty the tables that refer to it.
    op.drop_column("people", "old_id_number")
    op.drop_column("people", "civil_service_rank")
    op.drop_column("people", "person_type")
