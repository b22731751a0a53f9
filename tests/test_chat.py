"""`genrec chat` on the embedded default (synthetic data, DuckDB store), scripted end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from genrec.cli.main import app
from genrec.data.generated_store import GeneratedStore
from genrec.data.sources import synthetic_dataset
from genrec.data.store import Store

DATA = ["--opt", "n_users=200", "--opt", "n_items=120", "--opt", "n_categories=4", "--opt", "n_brands=8"]
FAST = [
    "--set",
    "recommender.epochs=4",
    "--set",
    "recommender.dim=32",
    "--set",
    "recommender.sid.codebook_size=8",
    "--set",
    "recommender.threads=1",
    "--set",
    "textgen.epochs=25",
    "--set",
    "textgen.dim=64",
    "--set",
    "textgen.layers=2",
    "--set",
    "textgen.heads=2",
    "--set",
    "textgen.vocab_size=600",
    "--set",
    "textgen.threads=1",
    "--set",
    "textgen.batch_size=32",
]


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GENREC_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GENREC_WATERMARK_KEY", "test-key")
    return tmp_path


def chat(home: Path, lines: list[str], *extra: str) -> list[dict]:
    script = home / "script.txt"
    script.write_text("\n".join(lines) + "\n")
    res = CliRunner().invoke(
        app, ["chat", "--json", "--store", str(home / "db.duckdb"), "--script", str(script), *DATA, *FAST, *extra]
    )
    assert res.exit_code == 0, res.output
    return [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]


def test_retrieve_edit_create_and_excluded_brands_never_appear(home: Path) -> None:
    ds = synthetic_dataset(
        Store(home / "db.duckdb"), {"n_users": 200, "n_items": 120, "n_categories": 4, "n_brands": 8}
    )
    items = ds.items.set_index("item_id")
    category = ds.items["categories"].iloc[0][0]
    price = float(ds.items[ds.items["categories"].map(lambda c: c[0] == category)]["price"].median())
    turns = chat(
        home,
        [
            "show me something like my last purchase but from another brand",
            "rewrite this one for me",
            f"make me a new one: {category} under ${price:.0f}",
        ],
    )
    retrieve, edit, create = turns
    assert retrieve["action"] == "retrieve"
    banned = retrieve["constraints"]["exclude_brands"]
    assert banned and retrieve["entries"]
    shown = [e for e in retrieve["entries"] if not e["generated"]]
    assert all(items.loc[e["item_id"], "brand"] not in banned for e in shown)
    assert edit["action"] == "edit" and create["action"] == "create"
    assert create["constraints"]["categories"] == [category] and create["constraints"]["price_max"] == round(price)
    for turn in (edit, create):  # a generated entry leads the list (flagged) or every draft was blocked with reasons
        gen = [e for e in turn["entries"] if e["generated"]]
        assert (gen and turn["entries"][0]["generated"] and gen[0]["verdict"] in ("pass", "warn")) or turn["blocked"]
        assert all(b["reasons"] for b in turn["blocked"])
    assert not [e for e in edit["entries"] if e["generated"]] or edit["entries"][0]["kind"] in ("edit", "select")
    made = [e for e in create["entries"] if e["generated"]]
    if made:
        assert made[0]["price"] is None or made[0]["price"] <= price + 1
    # every draft was stored with provenance and a verdict; none replaced a human item
    stored = GeneratedStore(home / "db.duckdb").items(ds.name, include_blocked=True)
    assert stored and all(g.provenance.user_id and g.provenance.generator and g.fidelity for g in stored)
    kinds = {g.provenance.kind for g in stored}
    assert {"edit", "create"} <= kinds <= {"edit", "select", "create"}  # select: when every rewrite was blocked
    assert all(g.provenance.source_item_id in set(ds.items["item_id"]) for g in stored if g.provenance.kind != "create")
    assert not set(items.index) & {g.item_id for g in stored}
