"""A real local HTTP server standing in for a customer's endpoint (webhooks, training pipelines)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# (headers, body) of a POST → the status to answer, or the status and extra headers (e.g. a redirect's Location)
Respond = Callable[[dict[str, str], bytes], int | tuple[int, dict[str, str]]]


@contextmanager
def receiving(respond: Respond) -> Iterator[int]:
    """Serve POSTs on 127.0.0.1 until the block ends; yields the port. Each request's headers and body go to
    `respond` (on the server's thread), whose return is the status answered, with the body `ok`."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            answer = respond(dict(self.headers), self.rfile.read(int(self.headers["Content-Length"])))
            status, extra = answer if isinstance(answer, tuple) else (answer, {})
            self.send_response(status)
            for name, value in extra.items():
                self.send_header(name, value)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        server.server_close()
