"""uvicorn's HTTP/1.1 protocol (h11), answering requests it cannot parse with the JSON error body.

uvicorn answers a request that h11 refuses (a request head over
``h11_max_incomplete_event_size``, raw non-ASCII bytes in the request line,
a malformed header) with a plain-text 400. :class:`JsonErrorH11Protocol`
sends the service's error body instead, with 414 when the request line
alone outgrew the buffer, 431 when the headers did, 400 otherwise. The
servers of :mod:`qfilter.service.server` use it (:data:`PROTOCOL`).
"""

import json

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["PROTOCOL", "JsonErrorH11Protocol"]

PROTOCOL = "qfilter.service.http11:JsonErrorH11Protocol"
"""The import string of :class:`JsonErrorH11Protocol`, for uvicorn's ``http`` setting."""

_H11_DEFAULT_LIMIT = 16 * 1024  # h11's own, when uvicorn is given none
_REASONS = {400: b"Bad Request", 414: b"URI Too Long", 431: b"Request Header Fields Too Large"}


class JsonErrorH11Protocol(H11Protocol):
    """uvicorn's h11 protocol whose answer to an unparsable request is the JSON error body."""

    def send_400_response(self, msg: str) -> None:
        received, _ = self.conn.trailing_data
        limit = self.config.h11_max_incomplete_event_size or _H11_DEFAULT_LIMIT
        if len(received) > limit:
            status = 431 if b"\r\n" in received else 414
            message = f"the request head is larger than {limit} bytes"
        else:
            status = 400
            message = "invalid HTTP request: a malformed request line or header"
        body = json.dumps({"code": status, "message": message}, separators=(",", ":")).encode("utf-8")
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
