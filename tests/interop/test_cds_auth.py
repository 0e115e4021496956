"""CDS client JWT verification: the negative matrix, the accepted shapes, and the 401 wiring.

Keys are generated here; time is a fake clock; JWKS fetches are fakes. Nothing touches the
network.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from rplcare.interop.cds.auth import (
    ENV_CLIENTS,
    ENV_MAX_LIFETIME,
    CdsAuthError,
    CdsAuthSettings,
    CdsClients,
    CdsJwtVerifier,
    JtiReplayCache,
    KeyNotCached,
    require_cds_jwt,
)

SPEC_DIR = Path(__file__).parent / "fixtures" / "cds_spec_examples"

ISS = "https://ehr.example.org/"
ISS_JWKS_URL = "https://ehr-rotating.example.org/"
BASE = "https://cds.example.org"
AUD = f"{BASE}/cds-services/rpl-workup"
NOW = 1_800_000_000.0


# --------------------------------------------------------------------------------------------
# Keys, tokens, verifier
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def keys() -> dict[str, Any]:
    return {
        "rsa": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "rsa_other": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "ec": ec.generate_private_key(ec.SECP384R1()),
        "ec_other": ec.generate_private_key(ec.SECP384R1()),
        "ec_p256": ec.generate_private_key(ec.SECP256R1()),
    }


def jwk(private_key: Any, kid: str, alg: str | None = None) -> dict[str, Any]:
    public = private_key.public_key()
    algorithm = RSAAlgorithm if isinstance(public, rsa.RSAPublicKey) else ECAlgorithm
    data = algorithm.to_jwk(public, as_dict=True)
    data.update({"kid": kid, "use": "sig"})
    if alg:
        data["alg"] = alg
    return data


def jwks_of(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"keys": list(entries)}


class Clock:
    def __init__(self, t: float = NOW) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


class FakeFetcher:
    """Stands in for httpx: returns a JWK Set (or raises) and counts calls."""

    def __init__(self, jwks: dict[str, Any] | Exception) -> None:
        self.jwks = jwks
        self.calls: list[str] = []

    def __call__(self, url: str) -> dict[str, Any]:
        self.calls.append(url)
        if isinstance(self.jwks, Exception):
            raise self.jwks
        return self.jwks


def claims(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "iss": ISS,
        "aud": AUD,
        "iat": int(NOW) - 10,
        "exp": int(NOW) + 290,
        "jti": str(uuid.uuid4()),
    }
    for name, value in overrides.items():
        if value is ...:
            base.pop(name, None)
        else:
            base[name] = value
    return base


def sign(private_key: Any, alg: str, kid: str | None, payload: dict[str, Any], **hdr: Any) -> str:
    headers: dict[str, Any] = {"typ": "JWT", **hdr}
    if kid is not None:
        headers["kid"] = kid
    return jwt.encode(payload, private_key, algorithm=alg, headers=headers)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def handmade(header: dict[str, Any], payload: dict[str, Any], signer: Callable[[bytes], bytes]):
    """Build a JWS by hand, for the shapes PyJWT refuses to produce."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(payload).encode())}"
    return f"{signing_input}.{b64url(signer(signing_input.encode()))}"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client_config(keys: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"iss": ISS, "jwks": jwks_of(jwk(keys["rsa"], "rsa-1"), jwk(keys["ec"], "ec-1", "ES384"))},
        {"iss": ISS_JWKS_URL, "jwks_url": "https://ehr-rotating.example.org/jwks"},
        {
            "iss": "https://tenanted.example.org/",
            "jwks": jwks_of(jwk(keys["ec"], "ec-1")),
            "tenants": ["hospital-a"],
        },
    ]


@pytest.fixture
def fetcher(keys: dict[str, Any]) -> FakeFetcher:
    return FakeFetcher(jwks_of(jwk(keys["ec_other"], "rotated-1")))


