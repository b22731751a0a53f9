"""Loader limits: inputs at the edge of what the loaders meet, timed (wall and CPU) and checked.

``python -m benchmarks loader-limits`` writes ``benchmarks/results/reliability/loader_limits.json``:
a MiniOneRec CSV whose one history lists 2M items, a CSV log with a 30 MB field (longer than
pyarrow's block), and a sequence file of 5000 lines whose last line holds invalid UTF-8 (the
error must name that line).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import command_line, commit, machine, peak_rss_mb, write_result
from genrec.data import DataFormatError
from genrec.data.loaders import load


def _timed(kind: str, path: Path, **options: Any) -> dict[str, Any]:
    wall, cpu = time.perf_counter(), time.process_time()
    outcome: dict[str, Any] = {}
    try:
        ds = load(kind, path, **options)
        outcome = {"loaded": True, "users": ds.n_users, "items": ds.n_items, "interactions": ds.n_interactions}
    except DataFormatError as err:
        outcome = {"loaded": False, "error": str(err), "line": err.line}
    return {
        **outcome,
        "wall_seconds": round(time.perf_counter() - wall, 2),
        "cpu_seconds": round(time.process_time() - cpu, 2),
        "file_mb": round(path.stat().st_size / 2**20, 1),
    }


def main() -> None:
    """Build each input in a temporary folder, load it, record time and outcome."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--history", type=int, default=2_000_000, help="items in the long MiniOneRec history")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        history = "[" + ", ".join(f"'{i}'" for i in range(args.history)) + "]"
        long_csv = root / "train.csv"
        long_csv.write_text(f'user_id,history_item_id,item_id\nu1,"{history}",x\nu2,"[\'1\']",2\n')
        results["minionerec_long_history"] = {"history_items": args.history, **_timed("minionerec", long_csv)}
        wide = root / "log.csv"
        wide.write_text("user_id,item_id,note\nu1,a," + "x" * (30 << 20) + "\nu1,b,short\n")
        results["table_30mb_field"] = _timed("table", wide)
        bad = root / "seq.txt"
        bad.write_bytes(b"".join(b"u%d a b c\n" % i for i in range(4999)) + b"u5000 \xff\xfe b\n")
        results["sequence_invalid_utf8_line_5000"] = _timed("sequence", bad)
    payload = {
        "dataset": "reliability",
        "split": "n/a (generated edge-case inputs)",
        "commit": commit(),
        "machine": machine(),
        "command": command_line(),
        "wall_seconds": time.perf_counter() - start,
        "peak_rss_mb": peak_rss_mb(),
        "results": results,
    }
    print(results)
    print(f"wrote {write_result('reliability', 'loader_limits', payload)}")


if __name__ == "__main__":
    main()
