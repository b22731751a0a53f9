"""genrec.protocol.fit_protocol: selection on validation, refit on train + validation for the chosen epochs, one test."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from genrec.config import ConfigError, EvalConfig  # noqa: E402
from genrec.data.dataset import Dataset  # noqa: E402
from genrec.data.split import leave_one_out  # noqa: E402
from genrec.eval.evaluator import evaluate  # noqa: E402
from genrec.eval.validation import ranking_validator  # noqa: E402
from genrec.models.registry import create_model  # noqa: E402
from genrec.protocol import fit_protocol  # noqa: E402

SASREC = {"dim": 16, "layers": 1, "max_length": 8, "batch_size": 64, "epochs": 25, "patience": 2, "lr": 0.02}
SASREC |= {"threads": 1, "progress": False, "dropout": 0.3}


@pytest.fixture(scope="module", autouse=True)
def restore_threads():  # type: ignore[no-untyped-def]
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def split():  # type: ignore[no-untyped-def]
    """Users walk a cycle of 30 items, with a random skip now and then."""
    rng = np.random.default_rng(0)
    seqs = {}
    for u in range(250):
        item, seq = int(rng.integers(30)), []
        for _ in range(int(rng.integers(5, 14))):
            seq.append(f"i{item}")
            item = (item + (1 if rng.random() < 0.8 else int(rng.integers(2, 5)))) % 30
        seqs[f"u{u}"] = seq
    return leave_one_out(Dataset.from_sequences("walk", seqs))


def test_sasrec_is_refit_for_the_epochs_early_stopping_chose(split) -> None:  # type: ignore[no-untyped-def]
    result = fit_protocol("sasrec", split, SASREC, progress=False, test_before_refit=True)
    chosen = result.selection_fit_info["best_epoch"]
    assert 1 <= chosen < result.selection_fit_info["epochs"] <= SASREC["epochs"]  # stopped early
    assert result.refit is not None and result.refit["epochs"] == chosen and result.refit["data"] == "train+valid"
    final = result.model
    assert final.config.epochs == chosen and final.fit_info["epochs"] == chosen
    assert final.fit_info["best_epoch"] == 0 and "valid_ndcg10" not in final.fit_info["history"][-1]
    assert result.test is not None and result.test_before_refit is not None
    assert result.valid_metrics["NDCG@10"] == pytest.approx(result.selection_fit_info["best_valid_ndcg10"])

    # the same steps by hand give the same numbers
    selected = create_model("sasrec", SASREC).fit(split.train, ranking_validator(split.valid))
    assert selected.fit_info["best_epoch"] == chosen
    refit = create_model("sasrec", {**SASREC, "epochs": chosen}).fit(split.train_valid)
    by_hand = evaluate(refit, split.test, split.train_valid, EvalConfig(), progress=False)
    assert by_hand.metrics == result.test.metrics


def test_a_grid_is_chosen_on_validation_and_models_without_epochs_are_not_refit(split) -> None:  # type: ignore[no-untyped-def]
    grid = {"neighbors": [2, 20], "recency_decay": [1.0, 0.5]}
    result = fit_protocol("itemknn", split, {"shrink": 0.0}, grid, progress=False)
    assert len(result.trials) == 4 and result.refit is None
    best = max(result.trials, key=lambda t: t["valid_NDCG@10"])
    assert result.chosen == best["overrides"] and result.chosen["shrink"] == 0.0
    assert result.model.config.neighbors == result.chosen["neighbors"]
    # tested as fit on the training split: the same as fitting and testing it by hand
    by_hand = create_model("itemknn", result.chosen).fit(split.train)
    assert evaluate(by_hand, split.test, split.train, EvalConfig(), progress=False).metrics == result.test.metrics  # type: ignore[union-attr]


def test_overrides_win_over_the_grid_and_the_refit_over_both(split) -> None:  # type: ignore[no-untyped-def]
    result = fit_protocol("sasrec", split, SASREC, {"dim": [8]}, ["dim=12", "epochs=3"], progress=False, test=False)
    assert result.selection_fit_info["epochs"] <= 3 and result.model.config.dim == 12
    assert result.test is None and result.model.config.epochs == result.selection_fit_info["best_epoch"]


def test_bad_settings_fail_before_any_training(split) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match=r"neighbors: Input should be greater than or equal to 1 \(got 0\)"):
        fit_protocol("itemknn", split, {}, {"neighbors": [10, 0]}, progress=False)


def test_validation_follows_the_tests_protocol_when_history_is_excluded(split) -> None:  # type: ignore[no-untyped-def]
    excluded = EvalConfig(ks=(5, 10, 20), exclude_history=True)
    popularity = create_model("popularity").fit(split.train)
    by_evaluate = evaluate(popularity, split.valid, split.train, excluded, beyond_accuracy=False, progress=False)
    assert ranking_validator(split.valid, exclude_history=True)(popularity) == pytest.approx(
        by_evaluate.metrics["NDCG@10"]
    )
    # early stopping scores epochs under the protocol the result reports
    result = fit_protocol("sasrec", split, SASREC, eval_config=excluded, progress=False, test=False, refit=False)
    assert result.valid_metrics["NDCG@10"] == pytest.approx(result.selection_fit_info["best_valid_ndcg10"])
    assert ranking_validator(split.valid)(result.model) != pytest.approx(result.valid_metrics["NDCG@10"])
