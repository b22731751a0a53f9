"""Cost of the fidelity checks per item, this tree against another (the code before issue 21), under the same load.

The checks run on every generated draft in the interactive loop and the web service, so their
cost per item matters. Wall time on a shared machine moves with the load, so this runs both code
trees in turn, in fresh processes, on the same items (the first ``--items`` human catalog items,
each as an edit of itself, in batches of ``--batch`` like a loop's drafts), and reports CPU
milliseconds per item (``time.process_time``) beside wall milliseconds, per check and in total.
Index building and model loading happen before the timed part.

    git archive 256ba58 | tar -x -C /tmp/genrec-before   # the tree before issue 21
    OMP_NUM_THREADS=1 python -m benchmarks.fidelity_speed --dataset synthetic --baseline /tmp/genrec-before
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.common import commit, machine, peak_rss_mb, write_result

REPO = Path(__file__).resolve().parent.parent


def worker(dataset: str, n_items: int, batch: int) -> dict[str, Any]:
    """Time the checker of whichever genrec is first on the path (the parent sets PYTHONPATH to a tree's src)."""
    import numpy as np
    import torch

    torch.set_num_threads(1)
    from benchmarks.common import load_benchmark_dataset
    from genrec.config import SyntheticConfig
    from genrec.data.generated import GeneratedItem, Provenance
    from genrec.data.synthetic import generate
    from genrec.fidelity.base import CheckContext
    from genrec.fidelity.checker import FidelityChecker

    ds = generate(SyntheticConfig()) if dataset == "synthetic" else load_benchmark_dataset(dataset)
    items = []
    for r in ds.items.to_dict("records"):
        price = r.get("price")
        prov = Provenance("edit", "catalog-passthrough", "0", user_id="u-speed", source_item_id=str(r["item_id"]))
        items.append(
            GeneratedItem(
                str(r.get("title") or ""),
                str(r.get("description") or ""),
                r.get("brand") or None,
                list(r.get("categories") or []),
                float(price) if isinstance(price, (int, float)) and price == price else None,
                {},
                prov,
            )
        )
    checker = FidelityChecker()
    ctx = CheckContext(catalog=ds.items)
    warm, timed = items[n_items : n_items + 2 * batch], items[:n_items]
    checker.check_many(warm, ctx, attach=False)  # indexes, encoder, classifier
    cpu0, wall0 = time.process_time(), time.perf_counter()
    reports = []
    for i in range(0, len(timed), batch):
        reports += checker.check_many(timed[i : i + batch], ctx, attach=False)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    import genrec

    return {
        "genrec": str(Path(genrec.__file__).resolve().parent),
        "items": len(timed),
        "cpu_ms_per_item": 1000 * cpu / len(timed),
        "wall_ms_per_item": 1000 * wall / len(timed),
        "per_check_wall_ms": {
            c.name: 1000 * float(np.mean([r.checks[c.name].seconds for r in reports])) for c in checker.checks
        },
        "checks": [c.name for c in checker.checks],
    }


def run(tree: Path, args: argparse.Namespace) -> dict[str, Any]:
    """One worker process with ``tree``'s genrec first on the path; its JSON result."""
    cmd = [sys.executable, "-m", "benchmarks.fidelity_speed", "--worker", "--dataset", args.dataset]
    cmd += ["--items", str(args.items), "--batch", str(args.batch)]
    env = {**os.environ, "PYTHONPATH": str(tree / "src")}
    out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    """Alternate the trees, write benchmarks/results/<dataset>/fidelity_speed.json."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", required=True, choices=["synthetic", "amazon-beauty"])
    ap.add_argument("--baseline", type=Path, help="a checkout of the code to compare with")
    ap.add_argument("--items", type=int, default=600)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.dataset, args.items, args.batch)))
        return
    started = time.perf_counter()
    trees = {"this": REPO} | ({"baseline": args.baseline.resolve()} if args.baseline else {})
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in trees}
    for _ in range(args.repeats):
        for name, tree in trees.items():  # alternate, so both see the same load
            runs[name].append(run(tree, args))
            print(name, {k: round(v, 2) for k, v in runs[name][-1].items() if k.endswith("per_item")}, flush=True)
    summary = {
        name: {
            "cpu_ms_per_item": round(statistics.median(r["cpu_ms_per_item"] for r in rs), 3),
            "wall_ms_per_item": round(statistics.median(r["wall_ms_per_item"] for r in rs), 3),
            "per_check_wall_ms": {
                c: round(statistics.median(r["per_check_wall_ms"][c] for r in rs), 3) for c in rs[0]["checks"]
            },
        }
        for name, rs in runs.items()
    }
    payload = {
        "dataset": args.dataset,
        "task": "fidelity checks: cost per item (CPU and wall), this tree against a baseline tree",
        "split": f"first {args.items} human items, each an edit of itself, batches of {args.batch}",
        "baseline_tree": str(args.baseline) if args.baseline else None,
        "summary": summary,
        "runs": runs,
        "wall_seconds": round(time.perf_counter() - started, 2),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "commit": commit(),
        "machine": machine(),
    }
    print(f"wrote {write_result(args.dataset, 'fidelity_speed', payload)}")


if __name__ == "__main__":
    main()
