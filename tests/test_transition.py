"""The item-transition graph baseline: hand-computed scores on a tiny log, save/load, errors."""

import numpy as np
import pytest

from genrec.config import ConfigError, EvalConfig, TransitionConfig, apply_overrides
from genrec.data import Dataset, leave_one_out
from genrec.eval import evaluate
from genrec.models import Recommender, create_model, model_names

# u1: a b c, u2: a b d, u3: b c  ->  transitions a->b (2), b->c (2), b->d (1)
LOG = {"u1": ["a", "b", "c"], "u2": ["a", "b", "d"], "u3": ["b", "c"]}


def fitted(**overrides: float) -> tuple[Recommender, Dataset]:
    ds = Dataset.from_sequences("tiny", LOG)
    return create_model("transition", {"popularity_weight": 0.0, **overrides}).fit(ds), ds


def scores_by_name(model: Recommender, ds: Dataset, history: list[str]) -> dict[str, float]:
    row = model.score([ds.item_indices(history)])[0]
    return {name: float(row[ds.item_index(name)]) for name in "abcd"}


def test_registered() -> None:
    assert "transition" in model_names()


def test_one_step_walk_with_recency() -> None:
    model, ds = fitted(recency_decay=0.5)
    # P[a] = {b: 1}, P[b] = {c: 2/3, d: 1/3};  s = 0.5 * P[a] + 1 * P[b]
    assert scores_by_name(model, ds, ["a", "b"]) == pytest.approx({"a": 0.0, "b": 0.5, "c": 2 / 3, "d": 1 / 3})
    assert scores_by_name(model, ds, ["b"]) == pytest.approx({"a": 0.0, "b": 0.0, "c": 2 / 3, "d": 1 / 3})


def test_max_history_keeps_only_the_last_items() -> None:
    model, ds = fitted(recency_decay=0.5, max_history=1)
    assert scores_by_name(model, ds, ["a", "b"]) == pytest.approx({"a": 0.0, "b": 0.0, "c": 2 / 3, "d": 1 / 3})


def test_two_hop_walk() -> None:
    model, ds = fitted(two_hop=1.0)
    # Q[a] = P[a] + (P @ P)[a] = {b: 1} + {c: 2/3, d: 1/3}
    assert scores_by_name(model, ds, ["a"]) == pytest.approx({"a": 0.0, "b": 1.0, "c": 2 / 3, "d": 1 / 3})


def test_reverse_edges() -> None:
    model, ds = fitted(reverse_weight=1.0)
    # A[b] = {a: 2 (back from a->b), c: 2, d: 1}  ->  P[b] = {a: .4, c: .4, d: .2}
    assert scores_by_name(model, ds, ["b"]) == pytest.approx({"a": 0.4, "b": 0.0, "c": 0.4, "d": 0.2})


def test_window_with_gap_decay() -> None:
    model, ds = fitted(window=2, gap_decay=0.5)
    # A[a] = {b: 2, c: 0.5 (u1, gap 2), d: 0.5 (u2, gap 2)}  ->  P[a] = {b: 2/3, c: 1/6, d: 1/6}
    assert scores_by_name(model, ds, ["a"]) == pytest.approx({"a": 0.0, "b": 2 / 3, "c": 1 / 6, "d": 1 / 6})


def test_popularity_orders_what_the_walk_does_not_reach() -> None:
    model, ds = fitted(popularity_weight=0.01)
    # c has no outgoing edge: only the popularity term, counts a 2, b 3, c 2, d 1 (max 3)
    assert scores_by_name(model, ds, ["c"]) == pytest.approx({"a": 0.02 / 3, "b": 0.01, "c": 0.02 / 3, "d": 0.01 / 3})
    recs = model.recommend([ds.item_indices(["a"])], k=4)
    assert ds.item_external(recs.items[0]).tolist() == ["b", "a", "c", "d"]  # b by the walk, then popularity


def test_empty_history_and_save_load(tmp_path) -> None:  # type: ignore[no-untyped-def]
    model, ds = fitted(two_hop=0.5, reverse_weight=0.3, popularity_weight=0.01)
    histories = [np.zeros(0, dtype=np.int64), ds.item_indices(["a", "b"]), ds.item_indices(["d", "c", "c"])]
    again = Recommender.load(model.save(tmp_path / "m"))
    np.testing.assert_array_equal(model.score(histories), again.score(histories))


def test_bad_settings_are_rejected() -> None:
    with pytest.raises(ConfigError, match="window"):
        create_model("transition", {"window": 0})
    with pytest.raises(ConfigError, match="reverse_weight"):
        create_model("transition", ["reverse_weight=-1"])
    assert apply_overrides(TransitionConfig(), ["two_hop=0.3", "max_history=3"]).two_hop == 0.3


def test_beats_popularity_on_chains() -> None:
    rng = np.random.default_rng(0)
    seqs = {}
    for u in range(300):  # users walk the chain i -> i + 1 from a random start
        start, length = rng.integers(0, 40), rng.integers(4, 9)
        seqs[f"u{u}"] = [f"i{(start + t) % 40}" for t in range(length)]
    split = leave_one_out(Dataset.from_sequences("chain", seqs))
    cfg = EvalConfig(ks=(10,))
    pop = evaluate(create_model("popularity").fit(split.train), split.test, split.train, cfg, progress=False)
    graph = evaluate(create_model("transition").fit(split.train), split.test, split.train, cfg, progress=False)
    assert graph.metrics["Recall@10"] > 0.95  # the next chain item is always the walk's best
    assert graph.metrics["NDCG@10"] > 3 * pop.metrics["NDCG@10"]
