"""Train and save the models the fused re-scorer combines (tiger, SASRec, the transition graph), as the benchmarks do.

One model per process (so peak memory is its own), with the settings the benchmarks use
(``benchmarks/settings/<dataset>.toml``; the transition graph: its validation choice in
``results/<dataset>/transition.json``), through ``genrec.protocol.fit_protocol``:

1. selection: fit on the training split, early stopping on validation, scored on the full
   validation split (``fit_protocol(..., refit=False, test=False)``) -> saved to
   ``<out>/<model>-train``; the fusion's method and mix are learned on validation with these
   models (they never saw validation);
2. refit on training + validation for the epoch count early stopping chose, with the protocol's
   own ``refit_overrides`` (the transition graph, which has no epochs: rebuilt from training +
   validation) -> ``<out>/<model>-refit``; the fused model is evaluated on test with these (as
   every refit benchmark row is). This step is written out here rather than left to
   ``fit_protocol`` because the fusion needs both models and the protocol keeps only the last.

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
    model_settings,
    peak_rss_mb,
    write_result,
)
from genrec.config import EvalConfig, apply_overrides, config_to_dict, parse_assignments
from genrec.data.split import leave_one_out
from genrec.eval.evaluator import evaluate
from genrec.home import default_home
from genrec.models.registry import get_model_class
from genrec.protocol import fit_protocol, trains_for_epochs
from genrec.train import refit_overrides

MODELS = ("tiger", "sasrec", "transition")


def benchmark_settings(dataset: str, model: str) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """The settings and grid the benchmarks use for ``model`` on ``dataset``."""
    if model == "transition":  # the settings run_transition.py chose on validation
        path = RESULTS / dataset / "transition.json"
        if not path.exists():
            raise SystemExit(f"{path} not found: run python -m benchmarks transition --dataset {dataset} first")
        return dict(json.loads(path.read_text())["selection"]["chosen"]), {}
    table = model_settings(dataset, model)
    return dict(table.settings), dict(table.grid)


def default_out(dataset: str) -> Path:
    """Where the component models are saved by default: ``$GENREC_HOME/models/fusion-<dataset>``."""
    return default_home() / "models" / f"fusion-{dataset}"


def run(dataset: str, model_name: str, out: Path, threads: int, overrides: list[str]) -> Path:
    """Select on validation (train split), save; refit on train + valid, save; write the result file."""
    import torch

    start = time.perf_counter()
    code = commit()  # the code that runs is the code at the start (the tree may change during a long run)
    if threads:
        torch.set_num_threads(threads)
    ds = load_benchmark_dataset(dataset)
    split = leave_one_out(ds)
    assert split.train_valid is not None
    eval_cfg = EvalConfig(ks=(5, 10, 20), exclude_history=False)
    settings, grid = benchmark_settings(dataset, model_name)
    extra: dict[str, Any] = parse_assignments(overrides)
    if model_name != "transition":
        extra = {"progress": False, **({"threads": threads} if threads else {}), **extra}
    with Timer() as fit_t:
        selected = fit_protocol(
            model_name, split, settings, grid, extra, eval_config=eval_cfg, test=False, refit=False, progress=False
        )
    model = selected.model
    model.save(out / f"{model_name}-train")
    valid_metrics = selected.valid_metrics
    epochs = int(model.fit_info.get("best_epoch") or 0)  # 0: a model without epochs (transition)
    print(f"[{dataset}/{model_name}] valid NDCG@10={valid_metrics['NDCG@10']:.4f} best epoch {epochs}", flush=True)
    config = model.config
    if trains_for_epochs(config):
        config = apply_overrides(config, refit_overrides(config, epochs))
    cls: Any = get_model_class(model_name)
    with Timer() as refit_t:
        refit = cls(config).fit(split.train_valid, None)
    refit.save(out / f"{model_name}-refit")
    test = evaluate(refit, split.test, split.train_valid, eval_cfg, beyond_accuracy=False, desc="test")
    payload = {
        "dataset": dataset,
        "dataset_source": DATASETS[dataset]["source"],
        "model": model_name,
        "purpose": "component of the fused re-scorer (benchmarks/run_fusion.py)",
        "split": split.describe(),
        "protocol": test.protocol,
        "valid_metrics": valid_metrics,
        "metrics": test.metrics,
        "config": config_to_dict(model.config),
        "selection": {"settings": settings, "grid": grid, "overrides": extra, "trials": selected.trials},
        "fit_info": {k: v for k, v in model.fit_info.items() if k != "history"},
        "refit": {"data": "train+valid", "epochs": epochs, "fit_seconds": refit_t.seconds},
        "protocol_seconds": selected.seconds,
        "saved": {"train": str(out / f"{model_name}-train"), "refit": str(out / f"{model_name}-refit")},
        "fit_seconds": selected.fit_seconds + refit_t.seconds,
        "selection_seconds": fit_t.seconds,
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
    parser.add_argument("--model", required=True, choices=MODELS)
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
