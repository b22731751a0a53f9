"""The protocol every reported number follows, as one function: select on validation, refit, test once.

``fit_protocol(model, split, settings, grid, overrides)``:

1. **Selection.** Each point of ``grid`` (or the settings alone) is fit on ``split.train``, models
   that train for epochs stopping early on validation NDCG@10 (``ranking_validator``), and is
   scored on the whole validation split by ``evaluate`` (NDCG@10). The best point wins (the first
   on ties). The test split is never looked at.
2. **Refit.** A model that trains for epochs (an ``EarlyStoppingConfig``) is trained again with the
   chosen settings on training + validation interactions for the epoch count early stopping chose
   (``genrec.train.refit_overrides``: no budget, no early stopping). Models without epochs
   (popularity, ItemKNN) are tested as fit on the training split.
3. **Test.** The final model is evaluated once on ``split.test`` (beyond-accuracy metrics use the
   interactions it was fit on).

Settings apply in the order ``settings`` < grid point < ``overrides`` < the refit's epoch count.
``genrec fit``, ``benchmarks/run_baselines.py``, ``benchmarks/run_tiger.py`` and the generative
loop's recommender (``generation/assemble.py``, which refits on the whole log and skips the test)
all call it.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from genrec.config import (
    Config,
    ConfigError,
    EarlyStoppingConfig,
    EvalConfig,
    apply_overrides,
    flatten,
    parse_assignments,
)
from genrec.data.dataset import Dataset
from genrec.data.split import Split
from genrec.eval.evaluator import EvalResult, evaluate
from genrec.eval.validation import ranking_validator
from genrec.models.base import Recommender
from genrec.models.registry import get_model_class
from genrec.train import refit_overrides

logger = logging.getLogger(__name__)
SELECTION_METRIC = "NDCG@10"


@dataclass
class ProtocolResult:
    """What the protocol chose and measured; ``model`` is the final (refit or selected) model."""

    model: Recommender
    chosen: dict[str, Any]  # settings + the winning grid point (before ``overrides``)
    trials: list[dict[str, Any]]
    valid_metrics: dict[str, float]  # the selected model on the full validation split
    selection_fit_info: dict[str, Any]  # the selected model's fit_info (best epoch, history)
    test: EvalResult | None = None
    test_before_refit: EvalResult | None = None
    refit: dict[str, Any] | None = None  # data, epochs, fit_seconds
    fit_seconds: float = 0.0  # the chosen point's selection fit + the refit
    seconds: dict[str, float] = field(default_factory=dict)  # wall time per stage

    def summary(self) -> dict[str, Any]:
        """A JSON-friendly record (kept in a saved model's ``fit_info['protocol']``)."""
        return {
            "selection": {"criterion": f"valid {SELECTION_METRIC}", "trials": self.trials, "chosen": self.chosen},
            "valid_metrics": self.valid_metrics,
            "refit": self.refit,
            "test_metrics": self.test.metrics if self.test is not None else None,
            "test_metrics_before_refit": self.test_before_refit.metrics if self.test_before_refit else None,
            "fit_seconds": self.fit_seconds,
            "stages_seconds": self.seconds,
        }


def trains_for_epochs(config: Config) -> bool:
    """Whether a model with ``config`` trains for epochs with early stopping (and is therefore refit)."""
    return isinstance(config, EarlyStoppingConfig)


def model_config(
    model: str,
    *layers: Mapping[str, Any] | Sequence[str] | None,
) -> Config:
    """The model's default config with each layer of settings applied in turn (validated, errors name the key)."""
    config: Config = get_model_class(model).config_class()  # type: ignore[attr-defined]
    for layer in layers:
        if layer:
            config = apply_overrides(config, _as_dict(layer))
    return config


def fit_protocol(
    model: str,
    split: Split,
    settings: Mapping[str, Any] | None = None,
    grid: Mapping[str, Sequence[Any]] | None = None,
    overrides: Mapping[str, Any] | Sequence[str] | None = None,
    *,
    eval_config: EvalConfig | None = None,
    refit_data: Dataset | None = None,
    test: bool = True,
    test_before_refit: bool = False,
    refit: bool = True,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> ProtocolResult:
    """Select on validation, refit on train + validation for the chosen epochs, test once (module docstring).

    ``refit_data`` replaces train + validation as the refit's data (the generative loop refits on
    the whole log); with it, a model without epochs and without a grid is simply fit on it.
    ``test_before_refit`` also evaluates the selected model on test (reported, never used);
    ``refit=False`` keeps the selected model (trained on ``split.train``) as the final one.
    """
    say = log or logger.info
    eval_cfg = eval_config or EvalConfig(ks=(5, 10, 20), exclude_history=False)
    settings = flatten(dict(settings or {}))
    extra = _as_dict(overrides) if overrides else {}
    points = _grid_points(grid or {})
    cls: Any = get_model_class(model)
    base = model_config(model, settings, extra)
    configs = [model_config(model, settings, point, extra) for point in points]  # every setting checked up front
    seconds: dict[str, float] = {}
    if grid and not len(split.valid):
        raise ConfigError(f"{model}: a grid needs validation cases to choose on, and {split.protocol} gave none")
    if not len(split.valid) or (refit_data is not None and not grid and not trains_for_epochs(base)):
        # nothing to choose: the configured model, fit once on the final data
        data = refit_data if refit_data is not None else split.train
        began = time.perf_counter()
        final = cls(base).fit(data, None)
        seconds["fit"] = time.perf_counter() - began
        result = ProtocolResult(final, settings, [], {}, final.fit_info, fit_seconds=seconds["fit"], seconds=seconds)
        return _tested(result, split, data, eval_cfg, test, progress, seconds)

    trials: list[dict[str, Any]] = []
    best: tuple[float, Recommender, dict[str, Any], dict[str, float], float] | None = None
    valid = ranking_validator(split.valid, exclude_history=eval_cfg.exclude_history)  # the test's protocol
    for point, config in zip(points, configs):
        chosen = {**settings, **point}
        selected = cls(config)
        began = time.perf_counter()
        selected.fit(split.train, valid)
        fit_seconds = time.perf_counter() - began
        seconds["selection_fit"] = seconds.get("selection_fit", 0.0) + fit_seconds
        began = time.perf_counter()
        scored = evaluate(
            selected, split.valid, split.train, eval_cfg, beyond_accuracy=False, progress=progress, desc="valid"
        )
        seconds["valid_eval"] = seconds.get("valid_eval", 0.0) + time.perf_counter() - began
        score = scored.metrics[SELECTION_METRIC]
        trials.append({"overrides": chosen, f"valid_{SELECTION_METRIC}": score, "fit_seconds": fit_seconds})
        say(f"[{model}] {chosen} valid {SELECTION_METRIC}={score:.4f} fit {fit_seconds:.1f}s")
        if best is None or score > best[0]:
            best = (score, selected, chosen, scored.metrics, fit_seconds)
    assert best is not None
    _, selected, chosen, valid_metrics, fit_seconds = best
    result = ProtocolResult(selected, chosen, trials, valid_metrics, selected.fit_info, fit_seconds=fit_seconds)
    history = split.train
    final_data = refit_data if refit_data is not None else split.train_valid
    refitting = refit and trains_for_epochs(selected.config) and final_data is not None
    if test and test_before_refit and refitting:
        began = time.perf_counter()
        result.test_before_refit = evaluate(selected, split.test, split.train, eval_cfg, progress=progress, desc="test")
        seconds["test_eval_before_refit"] = time.perf_counter() - began
    if refitting and final_data is not None:
        epochs = int(selected.fit_info.get("best_epoch") or 0)
        config = apply_overrides(selected.config, refit_overrides(selected.config, epochs))
        began = time.perf_counter()
        result.model = cls(config).fit(final_data, None)
        seconds["refit"] = time.perf_counter() - began
        label = "train+valid" if refit_data is None else final_data.name
        result.refit = {"data": label, "epochs": config.epochs, "fit_seconds": seconds["refit"]}
        result.fit_seconds += seconds["refit"]
        history = final_data
        say(f"[{model}] refit on {label} for {config.epochs} epochs: {seconds['refit']:.0f}s")
    result.seconds = seconds
    return _tested(result, split, history, eval_cfg, test, progress, seconds)


def _tested(
    result: ProtocolResult,
    split: Split,
    history: Dataset,
    eval_cfg: EvalConfig,
    test: bool,
    progress: bool,
    seconds: dict[str, float],
) -> ProtocolResult:
    """Evaluate the final model on the test split once (when asked)."""
    if test:
        began = time.perf_counter()
        result.test = evaluate(result.model, split.test, history, eval_cfg, progress=progress, desc="test")
        seconds["test_eval"] = time.perf_counter() - began
    return result


def _grid_points(grid: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of the grid's values, in order (one empty point without a grid)."""
    keys = list(grid)
    return [dict(zip(keys, values)) for values in itertools.product(*(grid[k] for k in keys))] if keys else [{}]


def _as_dict(layer: Mapping[str, Any] | Sequence[str]) -> dict[str, Any]:
    return dict(layer) if isinstance(layer, Mapping) else parse_assignments(layer)
