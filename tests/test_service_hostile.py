"""Hostile requests get a 4xx with the JSON error body, on SQLite and PostgreSQL, over real HTTP.

Bad ids (NUL, control characters, very long, ``..``, broken UTF-8), a huge
``q``, bodies that are no JSON or no entity, wrong content types, odd
headers, and requests the HTTP parser itself refuses. Every answer is a
client error whose body is ``{"code": <the status>, "message": "...", ...}``;
none is a 5xx, a dropped connection or a success.
"""

from __future__ import annotations

import json
import socket
import tempfile
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from service_support import BACKENDS, USER_HEADER, private_database

from qfilter.service.app import create_app, open_database
from qfilter.service.guards import MAX_BODY_BYTES, MAX_REQUEST_HEAD_BYTES, MAX_TARGET_BYTES
from qfilter.service.http11 import LINGER_SECONDS
from qfilter.service.server import serve_in_thread

NOW = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)
SAVED = "/api/v1beta2/savedqueries"


@dataclass
class Hostile:
    client: httpx.Client
    base_url: str
    saved_id: str


@pytest.fixture(scope="module", params=BACKENDS)
def service(request: pytest.FixtureRequest) -> Iterator[Hostile]:
    """A service holding one query entity (``kept``) and one saved query, which no request may harm."""
    with tempfile.TemporaryDirectory() as directory, private_database(request.param, request, Path(directory)) as url:
        engine = open_database(url, demo=False)
        try:
            with serve_in_thread(create_app(engine, clock=lambda: NOW)) as base_url:
                with httpx.Client(base_url=base_url, timeout=60.0) as client:
                    assert client.post("/config/query", json={"name": "kept", "meta": {"tags": ["t"]}}).is_success
                    saved_id = client.post(SAVED, json={"name": "kept", "sql": "select 1"}).json()["id"]
                    yield Hostile(client, base_url, saved_id)
                    # Nothing hostile changed what was stored.
                    assert client.get("/config/query").json()["total"] == 1
                    assert [item["id"] for item in client.get(SAVED).json()] == [saved_id]
        finally:
            engine.dispose()


def assert_client_error(response: httpx.Response, *statuses: int) -> dict[str, Any]:
    """The answer is one of ``statuses`` (any 4xx if none given) with the JSON error body."""
    status = response.status_code
    assert (status in statuses) if statuses else (400 <= status < 500), f"{status}: {response.text[:300]}"
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body: dict[str, Any] = response.json()
    assert body["code"] == status, body
    assert isinstance(body["message"], str) and body["message"].strip(), body
    return body


def _raw(base_url: str, request: bytes, *, tolerate_reset: bool = False) -> tuple[int, dict[str, str], bytes] | None:
    """Send ``request`` as bytes on a new connection; the answer's status, headers and body.

    ``None`` when the server closed the connection before any answer could
    be read (only allowed with ``tolerate_reset``).
    """
    address = urlsplit(base_url)
    assert address.hostname is not None and address.port is not None
    received = b""
    with socket.create_connection((address.hostname, address.port), timeout=60) as sock:
        try:
            sock.sendall(request)
        except (BrokenPipeError, ConnectionResetError):
            if not tolerate_reset:
                raise
        try:
            while chunk := sock.recv(65536):
                received += chunk
                if _complete(received):
                    break
        except ConnectionResetError:
            if not tolerate_reset:
                raise
    if not received and tolerate_reset:
        return None
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, body


def _complete(received: bytes) -> bool:
    head, separator, body = received.partition(b"\r\n\r\n")
    if not separator:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return False


def assert_raw_client_error(answer: tuple[int, dict[str, str], bytes] | None, *statuses: int) -> dict[str, Any]:
    assert answer is not None, "no answer"
    status, headers, raw_body = answer
    assert status in statuses, f"{status}: {raw_body[:300]!r}"
    assert headers["content-type"].startswith("application/json"), headers
    body: dict[str, Any] = json.loads(raw_body)
    assert body["code"] == status and body["message"].strip(), body
    return body


# -- bad ids -----------------------------------------------------------------------------------------

