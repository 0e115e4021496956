"""Assessments name what made them: knowledge-base content hash and engine version.

Existing rows are kept with an empty hash and engine: they no longer match any loaded knowledge
base, so the first read recomputes them (new row with `replaces_id`, audit entry `recomputed`).
The unique key now includes both stamps instead of the knowledge-base version label alone.

Revision ID: 0003_kb
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_kb"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("assessments") as batch:
        batch.add_column(sa.Column("kb_hash", sa.String(64), nullable=False, server_default=""))
        batch.add_column(sa.Column("engine", sa.String(40), nullable=False, server_default=""))
        batch.add_column(sa.Column("replaces_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_assessments_replaces_id",
            "assessments",
            ["replaces_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch.drop_constraint("uq_assessments_key", type_="unique")
        batch.create_unique_constraint(
            "uq_assessments_key",
            [
                "case_version_id",
                "kb_hash",
                "engine",
                "definition",
                "luteal_policy",
                "assessed_on",
            ],
        )


def downgrade() -> None:
    # rows recomputed under another stamp would collide on the old key: keep the newest
    op.execute(
        "DELETE FROM assessments WHERE id NOT IN (SELECT MAX(id) FROM assessments "
        "GROUP BY case_version_id, kb_version, definition, luteal_policy, assessed_on)"
    )
    with op.batch_alter_table("assessments") as batch:
        batch.drop_constraint("uq_assessments_key", type_="unique")
        batch.create_unique_constraint(
            "uq_assessments_key",
            ["case_version_id", "kb_version", "definition", "luteal_policy", "assessed_on"],
        )
        batch.drop_constraint("fk_assessments_replaces_id", type_="foreignkey")
        batch.drop_column("replaces_id")
        batch.drop_column("engine")
        batch.drop_column("kb_hash")
