"""Request limits before any parsing: the body size (413, checked on `Content-Length` and
while the body arrives, so an oversized body is never held in full) and, for JSON bodies, the
structure limits of `rplcare.util.limits` (422 with the path), before FastAPI's `json.loads`
or a form parser see them. Case files in bodies and forms are checked again by the case
loader (YAML aliases, dates, integers)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Request

from rplcare.util import jsonio
from rplcare.util import limits as lim


async def read_body(request: Request) -> bytes:
    """The request body (already bounded by `BodyLimitMiddleware`)."""
    return await request.body()


def _problem_response(path: str, message: str, status: int) -> tuple[int, bytes]:
    body = jsonio.dumps_bytes({"problems": [{"path": path, "message": message}]}, compact=True)
    return status, body


#: POST paths whose bodies go to the endpoint as they arrive (uploads of large files, written
#: to disk by the form parser), each with its own byte limit (a function: read when asked);
#: the Content-Length is required and checked first (413 over the limit, 411 without it)
STREAMED: dict[str, Callable[[], int]] = {}


class BodyLimitMiddleware:
    """Pure ASGI: reads at most `body_bytes` + 1 bytes of a request; over that, 413 without
    calling the app. JSON bodies are scanned for depth / sizes / integer digits (422)."""

    def __init__(self, app: Any, limits: lim.Limits | None = None) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        streamed = STREAMED.get(scope.get("path", "")) if scope.get("method") == "POST" else None
        if streamed is not None:
            await self._streamed(scope, receive, send, streamed())
            return
        limits = self.limits or lim.current()
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                size = int(declared)
            except ValueError:
                size = -1
            if size > limits.body_bytes:
                await self._reject(
                    scope, send, lim.too_large(f"{size:,}", limits.body_bytes, "the request body")
                )
                return
        chunks: list[bytes] = []
        total = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            total += len(chunk)
            if total > limits.body_bytes:
                await self._reject(
                    scope,
                    send,
                    lim.too_large(
                        f"over {limits.body_bytes:,}", limits.body_bytes, "the request body"
                    ),
                )
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        ctype = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if body and (ctype.endswith(b"json") or ctype.endswith(b"+json")):
            try:
                lim.scan_json(body.decode("utf-8", "replace"), limits)
            except lim.LimitError as exc:
                await self._reject(scope, send, exc)
                return
        sent = False

        async def replay() -> Any:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _streamed(self, scope: Any, receive: Any, send: Any, limit: int) -> None:
        headers = dict(scope.get("headers") or [])
        try:
            declared = int(headers.get(b"content-length", b"-1"))
        except ValueError:
            declared = -1
        if declared < 0:
            exc = lim.LimitError("", "the upload needs a Content-Length", status=411)
            await self._reject(scope, send, exc)
            return
        if declared > limit:
            exc = lim.LimitError(
                "",
                f"the upload is {declared:,} bytes, over the limit of {limit:,} bytes "
                "(RPLCARE_MAX_UPLOAD_BYTES)",
                status=413,
            )
            await self._reject(scope, send, exc)
            return
        seen = 0

        async def counted() -> Any:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > declared:  # more than announced: the upload ends here
                return {"type": "http.disconnect"}
            return message

        await self.app(scope, counted, send)

    async def _reject(self, scope: Any, send: Any, exc: lim.LimitError) -> None:
        path, message = exc.problems[0]
        status, body = _problem_response(path, message, exc.status)
        wants_json = scope["path"].startswith(("/api/", "/cds-services", "/healthz"))
        if not wants_json:
            from html import escape

            line = f"{path}: {message}" if path else message
            body = (
                "<!doctype html><meta charset=utf-8><title>Not accepted</title>"
                f"<h1>{status}: not accepted</h1><p>{escape(line)}</p>"
                "<p>Nothing was saved. Go back, shorten the input and try again.</p>"
            ).encode()
            ctype = b"text/html; charset=utf-8"
        else:
            ctype = b"application/json"
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", ctype),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                    (b"cache-control", b"no-store"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
