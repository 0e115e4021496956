"""A throwaway PostgreSQL cluster from Debian's binaries, for the tests and the benchmark.

It runs `initdb` and `pg_ctl` from `/usr/lib/postgresql/<version>/bin` on a free localhost port
with its socket in the same temporary directory. PostgreSQL refuses to run as root, so under
root the directory is given to the `postgres` user and every command runs through `runuser`.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

SERVER_OPTIONS = (
    "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
    "-c max_connections=200 -c shared_buffers=64MB"
)


def find_bin() -> Path | None:
    """The newest installed PostgreSQL bin directory with initdb and pg_ctl, if any."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: (
            int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0
        ),
    )
    for initdb in reversed(found):
        bindir = Path(initdb).parent
        if (bindir / "pg_ctl").exists():
            return bindir
    return None


def unavailable_reason() -> str | None:
    """Why a temporary cluster cannot start here, or None when it can."""
    if find_bin() is None:
        return (
            "PostgreSQL binaries not found in /usr/lib/postgresql/*/bin "
            "(apt-get install postgresql)"
        )
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no 'postgres' user to run the server as"
        if shutil.which("runuser") is None:
            return "running as root and runuser is missing"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TempPostgres:
    """`with TempPostgres() as pg: pg.create_database("x")` → a psycopg URL; stopped on exit."""

    def __init__(self) -> None:
        reason = unavailable_reason()
        if reason:
            raise RuntimeError(reason)
        self.bindir = find_bin()
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="rplcare-pg-"))
        self.data = self.dir / "data"
        self.user = "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
        self._started = False

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = [str(a) for a in args]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=120)

    def start(self) -> TempPostgres:
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        os.chmod(self.dir, 0o700)
        self._run(
            f"{self.bindir}/initdb",
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            self.user,
            "-E",
            "UTF8",
            "--no-locale",
            "--no-sync",
        )
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 {SERVER_OPTIONS}"
        self._run(
            f"{self.bindir}/pg_ctl",
            "-D",
            str(self.data),
            "-o",
            opts,
            "-w",
            "-t",
            "60",
            "-l",
            str(self.dir / "server.log"),
            "start",
        )
        self._started = True
        return self

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user={self.user} dbname=postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        if self._started:
            with contextlib.suppress(subprocess.SubprocessError):
                self._run(
                    f"{self.bindir}/pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop"
                )
            self._started = False
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> TempPostgres:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
