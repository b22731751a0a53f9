"""The embedded store: datasets persisted in one DuckDB file.

Each dataset lives in its own schema (``ds_<name>``) with ``items``, ``users``,
``interactions`` and ``meta`` tables, and is listed in the ``genrec_datasets`` table. A save
runs in one transaction: it either lands whole or leaves what was stored before untouched.
Reads open the file read-only, so several processes can read at once; any open waits briefly
for another process's write lock (``genrec.data.connection``).
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from genrec.data.connection import connect, prepare_store_dir, transaction
from genrec.data.dataset import Dataset, Interactions
from genrec.home import default_home

_URL_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]+:/")
_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}$")
SCHEMA_VERSION = 1
#: Names genrec stores its built-in datasets under; a user's dataset may not take them.
RESERVED_NAMES: tuple[str, ...] = ("synthetic",)


class DatasetExistsError(ValueError):
    """A dataset of that name is stored already and replacing it was not asked for."""

    def __init__(self, name: str, path: Path) -> None:
        super().__init__(f"a dataset named {name!r} is stored in {path} already: pass --force to replace it")


def default_store_path() -> Path:
    """The default embedded database file."""
    return default_home() / "genrec.duckdb"


def check_store_path(path: str | Path) -> Path:
    """``path`` as a Path, unless it looks like a URL (``mysql://x``): a store is a DuckDB file, not a URL."""
    text = str(path)
    if _URL_RE.match(text):  # Path("mysql://x") reads "mysql:/x": one slash is enough to tell
        raise ValueError(
            f"--store {text}: a store is the path of a DuckDB file, not a URL (a PostgreSQL URL goes to --db)"
        )
    return Path(path)


def check_dataset_name(name: str, builtin: bool = False) -> str:
    """Return ``name`` if a dataset may be stored under it, else raise a ValueError saying why."""
    if not _NAME_RE.match(name):
        raise ValueError(
            f"invalid dataset name {name!r}: use letters, digits, '_', '-', '.' (max 128, not starting with '.' or '-')"
        )
    if not builtin and name.lower() in RESERVED_NAMES:
        raise ValueError(f"the dataset name {name!r} is reserved for genrec's built-in dataset: choose another --name")
    return name


def _schema(name: str) -> str:
    check_dataset_name(name, builtin=True)
    return '"ds_' + name.replace('"', "") + '"'


class Store:
    """A DuckDB file holding named datasets."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = check_store_path(path) if path is not None else default_store_path()
        prepare_store_dir(self.path)

    def _connect(self, read_only: bool = False) -> duckdb.DuckDBPyConnection:
        return connect(self.path, read_only=read_only)

    def list_datasets(self) -> list[dict[str, Any]]:
        """Name, sizes and creation time of every stored dataset."""
        if not self.path.exists():
            return []
        with self._connect(read_only=True) as con:
            if not _has_table(con, "main", "genrec_datasets"):
                return []
            rows = con.execute(
                "SELECT name, n_users, n_items, n_interactions, created_at, fingerprint "
                "FROM genrec_datasets ORDER BY name"
            ).fetchall()
        keys = ("name", "users", "items", "interactions", "created_at", "fingerprint")
        return [dict(zip(keys, r)) for r in rows]

    def has_dataset(self, name: str, fingerprint: str | None = None) -> bool:
        """Whether a dataset of that name (and fingerprint, if given) is stored."""
        for row in self.list_datasets():
            if row["name"] == name and (fingerprint is None or row["fingerprint"] == fingerprint):
                return True
        return False

    def save_dataset(
        self,
        dataset: Dataset,
        name: str | None = None,
        fingerprint: str = "",
        builtin: bool = False,
        replace: bool = True,
    ) -> str:
        """Store ``dataset`` under ``name`` (default: its own), replacing one of that name atomically.

        Refuses an empty dataset, (unless ``builtin``) the names in ``RESERVED_NAMES`` and, unless
        ``replace``, a name already stored (``DatasetExistsError``, checked in the write transaction).
        """
        name = check_dataset_name(name or dataset.name, builtin=builtin)
        if dataset.n_interactions == 0:
            raise ValueError(f"refusing to store dataset {name!r}: it has no interactions")
        schema = _schema(name)
        items = dataset.items
        items_tbl = pa.table(
            {
                "item_id": pa.array(items["item_id"].tolist(), pa.string()),
                "title": pa.array(items["title"].tolist(), pa.string()),
                "description": pa.array(items["description"].tolist(), pa.string()),
                "brand": pa.array(items["brand"].tolist(), pa.string()),
                "categories": pa.array(items["categories"].tolist(), pa.list_(pa.string())),
                "price": pa.array(items["price"].to_numpy(), pa.float64()),
                "attributes": pa.array([json.dumps(a) for a in items["attributes"]], pa.string()),
            }
        )
        users_tbl = pa.table(
            {
                "user_id": pa.array(dataset.users["user_id"].tolist(), pa.string()),
                "attributes": pa.array([json.dumps(a) for a in dataset.users["attributes"]], pa.string()),
            }
        )
        inter = dataset.interactions
        inter_tbl = pa.table(
            {
                "user": inter.user,
                "item": inter.item,
                "timestamp": inter.timestamp,
                "event": inter.event,
                "value": inter.value,
            }
        )
        meta = {"has_timestamps": bool(dataset.has_timestamps), "schema_version": SCHEMA_VERSION}
        with self._connect() as con, transaction(con, self.path):
            con.execute(
                "CREATE TABLE IF NOT EXISTS genrec_datasets (name VARCHAR PRIMARY KEY, "
                "n_users BIGINT, n_items BIGINT, n_interactions BIGINT, created_at DOUBLE, "
                "fingerprint VARCHAR, meta VARCHAR)"
            )
            if not replace and con.execute("SELECT 1 FROM genrec_datasets WHERE name = ?", [name]).fetchone():
                raise DatasetExistsError(name, self.path)
            con.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            con.execute(f"CREATE SCHEMA {schema}")
            for table, data in (("items", items_tbl), ("users", users_tbl), ("interactions", inter_tbl)):
                con.register("_genrec_src", data)
                con.execute(f"CREATE TABLE {schema}.{table} AS SELECT * FROM _genrec_src")
                con.unregister("_genrec_src")
            con.execute("DELETE FROM genrec_datasets WHERE name = ?", [name])
            con.execute(
                "INSERT INTO genrec_datasets VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    name,
                    dataset.n_users,
                    dataset.n_items,
                    dataset.n_interactions,
                    time.time(),
                    fingerprint,
                    json.dumps(meta),
                ],
            )
        return name

    def load_dataset(self, name: str) -> Dataset:
        """Load a stored dataset by name."""
        schema = _schema(name)
        with self._connect(read_only=True) as con:
            rows = (
                con.execute("SELECT meta FROM genrec_datasets WHERE name = ?", [name]).fetchall()
                if _has_table(con, "main", "genrec_datasets")
                else []
            )
            row = rows[0] if rows else None
            if row is None:
                known = ", ".join(r["name"] for r in self.list_datasets()) or "none"
                raise KeyError(f"no dataset named {name!r} in {self.path} (stored: {known})")
            meta = json.loads(row[0])
            items = con.sql(f"SELECT * FROM {schema}.items").to_arrow_table().to_pandas()
            users = con.sql(f"SELECT * FROM {schema}.users").to_arrow_table().to_pandas()
            inter = con.execute(f"SELECT * FROM {schema}.interactions").fetchnumpy()
        items["categories"] = [list(c) if c is not None else [] for c in items["categories"]]
        items["attributes"] = [json.loads(a) if a else {} for a in items["attributes"]]
        users["attributes"] = [json.loads(a) if a else {} for a in users["attributes"]]
        interactions = Interactions(
            np.asarray(inter["user"]),
            np.asarray(inter["item"]),
            np.asarray(inter["timestamp"]),
            np.asarray(inter["event"]),
            np.asarray(inter["value"]),
        )
        return Dataset(name, items, users, interactions, has_timestamps=bool(meta["has_timestamps"]))

    def delete_dataset(self, name: str) -> None:
        """Remove a stored dataset."""
        schema = _schema(name)
        with self._connect() as con, transaction(con, self.path):
            con.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            if _has_table(con, "main", "genrec_datasets"):
                con.execute("DELETE FROM genrec_datasets WHERE name = ?", [name])


def _has_table(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    rows = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
        [schema, table],
    ).fetchall()
    return bool(rows[0][0])


def frame_fingerprint(*parts: Any) -> str:
    """A short stable hash of JSON-serialisable parts (used to key cached loads)."""
    import hashlib

    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def files_fingerprint(paths: list[Path], params: dict[str, Any]) -> str:
    """Fingerprint of source files (path, size, mtime) and loader parameters."""
    desc = []
    for p in paths:
        st = Path(p).stat()
        desc.append([str(Path(p).resolve()), st.st_size, int(st.st_mtime)])
    return frame_fingerprint(desc, params)
