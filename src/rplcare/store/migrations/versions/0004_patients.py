"""Patients as people and the worklist (issue 11 §2, §3): the `patients` table (name, date of
birth, hospital number, contact; apart from the clinical record), the `worklist` table (each
case's list row read off its stored assessment) and `cases.archived`.

Revision ID: 0004_patients
Revises: 0003_outcomes
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_patients"
down_revision = "0003_outcomes"
branch_labels = None
depends_on = None

Stamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    # a plain ADD COLUMN (SQLite has it): a batch copy of `cases` would drop the table, and
    # with foreign keys on, the drop cascades to every case version and assessment
    op.add_column(
        "cases", sa.Column("archived", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.create_table(
        "patients",
        sa.Column(
            "case_id",
            sa.String(200),
            sa.ForeignKey("cases.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("name", sa.String(200), nullable=False, server_default=""),
        sa.Column("name_folded", sa.String(200), nullable=False, server_default=""),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("mrn", sa.String(64), nullable=True),
        sa.Column("contact", sa.String(500), nullable=False, server_default=""),
        sa.Column("updated", Stamp, nullable=False),
    )
    op.create_index("ix_patients_mrn", "patients", ["mrn"])
    op.create_index("ix_patients_name_folded", "patients", ["name_folded"])
    op.create_table(
        "worklist",
        sa.Column(
            "case_id",
            sa.String(200),
            sa.ForeignKey("cases.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated", Stamp, nullable=False),
        sa.Column("event", sa.String(20), nullable=False),
        sa.Column("author", sa.String(100), nullable=True),
        sa.Column("clinician", sa.String(100), nullable=True),
        sa.Column("kb_hash", sa.String(64), nullable=False),
        sa.Column("engine", sa.String(40), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("dated", sa.Boolean(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("urgency", sa.String(20), nullable=True),
        sa.Column("next_due", sa.Date(), nullable=True),
        sa.Column("next_action", sa.Text(), nullable=True),
        sa.Column("needs_review", sa.Boolean(), nullable=False),
        sa.Column("pregnant", sa.Boolean(), nullable=False),
        sa.Column("workup_incomplete", sa.Boolean(), nullable=False),
        sa.Column("lost", sa.Boolean(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
    )
    op.create_index("ix_worklist_rank_due", "worklist", ["rank", "next_due"])


def downgrade() -> None:
    op.drop_index("ix_worklist_rank_due", table_name="worklist")
    op.drop_table("worklist")
    op.drop_index("ix_patients_name_folded", table_name="patients")
    op.drop_index("ix_patients_mrn", table_name="patients")
    op.drop_table("patients")
    op.drop_column("cases", "archived")  # SQLite 3.35+ drops a column in place