@pytest.fixture
def verifier(client_config, clock: Clock, fetcher: FakeFetcher) -> CdsJwtVerifier:
    return CdsJwtVerifier(CdsClients.from_list(client_config), fetcher=fetcher, now=clock)


def rejected(verifier: CdsJwtVerifier, token: str, aud: str = AUD) -> CdsAuthError:
    with pytest.raises(CdsAuthError) as info:
        verifier.verify(token, aud)
    message = str(info.value)
    signature = token.rsplit(".", 1)[-1]
    assert not token or token not in message
    assert len(signature) < 16 or signature not in message  # not even the signature
    return info.value


# --------------------------------------------------------------------------------------------
# Accepted
# --------------------------------------------------------------------------------------------


def test_valid_rs384_token_is_accepted(verifier, keys):
    payload = claims()
    assert verifier.verify(sign(keys["rsa"], "RS384", "rsa-1", payload), AUD) == payload


def test_valid_es384_token_is_accepted(verifier, keys):
    payload = claims(tenant="2ddd6c3a-8e9a-44c6-a305-52111ad302a2")
    assert verifier.verify(sign(keys["ec"], "ES384", "ec-1", payload), AUD) == payload


def test_epic_like_token_with_sub_nbf_and_900s_lifetime_is_accepted(verifier, keys):
    # Epic adds sub (client id) and nbf (typically 5 min before iat); its example lives 900 s.
    iat = int(NOW) - 60
    payload = claims(iat=iat, nbf=iat - 300, exp=iat + 900, sub="epic-cds-client-id")
    token = sign(keys["rsa"], "RS384", "rsa-1", payload, jku="https://ehr.example.org/jwks")
    assert verifier.verify(token, AUD)["sub"] == "epic-cds-client-id"


def test_aud_as_single_element_array_is_accepted(verifier, keys):
    # RFC 7519 and the spec both allow aud as ["<url>"].
    token = sign(keys["ec"], "ES384", "ec-1", claims(aud=[AUD]))
    assert verifier.verify(token, AUD)["aud"] == [AUD]


def test_nbf_within_leeway_is_accepted(verifier, keys):
    token = sign(keys["ec"], "ES384", "ec-1", claims(nbf=int(NOW) + 20))
    assert verifier.verify(token, AUD)


def test_allowed_tenant_is_accepted(verifier, keys):
    payload = claims(iss="https://tenanted.example.org/", tenant="hospital-a")
    assert (
        verifier.verify(sign(keys["ec"], "ES384", "ec-1", payload), AUD)["tenant"] == "hospital-a"
    )


def test_spec_example_jwt_signature_verifies_with_spec_jwks():
    # The spec's own example token (ES384, signed 2011, 3.5-year lifetime) verifies when the
    # lifetime cap and clock are set to fit it, and is refused under the default policy.
    token = (SPEC_DIR / "jwt-example-token.txt").read_text().strip()
    jwks = json.loads((SPEC_DIR / "jwt-example-jwks.json").read_text())
    clients = CdsClients.from_list([{"iss": "https://fhir-ehr.example.com/", "jwks": jwks}])
    aud = "https://cds.example.org/cds-services/some-service"
    lenient = CdsJwtVerifier(
        clients, CdsAuthSettings(max_lifetime_s=200_000_000), now=lambda: 1_311_281_000.0
    )
    assert lenient.verify(token, aud)["jti"] == "ee22b021-e1b7-4611-ba5b-8eec6a33ac1e"
    strict = CdsJwtVerifier(clients, now=lambda: 1_311_281_000.0)
    assert "lifetime" in str(rejected(strict, token, aud))


# --------------------------------------------------------------------------------------------
# The negative matrix: each of these must be rejected
# --------------------------------------------------------------------------------------------


def test_rejects_missing_token(verifier):
    rejected(verifier, "")


def test_rejects_unsigned_alg_none(verifier):
    token = handmade({"alg": "none", "typ": "JWT", "kid": "rsa-1"}, claims(), lambda _: b"")
    assert "alg" in str(rejected(verifier, token))
    token_no_sig = token.rstrip(".") + "."
    rejected(verifier, token_no_sig)


