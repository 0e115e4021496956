"""Outcomes registry: episodes, subsequent pregnancies and their tags (causes, treatments).

Revision ID: 0003_outcomes
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_outcomes"
down_revision = "0003_harden"  # chained at merge
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outcome_patients",
        sa.Column(
            "case_id",
            sa.String(200),
            sa.ForeignKey("cases.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("versions", sa.Integer(), nullable=False),
        sa.Column("index_date", sa.Date(), nullable=False),
        sa.Column("index_year", sa.Integer(), nullable=False),
        sa.Column("age", sa.Integer(), nullable=True),
        sa.Column("prior_losses", sa.Integer(), nullable=False),
        sa.Column("clinician", sa.String(100), nullable=False),
        sa.Column("expected", sa.Float(), nullable=True),
        sa.Column("pregnancies", sa.Integer(), nullable=False),
        sa.Column("resolved", sa.Integer(), nullable=False),
        sa.Column("live_births", sa.Integer(), nullable=False),
        sa.Column("last_record", sa.Date(), nullable=False),
        sa.Column("next_outcome", sa.String(20), nullable=True),
        sa.Column("next_due", sa.Date(), nullable=True),
        sa.Column("next_reached_12", sa.Integer(), nullable=False),
        sa.Column("next_reached_24", sa.Integer(), nullable=False),
    )
    op.create_index("ix_outcome_patients_index_date", "outcome_patients", ["index_date"])
    op.create_table(
        "outcome_pregnancies",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "case_id",
            sa.String(200),
            sa.ForeignKey("cases.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("ga_days", sa.Integer(), nullable=True),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("reached_12", sa.Integer(), nullable=False),
        sa.Column("reached_24", sa.Integer(), nullable=False),
        sa.UniqueConstraint("case_id", "seq", name="uq_outcome_pregnancies_case_seq"),
    )
    op.create_index("ix_outcome_pregnancies_seq", "outcome_pregnancies", ["seq", "case_id"])
    op.create_table(
        "outcome_tags",
        sa.Column(
            "case_id",
            sa.String(200),
            sa.ForeignKey("cases.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("dimension", sa.String(20), primary_key=True),
        sa.Column("value", sa.String(120), primary_key=True),
    )
    op.create_index("ix_outcome_tags_dimension_value", "outcome_tags", ["dimension", "value"])


def downgrade() -> None:
    op.drop_index("ix_outcome_tags_dimension_value", table_name="outcome_tags")
    op.drop_table("outcome_tags")
    op.drop_index("ix_outcome_pregnancies_seq", table_name="outcome_pregnancies")
    op.drop_table("outcome_pregnancies")
    op.drop_index("ix_outcome_patients_index_date", table_name="outcome_patients")
    op.drop_table("outcome_patients")
