"""Deterministic job ids from object identity: the same event twice gives the same id."""

from __future__ import annotations

import base64
import hashlib
import re

from etl_aws.models import ObjectRef

MAX_JOB_ID = 64
_HASH_CHARS = 26  # base32 of 130 bits: collisions are not a practical concern
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def job_id(ref: ObjectRef) -> str:
    """`<readable hint>-<hash>`: at most 64 characters of [A-Za-z0-9_-].

    The hash covers bucket, decoded key and the object's version (versionId when versioning is on,
    else eTag + sequencer), so a re-upload of the same key is a new job and a redelivered event is not.
    """
    version = ref.version_id or f"{ref.etag or ''}:{ref.sequencer or ''}"
    material = "\x00".join((ref.bucket, ref.key, version)).encode()
    digest = base64.b32encode(hashlib.sha256(material).digest()).decode().lower()[:_HASH_CHARS]
    stem = ref.file_name.rsplit(".", 1)[0]
    hint = _UNSAFE.sub("-", stem).strip("-_")[: MAX_JOB_ID - _HASH_CHARS - 1] or "file"
    return f"{hint}-{digest}"
