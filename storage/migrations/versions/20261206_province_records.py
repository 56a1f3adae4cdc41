"""what a province reports on: secondment details and review outcomes

A secondment or rotation keeps the host division and field of work, the decision that sent
the person, the next review date and the last review's outcome. A yearly plan figure can be
per training category (blank: the unit's total) and plan a number of courses; training
recorded from outside the bot keeps its category, organizer and what it granted. The
levels a roster import learns are kept with their date, to compare with earlier years;
degree studies under way are recorded.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 08:00:00
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SECONDMENT_COLUMNS: tuple[tuple[str, Any], ...] = (
    ("host_division", sa.String(length=200)),
    ("field_of_work", sa.String(length=200)),
    ("decision_no", sa.String(length=60)),
    ("next_review_on", sa.Date()),
    ("last_review_on", sa.Date()),
    ("last_review_rating", sa.String(length=20)),
    ("last_review_note", sa.Text()),
)

RECORD_COLUMNS: tuple[tuple[str, Any], ...] = (
    ("category", sa.String(length=30)),
    ("organizer", sa.String(length=200)),
    ("grants_kind", sa.String(length=30)),
    ("grants_level", sa.String(length=40)),
)


def upgrade() -> None:
    op.create_table(
        "qualification_levels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("level", sa.String(length=40), nullable=False),
        sa.Column("learnt_on", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], ondelete="CASCADE",
                                name=op.f("fk_qualification_levels_person_id_people")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qualification_levels")),
    )  # fmt: skip
    op.create_index(op.f("ix_qualification_levels_person_id"), "qualification_levels",
                    ["person_id"])  # fmt: skip
    op.create_table(
        "degree_studies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(length=40), nullable=False),
        sa.Column("field", sa.String(length=200), nullable=False),
        sa.Column("school", sa.String(length=200), nullable=True),
        sa.Column("mode", sa.String(length=20), nullable=True),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("expected_end", sa.Date(), nullable=False),
        sa.Column("funding", sa.String(length=20), nullable=True),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"], ondelete="CASCADE",
                                name=op.f("fk_degree_studies_person_id_people")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_degree_studies")),
        sa.UniqueConstraint("person_id", "level", "starts_on",
                            name=op.f("uq_degree_studies_person_id_level_starts_on")),
    )  # fmt: skip
    op.create_index(op.f("ix_degree_studies_person_id"), "degree_studies", ["person_id"])
    with op.batch_alter_table("secondments") as batch:
        for name, type_ in SECONDMENT_COLUMNS:
            batch.add_column(sa.Column(name, type_, nullable=True))
    with op.batch_alter_table("training_plans") as batch:
        batch.add_column(sa.Column("category", sa.String(length=30), nullable=True))
        batch.add_column(sa.Column("courses", sa.Integer(), nullable=True))
        batch.drop_constraint("uq_training_plans_year_unit_id", type_="unique")
        batch.create_unique_constraint(
            "uq_training_plans_year_unit_id_category", ["year", "unit_id", "category"]
        )
    # The key above never stops a second total (category NULL): NULLs differ on both
    # databases. A partial unique index does.
    op.create_index(
        "uq_training_plans_total", "training_plans", ["year", "unit_id"], unique=True,
        sqlite_where=sa.text("category IS NULL"), postgresql_where=sa.text("category IS NULL"),
    )  # fmt: skip
    for name, type_ in RECORD_COLUMNS:
        op.add_column("training_records", sa.Column(name, type_, nullable=True))


def downgrade() -> None:
    op.drop_index(op.f("ix_degree_studies_person_id"), table_name="degree_studies")
    op.drop_table("degree_studies")
    op.drop_index(op.f("ix_qualification_levels_person_id"), table_name="qualification_levels")
    op.drop_table("qualification_levels")
    for name, _type in reversed(RECORD_COLUMNS):  # plain: the table refers to `people`
        op.drop_column("training_records", name)
    # The old key holds one figure per unit and year: the per-category figures go.
    op.drop_index("uq_training_plans_total", table_name="training_plans")
    op.execute("DELETE FROM training_plans WHERE category IS NOT NULL")
    with op.batch_alter_table("training_plans") as batch:
        batch.drop_constraint("uq_training_plans_year_unit_id_category", type_="unique")
        batch.drop_column("courses")
        batch.drop_column("category")
        batch.create_unique_constraint("uq_training_plans_year_unit_id", ["year", "unit_id"])
    # Plain DROP COLUMN (SQLite 3.35+): a batch copy of a table that refers to `people` is
    # harmless, but the plain form keeps every downgrade of this revision alike.
    for name, _type in reversed(SECONDMENT_COLUMNS):
        op.drop_column("secondments", name)
