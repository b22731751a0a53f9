"""Reliability: acknowledged feedback survives `kill -9`, for `genrec serve` (DuckDB and PostgreSQL) and `genrec chat`.

A round sends feedback events from several client threads; each event the process acknowledges
(HTTP 201 with its event id, or chat's JSON line with its event id) is counted. Once ``kill_after``
are acknowledged, the process gets SIGKILL while more requests are in flight. Then the store is
opened afresh and every acknowledged event id is looked up: ``lost`` must be 0. Events that were
sent but not acknowledged may or may not be stored (the client cannot know); they are counted as
``unacknowledged``, those found anyway as ``stored_unacknowledged``.

    python -m benchmarks serve-kill9 --rounds 3 --events 400
    python -m benchmarks serve-kill9 --rounds 3 --events 400 --postgres   # also a PostgreSQL round set

Writes ``benchmarks/results/synthetic/serve_kill9.json``. The tests (tests/serve/test_serve_kill9.py)
run the same rounds, smaller.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import REPO, Timer, command_line, commit, machine, peak_rss_mb, write_result

KINDS = ("like", "dislike", "click", "skip", "purchase")


def hammer_feedback(
    url: str,
    key: str,
    items: Sequence[str],
    total: int,
    kill_after: int,
    kill: Callable[[], None],
    threads: int = 8,
) -> dict[str, Any]:
    """Send up to ``total`` feedback events from ``threads`` clients; call ``kill`` after ``kill_after`` acks."""
    acked: list[int] = []
    sent = [0]
    lock = threading.Lock()
    killed = threading.Event()

    def client(worker: int) -> None:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=10) as c:
            n = worker
            while n < total and not killed.is_set():
                body = {"kind": KINDS[n % len(KINDS)], "item_id": items[n % len(items)]}
                with lock:
                    sent[0] += 1
                try:
                    r = c.post("/v1/feedback", json=body)
                except httpx.HTTPError:
                    return  # the server is gone
                if r.status_code == 201:
                    with lock:
                        acked.append(int(r.json()["event_id"]))
                        if len(acked) >= kill_after and not killed.is_set():
                            killed.set()
                            kill()
                n += threads

    workers = [threading.Thread(target=client, args=(w,)) for w in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return {"sent": sent[0], "acknowledged": sorted(acked), "killed": killed.is_set()}


def stored_event_ids(db: str) -> set[int]:
    """Every feedback event id in a state database (a DuckDB file or a PostgreSQL URL), read afresh."""
    if db.startswith(("postgresql://", "postgres://")):
        import psycopg

        with psycopg.connect(db) as conn:
            return {int(r[0]) for r in conn.execute("SELECT event_id FROM genrec_events").fetchall()}
    import duckdb

    with duckdb.connect(db, read_only=True) as con:
        return {int(r[0]) for r in con.execute("SELECT event_id FROM genrec_events").fetchall()}


def verdict(acked: Sequence[int], sent: int, stored: set[int]) -> dict[str, Any]:
    """Counts of a round: tried, acknowledged, kept (acknowledged and stored), lost."""
    kept = [e for e in acked if e in stored]
    return {
        "tried": sent,
        "acknowledged": len(acked),
        "kept": len(kept),
        "lost": len(acked) - len(kept),
        "unacknowledged": sent - len(acked),
        "stored_unacknowledged": len(stored - set(acked)),
    }


class ChatProcess:
    """`genrec chat --json` driven line by line through a pipe."""

    def __init__(self, home: Path, args: Sequence[str], env: dict[str, str] | None = None) -> None:
        cmd = [sys.executable, "-m", "genrec.cli.main", "chat", "--json", *args]
        full_env = {**os.environ, "GENREC_HOME": str(home), "OMP_NUM_THREADS": "1", **(env or {})}
        self.stderr = open(home / f"chat-{time.time_ns()}.log", "w")
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr, text=True, env=full_env, cwd=REPO
        )

    def send(self, line: str) -> None:
        """Write one line."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def record(self, timeout: float = 900.0) -> dict[str, Any]:
        """The next JSON record the chat prints."""
        assert self.proc.stdout is not None
        deadline = time.time() + timeout
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"chat ended (exit {self.proc.poll()}); see {self.stderr.name}")
            if line.startswith("{"):
                return dict(json.loads(line))
        raise TimeoutError("no answer from chat")

    def kill9(self) -> None:
        """SIGKILL the chat."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)
        self.stderr.close()

    def close(self) -> None:
        """End the chat normally."""
        if self.proc.poll() is None:
            self.send(":quit")
            self.proc.wait(120)
        self.stderr.close()


def chat_round(home: Path, args: Sequence[str], feedback: int, in_flight: int = 5) -> dict[str, Any]:
    """Like / dislike entries of a list in `genrec chat`, each acknowledged, then kill -9 with more lines sent."""
    chat = ChatProcess(home, args)
    chat.send("show me something nice")
    answer = chat.record()
    entries = answer.get("entries") or []
    if not entries:
        chat.close()
        raise RuntimeError(f"the chat showed no list: {answer}")
    acked: list[int] = []
    disliked: list[str] = []
    for n in range(feedback):
        command = "like" if n % 2 == 0 else "dislike"
        chat.send(f":{command} {1 + n % len(entries)}")
        ack = chat.record()
        if "event_id" in ack:
            acked.append(int(ack["event_id"]))
            if command == "dislike":
                disliked.append(str(ack["item_id"]))
    for n in range(in_flight):  # sent, never acknowledged before the kill
        chat.send(f":like {1 + n % len(entries)}")
    chat.kill9()
    return {"sent": feedback + in_flight, "acknowledged": acked, "disliked": disliked, "shown": entries}


def main() -> None:
    """Run the rounds and write the result file."""
    import tempfile

    from benchmarks.serve_harness import (
        SERVE_DATA,
        SERVE_FAST,
        ServerProcess,
        fresh_pg_database,
        postgres_server,
        serve_args,
    )

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--events", type=int, default=400, help="feedback events sent per server round")
    parser.add_argument("--chat-events", type=int, default=20, help="feedback lines per chat round")
    parser.add_argument("--postgres", action="store_true", help="also run the server rounds on PostgreSQL")
    parser.add_argument("--home", default="", help="GENREC_HOME to use (keeps the tiny models; default: a new one)")
    args = parser.parse_args()
    wall = Timer().__enter__()
    home = Path(args.home) if args.home else Path(tempfile.mkdtemp(prefix="genrec-kill9-"))
    rounds: list[dict[str, Any]] = []

    def server_rounds(backend: str, db_for: Callable[[int], str]) -> None:
        for r in range(args.rounds):
            db = db_for(r)
            server = ServerProcess(home, *serve_args("--db", db, "--no-loop"))
            server.wait_ready()
            admin = server.admin_key()
            key = httpx.post(
                server.url + "/v1/admin/keys", json={"user_id": "u00003"}, headers={"Authorization": f"Bearer {admin}"}
            ).json()["key"]
            items = [f"i{n:05d}" for n in range(SERVE_DATA["n_items"])]
            out = hammer_feedback(server.url, key, items, args.events, args.events // 2, server.kill9)
            row = {
                "process": "genrec serve",
                "backend": backend,
                "round": r,
                **verdict(out["acknowledged"], out["sent"], stored_event_ids(db)),
            }
            rounds.append(row)
            print(json.dumps(row), flush=True)

    for old in home.glob("kill9-*.duckdb*"):
        old.unlink()
    server_rounds("duckdb", lambda r: str(home / f"kill9-{r}.duckdb"))
    if args.postgres:
        with postgres_server() as url:
            server_rounds("postgresql", lambda r: fresh_pg_database(url, f"kill9_{r}"))
    chat_args = []
    for k, v in SERVE_DATA.items():
        chat_args += ["--opt", f"{k}={v}"]
    for item in SERVE_FAST:
        chat_args += ["--set", item]
    for r in range(args.rounds):
        store = home / f"chat-{r}.duckdb"
        for old in home.glob(f"chat-{r}.duckdb*"):
            old.unlink()
        out = chat_round(home, ["--store", str(store), *chat_args], args.chat_events)
        row = {
            "process": "genrec chat",
            "backend": "duckdb",
            "round": r,
            **verdict(out["acknowledged"], out["sent"], stored_event_ids(str(store))),
        }
        rounds.append(row)
        print(json.dumps(row), flush=True)
    wall.__exit__()
    payload = {
        "benchmark": "serve_kill9",
        "dataset": "synthetic",
        "split": "none",
        "config": {"data": SERVE_DATA, "events_per_server_round": args.events, "chat_events": args.chat_events},
        "rounds": rounds,
        "total": {k: sum(r[k] for r in rounds) for k in ("tried", "acknowledged", "kept", "lost")},
        "command": command_line(),
        "commit": commit(),
        "machine": machine(),
        "wall_seconds": round(wall.seconds, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    out = write_result("synthetic", "serve_kill9", payload)
    print(f"wrote {out}")
    print(markdown(payload))


def markdown(payload: dict[str, Any]) -> str:
    """The reliability table (for BENCHMARKS.md)."""
    lines = [
        "### Reliability: acknowledged feedback after `kill -9`",
        "",
        f"Measured by `{payload['command']}` at commit `{payload['commit'][:12]}` ({payload['wall_seconds']:.0f} s, "
        f"peak {payload['peak_rss_mb']:.0f} MiB). Each round kills the process with SIGKILL while feedback is in "
        "flight, then looks every acknowledged event up in a fresh connection to the store.",
        "",
        "| process | store | rounds | events tried | acknowledged | kept after kill -9 | lost |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for (process, backend), rows in _groups(payload).items():
        total = {k: sum(r[k] for r in rows) for k in ("tried", "acknowledged", "kept", "lost")}
        lines.append(
            f"| `{process}` | {backend} | {len(rows)} | {total['tried']} | {total['acknowledged']} | "
            f"{total['kept']} | {total['lost']} |"
        )
    return "\n".join(lines)


def reliability_row(path: Path | None = None) -> str | None:
    """The row of benchmarks/reliability.py's scenario table for kill -9 of chat / serve (None without a result)."""
    from benchmarks.common import RESULTS

    path = path or RESULTS / "synthetic" / "serve_kill9.json"
    if not path.exists():
        return None
    payload = json.loads(path.read_text())
    rounds = payload["rounds"]
    total = {k: sum(r[k] for r in rounds) for k in ("tried", "acknowledged", "kept", "lost")}
    where = ", ".join(f"{len(rows)} {process} on {backend}" for (process, backend), rows in _groups(payload).items())
    return (
        f"| kill -9 of `genrec chat` / `genrec serve` while feedback is in flight ({where}; "
        f"`{path.name}`, commit `{payload['commit'][:12]}`) | {len(rounds)} kills, {total['tried']} events | "
        f"{total['acknowledged']} acknowledged, {total['kept']} of them kept | {total['lost']} | 0 |"
    )


def _groups(payload: dict[str, Any]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in payload["rounds"]:
        groups.setdefault((r["process"], r["backend"]), []).append(r)
    return groups


if __name__ == "__main__":
    main()
