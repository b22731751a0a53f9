"""The REST API of a real `genrec serve` process over loopback: auth, isolation, validation, feedback, turns, reload."""

from __future__ import annotations

import concurrent.futures as cf
import time
from typing import Any

import httpx
import pytest
from tests.serve.support import ServerProcess, bearer, dump

pytestmark = pytest.mark.serve


def call(server: ServerProcess, method: str, path: str, key: str | None = None, **kw: Any) -> httpx.Response:
    headers = bearer(key) if key else {}
    return httpx.request(method, server.url + path, headers=headers, timeout=120, **kw)


def recs(server: ServerProcess, key: str, **body: Any) -> list[dict[str, Any]]:
    r = call(server, "POST", "/v1/recommendations", key, json=body)
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


def turn(server: ServerProcess, key: str, session_id: str, instruction: str) -> dict[str, Any]:
    r = call(
        server, "POST", f"/v1/sessions/{session_id}/turns", key, json={"instruction": instruction, "wait_seconds": 60}
    )
    assert r.status_code in (200, 202), r.text
    job = r.json()
    while job["status"] in ("queued", "running"):
        job = call(server, "GET", f"/v1/jobs/{job['job_id']}?wait=20", key).json()
    assert job["status"] == "done", dump(job)
    return dict(job["result"])


def test_health_readiness_schema_and_security_headers(server: ServerProcess) -> None:
    assert call(server, "GET", "/v1/health").json() == {"status": "ok"}
    ready = call(server, "GET", "/v1/ready")
    assert ready.status_code == 200 and ready.json()["ready"] is True
    schema = call(server, "GET", "/openapi.json").json()
    assert {"/v1/recommendations", "/v1/feedback", "/v1/sessions/{session_id}/turns", "/v1/admin/audit"} <= set(
        schema["paths"]
    )
    csp = ready.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert ready.headers["x-content-type-options"] == "nosniff"


def test_every_call_needs_a_valid_key(server: ServerProcess, user_keys: dict[str, str]) -> None:
    for key in (None, "grk_000000000000_" + "x" * 43, user_keys["alice"][:-2] + "zz", "nonsense"):
        r = call(server, "POST", "/v1/recommendations", key, json={})
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer", key
    assert call(server, "GET", "/v1/me", user_keys["alice"]).json()["user_id"] == "u00001"
    r = httpx.get(server.url + "/v1/me", headers={"X-API-Key": user_keys["bob"]})
    assert r.json()["user_id"] == "u00002"
    for path in ("/v1/admin/audit", "/v1/admin/models", "/v1/admin/keys"):
        assert call(server, "GET", path, user_keys["alice"]).status_code == 403
    assert call(server, "POST", "/v1/admin/reload", user_keys["alice"]).status_code == 403


def test_recommendations_honour_k_history_and_hard_filters(
    server: ServerProcess, user_keys: dict[str, str], admin_key: str
) -> None:
    alice = user_keys["alice"]
    history = {i["item_id"] for i in call(server, "GET", "/v1/me/history?limit=500", alice).json()["items"]}
    top = recs(server, alice, k=7)
    assert len(top) == 7 and not history & {i["item_id"] for i in top}
    assert all(i["why"] and i["title"] for i in top)
    brand, category = top[0]["brand"], top[0]["categories"][-1]
    assert all(i["brand"] == brand for i in recs(server, alice, k=5, filters={"brands": [brand.lower()]}))
    assert all(category in i["categories"] for i in recs(server, alice, k=5, filters={"categories": [category]}))
    priced = recs(server, alice, k=10, filters={"price_min": 10, "price_max": 30})
    assert priced and all(10 <= i["price"] <= 30 for i in priced)
    anonymous = call(server, "POST", "/v1/recommendations", alice, json={"k": 3, "history": [top[0]["item_id"]]})
    assert anonymous.status_code == 200 and anonymous.json()["user_id"] is None
    assert top[0]["item_id"] not in {i["item_id"] for i in anonymous.json()["items"]}
    new_user = recs(server, user_keys["carol"], k=4)  # no history at all: popular items
    assert len(new_user) == 4
    assert call(server, "POST", "/v1/recommendations", alice, json={"user_id": "u00002"}).status_code == 403
    assert call(server, "POST", "/v1/recommendations", admin_key, json={"user_id": "u00002"}).status_code == 200


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/recommendations", {"k": 0}, "k"),
        ("/v1/recommendations", {"k": 101}, "k"),
        ("/v1/recommendations", {"kk": 3}, "kk"),
        ("/v1/recommendations", {"history": ["i00001"] * 201}, "history"),
        ("/v1/recommendations", {"history": ["i00001", "no-such-item"]}, "history"),
        ("/v1/recommendations", {"filters": {"price_min": 30, "price_max": 10}}, "filters"),
        ("/v1/recommendations", {"filters": {"brands": ["\u0000x"]}}, "brands"),
        ("/v1/feedback", {"kind": "love", "item_id": "i00001"}, "kind"),
        ("/v1/feedback", {"kind": "like"}, "body"),
        ("/v1/feedback", {"kind": "like", "item_id": "no-such-item"}, "item_id"),
        ("/v1/feedback", {"kind": "skip", "items": ["i00001", "zz"]}, "items"),
        ("/v1/sessions", {"title": "x" * 201}, "title"),
    ],
)
def test_bad_input_gets_a_4xx_naming_the_field(
    server: ServerProcess, user_keys: dict[str, str], path: str, body: dict[str, Any], field: str
) -> None:
    r = call(server, "POST", path, user_keys["alice"], json=body)
    assert r.status_code == 422, r.text
    assert any(field in [str(x) for x in e["loc"]] for e in r.json()["detail"]), r.text


