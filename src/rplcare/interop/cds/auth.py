"""Verification of the JWT a CDS Hooks 2.0 client sends with every call.

CDS Hooks 2.0.1 (§ *Trusting CDS Clients*) has the client sign a short-lived JWT with its own
private key and present it as ``Authorization: Bearer``; the service checks it against the
client's published JWK Set. The checks follow the spec and its best-practices page (issuer allow
list, exact ``aud``, ``exp``, ``tenant``, signature, ``jti`` replay) and add a cap on token
lifetime, because the spec sets none and an unbounded lifetime makes replay protection
unbounded too.

Tokens are never logged or put into exception messages: a captured token is a credential until
it expires.
"""

from __future__ import annotations

import heapq
import json
import logging
import math
import os
import re
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi import HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

__all__ = [
    "ALLOWED_ALGORITHMS",
    "ENV_CLIENTS",
    "ENV_LEEWAY",
    "ENV_MAX_LIFETIME",
    "ENV_PUBLIC_BASE_URL",
    "ENV_TRUST_FORWARDED",
    "CdsAuthError",
    "CdsAuthSettings",
    "CdsClient",
    "CdsClients",
    "CdsJwtVerifier",
    "JtiReplayCache",
    "JwksCache",
    "KeyNotCached",
    "called_url",
    "httpx_jwks_fetcher",
    "require_cds_jwt",
]

logger = logging.getLogger(__name__)

ENV_CLIENTS = "RPLCARE_CDS_CLIENTS"
ENV_MAX_LIFETIME = "RPLCARE_CDS_MAX_JWT_LIFETIME_S"
ENV_LEEWAY = "RPLCARE_CDS_JWT_LEEWAY_S"
ENV_TRUST_FORWARDED = "RPLCARE_CDS_TRUST_FORWARDED_HEADERS"
ENV_PUBLIC_BASE_URL = "RPLCARE_CDS_PUBLIC_BASE_URL"
ENV_JWKS_DEADLINE = "RPLCARE_CDS_JWKS_DEADLINE_S"
ENV_JWKS_MAX_BYTES = "RPLCARE_CDS_JWKS_MAX_BYTES"

#: The spec's RECOMMENDED algorithms. ``none`` and HMAC SHALL NOT be used; anything else is
#: refused so that a key's type can never be reinterpreted under another algorithm.
ALLOWED_ALGORITHMS: frozenset[str] = frozenset({"RS384", "ES384"})

_MIN_RSA_BITS = 2048
_MAX_TOKEN_CHARS = 16_384  # far above any real client token; bounds parsing work
_MAX_JTI_CHARS = 512
_HOST_RE = re.compile(r"^[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")

Clock = Callable[[], float]
JwksFetcher = Callable[[str], Mapping[str, Any]]


class CdsAuthError(Exception):
    """A CDS client JWT was rejected. The message is safe to log: it never holds the token."""


class KeyNotCached(Exception):
    """Verification needs a JWKS fetch, which must not run on the event loop (not a rejection)."""


# --------------------------------------------------------------------------------------------
# Settings and client configuration
# --------------------------------------------------------------------------------------------


def _env_float(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, got {raw!r}") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a non-negative number of seconds, got {raw!r}")
    return value


