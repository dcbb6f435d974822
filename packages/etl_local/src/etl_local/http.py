"""The HTTP servers of the local runtime: bound to a free port on 127.0.0.1, served by a daemon thread."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class LoopbackServer:
    """Base of the local endpoints (gateway, Lambda API): start, stop and the URL they answer on."""

    def _listen(self, handler_class: type[BaseHTTPRequestHandler], name: str, host: str) -> None:
        self.server = ThreadingHTTPServer((host, 0), handler_class)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, name=name, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket; a server never started is only closed (shutdown() would
        wait for a serve_forever loop that never ran)."""
        if self._thread.is_alive():
            self.server.shutdown()
        self.server.server_close()
