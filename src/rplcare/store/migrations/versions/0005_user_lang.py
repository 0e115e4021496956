"""Each user's language for the clinician pages (issue 11 §6: a language switch per user).

Revision ID: 0005_user_lang
Revises: 0004_patients
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_user_lang"
down_revision = "0004_patients"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a plain ADD COLUMN (no batch copy of `users`: see 0004 on what a copy cascades to)
    op.add_column("users", sa.Column("lang", sa.String(length=8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("lang")
