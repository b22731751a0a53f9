"""Choose the floor of the loop's segment selection on VALIDATION users (never test).

run_generation.py's selection section, on the leave-one-out validation cases whose target has 2
or more segments: the recommender's choice (``select_segments(method="recommender")``) under each
``FLOORS`` value, against the first and a random segment, on Cosine@10 and PS@10 with paired
bootstrap intervals. The data and the recommender are those of select_rewrite.py (train+validation
interactions split again; tiger trained on the train split only). Writes
benchmarks/results/<dataset>/selection_floor.json.

    python -m benchmarks.select_selection --dataset synthetic --models-dir /tmp/genbench-models
    python -m benchmarks.select_selection --dataset amazon-beauty --models-dir /tmp/genbench-models
"""

from __future__ import annotations

import json
import tempfile
import time
from typing import Any

import numpy as np

from benchmarks import run_generation as rg
from benchmarks.common import command_line, commit, machine, peak_rss_mb, write_result
from benchmarks.select_rewrite import validation_cases, validation_parser
from genrec.generation.selection import FLOORS, select_segments


def main() -> None:
    """Parse arguments, score every floor's selection on validation users, write the result."""
    args = validation_parser(__doc__, users=200).parse_args()
    start = time.perf_counter()
    data, valid, tiger, source = validation_cases(args.dataset, args.models_dir, args.threads)
    with tempfile.TemporaryDirectory(prefix="genrec-select-") as scratch:
        tiger.config.encoder.cache_dir = scratch
        bench = rg.build_bench(data, valid, tiger, args.users, args.seed, args.threads, scratch, min_segments=2)
        texts = [bench.corpus[t] for t in bench.targets]
        seg_scores = rg.segment_scores(bench, texts)
        vectors = bench.user_vectors["hist_text"]
        choices = {
            f"recommender, floor {f}": dict(method="recommender", segment_scores=seg_scores, floor=f) for f in FLOORS
        }
        choices |= {"first segment": dict(method="first"), "random segment": dict(method="random")}
        rows = np.arange(bench.n)
        scored = {}
        for name, kwargs in choices.items():
            segs = select_segments(texts, vectors, bench.fresh, rng=bench.seed, **kwargs)
            records = [
                {"title": s.text, "description": "", **bench.source_fields(i)} for s, i in zip(segs, bench.targets)
            ]
            out = rg.Output(rows, [s.text for s in segs], records, np.zeros(bench.n))
            scored[name] = rg.score_output(bench, out, edit=False)
            print(name, {m: round(float(scored[name].values[m].mean()), 4) for m in ("Cosine@10", "PS@10")}, flush=True)
    results: dict[str, Any] = {}
    for f in FLOORS:
        name = f"recommender, floor {f}"
        results[f] = {
            "Cosine@10": float(scored[name].values["Cosine@10"].mean()),
            "PS@10": float(scored[name].values["PS@10"].mean()),
            "vs": {
                base: {
                    m: rg.paired_diff(scored[name].values[m], scored[base].values[m]) for m in ("Cosine@10", "PS@10")
                }
                for base in ("first segment", "random segment")
            },
        }
    baselines = {
        b: {m: float(scored[b].values[m].mean()) for m in ("Cosine@10", "PS@10")}
        for b in ("first segment", "random segment")
    }
    payload = {
        "dataset": args.dataset,
        "users": bench.n,
        "cases": "leave-one-out VALIDATION cases, 2+ segments",
        "recommender": source,
        "floors": results,
        "baselines": baselines,
        "wall_seconds": time.perf_counter() - start,
        "peak_rss_mb": peak_rss_mb(),
        "commit": commit(),
        "machine": machine(),
        "command": command_line(),
    }
    print(
        json.dumps(
            {
                f: {
                    b: {m: [round(v[k], 4) for k in ("diff", "lo", "hi")] for m, v in d.items()}
                    for b, d in r["vs"].items()
                }
                for f, r in results.items()
            },
            indent=1,
        )
    )
    print("->", write_result(args.dataset, "selection_floor", payload))


if __name__ == "__main__":
    main()
