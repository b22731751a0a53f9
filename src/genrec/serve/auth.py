"""Who is calling: API keys (Bearer or X-API-Key) for the REST API, a session cookie for the browser.

Verified keys are cached for ``ttl`` seconds (keyed by the key's hash), so a busy client does not
cost a database read per request; a revoked key stops working within ``ttl`` on every process.
The browser's cookie is HttpOnly and SameSite=Strict, and every form post also carries the
session's CSRF token (compared in constant time).
"""

from __future__ import annotations

import hmac
import threading
import time

from fastapi import HTTPException, Request

from genrec.data.accounts import AccountStore, Principal, WebSession, sha256

COOKIE = "genrec_session"
PRE_CSRF_COOKIE = "genrec_signin"  # double-submit token of the sign-in form (before any session)


class KeyCache:
    """Verified keys for a short while."""

    def __init__(self, accounts: AccountStore, ttl: float = 30.0, size: int = 10_000) -> None:
        self.accounts = accounts
        self.ttl = ttl
        self.size = size
        self._cache: dict[str, tuple[Principal | None, float]] = {}
        self._lock = threading.Lock()

    def verify(self, key: str) -> Principal | None:
        """The principal of a valid key, None otherwise (misses are cached too, against floods)."""
        digest = sha256(key)
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(digest)
        if hit is not None and hit[1] > now:
            return hit[0]
        principal = self.accounts.verify_key(key)
        with self._lock:
            if len(self._cache) >= self.size:
                self._cache.clear()
            self._cache[digest] = (principal, now + (self.ttl if principal else 2.0))
        return principal

    def forget(self) -> None:
        """Drop every cached verdict (after a revocation in this process)."""
        with self._lock:
            self._cache.clear()


def bearer_key(request: Request) -> str | None:
    """The API key of a request: ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.headers.get("x-api-key") or None


def api_principal(request: Request) -> Principal:
    """The caller of an API request (401 without a valid key)."""
    key = bearer_key(request)
    principal = request.app.state.keys.verify(key) if key else None
    if principal is None:
        raise HTTPException(
            401, "a valid API key is required (Authorization: Bearer <key>)", {"WWW-Authenticate": "Bearer"}
        )
    return principal


def admin_principal(request: Request) -> Principal:
    """The caller, who must be an admin (403 otherwise)."""
    principal = api_principal(request)
    if not principal.is_admin:
        raise HTTPException(403, "admins only")
    return principal


def web_session(request: Request) -> WebSession | None:
    """The signed-in browser session of a request, if any."""
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    accounts: AccountStore = request.app.state.accounts
    return accounts.web_session(token)


def csrf_ok(expected: str, given: str | None) -> bool:
    """Whether a form's CSRF token matches (constant-time)."""
    return bool(given) and hmac.compare_digest(expected.encode(), str(given).encode())
