"""Starting and stopping the moto server's process (its entry point is `etl_local.moto_process`)."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import threading
from pathlib import Path

HOST = "127.0.0.1"


def free_port(host: str = HOST) -> int:
    """A TCP port free on `host` at the time of asking."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class MotoProcess:
    """`python -m etl_local.moto_process` on 127.0.0.1:`port`; its output goes to `log`."""

    READY_TIMEOUT = 60.0

    def __init__(self, port: int, invoke_url: str, log: Path) -> None:
        self.port, self.invoke_url, self.log = port, invoke_url, log
        self._process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        """Start the server and wait until it says it serves; RuntimeError (with its log) if it does not."""
        command = [sys.executable, "-m", "etl_local.moto_process", "--port", str(self.port)]
        with self.log.open("w", encoding="utf-8") as log:
            self._process = subprocess.Popen(  # noqa: S603 - our own module, no shell
                [*command, "--invoke-url", self.invoke_url],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            )
        assert self._process.stdout is not None
        ready: list[str] = []
        reader = threading.Thread(target=lambda: ready.append(self._process.stdout.readline()), daemon=True)
        reader.start()
        reader.join(self.READY_TIMEOUT)
        if not ready or ready[0].strip() != "ready":
            self.stop()
            tail = self.log.read_text(encoding="utf-8", errors="replace")[-2000:]
            raise RuntimeError(f"the moto server did not start on port {self.port}:\n{tail}")

    def stop(self) -> None:
        """End the process (closing its stdin first); safe to call twice."""
        process, self._process = self._process, None
        if process is None:
            return
        with contextlib.suppress(Exception):
            process.stdin.close()  # type: ignore[union-attr]
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
