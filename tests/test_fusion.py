"""Fused re-scoring of tiger and SASRec: the fused score by hand, then end to end on small models."""

from __future__ import annotations

import numpy as np
import pytest

from genrec.config import EvalConfig, FusionConfig, SyntheticConfig
from genrec.data.split import leave_one_out
from genrec.data.synthetic import generate
from genrec.eval import metrics as M
from genrec.eval.evaluator import evaluate
from genrec.eval.validation import ranking_validator
from genrec.models.base import Recommender
from genrec.models.fusion import Candidates, Fusion, _row_union, fused_scores, ranked, simplex
from genrec.models.registry import create_model

INF = np.inf
# one user, candidates 5, 7, 9 and a pad
CAND = Candidates(
    items=np.array([[5, 7, 9, -1]]),
    scores=np.array([[[-1.0, -3.0, -2.0, -INF]], [[-4.0, -1.0, -2.0, -INF]]], dtype=np.float32),
)


def test_logprob_fusion_by_hand() -> None:
    f = fused_scores(CAND, "logprob", (0.5, 0.5), 10.0)
    np.testing.assert_allclose(f, [[-2.5, -2.0, -2.0, -INF]])
    assert ranked(CAND, "logprob", (0.5, 0.5), 10.0, 5).tolist() == [[7, 9, 5, -1, -1]]  # tie: earlier first
    assert ranked(CAND, "logprob", (1.0, 0.0), 10.0, 3).tolist() == [[5, 9, 7]]  # the generative model alone
    assert ranked(CAND, "logprob", (0.0, 1.0), 10.0, 3).tolist() == [[7, 9, 5]]  # the scorer alone


def test_rank_fusion_by_hand() -> None:
    # ranks by the generative model: 5 -> 1, 9 -> 2, 7 -> 3; by the scorer: 7 -> 1, 9 -> 2, 5 -> 3
    f = fused_scores(CAND, "rank", (0.75, 0.25), 10.0)
    np.testing.assert_allclose(f[0, :3], [0.75 / 11 + 0.25 / 13, 0.75 / 13 + 0.25 / 11, 1 / 12], rtol=1e-6)
    assert f[0, 3] == -INF
    assert ranked(CAND, "rank", (0.75, 0.25), 10.0, 3).tolist() == [[5, 9, 7]]
    assert ranked(CAND, "rank", (0.25, 0.75), 10.0, 3).tolist() == [[7, 9, 5]]


def test_three_models_by_hand() -> None:
    third = np.array([[[-2.0, -2.0, -0.5, -INF]]], dtype=np.float32)
    cand = Candidates(CAND.items, np.concatenate([CAND.scores, third]))
    f = fused_scores(cand, "logprob", (0.5, 0.25, 0.25), 10.0)
    np.testing.assert_allclose(f[0, :3], [-0.5 - 1.0 - 0.5, -1.5 - 0.25 - 0.5, -1.0 - 0.5 - 0.125])
    assert ranked(cand, "logprob", (0.5, 0.25, 0.25), 10.0, 3).tolist() == [[9, 5, 7]]
    with pytest.raises(ValueError, match="2 weights for 3 models"):
        fused_scores(cand, "logprob", (0.5, 0.5), 10.0)


def test_simplex_grid() -> None:
    assert simplex(2, 0.5) == [(0.0, 1.0), (0.5, 0.5), (1.0, 0.0)]
    grid = simplex(3, 0.25)
    assert len(grid) == 15 and all(abs(sum(w) - 1) < 1e-9 for w in grid) and len(set(grid)) == 15
    with pytest.raises(ValueError, match="grid_step"):
        simplex(2, 0.3)


def test_row_union_keeps_first_occurrences_in_order() -> None:
    got = _row_union(np.array([[3, 1, 3, -1, 2, 1], [-1, -1, 4, 4, 0, 5]]))
    assert got.tolist() == [[3, 1, 2, -1, -1, -1], [4, 0, 5, -1, -1, -1]]


# ---- end to end on small trained models ---------------------------------------------------
torch = pytest.importorskip("torch")
pytest.importorskip("faiss")


