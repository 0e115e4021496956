"""Stores for the registry tests: SQLite and the real PostgreSQL of tests/web (pgtemp)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("sqlalchemy")
pytest.importorskip("scipy")

from rplcare.store import pgtemp

_counter = itertools.count()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[pgtemp.TempPostgres]:
    reason = pgtemp.unavailable_reason()
    if reason:
        pytest.skip(reason)
    with pgtemp.TempPostgres() as pg:
        yield pg


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'registry.db'}"
    pg: pgtemp.TempPostgres = request.getfixturevalue("pg_server")
    return pg.create_database(f"o{next(_counter)}")
