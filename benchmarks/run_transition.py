"""Benchmark the training-free item-transition graph (``transition``) on a dataset.

Protocol as run_baselines.py: leave-one-out, full ranking over the whole catalog, pessimistic
ties, history kept (``--exclude-history``: removed, the HSTU protocol; the result file then ends in
``_exclude_history``). The settings are chosen on the validation split only, by a grid searched one
coordinate at a time from the defaults (``GRID``, two passes: the full product would be 3,456
points, too many for ``fit_protocol``'s exhaustive grid), each point scored by
``genrec.protocol.fit_protocol`` (fit on train, NDCG@10 on the full validation split, no test).
The chosen graph is then rebuilt from train + validation interactions (it has no epochs to choose,
so this is its "refit": ``fit_protocol(..., refit_data=split.train_valid)``) and evaluated on test
once. The figures of the graph built from the training split alone are kept too.

    python -m benchmarks.run_transition --dataset amazon-beauty
"""

from __future__ import annotations

import argparse
import json
import time
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
    protocol,
    result_stem,
    write_result,
)
from genrec.config import TransitionConfig, config_to_dict
from genrec.data.split import leave_one_out
from genrec.protocol import fit_protocol

#: Values tried per setting on validation (coordinate ascent from the TransitionConfig defaults).
GRID: dict[str, list[Any]] = {
    "window": [1, 2, 3, 5],
    "gap_decay": [0.3, 0.5, 0.8],
    "reverse_weight": [0.0, 0.1, 0.3, 0.6],
    "two_hop": [0.0, 0.1, 0.3],
    "recency_decay": [0.2, 0.4, 0.6, 0.8],
    "max_history": [3, 10, 50],
    "popularity_weight": [0.0, 1e-3],
}


def run(dataset: str, exclude_history: bool, passes: int) -> None:
    """Coordinate-ascent search on validation, rebuild on train + valid, test once, write the result."""
    start = time.perf_counter()
    code = commit()  # the code that runs is the code at the start (the tree may change during a long run)
    ds = load_benchmark_dataset(dataset)
    split = leave_one_out(ds)
    assert split.train_valid is not None
    eval_cfg = protocol(exclude_history)
    scored: dict[tuple[tuple[str, Any], ...], float] = {}
    trials: list[dict[str, Any]] = []

    def valid_ndcg(settings: dict[str, Any]) -> float:
        key = tuple(sorted(settings.items()))
        if key not in scored:
            with Timer() as t:
                res = fit_protocol("transition", split, settings, eval_config=eval_cfg, test=False, progress=False)
            scored[key] = res.valid_metrics["NDCG@10"]
            trials.append({"settings": dict(settings), **res.valid_metrics, "seconds": t.seconds})
            print(f"[{dataset}/transition] {settings} valid NDCG@10={scored[key]:.4f} ({t.seconds:.0f}s)", flush=True)
        return scored[key]

    best: dict[str, Any] = {}
    for _ in range(passes):
        for name, values in GRID.items():
            pick = max(values, key=lambda v: (valid_ndcg({**best, name: v}), -values.index(v)))
            best[name] = pick
    # the graph of the training split alone: its validation figures, and its test figures for transparency
    chosen = fit_protocol("transition", split, best, eval_config=eval_cfg, progress=False)
    assert chosen.test is not None
    with Timer() as fit_t:
        final = fit_protocol(
            "transition", split, best, eval_config=eval_cfg, refit_data=split.train_valid, progress=False
        )
    model, test = final.model, final.test
    assert test is not None
    payload = {
        "dataset": dataset,
        "dataset_source": DATASETS[dataset]["source"],
        "dataset_stats": ds.stats().to_dict(),
        "model": "transition",
        "split": split.describe(),
        "protocol": test.protocol,
        "metrics": test.metrics,
        "valid_metrics": chosen.valid_metrics,
        "config": config_to_dict(model.config),
        "defaults": config_to_dict(TransitionConfig()),
        "selection": {
            "criterion": "valid NDCG@10, coordinate ascent over GRID from the defaults",
            "grid": GRID,
            "passes": passes,
            "trials": trials,
            "chosen": best,
        },
        "refit": {"data": "train+valid", "fit_seconds": final.fit_seconds, "protocol_seconds": fit_t.seconds},
        "test_metrics_before_refit": chosen.test.metrics,
        "fit_seconds": final.fit_seconds,
        "wall_seconds": time.perf_counter() - start,
        "peak_rss_mb": peak_rss_mb(),
        "commit": code,
        "machine": machine(),
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": command_line(),
    }
    out = write_result(dataset, result_stem("transition", exclude_history), payload)
    m = test.metrics
    print(
        f"[{dataset}/transition] chosen {best}: TEST Recall@10={m['Recall@10']:.4f} NDCG@10={m['NDCG@10']:.4f} "
        f"wall {payload['wall_seconds']:.0f}s peak {payload['peak_rss_mb']:.0f} MiB -> {out}",
        flush=True,
    )


def markdown_section(datasets: tuple[str, ...] = ("amazon-beauty", "lastfm", "ml-1m")) -> str:
    """A markdown table: the transition graph beside the other models' result files, per dataset."""
    rows = [
        "| dataset | model | protocol | Recall@10 | NDCG@10 | Recall@20 | NDCG@20 | fit s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for dataset in datasets:
        folder = RESULTS / dataset
        names = ["popularity", "itemknn", "sasrec", "tiger", "transition", "transition_exclude_history"]
        for name in names:
            path = folder / f"{name}.json"
            if not path.exists():
                continue
            rec = json.loads(path.read_text())
            m = rec["metrics"]
            protocol = "history excluded" if rec["protocol"].get("exclude_history") else "history kept"
            cells = " | ".join(f"{m[k]:.4f}" for k in ("Recall@10", "NDCG@10", "Recall@20", "NDCG@20"))
            rows.append(f"| {dataset} | {rec['model']} | {protocol} | {cells} | {rec.get('fit_seconds', 0):.0f} |")
    note = (
        "Leave-one-out, full ranking, pessimistic ties; transition settings chosen on validation NDCG@10 "
        "(run_transition.py), graph rebuilt on train + validation for test."
    )
    return "### Item-transition graph\n\n" + "\n".join(rows) + "\n\n" + note + "\n"


def main() -> None:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="amazon-beauty", help=f"one of {', '.join(DATASETS)}")
    parser.add_argument("--exclude-history", action="store_true", help="remove history items from the ranking")
    parser.add_argument("--passes", type=int, default=2, help="coordinate-ascent passes over GRID")
    parser.add_argument("--table", action="store_true", help="only print the markdown section")
    args = parser.parse_args()
    if not args.table:
        run(args.dataset, args.exclude_history, args.passes)
    print(markdown_section())


if __name__ == "__main__":
    main()
