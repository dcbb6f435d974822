"""Single-use review tokens: 32 random bytes in the e-mailed link, only their hash is stored."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

TOKEN_BYTES = 32
# Hashes of superseded links kept per job, newest last: enough for any number of retries a workflow makes
# (Step Functions retries a task a few times), and a bounded item.
MAX_SUPERSEDED = 20


def new_token() -> str:
    """A fresh URL-safe token (43 characters)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    """SHA-256 is right here: the token is 256 random bits, so there is nothing to brute-force."""
    return hashlib.sha256(token.encode()).hexdigest()


def verify(token: str | None, stored_hash: str | None) -> bool:
    """Constant-time comparison of a presented token with the stored hash."""
    if not token or not stored_hash or len(token) > 128:
        return False
    return hmac.compare_digest(hash_token(token), stored_hash)


def superseded(current: Any) -> list[str]:
    """The superseded hashes once `current` (ApprovalSecrets) is replaced: its own hash appended."""
    kept = [h for h in current.superseded_token_hashes if h]
    if current.review_token_hash:
        kept.append(current.review_token_hash)
    kept += [h for h in getattr(current, "review_token_hashes", {}).values() if h]  # named reviewers' links
    return kept[-MAX_SUPERSEDED:]


def verify_any(token: str | None, stored_hashes: tuple[str, ...] | list[str]) -> bool:
    """True when `token` is one of the tokens whose hashes are stored (each compared in constant time)."""
    found = False
    for stored in stored_hashes:
        found |= verify(token, stored)
    return found
