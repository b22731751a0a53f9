"""SASRec on a tiny synthetic dataset where item i is always followed by item i + 1 (mod n)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from genrec.config import EvalConfig, SASRecConfig  # noqa: E402
from genrec.data.dataset import Dataset  # noqa: E402
from genrec.data.split import leave_one_out  # noqa: E402
from genrec.eval.evaluator import evaluate  # noqa: E402
from genrec.eval.validation import ranking_validator  # noqa: E402
from genrec.models.base import Recommender  # noqa: E402
from genrec.models.popularity import Popularity  # noqa: E402
from genrec.models.registry import create_model  # noqa: E402
from genrec.models.sasrec import SASRec  # noqa: E402

N_ITEMS = 40


def cyclic_dataset(n_users: int = 300, seed: int = 0) -> Dataset:
    """Users walk the item cycle 0 -> 1 -> ... -> N_ITEMS-1 -> 0 from a random start."""
    rng = np.random.default_rng(seed)
    seqs = {}
    for u in range(n_users):
        start, length = rng.integers(N_ITEMS), rng.integers(5, 16)
        seqs[f"u{u}"] = [f"i{(start + t) % N_ITEMS}" for t in range(length)]
    return Dataset.from_sequences("cyclic", seqs)


def small_config(**changes: object) -> SASRecConfig:
    """A tiny, fast configuration."""
    base = dict(
        dim=32,
        layers=1,
        heads=2,
        max_length=8,
        dropout=0.1,
        lr=5e-3,
        batch_size=64,
        epochs=15,
        patience=100,
        threads=1,
        progress=False,
    )
    base.update(changes)
    return SASRecConfig(**base)  # type: ignore[arg-type]


@pytest.fixture(scope="module", autouse=True)
def restore_threads():  # type: ignore[no-untyped-def]
    """The model sets torch's global thread count; put it back for other test modules."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def split():  # type: ignore[no-untyped-def]
    return leave_one_out(cyclic_dataset())


@pytest.fixture(scope="module")
def trained(split):  # type: ignore[no-untyped-def]
    return SASRec(small_config()).fit(split.train, ranking_validator(split.valid))


def ndcg10(model: Recommender, split) -> float:  # type: ignore[no-untyped-def]
    res = evaluate(model, split.test, split.train, EvalConfig(ks=(10,)), beyond_accuracy=False, progress=False)
    return res.metrics["NDCG@10"]


def test_learns_sequential_pattern_far_better_than_popularity(trained, split) -> None:  # type: ignore[no-untyped-def]
    pop = ndcg10(Popularity().fit(split.train), split)
    sas = ndcg10(trained, split)
    assert sas > 0.9
    assert sas > pop + 0.6
    info = trained.fit_info
    assert info["epochs"] == 15 and 1 <= info["best_epoch"] <= 15
    assert info["best_valid_ndcg10"] > 0.9
    assert info["seconds_per_epoch"] > 0 and info["train_seconds"] > 0


def test_registered_and_fast_valid_metric_matches_evaluator(trained, split) -> None:  # type: ignore[no-untyped-def]
    assert isinstance(create_model("sasrec", ["dim=16"]), SASRec)
    res = evaluate(trained, split.valid, split.train, EvalConfig(), beyond_accuracy=False, progress=False)
    validator = ranking_validator(split.valid)
    assert validator is not None and validator(trained) == res.metrics["NDCG@10"]


def test_bce_loss_trains(split) -> None:  # type: ignore[no-untyped-def]
    pop = ndcg10(Popularity().fit(split.train), split)
    model = SASRec(small_config(loss="bce", epochs=20, lr=1e-2)).fit(split.train, ranking_validator(split.valid))
    assert ndcg10(model, split) > pop + 0.4