def _env_bool(environ: Mapping[str, str], name: str) -> bool:
    return environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class CdsAuthSettings:
    """Verification policy.

    ``max_lifetime_s`` defaults to one hour, the best-practices bound for jti storage; SMART's
    five-minute rule is not CDS Hooks' and would reject Epic's 900 s tokens.
    ``public_base_url`` (``scheme://host[:port]``, e.g. ``https://cds.example.org``) pins the
    scheme and host used to rebuild the ``aud`` URL; otherwise they come from the request, and from
    ``X-Forwarded-Proto``/``X-Forwarded-Host`` only if ``trust_forwarded_headers`` is set
    (safe only behind a proxy that overwrites them).
    """

    max_lifetime_s: float = 3600.0
    leeway_s: float = 30.0
    jwks_refresh_min_interval_s: float = 60.0
    jwks_fetch_timeout_s: float = 5.0  # overall deadline of one fetch (connect to last byte)
    jwks_max_bytes: int = 65_536  # a JWK Set is a few KB; a bigger answer is refused
    trust_forwarded_headers: bool = False
    public_base_url: str | None = None
    replay_cache_max_entries: int = 100_000

    def __post_init__(self) -> None:
        if self.max_lifetime_s <= 0:
            raise ValueError("max_lifetime_s must be positive")
        if self.leeway_s < 0:
            raise ValueError("leeway_s must not be negative")
        if self.public_base_url is not None and not re.match(
            r"^https?://[^/?#@]+/?$", self.public_base_url
        ):
            raise ValueError("public_base_url must be scheme://host[:port] only")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> CdsAuthSettings:
        """Read ``RPLCARE_CDS_*`` variables; unset ones keep the defaults."""
        env = os.environ if environ is None else environ
        defaults = cls()
        return cls(
            max_lifetime_s=_env_float(env, ENV_MAX_LIFETIME, defaults.max_lifetime_s),
            leeway_s=_env_float(env, ENV_LEEWAY, defaults.leeway_s),
            jwks_fetch_timeout_s=_env_float(env, ENV_JWKS_DEADLINE, defaults.jwks_fetch_timeout_s),
            jwks_max_bytes=int(_env_float(env, ENV_JWKS_MAX_BYTES, defaults.jwks_max_bytes)),
            trust_forwarded_headers=_env_bool(env, ENV_TRUST_FORWARDED),
            public_base_url=(env.get(ENV_PUBLIC_BASE_URL) or "").strip() or None,
        )


@dataclass(frozen=True)
class CdsClient:
    """One trusted CDS client (EHR): its issuer and where its public keys come from."""

    iss: str
    jwks: Mapping[str, Any] | None = None
    jwks_url: str | None = None
    tenants: frozenset[str] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.iss, str) or not self.iss:
            raise ValueError("client 'iss' must be a non-empty string")
        if self.jwks is None and self.jwks_url is None:
            raise ValueError(f"client {self.iss!r} needs 'jwks' or 'jwks_url'")
        if self.jwks is not None and (
            not isinstance(self.jwks, Mapping) or not isinstance(self.jwks.get("keys"), list)
        ):
            raise ValueError(f"client {self.iss!r}: 'jwks' must be a JWK Set with 'keys'")
        if self.jwks_url is not None and not self.jwks_url.startswith(("https://", "http://")):
            raise ValueError(f"client {self.iss!r}: 'jwks_url' must be an http(s) URL")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CdsClient:
        unknown = set(data) - {"iss", "jwks", "jwks_url", "tenants"}
        if unknown:
            # A typo such as "tenant" would silently drop a restriction.
            raise ValueError(f"unknown CDS client config keys: {sorted(unknown)}")
        tenants = data.get("tenants")
        if tenants is not None and (
            not isinstance(tenants, list) or not all(isinstance(t, str) for t in tenants)
        ):
            raise ValueError("client 'tenants' must be a list of strings")
        return cls(
            iss=data.get("iss"),  # type: ignore[arg-type]  # validated in __post_init__
            jwks=data.get("jwks"),
            jwks_url=data.get("jwks_url"),
            tenants=frozenset(tenants) if tenants is not None else None,
        )


