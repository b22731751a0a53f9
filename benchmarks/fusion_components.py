"""Train and save the two models the fused re-scorer combines (tiger and SASRec), as the benchmarks do.

One model per process (so peak memory is its own), with the settings the benchmark scripts use
(``run_tiger.CHOSEN``, ``run_baselines.FIXED``, the transition graph's validation choice in
``results/<dataset>/transition.json``):

1. fit on the training split, early stopping on validation -> saved to ``<out>/<model>-train``;
   the fusion weights are learned on validation with these models (they never saw validation);
2. refit on training + validation for the epoch count early stopping chose (the transition graph:
   rebuilt from training + validation) -> ``<out>/<model>-refit``;
   the fused model is evaluated on test with these (as every refit benchmark row is).

Writes ``benchmarks/results/<dataset>/fusion_component_<model>.json`` (validation metrics of the
first model, test metrics of the refit one, times, peak memory).

    python -m benchmarks.fusion_components --dataset amazon-beauty --model tiger --threads 1
"""

from __future__ import annotations

import argparse
import json
import logging
import os
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
from genrec.home import default_home
from genrec.models.registry import create_model


def benchmark_settings(dataset: str, model: str) -> dict[str, Any]:
    """The settings the benchmark scripts use for ``model`` on ``dataset``."""
    if model == "tiger":
        from benchmarks.run_tiger import CHOSEN

        return dict(CHOSEN.get(settings_name(dataset), {}))
    if model == "transition":  # the settings run_transition.py chose on validation
        path = RESULTS / dataset / "transition.json"
        if not path.exists():
            raise SystemExit(f"{path} not found: run python -m benchmarks.run_transition --dataset {dataset} first")
        return dict(json.loads(path.read_text())["selection"]["chosen"])
    from benchmarks.run_baselines import FIXED

    return dict(FIXED.get((settings_name(dataset), model), {}))


def default_out(dataset: str) -> Path:
    """Where the component models are saved by default: ``$GENREC_HOME/models/fusion-<dataset>``."""
    return default_home() / "models" / f"fusion-{dataset}"


def run(dataset: str, model_name: str, out: Path, threads: int, overrides: list[str]) -> Path:
    """Fit on train (early stopping), save; refit on train + valid, save; write the result file."""
    import torch

    start = time.perf_counter()
    code = commit()  # the code that runs is the code at the start (the tree may change during a long run)
    if threads:
        torch.set_num_threads(threads)
    ds = load_benchmark_dataset(dataset)
    split = leave_one_out(ds)
    assert split.train_valid is not None
    eval_cfg = EvalConfig(ks=(5, 10, 20), exclude_history=False)
    settings = benchmark_settings(dataset, model_name)
    if model_name != "transition":
        settings.update(progress=False, **({"threads": threads} if threads else {}))
    model = create_model(model_name, settings)
    model.config = apply_overrides(model.config, overrides)
    with Timer() as fit_t:
        model.fit(split.train, split.valid)
    model.save(out / f"{model_name}-train")
    valid = evaluate(model, split.valid, split.train, eval_cfg, beyond_accuracy=False, desc="valid")
    epochs = int(model.fit_info.get("best_epoch", 0))  # 0: a model without epochs (transition)
    print(f"[{dataset}/{model_name}] valid NDCG@10={valid.metrics['NDCG@10']:.4f} best epoch {epochs}", flush=True)
    refit = create_model(model_name)
    refit.config = model.config
    if epochs:
        refit.config = apply_overrides(model.config, {"epochs": epochs, "time_budget_seconds": 0.0})
    with Timer() as refit_t:
        refit.fit(split.train_valid, None)
    refit.save(out / f"{model_name}-refit")
    test = evaluate(refit, split.test, split.train_valid, eval_cfg, beyond_accuracy=False, desc="test")
    payload = {
        "dataset": dataset,
        "dataset_source": DATASETS[dataset]["source"],
        "model": model_name,
        "purpose": "component of the fused re-scorer (benchmarks/run_fusion.py)",
        "split": split.describe(),
        "protocol": test.protocol,
        "valid_metrics": valid.metrics,
        "metrics": test.metrics,
        "config": config_to_dict(model.config),
        "fit_info": {k: v for k, v in model.fit_info.items() if k != "history"},
        "refit": {"data": "train+valid", "epochs": epochs, "fit_seconds": refit_t.seconds},
        "saved": {"train": str(out / f"{model_name}-train"), "refit": str(out / f"{model_name}-refit")},
        "fit_seconds": fit_t.seconds + refit_t.seconds,
        "wall_seconds": time.perf_counter() - start,
        "torch_threads": torch.get_num_threads(),
        "peak_rss_mb": peak_rss_mb(),
        "commit": code,
        "machine": machine(),
        "load_average_1min_at_end": os.getloadavg()[0],
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": command_line(),
    }
    path = write_result(dataset, f"fusion_component_{model_name}", payload)
    m = test.metrics
    print(f"[{dataset}/{model_name}] refit TEST Recall@10={m['Recall@10']:.4f} NDCG@10={m['NDCG@10']:.4f} -> {path}")
    return path


def main() -> None:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="amazon-beauty", help=f"one of {', '.join(DATASETS)}")
    parser.add_argument("--model", required=True, choices=["tiger", "sasrec", "transition"])
    parser.add_argument("--out", default="", help="directory for the saved models (default: $GENREC_HOME/models)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--set", action="append", default=[], help="config override key=value")
    args = parser.parse_args()
    logging.basicConfig(format="%(asctime)s %(message)s", level=logging.WARNING)
    logging.getLogger("genrec").setLevel(logging.INFO)
    out = Path(args.out).expanduser() if args.out else default_out(args.dataset)
    run(args.dataset, args.model, out, args.threads, args.set)


if __name__ == "__main__":
    main()
