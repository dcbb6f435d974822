"""moto's request routing, remembered per host.

For every request moto's server (5.2.5, `DomainDispatcherApplication.get_backend_for_host`) works out
the service anew under one process-wide lock: it lists moto's package directory (`os.listdir` and an
`isdir` per entry, about 200 of them) and then tries its URL patterns one by one. That was a quarter of
the main moto process's busy time in the 100-document run (py-spy), and the lock serialized every
request behind it. The answer depends only on the host name, and the directory and patterns do not
change while the process runs, so each host is worked out once.
"""

from __future__ import annotations

import functools
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication

_ORIGINAL = DomainDispatcherApplication.get_backend_for_host


def install() -> None:
    """Remember each host's backend in this process."""
    if getattr(DomainDispatcherApplication.get_backend_for_host, "remembered", False):
        return
    found: dict[str | None, Any] = {}

    @functools.wraps(_ORIGINAL)
    def get_backend_for_host(self: DomainDispatcherApplication, host: str | None) -> Any:
        if host not in found:
            found[host] = _ORIGINAL(self, host)
        return found[host]

    get_backend_for_host.remembered = True  # type: ignore[attr-defined]
    DomainDispatcherApplication.get_backend_for_host = get_backend_for_host  # type: ignore[method-assign]
