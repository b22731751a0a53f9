"""Generated items and their fidelity audit trail, persisted in the embedded DuckDB store.

Two tables next to the datasets: ``genrec_generated`` (one row per generated item: fields,
provenance, fidelity report, status) and ``genrec_audit`` (an append-only log of every verdict).
Inserts never overwrite: an id already stored, or the id of a human item, is refused, and each
write runs in one transaction. Reads open the file read-only (several processes may read at
once) and every open waits briefly for another process's write lock.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import duckdb

from genrec.data.connection import connect, transaction
from genrec.data.generated import GENERATED_PREFIX, GeneratedItem
from genrec.data.store import default_store_path, prepare_store_dir

_DDL = (
    "CREATE TABLE IF NOT EXISTS genrec_generated (item_id VARCHAR PRIMARY KEY, dataset VARCHAR, "
    "user_id VARCHAR, kind VARCHAR, status VARCHAR, payload VARCHAR, created_at DOUBLE)",
    "CREATE TABLE IF NOT EXISTS genrec_audit (item_id VARCHAR, dataset VARCHAR, verdict VARCHAR, "
    "reasons VARCHAR, report VARCHAR, logged_at DOUBLE)",
)


class GeneratedStore:
    """Persist generated items with provenance and fidelity reports; never overwrite anything."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_store_path()
        prepare_store_dir(self.path)

    def _connect(self) -> duckdb.DuckDBPyConnection:
        con = connect(self.path)
        for ddl in _DDL:
            con.execute(ddl)
        return con

    def _read(self, sql: str, args: list[Any]) -> list[tuple[Any, ...]]:
        """Rows of a query on a read-only connection; none when nothing was stored yet."""
        if not self.path.exists():
            return []
        with connect(self.path, read_only=True) as con:
            tables = con.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'main' "
                "AND table_name IN ('genrec_generated', 'genrec_audit')"
            ).fetchall()[0][0]
            if tables < len(_DDL):
                return []
            return con.execute(sql, args).fetchall()

    def add(self, item: GeneratedItem, dataset: str, human_ids: Iterable[str] = ()) -> None:
        """Store a new generated item and its verdict; refuse ids of human or already stored items."""
        if not item.item_id.startswith(GENERATED_PREFIX):
            raise ValueError(f"refusing to store {item.item_id!r}: generated ids start with {GENERATED_PREFIX!r}")
        if item.item_id in set(human_ids):
            raise ValueError(f"refusing to store {item.item_id!r}: a human item has that id")
        status = _status(item)
        now = time.time()
        with self._connect() as con, transaction(con, self.path):
            if con.execute("SELECT 1 FROM genrec_generated WHERE item_id = ?", [item.item_id]).fetchall():
                raise ValueError(f"generated item {item.item_id!r} is already stored; it is never overwritten")
            con.execute(
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
            _audit(con, item, dataset, now)

    def record_check(self, item: GeneratedItem, dataset: str) -> None:
        """Replace a stored item's fidelity report (a re-check) and append the verdict to the audit log."""
        now = time.time()
        with self._connect() as con, transaction(con, self.path):
            updated = con.execute(
                "UPDATE genrec_generated SET status = ?, payload = ? WHERE item_id = ? AND dataset = ? RETURNING 1",
                [_status(item), json.dumps(item.to_dict(), default=str), item.item_id, dataset],
            ).fetchall()
            if not updated:
                raise KeyError(f"no generated item {item.item_id!r} stored for dataset {dataset!r}")
            _audit(con, item, dataset, now)

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

    def audit(self, item_id: str | None = None, dataset: str | None = None) -> list[dict[str, Any]]:
        """The audit log (verdicts with reasons), oldest first."""
        sql = "SELECT item_id, dataset, verdict, reasons, logged_at FROM genrec_audit WHERE 1=1"
        args: list[Any] = []
        if item_id is not None:
            sql, args = sql + " AND item_id = ?", args + [item_id]
        if dataset is not None:
            sql, args = sql + " AND dataset = ?", args + [dataset]
        rows = self._read(sql + " ORDER BY logged_at", args)
        return [
            {"item_id": r[0], "dataset": r[1], "verdict": r[2], "reasons": json.loads(r[3]), "at": r[4]} for r in rows
        ]


def _status(item: GeneratedItem) -> str:
    """'unchecked' until a fidelity report exists, then its verdict."""
    return str(item.fidelity.get("verdict", "unchecked")) if item.fidelity else "unchecked"


def _audit(con: duckdb.DuckDBPyConnection, item: GeneratedItem, dataset: str, now: float) -> None:
    report = item.fidelity or {}
    reasons = report.get("reasons") or [
        reason
        for check in report.get("checks", {}).values()
        if isinstance(check, dict)
        for reason in check.get("reasons", [])
        if check.get("verdict") != "pass"
    ]
    con.execute(
        "INSERT INTO genrec_audit VALUES (?, ?, ?, ?, ?, ?)",
        [item.item_id, dataset, _status(item), json.dumps(reasons, default=str), json.dumps(report, default=str), now],
    )
