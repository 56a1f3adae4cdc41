"""a person's preferred channel and an account's last use get columns of their own

Until now the preference was a row "prefer:<channel>" in reminder_opt_outs and "used last"
was chat_accounts.linked_at moved forward on use. Both move into proper columns here;
linked_at keeps its own meaning (when the account was linked).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 09:00:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PREFIX = "prefer:"
people = sa.table(
    "people", sa.column("id", sa.Integer()), sa.column("preferred_channel", sa.String())
)
opt_outs = sa.table(
    "reminder_opt_outs",
    sa.column("person_id", sa.Integer()),
    sa.column("category", sa.String()),
    sa.column("created_at", sa.DateTime(timezone=True)),
)
accounts = sa.table(
    "chat_accounts",
    sa.column("linked_at", sa.DateTime(timezone=True)),
    sa.column("last_used_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    # Nullable additions: SQLite adds them in place (no table copy).
    with op.batch_alter_table("people", schema=None) as batch_op:
        batch_op.add_column(sa.Column("preferred_channel", sa.String(length=16), nullable=True))
    with op.batch_alter_table("chat_accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True))

    prefers = opt_outs.c.category.like(PREFIX + "%")
    choice = (
        sa.select(sa.func.min(sa.func.substr(opt_outs.c.category, len(PREFIX) + 1)))
        .where(opt_outs.c.person_id == people.c.id, prefers)
        .scalar_subquery()
    )
    op.execute(
        people.update()
        .where(people.c.id.in_(sa.select(opt_outs.c.person_id).where(prefers)))
        .values(preferred_channel=choice)
    )
    op.execute(opt_outs.delete().where(prefers))
    # linked_at was moved forward on every use, so it is the best "last used" there is.
    op.execute(accounts.update().values(last_used_at=accounts.c.linked_at))


def downgrade() -> None:
    op.execute(
        accounts.update()
        .where(accounts.c.last_used_at.is_not(None))
        .values(linked_at=accounts.c.last_used_at)
    )
    now = sa.literal(datetime.now(UTC), sa.DateTime(timezone=True))
    op.execute(
        opt_outs.insert().from_select(
            ["person_id", "category", "created_at"],
            sa.select(people.c.id, sa.literal(PREFIX) + people.c.preferred_channel, now).where(
                people.c.preferred_channel.is_not(None)
            ),
        )
    )
    # Plain DROP COLUMN (SQLite 3.35+), not a batch copy: copying `people` means dropping the
    # table, and with foreign keys on that would cascade-delete every row referring to it.
    op.drop_column("chat_accounts", "last_used_at")
    op.drop_column("people", "preferred_channel")
