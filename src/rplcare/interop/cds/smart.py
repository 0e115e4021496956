"""SMART App Launch (EHR launch) endpoint: a card's `smart` link opens the full plan.

The EHR opens `GET /smart/launch?iss=<FHIR base>&launch=<opaque>`; rplcare reads
`iss/.well-known/smart-configuration`, keeps a `state` and a PKCE `code_verifier` (S256) and
redirects to the `authorization_endpoint` with `launch`, `aud=iss` and the scopes. The EHR
redirects back to `GET /smart/callback?code=&state=`; rplcare exchanges the code with the
`code_verifier` at the `token_endpoint` (a public client: no secret), reads the patient's chart
from `iss` with the token (the same fetch as CDS Hooks), runs `assess()` and answers with the
clinician report. The token is used within the request and never stored or logged.

Registration (docs/fhir-mapping.md): launch URL `<base>/smart/launch`, redirect URI
`<base>/smart/callback`, public client with PKCE, scopes `SCOPES`. Mounted on the CDS Hooks app
(`create_cds_app`) and on the web app (`rplcare serve`) when `RPLCARE_SMART_CLIENT_ID` and
`RPLCARE_SMART_REDIRECT_URI` are set.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import HTMLResponse, RedirectResponse

from rplcare.interop.cds.fetch import _Fetcher, _gather, _NoData
from rplcare.interop.cds.models import CdsRequest

__all__ = ["SCOPES", "build_smart_router", "code_challenge"]

logger = logging.getLogger("rplcare.smart")

SCOPES = "launch openid fhirUser patient/*.read"
PENDING_MAX = 1000  # launches waiting for their callback (bounded memory)
PENDING_TTL_S = 600.0


def code_challenge(verifier: str) -> str:
    """PKCE S256 (RFC 7636 §4.2): BASE64URL(SHA256(ASCII(code_verifier))), no padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class _Pending:
    iss: str
    verifier: str
    token_endpoint: str
    created: float


class _PendingLaunches:
    def __init__(self) -> None:
        self._items: OrderedDict[str, _Pending] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, state: str, p: _Pending) -> None:
        with self._lock:
            self._items[state] = p
            while len(self._items) > PENDING_MAX:
                self._items.popitem(last=False)

    def pop(self, state: str, now: float) -> _Pending | None:
        with self._lock:
            p = self._items.pop(state, None)
        if p is None or now - p.created > PENDING_TTL_S:
            return None
        return p


