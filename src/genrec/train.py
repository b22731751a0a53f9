"""The one training loop of genrec: epochs, early stopping, lr on plateau, time budget, progress, checkpoints.

A model hands the ``Trainer`` a ``TrainLoop``: its network, optimiser, random generator, the
batches of an epoch and the step on one batch. The trainer runs the epochs; it owns everything
else:

- **early stopping** on a ``Validator`` (a callable that scores the model, e.g. NDCG@10 on the
  validation split; ``genrec.eval.validation`` builds them, so models never import ``genrec.eval``):
  evaluated every ``eval_every`` epochs and after the last; training stops after ``patience``
  evaluations without a strictly better score, and the best weights are restored;
- **reduce on plateau**: every ``lr_decay_patience`` evaluations without gain, lr *= ``lr_decay_factor``;
- a **time budget** (checked after every batch; the epoch it interrupts still counts and is evaluated);
- **checkpoints** in ``checkpoint_dir``: ``resume.pt`` (network, best weights, optimiser, scheduler,
  torch and numpy random states, progress), written atomically after every evaluation (every
  epoch without validation) and when training stops, and ``best/`` (the model, via the loop's
  ``save_best``). A run started with a ``resume.pt`` present continues from it; the result equals
  an uninterrupted run. A checkpoint of another architecture is a clear error;
- **divergence**: a loss that becomes infinite or NaN stops training with ``TrainingDiverged``;
- the **refit** settings (``refit_overrides``): the same configuration trained for the chosen
  epoch count, without a budget, on training + validation data.

Each epoch the trainer calls ``loop.batches(epoch)`` and, per batch, ``loop.step(batch)`` then
zero_grad, backward of ``Step.objective``, gradient clipping (``grad_clip``), the optimiser step and
the loop's per-step scheduler, in that order, so random numbers are drawn as the models drew them
before the trainer existed.
"""

from __future__ import annotations

import copy
import logging
import math
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from genrec.config import EarlyStoppingConfig, TrainConfig

logger = logging.getLogger(__name__)

RESUME_FILE = "resume.pt"
BEST_DIR = "best"
CHECKPOINT_VERSION = 2


class Validator(Protocol):
    """Scores a model on held-out cases (higher is better); ``name`` keys the history (``valid_<name>``)."""

    @property
    def name(self) -> str:
        """Short metric name, e.g. ``ndcg10``."""
        ...

    def __call__(self, model: Any) -> float:
        """The metric of ``model`` on the cases."""
        ...

    def __len__(self) -> int:
        """Number of cases."""
        ...

    def subset(self, n: int, seed: int) -> Validator:
        """The same metric on ``n`` cases drawn without replacement by ``seed``."""
        ...


class TrainingDiverged(ValueError):
    """The training loss became infinite or NaN: the weights are lost, nothing should be kept."""


@dataclass
class Step:
    """What a loop's step on one batch returns."""

    objective: torch.Tensor  # minimised: backward() runs on it
    loss: float  # loss summed over ``count`` units (positions, tokens, batches) for the epoch mean
    count: float = 1.0


class TrainLoop(ABC):
    """What a model gives the Trainer: its network, optimiser, random generator, batches and step."""

    name = "model"  # in progress bars and logs
    net: nn.Module
    optimizer: torch.optim.Optimizer
    rng: np.random.Generator
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None  # stepped after every optimiser step

    @abstractmethod
    def batches(self, epoch: int) -> Sequence[Any]:
        """The batches of epoch ``epoch`` (1-based), in order; may draw from ``rng``."""

    @abstractmethod
    def step(self, batch: Any) -> Step:
        """Forward one batch: the objective to minimise and the loss to report."""

    def end_epoch(self, epoch: int, entry: dict[str, Any]) -> None:
        """Called after an epoch's last batch (before validation); may add to its history ``entry``."""
        return None

    def subject(self) -> Any:
        """What the validator scores (the model being trained)."""
        return self.net

    def save_best(self, path: Path) -> None:
        """Write the model with the best weights so far to ``path`` (checkpointing only)."""
        return None

    def arch(self) -> dict[str, Any]:
        """What must match for a checkpoint to be resumed (shape-defining settings, catalog size)."""
        return {}


@dataclass
class TrainResult:
    """How a training run went (``fit_info`` gets ``info()``)."""

    epoch: int = 0
    best_score: float = -math.inf
    best_epoch: int = 0
    bad: int = 0
    stop_reason: str = ""
    steps: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    epoch_seconds: list[float] = field(default_factory=list)
    train_seconds: float = 0.0
    valid_cases: int = 0
    metric: str = "ndcg10"
    best_weights: dict[str, Any] | None = field(default=None, repr=False)

    def info(self) -> dict[str, Any]:
        """The summary a model records: epochs, best epoch and score, stop reason, timings, history."""
        return {
            "epochs": self.epoch,
            "best_epoch": self.best_epoch,
            f"best_valid_{self.metric}": float(self.best_score) if self.best_epoch else None,
            "seconds_per_epoch": float(np.mean(self.epoch_seconds)) if self.epoch_seconds else 0.0,
            "train_seconds": self.train_seconds,
            "stop_reason": self.stop_reason or "epochs",
            "history": self.history,
        }


