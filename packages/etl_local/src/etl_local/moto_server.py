"""Starting and stopping the moto server's process (its entry point is `etl_local.moto_process`)."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import threading
from pathlib import Path

from etl_aws import clock

HOST = "127.0.0.1"


def free_port(host: str = HOST) -> int:
    """A TCP port free on `host` at the time of asking."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class MotoProcess:
    """`python -m etl_local.moto_process` on 127.0.0.1:`port`; its output goes to `log`. With `state_dir`
    the services' state is loaded from there at start and saved there at `stop()`."""

    READY_TIMEOUT = 60.0
    SAVE_TIMEOUT = 120.0  # a graceful stop writes every service's state before the process ends

    def __init__(self, port: int, invoke_url: str, log: Path, state_dir: Path | None = None) -> None:
        self.port, self.invoke_url, self.log, self.state_dir = port, invoke_url, log, state_dir
        self._process: subprocess.Popen[str] | None = None
        self._stdin_lock = threading.Lock()

    def start(self) -> None:
        """Start the server and wait until it says it serves; RuntimeError (with its log) if it does not."""
        command = [sys.executable, "-m", "etl_local.moto_process", "--port", str(self.port)]
        command += ["--clock-offset", str(clock.offset_seconds())]
        if self.state_dir is not None:
            command += ["--state-dir", str(self.state_dir)]
        with self.log.open("w", encoding="utf-8") as log:
            self._process = subprocess.Popen(  # noqa: S603 - our own module, no shell
                [*command, "--invoke-url", self.invoke_url],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            )
        if self._read_line() != "ready":
            self.stop()
            tail = self.log.read_text(encoding="utf-8", errors="replace")[-2000:]
            raise RuntimeError(f"the moto server did not start on port {self.port}:\n{tail}")

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs."""
        return self._process.pid if self._process is not None and self._process.poll() is None else None

    def set_clock_offset(self, seconds: float) -> None:
        """Move the process's clock to `seconds` ahead of the wall clock (as `etl_aws.clock` is here)."""
        self._send(f"clock {seconds!r}")

    def resume(self) -> int:
        """Re-drive the Step Functions executions that were running at the last stop (call once the
        functions they invoke are hosted); returns how many, once they are started (so their ARNs answer
        at once, even before their first state)."""
        self._send("resume")
        answer = self._read_line().split()
        return int(answer[1]) if len(answer) == 2 and answer[0] == "resumed" else 0

    def _read_line(self) -> str:
        """The process's next line on stdout ("" when none came within READY_TIMEOUT)."""
        process = self._process
        if process is None or process.stdout is None:
            return ""
        stdout = process.stdout
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(stdout.readline()), daemon=True)
        reader.start()
        reader.join(self.READY_TIMEOUT)
        return line[0].strip() if line else ""

    def _send(self, line: str) -> None:
        with self._stdin_lock:
            process = self._process
            if process is None or process.stdin is None:
                return
            with contextlib.suppress(OSError, ValueError):
                process.stdin.write(line + "\n")
                process.stdin.flush()

    def stop(self) -> None:
        """End the process: closing its stdin asks it to stop (and save its state); it is terminated if
        it has not ended after SAVE_TIMEOUT seconds. Safe to call twice."""
        with self._stdin_lock:
            process, self._process = self._process, None
        if process is None:
            return
        with contextlib.suppress(Exception):
            process.stdin.close()  # type: ignore[union-attr]
        try:
            process.wait(self.SAVE_TIMEOUT)
            return
        except subprocess.TimeoutExpired:
            process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