class CdsClients:
    """The issuer allow list (``RPLCARE_CDS_CLIENTS`` names a JSON file holding it)."""

    def __init__(self, clients: Iterable[CdsClient]) -> None:
        self._by_iss: dict[str, CdsClient] = {}
        for client in clients:
            if client.iss in self._by_iss:
                raise ValueError(f"duplicate CDS client issuer {client.iss!r}")
            self._by_iss[client.iss] = client

    @classmethod
    def from_list(cls, data: Iterable[Mapping[str, Any]]) -> CdsClients:
        return cls(CdsClient.from_dict(item) for item in data)

    @classmethod
    def from_path(cls, path: str | os.PathLike[str]) -> CdsClients:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if not isinstance(data, list):
            raise ValueError(f"{path}: expected a JSON list of CDS clients")
        return cls.from_list(data)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> CdsClients:
        """Load from the file named by ``RPLCARE_CDS_CLIENTS``; unset means trust nobody."""
        env = os.environ if environ is None else environ
        path = env.get(ENV_CLIENTS)
        return cls.from_path(path) if path else cls(())

    def get(self, iss: str) -> CdsClient | None:
        return self._by_iss.get(iss)

    def __iter__(self) -> Iterator[CdsClient]:
        return iter(self._by_iss.values())

    def __len__(self) -> int:
        return len(self._by_iss)


# --------------------------------------------------------------------------------------------
# JWKS
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _VerificationKey:
    kid: str
    alg: str | None  # the JWK's own "alg", if it pins one
    key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey

    def allows(self, alg: str) -> bool:
        """Bind algorithm to key type so an RSA key is never used for ES384 or vice versa."""
        if self.alg is not None and self.alg != alg:
            return False
        if alg == "RS384":
            return isinstance(self.key, rsa.RSAPublicKey) and self.key.key_size >= _MIN_RSA_BITS
        if alg == "ES384":
            return isinstance(self.key, ec.EllipticCurvePublicKey) and isinstance(
                self.key.curve, ec.SECP384R1
            )
        return False


def _parse_jwks(jwks: Mapping[str, Any], source: str) -> dict[str, _VerificationKey]:
    """Keep the usable public signing keys of a JWK Set; skip (and log) the rest."""
    keys: dict[str, _VerificationKey] = {}
    ambiguous: set[str] = set()
    entries = jwks.get("keys") if isinstance(jwks, Mapping) else None
    if not isinstance(entries, list):
        raise CdsAuthError(f"JWK Set from {source} has no 'keys' list")
    for entry in entries:
        if not isinstance(entry, Mapping):
            continue
        kid = entry.get("kid")
        kty = entry.get("kty")
        if not isinstance(kid, str) or not kid:
            logger.warning("JWK without kid from %s skipped", source)
            continue
        if entry.get("use", "sig") != "sig" or "d" in entry:
            # A private key in a published set is a leak, not something to verify with.
            logger.warning("JWK %r from %s skipped: not a public signing key", kid, source)
            continue
        alg = entry.get("alg")
        if alg is not None and alg not in ALLOWED_ALGORITHMS:
            logger.warning("JWK %r from %s skipped: alg %r not allowed", kid, source, alg)
            continue
        try:
            if kty == "RSA":
                key = RSAAlgorithm.from_jwk(dict(entry))
            elif kty == "EC":
                key = ECAlgorithm.from_jwk(dict(entry))
            else:
                logger.warning("JWK %r from %s skipped: kty %r", kid, source, kty)
                continue
        except (jwt.InvalidKeyError, ValueError, TypeError, KeyError) as exc:
            logger.warning("JWK %r from %s skipped: %s", kid, source, type(exc).__name__)
            continue
        if not isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
            continue
        if kid in keys or kid in ambiguous:
            # The spec requires kid to be unique in the set; ambiguity means no key.
            logger.warning("duplicate kid %r in JWK Set from %s: dropped", kid, source)
            ambiguous.add(kid)
            keys.pop(kid, None)
            continue
        keys[kid] = _VerificationKey(kid, alg, key)
    return keys


