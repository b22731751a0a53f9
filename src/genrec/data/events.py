"""What users did and were shown: feedback events, conversation sessions, turns and impressions.

Four tables in genrec's database (DuckDB or PostgreSQL, ``genrec.data.sql``):

* ``genrec_events``: feedback (like, dislike, skip, click, purchase), append-only; a skip of a
  whole list keeps the list's item ids;
* ``genrec_sessions`` and ``genrec_turns``: each conversation and every turn of it (the
  instruction and the full answer as JSON);
* ``genrec_impressions``: the lists shown outside conversations (recommendations), written in
  batches.

Every ``record_*`` call commits before it returns, so an acknowledged event is stored.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genrec.data.sql import Database, database_for

FEEDBACK_KINDS = ("like", "dislike", "skip", "click", "purchase")

_DDL = (
    "CREATE SEQUENCE IF NOT EXISTS genrec_event_seq",
    "CREATE TABLE IF NOT EXISTS genrec_events (event_id BIGINT PRIMARY KEY DEFAULT nextval('genrec_event_seq'), "
    "dataset VARCHAR NOT NULL, user_id VARCHAR NOT NULL, session_id VARCHAR, kind VARCHAR NOT NULL, "
    "item_id VARCHAR, items VARCHAR, created_at DOUBLE PRECISION NOT NULL)",
    "CREATE TABLE IF NOT EXISTS genrec_sessions (session_id VARCHAR PRIMARY KEY, dataset VARCHAR NOT NULL, "
    "user_id VARCHAR NOT NULL, title VARCHAR, created_at DOUBLE PRECISION NOT NULL)",
    "CREATE TABLE IF NOT EXISTS genrec_turns (session_id VARCHAR NOT NULL, n BIGINT NOT NULL, "
    "user_id VARCHAR NOT NULL, instruction VARCHAR NOT NULL, record VARCHAR NOT NULL, "
    "created_at DOUBLE PRECISION NOT NULL, PRIMARY KEY (session_id, n))",
    "CREATE SEQUENCE IF NOT EXISTS genrec_impression_seq",
    "CREATE TABLE IF NOT EXISTS genrec_impressions (impression_id BIGINT PRIMARY KEY "
    "DEFAULT nextval('genrec_impression_seq'), dataset VARCHAR NOT NULL, user_id VARCHAR NOT NULL, "
    "source VARCHAR NOT NULL, items VARCHAR NOT NULL, created_at DOUBLE PRECISION NOT NULL)",
)


@dataclass
class FeedbackEvent:
    """One stored feedback event."""

    event_id: int
    user_id: str
    kind: str
    item_id: str | None
    items: list[str] = field(default_factory=list)  # a skipped list
    session_id: str | None = None
    at: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict."""
        return {
            "event_id": self.event_id,
            "kind": self.kind,
            "item_id": self.item_id,
            "items": self.items,
            "session_id": self.session_id,
            "at": self.at,
        }


@dataclass
class ConversationTurn:
    """One stored turn of a session."""

    session_id: str
    n: int
    instruction: str
    record: dict[str, Any]
    at: float


