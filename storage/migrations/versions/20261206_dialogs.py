"""conversation state in the database

One row per (channel, chat) holds the step a chat owes, its data and the choices it was last
offered, with an expiry: a restart, or another worker, continues the conversation.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dialogs",
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("chat_id", sa.String(64), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("channel", "chat_id", name=op.f("pk_dialogs")),
    )
    op.create_index(op.f("ix_dialogs_expires_at"), "dialogs", ["expires_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_dialogs_expires_at"), table_name="dialogs")
    op.drop_table("dialogs")
