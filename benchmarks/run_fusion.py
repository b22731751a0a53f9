"""Benchmark the fused re-scorer (tiger + SASRec) on a dataset, selection on validation only.

Needs the component models saved by ``benchmarks.fusion_components`` (tiger and SASRec, each fitted
on the training split with early stopping, and refit on training + validation):

1. the fused model over the two *train* models learns its method and weight on the full
   validation split (grid in ``FusionConfig``); every grid point is logged to
   ``benchmarks/results/<dataset>/fusion_trials.jsonl`` with the candidate sizes;
2. the chosen method and weight are applied to the two *refit* models and evaluated on test once
   (leave-one-out, full ranking by the fused top-k list, history kept, pessimistic ties; a target
   outside the union of the two lists is a miss).

``--scorer transition`` fuses tiger with the training-free transition graph instead of SASRec
(result ``fusion_transition.json``). Writes ``benchmarks/results/<dataset>/fusion.json`` and prints a markdown section
(``markdown_section`` can be called from make_tables.py).

    python -m benchmarks.run_fusion --dataset amazon-beauty
    python -m benchmarks.run_fusion --dataset amazon-beauty --valid-only --set scorer_k=100
    python -m benchmarks.run_fusion --dataset amazon-beauty --scorer transition
"""

from __future__ import annotations

import argparse
import json
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
    write_result,
)
from benchmarks.fusion_components import default_out
from genrec.config import EvalConfig, FusionConfig, apply_overrides, config_to_dict
from genrec.data.split import leave_one_out
from genrec.eval.evaluator import evaluate
from genrec.models.base import Recommender
from genrec.models.fusion import Fusion


def trials_file(dataset: str) -> Path:
    """Where validation-only fusion trials are logged."""
    return RESULTS / dataset / "fusion_trials.jsonl"


