"""Benchmark the generative recommender (tiger) end to end: encode, tokenize, train, evaluate.

Protocol as run_baselines.py: leave-one-out, full ranking over the whole catalog (a generative
model is ranked by its beam-search top-k list; misses and invalid ids count as misses), history
items kept in the ranking (``--exclude-history``: removed, the HSTU protocol, for selection and
test alike; the result file then ends in ``_exclude_history``), metrics at 5/10/20. Early stopping uses validation NDCG@10 (on a fixed random
subset of validation users when ``valid_users`` is set); the test split is evaluated once.

Model selection: ``--valid-only`` runs fit a configuration and score it on the full validation
split without touching test; each such trial is appended to
``benchmarks/results/<dataset>/tiger_trials.jsonl``. The final run (without ``--valid-only``)
evaluates the chosen configuration on test once and records the trials as its ``selection``.

The final run then refits the chosen configuration on training + validation interactions for
the epoch count early stopping picked and evaluates that model on test, by the protocol
run_baselines.py and ``genrec fit`` follow (``genrec.protocol.fit_protocol``); the early-stopped
model's test figures are kept too (``test_metrics_before_refit``). The chosen settings are in
``benchmarks/settings/<dataset>.toml`` ([tiger.settings]).
``--no-refit`` skips the refit. The pipeline time covers all of it: load, encode, tokenize, train,
validate, refit, test.

``--cold-encode`` points the embedding cache at an empty temporary folder, so the reported
pipeline time includes encoding every item text from scratch.

    python -m benchmarks.run_tiger --dataset amazon-beauty --valid-only --set collab_weight=0.3
    python -m benchmarks.run_tiger --dataset amazon-beauty --cold-encode --save ~/.cache/genrec/models/tiger-beauty
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
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
    protocol,
    result_stem,
    write_result,
)
from genrec.config import config_to_dict, parse_assignments
from genrec.data.split import leave_one_out
from genrec.protocol import fit_protocol


def trials_file(dataset: str) -> Path:
    """Where validation-only trials are logged."""
    return RESULTS / dataset / "tiger_trials.jsonl"


def run(
    dataset: str,
    overrides: list[str],
    valid_only: bool,
    cold_encode: bool,
    save: str,
    threads: int,
    refit: bool,
    exclude_history: bool = False,
) -> None:
    """Fit tiger, evaluate on validation (and test once unless ``valid_only``), write the result."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    start = time.perf_counter()
    code = commit()  # the code that runs is the code at the start (the tree may change during a long run)
    stages: dict[str, float] = {}
    with Timer() as t:
        ds = load_benchmark_dataset(dataset)
        split = leave_one_out(ds)
    stages["load_and_split"] = t.seconds
    chosen = model_settings(dataset, "tiger").settings
    extra: dict[str, Any] = parse_assignments(overrides)
    if threads:
        extra["threads"] = threads
    tmp_cache = None
    if cold_encode:
        tmp_cache = tempfile.TemporaryDirectory(prefix="genrec-cold-embeddings-")
        extra["encoder.cache_dir"] = tmp_cache.name
    result = fit_protocol(
        "tiger",
        split,
        chosen,
        overrides=extra,
        eval_config=protocol(exclude_history),
        test=not valid_only,
        test_before_refit=True,
        refit=refit and not valid_only,
        log=lambda message: print(f"[{dataset}] {message}", flush=True),
    )
    info = result.selection_fit_info
    stages["fit"] = result.seconds["selection_fit"]
    stages.update({k: info[k] for k in ("encode_seconds", "tokenize_seconds", "train_seconds") if k in info})
    stages["valid_eval"] = result.seconds["valid_eval"]
    vm = result.valid_metrics
    config = config_to_dict(result.model.config)
    if tmp_cache is not None:
        config["encoder"]["cache_dir"] = "(temporary, empty: cold encode)"
    print(
        f"[{dataset}/tiger] valid Recall@10={vm['Recall@10']:.4f} NDCG@10={vm['NDCG@10']:.4f} "
        f"fit {stages['fit']:.0f}s ({info.get('epochs')} epochs, best {info.get('best_epoch')})",
        flush=True,
    )
    if valid_only:
        trial = {
            "overrides": overrides,
            "exclude_history": exclude_history,
            "config": config,
            "valid_metrics": vm,
            "fit_info": {k: v for k, v in info.items() if k != "history"},
            "history": info.get("history"),
            "stages": stages,
            "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        out = trials_file(dataset)
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("a") as f:
            f.write(json.dumps(trial, default=float) + "\n")
        return

    refit_info: dict[str, Any] = {}
    if result.refit is not None and result.test_before_refit is not None:
        stages["test_eval_before_refit"] = result.seconds["test_eval_before_refit"]
        stages["refit"] = result.seconds["refit"]
        refit_info = {
            "refit": {**result.refit, "fit_info": result.model.fit_info},
            "test_metrics_before_refit": result.test_before_refit.metrics,
        }
    assert result.test is not None
    stages["test_eval"] = result.seconds["test_eval"]
    if save:
        with Timer() as t:
            result.model.save(Path(save).expanduser())
        stages["save"] = t.seconds
    wall = time.perf_counter() - start
    stages["pipeline_wall"] = wall
    trials = []
    if trials_file(dataset).exists():
        for line in trials_file(dataset).read_text().splitlines():
            rec = json.loads(line)
            if rec.get("exclude_history", False) != exclude_history:
                continue
            trials.append(
                {
                    "overrides": rec.get("effective_overrides", rec["overrides"]),
                    "valid_NDCG@10": rec["valid_metrics"]["NDCG@10"],
                    "valid_Recall@10": rec["valid_metrics"]["Recall@10"],
                    "fit_seconds": rec["stages"].get("fit"),
                }
            )
    payload = {
        "dataset": dataset,
        "dataset_source": DATASETS[dataset]["source"],
        "dataset_stats": ds.stats().to_dict(),
        "model": "tiger",
        "split": split.describe(),
        "protocol": result.test.protocol,
        "early_stopping_exclude_history": exclude_history,  # the validator follows the protocol
        "metrics": result.test.metrics,
        "valid_metrics": vm,
        "config": config,
        "selection": {
            "criterion": "valid NDCG@10 (full validation split, beam-search top-k)",
            "trials": trials,
            "chosen": {**chosen, **parse_assignments(overrides)},
        },
        "fit_info": info,
        **refit_info,
        "fit_seconds": stages["fit"] + stages.get("refit", 0.0),
        "stages_seconds": stages,
        "cold_encode": bool(cold_encode),
        "wall_seconds": wall,
        "peak_rss_mb": peak_rss_mb(),
        "commit": code,
        "machine": machine(),
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": command_line(),
    }
    out = write_result(dataset, result_stem("tiger", exclude_history), payload)
    m = result.test.metrics
    print(
        f"[{dataset}/tiger] TEST Recall@5={m['Recall@5']:.4f} NDCG@5={m['NDCG@5']:.4f} "
        f"Recall@10={m['Recall@10']:.4f} NDCG@10={m['NDCG@10']:.4f} "
        f"wall {wall:.0f}s peak {payload['peak_rss_mb']:.0f} MiB -> {out}",
        flush=True,
    )


def main() -> None:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="amazon-beauty", help=f"one of {', '.join(DATASETS)}")
    parser.add_argument("--set", action="append", default=[], help="TigerConfig override key=value (sid.levels=4)")
    parser.add_argument("--valid-only", action="store_true", help="a selection trial: never touch test")
    parser.add_argument("--cold-encode", action="store_true", help="encode item texts into an empty cache")
    parser.add_argument("--save", default="", help="save the trained model to this directory")
    parser.add_argument("--no-refit", action="store_true", help="evaluate the early-stopped model on test")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: the config's)")
    parser.add_argument("--exclude-history", action="store_true", help="remove history items from the ranking (HSTU)")
    args = parser.parse_args()
    logging.basicConfig(format="%(asctime)s %(message)s", level=logging.WARNING)
    logging.getLogger("genrec").setLevel(logging.INFO)
    run(
        args.dataset,
        args.set,
        args.valid_only,
        args.cold_encode,
        args.save,
        args.threads,
        not args.no_refit,
        args.exclude_history,
    )


if __name__ == "__main__":
    main()