class Trainer:
    """Runs a ``TrainLoop`` under a ``TrainConfig`` (early stopping needs an ``EarlyStoppingConfig``)."""

    def __init__(self, config: TrainConfig, seed: int = 0, progress: bool = True) -> None:
        self.config = config
        self.seed = seed  # draws the validation subset (seed + 1), as the models always did
        self.progress = progress

    def fit(self, loop: TrainLoop, valid: Validator | None = None) -> TrainResult:
        """Train until the epochs, the patience or the budget run out; the best weights are loaded at the end."""
        cfg = self.config
        stopping = cfg if isinstance(cfg, EarlyStoppingConfig) else None
        if valid is not None and stopping is None:
            raise ValueError(f"{loop.name}: a validator needs early-stopping settings, not {type(cfg).__name__}")
        if valid is not None and stopping is not None and 0 < stopping.valid_users < len(valid):
            valid = valid.subset(stopping.valid_users, self.seed + 1)
        state = TrainResult(valid_cases=len(valid) if valid is not None else 0)
        if valid is not None:
            state.metric = valid.name
        ckpt = Path(cfg.checkpoint_dir) if cfg.checkpoint_dir else None
        if ckpt is not None and (ckpt / RESUME_FILE).exists():
            state = self._resume(ckpt / RESUME_FILE, loop, state)
            logger.info("%s: resumed from %s after epoch %d", loop.name, ckpt, state.epoch)
        start = time.perf_counter()
        stop_reason = state.stop_reason or "epochs"
        while not state.stop_reason and state.epoch < cfg.epochs:
            epoch_start = time.perf_counter()
            batches = loop.batches(state.epoch + 1)
            loop.net.train()
            loss_sum, loss_n, out_of_time = 0.0, 0.0, False
            bar = tqdm(
                batches,
                desc=f"{loop.name} epoch {state.epoch + 1}",
                unit="batch",
                leave=False,
                disable=not self.progress,
            )
            for batch in bar:
                step = loop.step(batch)
                if not math.isfinite(step.loss):
                    bar.close()
                    raise TrainingDiverged(
                        f"{loop.name}: the training loss became {step.loss} at epoch {state.epoch + 1}, "
                        f"step {state.steps + 1}: training diverged; lower lr (now {cfg.lr:g}) or set grad_clip"
                    )
                loop.optimizer.zero_grad(set_to_none=True)
                step.objective.backward()
                if cfg.grad_clip > 0:
                    torch.nn.utils.clip_grad_norm_(loop.net.parameters(), cfg.grad_clip)
                loop.optimizer.step()
                if loop.scheduler is not None:
                    loop.scheduler.step()
                state.steps += 1
                loss_sum += step.loss
                loss_n += step.count
                bar.set_postfix(loss=f"{loss_sum / max(loss_n, 1):.4f}", refresh=False)
                if cfg.time_budget_seconds and time.perf_counter() - start > cfg.time_budget_seconds:
                    out_of_time = True
                    break
            bar.close()
            state.epoch += 1
            state.epoch_seconds.append(time.perf_counter() - epoch_start)
            entry: dict[str, Any] = {"epoch": state.epoch, "loss": loss_sum / max(loss_n, 1), "steps": state.steps}
            loop.end_epoch(state.epoch, entry)
            evaluate_now = (
                valid is not None
                and stopping is not None
                and (state.epoch % stopping.eval_every == 0 or out_of_time or state.epoch >= cfg.epochs)
            )
            if evaluate_now and valid is not None and stopping is not None:
                self._validate(loop, valid, stopping, state, entry, ckpt)
            else:
                logger.info(
                    "%s epoch %d: loss %.4f, %.1f s", loop.name, state.epoch, entry["loss"], state.epoch_seconds[-1]
                )
            entry["lr"] = loop.optimizer.param_groups[0]["lr"]
            state.history.append(entry)
            if out_of_time:
                state.stop_reason = "time_budget"
            if state.epoch >= cfg.epochs and not state.stop_reason:
                state.stop_reason = "epochs"
            stop_reason = state.stop_reason or stop_reason
            if ckpt is not None and (evaluate_now or valid is None or state.stop_reason):
                self._checkpoint(ckpt / RESUME_FILE, loop, state, state.train_seconds + time.perf_counter() - start)
        state.train_seconds += time.perf_counter() - start
        state.stop_reason = stop_reason
        if state.best_weights is not None:
            loop.net.load_state_dict(state.best_weights)
        loop.net.eval()
        return state

    def _validate(
        self,
        loop: TrainLoop,
        valid: Validator,
        stopping: EarlyStoppingConfig,
        state: TrainResult,
        entry: dict[str, Any],
        ckpt: Path | None,
    ) -> None:
        """Score the epoch; keep the best weights, count patience, reduce lr on a plateau."""
        began = time.perf_counter()
        loop.net.eval()
        score = float(valid(loop.subject()))
        entry[f"valid_{valid.name}"] = score
        entry["valid_seconds"] = time.perf_counter() - began
        if score > state.best_score:
            state.best_score, state.best_epoch, state.bad = score, state.epoch, 0
            state.best_weights = copy.deepcopy(loop.net.state_dict())
            if ckpt is not None:
                loop.save_best(ckpt / BEST_DIR)
        else:
            state.bad += 1
            if stopping.lr_decay_patience and state.bad % stopping.lr_decay_patience == 0:
                for group in loop.optimizer.param_groups:  # reduce on plateau: lr <- factor * lr
                    group["lr"] *= stopping.lr_decay_factor
        logger.info(
            "%s epoch %d: loss %.4f, valid %s %.5f (best %.5f at epoch %d), %.1f s + eval %.1f s",
            loop.name,
            state.epoch,
            entry["loss"],
            valid.name,
            score,
            state.best_score,
            state.best_epoch,
            state.epoch_seconds[-1],
            entry["valid_seconds"],
        )
        if state.bad >= stopping.patience:
            state.stop_reason = "patience"

    # ---- checkpoints ------------------------------------------------------------------------
    def _checkpoint(self, path: Path, loop: TrainLoop, state: TrainResult, elapsed: float) -> None:
        """Write the resumable training state atomically (a temporary file renamed over the old one)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "version": CHECKPOINT_VERSION,
            "arch": loop.arch(),
            "epoch": state.epoch,
            "best_score": state.best_score,
            "best_epoch": state.best_epoch,
            "bad": state.bad,
            "stop_reason": state.stop_reason,
            "steps": state.steps,
            "history": state.history,
            "epoch_seconds": state.epoch_seconds,
            "train_seconds": elapsed,
            "net": loop.net.state_dict(),
            "best_weights": state.best_weights,
            "optimizer": loop.optimizer.state_dict(),
            "scheduler": loop.scheduler.state_dict() if loop.scheduler is not None else None,
            "torch_rng": torch.get_rng_state(),
            "numpy_rng": loop.rng.bit_generator.state,
        }
        tmp = path.with_name(path.name + ".tmp")
        torch.save(payload, tmp)
        os.replace(tmp, path)

    def _resume(self, path: Path, loop: TrainLoop, fresh: TrainResult) -> TrainResult:
        """Restore network, optimiser, scheduler, random states and progress from ``_checkpoint``'s file."""
        payload = torch.load(path, weights_only=True)
        if payload.get("version") != CHECKPOINT_VERSION:
            raise ValueError(
                f"checkpoint {path} was written by an older genrec; delete it or use another checkpoint_dir"
            )
        saved, arch = payload["arch"], loop.arch()
        mismatch = sorted(k for k in set(saved) | set(arch) if saved.get(k) != arch.get(k))
        if mismatch:
            raise ValueError(
                f"checkpoint {path} was written for another model (differs in {', '.join(mismatch)}); "
                "use another checkpoint_dir"
            )
        loop.net.load_state_dict(payload["net"])
        loop.optimizer.load_state_dict(payload["optimizer"])
        if loop.scheduler is not None and payload["scheduler"] is not None:
            loop.scheduler.load_state_dict(payload["scheduler"])
        torch.set_rng_state(payload["torch_rng"])
        loop.rng.bit_generator.state = payload["numpy_rng"]
        state = TrainResult(
            epoch=payload["epoch"],
            best_score=payload["best_score"],
            best_epoch=payload["best_epoch"],
            bad=payload["bad"],
            stop_reason=payload["stop_reason"],
            steps=payload["steps"],
            history=list(payload["history"]),
            epoch_seconds=list(payload["epoch_seconds"]),
            train_seconds=payload["train_seconds"],
            valid_cases=fresh.valid_cases,
            metric=fresh.metric,
            best_weights=payload["best_weights"],
        )
        # A finished run goes on only if the new settings let it go further.
        stopping = self.config if isinstance(self.config, EarlyStoppingConfig) else None
        if state.stop_reason == "epochs" and state.epoch < self.config.epochs:
            state.stop_reason = ""
        if state.stop_reason == "time_budget":
            state.stop_reason = ""
        if state.stop_reason == "patience" and stopping is not None and state.bad < stopping.patience:
            state.stop_reason = ""
        return state


def refit_overrides(config: TrainConfig, best_epoch: int) -> dict[str, Any]:
    """Settings that retrain ``config`` for the chosen epoch count (no budget, no early stopping).

    ``best_epoch`` 0 (nothing chosen, e.g. no validation cases) keeps the configured epochs. A
    checkpoint directory moves to its ``refit`` sub-folder so that the refit never resumes the
    selection run.
    """
    out: dict[str, Any] = {"epochs": max(1, best_epoch or config.epochs), "time_budget_seconds": 0.0}
    if config.checkpoint_dir:
        out["checkpoint_dir"] = str(Path(config.checkpoint_dir) / "refit")
    return out
