"""moto's WSGI application served by waitress: connections kept open, a fixed pool of threads.

moto's own server (werkzeug's development server) closes the connection after every response — by
design, werkzeug says, since Python's `http.server` cannot drain a request body it did not read — and
starts a thread per request. Every request of the local runtime then paid a new TCP connection on both
sides: about a quarter of the function host's busy time in the 100-document run (py-spy: `connect`,
`getaddrinfo`, socket set-up and close). waitress, a production WSGI server, keeps HTTP/1.1 connections
open, so botocore's connection pool reuses them, and answers from a pool of threads. The application is
moto's own (`DomainDispatcherApplication`), unchanged.

Two things waitress does that moto's server does not are undone, so S3 user metadata keeps its names as
AWS keeps them: waitress drops request headers whose name holds an underscore (moto's request handler
keeps `x-amz-meta-*` ones under their original spelling, `moto.core.request`), and it capitalizes
response header names (`x-amz-meta-owner` would come back as metadata key `Owner`).
"""

from __future__ import annotations

import re
import threading
from typing import Any

from moto.core.request import PRESERVED_HEADER_NAMES_ENVIRON_KEY, environ_key_for_header
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.task import WSGITask

# SQS long polls hold a thread for up to 20 s each (one per event source mapping); the rest are quick.
THREADS = 32
# S3 takes single PUTs of up to 5 GiB (https://docs.aws.amazon.com/AmazonS3/latest/userguide/upload-objects.html);
# the local limits (etl_local.limits) refuse what AWS refuses, so the server itself must not cut earlier.
MAX_BODY_BYTES = 5 * 1024**3 + 1
# A connection left idle this long is closed (botocore opens a new one when it needs it).
IDLE_SECONDS = 120


_META_WITH_UNDERSCORE = re.compile(rb"^(x-amz-meta-[^:\r\n]*_[^:\r\n]*):", re.IGNORECASE | re.MULTILINE)


class _MetadataKeepingParser(HTTPRequestParser):
    """Keeps `x-amz-meta-*` headers with underscores (as dashes in the WSGI key, as moto's own server
    does) and remembers their original names; answers a body-less `Expect: 100-continue` request."""

    preserved_names: dict[str, str]

    def parse_header(self, header_plus: bytes) -> None:
        self.preserved_names = {}

        def keep(match: re.Match[bytes]) -> bytes:
            name = match.group(1).decode("latin-1")
            self.preserved_names[environ_key_for_header(name)] = name
            return name.replace("_", "-").encode("latin-1") + b":"

        super().parse_header(_META_WITH_UNDERSCORE.sub(keep, header_plus))
        if not self.chunked and self.content_length == 0:
            # Nothing to continue with: waitress (3.0.2) would send "100 Continue" and then wait for a
            # body that never comes, so an empty PutObject (botocore asks for 100-continue) hung.
            self.expect_continue = False


class _NameKeepingTask(WSGITask):
    """Hands moto the preserved header names, and sends response headers spelt as moto wrote them."""

    def get_environment(self) -> dict[str, Any]:
        environ = super().get_environment()
        environ[PRESERVED_HEADER_NAMES_ENVIRON_KEY] = getattr(self.request, "preserved_names", {})
        return environ

    def build_response_header(self) -> bytes:
        spelt = {name.lower(): name for name, _ in self.response_headers}
        head = super().build_response_header()
        lines = head.split(b"\r\n")
        for index, line in enumerate(lines[1:], start=1):
            name, colon, rest = line.partition(b":")
            original = spelt.get(name.decode("latin-1").lower()) if colon else None
            if original is not None:
                lines[index] = original.encode("latin-1") + colon + rest
        return b"\r\n".join(lines)


class _Channel(HTTPChannel):
    parser_class = _MetadataKeepingParser
    task_class = _NameKeepingTask


class KeptAliveMotoServer:
    """moto's server on `host:port`, with `start()` and `stop()` as moto's ThreadedMotoServer has."""

    def __init__(self, host: str, port: int, threads: int = THREADS) -> None:
        import waitress
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        app = DomainDispatcherApplication(create_backend_app)
        self._server: Any = waitress.create_server(
            app,
            host=host,
            port=port,
            threads=threads,
            ident="moto",
            max_request_body_size=MAX_BODY_BYTES,
            channel_timeout=IDLE_SECONDS,
        )
        self._server.channel_class = _Channel
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Serve from a thread of this process (the port is bound already)."""
        self._thread = threading.Thread(target=self._server.run, name="moto-server", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop accepting and close every connection."""
        self._server.close()
        if self._thread is not None:
            self._thread.join(timeout=10)
