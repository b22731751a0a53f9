"""PostgreSQL as the store of several server processes: a real server from Debian's packages, started by the test.

One server with the loop and one with two uvicorn workers share a PostgreSQL database: feedback
given through one is used by the other, a generated item stays its owner's on both, and a
`kill -9` of one loses no acknowledged event while the other keeps serving.
"""

from __future__ import annotations

import concurrent.futures as cf
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from benchmarks.serve_kill9 import hammer_feedback, stored_event_ids, verdict
from tests.serve.support import SERVE_DATA, ServerProcess, bearer, fresh_pg_database, postgres_server, serve_args

pytestmark = pytest.mark.serve


@pytest.fixture(scope="module")
def pg_db() -> Iterator[str]:
    with postgres_server() as url:
        yield fresh_pg_database(url, "genrec_serve")


def first_admin_key(*servers: ServerProcess) -> str:
    for proc in servers:
        try:
            return proc.admin_key()
        except AssertionError:
            continue
    raise AssertionError("no process printed the first admin key")


def ready_post(url: str, body: dict[str, object], key: str, tries: int = 60) -> httpx.Response:
    """POST as a client would: a pool worker that is still loading answers 503 with Retry-After, so wait and retry
    (``wait_ready`` saw one worker ready, not necessarily the one that answers)."""
    for _ in range(tries):
        r = httpx.post(url, json=body, headers=bearer(key))
        if r.status_code != 503:
            assert r.status_code == 200, r.text
            return r
        time.sleep(float(r.headers.get("Retry-After", "1")) / 5)
    raise AssertionError(f"{url} still loading after {tries} tries: {r.text}")


def test_two_servers_share_one_postgres_store(pg_db: str, serve_home: Path, server: ServerProcess) -> None:
    loop = ServerProcess(serve_home, *serve_args("--db", pg_db))
    pool = ServerProcess(serve_home, *serve_args("--db", pg_db, "--no-loop", "--workers", "2"))
    try:
        loop.wait_ready()
        pool.wait_ready()
        admin = first_admin_key(loop, pool)  # whichever process reached the empty database first made it
        keys = {}
        for user in ("u00007", "u00008"):
            r = httpx.post(pool.url + "/v1/admin/keys", json={"user_id": user}, headers=bearer(admin))
            keys[user] = r.json()["key"]  # made through one process, valid on the other
        me = keys["u00007"]
        assert httpx.get(loop.url + "/v1/me", headers=bearer(me)).json()["user_id"] == "u00007"

        # feedback through one process is used by the other
        first = ready_post(pool.url + "/v1/recommendations", {"k": 10}, me).json()["items"]
        disliked = first[0]["item_id"]
        r = httpx.post(loop.url + "/v1/feedback", json={"kind": "dislike", "item_id": disliked}, headers=bearer(me))
        assert r.status_code == 201
        for _ in range(4):  # whichever worker answers
            again = ready_post(pool.url + "/v1/recommendations", {"k": 50, "exclude_history": False}, me)
            assert disliked not in {i["item_id"] for i in again.json()["items"]}

        # a turn on the loop server; its item is the owner's on every process, and nobody else's
        sid = httpx.post(loop.url + "/v1/sessions", json={}, headers=bearer(me)).json()["session_id"]
        category = first[1]["categories"][-1]
        made: list = []
        for _ in range(4):  # the tiny test generator may misspell every draft of a turn (the quality gate blocks them)
            job = httpx.post(
                loop.url + f"/v1/sessions/{sid}/turns",
                json={"instruction": f"make me a new one: {category}", "wait_seconds": 60},
                headers=bearer(me),
                timeout=120,
            ).json()
            while job["status"] in ("queued", "running"):
                job = httpx.get(loop.url + f"/v1/jobs/{job['job_id']}?wait=20", headers=bearer(me), timeout=60).json()
            made = [e for e in job["result"]["entries"] if e["generated"]]
            if made:
                break
        assert made, job
        item = made[0]["item_id"]
        assert httpx.get(pool.url + f"/v1/items/{item}", headers=bearer(me)).status_code == 200
        assert httpx.get(pool.url + f"/v1/items/{item}", headers=bearer(keys["u00008"])).status_code == 404
        assert httpx.get(pool.url + f"/v1/sessions/{sid}", headers=bearer(me)).json()["turns"]

        # concurrent writes through both workers all land
        def like(n: int) -> int:
            body = {"kind": "click", "item_id": f"i{n % SERVE_DATA['n_items']:05d}"}
            return httpx.post(pool.url + "/v1/feedback", json=body, headers=bearer(keys["u00008"])).status_code

        with cf.ThreadPoolExecutor(8) as ex:
            assert set(ex.map(like, range(60))) == {201}

        # kill -9 of one process: nothing acknowledged is lost, the other keeps serving
        items = [f"i{n:05d}" for n in range(SERVE_DATA["n_items"])]
        out = hammer_feedback(loop.url, me, items, total=200, kill_after=80, kill=loop.kill9, threads=8)
        counts = verdict(out["acknowledged"], out["sent"], stored_event_ids(pg_db))
        print(f"postgres kill -9: {counts}")
        assert out["killed"] and counts["lost"] == 0 and counts["acknowledged"] >= 80, counts
        r = httpx.post(pool.url + "/v1/recommendations", json={"k": 5}, headers=bearer(me))
        assert r.status_code == 200
    finally:
        if loop.proc.poll() is None:
            loop.stop()
        pool.stop()
