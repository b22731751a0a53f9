"""Popularity and ItemKNN behind the common API; top-k selection; save/load."""

import json

import numpy as np
import pytest

from genrec.config import EvalConfig
from genrec.data import Dataset, leave_one_out
from genrec.eval import evaluate
from genrec.models import Recommender, create_model, model_names
from genrec.models.base import FORMAT_VERSION, top_k


def chain_dataset(n_users: int = 300, n_items: int = 40, seed: int = 0) -> Dataset:
    """Users walk item chains i -> i+1, starting anywhere: a strong co-occurrence signal."""
    rng = np.random.default_rng(seed)
    seqs = {}
    for u in range(n_users):
        start, length = rng.integers(0, n_items), rng.integers(4, 9)
        seqs[f"u{u}"] = [f"i{(start + t) % n_items}" for t in range(length)]
    return Dataset.from_sequences("chain", seqs)


def test_registry_knows_baselines():
    assert {"popularity", "itemknn", "sasrec"} <= set(model_names())
    with pytest.raises(ValueError, match="unknown model"):
        create_model("nope")
    with pytest.raises(ValueError, match="unknown setting"):
        create_model("itemknn", {"nieghbors": 3})


def test_top_k_orders_and_breaks_ties_by_id():
    scores = np.array([[0.1, 0.5, 0.5, 0.9, 0.5], [3.0, 2.0, 1.0, 0.0, -1.0]], dtype=np.float32)
    items, vals = top_k(scores, 3)
    assert items.tolist() == [[3, 1, 2], [0, 1, 2]]
    assert vals[0].tolist() == pytest.approx([0.9, 0.5, 0.5])


def test_popularity_ranks_by_count():
    ds = Dataset.from_sequences("p", {"a": ["x", "y"], "b": ["y", "z"], "c": ["y", "x"]})
    model = create_model("popularity").fit(ds)
    recs = model.recommend([np.array([0])], k=3)
    assert ds.item_external(recs.items[0]).tolist() == ["y", "x", "z"]


def test_itemknn_beats_popularity_on_chains():
    split = leave_one_out(chain_dataset())
    cfg = EvalConfig(ks=(10,))
    pop = evaluate(create_model("popularity").fit(split.train), split.test, split.train, cfg, progress=False)
    knn = evaluate(
        create_model("itemknn", {"recency_decay": 0.3}).fit(split.train), split.test, split.train, cfg, progress=False
    )
    assert knn.metrics["NDCG@10"] > 2 * pop.metrics["NDCG@10"]
    assert knn.metrics["Recall@10"] > 0.6


def test_exclude_history():
    split = leave_one_out(chain_dataset())
    model = create_model("itemknn").fit(split.train)
    hist = split.test.histories[:50]
    recs = model.recommend(hist, k=10, exclude="history")
    for h, row in zip(hist, recs.items):
        assert not set(h.tolist()) & set(row.tolist())
        assert len(set(row.tolist())) == 10
    custom = model.recommend(hist[:2], k=5, exclude=[np.array([0, 1]), np.array([], dtype=np.int64)])
    assert not {0, 1} & set(custom.items[0].tolist())
    with pytest.raises(ValueError):
        model.recommend(hist[:2], k=5, exclude="everything")


@pytest.mark.parametrize("name", ["popularity", "itemknn"])
def test_save_load_round_trip(tmp_path, name):
    split = leave_one_out(chain_dataset())
    model = create_model(name).fit(split.train)
    model.save(tmp_path / "m")
    back = Recommender.load(tmp_path / "m")
    assert type(back) is type(model) and back.config == model.config
    hist = split.test.histories[:20]
    np.testing.assert_array_equal(back.score(hist), model.score(hist))
    meta = json.loads((tmp_path / "m" / "meta.json").read_text())
    assert meta["model"] == name and meta["format_version"] == FORMAT_VERSION == 2
    # Saving again replaces the directory atomically.
    model.save(tmp_path / "m")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


def test_load_rejects_future_format(tmp_path):
    model = create_model("popularity").fit(chain_dataset())
    model.save(tmp_path / "m")
    meta = json.loads((tmp_path / "m" / "meta.json").read_text())
    meta["format_version"] = 99
    (tmp_path / "m" / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="upgrade genrec"):
        Recommender.load(tmp_path / "m")
    meta["format_version"] = 1  # saved by the genrec before the shared trainer and pydantic configs
    (tmp_path / "m" / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=r"saved by an older genrec \(model format 1\); retrain the model"):
        Recommender.load(tmp_path / "m")
    with pytest.raises(FileNotFoundError, match="not a saved genrec model"):
        Recommender.load(tmp_path / "missing")


def test_evaluator_exclude_history_keeps_repeated_target():
    # History contains the target itself (a repeat): it must stay rankable when excluding history.
    ds = Dataset.from_sequences("r", {"a": ["x", "y", "x", "y"], "b": ["y", "x", "z", "x"], "c": ["z", "y", "x"]})
    split = leave_one_out(ds)
    model = create_model("popularity").fit(split.train)
    res = evaluate(model, split.test, split.train, EvalConfig(ks=(1, 3), exclude_history=True), progress=False)
    assert res.protocol["exclude_history"] is True
    assert res.metrics["Recall@3"] == pytest.approx(1.0)
