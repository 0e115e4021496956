"""Initial care record: users, API tokens, cases and their versions, assessments, overrides,
audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(JSONB(), "postgresql")
Stamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=True),
        sa.Column("created", Stamp, nullable=False),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column(
            "user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("created", Stamp, nullable=False),
        sa.Column("last_used", Stamp, nullable=True),
    )
    op.create_index("ix_api_tokens_user_id", "api_tokens", ["user_id"])
    op.create_table(
        "cases",
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("created", Stamp, nullable=False),
    )
    op.create_table(
        "case_versions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "case_id", sa.String(200), sa.ForeignKey("cases.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("data", Json, nullable=False),
        sa.Column("event", sa.String(20), nullable=False),
        sa.Column(
            "author_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column("created", Stamp, nullable=False),
        sa.UniqueConstraint("case_id", "n", name="uq_case_versions_case_n"),
    )
    op.create_table(
        "assessments",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "case_version_id",
            sa.Integer(),
            sa.ForeignKey("case_versions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("kb_version", sa.String(40), nullable=False),
        sa.Column("input_hash", sa.String(64), nullable=False),
        sa.Column("definition", sa.String(20), nullable=False),
        sa.Column("luteal_policy", sa.String(20), nullable=False),
        sa.Column("assessed_on", sa.Date(), nullable=False),
        sa.Column("data", Json, nullable=False),
        sa.Column("created", Stamp, nullable=False),
        sa.UniqueConstraint(
            "case_version_id",
            "kb_version",
            "definition",
            "luteal_policy",
            "assessed_on",
            name="uq_assessments_key",
        ),
    )
    op.create_index("ix_assessments_case_version_id", "assessments", ["case_version_id"])
    op.create_table(
        "overrides",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "case_id", sa.String(200), sa.ForeignKey("cases.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("recommendation_id", sa.String(100), nullable=False),
        sa.Column("decision", sa.String(20), nullable=False),
        sa.Column("reason", sa.String(40), nullable=True),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column(
            "user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column("created", Stamp, nullable=False),
    )
    op.create_index("ix_overrides_case_rec", "overrides", ["case_id", "recommendation_id"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("case_id", sa.String(200), nullable=True),
        sa.Column("detail", Json, nullable=False),
        sa.Column("created", Stamp, nullable=False),
    )
    op.create_index("ix_audit_case_created", "audit_log", ["case_id", "created"])


def downgrade() -> None:
    for table in (
        "audit_log",
        "overrides",
        "assessments",
        "case_versions",
        "cases",
        "api_tokens",
        "users",
    ):
        op.drop_table(table)
