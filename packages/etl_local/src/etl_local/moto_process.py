"""The moto server in a process of its own, with the local runtime's fixes to it.

Everything moto does (request parsing, storage, response serialization, Step Functions' ASL interpreter)
then runs on its own core instead of sharing one interpreter lock with the handlers. The fixes are
applied here, inside that process: complete S3 notifications, S3 copy conditions (`s3_conditions`),
Step Functions executing the ASL (with the syntax trees and task clients cached), and moto's Lambda
invocations sent back to the runtime's function host over HTTP (`--invoke-url`), since moto cannot run
Lambda code without Docker.

With `--state-dir D` the services' state is loaded from D before serving and saved there at a graceful
stop (stdin closed, SIGTERM or SIGINT): see `etl_local.moto_state` and `etl_local.sfn_resume`. A line
`clock SECONDS` on stdin sets how far the process's clock (`etl_aws.clock`) runs ahead of the wall clock,
so the runtime's clock and this process's agree; a line `resume` re-drives the Step Functions executions
that were running at the last stop (sent once the runtime hosts the functions they call).

Run as `python -m etl_local.moto_process --port P --invoke-url URL [--state-dir D]`; it prints `ready`
once it serves.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import quote

from etl_aws import clock
from etl_local import (
    dynamodb_atomic,
    dynamodb_copies,
    dynamodb_wire,
    moto_dispatch,
    moto_state,
    sfn_resume,
    sqs_retention,
)
from etl_local import sfn as sfn_pipeline
from etl_local.moto_wsgi import KeptAliveMotoServer
from etl_local.s3_conditions import enforce_copy_source_if_match
from etl_local.s3_events import complete_s3_notifications

HOST = "127.0.0.1"
ERROR_HEADER = "X-Amz-Function-Error"
INVOKE_TIMEOUT = 900.0  # the longest a Lambda function runs


def invoker(base_url: str) -> Any:
    """(function name, event) → (payload, errored), by a POST to the runtime's task endpoint."""

    def invoke(name: str, event: Any) -> tuple[str, bool]:
        body = event if isinstance(event, str) else json.dumps(event)
        request = urllib.request.Request(  # noqa: S310 - the runtime's own loopback endpoint
            f"{base_url}/functions/{quote(name, safe='')}/invocations",
            data=body.encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=INVOKE_TIMEOUT) as response:  # noqa: S310
            return response.read().decode(), bool(response.headers.get(ERROR_HEADER))

    return invoke


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m etl_local.moto_process")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--invoke-url", required=True, help="the runtime's task endpoint")
    parser.add_argument("--state-dir", type=Path, help="load the services' state from here; save it at stop")
    parser.add_argument("--clock-offset", type=float, default=0.0, help="seconds ahead of the wall clock")
    args = parser.parse_args(argv)
    clock.set_offset(args.clock_offset)

    os.environ["MOTO_PORT"] = str(args.port)  # where moto's Step Functions tasks call back to moto
    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    complete_s3_notifications()
    dynamodb_wire.install()
    dynamodb_copies.install()
    dynamodb_atomic.install()
    moto_dispatch.install()
    sqs_retention.install()
    enforce_copy_source_if_match()
    sfn_pipeline.enable_execution()
    sfn_pipeline.cache_asl_parse()
    sfn_pipeline.cache_json_paths()
    sfn_pipeline.reuse_task_clients()
    sfn_pipeline.closed_tokens_time_out()
    sfn_pipeline.stop_ends_callback_waits()
    sfn_pipeline.route_lambda_invocations(invoker(args.invoke_url))
    sfn_resume.follow_clock()
    if args.state_dir is not None:
        moto_state.load(args.state_dir)

    server = KeptAliveMotoServer(HOST, args.port)
    server.start()
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    # Ctrl-C reaches the whole process group; under a runtime (stdin a pipe) the runtime decides when
    # this process stops, after its handlers have finished writing, so the state saved is complete.
    interactive = sys.stdin.isatty()
    signal.signal(signal.SIGINT, (lambda *_: stopping.set()) if interactive else signal.SIG_IGN)
    print("ready", flush=True)
    # The parent closes our stdin when it goes: never outlive the runtime that started us.
    threading.Thread(target=_follow_parent, args=(stopping,), daemon=True).start()
    stopping.wait()
    server.stop()
    if args.state_dir is not None:
        moto_state.save(args.state_dir)
    return 0


def _follow_parent(stopping: threading.Event) -> None:
    """Apply the parent's `clock SECONDS` and `resume` lines; stop at the end of stdin (the parent went)."""
    for line in sys.stdin:
        command, _, value = line.strip().partition(" ")
        if command == "clock":
            clock.set_offset(float(value))
        elif command == "resume":
            started = sfn_resume.redrive()
            print(f"resumed {started}", flush=True)  # the parent waits for this line
    stopping.set()


if __name__ == "__main__":
    sys.exit(main())
