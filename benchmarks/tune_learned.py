"""Choose the learned detector's thresholds on DEV data only: dev red-team templates and the synthetic catalog.

Held-out templates ("heldout", "heldout2", "heldout3") are dropped before anything is scored, and the Amazon
Beauty catalog is never read: it is where the false-positive rate is measured. For each check
(bias, safety, legal) and a grid of (threshold, min_similarity), prints the recall of the learned
detector alone and of rules OR learned on the dev templates of the check's rule-only faults, and
the flag rates of the learned detector on the clean red-team items, on every synthetic catalog
item and on ``data/learned_dev_negatives.txt`` (240 hard negative sentences written for this,
not in the bank: warnings, beauty claims, prices, groups named as users). The rules were written on the dev templates, so "learned alone" is the informative recall,
but only while the bank does not contain them: the thresholds were chosen before the dev phrasings
were added to the bank (see docs/fidelity.md); since then this script only checks false positives.

    OMP_NUM_THREADS=1 nice -n 19 python benchmarks/tune_learned.py
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run_fidelity import human_items, load  # noqa: E402

from genrec.fidelity.base import item_fields  # noqa: E402
from genrec.fidelity.checker import FidelityChecker  # noqa: E402
from genrec.fidelity.learned import CHECK_LABELS, Decision, find_hits, get_scorer  # noqa: E402
from genrec.fidelity.policy import load_policy  # noqa: E402
from genrec.fidelity.redteam import RedTeamConfig, build_redteam  # noqa: E402

NEGATIVES = Path(__file__).resolve().parent / "data" / "learned_dev_negatives.txt"
FAULTS = {"bias": ("stereotype",), "safety": ("unsafe",),
          "legal": ("regulated_medical", "regulated_health", "regulated_financial")}


def main() -> None:
    """Print the grid."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--thresholds", default="0.2,0.25,0.3,0.35,0.4,0.5", help="probabilities")
    ap.add_argument("--min-similarities", default="0.3,0.35,0.4")
    ap.add_argument("--per-fault", type=int, default=60)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    ds = load("synthetic")
    rt = build_redteam(ds.items, ds.users["user_id"].astype(str).tolist(), RedTeamConfig(per_fault=args.per_fault))
    cases = [c for c in rt.cases if c.split == "dev"]  # held-out templates never enter tuning
    rules_only = load_policy()
    for name in FAULTS:
        rules_only = rules_only.replace(name, learned=False)
    checker = FidelityChecker(rules_only)
    ctx = rt.context(ds.items)
    reports = checker.check_many([c.item for c in cases], ctx, attach=False)
    humans = human_items(ds, sorted(rt.store.users()), 0)
    scorer = get_scorer()
    case_fields = [item_fields(c.item) for c in cases]
    human_fields = [item_fields(h) for h in humans]
    negatives = [{"description": line.strip()} for line in NEGATIVES.read_text().splitlines() if line.strip()]
    clean = [i for i, c in enumerate(cases) if c.fault == "clean"]
    thresholds = [float(x) for x in args.thresholds.split(",")]
    similarities = [float(x) for x in args.min_similarities.split(",")]
    for name, faults in FAULTS.items():
        owned = [i for i, c in enumerate(cases) if c.fault in faults]
        by_rules = np.array([reports[i].checks[name].verdict != "pass" for i in owned])
        print(f"\n{name}: {len(owned)} dev cases, rules alone {by_rules.mean():.3f}")
        print("threshold min_similarity | dev recall: learned alone, rules OR learned | learned flags: clean red-team, "
              "synthetic catalog, hard negatives")
        for t in thresholds:
            for m in similarities:
                d = Decision(CHECK_LABELS[name], t, m)
                hit_cases = find_hits(case_fields, scorer, d)
                hit_humans = find_hits(human_fields, scorer, d)
                learned = np.array([bool(hit_cases[i]) for i in owned])
                recall = float(np.mean(by_rules | learned))
                fpr_clean = float(np.mean([bool(hit_cases[i]) for i in clean]))
                fpr_human = float(np.mean([bool(h) for h in hit_humans]))
                fpr_neg = float(np.mean([bool(h) for h in find_hits(negatives, scorer, d)]))
                print(f"  {t:.2f} {m:.2f}  | {learned.mean():.3f} {recall:.3f} | {fpr_clean:.4f} {fpr_human:.4f} "
                      f"{fpr_neg:.3f}")
        t, m = 0.2, 0.35
        d = Decision(CHECK_LABELS[name], t, m)
        misses = [cases[i] for i, h in zip(owned, find_hits([case_fields[i] for i in owned], scorer, d)) if not h]
        print(f"  learned-alone dev misses at {t}/{m}: {sorted({c.template for c in misses})}")


if __name__ == "__main__":
    main()
