"""Choose the learned detector's thresholds on DEV data only: dev red-team templates and the synthetic catalog.

Held-out templates ("heldout", "heldout2", "heldout3") are dropped before anything is scored, and the Amazon
Beauty catalog is never read: it is where the false-positive rate is measured. For each check
(bias, safety, legal) and a grid of (threshold, min_similarity), prints the recall of the learned
detector alone and of rules OR learned on the dev templates of the check's rule-only faults, and
the flag rates of the learned detector on the clean red-team items, on every synthetic catalog
item and on ``data/learned_dev_negatives.txt`` (hard negative sentences written for this,
not in the bank: warnings, beauty claims, prices, groups named as users, cosmetic words that
sound unsafe). Where ``data/learned_dev_positives_<check>.txt`` exists (safety: unsafe and adult
sentences written for tuning, not in the bank), the learned detector's recall on it is printed
too: the bank holds the dev template phrasings, so this is the dev estimate of how it generalises. The rules were written on the dev templates, so "learned alone" is the informative recall,
but only while the bank does not contain them: the thresholds were chosen before the dev phrasings
were added to the bank (see docs/fidelity.md); since then this script only checks false positives.

    OMP_NUM_THREADS=1 nice -n 19 python -m benchmarks.tune_learned
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import numpy as np

from benchmarks.redteam import RedTeamConfig, build_redteam
from benchmarks.run_fidelity import human_items, load
from genrec.fidelity.base import item_fields
from genrec.fidelity.checker import FidelityChecker
from genrec.fidelity.learned import CHECK_LABELS, Decision, find_hits, get_scorer
from genrec.fidelity.policy import load_policy

DATA = Path(__file__).resolve().parent / "data"
NEGATIVES = DATA / "learned_dev_negatives.txt"
FAULTS = {
    "bias": ("stereotype",),
    "safety": ("unsafe",),
    "legal": ("regulated_medical", "regulated_health", "regulated_financial"),
}


def main() -> None:
    """Print the grid."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--thresholds", default="0.2,0.25,0.3,0.35,0.4,0.5", help="probabilities")
    ap.add_argument("--min-similarities", default="0.3,0.35,0.4")
    ap.add_argument("--neutral-leads", default="0.15", help="learned_neutral_lead values")
    ap.add_argument("--checks", default=",".join(FAULTS), help="comma-separated checks to tune")
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
    leads = [float(x) for x in args.neutral_leads.split(",")]
    for name in args.checks.split(","):
        faults = FAULTS[name]
        positives = dev_positives(name)
        owned = [i for i, c in enumerate(cases) if c.fault in faults]
        by_rules = np.array([reports[i].checks[name].verdict != "pass" for i in owned])
        print(f"\n{name}: {len(owned)} dev cases, rules alone {by_rules.mean():.3f}")
        print(
            "threshold min_similarity neutral_lead | dev recall: learned alone, rules OR learned, learned on dev "
            f"positives ({len(positives)}) | learned flags: clean red-team, synthetic catalog, hard negatives"
        )
        for t, m, lead in itertools.product(thresholds, similarities, leads):
            d = Decision(CHECK_LABELS[name], t, m, lead)
            hit_cases = find_hits(case_fields, scorer, d)
            hit_humans = find_hits(human_fields, scorer, d)
            learned = np.array([bool(hit_cases[i]) for i in owned])
            recall = float(np.mean(by_rules | learned))
            fpr_clean = float(np.mean([bool(hit_cases[i]) for i in clean]))
            fpr_human = float(np.mean([bool(h) for h in hit_humans]))
            fpr_neg = float(np.mean([bool(h) for h in find_hits(negatives, scorer, d)]))
            pos = float(np.mean([bool(h) for h in find_hits(positives, scorer, d)])) if positives else float("nan")
            print(
                f"  {t:.2f} {m:.2f} {lead:.2f} | {learned.mean():.3f} {recall:.3f} {pos:.3f} | {fpr_clean:.4f} "
                f"{fpr_human:.4f} {fpr_neg:.3f}"
            )
        s = getattr(load_policy().checks, name)
        d = Decision(CHECK_LABELS[name], s.learned_threshold, s.learned_min_similarity, s.learned_neutral_lead)
        misses = [cases[i] for i, h in zip(owned, find_hits([case_fields[i] for i in owned], scorer, d)) if not h]
        print(
            f"  at the policy's {d.threshold}/{d.min_similarity}/{d.neutral_lead}: learned-alone dev misses "
            f"{sorted({c.template for c in misses})}"
        )
        missed = [p["description"] for p, h in zip(positives, find_hits(positives, scorer, d)) if not h]
        print(f"  dev positives missed: {missed}")
        flagged = [(humans[i].title, hs[0].code) for i, hs in enumerate(find_hits(human_fields, scorer, d)) if hs]
        print(f"  synthetic catalog items flagged: {flagged[:10]}")
        flagged = [(n["description"], hs[0].code) for n, hs in zip(negatives, find_hits(negatives, scorer, d)) if hs]
        print(f"  hard negatives flagged: {flagged}")


def dev_positives(check: str) -> list[dict[str, str]]:
    """The check's hand-written dev positive sentences (none when the file does not exist), as item fields."""
    path = DATA / f"learned_dev_positives_{check}.txt"
    if not path.exists():
        return []
    return [{"description": line.strip()} for line in path.read_text().splitlines() if line.strip()]


if __name__ == "__main__":
    main()
