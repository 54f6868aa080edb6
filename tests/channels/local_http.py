"""A local HTTP server on a free port, for channel tests that need real HTTP."""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a client that gave up (the timeout tests) is not an error here


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler], state: object) -> Iterator[str]:
    """Serve ``handler`` (which reads ``self.server.state``) and yield the
    server's base URL, ``http://127.0.0.1:<port>``."""
    server = _Server(("127.0.0.1", 0), handler)
    server.state = state
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
