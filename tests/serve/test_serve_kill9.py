"""Acknowledged feedback survives `kill -9`: of the server (DuckDB) and of `genrec chat`; counts tried and kept."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from benchmarks.serve_kill9 import chat_round, hammer_feedback, stored_event_ids, verdict
from tests.serve.support import SERVE_DATA, SERVE_FAST, ServerProcess, bearer, serve_args

pytestmark = pytest.mark.serve


def test_acknowledged_feedback_survives_kill9_of_the_server(server: ServerProcess, serve_home: Path) -> None:
    db = serve_home / "state-kill9.duckdb"  # its own state; the models are the shared server's (cached)
    victim = ServerProcess(serve_home, *serve_args("--db", str(db), "--no-loop"))
    victim.wait_ready()
    admin = victim.admin_key()
    key = httpx.post(victim.url + "/v1/admin/keys", json={"user_id": "u00005"}, headers=bearer(admin)).json()["key"]
    items = [f"i{n:05d}" for n in range(SERVE_DATA["n_items"])]
    out = hammer_feedback(victim.url, key, items, total=300, kill_after=120, kill=victim.kill9, threads=8)
    assert out["killed"]
    counts = verdict(out["acknowledged"], out["sent"], stored_event_ids(str(db)))
    print(f"server kill -9: {counts}")
    assert counts["acknowledged"] >= 120 and counts["lost"] == 0, counts

    # restarted on the same store, the server serves the user from the kept events
    again = ServerProcess(serve_home, *serve_args("--db", str(db), "--no-loop"))
    try:
        again.wait_ready()
        history = httpx.get(again.url + "/v1/me/history?limit=500", headers=bearer(key)).json()
        assert {e["event_id"] for e in history["feedback"]} >= set(out["acknowledged"][-100:])
        disliked = {e["item_id"] for e in history["feedback"] if e["kind"] == "dislike"}
        shown = httpx.post(again.url + "/v1/recommendations", json={"k": 100}, headers=bearer(key)).json()["items"]
        assert not disliked & {i["item_id"] for i in shown}
    finally:
        again.stop()


def test_feedback_acknowledged_in_chat_survives_kill9_and_is_used_next_time(
    serve_home: Path, server: ServerProcess
) -> None:
    store = serve_home / "chat.duckdb"
    args = ["--store", str(store)]
    for key, value in SERVE_DATA.items():
        args += ["--opt", f"{key}={value}"]
    for item in SERVE_FAST:
        args += ["--set", item]
    out = chat_round(serve_home, args, feedback=12)
    counts = verdict(out["acknowledged"], out["sent"], stored_event_ids(str(store)))
    print(f"chat kill -9: {counts}")
    assert counts["acknowledged"] == 12 and counts["lost"] == 0, counts

    from benchmarks.serve_kill9 import ChatProcess

    chat = ChatProcess(serve_home, args)
    try:
        chat.send("show me something nice")
        answer = chat.record()
        assert answer["entries"] and not set(out["disliked"]) & {e["item_id"] for e in answer["entries"]}
    finally:
        chat.close()
