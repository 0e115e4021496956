"""CDS JWKS fetching under attack (issue 10 §5): a JWKS host trickling one byte at a time is
abandoned at the fetch deadline and holds one worker, not all of them (single flight), so
`/healthz` keeps answering; an oversized JWK Set is refused without being held in memory;
the jti replay cache is partitioned per issuer, so one issuer cannot lock out another.

Everything runs on 127.0.0.1: the slow servers are raw sockets started here."""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient

from rplcare.interop.cds.auth import CdsAuthError, JtiReplayCache, httpx_jwks_fetcher


class SlowServer:
    """Answers every connection with HTTP headers, then `body` one chunk every `gap_s`."""

    def __init__(self, chunk: bytes, gap_s: float, total: int, length: int | None = None):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.chunk, self.gap_s, self.total, self.length = chunk, gap_s, total, length
        self.connections = 0
        self.sent = 0
        self.open = 0
        self.dropped = threading.Event()
        self._stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/jwks"

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        self.open += 1
        try:
            conn.recv(65536)
            length = f"Content-Length: {self.length}\r\n" if self.length else ""
            conn.sendall(
                f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{length}\r\n".encode()
            )
            while self.sent < self.total and not self._stop.is_set():
                conn.sendall(self.chunk)
                self.sent += len(self.chunk)
                if self.gap_s:
                    time.sleep(self.gap_s)
        except OSError:
            self.dropped.set()  # the client gave up on us
        finally:
            self.open -= 1
            conn.close()

    def stop(self) -> None:
        self._stop.set()
        self.sock.close()


def test_trickling_jwks_is_abandoned_at_the_deadline():
    server = SlowServer(b" ", gap_s=0.2, total=10_000)
    try:
        fetch = httpx_jwks_fetcher(timeout_s=1.0)
        started = time.monotonic()
        with pytest.raises(CdsAuthError, match="deadline"):
            fetch(server.url)
        took = time.monotonic() - started
        assert server.sent < 100  # it stopped reading long before the body was done
        print(f"\ntrickle: fetch abandoned after {took:.2f} s, {server.sent} bytes read")
    finally:
        server.stop()


@pytest.mark.parametrize("declared", [300_000_000, None], ids=["content-length", "chunked"])
def test_oversized_jwks_is_refused_without_reading_it(declared):
    server = SlowServer(b"0" * 65_536, gap_s=0, total=300_000_000, length=declared)
    try:
        with pytest.raises(CdsAuthError, match="bytes"):
            httpx_jwks_fetcher(timeout_s=10.0, max_bytes=65_536)(server.url)
        time.sleep(0.2)
        assert server.sent < 20_000_000  # socket buffers, not 300 MB
    finally:
        server.stop()


def test_replay_cache_is_per_issuer():
    cache = JtiReplayCache(max_entries=2)
    assert cache.check_and_add("https://a/", "1", 100.0, 0.0)
    assert cache.check_and_add("https://a/", "2", 100.0, 0.0)
    with pytest.raises(CdsAuthError):
        cache.check_and_add("https://a/", "3", 100.0, 0.0)  # a's partition is full
    assert cache.check_and_add("https://b/", "1", 100.0, 0.0)  # b is not locked out
    assert cache.size("https://a/") == 2 and cache.size("https://b/") == 1


def test_healthz_answers_while_a_jwks_host_trickles(tmp_path: Path, monkeypatch):
    """30 CDS calls with a token whose key must be fetched from a host that trickles 1 byte
    every 0.5 s: one fetch (single flight), the others fail fast with 401, and /healthz
    answers throughout; the fetch is dropped at its deadline."""
    from rplcare.web.app import create_app

    server = SlowServer(b" ", gap_s=0.5, total=10_000)
    iss = "https://slow-ehr.example.org/"
    clients = tmp_path / "clients.json"
    clients.write_text(json.dumps([{"iss": iss, "jwks_url": server.url}]))
    monkeypatch.setenv("RPLCARE_CDS_CLIENTS", str(clients))
    monkeypatch.setenv("RPLCARE_CDS_JWKS_DEADLINE_S", "3")
    app = create_app(f"sqlite:///{tmp_path / 'x.db'}", secret_key="k", secure_cookies=False)
    key = ec.generate_private_key(ec.SECP384R1())
    aud = "http://testserver/cds-services/rplcare-patient-view"
    now = int(time.time())
    results: list[int] = []
    health: list[float] = []
    try:
        with TestClient(app) as client:

            def call() -> None:
                token = jwt.encode(
                    {
                        "iss": iss,
                        "aud": aud,
                        "iat": now,
                        "exp": now + 300,
                        "jti": str(uuid.uuid4()),
                    },
                    key,
                    algorithm="ES384",
                    headers={"kid": "k1", "typ": "JWT"},
                )
                r = client.post(
                    "/cds-services/rplcare-patient-view",
                    json={"hook": "patient-view", "hookInstance": str(uuid.uuid4()), "context": {}},
                    headers={"Authorization": f"Bearer {token}"},
                )
                results.append(r.status_code)

            callers = [threading.Thread(target=call) for _ in range(30)]
            for t in callers:
                t.start()
            while server.connections == 0:
                time.sleep(0.01)
            during = 0
            while any(t.is_alive() for t in callers) or server.open:
                started = time.monotonic()
                assert client.get("/healthz").status_code == 200
                health.append(time.monotonic() - started)
                during += bool(server.open)
                time.sleep(0.1)
            for t in callers:
                t.join()
        assert results == [401] * 30
        assert server.connections == 1  # single flight and the refresh interval
        assert during > 0  # /healthz answered while the JWKS host was still trickling
        assert server.sent < 100
        assert max(health) < 1.0  # issue 10: /healthz answers in < 1 s throughout
        print(
            f"\njwks trickle: {len(health)} /healthz calls during the attack, "
            f"slowest {max(health):.3f} s; {server.connections} fetch"
        )
    finally:
        server.stop()
