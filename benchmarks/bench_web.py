"""Web API load test: concurrent clients creating and assessing cases, on SQLite and PostgreSQL.

Each backend gets a fresh database and its own uvicorn server in a subprocess on 127.0.0.1.
Every client loops POST /api/cases then GET /api/cases/{id}/assessment until the time is up
(each request has a timeout, so the run is bounded and stops by itself). Afterwards every
case the server acknowledged (201) is read back through the API: a missing or different one
is a lost write.

    .venv/bin/python benchmarks/bench_web.py --seconds 60 --clients 50

Prints JSON and writes benchmarks/results/web.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

sys.path.insert(0, str(ROOT / "benchmarks"))

import _report  # noqa: E402

from rplcare.store import pgtemp  # noqa: E402

REQUEST_TIMEOUT = 30.0


def case_for(client: int, n: int) -> dict[str, Any]:
    """A pregnant RPL case with serial hCG, varied per request so no two inputs are equal."""
    first = 1500 + (client * 37 + n * 11) % 2000
    return {
        "format": "rplcare.case/1",
        "id": f"bench-{client:02d}-{n:06d}",
        "assessed_on": "2026-11-20",
        "patient": {"age_years": 25 + (client + n) % 18, "bmi": 20 + (n % 12)},
        "pregnancies": [
            {"outcome": "miscarriage", "ga": "8+0", "year": 2024},
            {"outcome": "miscarriage", "ga": f"{6 + n % 4}+2", "year": 2025},
        ],
        "results": [
            {"test": "hcg", "value": first, "unit": "IU/L", "date": "2026-11-10"},
            {
                "test": "hcg",
                "value": first * (1.2 + (n % 8) / 10),
                "unit": "IU/L",
                "date": "2026-11-12",
            },
            {"test": "tsh", "value": 1.5 + (n % 40) / 10, "unit": "mIU/L", "date": "2026-10-01"},
        ],
        "current_pregnancy": {
            "lmp": "2026-10-06",
            "conception": "natural",
            "symptoms": ["bleeding"] if n % 2 else [],
            "scans": [
                {
                    "date": "2026-11-20",
                    "location": "intrauterine",
                    "msd_mm": 16,
                    "yolk_sac": True,
                    "embryo": True,
                    "crl_mm": 4.2,
                    "heartbeat": True,
                }
            ],
        },
    }


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _seed_user(url: str) -> str:
    from rplcare.store import repository as repo
    from rplcare.store.db import Store

    store = Store(url)
    try:
        with store.write() as s:
            return repo.issue_token(s, repo.create_user(s, "bench", "clinician", None))
    finally:
        store.dispose()


class Server:
    def __init__(self, url: str, workdir: Path):
        self.port = pgtemp.free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT / "src"),
            "RPLCARE_DATABASE_URL": url,
            "RPLCARE_SECRET_KEY": "bench",
        }
        self.log = (workdir / "server.log").open("w")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "rplcare.web.app:create_app",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--no-access-log",
                "--log-level",
                "warning",
                "--timeout-keep-alive",
                "30",
            ],
            env=env,
            cwd=workdir,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{self.base}/healthz", timeout=2):
                    return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("server did not start") from None
                time.sleep(0.2)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


async def _load(base: str, token: str, clients: int, seconds: float) -> dict[str, Any]:
    import httpx

    headers = {"Authorization": f"Bearer {token}"}
    lat: dict[str, list[float]] = {"create": [], "assess": []}
    errors: dict[str, int] = {}
    acknowledged: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + seconds

    def err(key: str) -> None:
        errors[key] = errors.get(key, 0) + 1

    async def client(i: int, http: httpx.AsyncClient) -> None:
        n = 0
        while time.monotonic() < deadline:
            body = case_for(i, n)
            n += 1
            t0 = time.perf_counter()
            try:
                r = await http.post("/api/cases", json=body)
            except httpx.HTTPError as exc:
                err(f"create:{type(exc).__name__}")
                continue
            lat["create"].append(time.perf_counter() - t0)
            if r.status_code != 201:
                err(f"create:{r.status_code}")
                continue
            acknowledged[body["id"]] = body
            t0 = time.perf_counter()
            try:
                r = await http.get(f"/api/cases/{body['id']}/assessment")
            except httpx.HTTPError as exc:
                err(f"assess:{type(exc).__name__}")
                continue
            lat["assess"].append(time.perf_counter() - t0)
            if r.status_code != 200 or r.json().get("case_id") != body["id"]:
                err(f"assess:{r.status_code}")

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    started = time.monotonic()
    async with httpx.AsyncClient(
        base_url=base, headers=headers, limits=limits, timeout=REQUEST_TIMEOUT
    ) as http:
        await asyncio.gather(*(client(i, http) for i in range(clients)))
        elapsed = time.monotonic() - started
        lost = await _read_back(http, acknowledged)
    every = lat["create"] + lat["assess"]
    ms = 1000.0
    return {
        "duration_s": round(elapsed, 1),
        "requests": len(every),
        "requests_per_s": round(len(every) / elapsed, 1),
        "cases_created": len(acknowledged),
        "latency_ms": {
            "p50": round(_pct(every, 0.50) * ms, 1) if every else None,
            "p99": round(_pct(every, 0.99) * ms, 1) if every else None,
            "mean": round(statistics.fmean(every) * ms, 1) if every else None,
        },
        "latency_ms_by_op": {
            op: {"p50": round(_pct(v, 0.5) * ms, 1), "p99": round(_pct(v, 0.99) * ms, 1)}
            for op, v in lat.items()
            if v
        },
        "errors": sum(errors.values()),
        "errors_by_kind": errors,
        "writes_lost": lost,
    }


async def _read_back(http: Any, acknowledged: dict[str, dict[str, Any]]) -> int:
    """Read every acknowledged case back through the API; count the missing or altered."""
    sem = asyncio.Semaphore(20)
    lost = 0

    async def check(case_id: str, sent: dict[str, Any]) -> None:
        nonlocal lost
        async with sem:
            for _ in range(3):
                try:
                    r = await http.get(f"/api/cases/{case_id}")
                    break
                except Exception:
                    await asyncio.sleep(0.5)
            else:
                lost += 1
                return
        if r.status_code != 200:
            lost += 1
            return
        got = r.json()
        if got.get("id") != case_id or got["results"][0]["value"] != sent["results"][0]["value"]:
            lost += 1

    await asyncio.gather(*(check(k, v) for k, v in acknowledged.items()))
    return lost


def run_backend(name: str, url: str, clients: int, seconds: float, workdir: Path) -> dict[str, Any]:
    token = _seed_user(url)
    server = Server(url, workdir)
    try:
        result = asyncio.run(_load(server.base, token, clients, seconds))
    finally:
        server.stop()
    log = (workdir / "server.log").read_text()
    if log.strip():
        result["server_log_tail"] = log.splitlines()[-20:]
    return {"backend": name, **result}


def markdown(report: dict[str, Any], load_before: list[float]) -> str:
    headers = ["backend", "requests/s", "p50 ms", "p99 ms", "cases", "errors", "lost writes"]
    rows = []
    for name, r in report["results"].items():
        if skipped := _report.skipped_row(name, r, len(headers)):
            rows.append(skipped)
            continue
        lat = r.get("latency_ms") or {}
        rows.append(
            (
                name,
                r.get("requests_per_s"),
                lat.get("p50"),
                lat.get("p99"),
                r.get("cases_created"),
                r.get("errors"),
                r.get("writes_lost"),
            )
        )
    return _report.section(
        "Web API under concurrent clients",
        load_before,
        f"`python benchmarks/bench_web.py --seconds {report['seconds']:g} --clients "
        f"{report['clients']}`: each client loops POST /api/cases + GET its assessment "
        "(uvicorn in a subprocess on loopback, the clients in this process); every "
        "acknowledged case is read back afterwards (lost writes).",
        _report.table(headers, rows),
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--backends", default="sqlite,postgres")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "web.json")
    _report.add_common_args(ap)
    args = ap.parse_args(argv)
    if args.quick:
        args.seconds, args.clients, args.backends = 2.0, 2, "sqlite"
    load_before = _report.loadavg()
    if not 1 <= args.clients <= 500 or not 0 < args.seconds <= 600:
        ap.error("clients must be 1-500 and seconds 0-600")
    report: dict[str, Any] = {
        "benchmark": "web API: POST /api/cases + GET assessment per iteration",
        "clients": args.clients,
        "seconds": args.seconds,
        "machine": _report.machine(),
        "results": {},
    }
    for name in args.backends.split(","):
        with tempfile.TemporaryDirectory(prefix=f"rplcare-bench-{name}-") as tmp:
            work = Path(tmp)
            if name == "sqlite":
                report["results"][name] = run_backend(
                    name, f"sqlite:///{work / 'bench.db'}", args.clients, args.seconds, work
                )
            elif name == "postgres":
                reason = pgtemp.unavailable_reason()
                if reason:
                    report["results"][name] = {"skipped": reason}
                    continue
                with pgtemp.TempPostgres() as pg:
                    report["results"][name] = run_backend(
                        name, pg.create_database("bench"), args.clients, args.seconds, work
                    )
            else:
                ap.error(f"unknown backend {name!r}")
        print(json.dumps(report["results"][name]), file=sys.stderr)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    _report.write_section("web", markdown(report, load_before), path=args.report, quick=args.quick)
    failed = any(r.get("errors") or r.get("writes_lost") for r in report["results"].values())
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
