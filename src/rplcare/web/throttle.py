"""Login throttling and bounded password hashing.

Throttle (per process, in memory; failures decay after `WINDOW_S` without one):

- per (account, client): 5 free failures, then a wait doubling from 1 s up to 15 min. This
  is what stops one guesser; it only ever delays that guesser's own pair.
- per client address (any account): 30 free failures, then doubling up to 5 min (password
  spraying from one address).
- per account (any client): 10 free failures, then doubling up to 30 s. This is the only
  limit an attacker elsewhere can push on a clinician, so it is capped short: a clinician is
  never locked out for more than 30 s at a time.

While a key waits, the login is answered 429 with `Retry-After`, without checking the password
(so guesses during the wait tell nothing). A successful login clears the (account, client)
and client counters.

Argon2 runs in its own small thread pool (`workers`, default 2) with a bounded queue
(`queue`, default 16): beyond that a login is answered 503 at once instead of piling up
threads that take every core from clinicians' page loads.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")
WINDOW_S = 15 * 60


@dataclass
class _Rule:
    free: int
    cap_s: float


RULES = {
    "pair": _Rule(free=5, cap_s=15 * 60),
    "client": _Rule(free=30, cap_s=5 * 60),
    "account": _Rule(free=10, cap_s=30),
}


@dataclass
class _Count:
    failures: int = 0
    last: float = 0.0
    until: float = 0.0


@dataclass
class LoginThrottle:
    clock: Callable[[], float] = time.monotonic
    _counts: dict[tuple[str, str], _Count] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _keys(self, account: str, client: str) -> list[tuple[str, str]]:
        account = account.strip().lower()[:100]
        return [("pair", f"{account}\x00{client}"), ("client", client), ("account", account)]

    def wait(self, account: str, client: str) -> float:
        """Seconds before this login may be tried (0: now)."""
        now = self.clock()
        with self._lock:
            waits = [
                c.until - now
                for key in self._keys(account, client)
                if (c := self._counts.get(key)) is not None and c.until > now
            ]
        return max(waits, default=0.0)

    def failed(self, account: str, client: str) -> float:
        """Record a failure; the wait it starts (0 while still within the free tries)."""
        now = self.clock()
        longest = 0.0
        with self._lock:
            if len(self._counts) > 100_000:  # bounded memory under a flood of names
                self._expire(now)
            for key in self._keys(account, client):
                c = self._counts.setdefault(key, _Count())
                if now - c.last > WINDOW_S:
                    c.failures = 0
                c.failures += 1
                c.last = now
                rule = RULES[key[0]]
                over = c.failures - rule.free
                if over > 0:
                    c.until = now + min(2.0 ** (over - 1), rule.cap_s)
                    longest = max(longest, c.until - now)
        return longest

    def succeeded(self, account: str, client: str) -> None:
        with self._lock:
            for key in self._keys(account, client)[:2]:
                self._counts.pop(key, None)

    def _expire(self, now: float) -> None:
        for key in [k for k, c in self._counts.items() if now - c.last > WINDOW_S]:
            del self._counts[key]


class Busy(Exception):
    """Too many password checks queued: answer 503 now."""


class BoundedHasher:
    """Password hashing off the event loop, in `workers` threads, at most `queue` waiting."""

    def __init__(self, workers: int | None = None, queue: int | None = None) -> None:
        self.workers = workers or int(os.environ.get("RPLCARE_ARGON2_WORKERS", "2"))
        self.queue = queue or int(os.environ.get("RPLCARE_ARGON2_QUEUE", "16"))
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="argon2")
        self._pending = 0
        self._lock = threading.Lock()

    async def run(self, fn: Callable[[], T]) -> T:
        with self._lock:
            if self._pending >= self.workers + self.queue:
                raise Busy()
            self._pending += 1
        try:
            import contextvars

            ctx = contextvars.copy_context()
            return await asyncio.get_running_loop().run_in_executor(self._pool, ctx.run, fn)
        finally:
            with self._lock:
                self._pending -= 1

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
