"""`genrec chat` with every recommender (issue 20): a create turn, then a restart on the same store.

Only tiger can add items; with the others generated items are scored by the text encoder, and a
stored passing item is admitted at every start without a shape error.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from genrec.cli.main import app
from genrec.data.generated import GeneratedItem, Provenance
from genrec.data.generated_store import GeneratedStore
from genrec.data.sources import synthetic_dataset
from genrec.data.store import Store
from genrec.generation.intent import Constraints
from genrec.generation.retrieval import InstructedRetriever
from genrec.models.base import GrowingRecommender
from genrec.models.registry import create_model

DATA = ["--opt", "n_users=200", "--opt", "n_items=120", "--opt", "n_categories=4", "--opt", "n_brands=8"]
TEXTGEN = [
    *("--set", "textgen.epochs=25", "--set", "textgen.dim=64", "--set", "textgen.layers=2"),
    *("--set", "textgen.heads=2", "--set", "textgen.vocab_size=600", "--set", "textgen.threads=1"),
    *("--set", "textgen.batch_size=32"),
]
RECOMMENDERS = {
    "popularity": [],
    "itemknn": [],
    "sasrec": ["--set", "recommender.epochs=2", "--set", "recommender.dim=32", "--set", "recommender.threads=1"],
    "tiger": [
        *("--set", "recommender.epochs=4", "--set", "recommender.dim=32"),
        *("--set", "recommender.sid.codebook_size=8", "--set", "recommender.threads=1"),
    ],
}


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("chat-recommenders")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GENREC_HOME", str(root / "home"))  # shared: the text generator trains once
        mp.setenv("GENREC_WATERMARK_KEY", "test-key")
        yield root


def chat(home: Path, db: Path, lines: list[str], *extra: str) -> list[dict]:
    script = home / "script.txt"
    script.write_text("\n".join(lines) + "\n")
    res = CliRunner().invoke(
        app, ["chat", "--json", "--store", str(db), "--script", str(script), *DATA, *TEXTGEN, *extra]
    )
    assert res.exit_code == 0, res.output
    return [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]


@pytest.mark.parametrize("name", list(RECOMMENDERS))
def test_create_then_restart_with_every_recommender(home: Path, name: str) -> None:
    db = home / f"{name}.duckdb"
    ds = synthetic_dataset(Store(db), {"n_users": 200, "n_items": 120, "n_categories": 4, "n_brands": 8})
    category = ds.items["categories"].iloc[0][-1]
    extra = ["--set", f"pipeline.recommender={name}", *RECOMMENDERS[name]]
    first = chat(home, db, [f"make me a new {category} for me", f"show me {category}"], *extra)
    create, shown = first
    assert create["action"] == "create" and shown["action"] == "retrieve" and shown["entries"]
    assert (create["entries"] and create["entries"][0]["generated"]) or create["blocked"]
    stored = GeneratedStore(db).items(ds.name)  # passing items only: re-admitted at every start
    again = chat(home, db, [f"show me {category}", "surprise me"], *extra)
    assert [t["action"] for t in again] == ["retrieve", "retrieve"] and all(t["entries"] for t in again)
    mine = {g.item_id for g in stored}
    listed = {e["item_id"] for t in again for e in t["entries"]}
    assert listed - mine <= set(ds.items["item_id"])  # only catalog items and this user's own creations


def test_retrieval_scores_items_the_recommender_cannot(tmp_path: Path) -> None:
    ds = synthetic_dataset(Store(tmp_path / "db.duckdb"), {"n_users": 80, "n_items": 60, "n_categories": 3})
    model = create_model("popularity").fit(ds)
    assert not isinstance(model, GrowingRecommender) and isinstance(create_model("tiger"), GrowingRecommender)
    made = GeneratedItem(
        "Acme Fresh New Item", "A new one.", "Acme", ["x"], 9.0, provenance=Provenance("create", "test", "1")
    )
    items = pd.concat([ds.items, pd.DataFrame([made.record()])], ignore_index=True)
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(len(items), 8)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    retriever = InstructedRetriever(model, items, emb)
    scores = retriever.scores([np.array([0, 1, 2])], [Constraints()])
    assert scores.shape == (1, len(items)) and np.isfinite(scores).all()


def test_bad_chat_commands_answer_and_keep_the_session(home: Path) -> None:
    """Issue 18, item 7: ':like ²' (a digit to isdigit, not to int), ':like 999', ':user <unknown>' are
    one-line errors and the session goes on."""
    db = home / "commands.duckdb"
    synthetic_dataset(Store(db), {"n_users": 200, "n_items": 120, "n_categories": 4, "n_brands": 8})
    lines = ["show me something", ":like ²", ":like 999", ":user nobody-here", ":like 1", ":frobnicate"]
    records = chat(home, db, lines, "--set", "pipeline.recommender=popularity")
    by_line = {r["input"]: r for r in records if "input" in r}
    assert "entry of the last list" in by_line[":like ²"]["error"]
    assert "entry of the last list" in by_line[":like 999"]["error"]
    assert "unknown user 'nobody-here'" in by_line[":user nobody-here"]["error"]
    assert by_line[":like 1"]["note"].startswith("liked ")
    assert "unknown command" in by_line[":frobnicate"]["error"]
