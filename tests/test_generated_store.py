"""Generated items persist with provenance and verdicts, never overwrite, and survive a reopen."""

from __future__ import annotations

from pathlib import Path

import pytest

from genrec.data.generated import GeneratedItem, Provenance
from genrec.data.generated_store import GeneratedStore


def make(title: str, verdict: str | None = None, user: str = "u1") -> GeneratedItem:
    prov = Provenance("create", "textgen", "1", user_id=user, instruction="make me one")
    report = None if verdict is None else {"verdict": verdict, "reasons": [f"{verdict} because"], "checks": {}}
    return GeneratedItem(title=title, description="d", provenance=prov, fidelity=report)


def test_add_get_and_list_skip_blocked(tmp_path: Path) -> None:
    store = GeneratedStore(tmp_path / "g.duckdb")
    ok, bad = make("fine lamp", "pass"), make("copied lamp", "block")
    store.add(ok, "shop")
    store.add(bad, "shop")
    assert store.get(ok.item_id).title == "fine lamp"
    assert [i.item_id for i in store.items("shop")] == [ok.item_id]
    assert {i.item_id for i in store.items("shop", include_blocked=True)} == {ok.item_id, bad.item_id}
    assert store.items("other") == []


def test_never_overwrites_and_refuses_human_ids(tmp_path: Path) -> None:
    store = GeneratedStore(tmp_path / "g.duckdb")
    item = make("lamp", "pass")
    store.add(item, "shop")
    twin = GeneratedItem.from_dict({**item.to_dict(), "title": "another text"})
    with pytest.raises(ValueError, match="never overwritten"):
        store.add(twin, "shop")
    assert store.get(item.item_id).title == "lamp"  # the first one is intact
    with pytest.raises(ValueError, match="human item"):
        store.add(make("x"), "shop", human_ids={make("x").item_id})
    assert len(store.audit()) == 1  # refused writes left no audit rows behind


def test_audit_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "g.duckdb"
    item = make("copy of a catalog lamp", "block")
    GeneratedStore(path).add(item, "shop")
    reopened = GeneratedStore(path)
    log = reopened.audit(item.item_id)
    assert log and log[0]["verdict"] == "block" and log[0]["reasons"] == ["block because"]
    item.fidelity = {"verdict": "pass", "reasons": [], "checks": {}}
    reopened.record_check(item, "shop")
    assert [e["verdict"] for e in GeneratedStore(path).audit(item.item_id)] == ["block", "pass"]
    with pytest.raises(KeyError):
        reopened.record_check(make("never stored"), "shop")
