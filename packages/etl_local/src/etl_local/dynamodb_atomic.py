"""moto's DynamoDB answering one request at a time, so each item operation is atomic as in AWS.

In DynamoDB a conditional write checks its condition and writes in one atomic step, and a read sees an
item either before or after a write, never half-way
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/WorkingWithItems.html#WorkingWithItems.ConditionalUpdate).
The approval service relies on it: the first decision wins by a conditional write. moto (5.2.5) runs
requests on concurrent threads with no lock around an item: two conditional updates can both pass their
check, and a read that encodes an item while another request changes it fails with "dictionary changed
size during iteration" (seen in the fault matrix's polling reads).

`install()` serializes moto's DynamoDB request handling (parse, backend call and response encoding) in
this process. It costs no parallelism that existed: moto's DynamoDB is Python under one interpreter lock.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

from moto.dynamodb.responses import DynamoHandler

LOCK = threading.RLock()


def install() -> None:
    """Handle one DynamoDB request at a time in this process (idempotent)."""
    original = DynamoHandler.call_action
    if getattr(original, "atomic", False):
        return

    @functools.wraps(original)
    def call_action(self: DynamoHandler) -> Any:
        with LOCK:
            return original(self)

    call_action.atomic = True  # type: ignore[attr-defined]
    DynamoHandler.call_action = call_action  # type: ignore[method-assign]
