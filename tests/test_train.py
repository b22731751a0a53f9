"""genrec.train.Trainer on a small real network: early stopping, patience, lr on plateau, budget, resume, refit."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402

from genrec.config import EarlyStoppingConfig, TrainConfig  # noqa: E402
from genrec.train import RESUME_FILE, Step, Trainer, TrainLoop, refit_overrides  # noqa: E402


class Regression(TrainLoop):
    """y = X w + noise, fit by a dropout MLP: batches shuffle with ``rng``, steps draw dropout masks."""

    name = "regression"

    def __init__(self, seed: int = 0, hidden: int = 16, crash_at_step: int = 0, step_seconds: float = 0.0) -> None:
        torch.manual_seed(seed)
        self.rng = np.random.default_rng(seed)
        data = np.random.default_rng(123)
        self.x = torch.from_numpy(data.standard_normal((96, 5)).astype(np.float32))
        self.y = self.x @ torch.arange(1.0, 6.0) + 0.1 * torch.from_numpy(data.standard_normal(96).astype(np.float32))
        self.net = nn.Sequential(nn.Linear(5, hidden), nn.Dropout(0.2), nn.ReLU(), nn.Linear(hidden, 1))
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=1e-2)
        self.hidden, self.crash_at_step, self.step_seconds = hidden, crash_at_step, step_seconds
        self.steps = 0
        self.weights: dict[int, dict[str, Any]] = {}  # weights after each epoch

    def batches(self, epoch: int) -> Sequence[Any]:
        order = self.rng.permutation(len(self.x))
        return [order[i : i + 16] for i in range(0, len(order), 16)]

    def step(self, batch: Any) -> Step:
        self.steps += 1
        if self.crash_at_step and self.steps == self.crash_at_step:
            raise KeyboardInterrupt("simulated crash")
        if self.step_seconds:
            time.sleep(self.step_seconds)
        index = torch.from_numpy(batch)
        loss = ((self.net(self.x[index])[:, 0] - self.y[index]) ** 2).mean()
        return Step(loss, float(loss.detach()) * len(batch), len(batch))

    def end_epoch(self, epoch: int, entry: dict[str, Any]) -> None:
        self.weights[epoch] = {k: v.clone() for k, v in self.net.state_dict().items()}

    def arch(self) -> dict[str, Any]:
        return {"hidden": self.hidden}


class Scripted:
    """A validator that returns the scores it is given, one per call, and records the calls."""

    name = "score"

    def __init__(self, scores: Sequence[float], cases: int = 100) -> None:
        self.scores, self.cases, self.calls = list(scores), cases, 0

    def __call__(self, model: Any) -> float:
        self.calls += 1
        return self.scores[min(self.calls, len(self.scores)) - 1]

    def __len__(self) -> int:
        return self.cases

    def subset(self, n: int, seed: int) -> Scripted:
        return Scripted(self.scores, n)


def untimed(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in h.items() if not k.endswith("seconds")} for h in history]


def same_weights(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_early_stopping_keeps_the_best_epoch_and_stops_after_patience() -> None:
    loop = Regression()
    valid = Scripted([0.1, 0.3, 0.2, 0.25, 0.2, 0.9])
    result = Trainer(EarlyStoppingConfig(epochs=20, patience=3)).fit(loop, valid)
    assert (result.epoch, result.best_epoch, result.best_score, result.stop_reason) == (5, 2, 0.3, "patience")
    assert valid.calls == 5 and [h["valid_score"] for h in result.history] == [0.1, 0.3, 0.2, 0.25, 0.2]
    assert same_weights(loop.net.state_dict(), loop.weights[2])  # the best epoch's weights, not the last
    info = result.info()
    assert info["best_valid_score"] == 0.3 and info["epochs"] == 5 and info["stop_reason"] == "patience"
    assert not loop.net.training


def test_ties_do_not_count_as_progress_and_lr_decays_on_plateau() -> None:
    loop = Regression()
    config = EarlyStoppingConfig(epochs=6, patience=10, lr_decay_patience=2, lr_decay_factor=0.5)
    result = Trainer(config).fit(loop, Scripted([0.5, 0.5, 0.5, 0.5, 0.6, 0.6]))
    assert result.best_epoch == 5 and result.stop_reason == "epochs"
    # bad evaluations at epochs 2, 3, 4 (ties), 6: lr halves after the 2nd and the 4th
    assert [h["lr"] for h in result.history] == [1e-2, 1e-2, 5e-3, 5e-3, 5e-3, 5e-3]


def test_eval_every_evaluates_every_nth_and_the_last_epoch() -> None:
    valid = Scripted([0.1, 0.2, 0.3])
    result = Trainer(EarlyStoppingConfig(epochs=5, eval_every=2)).fit(Regression(), valid)
    assert [h["epoch"] for h in result.history if "valid_score" in h] == [2, 4, 5] and valid.calls == 3


def test_valid_users_draws_a_subset() -> None:
    valid = Scripted([0.1], cases=1000)
    result = Trainer(EarlyStoppingConfig(epochs=1, valid_users=50)).fit(Regression(), valid)
    assert result.valid_cases == 50


def test_time_budget_stops_and_the_last_epoch_still_counts_and_is_validated() -> None:
    loop = Regression(step_seconds=0.02)  # 6 steps per epoch: ~0.12 s an epoch
    valid = Scripted([0.1, 0.2, 0.3, 0.4])
    result = Trainer(EarlyStoppingConfig(epochs=100, time_budget_seconds=0.3)).fit(loop, valid)
    assert result.stop_reason == "time_budget" and 1 <= result.epoch < 100
    assert len(result.history) == result.epoch and "valid_score" in result.history[-1]
    assert valid.calls == result.epoch  # the epoch the budget interrupted counts and was validated too


def test_without_validation_every_epoch_runs() -> None:
    result = Trainer(TrainConfig(epochs=3)).fit(Regression())
    assert result.epoch == 3 and result.best_epoch == 0 and result.info()["best_valid_ndcg10"] is None
    assert result.history[-1]["loss"] < result.history[0]["loss"]
    with pytest.raises(ValueError, match="needs early-stopping settings"):
        Trainer(TrainConfig(epochs=3)).fit(Regression(), Scripted([0.1]))


def test_resume_after_a_crash_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    scores = [0.1, 0.2, 0.15, 0.3, 0.25, 0.28]
    config = EarlyStoppingConfig(epochs=6, patience=5, lr_decay_patience=1)
    straight = Regression()
    whole = Trainer(config).fit(straight, Scripted(scores))

    resumable = config.replace(checkpoint_dir=str(tmp_path / "ckpt"))
    with pytest.raises(KeyboardInterrupt):
        Trainer(resumable).fit(Regression(crash_at_step=6 * 3 + 2), Scripted(scores))  # dies in epoch 4
    assert (tmp_path / "ckpt" / RESUME_FILE).exists()
    again = Regression()  # a fresh process: new network, same seed
    rest = Scripted(scores)
    rest.calls = 3  # the validator is deterministic in the epoch: resume after the 3 epochs it scored
    resumed = Trainer(resumable).fit(again, rest)
    assert untimed(resumed.history) == untimed(whole.history)
    assert (resumed.epoch, resumed.best_epoch, resumed.stop_reason) == (whole.epoch, whole.best_epoch, "epochs")
    assert same_weights(again.net.state_dict(), straight.net.state_dict())
    assert again.optimizer.param_groups[0]["lr"] == straight.optimizer.param_groups[0]["lr"]


def test_a_finished_run_goes_on_only_when_allowed(tmp_path: Path) -> None:
    config = TrainConfig(epochs=2, checkpoint_dir=str(tmp_path / "ckpt"))
    Trainer(config).fit(Regression())
    more = Trainer(config.replace(epochs=4)).fit(Regression())
    straight = Trainer(TrainConfig(epochs=4)).fit(Regression())
    assert [h["epoch"] for h in more.history] == [1, 2, 3, 4]
    assert untimed(more.history) == untimed(straight.history)
    again = Trainer(config.replace(epochs=4)).fit(Regression())  # already done: nothing to train
    assert again.epoch == 4 and untimed(again.history) == untimed(more.history)


def test_a_checkpoint_of_another_network_is_a_clear_error(tmp_path: Path) -> None:
    config = TrainConfig(epochs=1, checkpoint_dir=str(tmp_path / "ckpt"))
    Trainer(config).fit(Regression(hidden=16))
    with pytest.raises(
        ValueError, match=r"written for another model \(differs in hidden\); use another checkpoint_dir"
    ):
        Trainer(config.replace(epochs=2)).fit(Regression(hidden=8))
    payload = torch.load(tmp_path / "ckpt" / RESUME_FILE, weights_only=True)
    payload["version"] = 1
    torch.save(payload, tmp_path / "ckpt" / RESUME_FILE)
    with pytest.raises(ValueError, match="written by an older genrec"):
        Trainer(config.replace(epochs=2)).fit(Regression(hidden=16))


def test_refit_overrides_use_the_chosen_epoch_count() -> None:
    config = EarlyStoppingConfig(epochs=200, time_budget_seconds=60.0)
    assert refit_overrides(config, 37) == {"epochs": 37, "time_budget_seconds": 0.0}
    assert refit_overrides(config, 0)["epochs"] == 200  # nothing chosen: the configured count
    moved = refit_overrides(config.replace(checkpoint_dir="runs/ckpt"), 5)
    assert moved["checkpoint_dir"] == str(Path("runs/ckpt") / "refit")  # never resumes the selection run