def test_save_load_round_trip(trained, split, tmp_path) -> None:  # type: ignore[no-untyped-def]
    trained.save(tmp_path / "m")
    loaded = Recommender.load(tmp_path / "m")
    assert isinstance(loaded, SASRec)
    hist = split.test.histories[:50]
    np.testing.assert_array_equal(loaded.score(hist), trained.score(hist))
    assert loaded.score(hist).dtype == np.float32 and loaded.score(hist).shape == (50, N_ITEMS)


def test_exclude_history_never_recommends_history_items(trained, split) -> None:  # type: ignore[no-untyped-def]
    hist = split.test.histories
    recs = trained.recommend(hist, k=10, exclude="history")
    for h, items in zip(hist, recs.items):
        assert not set(h.tolist()) & set(items.tolist())


def test_padding_invariance(trained) -> None:  # type: ignore[no-untyped-def]
    short = np.array([3, 4, 5])
    longer = [np.arange(10, 20) % N_ITEMS, np.arange(0, 30) % N_ITEMS, np.array([7])]
    alone = trained.score([short])
    batched = trained.score([longer[0], short, longer[1], longer[2]])
    np.testing.assert_allclose(batched[1:2], alone, rtol=1e-5, atol=1e-5)
    # Only the last max_length items count.
    np.testing.assert_allclose(
        trained.score([np.arange(0, 30) % N_ITEMS]), trained.score([np.arange(22, 30)]), rtol=1e-5, atol=1e-5
    )
    assert np.isfinite(trained.score([np.array([], dtype=np.int64)])).all()


def test_deterministic_and_resume_continues_from_saved_epoch(split, tmp_path) -> None:  # type: ignore[no-untyped-def]
    cfg = dict(epochs=4, crop="random", max_length=6)
    straight = SASRec(small_config(**cfg)).fit(split.train, ranking_validator(split.valid))
    again = SASRec(small_config(**cfg)).fit(split.train, ranking_validator(split.valid))
    hist = split.test.histories[:40]
    np.testing.assert_array_equal(straight.score(hist), again.score(hist))

    ckpt = str(tmp_path / "ckpt")
    first = SASRec(small_config(**{**cfg, "epochs": 2}, checkpoint_dir=ckpt)).fit(
        split.train, ranking_validator(split.valid)
    )
    assert first.fit_info["epochs"] == 2
    assert (tmp_path / "ckpt" / "best" / "meta.json").exists()
    resumed = SASRec(small_config(**cfg, checkpoint_dir=ckpt)).fit(split.train, ranking_validator(split.valid))
    assert resumed.fit_info["epochs"] == 4
    assert [h["epoch"] for h in resumed.fit_info["history"]] == [1, 2, 3, 4]
    assert untimed(resumed.fit_info["history"][:2]) == untimed(first.fit_info["history"])
    assert untimed(resumed.fit_info["history"]) == untimed(straight.fit_info["history"])
    np.testing.assert_array_equal(resumed.score(hist), straight.score(hist))
    best = Recommender.load(tmp_path / "ckpt" / "best")
    np.testing.assert_array_equal(best.score(hist), resumed.score(hist))


def untimed(history: list[dict[str, float]]) -> list[dict[str, float]]:
    """History entries without their wall times."""
    return [{k: v for k, v in h.items() if not k.endswith("seconds")} for h in history]


def test_early_stopping_and_time_budget(split) -> None:  # type: ignore[no-untyped-def]
    stalled = SASRec(small_config(lr=0.0, epochs=50, patience=2)).fit(split.train, ranking_validator(split.valid))
    assert stalled.fit_info["stop_reason"] == "patience"
    assert stalled.fit_info["epochs"] == 3 and stalled.fit_info["best_epoch"] == 1
    quick = SASRec(small_config(epochs=1000, time_budget_seconds=0.5)).fit(split.train, ranking_validator(split.valid))
    assert quick.fit_info["stop_reason"] == "time_budget"
    assert quick.fit_info["epochs"] < 1000 and quick.fit_info["best_valid_ndcg10"] is not None
