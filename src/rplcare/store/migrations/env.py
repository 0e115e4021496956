"""Alembic environment: the engine comes from `rplcare.store.db.alembic_config`, not a file."""

from __future__ import annotations

from alembic import context

from rplcare.store.models import Base

config = context.config
engine = config.attributes.get("engine")
if engine is None:
    from rplcare.store.db import make_engine

    engine = make_engine()

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
