"""In `genrec chat`, created items that copy a catalog item or leak an e-mail address are blocked,
the reason is shown, the audit record survives a restart, and blocked items never reach a list.

The text generator is trained to memorise a 16-item catalog (one seller's descriptions carry an
e-mail address), so it really produces copies and the leaked address: no stand-in generator.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from genrec.cli.main import app
from genrec.config import SyntheticConfig
from genrec.data.generated_store import GeneratedStore
from genrec.data.store import Store
from genrec.data.synthetic import generate

MEMORISE = [
    "--set",
    "recommender.epochs=3",
    "--set",
    "recommender.dim=16",
    "--set",
    "recommender.sid.codebook_size=4",
    "--set",
    "recommender.threads=1",
    "--set",
    "textgen.epochs=150",
    "--set",
    "textgen.dim=64",
    "--set",
    "textgen.layers=2",
    "--set",
    "textgen.heads=2",
    "--set",
    "textgen.vocab_size=400",
    "--set",
    "textgen.batch_size=16",
    "--set",
    "textgen.lr=0.003",
    "--set",
    "textgen.threads=1",
    "--set",
    "textgen.temperature=0.1",
    "--set",
    "textgen.max_new_tokens=150",
    "--set",
    "textgen.max_length=160",
]


@pytest.fixture()
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, object]:
    monkeypatch.setenv("GENREC_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GENREC_WATERMARK_KEY", "test-key")
    ds = generate(SyntheticConfig(n_users=60, n_items=16, n_categories=2, n_brands=4))
    items = ds.items.copy()
    seller = items["brand"] == items.loc[0, "brand"]  # one seller put a contact line in all its listings
    items.loc[seller, "description"] += " Questions? Write to jane.doe@example.com any time."
    ds.items = items
    Store(tmp_path / "db.duckdb").save_dataset(ds, name="shop")
    return tmp_path, ds


def chat(home: Path, lines: list[str]) -> list[dict]:
    script = home / "script.txt"
    script.write_text("\n".join(lines) + "\n")
    res = CliRunner().invoke(
        app,
        ["chat", "--json", "--dataset", "shop", "--store", str(home / "db.duckdb"), "--script", str(script), *MEMORISE],
    )
    assert res.exit_code == 0, res.output
    return [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]


def test_copies_and_leaked_emails_are_blocked_audited_and_never_shown(shop) -> None:  # type: ignore[no-untyped-def]
    home, ds = shop
    category = ds.items["categories"].iloc[3][0]
    create, edit, retrieve = chat(
        home,
        [
            f"make me a new one: {category}",
            f"rewrite {ds.items['title'].iloc[0]} for me",
            "show me more like these",
        ],
    )
    assert create["action"] == "create" and edit["action"] == "edit"
    create_reasons = [r for b in create["blocked"] for r in b["reasons"]]
    # a creation of this tiny shop's generator is blocked as a copy, a leak, or (issue 20) for made-up words
    copy_or_leak = ("near_duplicate", "claims_real_product", "privacy.email", "neither the catalog's nor English")
    assert any(code in r for r in create_reasons for code in copy_or_leak), create_reasons
    leak_reasons = [r for b in edit["blocked"] for r in b["reasons"]]
    assert any("privacy.email" in r and "jane.doe@example.com" in r for r in leak_reasons), leak_reasons
    blocked = {b["item_id"] for t in (create, edit) for b in t["blocked"]}
    shown = {e["item_id"] for t in (create, edit, retrieve) for e in t["entries"]}
    assert blocked and not blocked & shown

    # a restart (new process state, same store): the audit log still has every verdict and reason
    store = GeneratedStore(home / "db.duckdb")
    audit = {e["item_id"]: e for e in store.audit(dataset="shop")}
    assert blocked <= set(audit) and all(audit[i]["verdict"] == "block" and audit[i]["reasons"] for i in blocked)
    (after,) = chat(home, [":audit", "show me more like these"])[1:]
    assert not blocked & {e["item_id"] for e in after["entries"]}
    assert {g.item_id for g in store.items("shop")}.isdisjoint(blocked)  # the listing used to admit items
