"""Benchmark the classic baselines (popularity, ItemKNN, SASRec) on the shared datasets.

Protocol (``genrec.protocol.fit_protocol``, the one ``genrec fit`` runs): leave-one-out (last
item test, second-to-last validation), full ranking over the whole catalog, ties ranked
pessimistically, history items NOT excluded. Hyper-parameters are chosen on the validation split
only (ItemKNN: a small grid; SASRec: early stopping on validation NDCG@10); the test split is
evaluated once, for the chosen configuration. The settings and grids are in
``benchmarks/settings/<dataset>.toml``.

Models trained for a number of epochs (SASRec) are then refit on training + validation
interactions for the epoch count early stopping chose on validation, and that refit model is
evaluated on test. The test figures of the early-stopped model trained on the training split
alone are kept in the result file too (`test_metrics_before_refit`), for transparency; nothing
is chosen by them.

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
    SUITE,
    Timer,
    command_line,
    commit,
    load_benchmark_dataset,
    machine,
    model_settings,
    peak_rss_mb,
    protocol,
    result_stem,
    settings_file,
    write_result,
)
from genrec.config import config_to_dict
from genrec.data.split import leave_one_out
from genrec.eval.evaluator import evaluate
from genrec.models.registry import get_model_class
from genrec.protocol import fit_protocol, model_config
from genrec.train import refit_overrides

MODELS = ("popularity", "itemknn", "sasrec")


def run_one(dataset: str, model_name: str, extra: list[str], exclude_history: bool = False, variant: str = "") -> Path:
    """Select a config on validation, refit it if it trains for epochs, evaluate it on test, write the result.

    A ``variant`` (e.g. ``2threads``) writes ``<stem>_variant_<variant>.json``: a cost run shown in the cost
    tables but not in the accuracy tables, whose rows stay the main run's.
    """
    start = time.perf_counter()
    code = commit()  # the code that runs is the code at the start (the tree may change during a long run)
    ds = load_benchmark_dataset(dataset)
    split = leave_one_out(ds)
    table = model_settings(dataset, model_name)
    result = fit_protocol(
        model_name,
        split,
        table.settings,
        table.grid,
        extra,
        eval_config=protocol(exclude_history),
        test_before_refit=True,
        log=lambda message: print(f"[{dataset}] {message}", flush=True),
    )
    assert result.test is not None
    refit_info: dict[str, Any] = {}
    if result.refit is not None and result.test_before_refit is not None:
        refit_info = {
            "refit": {k: result.refit[k] for k in ("data", "epochs", "fit_seconds")},
            "test_metrics_before_refit": result.test_before_refit.metrics,
            "selection_fit_info": result.selection_fit_info,
        }
    payload = {
        "dataset": dataset,
        "dataset_source": DATASETS[dataset]["source"],
        "dataset_stats": ds.stats().to_dict(),
        "model": model_name,
        "split": split.describe(),
        "protocol": result.test.protocol,
        "early_stopping_exclude_history": exclude_history,  # the validator follows the protocol
        "metrics": result.test.metrics,
        "valid_metrics": result.valid_metrics,
        "config": config_to_dict(result.model.config),
        "settings_file": str(settings_file(dataset).relative_to(RESULTS.parents[1])),
        "selection": {"criterion": "valid NDCG@10", "trials": result.trials, "chosen": result.chosen},
        "fit_info": result.model.fit_info,
        **refit_info,
        "fit_seconds": result.fit_seconds,
        "wall_seconds": time.perf_counter() - start,
        "peak_rss_mb": peak_rss_mb(),
        "commit": code,
        "machine": machine(),
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": command_line(),
        **({"variant": variant} if variant else {}),
    }
    stem = result_stem(model_name, exclude_history) + (f"_variant_{variant}" if variant else "")
    out = write_result(dataset, stem, payload)
    m = result.test.metrics
    print(
        f"[{dataset}/{model_name}] TEST Recall@10={m['Recall@10']:.4f} NDCG@10={m['NDCG@10']:.4f} "
        f"wall {payload['wall_seconds']:.0f}s peak {payload['peak_rss_mb']:.0f} MiB -> {out}",
        flush=True,
    )
    return out


def refit_only(dataset: str, model_name: str, extra: list[str]) -> Path:
    """Refit from the selection recorded in an existing result file (no new search), then test."""
    start = time.perf_counter()
    path = RESULTS / dataset / f"{model_name}.json"
    previous = json.loads(path.read_text())
    if "refit" in previous:
        raise SystemExit(f"{path} already holds a refit result")
    split = leave_one_out(load_benchmark_dataset(dataset))
    chosen = previous["selection"]["chosen"]
    epochs = int(previous["fit_info"]["best_epoch"])
    selected = model_config(model_name, chosen, extra)
    model = get_model_class(model_name)(model_config(model_name, chosen, extra, refit_overrides(selected, epochs)))
    with Timer() as t:
        model.fit(split.train_valid, None)
    print(f"[{dataset}/{model_name}] refit on train+valid for {epochs} epochs: {t.seconds:.0f}s", flush=True)
    test = evaluate(model, split.test, split.train_valid, protocol(), desc="test (refit)")
    wall = time.perf_counter() - start
    payload = {
        **previous,
        "metrics": test.metrics,
        "protocol": test.protocol,
        "fit_info": model.fit_info,
        "refit": {
            "data": "train+valid",
            "epochs": epochs,
            "fit_seconds": t.seconds,
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
        "fit_seconds": previous["fit_seconds"] + t.seconds,
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
    parser.add_argument("--dataset", default="all", help=f"one of {', '.join(DATASETS)} or 'all' ({', '.join(SUITE)})")
    parser.add_argument("--model", default="all", help=f"one of {', '.join(MODELS)} or 'all'")
    parser.add_argument("--set", action="append", default=[], help="config override key=value for the model")
    parser.add_argument(
        "--refit-only",
        action="store_true",
        help="reuse the selection in the existing result file; only refit on train+valid and test",
    )
    parser.add_argument("--exclude-history", action="store_true", help="remove history items from the ranking (HSTU)")
    parser.add_argument("--variant", default="", help="write <model>_variant_<name>.json (a cost run, not a table row)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    datasets = list(SUITE) if args.dataset == "all" else [args.dataset]
    models = list(MODELS) if args.model == "all" else [args.model]
    if len(datasets) == 1 and len(models) == 1:
        if args.refit_only:
            refit_only(datasets[0], models[0], args.set)
        else:
            run_one(datasets[0], models[0], args.set, args.exclude_history, args.variant)
        return
    for dataset, model in itertools.product(datasets, models):
        cmd = [sys.executable, "-m", "benchmarks.run_baselines", "--dataset", dataset, "--model", model]
        for s in args.set:
            cmd += ["--set", s]
        if args.exclude_history:
            cmd.append("--exclude-history")
        if args.variant:
            cmd += ["--variant", args.variant]
        subprocess.run(cmd, check=True)


if __name__ == "__main__":
    main()
