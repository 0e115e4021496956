"""Latency of the CDS Hooks patient-view service under a fixed request rate, on loopback.

Starts the standalone app with uvicorn on 127.0.0.1 (a free port) in a subprocess, then drives
`POST /cds-services/rplcare-patient-view` with the APS example as prefetch from this process:

1. the baseline: `--rate` requests/s (default 200) for `--seconds` (default 60);
2. a step-up: higher rates for `--step-seconds` each, until p99 exceeds `--p99-ms` (25 ms),
   a request fails, or the server falls behind; the last rate that passed is reported.

Open loop: requests are sent on a fixed schedule whatever the server does, and latency is
measured from the *scheduled* send time, so queueing inside the client or server counts
(no coordinated omission). A small HTTP/1.1 client on asyncio streams keeps the driver cheap,
because driver and server share the same cores. Every run is bounded and stops by itself.

    python benchmarks/bench_cds.py [--seconds 60] [--workers 1] [--jwt]

Prints a JSON summary and writes it to benchmarks/results/cds.json.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

PATH = "/cds-services/rplcare-patient-view"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def aps_request() -> dict[str, Any]:
    """The APS example as a complete patient-view prefetch (searchset Bundles per key)."""
    from rplcare.case.loader import load_case
    from rplcare.interop.fhir import case_to_bundle

    case = load_case(ROOT / "examples" / "aps-three-losses.yaml", today=date.today())
    entries = case_to_bundle(case)["entry"]

    def searchset(rtype: str) -> dict[str, Any]:
        hits = [e for e in entries if e["resource"]["resourceType"] == rtype]
        return {"resourceType": "Bundle", "type": "searchset", "total": len(hits), "entry": hits}

    patient = entries[0]["resource"]
    return {
        "hook": "patient-view",
        "hookInstance": str(uuid.uuid4()),
        "context": {"patientId": patient["id"], "userId": "Practitioner/bench"},
        "prefetch": {
            "patient": patient,
            "observations": searchset("Observation"),
            "conditions": searchset("Condition"),
            "medicationStatements": searchset("MedicationStatement"),
            "medicationRequests": None,
        },
    }


class Signer:
    """ES384 client JWTs, one per request (the server rejects a reused jti)."""

    def __init__(self, port: int, workdir: Path) -> None:
        import jwt
        from cryptography.hazmat.primitives.asymmetric import ec
        from jwt.algorithms import ECAlgorithm

        self._jwt = jwt
        self.key = ec.generate_private_key(ec.SECP384R1())
        public = ECAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        public.update({"kid": "bench", "use": "sig", "alg": "ES384"})
        self.clients = workdir / "clients.json"
        self.clients.write_text(
            json.dumps([{"iss": "https://bench.invalid/", "jwks": {"keys": [public]}}])
        )
        self.aud = f"http://127.0.0.1:{port}{PATH}"

    def token(self) -> str:
        now = int(time.time())
        return self._jwt.encode(
            {
                "iss": "https://bench.invalid/",
                "aud": self.aud,
                "iat": now,
                "exp": now + 300,
                "jti": uuid.uuid4().hex,
            },
            self.key,
            algorithm="ES384",
            headers={"kid": "bench", "typ": "JWT"},
        )


class Pool:
    """Keep-alive HTTP/1.1 connections to the server; one request per connection at a time."""

    def __init__(self, port: int, size: int) -> None:
        self.port = port
        self.size = size
        self.free: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter] | None] = (
            asyncio.Queue()
        )

    async def start(self) -> None:
        for _ in range(self.size):
            self.free.put_nowait(None)  # opened lazily

    async def request(self, payload: bytes) -> tuple[int, bytes]:
        conn = await self.free.get()
        try:
            if conn is None:
                conn = await asyncio.open_connection("127.0.0.1", self.port)
            reader, writer = conn
            writer.write(payload)
            await writer.drain()
            status_line = await reader.readline()
            status = int(status_line.split()[1])
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.decode("latin-1").partition(":")
                if name.lower() == "content-length":
                    length = int(value.strip())
            body = await reader.readexactly(length)
            self.free.put_nowait(conn)
            return status, body
        except Exception:
            if conn is not None:
                conn[1].close()
            self.free.put_nowait(None)
            raise

    async def close(self) -> None:
        while not self.free.empty():
            conn = self.free.get_nowait()
            if conn is not None:
                conn[1].close()


def http_payload(port: int, body: bytes, token: str | None) -> bytes:
    head = [
        f"POST {PATH} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
    ]
    if token:
        head.append(f"Authorization: Bearer {token}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


async def drive(
    port: int, body: bytes, rate: float, seconds: float, signer: Signer | None, connections: int
) -> dict[str, Any]:
    """Send `rate` requests/s for `seconds`; latency from the scheduled send time."""
    total = int(rate * seconds)
    payloads = (
        [http_payload(port, body, signer.token() if signer else None) for _ in range(total)]
        if signer
        else None
    )
    shared = None if signer else http_payload(port, body, None)
    pool = Pool(port, connections)
    await pool.start()
    latencies: list[float] = []
    service: list[float] = []
    errors: dict[str, int] = {}
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.05

    async def one(i: int, scheduled: float) -> None:
        sent = loop.time()
        try:
            status, data = await asyncio.wait_for(
                pool.request(payloads[i] if payloads else shared), timeout=5
            )  # type: ignore[arg-type]
            done = loop.time()
            if status != 200 or not json.loads(data).get("cards"):
                errors[f"status {status}"] = errors.get(f"status {status}", 0) + 1
                return
            latencies.append((done - scheduled) * 1000)
            service.append((done - sent) * 1000)
        except Exception as exc:  # a benchmark counts failures, it does not stop on them
            errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1

    tasks = []
    for i in range(total):
        scheduled = start + i / rate
        delay = scheduled - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, scheduled)))
    await asyncio.gather(*tasks)
    elapsed = loop.time() - start
    await pool.close()
    return {
        "rate_target": rate,
        "seconds": seconds,
        "requests": total,
        "ok": len(latencies),
        "errors": errors,
        "achieved_rps": round(len(latencies) / elapsed, 1),
        "p50_ms": round(percentile(latencies, 50), 2),
        "p90_ms": round(percentile(latencies, 90), 2),
        "p99_ms": round(percentile(latencies, 99), 2),
        "max_ms": round(max(latencies, default=float("nan")), 2),
        "service_p50_ms": round(percentile(service, 50), 2),
        "service_p99_ms": round(percentile(service, 99), 2),
    }


def start_server(port: int, workers: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "rplcare.interop.cds:create_cds_app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as s:
                s.sendall(b"GET /cds-services HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if s.recv(64).startswith(b"HTTP/1.1 200"):
                    return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("CDS server did not start")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=60, help="baseline duration")
    ap.add_argument("--rate", type=float, default=200, help="baseline requests/s")
    ap.add_argument("--step-seconds", type=float, default=10, help="duration of each step")
    ap.add_argument("--p99-ms", type=float, default=25.0, help="p99 limit for the step-up")
    ap.add_argument("--max-rate", type=float, default=3000)
    ap.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    ap.add_argument("--connections", type=int, default=64, help="keep-alive connections")
    ap.add_argument("--jwt", action="store_true", help="sign an ES384 client JWT per request")
    ap.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "cds.json")
    args = ap.parse_args(argv)

    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    workdir = Path(tempfile.mkdtemp(prefix="rplcare-bench-"))
    signer = Signer(port, workdir) if args.jwt else None
    if signer:
        env["RPLCARE_CDS_CLIENTS"] = str(signer.clients)
        env.pop("RPLCARE_CDS_ALLOW_UNAUTHENTICATED", None)
    else:
        env["RPLCARE_CDS_ALLOW_UNAUTHENTICATED"] = "1"
    body = json.dumps(aps_request()).encode()
    # The driver imported rplcare to build the request; freeze that heap so the driver's own
    # full collections do not show up as server latency.
    gc.collect()
    gc.freeze()
    load_before = os.getloadavg()
    server = start_server(port, args.workers, env)
    try:
        asyncio.run(drive(port, body, 50, 2, signer, args.connections))  # warm-up
        baseline = asyncio.run(drive(port, body, args.rate, args.seconds, signer, args.connections))
        steps = []
        best = None
        rate = args.rate
        while rate <= args.max_rate:
            step = asyncio.run(drive(port, body, rate, args.step_seconds, signer, args.connections))
            step["passed"] = (
                not step["errors"]
                and step["p99_ms"] <= args.p99_ms
                and step["achieved_rps"] >= 0.97 * rate
            )
            steps.append(step)
            print(
                json.dumps(
                    {
                        k: step[k]
                        for k in (
                            "rate_target",
                            "achieved_rps",
                            "p50_ms",
                            "p99_ms",
                            "errors",
                            "passed",
                        )
                    }
                ),
                file=sys.stderr,
            )
            if not step["passed"]:
                break
            best = rate
            rate = rate + (100 if rate < 1000 else 250)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
    summary = {
        "benchmark": "cds patient-view, APS example as prefetch, loopback",
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "loadavg_before": [round(x, 2) for x in load_before],
            "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        },
        "config": {
            "workers": args.workers,
            "jwt": args.jwt,
            "connections": args.connections,
            "p99_limit_ms": args.p99_ms,
            "step_seconds": args.step_seconds,
            "request_bytes": len(body),
        },
        "baseline": baseline,
        "steps": steps,
        "max_sustained_rps": best,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
