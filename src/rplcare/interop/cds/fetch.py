"""Reading the chart for a CDS call: prefetch first, else the EHR's FHIR server."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx

from rplcare.interop.cds.discovery import PREFETCH
from rplcare.interop.cds.models import (
    CdsRequest,
)
from rplcare.interop.fhir.read import Entry, bundle_entries

logger = logging.getLogger(__name__)

#: `_count` of every search the service makes itself (the page walk is bounded separately)
PAGE_SIZE = 100

# --------------------------------------------------------------------------------------------
# Reading the chart: prefetch, else the FHIR server
# --------------------------------------------------------------------------------------------


class _NoData(Exception):
    """The chart could not be read; the message is a loggable reason without PHI."""


def _render(template: str, context: Mapping[str, Any]) -> str:
    def token(m: re.Match[str]) -> str:
        value = context.get(m.group(1))
        if not isinstance(value, str):
            raise _NoData(f"prefetch token context.{m.group(1)} missing")
        return quote(value, safe="")

    return re.sub(r"\{\{context\.(\w+)\}\}", token, template)


class _Fetcher:
    def __init__(
        self, client: httpx.Client | None, timeout_s: float, max_pages: int, allow_http: bool
    ) -> None:
        self._client = client
        self._timeout = timeout_s
        self._max_pages = max_pages
        self.max_pages = max_pages
        self._allow_http = allow_http
        self._lock = threading.Lock()

    @property
    def client(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                self._client = httpx.Client(timeout=self._timeout, follow_redirects=False)
            return self._client

    def fetch(self, server: str, token: str | None, query: str) -> tuple[list[Entry], bool]:
        """The resources of a search (all pages up to the bound) and whether the bound was hit
        with pages left (truncated: said on a card and in the log, never silent)."""
        if not server.startswith("https://") and not (
            self._allow_http and server.startswith("http://")
        ):
            raise _NoData("fhirServer is not https")
        base = server.rstrip("/") + "/"
        headers = {"Accept": "application/fhir+json, application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if "?" in query and "_count=" not in query:
            query += f"&_count={PAGE_SIZE}"
        url: str | None = base + query
        out: list[Entry] = []
        for _ in range(self._max_pages):
            if url is None:
                break
            try:
                resp = self.client.get(url, headers=headers, timeout=self._timeout)
            except httpx.HTTPError as exc:
                raise _NoData(f"FHIR fetch failed ({type(exc).__name__})") from None
            if resp.status_code == 404 and query.startswith("Patient/"):
                raise _NoData("FHIR server has no such Patient")
            if resp.status_code != 200:
                raise _NoData(f"FHIR fetch answered {resp.status_code}")
            try:
                data = resp.json()
            except ValueError:
                raise _NoData("FHIR server answered non-JSON") from None
            if not isinstance(data, dict) or data.get("resourceType") == "OperationOutcome":
                raise _NoData("FHIR server answered an OperationOutcome")
            out.extend(bundle_entries(data))
            url = None
            if data.get("resourceType") == "Bundle":
                for link in data.get("link") or []:
                    nxt = link.get("url") if isinstance(link, Mapping) else None
                    if link.get("relation") == "next" and isinstance(nxt, str):
                        # only follow pages on the same server: no open redirect for tokens
                        url = nxt if nxt.startswith(base) else None
        return out, url is not None


def _prefetch_complete(req: CdsRequest) -> bool:
    prefetch = req.prefetch or {}
    return all(
        key in prefetch
        and not (
            isinstance(prefetch[key], Mapping)
            and prefetch[key].get("resourceType") == "OperationOutcome"
        )
        for key in PREFETCH
    )


def _gather(req: CdsRequest, fetcher: _Fetcher) -> tuple[list[Entry], list[str]]:
    """The chart's resources, and the prefetch keys whose search was cut at the page bound."""
    prefetch = req.prefetch or {}
    entries: list[Entry] = []
    missing: list[str] = []
    truncated: list[str] = []
    for key in PREFETCH:
        if key not in prefetch:
            missing.append(key)
            continue
        value = prefetch[key]
        if value is None:
            continue  # the client looked and found nothing
        if isinstance(value, Mapping) and value.get("resourceType") == "OperationOutcome":
            missing.append(key)
            continue
        entries.extend(bundle_entries(value))
    if missing:
        if not req.fhirServer:
            raise _NoData(f"prefetch lacks {', '.join(missing)} and no fhirServer was given")
        token = (
            req.fhirAuthorization.access_token.get_secret_value() if req.fhirAuthorization else None
        )
        for key in missing:
            got, cut = fetcher.fetch(req.fhirServer, token, _render(PREFETCH[key], req.context))
            entries.extend(got)
            if cut:
                truncated.append(key)
    return entries, truncated
