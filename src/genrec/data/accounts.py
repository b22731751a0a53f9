"""API keys and browser sessions, stored hashed in genrec's database.

A key reads ``grk_<key id>_<secret>``: the key id finds the row, the secret is compared with the
stored SHA-256 of it (the secret is 256 random bits, so a fast hash is enough; the plain key is
shown once and never stored). A browser session is a random token whose SHA-256 is stored with the
user, the role, a CSRF token and an expiry.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genrec.data.sql import Database, database_for

ROLES = ("user", "admin")
USER_ID = re.compile(r"^[A-Za-z0-9_.@:\-]{1,64}$")
_KEY = re.compile(r"^grk_([0-9a-f]{12})_([A-Za-z0-9_\-]{20,128})$")

_DDL = (
    "CREATE TABLE IF NOT EXISTS genrec_api_keys (key_id VARCHAR PRIMARY KEY, user_id VARCHAR NOT NULL, "
    "role VARCHAR NOT NULL, secret_sha256 VARCHAR NOT NULL, label VARCHAR, created_at DOUBLE PRECISION NOT NULL, "
    "revoked_at DOUBLE PRECISION)",
    "CREATE TABLE IF NOT EXISTS genrec_web_sessions (token_sha256 VARCHAR PRIMARY KEY, user_id VARCHAR NOT NULL, "
    "role VARCHAR NOT NULL, csrf VARCHAR NOT NULL, key_id VARCHAR, created_at DOUBLE PRECISION NOT NULL, "
    "expires_at DOUBLE PRECISION NOT NULL)",
)


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user id and a role."""

    user_id: str
    role: str
    key_id: str = ""

    @property
    def is_admin(self) -> bool:
        """Whether the caller may read the audit log, manage keys and reload models."""
        return self.role == "admin"


@dataclass(frozen=True)
class WebSession:
    """A signed-in browser: the principal and the CSRF token its forms must carry."""

    principal: Principal
    csrf: str
    expires_at: float


def sha256(text: str) -> str:
    """Hex SHA-256 of a string."""
    return hashlib.sha256(text.encode()).hexdigest()


def check_user_id(user_id: str) -> str:
    """``user_id`` if it is a valid id (letters, digits and ``_.@:-``, up to 64), else a ValueError."""
    if not USER_ID.match(user_id or ""):
        raise ValueError(f"invalid user id {user_id!r}: use 1-64 letters, digits or _ . @ : -")
    return user_id


class LastAdminKeyError(ValueError):
    """Revoking this key would leave no active admin key."""


class AccountStore:
    """API keys (hashed) and browser sessions."""

    def __init__(self, target: str | Path | Database | None = None) -> None:
        self.db = database_for(target)

    def _ready(self) -> Database:
        self.db.ensure("accounts", _DDL)
        return self.db

    def _read(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of a query; none before anything was stored (a reader never creates tables)."""
        return self.db.read("accounts", _DDL, sql, args)

    # ---- API keys ---------------------------------------------------------------------------
    def create_key(self, user_id: str, role: str = "user", label: str = "") -> tuple[str, str]:
        """A new key for ``user_id``: returns (key id, the plain key, shown once)."""
        check_user_id(user_id)
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
        key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
        with self._ready().transaction() as tx:
            tx.execute(
                "INSERT INTO genrec_api_keys VALUES (?, ?, ?, ?, ?, ?, NULL)",
                [key_id, user_id, role, sha256(secret), label[:200], time.time()],
            )
        return key_id, f"grk_{key_id}_{secret}"

    def verify_key(self, key: str) -> Principal | None:
        """The principal of a valid, unrevoked key (None otherwise)."""
        match = _KEY.match(key.strip()) if key else None
        if match is None:
            return None
        key_id, secret = match.groups()
        rows = self._read(
            "SELECT user_id, role, secret_sha256 FROM genrec_api_keys WHERE key_id = ? AND revoked_at IS NULL",
            [key_id],
        )
        if not rows or not hmac.compare_digest(str(rows[0][2]), sha256(secret)):
            return None
        return Principal(str(rows[0][0]), str(rows[0][1]), key_id)

    def revoke_key(self, key_id: str, keep_an_admin: bool = False) -> bool:
        """Revoke a key and end the browser sessions it opened; False when there is no such active key.

        ``keep_an_admin``: refuse (``LastAdminKeyError``) to revoke the only active admin key, which
        would leave a running server with nobody to manage it.
        """
        db = self._ready()
        with db.transaction() as tx:
            if keep_an_admin:
                if db.kind == "postgresql":  # two processes revoking the last two admin keys at once
                    tx.execute("LOCK TABLE genrec_api_keys IN SHARE ROW EXCLUSIVE MODE")
                admins = tx.execute(
                    "SELECT key_id FROM genrec_api_keys WHERE role = 'admin' AND revoked_at IS NULL", []
                )
                if [str(r[0]) for r in admins] == [key_id]:
                    raise LastAdminKeyError(
                        f"key {key_id} is the last active admin key; create another admin key before revoking it"
                    )
            rows = tx.execute(
                "UPDATE genrec_api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL RETURNING 1",
                [time.time(), key_id],
            )
            tx.execute("DELETE FROM genrec_web_sessions WHERE key_id = ?", [key_id])
        return bool(rows)

    def keys(self) -> list[dict[str, Any]]:
        """Every key's id, user, role, label and times (never the secret), newest first."""
        rows = self._read(
            "SELECT key_id, user_id, role, label, created_at, revoked_at FROM genrec_api_keys ORDER BY created_at DESC"
        )
        names = ("key_id", "user_id", "role", "label", "created_at", "revoked_at")
        return [dict(zip(names, r)) for r in rows]

    def count_keys(self, role: str | None = None) -> int:
        """How many active keys there are (of one role if given)."""
        sql, args = "SELECT count(*) FROM genrec_api_keys WHERE revoked_at IS NULL", []
        if role is not None:
            sql, args = sql + " AND role = ?", [role]
        rows = self._read(sql, args)
        return int(rows[0][0]) if rows else 0

    # ---- browser sessions -------------------------------------------------------------------
    def open_web_session(self, principal: Principal, hours: float = 12.0) -> tuple[str, WebSession]:
        """A new browser session: returns (the cookie token, shown once, and the session)."""
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = time.time()
        expires = now + hours * 3600
        with self._ready().transaction() as tx:
            tx.execute("DELETE FROM genrec_web_sessions WHERE expires_at < ?", [now])
            tx.execute(
                "INSERT INTO genrec_web_sessions VALUES (?, ?, ?, ?, ?, ?, ?)",
                [sha256(token), principal.user_id, principal.role, csrf, principal.key_id, now, expires],
            )
        return token, WebSession(principal, csrf, expires)

    def web_session(self, token: str) -> WebSession | None:
        """The live session of a cookie token (None when unknown or expired)."""
        if not token or len(token) > 256:
            return None
        rows = self._read(
            "SELECT user_id, role, csrf, key_id, expires_at FROM genrec_web_sessions WHERE token_sha256 = ?",
            [sha256(token)],
        )
        if not rows or float(rows[0][4]) < time.time():
            return None
        user, role, csrf, key_id, expires = rows[0]
        return WebSession(Principal(str(user), str(role), str(key_id or "")), str(csrf), float(expires))

    def close_web_session(self, token: str) -> None:
        """Sign a browser out."""
        with self._ready().transaction() as tx:
            tx.execute("DELETE FROM genrec_web_sessions WHERE token_sha256 = ?", [sha256(token)])
