"""Single-use review tokens: 32 random bytes in the e-mailed link, only their hash is stored."""

from __future__ import annotations

import hashlib
import hmac
import secrets

TOKEN_BYTES = 32


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
