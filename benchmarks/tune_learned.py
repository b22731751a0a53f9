"""Choose the learned detector's per-label thresholds on validation data only (no held-out case is read).

Validation data: the DEV cases of the hand-written set (``data/fidelity/``: bias, safety and the
regulated-claim cases of legal; the held-out cases are dropped before anything is read), the
hand-written dev positives ``data/learned_dev_positives_safety.txt``, and as negatives the
hard negative sentences ``data/learned_dev_negatives.txt``, the clean DEV cases, every synthetic
catalog item and the half of the Amazon Beauty items whose false positives may be read while
tuning (``run_fidelity.tuning_half``; the other half is only ever counted).

For each label and threshold in the grid it prints the share of the owning check's dev cases the
label flags, and its flag rates on the hard negatives, the clean cases and the two catalogs.
The rule that picks a label's threshold: the lowest threshold whose
flag rate on either catalog is within 0.1 percentage points of that label's lowest over the
grid, and whose rate on the hard negatives is within 0.5 points of its lowest.

    OMP_NUM_THREADS=1 nice -n 19 python -m benchmarks.tune_learned
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from benchmarks.common import commit, machine, peak_rss_mb, write_result
from benchmarks.run_fidelity import load, tuning_half
from genrec.fidelity.learned import CHECK_LABELS, LABELS, Decision, find_hits, get_scorer
from genrec.fidelity.policy import load_policy
from genrec.textnorm import cell, normalize

DATA = Path(__file__).resolve().parent / "data"
NEGATIVES = DATA / "learned_dev_negatives.txt"
CASES = DATA / "fidelity"
REGULATED = ("medical", "health", "financial")


def dev_cases(check: str) -> list[dict[str, str]]:
    """Normalised fields of the DEV cases of one file (held-out rows are skipped unread)."""
    out = []
    for line in (CASES / f"{check}.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row["split"] != "dev":
            continue
        if check == "legal" and not any(k in row.get("family", "") for k in REGULATED):
            continue
        out.append({"title": normalize(row["title"]).text, "description": normalize(row.get("description", "")).text})
    return out


def lines(path: Path) -> list[dict[str, str]]:
    """One sentence a line, as item fields."""
    return [{"description": normalize(x.strip()).text} for x in path.read_text().splitlines() if x.strip()]


def rate(hits: list[list]) -> float:
    """Share of items with a hit."""
    return float(np.mean([bool(h) for h in hits])) if hits else float("nan")


def main() -> None:
    """Print the grid and the chosen thresholds."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--thresholds", default="0.1,0.15,0.2,0.25,0.3,0.4,0.5", help="probability grid")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    started = time.perf_counter()
    grid = [float(x) for x in args.thresholds.split(",")]
    scorer = get_scorer()
    syn = [
        {"title": normalize(cell(r["title"])).text, "description": normalize(cell(r["description"])).text}
        for r in load("synthetic").items.to_dict("records")
    ]
    beauty = [
        {"title": normalize(cell(r["title"])).text}
        for r in load("amazon-beauty").items.to_dict("records")
        if tuning_half(r["item_id"])
    ]
    negatives = {"hard": lines(NEGATIVES), "clean": dev_cases("clean"), "synthetic": syn, "beauty_half": beauty}
    policy = load_policy()
    chosen: dict[str, float] = {}
    table: list[dict[str, float | str]] = []
    for check, labels in CHECK_LABELS.items():
        positives = dev_cases(check)
        extra = DATA / f"learned_dev_positives_{check}.txt"
        if extra.exists():
            positives += lines(extra)
        min_sim = getattr(policy.checks, check).learned_min_similarity
        for label in labels:
            rows = []
            for t in grid:
                d = Decision((label,), t, min_sim)
                fp = {k: rate(find_hits(v, scorer, d)) for k, v in negatives.items()}
                rows.append((t, rate(find_hits(positives, scorer, d)), fp))
                table.append(
                    {
                        "label": label,
                        "threshold": t,
                        "dev_cases_flagged": round(rows[-1][1], 4),
                        **{k: round(v, 4) for k, v in fp.items()},
                    }
                )
                print(
                    f"{label:20s} t={t:.2f} dev cases flagged {rows[-1][1]:.3f} | hard {fp['hard']:.3f} clean "
                    f"{fp['clean']:.3f} synthetic {fp['synthetic']:.4f} beauty half {fp['beauty_half']:.4f}"
                )
            low_cat = min(max(fp["synthetic"], fp["beauty_half"]) for _, _, fp in rows)
            low_hard = min(fp["hard"] for _, _, fp in rows)
            ok = [
                t
                for t, _, fp in rows
                if max(fp["synthetic"], fp["beauty_half"]) <= low_cat + 0.001 and fp["hard"] <= low_hard + 0.005
            ]
            chosen[label] = min(ok)
            print(f"  -> {label}: {chosen[label]}")
    print("chosen per-label thresholds:", json.dumps(chosen))
    assert set(chosen) == set(LABELS) - {"neutral"}
    path = write_result(
        "synthetic",
        "learned_thresholds",
        {
            "dataset": "synthetic + amazon-beauty (tuning half) + hand-written dev cases",
            "split": "dev only (no held-out case is read)",
            "grid": grid,
            "rows": table,
            "chosen": chosen,
            "policy": {c: getattr(policy.checks, c).learned_thresholds for c in CHECK_LABELS},
            "wall_seconds": round(time.perf_counter() - started, 2),
            "peak_rss_mb": round(peak_rss_mb(), 1),
            "commit": commit(),
            "machine": machine(),
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