BAD_IDS = [
    "a%00b",  # NUL: PostgreSQL refuses it in text
    "%00",
    "a%01b",
    "line%0Abreak",
    "del%7F",
    "x" * 256,  # longer than any stored name
    "y" * 4000,
    "%2e%2e",  # .. (a client would resolve a literal one: see the raw test below)
    "%2E",
    "%20leading",
    "trailing%20",
    "%FF%FE",  # not UTF-8: decoded with replacement characters
    "%C3%28",
    "%ED%A0%80",  # an encoded surrogate
    "Z%C3%BCrich%F0%9F%98%80-never-stored",  # fine Unicode, but no such entity
    "kept%2F..%2F..%2Fetc%2Fpasswd",
    "%25%32%65",
]


@pytest.mark.parametrize("bad_id", BAD_IDS)
@pytest.mark.parametrize("prefix", ["/config/query", SAVED])
def test_a_bad_id_is_a_404_on_every_method(service: Hostile, prefix: str, bad_id: str) -> None:
    url = f"{prefix}/{bad_id}"
    body = {"sql": "select 1", "name": "x"} if prefix == SAVED else {}
    for response in (
        service.client.get(url),
        service.client.put(url, json=body),
        service.client.delete(url),
    ):
        assert_client_error(response, 404)