def httpx_jwks_fetcher(timeout_s: float = 5.0, max_bytes: int = 65_536) -> JwksFetcher:
    """Fetch a JWK Set with httpx: no redirects, JSON object required, and bounded in both
    time and size. httpx's timeouts apply to each read, so a server trickling one byte every
    few seconds would never time out; here the whole fetch has one deadline (checked between
    chunks, and every read waits at most what is left of it) and the body is read in chunks
    up to `max_bytes`, so a 300 MB answer costs at most `max_bytes` of memory."""
    import httpx

    def fetch(url: str) -> Mapping[str, Any]:
        deadline = time.monotonic() + timeout_s

        def left() -> float:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise CdsAuthError(f"JWKS fetch over its {timeout_s:g} s deadline")
            return remaining

        with httpx.stream(
            "GET",
            url,
            timeout=httpx.Timeout(left()),
            follow_redirects=False,
            headers={"Accept": "application/jwk-set+json, application/json"},
        ) as response:
            response.raise_for_status()
            declared = response.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise CdsAuthError(f"JWKS of {declared} bytes, over {max_bytes}")
            body = bytearray()
            for chunk in response.iter_raw():  # as it arrives (a chunk size would wait)
                left()
                body += chunk
                if len(body) > max_bytes:
                    raise CdsAuthError(f"JWKS over {max_bytes} bytes")
            left()
        from rplcare.util.limits import parse_json

        data = parse_json(bytes(body))
        if not isinstance(data, dict):
            raise ValueError("JWK Set is not a JSON object")
        return data

    return fetch


@dataclass
class _IssuerKeys:
    keys: dict[str, _VerificationKey] = field(default_factory=dict)
    last_refresh_attempt: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


class JwksCache:
    """Per-issuer keys: static ``jwks`` from config, refreshed from ``jwks_url`` on demand.

    A refresh happens on first use and when a token names an unknown ``kid`` (key rotation),
    at most once per ``min_refresh_interval_s`` per issuer, so a flood of tokens with random
    kids cannot turn the service into a request amplifier against the client's JWKS host.
    The ``jku`` header is never dereferenced: only configured URLs are fetched.

    Single flight: while one request refreshes an issuer's keys, the others do not wait for
    it: they use the keys already cached, or fail fast (401). So a slow JWKS host holds at
    most one worker thread per issuer, for at most the fetch deadline, and the rest of the
    service (`/healthz` included) keeps answering.
    """

    def __init__(
        self,
        clients: CdsClients,
        *,
        fetcher: JwksFetcher | None = None,
        min_refresh_interval_s: float = 60.0,
        fetch_timeout_s: float = 5.0,
        max_bytes: int = 65_536,
        now: Clock = time.monotonic,
    ) -> None:
        self._clients = clients
        self._fetch = fetcher or httpx_jwks_fetcher(fetch_timeout_s, max_bytes)
        self._min_interval = min_refresh_interval_s
        self._now = now
        self._state: dict[str, _IssuerKeys] = {}
        self._state_lock = threading.Lock()
        for client in clients:
            state = _IssuerKeys()
            if client.jwks is not None:
                state.keys = _parse_jwks(client.jwks, f"config for {client.iss!r}")
            self._state[client.iss] = state

    def get_key(
        self, client: CdsClient, kid: str, *, fetch: bool = True
    ) -> _VerificationKey | None:
        """Return the key for ``kid``, refreshing once from ``jwks_url`` if it is unknown.

        With ``fetch=False`` a key that would need a network refresh raises `KeyNotCached`
        instead (the caller then retries from a worker thread).
        """
        with self._state_lock:
            state = self._state.setdefault(client.iss, _IssuerKeys())
        key = state.keys.get(kid)
        if key is not None or client.jwks_url is None:
            return key
        if not fetch:
            raise KeyNotCached(client.iss)
        if not state.lock.acquire(blocking=False):
            return None  # a refresh is in flight: fail fast rather than queue behind it
        try:
            key = state.keys.get(kid)  # another thread may have refreshed meanwhile
            if key is not None:
                return key
            now = self._now()
            if (
                state.last_refresh_attempt is not None
                and now - state.last_refresh_attempt < self._min_interval
            ):
                return None
            state.last_refresh_attempt = now
            try:
                fresh = _parse_jwks(self._fetch(client.jwks_url), client.jwks_url)
            except Exception as exc:  # network, HTTP status, JSON, bad set: all mean no new keys
                logger.warning(
                    "JWKS refresh for %r from %s failed: %s",
                    client.iss,
                    client.jwks_url,
                    type(exc).__name__,
                )
                return None
            # Static keys from config stay; fetched keys replace earlier fetched ones.
            static = _parse_jwks(client.jwks, f"config for {client.iss!r}") if client.jwks else {}
            state.keys = {**fresh, **static}
            return state.keys.get(kid)
        finally:
            state.lock.release()