def test_bad_turn_input_names_the_field(server: ServerProcess, user_keys: dict[str, str]) -> None:
    sid = call(server, "POST", "/v1/sessions", user_keys["alice"], json={}).json()["session_id"]
    for body in ({"instruction": "   "}, {"instruction": "x" * 501}, {}, {"instruction": "hi", "wait_seconds": 99}):
        r = call(server, "POST", f"/v1/sessions/{sid}/turns", user_keys["alice"], json=body)
        assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] in ("instruction", "wait_seconds"), r.text
    assert call(server, "GET", "/v1/sessions/not-a-session", user_keys["alice"]).status_code == 422


def test_feedback_is_committed_and_used_by_the_next_recommendations(
    server: ServerProcess, user_keys: dict[str, str]
) -> None:
    bob = user_keys["bob"]
    before = recs(server, bob, k=10)
    liked, disliked = before[0]["item_id"], before[1]["item_id"]
    r = call(server, "POST", "/v1/feedback", bob, json={"kind": "like", "item_id": liked})
    assert r.status_code == 201 and r.json()["event_id"] > 0
    assert call(server, "POST", "/v1/feedback", bob, json={"kind": "dislike", "item_id": disliked}).status_code == 201
    after = recs(server, bob, k=10)
    assert [i["item_id"] for i in after] != [i["item_id"] for i in before]
    assert liked not in {i["item_id"] for i in after}  # it joined the history, which is excluded
    kept = recs(server, bob, k=50, exclude_history=False)
    assert disliked not in {i["item_id"] for i in kept}  # a disliked item never comes back
    events = call(server, "GET", "/v1/me/history", bob).json()["feedback"]
    assert [(e["kind"], e["item_id"]) for e in events[:2]] == [("dislike", disliked), ("like", liked)]
    time.sleep(1.0)  # impressions are written in batches
    assert call(server, "GET", "/v1/me/history", bob).json()["shown"]


