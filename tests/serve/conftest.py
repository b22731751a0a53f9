"""One `genrec serve` process (the tiny test configuration) shared by the service tests, and its users' keys."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.serve.support import ServerProcess, bearer, serve_args


@pytest.fixture(scope="session")
def serve_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """GENREC_HOME of the service tests: the dataset store and the trained models, shared by their servers.

    $GENREC_TEST_SERVE_HOME keeps it between runs (the models stay trained; users' data starts empty).
    """
    kept = os.environ.get("GENREC_TEST_SERVE_HOME")
    if not kept:
        return tmp_path_factory.mktemp("serve-home")
    home = Path(kept)
    home.mkdir(parents=True, exist_ok=True)
    for old in [*home.glob("state-*.duckdb*"), *home.glob("chat*.duckdb*"), *home.glob("*.log")]:
        old.unlink()
    return home


@pytest.fixture(scope="session")
def server(serve_home: Path) -> Iterator[ServerProcess]:
    """The shared server (its own state database; the first start trains the tiny models)."""
    proc = ServerProcess(serve_home, *serve_args("--db", str(serve_home / "state-main.duckdb")))
    try:
        proc.wait_ready()
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="session")
def admin_key(server: ServerProcess) -> str:
    """The admin key the server created and printed at its first start."""
    return server.admin_key()


@pytest.fixture(scope="session")
def user_keys(server: ServerProcess, admin_key: str) -> dict[str, str]:
    """API keys of two users of the dataset (alice = u00001, bob = u00002) and one new user (carol)."""
    keys = {}
    for name, user in (("alice", "u00001"), ("bob", "u00002"), ("carol", "carol")):
        r = httpx.post(server.url + "/v1/admin/keys", json={"user_id": user}, headers=bearer(admin_key), timeout=30)
        assert r.status_code == 201, r.text
        keys[name] = r.json()["key"]
    return keys
