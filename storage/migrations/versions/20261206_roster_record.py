"""the roster's person type, civil-service rank and old identity card number

Provinces report cadres, civil servants and public employees together and by type, and the
state-management standard follows the person's rank (ngạch): two rules for the principal and
senior officer ranks join the default set. Old 9-digit identity card numbers are kept for
reference only.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

rules = sa.table(
    "standard_rules",
    sa.column("code", sa.String),
    sa.column("title_vi", sa.String),
    sa.column("title_en", sa.String),
    sa.column("applies_to", sa.JSON),
    sa.column("requires_kind", sa.String),
    sa.column("requires_level", sa.String),
    sa.column("requires_fields", sa.JSON),
    sa.column("basis", sa.Text),
    sa.column("active", sa.Boolean),
)
_BASIS = "Luật Cán bộ, công chức 2025; Nghị định 171/2025/NĐ-CP: bồi dưỡng theo tiêu chuẩn ngạch"
# The state-management standard by rank (the same rows as storage/seed/standards.yaml, which
# a new installation already loaded in 0002).
RANK_RULES = [
    {"code": "state-management-principal",
     "title_vi": "Bồi dưỡng quản lý nhà nước ngạch chuyên viên chính",
     "title_en": "State management training, principal officer rank",
     "level": "chuyen_vien_chinh"},
    {"code": "state-management-senior",
     "title_vi": "Bồi dưỡng quản lý nhà nước ngạch chuyên viên cao cấp",
     "title_en": "State management training, senior officer rank",
     "level": "chuyen_vien_cao_cap"},
]  # fmt: skip

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("people") as batch:
        batch.add_column(sa.Column("person_type", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("civil_service_rank", sa.String(length=30), nullable=True))
        batch.add_column(sa.Column("old_id_number", sa.String(length=9), nullable=True))
    have = set(op.get_bind().execute(sa.select(rules.c.code)).scalars())
    op.bulk_insert(rules, [
        {"code": r["code"], "title_vi": r["title_vi"], "title_en": r["title_en"],
         "applies_to": {"groups": [], "positions": [], "units": [], "ranks": [r["level"]]},
         "requires_kind": "state_management", "requires_level": r["level"],
         "requires_fields": [], "basis": _BASIS, "active": True}
        for r in RANK_RULES if r["code"] not in have
    ])  # fmt: skip


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35+), not a batch copy: copying `people` means dropping it,
    # and its ON DELETE rules would empty the tables that refer to it.
    op.drop_column("people", "old_id_number")
    op.drop_column("people", "civil_service_rank")
    op.drop_column("people", "person_type")
    op.execute(rules.delete().where(rules.c.code.in_([r["code"] for r in RANK_RULES])))
