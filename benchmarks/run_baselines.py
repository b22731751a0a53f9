"""Benchmark the classic baselines (popularity, ItemKNN, SASRec) on the shared datasets.

Protocol: leave-one-out (last item test, second-to-last validation), full ranking over the
whole catalog, ties ranked pessimistically, history items NOT excluded. Hyper-parameters are
chosen on the validation split only (ItemKNN: a small grid; SASRec: early stopping on
validation NDCG@10); the test split is evaluated once, for the chosen configuration.

Models trained for a number of epochs (SASRec) are then refit on training + validation
interactions for the epoch count early stopping chose on validation, and that refit model is
evaluated on test (`REFIT`). The test figures of the early-stopped model trained on the training
split alone are kept in the result file too (`test_metrics_before_refit`), for transparency;
nothing is chosen by them.

Each (dataset, model) runs in its own process so that its peak memory is its own, and writes
benchmarks/results/<dataset>/<model>.json.

    python -m benchmarks.run_baselines --dataset amazon-beauty --model sasrec
    python -m benchmarks.run_baselines --dataset all --model all
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.common import (
    DATASETS,
    RESULTS,
    Timer,
    command_line,
    commit,
    load_benchmark_dataset,
    machine,
    peak_rss_mb,
    settings_name,
    write_result,
)
from genrec.config import EvalConfig, apply_overrides, config_to_dict
from genrec.data.split import leave_one_out
from genrec.eval.evaluator import evaluate
from genrec.models.registry import create_model

MODELS = ("popularity", "itemknn", "sasrec")
#: Models refit on train + validation with the epoch count chosen on validation.
REFIT = {"sasrec"}

#: Validation grids (model selection never looks at the test split).
GRIDS: dict[str, dict[str, list[Any]]] = {
    "popularity": {},
    "itemknn": {"recency_decay": [1.0, 0.8, 0.6, 0.4], "neighbors": [100, 400]},
    "sasrec": {},
}

#: Per-dataset settings that are not searched (SASRec is too slow to grid-search here).
FIXED: dict[tuple[str, str], dict[str, Any]] = {
    ("amazon-beauty", "sasrec"): {"bf16": True, "batch_size": 256, "patience": 15, "progress": False},
    ("ml-1m", "sasrec"): {
        "max_length": 200,
        "dropout": 0.2,
        "crop": "random",
        "bf16": True,
        "patience": 10,
        "progress": False,
    },
}


def run_one(dataset: str, model_name: str, extra: list[str]) -> Path:
    """Select a config on validation, evaluate it on test, write the result file."""
    start = time.perf_counter()
    ds = load_benchmark_dataset(dataset)
    split = leave_one_out(ds)
    eval_cfg = EvalConfig(ks=(5, 10, 20), exclude_history=False)
    fixed = dict(FIXED.get((settings_name(dataset), model_name), {}))
    grid = GRIDS[model_name]
    keys = list(grid)
    trials = []
    best: tuple[float, Any, dict[str, Any], dict[str, float]] | None = None
    fit_seconds = 0.0
    for values in itertools.product(*(grid[k] for k in keys)) if keys else [()]:
        overrides = {**fixed, **dict(zip(keys, values))}
        model = create_model(model_name, overrides)
        model.config = apply_overrides(model.config, extra)
        with Timer() as t:
            model.fit(split.train, split.valid)
        valid = evaluate(model, split.valid, split.train, eval_cfg, beyond_accuracy=False, desc="valid")
        score = valid.metrics["NDCG@10"]
        trials.append({"overrides": overrides, "valid_NDCG@10": score, "fit_seconds": t.seconds})
        print(f"[{dataset}/{model_name}] {overrides} valid NDCG@10={score:.4f} fit {t.seconds:.1f}s", flush=True)
        if best is None or score > best[0]:
            best = (score, model, overrides, valid.metrics)
            fit_seconds = t.seconds
    assert best is not None
    _, model, overrides, valid_metrics = best
    test = evaluate(model, split.test, split.train, eval_cfg, desc="test")
    refit_info: dict[str, Any] = {}
    if model_name in REFIT and split.train_valid is not None:
        before = test.metrics
        selection_fit_info = model.fit_info
        model, test, refit_seconds = refit_and_test(
            dataset, model_name, split, overrides, extra, int(model.fit_info["best_epoch"]), eval_cfg
        )
        refit_info = {
            "refit": {
                "data": "train+valid",
                "epochs": int(selection_fit_info["best_epoch"]),
                "fit_seconds": refit_seconds,
            },
            "test_metrics_before_refit": before,
            "selection_fit_info": selection_fit_info,
        }
        fit_seconds += refit_seconds
    payload = {
        "dataset": dataset,
        "dataset_source": DATASETS[dataset]["source"],
        "dataset_stats": ds.stats().to_dict(),
        "model": model_name,
        "split": split.describe(),
        "protocol": test.protocol,
        "metrics": test.metrics,
        "valid_metrics": valid_metrics,
        "config": config_to_dict(model.config),
        "selection": {"criterion": "valid NDCG@10", "trials": trials, "chosen": overrides},
        "fit_info": model.fit_info,
        **refit_info,
        "fit_seconds": fit_seconds,
        "wall_seconds": time.perf_counter() - start,
        "peak_rss_mb": peak_rss_mb(),
        "commit": commit(),
        "machine": machine(),
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": command_line(),
    }
    out = write_result(dataset, model_name, payload)
    m = test.metrics
    print(
        f"[{dataset}/{model_name}] TEST Recall@10={m['Recall@10']:.4f} NDCG@10={m['NDCG@10']:.4f} "
        f"wall {payload['wall_seconds']:.0f}s peak {payload['peak_rss_mb']:.0f} MiB -> {out}",
        flush=True,
    )
    return out


def refit_and_test(
    dataset: str,
    model_name: str,
    split: Any,
    overrides: dict[str, Any],
    extra: list[str],
    epochs: int,
    eval_cfg: EvalConfig,
) -> tuple[Any, Any, float]:
    """Fit the chosen config on train + validation for ``epochs`` epochs; evaluate it on test."""
    model = create_model(model_name, {**overrides, "epochs": epochs, "time_budget_seconds": 0.0})
    model.config = apply_overrides(model.config, extra)
    with Timer() as t:
        model.fit(split.train_valid, None)
    print(f"[{dataset}/{model_name}] refit on train+valid for {epochs} epochs: {t.seconds:.0f}s", flush=True)
    return model, evaluate(model, split.test, split.train_valid, eval_cfg, desc="test (refit)"), t.seconds


def refit_only(dataset: str, model_name: str, extra: list[str]) -> Path:
    """Refit from the selection recorded in an existing result file (no new search), then test."""
    start = time.perf_counter()
    path = RESULTS / dataset / f"{model_name}.json"
    previous = json.loads(path.read_text())
    if "refit" in previous:
        raise SystemExit(f"{path} already holds a refit result")
    split = leave_one_out(load_benchmark_dataset(dataset))
    eval_cfg = EvalConfig(ks=(5, 10, 20), exclude_history=False)
    overrides = previous["selection"]["chosen"]
    epochs = int(previous["fit_info"]["best_epoch"])
    model, test, refit_seconds = refit_and_test(dataset, model_name, split, overrides, extra, epochs, eval_cfg)
    wall = time.perf_counter() - start
    payload = {
        **previous,
        "metrics": test.metrics,
        "protocol": test.protocol,
        "fit_info": model.fit_info,
        "refit": {
            "data": "train+valid",
            "epochs": epochs,
            "fit_seconds": refit_seconds,
            "wall_seconds": wall,
            "peak_rss_mb": peak_rss_mb(),
            "commit": commit(),
            "command": command_line(),
            "selection_run": {
                k: previous[k] for k in ("commit", "wall_seconds", "peak_rss_mb", "command", "finished_at")
            },
        },
        "test_metrics_before_refit": previous["metrics"],
        "selection_fit_info": previous["fit_info"],
        "fit_seconds": previous["fit_seconds"] + refit_seconds,
        "wall_seconds": previous["wall_seconds"] + wall,
        "peak_rss_mb": max(previous["peak_rss_mb"], peak_rss_mb()),
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    out = write_result(dataset, model_name, payload)
    m = test.metrics
    print(f"[{dataset}/{model_name}] TEST (refit) Recall@10={m['Recall@10']:.4f} NDCG@10={m['NDCG@10']:.4f} -> {out}")
    return out


def main() -> None:
    """Parse arguments; run one (dataset, model) here or fan out to one process each."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="all", help=f"one of {', '.join(DATASETS)} or 'all'")
    parser.add_argument("--model", default="all", help=f"one of {', '.join(MODELS)} or 'all'")
    parser.add_argument("--set", action="append", default=[], help="config override key=value for the model")
    parser.add_argument(
        "--refit-only",
        action="store_true",
        help="reuse the selection in the existing result file; only refit on train+valid and test",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    datasets = [d for d in DATASETS if settings_name(d) == d] if args.dataset == "all" else [args.dataset]
    models = list(MODELS) if args.model == "all" else [args.model]
    if len(datasets) == 1 and len(models) == 1:
        if args.refit_only:
            refit_only(datasets[0], models[0], args.set)
        else:
            run_one(datasets[0], models[0], args.set)
        return
    for dataset, model in itertools.product(datasets, models):
        cmd = [sys.executable, __file__, "--dataset", dataset, "--model", model]
        for s in args.set:
            cmd += ["--set", s]
        subprocess.run(cmd, check=True)


if __name__ == "__main__":
    main()