def _checked_url(url: str, allow_http: bool, what: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise HTTPException(400, f"{what} is not an absolute URL")
    if parts.scheme == "http" and not allow_http:
        raise HTTPException(400, f"{what} must be https")
    return url


def build_smart_router(
    client_id: str,
    redirect_uri: str,
    *,
    http_client: httpx.Client | None = None,
    timeout_s: float = 5.0,
    max_pages: int = 5,
    allow_http: bool = False,
    clock: Callable[[], date] = date.today,
    on_plan: Callable[[str, str], None] | None = None,
) -> APIRouter:
    """`/smart/launch` and `/smart/callback` for a registered public SMART client.

    `on_plan(iss, patient)` is called when a plan is shown (the web app audits the read)."""
    client = http_client or httpx.Client(timeout=timeout_s, follow_redirects=False)
    fetcher = _Fetcher(client, timeout_s, max_pages, allow_http)
    pending = _PendingLaunches()
    router = APIRouter(prefix="/smart", tags=["smart"])

    def _json(resp: httpx.Response, what: str) -> dict[str, Any]:
        try:
            data = resp.json()
        except ValueError:
            data = None
        if resp.status_code != 200 or not isinstance(data, dict):
            logger.warning("SMART %s failed: HTTP %s", what, resp.status_code)
            raise HTTPException(502, f"the EHR's {what} did not answer")
        return data

    @router.get("/launch")
    def launch(iss: str = Query(...), launch: str = Query(...)) -> RedirectResponse:
        base = _checked_url(iss, allow_http, "iss").rstrip("/")
        try:
            conf = _json(
                client.get(f"{base}/.well-known/smart-configuration"), "SMART configuration"
            )
        except httpx.HTTPError as exc:
            raise HTTPException(
                502, f"the EHR's SMART configuration: {type(exc).__name__}"
            ) from None
        auth = conf.get("authorization_endpoint")
        token = conf.get("token_endpoint")
        if not isinstance(auth, str) or not isinstance(token, str):
            raise HTTPException(502, "the EHR's SMART configuration lacks its endpoints")
        methods = conf.get("code_challenge_methods_supported")
        if isinstance(methods, list) and "S256" not in methods:
            raise HTTPException(502, "the EHR does not support PKCE S256")
        _checked_url(auth, allow_http, "authorization_endpoint")
        _checked_url(token, allow_http, "token_endpoint")
        state = secrets.token_urlsafe(24)
        verifier = secrets.token_urlsafe(48)  # 64 characters of the unreserved set
        pending.put(state, _Pending(base, verifier, token, time.monotonic()))
        query = urlencode(
            {
                "response_type": "code",
                "client_id": client_id,
                "redirect_uri": redirect_uri,
                "launch": launch,
                "scope": SCOPES,
                "state": state,
                "aud": iss,
                "code_challenge": code_challenge(verifier),
                "code_challenge_method": "S256",
            }
        )
        return RedirectResponse(f"{auth}{'&' if '?' in auth else '?'}{query}", status_code=302)

    @router.get("/callback", response_class=HTMLResponse)
    def callback(code: str = Query(...), state: str = Query(...)) -> HTMLResponse:
        p = pending.pop(state, time.monotonic())
        if p is None:
            raise HTTPException(400, "unknown or expired launch state; open the plan again")
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "client_id": client_id,
            "code_verifier": p.verifier,
        }
        try:
            tok = _json(client.post(p.token_endpoint, data=form), "token endpoint")
        except httpx.HTTPError as exc:
            raise HTTPException(502, f"the EHR's token endpoint: {type(exc).__name__}") from None
        patient = tok.get("patient")
        access = tok.get("access_token")
        if not isinstance(patient, str) or not patient or not isinstance(access, str):
            raise HTTPException(502, "the token response names no patient (launch context)")
        page = _plan_html(p.iss, patient, tok, fetcher, clock)
        if on_plan is not None:
            on_plan(p.iss, patient)
        return HTMLResponse(page)

    return router


def _plan_html(
    iss: str,
    patient: str,
    tok: dict[str, Any],
    fetcher: _Fetcher,
    clock: Callable[[], date],
) -> str:
    """The patient's chart from `iss`, assessed, as the clinician report."""
    from rplcare.case.errors import CaseError
    from rplcare.interop.fhir.read import MappingError, case_from_entries, readable_case
    from rplcare.reasoning.assess import assess
    from rplcare.render.report import render_report_html

    req = CdsRequest.model_validate(
        {
            "hook": "patient-view",
            "hookInstance": str(uuid.uuid4()),
            "fhirServer": iss,
            "fhirAuthorization": {
                "access_token": tok["access_token"],
                "token_type": str(tok.get("token_type") or "Bearer"),
                "scope": str(tok.get("scope") or SCOPES),
                "subject": str(tok.get("client_id") or "rplcare"),
            },
            "context": {"patientId": patient},
            "prefetch": {},
        }
    )
    today = clock()
    try:
        entries, truncated = _gather(req, fetcher)
        mapped = case_from_entries(entries, patient_id=patient, assessed_on=today)
        case, dropped = readable_case(mapped.case, mapped.sources, today=today)
    except (_NoData, MappingError, CaseError) as exc:
        logger.warning("SMART launch: chart not readable (%s)", type(exc).__name__)
        raise HTTPException(502, "the patient's chart could not be read") from None
    if truncated:
        logger.warning("SMART launch: chart read in part (page bound): %s", truncated)
    a = assess(case, today=today)
    data = a.to_dict()
    # what of the chart the plan did not use, as the CDS info card says it
    left_out = [f"left out of the chart: {u.line()}" for u in dropped]
    if truncated:
        left_out.append(f"chart read in part (page bound): {', '.join(truncated)}")
    data["warnings"] = [*data["warnings"], *left_out]
    return render_report_html(data, case.model_dump(mode="json", exclude_none=True))
