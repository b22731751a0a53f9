"""The store under real processes: concurrent CLI readers and writers, a held lock, kill -9, a full disk.

Every process is a real ``python -m genrec.cli.main`` on a fresh GENREC_HOME; nothing is mocked.
"""

from __future__ import annotations

import hashlib
import os
import random
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from genrec.data import Dataset, Store

SMALL = ["--opt", "n_users=300", "--opt", "n_items=150"]


def genrec(home: Path, *args: str, **env: str) -> subprocess.Popen:
    environ = {**os.environ, "GENREC_HOME": str(home), "OMP_NUM_THREADS": "1", **env}
    return subprocess.Popen(
        [sys.executable, "-m", "genrec.cli.main", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environ,
    )


def finish(proc: subprocess.Popen, timeout: float = 300) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def write_sequences(path: Path, users: int, length: int = 20, seed: int = 0) -> Path:
    rng = random.Random(seed)
    with open(path, "w") as fh:
        for u in range(users):
            fh.write(f"u{u} " + " ".join(f"i{rng.randrange(users // 2 + 10)}" for _ in range(length)) + "\n")
    return path


def snapshot(store: Store, name: str) -> tuple[str, int]:
    """A content hash of a stored dataset (items, users, interactions) and its size."""
    ds = store.load_dataset(name)
    digest = hashlib.sha256("\0".join(ds.items["item_id"]).encode() + "\0".join(ds.users["user_id"]).encode())
    for array in (ds.interactions.user, ds.interactions.item, ds.interactions.timestamp):
        digest.update(array.tobytes())
    return digest.hexdigest(), ds.n_interactions


def test_concurrent_readers_and_a_writer_all_finish(tmp_path):
    home = tmp_path / "home"
    seqs = write_sequences(tmp_path / "s.txt", 2000)
    procs = [genrec(home, "data", "stats", "synthetic", *SMALL, "--json") for _ in range(3)]
    procs.append(genrec(home, "data", "convert", "sequence", str(seqs), "--name", "mine"))
    procs.append(genrec(home, "data", "stats", f"sequence:{seqs}", "--json"))
    results = [finish(p) for p in procs]
    for code, _, err in results:
        assert code == 0, err
        assert "Traceback" not in err
    names = {d["name"] for d in Store(home / "genrec.duckdb").list_datasets()}
    assert {"synthetic", "mine"} <= names


def test_a_held_lock_is_waited_for_then_named(tmp_path):
    home = tmp_path / "home"
    store = Store(home / "genrec.duckdb")
    store.save_dataset(Dataset.from_sequences("keep", {"u": ["a", "b", "c"]}))
    hold = (
        "import duckdb, sys, time\n"
        "con = duckdb.connect(sys.argv[1])\n"
        "print('locked', flush=True)\n"
        "time.sleep(float(sys.argv[2]))\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", hold, str(store.path), "3"], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    start = time.monotonic()
    code, out, err = finish(genrec(home, "data", "list"))
    assert code == 0 and "keep" in out, err
    assert time.monotonic() - start > 0.5  # it waited for the holder
    holder.wait(timeout=60)

    holder = subprocess.Popen([sys.executable, "-c", hold, str(store.path), "120"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        code, _, err = finish(genrec(home, "data", "stats", "keep", GENREC_LOCK_TIMEOUT="1"))
        assert code == 2 and "Traceback" not in err
        lines = [line for line in err.splitlines() if line.startswith("error:")]
        assert len(lines) == 1 and f"process {holder.pid}" in lines[0] and "locked" in lines[0], err
    finally:
        holder.kill()
        holder.wait()


def test_kill_9_during_convert_keeps_the_store_consistent(tmp_path):
    home = tmp_path / "home"
    store = Store(home / "genrec.duckdb")
    store.save_dataset(Dataset.from_sequences("keep", {f"u{i}": ["a", "b", str(i)] for i in range(50)}))
    before = snapshot(store, "keep")
    big = write_sequences(tmp_path / "big.txt", 40_000)
    start = time.monotonic()
    code, _, err = finish(genrec(home, "data", "convert", "sequence", str(big), "--name", "full"))
    assert code == 0, err
    duration = time.monotonic() - start
    full = snapshot(store, "full")
    rng = random.Random(7)
    for point in (0.5, 0.8, 0.95, rng.uniform(0.3, 1.0)):
        proc = genrec(home, "data", "convert", "sequence", str(big), "--name", "again")
        time.sleep(duration * point)
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        assert snapshot(store, "keep") == before
        assert snapshot(store, "full") == full
        names = {d["name"] for d in store.list_datasets()}
        if "again" in names:  # the convert committed before the kill: whole, never half
            assert snapshot(store, "again") == full
            store.delete_dataset("again")


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_FSIZE stands in for a full disk")
def test_a_full_disk_during_a_save_changes_nothing(tmp_path):
    home = tmp_path / "home"
    store = Store(home / "genrec.duckdb")
    store.save_dataset(Dataset.from_sequences("keep", {f"u{i}": ["a", "b", str(i)] for i in range(50)}))
    before = snapshot(store, "keep")
    big = write_sequences(tmp_path / "big.txt", 40_000)
    limit = store.path.stat().st_size + 200_000

    def small_disk() -> None:  # writes beyond `limit` bytes fail with EFBIG, as on a full disk
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    env = {**os.environ, "GENREC_HOME": str(home), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "genrec.cli.main", "data", "convert", "sequence", str(big), "--name", "new"],
        preexec_fn=small_disk,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert "disk is full" in proc.stderr and "cannot rollback" not in proc.stderr
    assert snapshot(store, "keep") == before
    assert [d["name"] for d in store.list_datasets()] == ["keep"]
