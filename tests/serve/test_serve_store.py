"""The persistence layer on both backends: DuckDB (embedded) and a real PostgreSQL server."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from tests.serve.support import fresh_pg_database, postgres_server

from genrec.data.accounts import AccountStore
from genrec.data.dataset import Dataset
from genrec.data.errors import StoreBusyError
from genrec.data.events import EventStore
from genrec.data.generated import GeneratedItem, Provenance
from genrec.data.generated_store import GeneratedStore
from genrec.data.sql import Database, DuckDBDatabase, open_database, redact
from genrec.data.store import Store


@pytest.fixture(scope="module")
def pg_url() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture(params=["duckdb", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "duckdb":
        database = open_database(tmp_path / "state.duckdb")
    else:
        url = request.getfixturevalue("pg_url")
        database = open_database(fresh_pg_database(url, f"t_{tmp_path.name[-20:].lower().replace('-', '_')}"))
    yield database
    database.close()


def test_feedback_sessions_turns_round_trip(db: Database) -> None:
    events = EventStore(db, "shop")
    first = events.record_feedback("alice", "like", "i1")
    events.record_feedback("alice", "skip", items=["i2", "i3"], session_id="s1")
    events.record_feedback("bob", "dislike", "i1")
    assert first.event_id >= 1
    got = events.feedback("alice")
    assert [(e.kind, e.item_id, e.items) for e in got] == [("like", "i1", []), ("skip", None, ["i2", "i3"])]
    assert events.count_feedback() == 3 and events.count_feedback("bob") == 1
    assert EventStore(db, "other").count_feedback() == 0  # datasets are kept apart
    with pytest.raises(ValueError, match="kind"):
        events.record_feedback("alice", "love", "i1")
    with pytest.raises(ValueError, match="item_id"):
        events.record_feedback("alice", "like")

    sid = events.create_session("alice", "first")
    assert events.session_owner(sid) == "alice" and events.session_owner("s_nope") is None
    assert events.add_turn(sid, "alice", "show me tea", {"entries": [{"item_id": "i9"}]}) == 1
    assert events.add_turn(sid, "alice", "cheaper", {"entries": []}) == 2
    with pytest.raises(KeyError):
        events.add_turn(sid, "bob", "mine now", {})  # another user's session
    assert [t.n for t in events.turns(sid)] == [1, 2]
    assert events.sessions("alice")[0]["turns"] == 2 and events.sessions("bob") == []

    events.record_impressions([("alice", "recommendations", ["i1", "i2"], 1.0)])
    assert events.impressions("alice")[0]["items"] == ["i1", "i2"]


def test_keys_are_hashed_verified_and_revoked(db: Database) -> None:
    accounts = AccountStore(db)
    key_id, key = accounts.create_key("alice")
    _, admin = accounts.create_key("root", role="admin")
    assert key.startswith(f"grk_{key_id}_")
    stored = db.query("SELECT secret_sha256 FROM genrec_api_keys WHERE key_id = ?", [key_id])[0][0]
    assert key.split("_", 2)[2] not in stored and len(stored) == 64  # only the hash is kept
    alice = accounts.verify_key(key)
    assert alice is not None and alice.user_id == "alice" and not alice.is_admin
    root = accounts.verify_key(admin)
    assert root is not None and root.is_admin
    assert accounts.verify_key(key[:-1] + ("A" if key[-1] != "A" else "B")) is None
    assert accounts.verify_key("nonsense") is None
    token, web = accounts.open_web_session(alice)
    assert accounts.web_session(token) is not None and accounts.web_session(token + "x") is None
    assert accounts.revoke_key(key_id) and not accounts.revoke_key(key_id)
    assert accounts.verify_key(key) is None
    assert accounts.web_session(token) is None  # revoking a key signs its browsers out
    assert web.csrf and accounts.count_keys("admin") == 1
    with pytest.raises(ValueError, match="user id"):
        accounts.create_key("bad user")


def test_generated_store_on_either_backend_never_overwrites(db: Database) -> None:
    store = GeneratedStore(db)
    item = GeneratedItem("Tea Kettle", provenance=Provenance("create", "textgen", "1", user_id="alice"))
    item.fidelity = {"verdict": "block", "reasons": ["quality: title too short"], "checks": {}}
    store.add(item, "shop")
    with pytest.raises(ValueError, match="never overwritten"):
        store.add(item, "shop")
    assert store.has(item.item_id) and store.get(item.item_id).title == "Tea Kettle"
    assert store.items("shop") == [] and len(store.items("shop", "alice", include_blocked=True)) == 1
    log = store.audit(dataset="shop")
    assert log[0]["verdict"] == "block" and log[0]["checks"] == ["quality"]


def test_concurrent_writes_from_threads_all_land(db: Database) -> None:
    events = EventStore(db, "shop")
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            for i in range(25):
                events.record_feedback(f"u{n}", "click", f"i{i}")
        except BaseException as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and events.count_feedback() == 200


def test_a_held_duckdb_file_is_shared_in_process_and_busy_for_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    import subprocess
    import sys

    monkeypatch.setenv("GENREC_LOCK_TIMEOUT", "1")
    path = tmp_path / "g.duckdb"
    held = open_database(path)
    assert isinstance(held, DuckDBDatabase) and held.held and open_database(path) is held
    EventStore(path, "shop").record_feedback("a", "like", "i1")  # a path resolves to the held connection
    assert Store(path).list_datasets() == []  # readers in this process share it
    code = f"from genrec.data.store import Store\nStore({str(path)!r}).list_datasets()"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    # another process waits GENREC_LOCK_TIMEOUT, then learns which process holds the file
    assert other.returncode != 0 and "StoreBusyError" in other.stderr, other.stderr
    assert f"locked by process {os.getpid()}" in other.stderr
    held.close()
    assert subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0
    with pytest.raises(StoreBusyError, match="locked by process"):  # and the other way round
        proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                f"import duckdb,time; c=duckdb.connect({str(path)!r}); print('x', flush=True); time.sleep(30)",
            ],
            stdout=subprocess.PIPE,
        )
        try:
            assert proc.stdout is not None and proc.stdout.readline()
            open_database(path)
        finally:
            proc.kill()
            proc.wait()


def test_readers_of_a_file_nobody_holds_never_write(tmp_path: Path) -> None:
    """Without a holder, stores read the file read-only: nothing is created by a read."""
    path = tmp_path / "r.duckdb"
    assert AccountStore(path).keys() == [] and EventStore(path, "shop").feedback("a") == []
    assert GeneratedStore(path).items("shop") == [] and not path.exists()  # no file made by reading
    Store(path).save_dataset(Dataset.from_sequences("keep", {"u": ["a", "b", "c"]}))
    before = path.stat().st_mtime_ns
    assert AccountStore(path).count_keys() == 0 and EventStore(path, "shop").count_feedback() == 0
    assert path.stat().st_mtime_ns == before
    with duckdb.connect(str(path), read_only=True) as con:
        tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    assert not any(t.startswith(("genrec_api", "genrec_events", "genrec_generated")) for t in tables)
    AccountStore(path).create_key("alice")  # a write creates the tables, then reads see them
    listed = AccountStore(path).keys()
    assert [k["user_id"] for k in listed] == ["alice"]


def test_urls_are_redacted() -> None:
    assert redact("postgresql://u:secret@h:5/db") == "postgresql://u:***@h:5/db"
