"""moto split into processes by service, so the services run on both cores.

One moto process parses, stores and serialises every request of every service under one interpreter lock.
Profiled during `etl demo --approve-all`, that process was busy all the time while the runtime's was not,
and DynamoDB (its update, read and response-serialization path) was half of its work. So DynamoDB is
served by a moto process of its own and everything else by the main one.

Services that call each other inside moto stay together in the main process: S3 delivers its event
notifications to SQS and SNS delivers to its SQS subscribers in-process, and Step Functions runs its
Lambda tasks through moto's Lambda at `MOTO_PORT`. DynamoDB is called by no other service here.
Clients find each process through botocore's service-specific endpoint variables
(`AWS_ENDPOINT_URL_DYNAMODB`, https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html),
so the handlers run unchanged. Each process loads and saves the state of the services it serves in a
directory of its own (etl_local.moto_state).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, Protocol

MAIN = "main"
# Process group → the botocore services it serves (service name, and the id the endpoint variable uses).
SEPARATE: dict[str, tuple[tuple[str, str], ...]] = {"dynamodb": (("dynamodb", "DYNAMODB"),)}


class Process(Protocol):
    """What is asked of one moto process (etl_local.moto_server.MotoProcess)."""

    port: int

    def start(self) -> None: ...
    def stop(self) -> None: ...


def state_name(group: str) -> str:
    """The name of a group's log (`<name>.log`) and state directory under the runtime's root."""
    return "moto" if group == MAIN else f"moto-{group}"


class MotoServices:
    """The moto processes of one runtime: `make(group)` builds each; started and stopped together."""

    def __init__(self, make: Callable[[str], Any]) -> None:
        self.processes: dict[str, Any] = {group: make(group) for group in (MAIN, *SEPARATE)}

    @property
    def main(self) -> Any:
        return self.processes[MAIN]

    def url(self, group: str = MAIN, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.processes[group].port}"

    def service_urls(self) -> dict[str, str]:
        """botocore service name → the URL of the process serving it, for the services not on the main one."""
        return {service: self.url(group) for group, services in SEPARATE.items() for service, _ in services}

    def endpoint_env(self) -> dict[str, str]:
        """The `AWS_ENDPOINT_URL_<SERVICE>` variables that send those services' requests to their process."""
        return {
            f"AWS_ENDPOINT_URL_{env_id}": self.url(group)
            for group, services in SEPARATE.items()
            for _, env_id in services
        }

    def pids(self) -> dict[str, int]:
        """`moto-<group>` → process id, for the processes running."""
        found = {f"moto-{group}": getattr(p, "pid", None) for group, p in self.processes.items()}
        return {name: pid for name, pid in found.items() if pid}

    def start(self) -> None:
        """Start every process at once (each takes seconds to import moto); raise the first failure."""
        self._each(lambda process: process.start())

    def stop(self) -> None:
        """Stop every process at once: each saves its own services' state before it ends."""
        self._each(lambda process: process.stop(), raise_first=False)

    def call(self, method: str, *args: Any) -> None:
        """Call `method` on every process that has it (a clock offset, a resume)."""
        for process in self.processes.values():
            found = getattr(process, method, None)
            if found is not None:
                found(*args)

    def _each(self, action: Callable[[Any], None], raise_first: bool = True) -> None:
        errors: list[BaseException] = []

        def run(process: Any) -> None:
            try:
                action(process)
            except BaseException as exc:  # reported below, from the calling thread
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(p,), daemon=True) for p in self.processes.values()]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors and raise_first:
            raise errors[0]