@pytest.fixture(scope="module")
def setup():  # type: ignore[no-untyped-def]
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    split = leave_one_out(generate(SyntheticConfig(n_users=600, n_items=200, seed=5)))
    tiger = create_model(
        "tiger",
        {
            "encoder.fields": (),  # collaborative IDs: no text encoder needed
            "sid.levels": 2,
            "sid.codebook_size": 16,
            "sid.max_collisions": 32,
            "collab_dim": 16,
            "dim": 32,
            "layers": 1,
            "max_length": 20,
            "epochs": 8,
            "patience": 100,
            "threads": 1,
            "progress": False,
            "beam_width": 20,
        },
    ).fit(split.train, ranking_validator(split.valid))
    sasrec = create_model(
        "sasrec", {"dim": 32, "layers": 1, "max_length": 20, "epochs": 8, "threads": 1, "progress": False}
    ).fit(split.train, ranking_validator(split.valid))
    yield split, tiger, sasrec
    torch.set_num_threads(before)


def test_item_log_probs_are_the_exact_scores(setup) -> None:  # type: ignore[no-untyped-def]
    split, tiger, _ = setup
    hist = split.test.histories[:30]
    rng = np.random.default_rng(0)
    items = rng.integers(-1, tiger.n_items, size=(30, 12))
    got = tiger.item_log_probs(hist, items)
    exact = tiger.score(hist)
    want = np.where(items >= 0, np.take_along_axis(exact, np.maximum(items, 0), axis=1), -np.inf)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_candidates_carry_both_models_scores(setup) -> None:  # type: ignore[no-untyped-def]
    split, tiger, sasrec = setup
    hist = split.test.histories[:40]
    fused = Fusion.over(tiger, sasrec, config=FusionConfig(generative_k=10, scorer_k=15))
    fused.n_items, fused.item_ids = tiger.n_items, tiger.item_ids
    cand = fused.candidates(hist)
    valid = cand.items >= 0
    assert (valid.sum(1) >= 15).all() and (valid.sum(1) <= 25).all()
    gen = tiger.recommend(hist, k=10).items
    top = sasrec.recommend(hist, k=15).items
    for row, g, s in zip(cand.items, gen, top):
        assert set(row[row >= 0]) == set(g) | set(s)
    exact = tiger.score(hist)
    logits = sasrec.score(hist).astype(np.float64)
    log_softmax = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    idx = np.maximum(cand.items, 0)
    np.testing.assert_allclose(cand.scores[0][valid], np.take_along_axis(exact, idx, 1)[valid], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(cand.scores[1][valid], np.take_along_axis(log_softmax, idx, 1)[valid], rtol=1e-5)


def test_weight_zero_is_sasrec_and_weight_one_is_exact_tiger(setup) -> None:  # type: ignore[no-untyped-def]
    split, tiger, sasrec = setup
    hist = split.test.histories[:60]
    cfg = FusionConfig(generative_k=20, scorer_k=20, learn=False)
    only_scorer = Fusion.over(tiger, sasrec, config=cfg.replace(mix=(0.0, 1.0))).fit(split.train)
    np.testing.assert_array_equal(only_scorer.recommend(hist, k=10).items, sasrec.recommend(hist, k=10).items)
    only_gen = Fusion.over(tiger, sasrec, config=cfg.replace(mix=(1.0, 0.0))).fit(split.train)
    cand = only_gen.candidates(hist)
    exact = tiger.score(hist)
    for row, items in zip(exact, only_gen.recommend(hist, k=10).items):
        assert np.all(np.diff(row[items]) <= 1e-5)  # best first by tiger's exact log-probability
    assert set(only_gen.recommend(hist, k=10).items.ravel()) <= set(cand.items.ravel())


def test_fit_learns_the_best_validation_weight_and_evaluates(setup, tmp_path) -> None:  # type: ignore[no-untyped-def]
    split, tiger, sasrec = setup
    cfg = FusionConfig(generative_k=20, scorer_k=20, grid_step=0.25)
    fused = Fusion.over(tiger, sasrec, config=cfg).fit(split.train, ranking_validator(split.valid))
    grid = fused.fit_info["grid"]
    assert len(grid) == 10  # 2 methods x 5 mixes
    best = max(grid, key=lambda g: g["NDCG@10"])
    assert (fused.config.method, list(fused.config.mix)) == (best["method"], best["mix"])
    # the chosen setting's validation NDCG@10, recomputed by the evaluator, is the grid's best
    res = evaluate(fused, split.valid, split.train, EvalConfig(ks=(10,)), beyond_accuracy=False, progress=False)
    assert res.metrics["NDCG@10"] == pytest.approx(best["NDCG@10"])
    # a target outside the union is a miss: recall cannot exceed the share of targets in the union
    assert res.metrics["Recall@10"] <= fused.fit_info["valid_target_in_union"] + 1e-12
    # never worse on validation than either model alone within the grid (w = 0 and w = 1 are in it)
    alone = [g["NDCG@10"] for g in grid if g["method"] == "logprob" and 1.0 in g["mix"]]
    assert best["NDCG@10"] >= max(alone)
    # save / load: the components travel inside; the lists are identical
    hist = split.test.histories[:50]
    again = Recommender.load(fused.save(tmp_path / "fused"))
    np.testing.assert_array_equal(fused.recommend(hist, k=10).items, again.recommend(hist, k=10).items)
    # with_components keeps method and mix
    copy = fused.with_components(tiger, sasrec)
    assert (copy.config.method, copy.config.mix) == (fused.config.method, fused.config.mix)
    np.testing.assert_array_equal(copy.recommend(hist, k=10).items, fused.recommend(hist, k=10).items)


def test_exclusion_and_full_scores(setup) -> None:  # type: ignore[no-untyped-def]
    split, tiger, sasrec = setup
    hist = split.test.histories[:40]
    fused = Fusion.over(tiger, sasrec, config=FusionConfig(learn=False)).fit(split.train)
    recs = fused.recommend(hist, k=10, exclude="history")
    for h, row in zip(hist, recs.items):
        assert not set(h) & set(row) and (row >= 0).all()
    scores = fused.score(hist)
    finite = np.isfinite(scores).sum(1)
    assert (finite >= 10).all() and (finite <= fused.config.generative_k + fused.config.scorer_k).all()
    top = np.argsort(-scores, axis=1, kind="stable")[:, :10]
    plain = fused.recommend(hist, k=10)
    assert (M.rank_in_lists(top, plain.items[:, 0], fused.n_items) == 0).all()  # same best item


def test_bad_configs_are_named(setup) -> None:  # type: ignore[no-untyped-def]
    split, tiger, sasrec = setup
    with pytest.raises(ValueError, match="methods"):
        FusionConfig(methods=("mean",))
    with pytest.raises(ValueError, match="scorer_k"):
        FusionConfig(scorer_k=0)
    with pytest.raises(ValueError, match="summing to 1"):
        FusionConfig(mix=(0.2, 0.3))
    with pytest.raises(ValueError, match="grid_step must divide 1"):
        FusionConfig(grid_step=0.3)
    with pytest.raises(ValueError, match="3 weights for 2 models"):
        Fusion.over(tiger, sasrec, config=FusionConfig(mix=(0.2, 0.3, 0.5), learn=False)).fit(split.train)
    with pytest.raises(ValueError, match="neither a saved-model directory nor a model name"):
        Fusion(FusionConfig(generative="/no/such/dir")).fit(split.train)
    with pytest.raises(TypeError, match="validator"):  # plain cases are refused by Recommender.fit
        Fusion.over(tiger, sasrec).fit(split.train, split.valid)  # type: ignore[arg-type]


def test_three_components_learn_save_and_load(setup, tmp_path) -> None:  # type: ignore[no-untyped-def]
    split, tiger, sasrec = setup
    graph = create_model("transition").fit(split.train)
    cfg = FusionConfig(generative_k=15, scorer_k=15, grid_step=0.5)
    fused = Fusion.over(tiger, sasrec, graph, config=cfg).fit(split.train, ranking_validator(split.valid))
    grid = fused.fit_info["grid"]
    assert len(grid) == 12 and fused.fit_info["models"] == ["tiger", "sasrec", "transition"]
    best = max(grid, key=lambda g: g["NDCG@10"])
    assert list(fused.config.mix) == best["mix"] and len(fused.config.mix) == 3
    hist = split.test.histories[:40]
    cand = fused.candidates(hist)
    assert cand.scores.shape[0] == 3
    top_graph = graph.recommend(hist, k=15).items
    for row, g in zip(cand.items, top_graph):
        assert set(g) <= set(row)  # the union holds every scorer's list
    again = Recommender.load(fused.save(tmp_path / "three"))
    assert [m.name for m in again.components] == ["tiger", "sasrec", "transition"]  # type: ignore[attr-defined]
    np.testing.assert_array_equal(fused.recommend(hist, k=10).items, again.recommend(hist, k=10).items)
