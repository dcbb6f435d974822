"""Moto's state on disk, so the local stack survives a stop and start.

Moto keeps every service in memory, in one `BackendDict` per service. At a graceful stop the process that
serves a service pickles that service's backends into `<state dir>/<service>.pickle`; at start it loads
them back before it serves. The files are per service, so it keeps working when services are served by
processes of their own: each process saves and loads the services it serves.

What a pickle cannot hold is handled here:
- locks, conditions and threads are written as fresh ones (nothing waits on them across a restart), and
  weak indexes (Lambda's functions by ARN) with the objects they index;
- an SQS message a consumer had received but not deleted is visible again at load: the consumer that
  held it is gone, so it is redelivered at once rather than after its visibility timeout;
- a finished Step Functions execution keeps its description and history, without its worker;
- a running Step Functions execution has a live interpreter thread; it is recorded for a re-drive (see
  `etl_local.sfn_resume`) and dropped from the pickle.
"""

from __future__ import annotations

import importlib
import io
import logging
import os
import pickle
import threading
import weakref
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

_LOCK_TYPES = (type(threading.Lock()), type(threading.RLock()))
_SUFFIX = ".pickle"
# Moto's lazily built caches and service clients that hold sockets: rebuilt on first use after a load.
_SKIPPED_SERVICES = frozenset({"moto_api"})


def _fresh_lock() -> Any:
    return threading.RLock()


def _none() -> None:
    return None


def _weak_values(items: dict[Any, Any]) -> weakref.WeakValueDictionary[Any, Any]:
    return weakref.WeakValueDictionary(items)


class _Pickler(pickle.Pickler):
    """Writes locks as fresh locks and threads as None; everything else as pickle does."""

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, _LOCK_TYPES):
            return _fresh_lock, ()
        if isinstance(obj, threading.Thread):
            return _none, ()
        if isinstance(obj, weakref.WeakValueDictionary):  # an index of objects held elsewhere
            return _weak_values, (dict(obj),)
        return NotImplemented


def _dumps(value: Any) -> bytes:
    buffer = io.BytesIO()
    _Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(value)
    return buffer.getvalue()


def _instances() -> list[Any]:
    from moto.core.base_backend import BackendDict

    return list(BackendDict._instances)  # the services that were used in this process


# ---- per-service preparation -----------------------------------------------------------------------

_before_save: dict[str, Callable[[Any], None]] = {}
_after_load: dict[str, Callable[[Any], None]] = {}


def before_save(service: str) -> Callable[[Callable[[Any], None]], Callable[[Any], None]]:
    """Register `fn(region backend)` to run on each of `service`'s backends before they are pickled."""

    def register(fn: Callable[[Any], None]) -> Callable[[Any], None]:
        _before_save[service] = fn
        return fn

    return register


def after_load(service: str) -> Callable[[Callable[[Any], None]], Callable[[Any], None]]:
    """Register `fn(region backend)` to run on each of `service`'s backends once they are loaded."""

    def register(fn: Callable[[Any], None]) -> Callable[[Any], None]:
        _after_load[service] = fn
        return fn

    return register


@after_load("s3")
def _register_buckets(backend: Any) -> None:
    """Bucket names are global: moto keeps each one's owner outside the account's backend."""
    from moto.s3.models import s3_backends

    for bucket in backend.buckets.values():
        s3_backends.bucket_accounts[bucket.name] = (bucket.partition, bucket.account_id)


@after_load("sqs")
def _redeliver_in_flight(backend: Any) -> None:
    for queue in backend.queues.values():
        for message in list(getattr(queue, "_messages", [])):
            message.change_visibility(0)


# ---- save and load ---------------------------------------------------------------------------------


def save(directory: Path, services: Iterable[str] | None = None) -> list[str]:
    """Pickle the backends of `services` (every service used in this process when None) into
    `directory`; returns the services written. Each file is replaced atomically."""
    directory.mkdir(parents=True, exist_ok=True)
    wanted = set(services) if services is not None else None
    written = []
    for backend_dict in _instances():
        name = backend_dict.service_name
        if name in _SKIPPED_SERVICES or (wanted is not None and name not in wanted):
            continue
        accounts = {account: dict(regions) for account, regions in backend_dict.items() if regions}
        if not accounts:
            continue
        prepare = _before_save.get(name)
        if prepare is not None:
            for regions in accounts.values():
                for backend in regions.values():
                    prepare(backend)
        try:
            data = _dumps(accounts)
        except Exception:  # one service that cannot be written must not cost the others theirs
            log.exception("could not save the state of %s", name)
            continue
        cls = backend_dict.backend
        target = directory / f"{name}.{cls.__module__}.{cls.__name__}{_SUFFIX}"
        partial = target.with_name(target.name + ".partial")
        partial.write_bytes(data)
        os.replace(partial, target)
        written.append(name)
    return written


def load(directory: Path, services: Iterable[str] | None = None) -> list[str]:
    """Load every service saved in `directory` (only `services`, when given) into this process's
    moto; returns the services loaded. Call it before the server serves its first request."""
    wanted = set(services) if services is not None else None
    loaded = []
    for path in sorted(directory.glob(f"*{_SUFFIX}")):
        name, module, cls = _parse_name(path.name.removesuffix(_SUFFIX))
        if wanted is not None and name not in wanted:
            continue
        live = _backend_dict(module, cls)
        if live is None:
            log.warning("no moto backend %s.%s: %s not loaded", module, cls, path.name)
            continue
        accounts = pickle.loads(path.read_bytes())  # noqa: S301 - written by this module, on this machine
        finish = _after_load.get(name)
        for account, regions in accounts.items():
            target = live[account]
            for region, backend in regions.items():
                dict.__setitem__(target, region, backend)
                if finish is not None:
                    finish(backend)
        loaded.append(name)
    return loaded


def _parse_name(stem: str) -> tuple[str, str, str]:
    """`<service>.<backend module>.<backend class>` → its three parts."""
    name, _, qualified = stem.partition(".")
    module, _, cls = qualified.rpartition(".")
    return name, module, cls


def _backend_dict(module: str, cls: str) -> Any:
    """The BackendDict of `module` whose backends are of class `cls` (moto has two for Step Functions:
    the plain one and the one that runs the ASL)."""
    from moto.core.base_backend import BackendDict

    found = importlib.import_module(module)
    for value in vars(found).values():
        if isinstance(value, BackendDict) and value.backend.__name__ == cls:
            return value
    return None


def clear(directory: Path) -> None:
    """Forget every saved service (a fresh start)."""
    for path in directory.glob(f"*{_SUFFIX}"):
        path.unlink(missing_ok=True)
