"""Checks on every request before any route runs, answered with the JSON error body.

:class:`RequestGuard` is ASGI middleware:

- a request target (path and query string) over :data:`MAX_TARGET_BYTES`
  is a 414, headers over :data:`MAX_HEADER_BYTES` a 431, a body over
  :data:`MAX_BODY_BYTES` a 413 (at once when its ``Content-Length`` says
  so, before any of it is read);
- a body that has not arrived whole within :data:`BODY_TIMEOUT_SECONDS`
  (one that trickles in, or shorter than its ``Content-Length``) is a 408;
- a user header (``X-User-Id``) whose bytes are not UTF-8 text, or that
  holds control characters, is a 400: Starlette would read them as Latin-1
  and record garbage as the user.

The HTTP server must let large requests through to be answered: uvicorn's
h11 parser refuses a request head that outgrows its buffer
(``h11_max_incomplete_event_size``, 16 KiB by default), so the servers of
:mod:`qfilter.service.server` raise that buffer to
:data:`MAX_REQUEST_HEAD_BYTES`; past it, :mod:`qfilter.service.http11`
answers, but the client may see the connection close before it reads that.

A refused body is not read: the answer says ``Connection: close``, and the
servers' protocol (:mod:`qfilter.service.http11`) reads and drops what the
client still sends, for a bounded time, before closing, so that the client
gets to read the answer rather than a reset connection.
"""

import asyncio
import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qfilter.integrations.fastapi import DEFAULT_USER_HEADER
from qfilter.service.errors import error_body

__all__ = [
    "MAX_TARGET_BYTES",
    "MAX_HEADER_BYTES",
    "MAX_BODY_BYTES",
    "MAX_REQUEST_HEAD_BYTES",
    "BODY_TIMEOUT_SECONDS",
    "RequestGuard",
]

MAX_TARGET_BYTES = 8 * 1024
"""The longest request target (path and query string, as sent): longer is a 414."""
MAX_HEADER_BYTES = 64 * 1024
"""The most bytes of header names and values in one request: more is a 431."""
MAX_BODY_BYTES = 1024 * 1024
"""The largest request body: larger is a 413."""
MAX_REQUEST_HEAD_BYTES = 4 * 1024 * 1024
"""The request head the HTTP server reads whole (uvicorn's ``h11_max_incomplete_event_size``).

Large enough that a 1 MB filter in a URL reaches :class:`RequestGuard`
and gets its 414 once the whole request is read.
"""
BODY_TIMEOUT_SECONDS = 30.0
"""How long a request body may take to arrive whole (1 MB at 35 KB/s): longer is a 408."""
_CLOSING = {413, 408}  # answered before the body was read whole: the connection cannot carry another request


async def _answer(send: Send, status: int, message: str, body_fields: dict[str, object] | None = None) -> None:
    body = json.dumps(error_body(status, message, **(body_fields or {})), separators=(",", ":"))
    encoded = body.encode("utf-8")
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(encoded)).encode("ascii"))]
    if status in _CLOSING:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": encoded})


def _is_text(value: bytes) -> bool:
    """Whether a header value is UTF-8 without control characters (which a user id has no use for)."""
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return not any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in text)


class RequestGuard:
    """ASGI middleware that answers oversized requests (414, 431, 413), slow bodies (408), bad user headers (400).

    A body is read whole before the app sees it (the app reads it whole
    anyway), so its size is known whether or not it came with a
    ``Content-Length``; one declared larger than ``max_body`` is refused
    before it is read, and reading one stops after ``body_timeout`` seconds.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        user_header: str | None = DEFAULT_USER_HEADER,
        max_target: int = MAX_TARGET_BYTES,
        max_headers: int = MAX_HEADER_BYTES,
        max_body: int = MAX_BODY_BYTES,
        body_timeout: float = BODY_TIMEOUT_SECONDS,
    ) -> None:
        if body_timeout <= 0:
            raise ValueError(f"body_timeout must be positive, got {body_timeout}")
        self.app = app
        self.user_header = user_header
        self._user_key = user_header.lower().encode("latin-1") if user_header else None
        self.max_target = max_target
        self.max_headers = max_headers
        self.max_body = max_body
        self.body_timeout = body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(scope)
        if refusal is not None:
            await _answer(send, *refusal)
            return
        try:
            async with asyncio.timeout(self.body_timeout):
                body, complete = await self._read_body(receive)
        except TimeoutError:
            await _answer(send, 408, f"the request body did not arrive whole within {self.body_timeout:g} s")
            return
        if body is None:  # the client went away before it finished sending
            return
        if not complete:
            await _answer(send, 413, f"the request body is larger than {self.max_body} bytes")
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _refusal(self, scope: Scope) -> tuple[int, str, dict[str, object]] | None:
        """Status, message and extra fields for a request refused on its head alone, or ``None``."""
        raw_path = scope.get("raw_path") or scope["path"].encode("utf-8")
        if len(raw_path) + len(scope.get("query_string", b"")) > self.max_target:
            return 414, f"the request target (path and query) is longer than {self.max_target} bytes", {}
        headers: list[tuple[bytes, bytes]] = scope.get("headers", [])
        if sum(len(name) + len(value) for name, value in headers) > self.max_headers:
            return 431, f"the request headers are larger than {self.max_headers} bytes", {}
        for name, value in headers:
            if name == b"content-length" and _declares_more_than(value, self.max_body):
                # Refused unread: a client that lies (a huge length, a short body) would hold the read open.
                return 413, f"the request body is larger than {self.max_body} bytes", {}
            if name == self._user_key and not _is_text(value):  # the shape of the other bad-header 400s
                location, problem = f"header.{self.user_header}", "not UTF-8 text without control characters"
                extra: dict[str, object] = {
                    "error": "invalid request",
                    "errors": [{"location": location, "message": problem}],
                }
                return 400, f"{location}: {problem}", extra
        return None

    async def _read_body(self, receive: Receive) -> tuple[bytes | None, bool]:
        """The body and whether it is whole: ``(None, False)`` if the client left, ``False`` past the bound."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return None, False
            chunk = message.get("body", b"")
            chunks.append(chunk)
            size += len(chunk)
            if size > self.max_body:
                return b"", False
            if not message.get("more_body", False):
                return b"".join(chunks), True


def _declares_more_than(value: bytes, bound: int) -> bool:
    """Whether a ``Content-Length`` value is a number over ``bound`` (the HTTP server refused any other)."""
    digits = value.strip().lstrip(b"0")
    # Digits counted first: int() refuses text of over 4,300 of them.
    return digits.isdigit() and (len(digits) > len(str(bound)) or int(digits) > bound)