# --------------------------------------------------------------------------------------------
# Replay cache
# --------------------------------------------------------------------------------------------


class JtiReplayCache:
    """Thread-safe in-memory set of seen ``(iss, jti)`` pairs, each kept until its expiry.

    One partition per issuer, each with its own cap (`max_entries`): one EHR sending many
    tokens fills only its own partition (and is refused when it is full: fail closed), never
    another issuer's. Per-process: a deployment with several workers needs a shared store (or
    sticky routing) for replay protection to hold across them.
    """

    def __init__(self, max_entries: int = 100_000) -> None:
        self._max = max_entries
        self._expiry: dict[str, dict[str, float]] = {}
        self._heap: dict[str, list[tuple[float, str]]] = {}
        self._lock = threading.Lock()

    def _purge(self, iss: str, now: float) -> None:
        heap, seen = self._heap.get(iss, []), self._expiry.get(iss, {})
        while heap and heap[0][0] <= now:
            expires_at, jti = heapq.heappop(heap)
            if seen.get(jti) == expires_at:
                del seen[jti]

    def check_and_add(self, iss: str, jti: str, expires_at: float, now: float) -> bool:
        """Record the pair; False if it was already seen and has not expired (a replay)."""
        with self._lock:
            for known in self._heap:  # a few configured issuers: cheap
                self._purge(known, now)
            seen = self._expiry.setdefault(iss, {})
            if jti in seen:
                return False
            if len(seen) >= self._max:
                # Fail closed: forgetting old jtis early would re-open replay.
                raise CdsAuthError(f"jti replay cache of {iss!r} full")
            seen[jti] = expires_at
            heapq.heappush(self._heap.setdefault(iss, []), (expires_at, jti))
            return True

    def size(self, iss: str) -> int:
        with self._lock:
            return len(self._expiry.get(iss, {}))

    def __len__(self) -> int:
        with self._lock:
            return sum(len(v) for v in self._expiry.values())


# --------------------------------------------------------------------------------------------
# Verifier
# --------------------------------------------------------------------------------------------


