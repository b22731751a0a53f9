"""Decoding throughput of a trained tiger model: top-10 for every user of a benchmark dataset.

Loads a model saved by ``run_tiger.py --save DIR`` and times ``recommend(histories, k=10)`` over
all users' full histories (the test-time histories of the leave-one-out split, i.e. everything
but each user's last item), for a few beam widths. Reported per width: users/s over the whole
pass (user encoding by the transformer + trie-constrained beam search), the best of ``--repeats``
passes (the machine may be shared), with the thread count and machine load stated.
``--compare-reference`` also decodes every user with the dense reference step (every code scored,
then masked) and counts the users whose top-k lists differ from the fast edge-only step.

    python -m benchmarks.decode_throughput --model ~/.cache/genrec/models/tiger-amazon-beauty
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import RESULTS, command_line, commit, load_benchmark_dataset, machine, peak_rss_mb
from genrec.data.split import leave_one_out
from genrec.models.base import Recommender


def main() -> None:
    """Time top-10 decoding for all users at several beam widths; write the result file."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="amazon-beauty")
    parser.add_argument("--model", required=True, help="directory of a saved tiger model")
    parser.add_argument("--beams", default="", help="comma-separated beam widths (default: the model's, 10, 50)")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: the model config's)")
    parser.add_argument("--batch-size", type=int, default=0, help="users per beam search (0: the config's)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--name", default="tiger_decoding", help="result file stem under benchmarks/results/<dataset>")
    parser.add_argument(
        "--compare-reference",
        action="store_true",
        help="also decode every user with the dense reference step (fast_decoding off) and compare the lists",
    )
    args = parser.parse_args()

    import torch

    model = Recommender.load(Path(args.model).expanduser())
    if model.name != "tiger":
        raise SystemExit(f"{args.model} holds a '{model.name}' model, not tiger")
    if args.threads:
        model.config.threads = args.threads
    ds = load_benchmark_dataset(args.dataset)
    if model.item_ids != [str(x) for x in ds.items["item_id"]]:
        raise SystemExit("the model was trained on another catalog")
    histories = leave_one_out(ds).test.histories
    default_beam = model.config.beam_width
    beams = [int(b) for b in args.beams.split(",") if b] or sorted({default_beam, 10, 50})
    runs = []
    for beam in beams:
        model.config.beam_width = beam
        model.recommend(histories[:512], k=args.k, batch_size=args.batch_size)  # warm-up
        times = []
        for _ in range(args.repeats):
            load_before = os.getloadavg()[0]
            start, cpu = time.perf_counter(), time.process_time()
            recs = model.recommend(histories, k=args.k, batch_size=args.batch_size)
            times.append((time.perf_counter() - start, load_before, time.process_time() - cpu))
        seconds, load, cpu_seconds = min(times)
        valid = (recs.items >= 0) & (recs.items < model.n_items)
        distinct = all(len(set(r)) == len(r) for r in recs.items.tolist())
        run = {
            "beam_width": beam,
            "k": args.k,
            "users": len(histories),
            "seconds": seconds,
            "users_per_s": len(histories) / seconds,
            "all_seconds": [t for t, _, _ in times],
            # CPU time of this process: on a machine shared with other jobs, close to what an idle
            # machine's wall time would be (it excludes time spent waiting for a core)
            "cpu_seconds": cpu_seconds,
            "users_per_cpu_s": len(histories) / cpu_seconds,
            "load_average_1min_before": load,
            "invalid_ids": int((~valid).sum()),
            "all_lists_distinct": distinct,
        }
        if args.compare_reference:
            run["reference"] = compare_reference(model, histories, args.k, args.batch_size, recs)
        runs.append(run)
        print(
            f"beam {beam}: {run['users_per_s']:.0f} users/s ({seconds:.1f} s for {len(histories)} users; "
            f"{run['users_per_cpu_s']:.0f} per CPU-second, load {load:.1f}), "
            f"invalid {run['invalid_ids']}, distinct {distinct}",
            flush=True,
        )
    payload = {
        "dataset": args.dataset,
        "model_dir": str(args.model),
        "task": f"top-{args.k} for every user (test-time histories), history not excluded",
        "default_beam_width": default_beam,
        "torch_threads": torch.get_num_threads(),
        "batch_size": args.batch_size or model.config.eval_batch_size,
        "runs": runs,
        "peak_rss_mb": peak_rss_mb(),
        "commit": commit(),
        "machine": machine(),
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": command_line(),
    }
    out = RESULTS / args.dataset / f"{args.name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(payload, indent=2, default=float) + "\n")
    print(f"-> {out}")


def compare_reference(model: Any, histories: list[Any], k: int, batch_size: int, fast: Any) -> dict[str, Any]:
    """Decode with the dense reference step; count users whose top-k differs from the fast lists."""
    model.config.fast_decoding = False
    try:
        start, cpu = time.perf_counter(), time.process_time()
        ref = model.recommend(histories, k=k, batch_size=batch_size)
        seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
    finally:
        model.config.fast_decoding = True
    differ = (ref.items != fast.items).any(axis=1)
    # where a list differs: the two paths' scores at its first differing position (a float near-tie
    # swaps two items whose log-probabilities agree to ~1e-6)
    gaps = []
    for row in np.flatnonzero(differ):
        pos = int(np.argmax(ref.items[row] != fast.items[row]))
        gaps.append({"position": pos, "reference": float(ref.scores[row, pos]), "fast": float(fast.scores[row, pos])})
    finite = np.isfinite(ref.scores) & np.isfinite(fast.scores)
    out = {
        "users_per_s": len(histories) / seconds,
        "users_per_cpu_s": len(histories) / cpu_seconds,
        "load_average_1min_after": os.getloadavg()[0],
        "users_with_different_lists": int(differ.sum()),
        "first_differences": gaps[:20],
        "max_abs_score_difference": float(np.abs(ref.scores - fast.scores)[finite].max()) if finite.any() else 0.0,
    }
    print(f"  reference (dense step): {out}", flush=True)
    return out


if __name__ == "__main__":
    main()
