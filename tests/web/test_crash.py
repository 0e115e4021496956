"""Durability (issue 10): no acknowledged write is lost when the server is killed with
SIGKILL mid-load, on SQLite (WAL) — rounds of start, write, kill -9, restart, check."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[2]
ROUNDS = 4


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(db: Path, port: int, log: Path) -> subprocess.Popen:
    code = (
        "import uvicorn; from rplcare.web.app import create_app;"
        f"uvicorn.run(create_app({f'sqlite:///{db}'!r}, secret_key='k', secure_cookies=False),"
        f" host='127.0.0.1', port={port}, log_level='warning')"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen(
        [sys.executable, "-c", code], env=env, stdout=log.open("a"), stderr=subprocess.STDOUT
    )
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("server did not start: " + log.read_text()[-2000:])


def test_kill_9_loses_no_acknowledged_write(tmp_path):
    from rplcare.store import repository as repo
    from rplcare.store.db import Store

    db = tmp_path / "crash.db"
    store = Store(f"sqlite:///{db}")
    with store.write() as s:
        token = repo.issue_token(s, repo.create_user(s, "w", "clinician", None))
    store.dispose()
    base = yaml.safe_load((ROOT / "examples" / "thyroid-two-losses.yaml").read_text())
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    acked: list[str] = []
    log = tmp_path / "server.log"
    for rnd in range(ROUNDS):
        port = _free_port()
        proc = _start(db, port, log)
        stop = threading.Event()

        def writer(w: int, rnd: int = rnd, port: int = port, stop: threading.Event = stop) -> None:
            i = 0
            with httpx.Client(timeout=10) as c:
                while not stop.is_set():
                    case = {**base, "id": f"r{rnd}-w{w}-{i}"}
                    try:
                        r = c.post(
                            f"http://127.0.0.1:{port}/api/cases",
                            content=json.dumps(case, default=str),
                            headers=headers,
                        )
                    except httpx.HTTPError:
                        return
                    if r.status_code == 201:
                        acked.append(case["id"])
                    i += 1

        threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30
        while (
            len([a for a in acked if a.startswith(f"r{rnd}-")]) < 10 and time.monotonic() < deadline
        ):
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        stop.set()
        for t in threads:
            t.join()
    store = Store(f"sqlite:///{db}")
    try:
        with store.read() as s:
            stored = {c.id for c, _ in repo.list_cases(s, limit=100_000)}
    finally:
        store.dispose()
    lost = [a for a in acked if a not in stored]
    print(f"\nkill -9: {ROUNDS} rounds, {len(acked)} acknowledged writes, {len(lost)} lost")
    assert len(acked) >= ROUNDS * 10 and lost == []