def _is_number(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def _short(value: object) -> str:
    """Attacker-controlled values are repr'd and truncated before they reach a log line."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class CdsJwtVerifier:
    """Checks a CDS client's bearer JWT; one instance is shared by all requests."""

    def __init__(
        self,
        clients: CdsClients,
        settings: CdsAuthSettings | None = None,
        *,
        fetcher: JwksFetcher | None = None,
        now: Clock = time.time,
        replay_cache: JtiReplayCache | None = None,
    ) -> None:
        self.clients = clients
        self.settings = settings or CdsAuthSettings()
        self._now = now
        self.jwks = JwksCache(
            clients,
            fetcher=fetcher,
            min_refresh_interval_s=self.settings.jwks_refresh_min_interval_s,
            fetch_timeout_s=self.settings.jwks_fetch_timeout_s,
            max_bytes=self.settings.jwks_max_bytes,
            now=now,
        )
        self.replay_cache = replay_cache or JtiReplayCache(self.settings.replay_cache_max_entries)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **kwargs: Any) -> CdsJwtVerifier:
        return cls(CdsClients.from_env(environ), CdsAuthSettings.from_env(environ), **kwargs)

    def verify(self, token: str, audience_url: str, *, fetch: bool = True) -> dict[str, Any]:
        """Return the claims of a valid token for ``audience_url``, else raise CdsAuthError.

        ``fetch=False``: never touch the network; raise `KeyNotCached` (before any check that
        has a side effect, so no ``jti`` is used up) when the key must be fetched first.
        """
        if not isinstance(token, str) or not token:
            raise CdsAuthError("missing token")
        if len(token) > _MAX_TOKEN_CHARS:
            raise CdsAuthError("token too long")

        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise CdsAuthError(f"malformed token ({type(exc).__name__})") from None

        alg = header.get("alg")
        if alg not in ALLOWED_ALGORITHMS:
            raise CdsAuthError(f"alg {_short(alg)} not allowed")
        typ = header.get("typ")
        if typ is not None and (not isinstance(typ, str) or typ.upper() != "JWT"):
            raise CdsAuthError(f"typ {_short(typ)} is not JWT")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise CdsAuthError("kid missing from header")

        iss = unverified.get("iss")
        client = self.clients.get(iss) if isinstance(iss, str) else None
        if client is None:
            raise CdsAuthError(f"issuer {_short(iss)} not on the allow list")

        key = self.jwks.get_key(client, kid, fetch=fetch)
        if key is None:
            raise CdsAuthError(f"unknown kid {_short(kid)} for issuer {iss!r}")
        if not key.allows(alg):
            raise CdsAuthError(f"key {kid!r} of {iss!r} cannot verify {alg}")

        try:
            claims = jwt.decode(
                token,
                key=key.key,
                algorithms=[alg],
                # Time, audience and issuer are checked below with the injected clock and
                # exact-match rules; PyJWT only verifies the signature here.
                options={
                    "verify_signature": True,
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                    "verify_aud": False,
                    "verify_iss": False,
                    "verify_sub": False,
                    "verify_jti": False,
                },
            )
        except jwt.PyJWTError as exc:
            raise CdsAuthError(
                f"signature check failed for issuer {iss!r} kid {kid!r} ({type(exc).__name__})"
            ) from None
        if claims.get("iss") != iss:  # same token, so only a decoder bug could trip this
            raise CdsAuthError("issuer changed between decodes")

        self._check_claims(claims, client, audience_url)
        return claims

    def _check_claims(self, claims: dict[str, Any], client: CdsClient, audience_url: str) -> None:
        iss = client.iss
        leeway = self.settings.leeway_s
        now = self._now()

        aud = claims.get("aud")
        aud_ok = aud == audience_url or (
            isinstance(aud, list) and all(isinstance(a, str) for a in aud) and audience_url in aud
        )
        if not aud_ok:
            raise CdsAuthError(f"aud {_short(aud)} does not match {audience_url!r}")

        exp, iat = claims.get("exp"), claims.get("iat")
        if not _is_number(exp):
            raise CdsAuthError("exp missing or not a number")
        if not _is_number(iat):
            raise CdsAuthError("iat missing or not a number")
        if now >= exp + leeway:
            raise CdsAuthError(f"token expired (exp {exp}, now {now:.0f})")
        if iat > now + leeway:
            raise CdsAuthError(f"iat {iat} is in the future")
        lifetime = exp - iat
        if lifetime <= 0 or lifetime > self.settings.max_lifetime_s:
            raise CdsAuthError(
                f"lifetime {lifetime:.0f} s outside (0, {self.settings.max_lifetime_s:.0f}]"
            )
        if "nbf" in claims:
            nbf = claims["nbf"]
            if not _is_number(nbf):
                raise CdsAuthError("nbf not a number")
            if nbf > now + leeway:
                raise CdsAuthError(f"nbf {nbf} is in the future")

        if "sub" in claims and not isinstance(claims["sub"], str):
            raise CdsAuthError("sub is not a string")
        tenant = claims.get("tenant")
        if "tenant" in claims and not isinstance(tenant, str):
            raise CdsAuthError("tenant is not a string")
        if client.tenants is not None and tenant not in client.tenants:
            raise CdsAuthError(f"tenant {_short(tenant)} not allowed for issuer {iss!r}")

        jti = claims.get("jti")
        if not isinstance(jti, str) or not jti:
            raise CdsAuthError("jti missing or not a string")
        if len(jti) > _MAX_JTI_CHARS:
            raise CdsAuthError("jti too long")
        # Last, so a token failing any other check cannot burn a legitimate jti.
        if not self.replay_cache.check_and_add(iss, jti, float(exp) + leeway, now):
            raise CdsAuthError(f"replayed jti {_short(jti)} from issuer {iss!r}")


