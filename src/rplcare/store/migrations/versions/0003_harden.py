"""Hardening: server-side web sessions, user disabling and password-change time, named /
expiring / revocable API tokens, role and client address on audit rows.

Revision ID: 0003_harden
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_harden"
down_revision = "0003_kb"  # chained at merge: 0002 -> 0003_kb -> 0003_harden
branch_labels = None
depends_on = None

Stamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column(
            "user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("created", Stamp, nullable=False),
        sa.Column("last_seen", Stamp, nullable=False),
        sa.Column("client", sa.String(64), nullable=True),
    )
    op.create_index("ix_web_sessions_user_id", "web_sessions", ["user_id"])
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("disabled", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("password_changed", Stamp, nullable=True))
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("name", sa.String(100), nullable=False, server_default=""))
        batch.add_column(sa.Column("expires", Stamp, nullable=True))
        batch.add_column(sa.Column("revoked", Stamp, nullable=True))
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("role", sa.String(20), nullable=True))
        batch.add_column(sa.Column("client", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("client")
        batch.drop_column("role")
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("revoked")
        batch.drop_column("expires")
        batch.drop_column("name")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("password_changed")
        batch.drop_column("disabled")
    op.drop_index("ix_web_sessions_user_id", "web_sessions")
    op.drop_table("web_sessions")
