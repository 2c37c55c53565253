"""Running the service with uvicorn: :func:`serve` (what ``qfilter serve`` does) and :func:`serve_in_thread`.

Both give uvicorn the options of :func:`uvicorn_options`, so that a request
head up to :data:`~qfilter.service.guards.MAX_REQUEST_HEAD_BYTES` reaches the
app and an oversized URL is answered 414 with the JSON error body rather
than with a dropped connection, and so that what uvicorn's HTTP parser
refuses is answered with that body too (:mod:`qfilter.service.http11`).

With ``workers`` > 1, :func:`serve` prepares the database once, then starts
uvicorn's worker processes on the app factory
:func:`qfilter.service.app.app_from_env`, which reads the database URL from
the :data:`~qfilter.service.app.DATABASE_URL_VARIABLE` environment variable,
how to count from :data:`~qfilter.service.app.COUNT_VARIABLE`, and the key
that signs cursors from :data:`~qfilter.service.app.CURSOR_KEY_VARIABLE`:
:func:`serve` makes one when it is not set, so that every worker takes the
cursors any of them gave out.
"""

import os
import secrets
import socket
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from qfilter.integrations.cursors import cursor_key
from qfilter.integrations.listing import EXACT_COUNT, Counting
from qfilter.service.app import APP_FACTORY, COUNT_VARIABLE, CURSOR_KEY_VARIABLE, DATABASE_URL_VARIABLE, create_app
from qfilter.service.database import default_database_url, load_entities, open_database
from qfilter.service.guards import MAX_REQUEST_HEAD_BYTES
from qfilter.service.http11 import PROTOCOL
from qfilter.service.waylay import WAYLAY_PREFIX

__all__ = ["uvicorn_options", "serve", "serve_in_thread"]


def uvicorn_options() -> dict[str, Any]:
    """The uvicorn settings the service runs with (besides host, port and workers)."""
    return {
        "http": PROTOCOL,  # h11, answering what it cannot parse with the JSON error body
        "h11_max_incomplete_event_size": MAX_REQUEST_HEAD_BYTES,
        "server_header": False,
    }


@contextmanager
def serve_in_thread(app: Any, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve ``app`` with uvicorn in a background thread; yields its base URL (``http://host:port``).

    ``port`` 0 takes a free port. The server stops when the block ends. For
    tests and notebooks; ``qfilter serve`` runs uvicorn in the foreground.
    """
    import uvicorn

    # proto=IPPROTO_TCP, not 0: asyncio turns Nagle's algorithm off (TCP_NODELAY) only on sockets that
    # say they are TCP, and with it on every response waits ~40 ms for the client's delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound_port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", **uvicorn_options()))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the server stopped before it started")
            time.sleep(0.01)
        yield f"http://{host}:{bound_port}"
    finally:
        server.should_exit = True
        thread.join()
        sock.close()


def serve(
    url: str | None,
    entities: Sequence[Mapping[str, Any]] | None,
    host: str,
    port: int,
    *,
    workers: int = 1,
    count: Counting = EXACT_COUNT,
) -> None:
    """What ``qfilter serve`` does: open the database, store ``entities`` if given, serve until interrupted.

    Without ``url``, a SQLite file under the user's cache directory; the demo
    dataset is loaded when the database is new and no ``entities`` are given.
    ``workers`` > 1 runs that many uvicorn worker processes on one database
    (each with its own engine: the service keeps no other state). ``count``
    is how the listings count. Cursors are signed with ``$QFILTER_CURSOR_KEY``,
    or a key made here for every worker.
    """
    import uvicorn

    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    key = os.environ.get(CURSOR_KEY_VARIABLE) or secrets.token_urlsafe(32)
    try:  # a key too short is refused before the database is touched
        cursor_key(key)
    except ValueError as error:
        raise ValueError(f"${CURSOR_KEY_VARIABLE}: {error}") from None
    engine = open_database(url or default_database_url(), demo=entities is None)
    if entities is not None:
        load_entities(engine, entities)
    print(f"qfilter serve: database {engine.url.render_as_string(hide_password=True)}", flush=True)
    print(f"qfilter serve: try  curl 'http://{host}:{port}{WAYLAY_PREFIX}?q=tag:demo'", flush=True)
    if workers == 1:
        uvicorn.run(create_app(engine, count=count, cursor_key=key), host=host, port=port, **uvicorn_options())
        return
    # The workers are new processes: they find the database, the count and the key through the environment.
    os.environ[DATABASE_URL_VARIABLE] = engine.url.render_as_string(hide_password=False)
    os.environ[COUNT_VARIABLE] = str(count)
    os.environ[CURSOR_KEY_VARIABLE] = key
    engine.dispose()
    uvicorn.run(APP_FACTORY, factory=True, workers=workers, host=host, port=port, **uvicorn_options())