def test_rejects_token_signed_by_another_key_with_the_same_kid(verifier, keys):
    for key, alg, kid in (
        (keys["rsa_other"], "RS384", "rsa-1"),
        (keys["ec_other"], "ES384", "ec-1"),
    ):
        assert "signature" in str(rejected(verifier, sign(key, alg, kid, claims())))


def test_rejects_unknown_issuer(verifier, keys):
    token = sign(keys["ec"], "ES384", "ec-1", claims(iss="https://evil.example.org/"))
    assert "allow list" in str(rejected(verifier, token))


def test_rejects_missing_issuer(verifier, keys):
    rejected(verifier, sign(keys["ec"], "ES384", "ec-1", claims(iss=...)))


def test_rejects_unknown_kid_after_one_refresh_attempt(verifier, keys, fetcher, clock):
    payload = claims(iss=ISS_JWKS_URL)
    assert "unknown kid" in str(rejected(verifier, sign(keys["ec"], "ES384", "nobody", payload)))
    assert fetcher.calls == ["https://ehr-rotating.example.org/jwks"]
    # A second unknown kid right away does not trigger another fetch (rate limit) ...
    rejected(verifier, sign(keys["ec"], "ES384", "nor-me", claims(iss=ISS_JWKS_URL)))
    assert len(fetcher.calls) == 1
    # ... and an issuer with static keys only never fetches at all.
    rejected(verifier, sign(keys["ec"], "ES384", "unknown", claims()))
    assert len(fetcher.calls) == 1


def test_rejects_expired(verifier, keys):
    token = sign(keys["ec"], "ES384", "ec-1", claims(iat=int(NOW) - 400, exp=int(NOW) - 60))
    assert "expired" in str(rejected(verifier, token))


def test_rejects_lifetime_over_the_maximum(verifier, keys):
    token = sign(keys["ec"], "ES384", "ec-1", claims(iat=int(NOW) - 10, exp=int(NOW) + 3600))
    assert "lifetime" in str(rejected(verifier, token))


def test_rejects_wrong_aud(verifier, keys):
    for aud in (
        f"{BASE}/cds-services/other-service",
        f"{BASE}/cds-services",
        f"{AUD}/",
        AUD.replace("https://", "http://"),
        [f"{BASE}/cds-services/other-service"],
    ):
        assert "aud" in str(rejected(verifier, sign(keys["ec"], "ES384", "ec-1", claims(aud=aud))))
    rejected(verifier, sign(keys["ec"], "ES384", "ec-1", claims(aud=...)))


def test_rejects_replayed_jti(verifier, keys):
    token = sign(keys["ec"], "ES384", "ec-1", claims(jti="once-only"))
    verifier.verify(token, AUD)
    assert "replayed" in str(rejected(verifier, token))
    # A fresh token re-using the jti is a replay too, whatever else changed.
    again = sign(keys["rsa"], "RS384", "rsa-1", claims(jti="once-only", iat=int(NOW) - 5))
    rejected(verifier, again)