@pytest.mark.parametrize(
    "target", [b"/config/query/a%00b", b"/config/query/..", b"/config/query/.", b"/config/query/%2e."]
)
def test_ids_sent_raw_are_404s(service: Hostile, target: bytes) -> None:
    answer = _raw(service.base_url, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert_raw_client_error(answer, 404)


# -- huge requests -----------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [MAX_TARGET_BYTES + 1, 64 * 1024, 1_000_000])
@pytest.mark.parametrize("path", ["/config/query", SAVED])
def test_a_huge_q_is_a_414(service: Hostile, path: str, size: int) -> None:
    # Raw: HTTP clients refuse to send such URLs themselves.
    request = f"GET {path}?q=name:{'a' * size} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
    body = assert_raw_client_error(_raw(service.base_url, request), 414)
    assert str(MAX_TARGET_BYTES) in body["message"]


def test_a_q_just_under_the_bound_is_served(service: Hostile) -> None:
    # The filter limits answer (a 400 naming q) before the size bound does.
    response = service.client.get("/config/query", params={"q": "a" * (MAX_TARGET_BYTES - 100)})
    assert_client_error(response, 400)


def test_a_huge_id_is_a_414(service: Hostile) -> None:
    request = f"GET /config/query/{'x' * 1_000_000} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
    assert_raw_client_error(_raw(service.base_url, request), 414)


def test_a_request_head_beyond_what_the_server_reads_is_refused_in_json(service: Hostile) -> None:
    request = b"GET /config/query?q=" + b"a" * (MAX_REQUEST_HEAD_BYTES + 1024) + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    answer = _raw(service.base_url, request, tolerate_reset=True)
    if answer is not None:  # the server answers, then closes while the client may still be sending
        assert_raw_client_error(answer, 414)


def test_a_huge_body_is_a_413(service: Hostile) -> None:
    entity = {"name": "big", "meta": {"note": "n" * (MAX_BODY_BYTES + 1)}}
    assert_client_error(service.client.post("/config/query", json=entity), 413)

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it comes
        yield b'{"name": "big", "meta": {"note": "'
        for _ in range(MAX_BODY_BYTES // 65536 + 2):
            yield b"n" * 65536
        yield b'"}}'

    streamed = service.client.post("/config/query", content=chunks(), headers={"content-type": "application/json"})
    assert_client_error(streamed, 413)


@pytest.mark.parametrize("size", [MAX_BODY_BYTES + 1, 16 * MAX_BODY_BYTES])
def test_an_honest_huge_upload_reads_its_413(service: Hostile, size: int) -> None:
    # Refused before it is read; the server reads and drops the rest (more than the sockets buffer) after
    # answering, so that the client, which sends it all before it reads, gets the answer and no reset.
    content = b'{"name": "big", "meta": {"note": "' + b"n" * size + b'"}}'
    response = service.client.post("/config/query", content=content, headers={"content-type": "application/json"})
    assert_client_error(response, 413)


# -- bodies that lie about their size, or trickle in ----------------------------------------------------

ANSWER_WAIT = 10.0  # seconds a test waits for an answer: far below the body deadline and the 45 s of old


def _send_slowly(base_url: str, head: bytes, parts: Sequence[bytes], pause: float) -> tuple[bytes, bytes]:
    """Send ``head``, then ``parts`` with ``pause`` seconds between them while reading the answer.

    Returns the answer (up to the end of its body) and what came after it
    before the server closed the connection. A recv that outwaits
    :data:`ANSWER_WAIT` fails the test: the server held the request open.
    """
    address = urlsplit(base_url)
    assert address.hostname is not None and address.port is not None
    with socket.create_connection((address.hostname, address.port), timeout=ANSWER_WAIT) as sock:
        sock.sendall(head)
        answered = threading.Event()

        def trickle() -> None:
            for part in parts:
                if answered.wait(pause):
                    return
                try:
                    sock.sendall(part)
                except OSError:  # closed once the server stopped lingering
                    return

        sender = threading.Thread(target=trickle, daemon=True)
        sender.start()
        received = b""
        try:
            while not _complete(received):
                chunk = sock.recv(65536)
                assert chunk, f"the connection closed without a whole answer: {received!r}"
                received += chunk
            answered.set()
            head_end = received.index(b"\r\n\r\n") + 4
            length = int(
                next(
                    line for line in received[:head_end].split(b"\r\n") if line.lower().startswith(b"content-length:")
                ).split(b":")[1]
            )
            answer, after = received[: head_end + length], received[head_end + length :]
            # The server closes (it will not read another request after an unread body) within its lingering.
            sock.settimeout(LINGER_SECONDS + ANSWER_WAIT)
            while chunk := sock.recv(65536):
                after += chunk
        finally:
            answered.set()
            sender.join()
    return answer, after


def _parsed(answer: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in header_lines)}
    return int(status_line.split()[1]), headers, body


LYING_HEADS = [
    b"Content-Length: 999999999\r\n",
    b"Content-Length: " + str(MAX_BODY_BYTES + 1).encode() + b"\r\n",
    b"Content-Length: 000" + str(MAX_BODY_BYTES + 1).encode() + b"\r\n",
    b"Content-Length: 999999999\r\nExpect: 100-continue\r\n",  # refused before the client sends the body
]


@pytest.mark.parametrize("declared", LYING_HEADS, ids=lambda head: repr(head[:40]))
@pytest.mark.parametrize("path", ["/config/query", SAVED, "/config/query/kept"])
def test_a_content_length_over_the_limit_is_a_413_before_the_body_is_read(
    service: Hostile, declared: bytes, path: str
) -> None:
    method = b"PUT" if path.endswith("/kept") else b"POST"
    head = method + b" " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + declared
    answer, after = _send_slowly(service.base_url, head + b"\r\n" + b'{"name": "a"}', [b"x" * 1000] * 3, 0.05)
    body = assert_raw_client_error(_parsed(answer), 413)
    assert str(MAX_BODY_BYTES) in body["message"]
    assert _parsed(answer)[1]["connection"] == "close" and after == b""


def test_after_refusing_a_body_the_server_closes_in_stages(service: Hostile) -> None:
    """RFC 9112 section 9.6: the answer, a half-close, then what the client still sends is read and dropped.

    Closing at once with unread data would answer the client's next bytes
    with a reset, which can destroy the answer before the client reads it.
    """
    address = urlsplit(service.base_url)
    assert address.hostname is not None and address.port is not None
    declared = 16 * MAX_BODY_BYTES
    head = b"POST /config/query HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    head += b"Content-Length: " + str(declared).encode() + b"\r\n\r\n"
    with socket.create_connection((address.hostname, address.port), timeout=ANSWER_WAIT) as sock:
        sock.sendall(head + b"x" * 65536)
        received = b""
        while chunk := sock.recv(65536):  # the answer, then the end of the server's side
            received += chunk
        assert_raw_client_error(_parsed(received), 413)
        sock.sendall(b"x" * (declared // 4))  # no reset: the server is still reading
        sock.shutdown(socket.SHUT_WR)
        assert sock.recv(1) == b""


@pytest.fixture(scope="module")
def impatient_reader() -> Iterator[str]:
    """A service (SQLite) that waits one second for a request body: the body deadline, shortened."""
    with tempfile.TemporaryDirectory() as directory:
        engine = open_database(f"sqlite:///{Path(directory) / 'slow.sqlite3'}", demo=False)
        try:
            with serve_in_thread(create_app(engine, clock=lambda: NOW, body_timeout=1.0)) as base_url:
                yield base_url
        finally:
            engine.dispose()


SLOW_BODIES = {
    # Content-Length 100, 13 bytes, then a byte every 0.2 s: it would take 17 s.
    "trickle": (b"Content-Length: 100\r\n", [b'{"name": "a"'] + [b" "] * 200),
    # Shorter than its Content-Length, then nothing.
    "short": (b"Content-Length: 100\r\n", [b'{"name": "a"}']),
    # Chunks that trickle, then never end.
    "chunked": (b"Transfer-Encoding: chunked\r\n", [b"1\r\n{\r\n"] + [b"1\r\n \r\n"] * 200),
}


@pytest.mark.parametrize("kind", SLOW_BODIES)
def test_a_body_that_does_not_arrive_in_time_is_a_408(impatient_reader: str, kind: str) -> None:
    framing, parts = SLOW_BODIES[kind]
    head = b"POST /config/query HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + framing + b"\r\n"
    answer, after = _send_slowly(impatient_reader, head, parts, 0.2)
    body = assert_raw_client_error(_parsed(answer), 408)
    assert "within 1 s" in body["message"]
    assert _parsed(answer)[1]["connection"] == "close" and after == b""
    assert httpx.get(f"{impatient_reader}/config/query/a").status_code == 404  # nothing was stored


def test_a_slow_body_that_arrives_in_time_is_served(impatient_reader: str) -> None:
    head = b"POST /config/query HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 19\r\n"
    head += b"Connection: close\r\n\r\n"
    answer, _ = _send_slowly(impatient_reader, head, [b'{"name": ', b'"in time"}'], 0.1)
    status, _, body = _parsed(answer)
    assert status == 201 and json.loads(body)["name"] == "in time"
    assert httpx.delete(f"{impatient_reader}/config/query/in%20time").status_code == 204


# -- bodies --------------------------------------------------------------------------------------------

BAD_BODIES: list[bytes] = [
    b"",
    b"{",
    b'{"name": }',
    b"[1, 2",
    b"null",
    b'"a string"',
    b"123",
    b"[]",
    b"\xff\xfe\x00{",  # not UTF-8
    b'{"name": "x\\u0000"}',  # NUL
    b'{"name": "x", "meta": {"k": "\\ud800"}}',  # a lone surrogate
    b'{"name": "x", "meta": {"k": NaN}}',
    b'{"name": "x", "meta": {"k": 1e999}}',
    b'{"name": "x", "meta": {"k": ' + b"9" * 5000 + b"}}",  # more digits than Python reads
    b"[" * 100_000,  # nesting
    b'{"name": "x", "meta": ' + b'{"a": ' * 40 + b"1" + b"}" * 40 + b"}",
    b'{"name": "x", "meta": {"tags": [' + b'"t", ' * 1000 + b'"' + b"t" * 300 + b'"]}}',
    b'{"name": 12}',
    b'{"name": "", "sql": ""}',
]
BAD_SAVED_QUERIES: list[bytes] = [
    b'{"name": "x", "sql": ["select"]}',
    b'{"name": "x"}',
    b'{"name": "x", "sql": "s", "tags": "t"}',
    b'{"name": "x", "sql": "s", "description": null}',
]
BAD_ENTITIES: list[bytes] = [
    b'{"name": "a/b"}',
    b'{"name": ".."}',
    b'{"name": " x"}',
    b'{"name": "x", "meta": []}',
    b'{"name": "x", "query": {"data": [{"resource": 5}]}}',
]


def _writes(service: Hostile, body: bytes) -> list[tuple[str, str]]:
    """The writes a body is refused by: every write for what is no JSON object, else the resource's."""
    entity_writes = [("POST", "/config/query"), ("PUT", "/config/query/kept")]
    saved_writes = [("POST", SAVED), ("PUT", f"{SAVED}/{service.saved_id}")]
    if body in BAD_SAVED_QUERIES:
        return saved_writes
    if body in BAD_ENTITIES:
        return entity_writes
    return entity_writes + saved_writes


@pytest.mark.parametrize("body", BAD_BODIES + BAD_SAVED_QUERIES + BAD_ENTITIES, ids=lambda body: repr(body[:30]))
def test_a_bad_body_is_a_400(service: Hostile, body: bytes) -> None:
    headers = {"content-type": "application/json"}
    for method, url in _writes(service, body):
        assert_client_error(service.client.request(method, url, content=body, headers=headers), 400)


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/xml", ""],
)
def test_a_body_that_is_not_sent_as_json_is_a_415(service: Hostile, content_type: str) -> None:
    content = json.dumps({"name": "not stored", "sql": "select 1"}).encode()
    for method, url in [("POST", "/config/query"), ("PUT", "/config/query/kept"), ("POST", SAVED)]:
        response = service.client.request(method, url, content=content, headers={"content-type": content_type})
        assert "Content-Type" in assert_client_error(response, 415)["message"]


# -- headers and methods -----------------------------------------------------------------------------


def test_a_long_user_header_is_a_400_or_431(service: Hostile) -> None:
    for size, status in [(256, 400), (10_000, 400), (100_000, 431), (1_000_000, 431)]:
        response = service.client.get("/config/query", params={"q": "user:@me"}, headers={USER_HEADER: "u" * size})
        assert_client_error(response, status)


@pytest.mark.parametrize("value", [b"\xff\xfe", b"users/\xc3", b"caf\xe9"])
def test_a_user_header_that_is_not_utf8_is_a_400(service: Hostile, value: bytes) -> None:
    headers = {USER_HEADER.encode(): value}
    for response in (
        service.client.get("/config/query", params={"q": "created_by:@me"}, headers=headers),
        service.client.post("/config/query", json={"name": "not stored"}, headers=headers),
        service.client.post(SAVED, json={"name": "n", "sql": "s"}, headers=headers),
    ):
        body = assert_client_error(response, 400)
        assert USER_HEADER in body["message"]


def test_many_headers_are_a_431(service: Hostile) -> None:
    headers = {f"x-filler-{index}": "f" * 1000 for index in range(100)}
    assert_client_error(service.client.get("/config/query", headers=headers), 431)


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /config/query/\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n",  # raw non-ASCII in the target
        b"GET /config/query?q=tag:\xe9 HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /config/query HTTP/1.1\r\n\r\n",  # no Host
        b"GET /config/query HTTP/1.1\r\nHost: x\r\nX-User-Id: a\x01b\r\n\r\n",  # a control character
        b"GET /config/query HTTP/1.1\r\nHost: x\r\nBad Header: x\r\n\r\n",
        b"GARBAGE\r\n\r\n",
        b"POST /config/query HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
    ],
    ids=lambda request: repr(request[:40]),
)
def test_what_the_http_parser_refuses_is_a_400_in_json(service: Hostile, request_bytes: bytes) -> None:
    assert_raw_client_error(_raw(service.base_url, request_bytes), 400)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PATCH", "/config/query"),
        ("BREW", "/config/query/kept"),
        ("POST", "/config/query/kept"),
        ("DELETE", "/config/query"),
        ("POST", "/docs"),
        ("PUT", "/docs/assets/swagger-ui.css"),
    ],
)
def test_an_unserved_method_is_a_405_with_allow(service: Hostile, method: str, path: str) -> None:
    response = service.client.request(method, path)
    assert_client_error(response, 405)
    assert "GET" in response.headers["allow"]


@pytest.mark.parametrize(
    "path",
    ["/nothing", "/config", "/config/query/kept/extra", "/docs/assets/index.html", "/docs/assets/%2e%2e/app.py"],
)
def test_an_unknown_path_is_a_404(service: Hostile, path: str) -> None:
    assert_client_error(service.client.get(path), 404)


@pytest.mark.parametrize(
    "params",
    [
        {"q": "name:a\x00b"},
        {"q": "tag:" + "x," * 1000},  # more matchers than the limit
        {"q": " ".join(["tag:x"] * 100)},  # more terms than the limit
        {"q": "x" * 4097},  # longer than the limit
        {"q": "(" * 1000},
        {"q": "name:" + '"' * 1000},
        {"q": "created:" + "9" * 3000},
        {"limit": "9" * 100},
        {"offset": "9" * 100},
        {"offset": "-0"},
        {"limit": "1e3"},
    ],
    ids=lambda params: repr(params)[:40],
)
def test_bad_parameters_are_400s(service: Hostile, params: dict[str, str]) -> None:
    assert_client_error(service.client.get("/config/query", params=params), 400)
    if "q" in params:
        assert_client_error(service.client.get(SAVED, params=params), 400)