def test_a_turn_retrieves_edits_and_creates_with_generated_items_flagged(
    server: ServerProcess, user_keys: dict[str, str], admin_key: str
) -> None:
    alice = user_keys["alice"]
    sid = call(server, "POST", "/v1/sessions", alice, json={"title": "shopping"}).json()["session_id"]
    found = turn(server, alice, sid, "show me something like my last purchase but from another brand")
    assert found["action"] == "retrieve" and found["entries"] and not any(e["generated"] for e in found["entries"])
    category = next(e for e in found["entries"] if e.get("why"))
    edited = turn(server, alice, sid, "rewrite this one for me")
    assert edited["action"] == "edit"
    gen = [e for e in edited["entries"] if e["generated"]]
    if gen:  # an edit is shown with what it changed against its source
        assert gen[0]["kind"] in ("edit", "select") and gen[0]["verdict"] in ("pass", "warn")
        assert gen[0]["source"]["item_id"] and set(gen[0]["changes"]) == {"title", "description"}
    cats = {
        c
        for e in recs(server, alice, k=20)
        for c in call(server, "GET", f"/v1/items/{e['item_id']}", alice).json()["categories"][-1:]
    }
    for _ in range(4):  # the tiny test generator may misspell every draft of a turn (the quality gate blocks them)
        made = turn(server, alice, sid, f"make me a new one: {sorted(cats)[0]}")
        if any(e["generated"] for e in made["entries"]):
            break
    assert made["action"] == "create", dump(made)
    created = [e for e in made["entries"] if e["generated"]]
    assert created and made["entries"][0]["generated"], dump(made)
    first = created[0]
    assert first["verdict"] in ("pass", "warn") and isinstance(first["reasons"], list) and first["checks"]
    assert first["provenance"]["generator"] and first["kind"] == "create"
    # blocked drafts: only counted, never listed; the audit log (admins) keeps them
    audit = call(server, "GET", "/v1/admin/audit?verdict=block&limit=1000", admin_key).json()
    blocked = {a["item_id"] for a in audit}
    shown = {e["item_id"] for t in (found, edited, made) for e in t["entries"]}
    assert not blocked & shown
    assert all(a["verdict"] == "block" and a["reasons"] for a in audit)
    # the conversation is stored, and the generated item is the user's
    stored = call(server, "GET", f"/v1/sessions/{sid}", alice).json()["turns"]
    assert [t["turn"] for t in stored] == list(range(1, len(stored) + 1))
    assert stored[-1]["result"]["entries"][0]["item_id"] == first["item_id"]
    mine = {g["item_id"] for g in call(server, "GET", "/v1/me/generated", alice).json()}
    assert first["item_id"] in mine
    assert call(server, "GET", f"/v1/items/{first['item_id']}", alice).json()["provenance"]["instruction"]
    assert category  # the retrieved list explained itself


def test_a_user_never_reaches_another_users_data(server: ServerProcess, user_keys: dict[str, str]) -> None:
    alice, bob = user_keys["alice"], user_keys["bob"]
    sid = call(server, "POST", "/v1/sessions", alice, json={}).json()["session_id"]
    job = call(server, "POST", f"/v1/sessions/{sid}/turns", alice, json={"instruction": "show me something"}).json()
    mine = call(server, "GET", "/v1/me/generated", alice).json()
    assert mine, "the turn test above made alice an item"
    item = mine[0]["item_id"]
    assert call(server, "GET", f"/v1/items/{item}", alice).status_code == 200
    missing = call(server, "GET", "/v1/items/gen:0000000000000000", bob)
    for path in (f"/v1/items/{item}", f"/v1/sessions/{sid}", f"/v1/jobs/{job['job_id']}"):
        r = call(server, "GET", path, bob)
        assert r.status_code == 404 and r.json() == missing.json(), path  # answered like a missing thing
        assert item not in r.text and "u00001" not in r.text
    for path in ("/v1/me/history?user_id=u00001", "/v1/me/generated?user_id=u00001"):
        assert call(server, "GET", path, bob).status_code == 404
    assert item not in call(server, "GET", "/v1/me/generated", bob).text
    r = call(server, "POST", "/v1/feedback", bob, json={"kind": "like", "item_id": item})
    assert r.status_code == 422  # bob cannot even refer to it
    r = call(server, "POST", "/v1/feedback", bob, json={"kind": "like", "item_id": "i00001", "session_id": sid})
    assert r.status_code == 404
    assert call(server, "POST", f"/v1/sessions/{sid}/turns", bob, json={"instruction": "hi"}).status_code == 404
    assert sid not in call(server, "GET", "/v1/sessions", bob).text


def test_a_reload_swaps_models_without_dropping_requests(
    server: ServerProcess, user_keys: dict[str, str], admin_key: str
) -> None:
    before = call(server, "GET", "/v1/admin/models", admin_key).json()["version"]

    def one(_: int) -> int:
        return call(server, "POST", "/v1/recommendations", user_keys["carol"], json={"k": 5}).status_code

    with cf.ThreadPoolExecutor(4) as pool:
        first = [pool.submit(one, n) for n in range(20)]
        assert call(server, "POST", "/v1/admin/reload", admin_key).status_code == 202
        codes = [f.result() for f in first]
        deadline = time.time() + 600
        while call(server, "GET", "/v1/admin/models", admin_key).json()["version"] == before:
            codes += [f.result() for f in [pool.submit(one, n) for n in range(4)]]
            assert time.time() < deadline
            time.sleep(0.2)
        codes += [f.result() for f in [pool.submit(one, n) for n in range(8)]]
    assert codes and set(codes) == {200}, codes
    assert call(server, "GET", "/v1/admin/models", admin_key).json()["version"] == before + 1
