"""Generated items and their fidelity audit trail, persisted in genrec's database (DuckDB or PostgreSQL).

Two tables: ``genrec_generated`` (one row per generated item: fields, provenance, fidelity report,
status) and ``genrec_audit`` (an append-only log of every verdict). Inserts never overwrite: an id
already stored, or the id of a human item, is refused, and each write runs in one transaction.
Reads never create anything: on a DuckDB file no process holds they open it read-only (several
processes may read at once), and every open waits briefly for another process's write lock.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from genrec.data.generated import GENERATED_PREFIX, GeneratedItem
from genrec.data.sql import Database, Tx, database_for

_DDL = (
    "CREATE TABLE IF NOT EXISTS genrec_generated (item_id VARCHAR PRIMARY KEY, dataset VARCHAR, "
    "user_id VARCHAR, kind VARCHAR, status VARCHAR, payload VARCHAR, created_at DOUBLE PRECISION)",
    "CREATE TABLE IF NOT EXISTS genrec_audit (item_id VARCHAR, dataset VARCHAR, verdict VARCHAR, "
    "reasons VARCHAR, report VARCHAR, logged_at DOUBLE PRECISION)",
)


class GeneratedStore:
    """Persist generated items with provenance and fidelity reports; never overwrite anything.

    ``target`` is a DuckDB file, a database URL (``postgresql://...``) or an open ``Database``;
    None means $GENREC_DB_URL or the default store file.
    """

    def __init__(self, target: str | Path | Database | None = None) -> None:
        self.db = database_for(target)
        self.path = getattr(self.db, "path", None)

    def _ready(self) -> Database:
        self.db.ensure("generated", _DDL)
        return self.db

    def _read(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of a query; none before anything was stored (a reader never creates tables)."""
        return self.db.read("generated", _DDL, sql, args)

    def add(self, item: GeneratedItem, dataset: str, human_ids: Iterable[str] = ()) -> None:
        """Store a new generated item and its verdict; refuse ids of human or already stored items."""
        if not item.item_id.startswith(GENERATED_PREFIX):
            raise ValueError(f"refusing to store {item.item_id!r}: generated ids start with {GENERATED_PREFIX!r}")
        if item.item_id in set(human_ids):
            raise ValueError(f"refusing to store {item.item_id!r}: a human item has that id")
        status = _status(item)
        now = time.time()
        with self._ready().transaction() as tx:
            if tx.execute("SELECT 1 FROM genrec_generated WHERE item_id = ?", [item.item_id]):
                raise ValueError(f"generated item {item.item_id!r} is already stored; it is never overwritten")
            tx.execute(
                "INSERT INTO genrec_generated VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    item.item_id,
                    dataset,
                    item.provenance.user_id,
                    item.provenance.kind,
                    status,
                    json.dumps(item.to_dict(), default=str),
                    now,
                ],
            )
            _audit(tx, item, dataset, now)

    def record_check(self, item: GeneratedItem, dataset: str) -> None:
        """Replace a stored item's fidelity report (a re-check) and append the verdict to the audit log."""
        now = time.time()
        with self._ready().transaction() as tx:
            updated = tx.execute(
                "UPDATE genrec_generated SET status = ?, payload = ? WHERE item_id = ? AND dataset = ? RETURNING 1",
                [_status(item), json.dumps(item.to_dict(), default=str), item.item_id, dataset],
            )
            if not updated:
                raise KeyError(f"no generated item {item.item_id!r} stored for dataset {dataset!r}")
            _audit(tx, item, dataset, now)

    def has(self, item_id: str) -> bool:
        """Whether a generated item with this id is stored."""
        return bool(self._read("SELECT 1 FROM genrec_generated WHERE item_id = ?", [item_id]))

    def get(self, item_id: str) -> GeneratedItem:
        """The stored item (with its fidelity report)."""
        rows = self._read("SELECT payload FROM genrec_generated WHERE item_id = ?", [item_id])
        if not rows:
            raise KeyError(f"no generated item {item_id!r}")
        return GeneratedItem.from_dict(json.loads(rows[0][0]))

    def items(self, dataset: str, user_id: str | None = None, include_blocked: bool = False) -> list[GeneratedItem]:
        """Generated items of a dataset (for one user if given), oldest first; blocked ones only on request."""
        sql = "SELECT payload FROM genrec_generated WHERE dataset = ?"
        args: list[Any] = [dataset]
        if user_id is not None:
            sql += " AND user_id = ?"
            args.append(user_id)
        if not include_blocked:
            sql += " AND status <> 'block'"
        rows = self._read(sql + " ORDER BY created_at, item_id", args)
        return [GeneratedItem.from_dict(json.loads(r[0])) for r in rows]

    def audit(
        self,
        item_id: str | None = None,
        dataset: str | None = None,
        verdict: str | None = None,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[dict[str, Any]]:
        """The audit log (verdicts with reasons and the checks that did not pass), oldest first by default."""
        sql = "SELECT item_id, dataset, verdict, reasons, logged_at, report FROM genrec_audit WHERE 1=1"
        args: list[Any] = []
        for column, value in (("item_id", item_id), ("dataset", dataset), ("verdict", verdict)):
            if value is not None:
                sql, args = sql + f" AND {column} = ?", args + [value]
        sql += " ORDER BY logged_at DESC" if newest_first else " ORDER BY logged_at"
        if limit is not None:
            sql, args = sql + " LIMIT ?", args + [int(limit)]
        rows = self._read(sql, args)
        return [
            {
                "item_id": r[0],
                "dataset": r[1],
                "verdict": r[2],
                "reasons": json.loads(r[3]),
                "at": r[4],
                "checks": flagged_checks(json.loads(r[5]) if r[5] else {}),
            }
            for r in rows
        ]


def flagged_checks(report: dict[str, Any]) -> list[str]:
    """Names of the checks and gates that did not pass in a report (``quality``, ``identity``, ``safety``, ...)."""
    names = [
        name
        for name, check in (report.get("checks") or {}).items()
        if isinstance(check, dict) and check.get("verdict") not in (None, "pass")
    ]
    for reason in report.get("reasons") or []:
        head = str(reason).split(":", 1)[0].split(".", 1)[0].strip()
        if head and " " not in head and head not in names:
            names.append(head)
    return names


def _status(item: GeneratedItem) -> str:
    """'unchecked' until a fidelity report exists, then its verdict."""
    return str(item.fidelity.get("verdict", "unchecked")) if item.fidelity else "unchecked"


def _audit(tx: Tx, item: GeneratedItem, dataset: str, now: float) -> None:
    report = item.fidelity or {}
    reasons = report.get("reasons") or [
        reason
        for check in report.get("checks", {}).values()
        if isinstance(check, dict)
        for reason in check.get("reasons", [])
        if check.get("verdict") != "pass"
    ]
    tx.execute(
        "INSERT INTO genrec_audit VALUES (?, ?, ?, ?, ?, ?)",
        [item.item_id, dataset, _status(item), json.dumps(reasons, default=str), json.dumps(report, default=str), now],
    )
