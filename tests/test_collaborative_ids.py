"""Collaborative item vectors (hand-checked) and tiger on a log without item text."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp

from genrec.config import ConfigError, EvalConfig, TigerConfig, apply_overrides
from genrec.data.dataset import Dataset
from genrec.data.split import leave_one_out
from genrec.encoders import has_item_text
from genrec.eval.evaluator import evaluate
from genrec.eval.validation import ranking_validator
from genrec.models.base import Recommender
from genrec.models.registry import create_model
from genrec.semantic_ids.collaborative import (
    collaborative_item_vectors,
    cooccurrence_counts,
    cooccurrence_item_vectors,
    ppmi_matrix,
    svd_item_vectors,
)


def test_cooccurrence_counts_by_hand() -> None:
    # pairs: gap 1 (0,1), (1,2), (1,2); gap 2 (0,2) with weight 1/2; symmetric
    c = cooccurrence_counts([np.array([0, 1, 2]), np.array([1, 2])], 3, window=2).toarray()
    np.testing.assert_allclose(c, [[0, 1, 0.5], [1, 0, 2], [0.5, 2, 0]])
    once = cooccurrence_counts([np.array([0, 1, 2]), np.array([1, 2])], 3, window=1).toarray()
    np.testing.assert_allclose(once, [[0, 1, 0], [1, 0, 2], [0, 2, 0]])
    assert cooccurrence_counts([np.array([4, 4])], 5, window=1).nnz == 0  # an item next to itself: nothing
    with pytest.raises(ValueError, match="window"):
        cooccurrence_counts([], 3, window=0)


def test_ppmi_by_hand() -> None:
    c = sp.csr_matrix(np.array([[0, 1, 0.5], [1, 0, 2], [0.5, 2, 0]]))
    p = ppmi_matrix(c).toarray()
    # row sums 1.5, 3, 2.5; total 7: PMI(0,1) = log(7 / 4.5), PMI(1,2) = log(14 / 7.5), PMI(0,2) < 0 -> 0
    expected = np.zeros((3, 3))
    expected[0, 1] = expected[1, 0] = math.log(7 / 4.5)
    expected[1, 2] = expected[2, 1] = math.log(14 / 7.5)
    np.testing.assert_allclose(p, expected, rtol=1e-6)


def two_group_log() -> Dataset:
    """Users buy within group A (items a0..a4) or group B (b0..b4), never across."""
    rng = np.random.default_rng(0)
    seqs = {}
    for u in range(60):
        group = "a" if u % 2 else "b"
        seqs[f"u{u}"] = [f"{group}{i}" for i in rng.permutation(5)[: rng.integers(3, 6)]]
    return Dataset.from_sequences("groups", seqs)


@pytest.mark.parametrize("method", ["svd", "cooc"])
def test_vectors_separate_items_bought_by_different_people(method: str) -> None:
    ds = two_group_log()
    v = collaborative_item_vectors(ds, method, dim=8, seed=0)
    v = v / np.linalg.norm(v, axis=1, keepdims=True)
    group = np.array([str(x)[0] for x in ds.items["item_id"]])
    cos = v @ v.T
    same = cos[group[:, None] == group[None, :]]
    cross = cos[group[:, None] != group[None, :]]
    assert np.abs(cross).max() < 1e-5  # no user or sequence links the groups
    assert same.mean() > 0.3


def test_svd_vectors_reproduce_co_user_counts() -> None:
    # items 0 and 1 bought by users x, y; item 2 by z; item 3 by x, y, z: rank 3 < 4
    ds = Dataset.from_sequences("m", {"x": ["0", "1", "3"], "y": ["1", "0", "3"], "z": ["2", "3"]})
    v = svd_item_vectors(ds, dim=8, seed=0)
    order = np.argsort([int(x) for x in ds.items["item_id"]])
    gram = (v @ v.T)[np.ix_(order, order)]
    # (A A^T)[i, j] = number of users who bought both i and j
    np.testing.assert_allclose(gram, [[2, 2, 0, 2], [2, 2, 0, 2], [0, 0, 1, 1], [2, 2, 1, 3]], atol=1e-4)


def test_cooc_vectors_are_deterministic_and_bad_method_named() -> None:
    ds = two_group_log()
    np.testing.assert_array_equal(cooccurrence_item_vectors(ds, 6, 1), cooccurrence_item_vectors(ds, 6, 1))
    with pytest.raises(ValueError, match="'bpr'"):
        collaborative_item_vectors(ds, "bpr", 8, 0)


def test_collab_choices_are_typed_settings() -> None:
    assert apply_overrides(TigerConfig(), ["collab=cooc", "collab_dim=16"]).collab == "cooc"
    with pytest.raises(ConfigError, match="collab"):
        apply_overrides(TigerConfig(), ["collab=bpr"])


def test_has_item_text() -> None:
    bare = Dataset.from_sequences("bare", {"u": ["1", "2", "3"]})
    assert not has_item_text(bare)
    titled = bare.with_interactions(bare.interactions)
    titled.items.loc[0, "title"] = "red lipstick"
    assert has_item_text(titled)
    assert not has_item_text(titled, fields=())
    assert not has_item_text(titled, fields=("brand",))


# ---- tiger without item text ------------------------------------------------------------
torch = pytest.importorskip("torch")
pytest.importorskip("faiss")

from genrec.models.tiger import Tiger  # noqa: E402


def chain_log(n_users: int = 400, n_items: int = 60, seed: int = 0) -> Dataset:
    """Users walk i -> i + 1 from a random start; items have no text at all."""
    rng = np.random.default_rng(seed)
    seqs = {}
    for u in range(n_users):
        start, length = rng.integers(0, n_items), rng.integers(5, 10)
        seqs[f"u{u}"] = [f"i{(start + t) % n_items}" for t in range(length)]
    return Dataset.from_sequences("chain", seqs)


def small_tiger(**changes: object) -> TigerConfig:
    base: dict[str, object] = {
        "sid.levels": 2,
        "sid.codebook_size": 8,
        "sid.max_collisions": 16,
        "sid.kmeans_iters": 10,
        "encoder.model": "/nonexistent/encoder",  # the encoder must never be loaded for a text-free log
        "collab_dim": 8,
        "dim": 32,
        "layers": 1,
        "max_length": 10,
        "dropout": 0.1,
        "lr": 3e-3,
        "batch_size": 64,
        "epochs": 15,
        "patience": 100,
        "threads": 1,
        "progress": False,
        "beam_width": 20,
    }
    base.update(changes)
    return apply_overrides(TigerConfig(), base)


@pytest.mark.parametrize("collab", ["none", "cooc"])
def test_tiger_runs_on_a_log_without_text(collab: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    split = leave_one_out(chain_log())
    model = Tiger(small_tiger(collab=collab)).fit(split.train, ranking_validator(split.valid))
    assert model.fit_info["item_text"] is False
    assert model.text_emb.shape == (split.train.n_items, 0)
    # the IDs come from the log: neighbours on the chain share their first code more often than chance
    codes = model.codes[:, 0]
    ids = np.array([int(str(x)[1:]) for x in split.train.items["item_id"]])
    by_pos = codes[np.argsort(ids)]
    neighbour_share = (by_pos == np.roll(by_pos, 1)).mean()
    chance = ((np.bincount(codes) / len(codes)) ** 2).sum()
    assert neighbour_share > 2 * chance, (neighbour_share, chance)
    cfg = EvalConfig(ks=(10,))
    pop = evaluate(create_model("popularity").fit(split.train), split.test, split.train, cfg, progress=False)
    res = evaluate(model, split.test, split.train, cfg, beyond_accuracy=False, progress=False)
    assert res.metrics["Recall@10"] > 0.9 and res.metrics["NDCG@10"] > 3 * pop.metrics["NDCG@10"]
    again = Recommender.load(model.save(tmp_path / "m"))
    hist = split.test.histories[:50]
    np.testing.assert_array_equal(model.recommend(hist, k=10).items, again.recommend(hist, k=10).items)
    with pytest.raises(ValueError, match="without item text"):
        model.add_items(split.train.items.iloc[:1].assign(item_id="new"))
