"""Benchmark the classic baselines (popularity, ItemKNN, SASRec) on the shared datasets.

Protocol: leave-one-out (last item test, second-to-last validation), full ranking over the
whole catalog, ties ranked pessimistically, history items NOT excluded. Hyper-parameters are
chosen on the validation split only (ItemKNN: a small grid; SASRec: early stopping on
validation NDCG@10); the test split is evaluated once, for the chosen configuration.

Each (dataset, model) runs in its own process so that its peak memory is its own, and writes
benchmarks/results/<dataset>/<model>.json.

    python benchmarks/run_baselines.py --dataset amazon-beauty --model sasrec
    python benchmarks/run_baselines.py --dataset all --model all
"""

from __future__ import annotations

import argparse
import itertools
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import DATASETS, Timer, commit, load_benchmark_dataset, machine, peak_rss_mb, write_result  # noqa: E402

from genrec.config import EvalConfig, apply_overrides, config_to_dict  # noqa: E402
from genrec.data.split import leave_one_out  # noqa: E402
from genrec.eval.evaluator import evaluate  # noqa: E402
from genrec.models.registry import create_model  # noqa: E402

MODELS = ("popularity", "itemknn", "sasrec")

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
        "time_budget_seconds": 1500.0,
        "progress": False,
    },
}


def run_one(dataset: str, model_name: str, extra: list[str]) -> Path:
    """Select a config on validation, evaluate it on test, write the result file."""
    start = time.perf_counter()
    ds = load_benchmark_dataset(dataset)
    split = leave_one_out(ds)
    eval_cfg = EvalConfig(ks=(5, 10, 20), exclude_history=False)
    fixed = dict(FIXED.get((dataset, model_name), {}))
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
        "fit_seconds": fit_seconds,
        "wall_seconds": time.perf_counter() - start,
        "peak_rss_mb": peak_rss_mb(),
        "commit": commit(),
        "machine": machine(),
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": " ".join(["python"] + sys.argv),
    }
    out = write_result(dataset, model_name, payload)
    m = test.metrics
    print(
        f"[{dataset}/{model_name}] TEST Recall@10={m['Recall@10']:.4f} NDCG@10={m['NDCG@10']:.4f} "
        f"wall {payload['wall_seconds']:.0f}s peak {payload['peak_rss_mb']:.0f} MiB -> {out}",
        flush=True,
    )
    return out


def main() -> None:
    """Parse arguments; run one (dataset, model) here or fan out to one process each."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="all", help=f"one of {', '.join(DATASETS)} or 'all'")
    parser.add_argument("--model", default="all", help=f"one of {', '.join(MODELS)} or 'all'")
    parser.add_argument("--set", action="append", default=[], help="config override key=value for the model")
    args = parser.parse_args()
    datasets = list(DATASETS) if args.dataset == "all" else [args.dataset]
    models = list(MODELS) if args.model == "all" else [args.model]
    if len(datasets) == 1 and len(models) == 1:
        run_one(datasets[0], models[0], args.set)
        return
    for dataset, model in itertools.product(datasets, models):
        cmd = [sys.executable, __file__, "--dataset", dataset, "--model", model]
        for s in args.set:
            cmd += ["--set", s]
        subprocess.run(cmd, check=True)


if __name__ == "__main__":
    main()