# --------------------------------------------------------------------------------------------
# FastAPI integration
# --------------------------------------------------------------------------------------------


def _first_forwarded(value: str | None) -> str | None:
    if not value:
        return None
    first = value.split(",", 1)[0].strip()
    return first or None


def called_url(request: Request, settings: CdsAuthSettings) -> str:
    """Rebuild the URL the client called (scheme, host, path; no query): the expected ``aud``."""
    path = request.url.path
    if settings.public_base_url is not None:
        return settings.public_base_url.rstrip("/") + path

    scheme = request.url.scheme
    host = request.headers.get("host") or request.url.netloc
    if settings.trust_forwarded_headers:
        proto = _first_forwarded(request.headers.get("x-forwarded-proto"))
        fwd_host = _first_forwarded(request.headers.get("x-forwarded-host"))
        if proto is not None:
            if proto.lower() not in {"http", "https"}:
                raise CdsAuthError("bad X-Forwarded-Proto")
            scheme = proto.lower()
        if fwd_host is not None:
            host = fwd_host
    if not _HOST_RE.match(host):
        raise CdsAuthError("bad Host header")
    host = host.lower()
    default_port = {"https": ":443", "http": ":80"}.get(scheme)
    if default_port and host.endswith(default_port):
        host = host[: -len(default_port)]
    return f"{scheme}://{host}{path}"


def _bearer_token(request: Request) -> str:
    header = request.headers.get("authorization")
    if not header:
        raise CdsAuthError("no Authorization header")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise CdsAuthError("Authorization is not a Bearer token")
    return token.strip()


_UNAUTHORIZED_HEADERS = {"WWW-Authenticate": "Bearer"}


def require_cds_jwt(verifier: CdsJwtVerifier) -> Callable[[Request], Awaitable[dict[str, Any]]]:
    """FastAPI dependency: the verified claims, or HTTP 401 with an empty detail.

    With the client's key cached (the common case) the check runs inline on the event loop:
    it is CPU only (an ES384/RS384 signature check, well under a millisecond), and a hop to the
    thread pool per call cost more than the check itself and, under load, made requests queue
    for the GIL behind the handlers (benchmarks/bench_cds.py --jwt, docs/performance.md). Only
    a token whose key needs a JWKS fetch goes to the thread pool, so a slow JWKS host never
    blocks the event loop. The response says nothing about why a token failed (best
    practices: a bare 401); the reason goes to the log.
    """

    async def dependency(request: Request) -> dict[str, Any]:
        try:
            token = _bearer_token(request)
            aud = called_url(request, verifier.settings)
            try:
                return verifier.verify(token, aud, fetch=False)
            except KeyNotCached:
                return await run_in_threadpool(verifier.verify, token, aud)
        except CdsAuthError as exc:
            logger.warning("CDS client JWT rejected for %s: %s", request.url.path, exc)
        except Exception as exc:  # fail closed; the type alone cannot leak the token
            logger.error(
                "CDS client JWT check crashed for %s: %s", request.url.path, type(exc).__name__
            )
        raise HTTPException(status_code=401, detail="", headers=_UNAUTHORIZED_HEADERS)

    return dependency
