"""CDS Hooks feedback: card outcomes (accepted / overridden with the coded reason).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(JSONB(), "postgresql")
Stamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "cds_feedback",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("service_id", sa.String(100), nullable=False),
        sa.Column("card", sa.String(100), nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("outcome_timestamp", sa.String(40), nullable=False),
        sa.Column("reason_code", sa.String(100), nullable=False),
        sa.Column("recommendation_id", sa.String(100), nullable=True),
        sa.Column("patient_id", sa.String(200), nullable=True),
        sa.Column("payload", Json, nullable=False),
        sa.Column("created", Stamp, nullable=False),
        sa.UniqueConstraint(
            "service_id",
            "card",
            "outcome",
            "outcome_timestamp",
            "reason_code",
            name="uq_cds_feedback_event",
        ),
    )
    op.create_index("ix_cds_feedback_service_created", "cds_feedback", ["service_id", "created"])


def downgrade() -> None:
    op.drop_table("cds_feedback")
