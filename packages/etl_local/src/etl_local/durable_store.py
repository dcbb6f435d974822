"""The durable engine's sqlite store, kept open.

The testing SDK's `SQLiteExecutionStore` opens a connection for every read and write and closes it after.
Closing the last connection to a WAL database checkpoints the log into the database and removes it, so
every checkpoint the engine writes paid for a connection, two pragmas and a checkpoint: a third of the
runtime process's busy time in a 100-document `etl demo`. This store keeps one connection for its life
(WAL, `synchronous=NORMAL`, as the SDK's) and serialises its use; every transaction still commits before
the call returns, so what is stored survives a restart as before. It also indexes executions by name,
the lookup every start makes (`DurableEngine.start`), so a start does not read the whole table.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from aws_durable_execution_sdk_python_testing.stores.sqlite import SQLiteExecutionStore

BUSY_TIMEOUT_SECONDS = 30.0  # as the SDK's store: another process holding the database waits, not fails


class KeptOpenSQLiteStore(SQLiteExecutionStore):
    """`SQLiteExecutionStore` over one connection, opened at first use and closed by `close()`."""

    def __init__(self, db_path: Path) -> None:
        super().__init__(db_path)
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None

    @classmethod
    def open(cls, db_path: Path) -> KeptOpenSQLiteStore:
        """The store at `db_path`, its schema created when missing."""
        db_path.parent.mkdir(parents=True, exist_ok=True)
        store = cls(db_path)
        store._init_db()
        with store._connection() as conn:
            conn.execute("CREATE INDEX IF NOT EXISTS idx_execution_name ON executions(execution_name)")
        return store

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """The store's connection, one transaction at a time: committed on exit, rolled back on error."""
        with self._lock:
            if self._conn is None:
                self._conn = sqlite3.connect(
                    self.db_path, timeout=BUSY_TIMEOUT_SECONDS, check_same_thread=False
                )
                self._conn.execute("PRAGMA journal_mode=WAL;")
                self._conn.execute("PRAGMA synchronous=NORMAL;")
            with self._conn:
                yield self._conn

    def close(self) -> None:
        """Close the connection (checkpointing the log); a later call opens a new one."""
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
