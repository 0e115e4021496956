"""Engine, sessions and migrations: SQLite at `var/rplcare.db` by default, else
`RPLCARE_DATABASE_URL` (PostgreSQL through psycopg 3).

SQLite gets WAL and foreign keys, and write transactions start with `BEGIN IMMEDIATE`: a
deferred transaction that reads and then writes can fail with "database is locked" under
concurrent writers, whereas an immediate one just waits its turn (busy_timeout).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

DEFAULT_SQLITE = Path("var") / "rplcare.db"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_WRITE = "rplcare_write"


def database_url(url: str | None = None) -> str:
    """The URL to use: the argument, else `RPLCARE_DATABASE_URL`, else `var/rplcare.db`.

    A bare `postgresql://` URL is given the psycopg 3 driver, the one rplcare ships with.
    """
    url = url or os.environ.get("RPLCARE_DATABASE_URL") or ""
    if not url:
        DEFAULT_SQLITE.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{DEFAULT_SQLITE}"
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _private_sqlite_file(url: str) -> None:
    """Create the SQLite file mode 0600 before SQLite does (it would use the umask, often
    0644: the care record readable by every local user). SQLite gives -wal / -shm the same."""
    path = url.split("///", 1)[1] if "///" in url else ""
    if not path or path.startswith(":memory:") or "?" in path or os.path.exists(path):
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def make_engine(url: str | None = None) -> Engine:
    url = database_url(url)
    if url.startswith("sqlite"):
        _private_sqlite_file(url)
        engine = create_engine(
            url, pool_size=20, max_overflow=40, pool_timeout=60, connect_args={"timeout": 60}
        )
        _sqlite_setup(engine)
        return engine
    return create_engine(url, pool_size=20, max_overflow=20, pool_timeout=60, pool_pre_ping=True)


def _sqlite_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves, below
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        write = conn.get_execution_options().get(_WRITE)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


class Store:
    """An engine with a reader and a writer session factory; one per app or command."""

    def __init__(self, url: str | None = None, *, migrate: bool = True):
        self.url = database_url(url)
        self.engine = make_engine(self.url)
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(
            self.engine.execution_options(**{_WRITE: True}), expire_on_commit=False
        )
        # SQLite has one writer at a time; queueing writers on a lock in this process wakes
        # them as soon as the writer ends, instead of SQLite's sleeping busy handler, which
        # gives long, unfair waits under load. BEGIN IMMEDIATE still guards other processes.
        self._writer = threading.Lock() if self.engine.dialect.name == "sqlite" else None
        if migrate:
            upgrade(self.engine)
        from rplcare.outcomes.facts import install  # registry rows follow every case write

        install()

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._read() as session, session.begin():
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A transaction that commits on success and rolls everything back on any error."""
        if self._writer is None:
            with self._write() as session, session.begin():
                yield session
            return
        with self._writer, self._write() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()


def alembic_config(engine: Engine) -> Any:
    """An Alembic Config built in code (no alembic.ini), bound to `engine`."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(alembic_config(engine), revision)