def test_rejects_hs256_signed_with_the_public_key_pem(verifier, keys):
    # The classic key-confusion attack: HMAC keyed with the RSA public key's PEM text.
    pem = (
        keys["rsa"]
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    for alg, digest in (("HS256", hashlib.sha256), ("HS384", hashlib.sha384)):
        token = handmade(
            {"alg": alg, "typ": "JWT", "kid": "rsa-1"},
            claims(),
            lambda data, d=digest: hmac.new(pem, data, d).digest(),
        )
        assert "alg" in str(rejected(verifier, token))


def test_rejects_missing_jti(verifier, keys):
    assert "jti" in str(rejected(verifier, sign(keys["ec"], "ES384", "ec-1", claims(jti=...))))


def test_rejects_missing_exp(verifier, keys):
    assert "exp" in str(rejected(verifier, sign(keys["ec"], "ES384", "ec-1", claims(exp=...))))


# --------------------------------------------------------------------------------------------
# Further rejections
# --------------------------------------------------------------------------------------------


def test_rejects_missing_iat(verifier, keys):
    assert "iat" in str(rejected(verifier, sign(keys["ec"], "ES384", "ec-1", claims(iat=...))))


def test_rejects_iat_in_the_future(verifier, keys):
    token = sign(keys["ec"], "ES384", "ec-1", claims(iat=int(NOW) + 120, exp=int(NOW) + 300))
    assert "iat" in str(rejected(verifier, token))


def test_rejects_nbf_in_the_future(verifier, keys):
    token = sign(keys["ec"], "ES384", "ec-1", claims(nbf=int(NOW) + 120))
    assert "nbf" in str(rejected(verifier, token))


def test_rejects_non_numeric_time_claims(verifier, keys):
    for name in ("exp", "iat", "nbf"):
        rejected(verifier, sign(keys["ec"], "ES384", "ec-1", claims(**{name: "soon"})))
    rejected(verifier, sign(keys["ec"], "ES384", "ec-1", claims(exp=True)))


def test_rejects_non_string_sub_and_tenant(verifier, keys):
    rejected(verifier, sign(keys["ec"], "ES384", "ec-1", claims(sub=42)))
    rejected(verifier, sign(keys["ec"], "ES384", "ec-1", claims(tenant=["a"])))


def test_rejects_tenant_not_on_the_clients_list(verifier, keys):
    iss = "https://tenanted.example.org/"
    for extra in ({"tenant": "hospital-b"}, {}):  # wrong tenant, and tenant absent
        token = sign(keys["ec"], "ES384", "ec-1", claims(iss=iss, **extra))
        assert "tenant" in str(rejected(verifier, token))


def test_rejects_missing_kid(verifier, keys):
    assert "kid" in str(rejected(verifier, sign(keys["ec"], "ES384", None, claims())))


def test_rejects_other_asymmetric_algorithms(verifier, keys):
    # RS256/ES256 are sound algorithms but not the spec's; allowing more widens the attack surface.
    for alg in ("RS256", "PS384", "RS512"):
        assert "alg" in str(rejected(verifier, sign(keys["rsa"], alg, "rsa-1", claims())))


def test_rejects_algorithm_that_does_not_fit_the_key(verifier, keys, client_config):
    # Header says ES384 but names the RSA key: the key type decides, never the header.
    assert "cannot verify" in str(rejected(verifier, sign(keys["ec"], "ES384", "rsa-1", claims())))
    # A P-256 key can never verify ES384, even if the client publishes one under that name.
    config = [{"iss": ISS, "jwks": jwks_of(jwk(keys["ec_p256"], "p256"))}]
    p256 = CdsJwtVerifier(CdsClients.from_list(config), now=Clock())
    token = handmade(
        {"alg": "ES384", "typ": "JWT", "kid": "p256"}, claims(), lambda _: b"\x00" * 96
    )
    assert "cannot verify" in str(rejected(p256, token))


def test_rejects_key_whose_jwk_pins_another_alg(keys):
    # A JWK pinned to a disallowed alg is dropped; one pinned to the other allowed alg is
    # not used for this one.
    for pinned, reason in (("RS512", "unknown kid"), ("ES384", "cannot verify")):
        config = [{"iss": ISS, "jwks": jwks_of(jwk(keys["rsa"], "rsa-1", pinned))}]
        strict = CdsJwtVerifier(CdsClients.from_list(config), now=Clock())
        token = sign(keys["rsa"], "RS384", "rsa-1", claims())
        assert reason in str(rejected(strict, token))


def test_rejects_wrong_typ(verifier, keys):
    token = sign(keys["ec"], "ES384", "ec-1", claims(), typ="at+jwt")
    assert "typ" in str(rejected(verifier, token))


def test_rejects_garbage_and_oversized_tokens(verifier):
    for token in ("not-a-jwt", "a.b.c", "eyJhbGciOiJFUzM4NCJ9..", "x" * 20_000):
        rejected(verifier, token)


def test_private_keys_in_a_jwks_are_never_used(keys):
    leaked = jwk(keys["ec"], "ec-1")
    leaked["d"] = "AAAA"
    verifier = CdsJwtVerifier(CdsClients.from_list([{"iss": ISS, "jwks": jwks_of(leaked)}]))
    assert "unknown kid" in str(rejected(verifier, sign(keys["ec"], "ES384", "ec-1", claims())))


def test_duplicate_kid_in_a_jwks_means_no_key(keys):
    dup = jwks_of(jwk(keys["ec"], "same"), jwk(keys["ec_other"], "same"))
    verifier = CdsJwtVerifier(CdsClients.from_list([{"iss": ISS, "jwks": dup}]), now=Clock())
    assert "unknown kid" in str(rejected(verifier, sign(keys["ec"], "ES384", "same", claims())))


# --------------------------------------------------------------------------------------------
# JWKS refresh and replay cache behaviour
# --------------------------------------------------------------------------------------------


def test_rotated_key_is_fetched_once_then_cached(verifier, keys, fetcher):
    for _ in range(3):
        token = sign(keys["ec_other"], "ES384", "rotated-1", claims(iss=ISS_JWKS_URL))
        assert verifier.verify(token, AUD)
    assert len(fetcher.calls) == 1


def test_refresh_is_allowed_again_after_the_interval(verifier, keys, fetcher, clock):
    rejected(verifier, sign(keys["ec"], "ES384", "future-key", claims(iss=ISS_JWKS_URL)))
    fetcher.jwks = jwks_of(jwk(keys["ec"], "future-key"))
    rejected(verifier, sign(keys["ec"], "ES384", "future-key", claims(iss=ISS_JWKS_URL)))
    assert len(fetcher.calls) == 1
    clock.t += 61
    payload = claims(iss=ISS_JWKS_URL, iat=int(clock.t) - 5, exp=int(clock.t) + 100)
    assert verifier.verify(sign(keys["ec"], "ES384", "future-key", payload), AUD)
    assert len(fetcher.calls) == 2


def test_jwks_fetch_failure_rejects_without_raising_anything_else(client_config, keys):
    broken = FakeFetcher(OSError("connection refused"))
    verifier = CdsJwtVerifier(CdsClients.from_list(client_config), fetcher=broken, now=Clock())
    rejected(verifier, sign(keys["ec"], "ES384", "rotated-1", claims(iss=ISS_JWKS_URL)))
    bad_shape = FakeFetcher({"not": "a jwks"})
    verifier = CdsJwtVerifier(CdsClients.from_list(client_config), fetcher=bad_shape, now=Clock())
    rejected(verifier, sign(keys["ec"], "ES384", "rotated-1", claims(iss=ISS_JWKS_URL)))


def test_inline_check_defers_a_key_that_needs_a_fetch_without_burning_the_jti(
    verifier, keys, fetcher
):
    """Rule (auth.require_cds_jwt): the event-loop check never fetches a JWKS; a key that needs
    one raises KeyNotCached before the replay check, so the threaded retry still accepts it."""
    token = sign(keys["ec_other"], "ES384", "rotated-1", claims(iss=ISS_JWKS_URL))
    with pytest.raises(KeyNotCached):
        verifier.verify(token, AUD, fetch=False)
    assert fetcher.calls == []
    assert verifier.verify(token, AUD)["iss"] == ISS_JWKS_URL  # jti not used up
    assert len(fetcher.calls) == 1
    again = sign(keys["ec_other"], "ES384", "rotated-1", claims(iss=ISS_JWKS_URL))
    assert verifier.verify(again, AUD, fetch=False)  # now cached: inline, no new fetch
    assert len(fetcher.calls) == 1


def test_dependency_accepts_a_token_whose_key_is_fetched_first(keys, client_config, fetcher):
    """Rule (auth.require_cds_jwt): an uncached key is fetched off the event loop, then used."""
    verifier = CdsJwtVerifier(CdsClients.from_list(client_config), fetcher=fetcher, now=Clock())
    http = TestClient(make_app(verifier), base_url=BASE)
    token = sign(keys["ec_other"], "ES384", "rotated-1", claims(iss=ISS_JWKS_URL))
    response = http.post("/cds-services/rpl-workup", headers=bearer(token), json={})
    assert response.status_code == 200 and response.json()["iss"] == ISS_JWKS_URL
    assert len(fetcher.calls) == 1


def test_failing_token_does_not_burn_its_jti(verifier, keys):
    payload = claims(jti="shared")
    rejected(verifier, sign(keys["ec"], "ES384", "ec-1", payload), aud=f"{BASE}/cds-services/x")
    assert verifier.verify(sign(keys["ec"], "ES384", "ec-1", payload), AUD)


def test_replay_cache_forgets_jtis_after_expiry():
    cache = JtiReplayCache()
    assert cache.check_and_add(ISS, "a", expires_at=100.0, now=0.0)
    assert not cache.check_and_add(ISS, "a", expires_at=100.0, now=50.0)
    assert cache.check_and_add("https://other.example.org/", "a", expires_at=100.0, now=50.0)
    assert cache.check_and_add(ISS, "b", expires_at=300.0, now=150.0)
    assert len(cache) == 1  # both "a" entries purged


def test_replay_cache_fails_closed_when_full():
    cache = JtiReplayCache(max_entries=1)
    cache.check_and_add(ISS, "a", expires_at=100.0, now=0.0)
    with pytest.raises(CdsAuthError):
        cache.check_and_add(ISS, "b", expires_at=100.0, now=0.0)


def test_concurrent_replays_admit_exactly_one(verifier, keys):
    token = sign(keys["ec"], "ES384", "ec-1", claims())
    results: list[bool] = []
    barrier = threading.Barrier(16)

    def attempt() -> None:
        barrier.wait()
        try:
            verifier.verify(token, AUD)
            results.append(True)
        except CdsAuthError:
            results.append(False)

    threads = [threading.Thread(target=attempt) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == 1 and len(results) == 16


# --------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------


def test_max_lifetime_from_env_rejects_epic_900s_tokens_when_set_to_300(client_config, keys):
    settings = CdsAuthSettings.from_env({ENV_MAX_LIFETIME: "300"})
    assert settings.max_lifetime_s == 300
    verifier = CdsJwtVerifier(CdsClients.from_list(client_config), settings, now=Clock())
    token = sign(keys["ec"], "ES384", "ec-1", claims(iat=int(NOW) - 10, exp=int(NOW) + 890))
    rejected(verifier, token)
    with pytest.raises(ValueError):
        CdsAuthSettings.from_env({ENV_MAX_LIFETIME: "an hour"})


def test_clients_load_from_the_env_file(tmp_path, client_config, keys):
    path = tmp_path / "cds-clients.json"
    path.write_text(json.dumps(client_config))
    clients = CdsClients.from_env({ENV_CLIENTS: str(path)})
    assert len(clients) == 3 and clients.get(ISS) is not None
    verifier = CdsJwtVerifier(clients, now=Clock())
    assert verifier.verify(sign(keys["ec"], "ES384", "ec-1", claims()), AUD)
    assert len(CdsClients.from_env({})) == 0  # unset: trust nobody


@pytest.mark.parametrize(
    "bad",
    [
        [{"iss": ISS}],
        [{"iss": "", "jwks": {"keys": []}}],
        [{"iss": ISS, "jwks": {"keys": []}, "tenant": ["a"]}],
        [{"iss": ISS, "jwks": {"keys": []}}, {"iss": ISS, "jwks": {"keys": []}}],
        [{"iss": ISS, "jwks_url": "file:///etc/passwd"}],
        [{"iss": ISS, "jwks": {"keys": []}, "tenants": "hospital-a"}],
        [{"iss": ISS, "jwks": [{"kty": "EC"}]}],
        [{"iss": 42, "jwks": {"keys": []}}],
    ],
)
def test_invalid_client_config_is_refused_at_load(bad):
    with pytest.raises(ValueError):
        CdsClients.from_list(bad)


# --------------------------------------------------------------------------------------------
# FastAPI dependency
# --------------------------------------------------------------------------------------------


def make_app(verifier: CdsJwtVerifier) -> FastAPI:
    app = FastAPI()
    auth = require_cds_jwt(verifier)

    @app.post("/cds-services/{service_id}")
    def call(service_id: str, jwt_claims: dict = Depends(auth)) -> dict:
        return {"service": service_id, "iss": jwt_claims["iss"]}

    return app


@pytest.fixture
def http(verifier) -> TestClient:
    return TestClient(make_app(verifier), base_url=BASE)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_dependency_accepts_a_valid_token(http, keys):
    token = sign(keys["ec"], "ES384", "ec-1", claims())
    response = http.post("/cds-services/rpl-workup", headers=bearer(token), json={})
    assert response.status_code == 200
    assert response.json() == {"service": "rpl-workup", "iss": ISS}


def test_dependency_401_has_empty_detail_for_every_failure(http, keys, caplog):
    good = sign(keys["ec"], "ES384", "ec-1", claims())
    cases = [
        {},
        {"Authorization": ""},
        {"Authorization": f"Basic {good}"},
        bearer("garbage"),
        bearer(sign(keys["ec"], "ES384", "ec-1", claims(exp=int(NOW) - 100, iat=int(NOW) - 200))),
        bearer(sign(keys["ec_other"], "ES384", "ec-1", claims())),
    ]
    with caplog.at_level(logging.DEBUG):
        for headers in cases:
            response = http.post("/cds-services/rpl-workup", headers=headers, json={})
            assert response.status_code == 401
            assert response.json() == {"detail": ""}
            assert response.headers["www-authenticate"] == "Bearer"
        # Token for another service: the aud is rebuilt from the URL actually called.
        response = http.post("/cds-services/other", headers=bearer(good), json={})
        assert response.status_code == 401 and response.json() == {"detail": ""}
    assert good not in caplog.text
    assert good.split(".")[2] not in caplog.text


def test_dependency_replay_is_401(http, keys):
    token = sign(keys["ec"], "ES384", "ec-1", claims())
    assert http.post("/cds-services/rpl-workup", headers=bearer(token), json={}).status_code == 200
    assert http.post("/cds-services/rpl-workup", headers=bearer(token), json={}).status_code == 401


def test_forwarded_headers_are_ignored_unless_trusted(client_config, keys):
    public_aud = "https://public.example.org/cds-services/rpl-workup"
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "public.example.org"}

    def call(settings: CdsAuthSettings) -> int:
        verifier = CdsJwtVerifier(CdsClients.from_list(client_config), settings, now=Clock())
        internal = TestClient(make_app(verifier), base_url="http://10.0.0.5:8000")
        token = sign(keys["ec"], "ES384", "ec-1", claims(aud=public_aud))
        headers = {**bearer(token), **forwarded}
        return internal.post("/cds-services/rpl-workup", headers=headers, json={}).status_code

    assert call(CdsAuthSettings()) == 401
    assert call(CdsAuthSettings(trust_forwarded_headers=True)) == 200
    assert call(CdsAuthSettings(public_base_url="https://public.example.org")) == 200


def test_default_https_port_in_host_header_still_matches(http, keys):
    token = sign(keys["ec"], "ES384", "ec-1", claims())
    headers = {**bearer(token), "Host": "cds.example.org:443"}
    assert http.post("/cds-services/rpl-workup", headers=headers, json={}).status_code == 200
