"""Hostile request bodies over loopback: non-JSON numbers, lone surrogates, oversized bodies, loose types, and keys.

Every one gets a JSON 4xx naming the field (never a 5xx), and a 422 never echoes a large input.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.serve.support import SERVE_DATA, ServerProcess, bearer, serve_args

pytestmark = pytest.mark.serve

JSON = {"Content-Type": "application/json"}


def strict_json(text: str) -> Any:
    """Parse as RFC 8259 JSON: NaN and Infinity are not JSON."""

    def refuse(constant: str) -> Any:
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def post_raw(url: str, key: str, raw: str | bytes, **kw: Any) -> httpx.Response:
    content = raw.encode("utf-8") if isinstance(raw, str) else raw
    return httpx.post(url, content=content, headers={**bearer(key), **JSON}, timeout=60, **kw)


def assert_names_field(r: httpx.Response, field: str) -> None:
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/json")
    detail = strict_json(r.text)["detail"]
    assert any(field in [str(x) for x in e["loc"]] for e in detail), r.text


@pytest.mark.parametrize(
    ("path", "raw", "field"),
    [
        ("/v1/recommendations", '{"filters": {"price_min": NaN}}', "price_min"),
        ("/v1/recommendations", '{"filters": {"price_max": Infinity}}', "price_max"),
        ("/v1/recommendations", '{"k": 1e400}', "k"),
        ("/v1/recommendations", '{"k": -Infinity}', "k"),
        ("/v1/recommendations", '{"history": ["\\ud800"]}', "history"),
        ("/v1/feedback", '{"kind": "like", "item_id": "i00010", "value": NaN}', "value"),
        ("/v1/feedback", '{"kind": "like", "item_id": "\\udfff"}', "item_id"),
        ("/v1/sessions", '{"title": "\\ud800"}', "title"),
        ("/v1/sessions", '{"title": 1e999}', "title"),
    ],
)
def test_non_json_numbers_and_lone_surrogates_get_a_json_422(
    server: ServerProcess, user_keys: dict[str, str], path: str, raw: str, field: str
) -> None:
    assert_names_field(post_raw(server.url + path, user_keys["alice"], raw), field)


def test_turn_and_admin_bodies_with_bad_numbers_get_a_json_422(
    server: ServerProcess, user_keys: dict[str, str], admin_key: str
) -> None:
    alice = user_keys["alice"]
    sid = httpx.post(server.url + "/v1/sessions", json={}, headers=bearer(alice)).json()["session_id"]
    turns = f"{server.url}/v1/sessions/{sid}/turns"
    assert_names_field(post_raw(turns, alice, '{"instruction": "x", "wait_seconds": Infinity}'), "wait_seconds")
    assert_names_field(post_raw(turns, alice, '{"instruction": "x", "wait_seconds": NaN}'), "wait_seconds")
    assert_names_field(post_raw(turns, alice, '{"instruction": "\\ud800"}'), "instruction")
    keys = server.url + "/v1/admin/keys"
    assert_names_field(post_raw(keys, admin_key, '{"user_id": "x", "note": 1.0e999}'), "note")
    assert_names_field(post_raw(keys, admin_key, '{"user_id": "x", "label": "\\ud83d"}'), "label")


def test_loose_types_unknown_excluded_items_and_bidi_titles_are_refused(
    server: ServerProcess, user_keys: dict[str, str]
) -> None:
    alice = user_keys["alice"]
    recs = server.url + "/v1/recommendations"
    for raw in ('{"k": true}', '{"k": "5"}', '{"k": 5.0}'):
        assert_names_field(post_raw(recs, alice, raw), "k")
    assert_names_field(post_raw(recs, alice, '{"exclude_history": "yes"}'), "exclude_history")
    r = post_raw(recs, alice, '{"k": 3, "exclude_items": ["i00001", "zzz"]}')
    assert_names_field(r, "exclude_items")
    assert "zzz" in r.text
    assert post_raw(recs, alice, '{"k": 3, "exclude_items": ["i00001"]}').status_code == 200
    sessions = server.url + "/v1/sessions"
    for title in ("evil \u202egnp.exe", "isolate \u2066x\u2069", "c1 \u0085 control"):
        assert_names_field(httpx.post(sessions, json={"title": title}, headers=bearer(alice)), "title")
    ok = httpx.post(sessions, json={"title": "Ünïcode fine — ok"}, headers=bearer(alice))
    assert ok.status_code == 201, ok.text


def test_a_422_never_echoes_a_large_input(server: ServerProcess, user_keys: dict[str, str]) -> None:
    alice = user_keys["alice"]
    long_title = json.dumps({"title": "x" * 300_000})
    r = post_raw(server.url + "/v1/sessions", alice, long_title)
    assert_names_field(r, "title")
    assert len(r.content) < 2000
    many = json.dumps({"exclude_items": ["i00001"] * 60_000})  # ~600 KB: under the size limit
    r = post_raw(server.url + "/v1/recommendations", alice, many)
    assert_names_field(r, "exclude_items")
    assert len(r.content) < 2000


def test_a_body_over_the_default_limit_gets_413_before_it_is_parsed(
    server: ServerProcess, user_keys: dict[str, str]
) -> None:
    alice = user_keys["alice"]
    body = json.dumps({"exclude_items": ["i00001"] * 200_000}).encode()  # 2 MB > 1 MiB
    url = server.url + "/v1/recommendations"
    r = post_raw(url, alice, body)
    assert r.status_code == 413 and "larger than 1048576 bytes" in strict_json(r.text)["detail"], r.text[:300]
    assert r.headers["x-content-type-options"] == "nosniff"

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit counts the bytes as they arrive
        for start in range(0, len(body), 65536):
            yield body[start : start + 65536]

    r = httpx.post(url, content=chunks(), headers={**bearer(alice), **JSON}, timeout=60)
    assert "content-length" not in r.request.headers
    assert r.status_code == 413, r.text
    # the server still answers normally afterwards
    assert post_raw(url, alice, '{"k": 2}').status_code == 200


# ---- a server of its own: a small body limit, and exactly one admin key -----------------------------
@pytest.fixture(scope="module")
def small(server: ServerProcess, serve_home: Path) -> Iterator[ServerProcess]:
    """A second server (recommendations only, the shared server's cached models) with a 4 KiB body limit."""
    db = serve_home / "state-limits.duckdb"
    for old in serve_home.glob("state-limits.duckdb*"):
        old.unlink()
    proc = ServerProcess(serve_home, *serve_args("--db", str(db), "--no-loop", "--max-body-bytes", "4096"))
    try:
        proc.wait_ready()
        yield proc
    finally:
        proc.stop()


def test_the_body_limit_is_a_setting(small: ServerProcess) -> None:
    # This server's first request is an anonymous history (it once froze the server: a lock taken twice).
    admin = small.admin_key()
    url = small.url + "/v1/recommendations"
    items = [f"i{n:05d}" for n in range(SERVE_DATA["n_items"])]
    under = json.dumps({"k": 2, "history": items, "exclude_items": items}) + " " * 800  # ~3.8 KB
    over = under + " " * 400  # the same request, over 4 KiB by blank space
    assert len(under) < 4096 < len(over)
    ok = post_raw(url, admin, under)
    assert ok.status_code == 200, ok.text[:500]
    r = post_raw(url, admin, over)
    assert r.status_code == 413 and "4096" in r.json()["detail"]


def signed_in_browser(server: ServerProcess, key: str) -> tuple[httpx.Client, str]:
    """An HTTP client signed in through the sign-in form, and the CSRF token of its session."""
    client = httpx.Client(base_url=server.url, timeout=60)
    form = client.get("/signin").text
    token = re.search(r'name="csrf" value="([^"]+)"', form)
    assert token is not None
    r = client.post("/signin", data={"csrf": token.group(1), "key": key})
    assert r.status_code == 303, r.text
    admin = client.get("/admin")
    csrf = re.search(r'name="csrf" value="([^"]+)"', admin.text)
    assert admin.status_code == 200 and csrf is not None
    return client, csrf.group(1)


def test_the_last_admin_key_cannot_be_revoked(small: ServerProcess) -> None:
    admin = small.admin_key()
    own_id = admin.split("_")[1]
    r = httpx.delete(f"{small.url}/v1/admin/keys/{own_id}", headers=bearer(admin))
    assert r.status_code == 409 and "last active admin key" in r.json()["detail"], r.text
    assert httpx.get(small.url + "/v1/admin/keys", headers=bearer(admin)).status_code == 200  # still valid

    # in the browser too, with the reason shown; an unknown key id is an error, not a silent redirect
    client, csrf = signed_in_browser(small, admin)
    try:
        r = client.post(f"/admin/keys/{own_id}/revoke", data={"csrf": csrf})
        assert r.status_code == 409 and "last active admin key" in r.text and 'data-testid="key-error"' in r.text
        r = client.post("/admin/keys/zzz/revoke", data={"csrf": csrf})
        assert r.status_code == 404 and "no active key zzz" in r.text

        # with a second admin key, the first may go (and a revoked key is then refused)
        second = httpx.post(
            small.url + "/v1/admin/keys", json={"user_id": "ops2", "role": "admin"}, headers=bearer(admin)
        )
        assert second.status_code == 201
        r = httpx.delete(f"{small.url}/v1/admin/keys/{own_id}", headers=bearer(second.json()["key"]))
        assert r.status_code == 204
        assert httpx.get(small.url + "/v1/me", headers=bearer(admin)).status_code == 401
        # now the second is the last one
        second_id = second.json()["key_id"]
        r = httpx.delete(f"{small.url}/v1/admin/keys/{second_id}", headers=bearer(second.json()["key"]))
        assert r.status_code == 409
    finally:
        client.close()
