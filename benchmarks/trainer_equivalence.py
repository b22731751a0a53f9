"""Same seed, same numbers: genrec's trained models before and after the shared trainer / typed configs.

``benchmarks/equivalence_cases.py`` trains SASRec (full softmax with random crops, lr decay and a
validation subset; sampled bce; early stopping by patience; eval_every 2), tiger (RQ-KMeans codes
with SVD mixing, RQ-VAE codes, early stopping), the RQ-VAE tokenizer and the text generator on
small synthetic data with fixed seeds, and refits SASRec and tiger on train + validation for the
chosen epochs. This script runs it twice, in separate processes and on one torch thread: with the
genrec of ``--before`` (a commit, extracted by ``git archive``) and with this tree, then compares
every metric, per-epoch loss / validation NDCG / learning rate, semantic ID and sampled text, and
writes ``benchmarks/results/synthetic/trainer_equivalence.json``.

    python -m benchmarks.trainer_equivalence --before 1dae0f0
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import REPO, Timer, command_line, commit, machine, write_result

CASES = Path(__file__).resolve().with_name("equivalence_cases.py")


def differences(before: Any, after: Any, path: str = "") -> list[str]:
    """Every place the two results differ (values compared exactly; keys only ``after`` has are ``added``)."""
    if isinstance(before, dict) and isinstance(after, dict):
        out = [f"{path}/{k}: only before" for k in before if k not in after]
        return out + [d for k in before if k in after for d in differences(before[k], after[k], f"{path}/{k}")]
    if isinstance(before, list) and isinstance(after, list):
        if len(before) != len(after):
            return [f"{path}: {len(before)} entries before, {len(after)} after"]
        return [d for i, (a, b) in enumerate(zip(before, after)) for d in differences(a, b, f"{path}[{i}]")]
    return [] if before == after else [f"{path}: {before!r} -> {after!r}"]


def added(before: Any, after: Any) -> set[str]:
    """Keys the newer history entries record that the older ones did not (e.g. lr on every epoch)."""
    if isinstance(before, dict) and isinstance(after, dict):
        return {k for k in after if k not in before} | {
            a for k in before if k in after for a in added(before[k], after[k])
        }
    if isinstance(before, list) and isinstance(after, list):
        return {a for x, y in zip(before, after) for a in added(x, y)}
    return set()


def run_cases(src: Path, out: Path) -> float:
    """Run the cases with the genrec at ``src`` on the path; wall seconds."""
    env = {**os.environ, "PYTHONPATH": str(src), "OMP_NUM_THREADS": "1"}
    with Timer() as t:
        proc = subprocess.run([sys.executable, str(CASES), str(out)], env=env, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"the cases failed with {src}:\n{proc.stderr[-3000:]}")
    return t.seconds


def section(dataset: str, r: dict[str, Any]) -> str:
    """Markdown for BENCHMARKS.md (``make_tables.extra_sections("trainer_equivalence", section)``)."""
    same = [n for n, c in r["cases"].items() if c["identical"]]
    lines = [
        f"**Same seed, same numbers** ({dataset}, `python -m benchmarks.trainer_equivalence`): "
        f"{len(same)} of {len(r['cases'])} fixed-seed trainings give exactly the metrics, per-epoch losses, "
        f"validation NDCG@10 and learning rates, semantic IDs and sampled texts of commit {r['before_commit'][:12]} "
        f"(before the shared trainer and the typed configs) at commit {r['commit'][:12]}.",
        "",
        "| case | identical | test NDCG@10 | epochs (best) |",
        "|---|---|---|---|",
    ]
    for name, case in r["cases"].items():
        got = r["after"].get(name, {})
        ndcg = got.get("metrics", {}).get("NDCG@10")
        epochs = f"{got['epochs']} ({got['best_epoch']})" if got.get("epochs") is not None else "–"
        same_cell = "yes" if case["identical"] else "**no**"
        lines.append(f"| {name} | {same_cell} | {'–' if ndcg is None else f'{ndcg:.4f}'} | {epochs} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    """Extract the old tree, run both, compare, write the result."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", default="1dae0f0", help="the commit to compare with (before the shared trainer)")
    args = parser.parse_args()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="genrec-before-") as tmp:
        archive = Path(tmp) / "before.tar"
        with archive.open("wb") as f:
            subprocess.run(["git", "archive", args.before, "src"], cwd=REPO, stdout=f, check=True)
        with tarfile.open(archive) as tar:
            tar.extractall(Path(tmp) / "before", filter="data")
        seconds = {"before": run_cases(Path(tmp) / "before" / "src", Path(tmp) / "before.json")}
        seconds["after"] = run_cases(REPO / "src", Path(tmp) / "after.json")
        before = json.loads((Path(tmp) / "before.json").read_text())
        after = json.loads((Path(tmp) / "after.json").read_text())
    cases = {
        name: {
            "identical": not (diff := differences(before[name], after.get(name))),
            "differences": diff[:20],
            "keys_added": sorted(added(before[name], after.get(name))),
        }
        for name in before
    }
    before_commit = subprocess.run(
        ["git", "rev-parse", args.before], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.strip()
    payload = {
        "dataset": "synthetic",
        "what": "fixed-seed trainings (equivalence_cases.py) with the genrec of two commits; values compared exactly",
        "before_commit": before_commit,
        "identical": all(c["identical"] for c in cases.values()),
        "cases": cases,
        "after": after,
        "seconds": seconds,
        "wall_seconds": time.perf_counter() - start,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0,
        "commit": commit(),
        "machine": machine(),
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": command_line(),
    }
    path = write_result("synthetic", "trainer_equivalence", payload)
    same = [n for n, c in cases.items() if c["identical"]]
    print(f"identical: {len(same)} of {len(cases)} cases ({', '.join(same)}) -> {path}")
    for name, case in cases.items():
        if not case["identical"]:
            print(f"  {name}: " + "; ".join(case["differences"][:5]))


if __name__ == "__main__":
    main()
