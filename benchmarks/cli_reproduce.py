"""Reproduce a benchmark number with the command line alone: ``genrec fit`` then ``genrec evaluate``.

``genrec fit`` runs the protocol the benchmark scripts run (``genrec.protocol.fit_protocol``), so
on a benchmark dataset, with the dataset's settings file, it must give the test metrics of
``benchmarks/results/<dataset>/<model>.json``. This script runs the two commands as a user would
(one process each), then compares the metrics ``genrec evaluate`` prints on the saved model with
the ones the fit recorded and with the benchmark's result file, and writes
``benchmarks/results/<dataset>/<model>_cli.json`` (commands, metrics, differences, commit,
machine, wall time, the commands' peak memory).

    python -m benchmarks.cli_reproduce --dataset amazon-beauty --model sasrec --set threads=1
"""

from __future__ import annotations

import argparse
import json
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import DATA_ROOT, DATASETS, RESULTS, command_line, commit, machine, settings_file, write_result

KEYS = ("Recall@5", "NDCG@5", "Recall@10", "NDCG@10", "Recall@20", "NDCG@20", "MRR@10", "Coverage@10")


def data_args(dataset: str) -> list[str]:
    """``--data KIND:PATH --opt key=value ...``: the benchmark dataset as the CLI loads it."""
    spec = DATASETS[dataset]
    args = ["--data", f"{spec['kind']}:{DATA_ROOT / spec['path']}", "--opt", f"name={dataset}"]
    for key, rel in spec["options"].items():
        args += ["--opt", f"{key}={DATA_ROOT / rel}"]
    for key, value in spec.get("values", {}).items():
        args += ["--opt", f"{key}={value}"]
    return args


def genrec(args: list[str]) -> tuple[dict[str, Any], float, str]:
    """Run ``genrec ARGS --json``; its JSON output, wall seconds and the command line."""
    cmd = [str(Path(sys.executable).with_name("genrec")), *args, "--json"]
    began = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - began
    if proc.returncode:
        raise SystemExit(f"{shlex.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout), seconds, shlex.join(["genrec", *args, "--json"])


def section(dataset: str, r: dict[str, Any]) -> str:
    """Markdown for BENCHMARKS.md (``make_tables.extra_sections("<model>_cli", section)``)."""
    bench = r.get("benchmark_metrics") or {}
    keys = [k for k in KEYS if k in r["metrics"]]
    refit = r.get("refit")
    how = f"refit on {refit['data']} for {refit['epochs']} epochs" if refit else "fit on the training split"
    lines = [
        f"**{r['model']} on {dataset} from the command line alone** (`genrec fit`, {how}, then `genrec evaluate`):",
        "",
        "| run | " + " | ".join(keys) + " |",
        "|---|" + "---|" * len(keys),
        "| `genrec evaluate` | " + " | ".join(f"{r['metrics'][k]:.4f}" for k in keys) + " |",
        f"| `{r['benchmark_file']}` | " + " | ".join(f"{bench[k]:.4f}" if k in bench else "–" for k in keys) + " |",
        "",
        f"Identical to the benchmark file: {'yes' if not r.get('differences_from_benchmark') else 'no'}; "
        f"`genrec evaluate` equals what the fit recorded: {'yes' if r['evaluate_equals_fit_record'] else 'no'}. "
        f"Commit {r['commit'][:12]}, {r['wall_seconds']:.0f} s wall, peak {r['peak_rss_mb']:.0f} MiB. "
        f"Commands: `{r['commands']['fit']}`; `{r['commands']['evaluate']}`.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    """Fit and evaluate by the CLI, compare, write the result file."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="amazon-beauty", help=f"one of {', '.join(DATASETS)}")
    parser.add_argument("--model", default="sasrec")
    parser.add_argument("--set", action="append", default=[], help="config override key=value (passed to genrec fit)")
    parser.add_argument("--out", default="", help="where genrec fit saves the model (default: a temporary folder)")
    args = parser.parse_args()
    tmp = tempfile.TemporaryDirectory(prefix="genrec-cli-") if not args.out else None
    out = Path(args.out or (tmp.name if tmp else "")) / f"{args.model}-{args.dataset}"
    data = data_args(args.dataset)
    sets = [a for s in args.set for a in ("--set", s)]
    start = time.perf_counter()
    fitted, fit_seconds, fit_cmd = genrec(
        ["fit", args.model, *data, "--settings", str(settings_file(args.dataset)), *sets, "--out", str(out)]
    )
    evaluated, eval_seconds, eval_cmd = genrec(["evaluate", str(out), *data])
    recorded = fitted["fit_info"]["protocol"]["test_metrics"]
    measured = evaluated["metrics"]
    bench_file = RESULTS / args.dataset / f"{args.model}.json"
    bench = json.loads(bench_file.read_text()) if bench_file.exists() else None
    payload: dict[str, Any] = {
        "dataset": args.dataset,
        "model": args.model,
        "commands": {"fit": fit_cmd, "evaluate": eval_cmd},
        "metrics": measured,
        "fit_recorded_test_metrics": recorded,
        "evaluate_equals_fit_record": measured == recorded,
        "refit": fitted["fit_info"]["protocol"]["refit"],
        "selection_chosen": fitted["fit_info"]["protocol"]["selection"]["chosen"],
        "benchmark_file": str(bench_file.relative_to(RESULTS.parents[1])),
        "benchmark_commit": bench.get("commit") if bench else None,
        "benchmark_metrics": {k: bench["metrics"].get(k) for k in KEYS} if bench else None,
        "differences_from_benchmark": (
            {
                k: measured[k] - bench["metrics"][k]
                for k in KEYS
                if k in bench["metrics"] and measured[k] != bench["metrics"][k]
            }
            if bench
            else None
        ),
        "fit_seconds": fit_seconds,
        "evaluate_seconds": eval_seconds,
        "wall_seconds": time.perf_counter() - start,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0,  # the largest command
        "commit": commit(),
        "machine": machine(),
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "command": command_line(),
    }
    path = write_result(args.dataset, f"{args.model}_cli", payload)
    m = measured
    print(
        f"[{args.dataset}/{args.model}] CLI TEST Recall@10={m['Recall@10']:.4f} NDCG@10={m['NDCG@10']:.4f} "
        f"(benchmark: {payload['benchmark_metrics']}); evaluate == fit record: {payload['evaluate_equals_fit_record']}; "
        f"differences: {payload['differences_from_benchmark']} -> {path}",
        flush=True,
    )
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
