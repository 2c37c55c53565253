"""uvicorn's HTTP/1.1 protocol (h11), answering requests it cannot parse with the JSON error body.

uvicorn answers a request that h11 refuses (a request head over
``h11_max_incomplete_event_size``, raw non-ASCII bytes in the request line,
a malformed header) with a plain-text 400. :class:`JsonErrorH11Protocol`
sends the service's error body instead, with 414 when the request line
alone outgrew the buffer, 431 when the headers did, 400 otherwise. The
servers of :mod:`qfilter.service.server` use it (:data:`PROTOCOL`).

It also closes a connection gently when the client is still sending (an
answer given before the body was read: a 413, a 408, an unparsable
request): the answer goes out followed by a half-close, and what the client
sends after it is read and dropped, up to :data:`LINGER_SECONDS` and
:data:`LINGER_BYTES`, before the connection closes. Closing at once with
unread data makes the kernel send a reset, which can destroy the answer
before the client reads it.
"""

import asyncio
import json
from typing import Any, Protocol, runtime_checkable

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from qfilter.service.errors import error_body

__all__ = ["PROTOCOL", "LINGER_SECONDS", "LINGER_BYTES", "JsonErrorH11Protocol"]

PROTOCOL = "qfilter.service.http11:JsonErrorH11Protocol"
"""The import string of :class:`JsonErrorH11Protocol`, for uvicorn's ``http`` setting."""

LINGER_SECONDS = 5.0
"""How long a connection closed on a client still sending goes on reading (and dropping) what it sends."""
LINGER_BYTES = 64 * 1024 * 1024
"""The most it reads and drops in that time; past it, the connection closes at once."""
_H11_DEFAULT_LIMIT = 16 * 1024  # h11's own, when uvicorn is given none
_REASONS = {400: b"Bad Request", 414: b"URI Too Long", 431: b"Request Header Fields Too Large"}


@runtime_checkable
class _StreamTransport(Protocol):
    """What a connection's transport does: an :class:`asyncio.Transport`'s methods (uvloop's are not its subclasses)."""

    def get_extra_info(self, name: str, default: Any = ...) -> Any: ...
    def is_closing(self) -> bool: ...
    def close(self) -> None: ...
    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None: ...
    def get_protocol(self) -> asyncio.BaseProtocol: ...
    def is_reading(self) -> bool: ...
    def pause_reading(self) -> None: ...
    def resume_reading(self) -> None: ...
    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None: ...
    def get_write_buffer_size(self) -> int: ...
    def get_write_buffer_limits(self) -> tuple[int, int]: ...
    def write(self, data: bytes | bytearray | memoryview) -> None: ...
    def write_eof(self) -> None: ...
    def can_write_eof(self) -> bool: ...
    def abort(self) -> None: ...


class _LingeringTransport(asyncio.Transport):
    """The connection's transport, whose ``close()`` lingers while the client is still sending."""

    def __init__(self, transport: _StreamTransport, protocol: "JsonErrorH11Protocol") -> None:
        super().__init__()
        self._transport = transport
        self._protocol = protocol
        self.lingering = False
        self._dropped = 0
        self._deadline: asyncio.TimerHandle | None = None

    def close(self) -> None:
        if self.lingering:
            return
        if self._transport.is_closing() or not self._transport.can_write_eof() or not self._protocol.still_sending():
            self.finish()
            return
        self.lingering = True
        self._transport.resume_reading()  # uvicorn may have paused it while a body waited for the app
        self._transport.write_eof()  # after the answer is written out
        self._deadline = asyncio.get_running_loop().call_later(LINGER_SECONDS, self.finish)

    def drop(self, data: bytes) -> None:
        """Count what the client sent while lingering; close once it is too much."""
        self._dropped += len(data)
        if self._dropped > LINGER_BYTES:
            self.finish()

    def finish(self) -> None:
        """Close the connection now."""
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        self._transport.close()

    def is_closing(self) -> bool:
        return self.lingering or self._transport.is_closing()

    # The rest as the transport itself does.
    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._transport.set_protocol(protocol)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._transport.get_protocol()

    def is_reading(self) -> bool:
        return self._transport.is_reading()

    def pause_reading(self) -> None:
        self._transport.pause_reading()

    def resume_reading(self) -> None:
        self._transport.resume_reading()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._transport.set_write_buffer_limits(high, low)

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size()

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._transport.get_write_buffer_limits()

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self._transport.write(data)

    def write_eof(self) -> None:
        self._transport.write_eof()

    def can_write_eof(self) -> bool:
        return self._transport.can_write_eof()

    def abort(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._transport.abort()


class JsonErrorH11Protocol(H11Protocol):
    """uvicorn's h11 protocol whose answer to an unparsable request is the JSON error body.

    Its connections linger on close while the client is still sending (see the module's description).
    """

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # asyncio.Transport first: a plain isinstance, where the protocol's checks each method by name.
        if not isinstance(transport, (asyncio.Transport, _StreamTransport)):
            raise TypeError(f"HTTP/1.1 needs a stream transport, not a {type(transport).__name__}")
        self._lingering = _LingeringTransport(transport, self)
        super().connection_made(self._lingering)

    def still_sending(self) -> bool:
        """Whether the client has more of its request to send: a body not read whole, or a request refused."""
        return self.conn.their_state in (h11.SEND_BODY, h11.ERROR)

    def data_received(self, data: bytes) -> None:
        if self._lingering.lingering:  # the answer is out: what comes now is dropped unread
            self._lingering.drop(data)
            return
        super().data_received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self._lingering.finish()
        super().connection_lost(exc)

    def send_400_response(self, msg: str) -> None:
        received, _ = self.conn.trailing_data
        limit = self.config.h11_max_incomplete_event_size or _H11_DEFAULT_LIMIT
        if len(received) > limit:
            status = 431 if b"\r\n" in received else 414
            message = f"the request head is larger than {limit} bytes"
        else:
            status = 400
            message = "invalid HTTP request: a malformed request line or header"
        body = json.dumps(error_body(status, message), separators=(",", ":")).encode("utf-8")
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode("ascii")),
            (b"connection", b"close"),
        ]
        for event in (
            h11.Response(status_code=status, headers=headers, reason=_REASONS[status]),
            h11.Data(data=body),
            h11.EndOfMessage(),
        ):
            output = self.conn.send(event)
            if output:
                self.transport.write(output)
        self.transport.close()