class EventStore:
    """Feedback, sessions, turns and impressions of one dataset's users."""

    def __init__(self, target: str | Path | Database | None, dataset: str) -> None:
        self.db = database_for(target)
        self.dataset = dataset

    def _ready(self) -> Database:
        self.db.ensure("events", _DDL)
        return self.db

    def _read(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of a query; none before anything was stored (a reader never creates tables)."""
        return self.db.read("events", _DDL, sql, args)

    # ---- feedback ---------------------------------------------------------------------------
    def record_feedback(
        self,
        user_id: str,
        kind: str,
        item_id: str | None = None,
        items: Sequence[str] = (),
        session_id: str | None = None,
    ) -> FeedbackEvent:
        """Store one feedback event (committed on return): ``item_id``, or for a skip the whole list ``items``."""
        return self.record_feedback_many([(user_id, kind, item_id, items, session_id)])[0]

    def record_feedback_many(
        self, events: Sequence[tuple[str, str, str | None, Sequence[str], str | None]]
    ) -> list[FeedbackEvent]:
        """Store several events (user, kind, item_id, items, session_id) in one transaction (one commit)."""
        for _user, kind, item_id, items, _session in events:
            if kind not in FEEDBACK_KINDS:
                raise ValueError(f"feedback kind must be one of {', '.join(FEEDBACK_KINDS)}, not {kind!r}")
            if item_id is None and not (kind == "skip" and items):
                raise ValueError("feedback needs an item_id (a skip may give the skipped list's items instead)")
        now = time.time()
        out = []
        with self._ready().transaction() as tx:
            for user_id, kind, item_id, items, session_id in events:
                rows = tx.execute(
                    "INSERT INTO genrec_events (dataset, user_id, session_id, kind, item_id, items, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING event_id",
                    [self.dataset, user_id, session_id, kind, item_id, json.dumps(list(items)) if items else None, now],
                )
                out.append(FeedbackEvent(int(rows[0][0]), user_id, kind, item_id, list(items), session_id, now))
        return out

    def feedback(self, user_id: str, limit: int | None = None) -> list[FeedbackEvent]:
        """A user's feedback events, oldest first (the newest ``limit`` ones when given)."""
        sql = (
            "SELECT event_id, user_id, kind, item_id, items, session_id, created_at FROM genrec_events "
            "WHERE dataset = ? AND user_id = ? ORDER BY event_id DESC"
        )
        args: list[Any] = [self.dataset, user_id]
        if limit is not None:
            sql, args = sql + " LIMIT ?", args + [int(limit)]
        rows = self._read(sql, args)
        return [
            FeedbackEvent(int(r[0]), r[1], r[2], r[3], json.loads(r[4]) if r[4] else [], r[5], float(r[6]))
            for r in reversed(rows)
        ]

    def count_feedback(self, user_id: str | None = None) -> int:
        """How many feedback events are stored (for one user if given)."""
        sql, args = "SELECT count(*) FROM genrec_events WHERE dataset = ?", [self.dataset]
        if user_id is not None:
            sql, args = sql + " AND user_id = ?", args + [user_id]
        rows = self._read(sql, args)
        return int(rows[0][0]) if rows else 0

    # ---- sessions and turns -----------------------------------------------------------------
    def create_session(self, user_id: str, title: str = "") -> str:
        """A new conversation session for ``user_id``; returns its id."""
        session_id = "s_" + secrets.token_hex(8)
        with self._ready().transaction() as tx:
            tx.execute(
                "INSERT INTO genrec_sessions VALUES (?, ?, ?, ?, ?)",
                [session_id, self.dataset, user_id, title[:200], time.time()],
            )
        return session_id

    def session(self, session_id: str) -> dict[str, Any] | None:
        """A session's id, owner, title and creation time (None when there is no such session here)."""
        rows = self._read(
            "SELECT session_id, user_id, title, created_at FROM genrec_sessions WHERE session_id = ? AND dataset = ?",
            [session_id, self.dataset],
        )
        if not rows:
            return None
        return {"session_id": rows[0][0], "user_id": rows[0][1], "title": rows[0][2] or "", "created_at": rows[0][3]}

    def session_owner(self, session_id: str) -> str | None:
        """The user a session belongs to (None when there is no such session in this dataset)."""
        rows = self._read(
            "SELECT user_id FROM genrec_sessions WHERE session_id = ? AND dataset = ?", [session_id, self.dataset]
        )
        return str(rows[0][0]) if rows else None

    def sessions(self, user_id: str, limit: int = 50) -> list[dict[str, Any]]:
        """A user's sessions, newest first, with their turn counts."""
        rows = self._read(
            "SELECT s.session_id, s.title, s.created_at, count(t.n), max(t.created_at) FROM genrec_sessions s "
            "LEFT JOIN genrec_turns t ON t.session_id = s.session_id WHERE s.dataset = ? AND s.user_id = ? "
            "GROUP BY s.session_id, s.title, s.created_at ORDER BY s.created_at DESC LIMIT ?",
            [self.dataset, user_id, int(limit)],
        )
        return [
            {"session_id": r[0], "title": r[1] or "", "created_at": r[2], "turns": int(r[3]), "last_turn_at": r[4]}
            for r in rows
        ]

    def add_turn(self, session_id: str, user_id: str, instruction: str, record: dict[str, Any]) -> int:
        """Append a turn to a session (committed on return); returns its number (1-based)."""
        with self._ready().transaction() as tx:
            owner = tx.execute("SELECT user_id FROM genrec_sessions WHERE session_id = ?", [session_id])
            if not owner or owner[0][0] != user_id:
                raise KeyError(f"no session {session_id!r} of user {user_id!r}")
            n = int(tx.execute("SELECT count(*) FROM genrec_turns WHERE session_id = ?", [session_id])[0][0]) + 1
            tx.execute(
                "INSERT INTO genrec_turns VALUES (?, ?, ?, ?, ?, ?)",
                [session_id, n, user_id, instruction, json.dumps(record, default=str), time.time()],
            )
        return n

    def turns(self, session_id: str) -> list[ConversationTurn]:
        """The turns of a session, in order."""
        rows = self._read(
            "SELECT session_id, n, instruction, record, created_at FROM genrec_turns WHERE session_id = ? ORDER BY n",
            [session_id],
        )
        return [ConversationTurn(r[0], int(r[1]), r[2], json.loads(r[3]), float(r[4])) for r in rows]

    # ---- impressions ------------------------------------------------------------------------
    def record_impressions(self, rows: Sequence[tuple[str, str, Sequence[str], float]]) -> None:
        """Store shown lists as (user_id, source, item ids, time) in one transaction."""
        if not rows:
            return
        with self._ready().transaction() as tx:
            tx.executemany(
                "INSERT INTO genrec_impressions (dataset, user_id, source, items, created_at) VALUES (?, ?, ?, ?, ?)",
                [(self.dataset, user, source, json.dumps(list(items)), at) for user, source, items, at in rows],
            )

    def impressions(self, user_id: str, limit: int = 50) -> list[dict[str, Any]]:
        """The lists last shown to a user, newest first."""
        rows = self._read(
            "SELECT source, items, created_at FROM genrec_impressions WHERE dataset = ? AND user_id = ? "
            "ORDER BY impression_id DESC LIMIT ?",
            [self.dataset, user_id, int(limit)],
        )
        return [{"source": r[0], "items": json.loads(r[1]), "at": float(r[2])} for r in rows]