def run(dataset: str, models: Path, scorer_name: str, overrides: list[str], valid_only: bool, threads: int) -> None:
    """Learn the fusion on validation with the train models; test once with the refit models."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    start = time.perf_counter()
    code = commit()  # the code that runs is the code at the start (the tree may change during a long run)
    split = leave_one_out(load_benchmark_dataset(dataset))
    assert split.train_valid is not None
    eval_cfg = EvalConfig(ks=(5, 10, 20), exclude_history=False)
    cfg = apply_overrides(FusionConfig(), overrides)
    stages: dict[str, float] = {}
    with Timer() as t:
        gen, scorer = (_load(models / f"{m}-train", threads) for m in ("tiger", scorer_name))
        fused = Fusion.over(gen, scorer, cfg).fit(split.train, split.valid)
    stages["learn_on_valid"] = t.seconds
    learned = fused.fit_info["learned"]
    grid = fused.fit_info["grid"]
    alone = {g["weight"]: g for g in grid if g["method"] == "logprob" and g["weight"] in (0.0, 1.0)}
    print(
        f"[{dataset}/fusion] chosen {learned['method']} w={learned['weight']}: valid NDCG@10 "
        f"{learned['valid_NDCG@10']:.4f} (tiger alone on the union {alone[1.0]['NDCG@10']:.4f}, "
        f"{scorer_name} alone {alone[0.0]['NDCG@10']:.4f}); target in union {fused.fit_info['valid_target_in_union']:.3f}",
        flush=True,
    )
    with trials_file(dataset).open("a") as f:
        f.write(
            json.dumps(
                {
                    "scorer": scorer_name,
                    "overrides": overrides,
                    "generative_k": cfg.generative_k,
                    "scorer_k": cfg.scorer_k,
                    "rank_offset": cfg.rank_offset,
                    "learned": learned,
                    "grid": grid,
                    "valid_target_in_union": fused.fit_info["valid_target_in_union"],
                    "valid_mean_candidates": fused.fit_info["valid_mean_candidates"],
                    "seconds": t.seconds,
                    "commit": code,
                    "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                }
            )
            + "\n"
        )
    if valid_only:
        return
    with Timer() as t:
        valid = evaluate(fused, split.valid, split.train, eval_cfg, beyond_accuracy=False, desc="valid")
    stages["valid_eval"] = t.seconds
    with Timer() as t:
        refit = fused.with_components(*(_load(models / f"{m}-refit", threads) for m in ("tiger", scorer_name)))
        test = evaluate(refit, split.test, split.train_valid, eval_cfg, desc="test")
    stages["test_eval"] = t.seconds
    components = {}
    for name in ("tiger", scorer_name):
        path = RESULTS / dataset / f"fusion_component_{name}.json"
        if path.exists():
            rec = json.loads(path.read_text())
            components[name] = {
                "valid_metrics": rec["valid_metrics"],
                "test_metrics": rec["metrics"],
                "fit_seconds": rec["fit_seconds"],
                "wall_seconds": rec["wall_seconds"],
                "peak_rss_mb": rec["peak_rss_mb"],
                "commit": rec["commit"],
            }
    wall = time.perf_counter() - start
    payload: dict[str, Any] = {
        "dataset": dataset,
        "dataset_source": DATASETS[dataset]["source"],
        "model": "fusion",
        "split": split.describe(),
        "protocol": test.protocol,
        "metrics": test.metrics,
        "valid_metrics": valid.metrics,
        "config": config_to_dict(refit.config),
        "selection": {
            "criterion": "valid NDCG@10 (full validation split) over methods x weights, train-split components",
            "learned": learned,
            "grid": grid,
            "valid_target_in_union": fused.fit_info["valid_target_in_union"],
            "valid_mean_candidates": fused.fit_info["valid_mean_candidates"],
        },
        "components": {
            "scorer": scorer_name,
            "validation": f"tiger-train / {scorer_name}-train (fitted on the training split, early stopping on valid)",
            "test": f"tiger-refit / {scorer_name}-refit (refit on train + validation for the chosen epoch count)",
            "dir": str(models),
            "results": components,
        },
        "stages_seconds": stages,
        "wall_seconds": wall,
        "torch_threads": torch.get_num_threads(),
        "peak_rss_mb": peak_rss_mb(),
        "commit": code,
        "machine": machine(),
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": command_line(),
    }
    out = write_result(dataset, result_name(scorer_name), payload)
    m = test.metrics
    print(f"[{dataset}/fusion] TEST Recall@10={m['Recall@10']:.4f} NDCG@10={m['NDCG@10']:.4f} -> {out}", flush=True)
    print(markdown_section(dataset, scorer_name))


def _load(path: Path, threads: int) -> Recommender:
    if not path.is_dir():
        raise SystemExit(f"{path} not found: run python -m benchmarks.fusion_components first")
    model = Recommender.load(path)
    if threads:
        model.config.threads = threads
    return model


def result_name(scorer: str) -> str:
    """Result file stem: ``fusion`` (tiger + SASRec) or ``fusion_<scorer>``."""
    return "fusion" if scorer == "sasrec" else f"fusion_{scorer}"


def markdown_section(dataset: str, scorer: str = "sasrec") -> str:
    """A markdown table of the fused model against its two components (test, refit models)."""
    path = RESULTS / dataset / f"{result_name(scorer)}.json"
    if not path.exists():
        return ""
    rec = json.loads(path.read_text())
    rows = [
        "| model | Recall@5 | NDCG@5 | Recall@10 | NDCG@10 | Recall@20 | NDCG@20 |",
        "|---|---|---|---|---|---|---|",
    ]
    named = {f"{n} (component)": c["test_metrics"] for n, c in rec["components"]["results"].items()}
    learned = rec["selection"]["learned"]
    named[f"fusion ({learned['method']}, w = {learned['weight']})"] = rec["metrics"]
    for name, m in named.items():
        cells = " | ".join(f"{m.get(f'{k}@{n}', float('nan')):.4f}" for n in (5, 10, 20) for k in ("Recall", "NDCG"))
        rows.append(f"| {name} | {cells} |")
    cfg = rec["config"]
    note = (
        f"Leave-one-out, full ranking, history kept; union of tiger's top {cfg['generative_k']} and {scorer}'s top "
        f"{cfg['scorer_k']} (target in the union for {rec['selection']['valid_target_in_union']:.1%} of validation "
        f"cases); method and weight chosen on validation NDCG@10; commit {rec['commit']}."
    )
    return f"### Fused re-scoring ({dataset})\n\n" + "\n".join(rows) + "\n\n" + note + "\n"


def main() -> None:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="amazon-beauty", help=f"one of {', '.join(DATASETS)}")
    parser.add_argument("--models", default="", help="directory of the component models (fusion_components --out)")
    parser.add_argument("--scorer", default="sasrec", choices=["sasrec", "transition"], help="the second model")
    parser.add_argument("--set", action="append", default=[], help="FusionConfig override key=value")
    parser.add_argument("--valid-only", action="store_true", help="learn on validation and log the trial; no test")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    models = Path(args.models).expanduser() if args.models else default_out(args.dataset)
    run(args.dataset, models, args.scorer, args.set, args.valid_only, args.threads)


if __name__ == "__main__":
    main()
