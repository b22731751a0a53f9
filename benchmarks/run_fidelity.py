"""Benchmark the fidelity checks: recall and precision on the red-team set, false positives on human items.

Protocol. ``genrec.fidelity.redteam`` builds a seeded labelled set from the dataset's catalog:
clean generated-like items (faithful paraphrased edits, brand-free created concepts) and items
injected with one fault each, several templates per fault, a third of them held out from
tuning ("heldout"), plus fresh held-out phrasings for the unsafe, stereotype and regulated-claim
faults ("heldout2") and a second fresh batch for the unsafe fault ("heldout3", see docs/fidelity.md).
Every item goes through the default policy. A check "flags" an item when its verdict
is warn or block, and "blocks" it on block.

* recall of a check: share of the faulty items it owns that it flags (also reported per fault,
  per template, per template split, and at block level);
* precision of a check: share of the red-team items it flags whose fault it owns or may
  rightly co-flag (e.g. a regulated claim with a number is also an unsupported fact in an edit);
* false-positive rate on human items: EVERY catalog item, wrapped as a generated edit of itself
  made for a random store user, so the copy check compares it with all other items except its
  own brand's (the edit exemption) and the fact check compares it with itself; reported per
  check (flag and block) and overall;
* false-positive rate on the clean red-team items.

The shilling section (datasets with timestamps only) injects bursts of new accounts pushing
one item each into the real interaction log and reports precision / recall over accounts and
items. If ``benchmarks/fidelity_watermark.py`` exists, its ``watermark_section`` result is
stored under "watermark".

    python -m benchmarks.run_fidelity --dataset synthetic
    python -m benchmarks.run_fidelity --dataset amazon-beauty
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import RESULTS, Timer, commit, load_benchmark_dataset, machine, peak_rss_mb, write_result
from benchmarks.fidelity_cases import NEWEST_CLEAN, handwritten_context, load_cases, score_cases
from benchmarks.redteam import RedTeamConfig, RedTeamSet, build_redteam
from genrec.config import SyntheticConfig
from genrec.data.dataset import Dataset
from genrec.data.generated import GeneratedItem, Provenance
from genrec.data.synthetic import generate
from genrec.fidelity.base import CheckContext, FidelityReport
from genrec.fidelity.checker import FidelityChecker
from genrec.fidelity.legal import LegalCheck
from genrec.fidelity.lexicons import packaged_list
from genrec.fidelity.policy import ShillingSettings
from genrec.fidelity.privacy import NameFinder
from genrec.fidelity.shilling import detect_shilling
from genrec.textnorm import cell as clean

BATCH = 512
#: Template splits: dev (tuned on), heldout (first held-out batch; read before the learned detector was
#: built, so "seen"), heldout2 (fresh phrasings written before the learned detector, never tuned on),
#: heldout3 (fresh unsafe phrasings written before the detector's second round of safety examples).
SPLITS = ("dev", "heldout", "heldout2", "heldout3")


def load(name: str) -> Dataset:
    """The benchmark dataset by name ("synthetic" is the built-in marketplace with default settings)."""
    if name == "synthetic":
        return generate(SyntheticConfig())
    return load_benchmark_dataset(name)


def run_checks(
    checker: FidelityChecker, items: list[GeneratedItem], ctx: CheckContext
) -> tuple[list[FidelityReport], float]:
    """Reports for ``items`` in batches, and the wall time."""
    reports: list[FidelityReport] = []
    with Timer() as t:
        for i in range(0, len(items), BATCH):
            reports += checker.check_many(items[i : i + BATCH], ctx)
    return reports, t.seconds


def human_items(ds: Dataset, users: list[str], seed: int) -> list[GeneratedItem]:
    """Every catalog item as a generated edit of itself, made for a random store user."""
    rng = np.random.default_rng(seed + 1)
    out = []
    for r in ds.items.to_dict("records"):
        price = r.get("price")
        # the generator names the harness, not a person: "human-..." would be a person named as the generator
        # of an item marked AI-generated, which the identifiability check flags
        prov = Provenance(
            "edit",
            "catalog-passthrough",
            "0",
            user_id=str(users[int(rng.integers(len(users)))]),
            source_item_id=str(r["item_id"]),
        )
        out.append(
            GeneratedItem(
                clean(r.get("title")),
                clean(r.get("description")),
                clean(r.get("brand")) or None,
                list(r.get("categories") or []),
                float(price) if isinstance(price, (int, float)) and price == price else None,
                {},
                prov,
            )
        )
    return out


def _rate(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def score_redteam(rt: RedTeamSet, reports: list[FidelityReport], checks: list[str]) -> dict[str, Any]:
    """Per-check recall / precision, per-fault and per-template recall, clean FPR, and some misses."""
    out: dict[str, Any] = {"checks": {}, "faults": {}, "templates": {}}
    for check in checks:
        owned = [(c, r) for c, r in zip(rt.cases, reports) if c.check == check]
        flagged = [(c, r) for c, r in zip(rt.cases, reports) if r.checks[check].verdict != "pass"]
        blocked = [(c, r) for c, r in zip(rt.cases, reports) if r.checks[check].verdict == "block"]
        row: dict[str, Any] = {
            "positives": len(owned),
            "recall": _rate(sum(r.checks[check].verdict != "pass" for _, r in owned), len(owned)),
            "recall_block": _rate(sum(r.checks[check].verdict == "block" for _, r in owned), len(owned)),
            "precision": _rate(sum(check in c.accept for c, _ in flagged), len(flagged)),
            "precision_block": _rate(sum(check in c.accept for c, _ in blocked), len(blocked)),
            "flagged": len(flagged),
        }
        for split in SPLITS:
            part = [(c, r) for c, r in owned if c.split == split]
            row[f"recall_{split}"] = _rate(sum(r.checks[check].verdict != "pass" for _, r in part), len(part))
        clean_cases = [r for c, r in zip(rt.cases, reports) if c.fault == "clean"]
        row["fpr_clean_redteam"] = _rate(sum(r.checks[check].verdict != "pass" for r in clean_cases), len(clean_cases))
        out["checks"][check] = row
    claims = [(c, r) for c, r in zip(rt.cases, reports) if c.fault.startswith("regulated_")]
    out["regulated_claims"] = (
        {
            "positives": len(claims),
            **{
                f"recall{'' if split is None else '_' + split}": _rate(
                    sum(r.checks["legal"].verdict != "pass" for c, r in claims if split in (None, c.split)),
                    sum(split in (None, c.split) for c, _ in claims),
                )
                for split in (None, *SPLITS)
            },
        }
        if "legal" in checks
        else {}
    )
    by_fault: dict[str, list[tuple[Any, FidelityReport]]] = defaultdict(list)
    for c, r in zip(rt.cases, reports):
        by_fault[c.fault].append((c, r))
    for fault, pairs in sorted(by_fault.items()):
        if fault == "clean":
            flagged_by: dict[str, int] = defaultdict(int)
            for _, r in pairs:
                for name in r.warned_by + r.blocked_by:
                    flagged_by[name] += 1
            out["faults"]["clean"] = {
                "n": len(pairs),
                "any_flag": _rate(sum(r.verdict != "pass" for _, r in pairs), len(pairs)),
                "flagged_by": dict(flagged_by),
            }
            out["clean_misflags"] = [_example(c, r) for c, r in pairs if r.verdict != "pass"][:8]
            continue
        check = pairs[0][0].check
        hit = [r.checks[check].verdict != "pass" for _, r in pairs]
        out["faults"][fault] = {
            "check": check,
            "n": len(pairs),
            "recall": _rate(sum(hit), len(hit)),
            "misses": [_example(c, r) for (c, r), h in zip(pairs, hit) if not h][:3],
        }
        templ: dict[tuple[str, str], list[bool]] = defaultdict(list)
        for (c, _), h in zip(pairs, hit):
            templ[(c.template, c.split)].append(h)
        for (t, split), hs in sorted(templ.items()):
            out["templates"][f"{fault}/{t}"] = {"split": split, "n": len(hs), "recall": _rate(sum(hs), len(hs))}
    return out


def _example(case: Any, report: FidelityReport) -> dict[str, Any]:
    item = case.item
    return {
        "template": case.template,
        "title": item.title[:160],
        "description": item.description[-200:],
        "reasons": report.reasons[:4],
    }


def tuning_half(item_id: str) -> bool:
    """True for the half of the human items whose false positives could be read while tuning (by id hash)."""
    return hashlib.blake2b(str(item_id).encode(), digest_size=2).digest()[0] % 2 == 0


def score_human(reports: list[FidelityReport], checks: list[str], items: list[GeneratedItem]) -> dict[str, Any]:
    """False-positive rates on human items, per check and overall, with a few examples.

    ``untouched_half`` is the rate on the half of the items (by id hash) whose flags were never read
    while tuning the checks for issue 21; the examples come from the other half only.
    """
    n = len(reports)
    ids = [str(i.provenance.source_item_id) for i in items]
    rest = [r for r, i in zip(reports, ids) if not tuning_half(i)]
    out: dict[str, Any] = {
        "items": n,
        "any_flag": _rate(sum(r.verdict != "pass" for r in reports), n),
        "any_block": _rate(sum(r.verdict == "block" for r in reports), n),
        "untouched_half": {
            "items": len(rest),
            "any_flag": _rate(sum(r.verdict != "pass" for r in rest), len(rest)),
            "any_block": _rate(sum(r.verdict == "block" for r in rest), len(rest)),
        },
        "checks": {},
    }
    for check in checks:
        flagged = [i for i, r in enumerate(reports) if r.checks[check].verdict != "pass"]
        codes: dict[str, int] = defaultdict(int)
        for i in flagged:
            for f in reports[i].checks[check].findings:
                codes[f.code] += 1
        shown = [i for i in flagged if tuning_half(ids[i])]
        out["checks"][check] = {
            "fpr": _rate(len(flagged), n),
            "fpr_block": _rate(sum(r.checks[check].verdict == "block" for r in reports), n),
            "fpr_untouched_half": _rate(sum(r.checks[check].verdict != "pass" for r in rest), len(rest)),
            "codes": dict(codes),
            "examples": [
                {"title": items[i].title[:160], "reasons": reports[i].checks[check].reasons[:2]} for i in shown[:8]
            ],
        }
    return out


def name_detector_raw(ds: Dataset) -> dict[str, Any]:
    """Person-name detector hits on human texts WITHOUT the catalog's public-name whitelist (a diagnostic)."""
    finder = NameFinder(packaged_list("given_names.txt"))
    texts = [f"{clean(r.title)}\n{clean(r.description)}" for r in ds.items.itertuples()]
    hits = sum(bool(finder.find(t)) for t in texts)
    return {"items": len(texts), "items_with_hits": hits, "rate": _rate(hits, len(texts))}


def human_near_duplicates(checker: FidelityChecker, ctx: CheckContext) -> dict[str, Any]:
    """How many human items copy or paraphrase ANOTHER human item (a property of the catalog, a diagnostic)."""
    legal = next(c for c in checker.checks if isinstance(c, LegalCheck))
    records = ctx.catalog_records()
    hits = 0
    for item_id, r in records.items():
        text = f"{clean(r.get('title'))}\n{clean(r.get('description'))}"
        hits += bool(legal.copied_items(text, ctx, exclude={item_id}))
    return {
        "items": len(records),
        "threshold": legal.settings.near_duplicate_threshold,
        "paraphrase_threshold": legal.settings.paraphrase_threshold,
        "near_copies_of_another_item": hits,
        "rate": _rate(hits, len(records)),
    }


def shilling_section(ds: Dataset, seed: int, groups: int = 10) -> dict[str, Any]:
    """Inject bursts of new accounts pushing one item each; precision / recall of the detector."""
    if not ds.has_timestamps:
        return {"skipped": f"{ds.name} has no timestamps (positions only): account creation times are unknown"}
    inter = ds.interactions
    users = list(np.asarray(ds.users["user_id"].astype(str))[inter.user])
    items = list(np.asarray(ds.items["item_id"].astype(str))[inter.item])
    times = [int(t) for t in inter.timestamp]
    rng = np.random.default_rng(seed + 2)
    all_items = ds.items["item_id"].astype(str).tolist()
    t0, t1 = min(times), max(times)
    fake_users, targets = set(), set()
    for g in range(groups):
        target = str(rng.choice(all_items))
        targets.add(target)
        start = int(rng.integers(t0, t1))
        size = int(rng.integers(10, 31))
        spread = int(rng.integers(600, 6 * 3600))  # the burst lasts from 10 minutes to 6 hours
        for a in range(size):
            u = f"shill-{g}-{a}"
            fake_users.add(u)
            t = start + int(rng.integers(0, spread))
            picks = [target] + [str(x) for x in rng.choice(all_items, size=int(rng.integers(0, 4)))]
            for k, it in enumerate(picks):
                users.append(u)
                items.append(it)
                times.append(t + 30 * k)
    with Timer() as t:
        report = detect_shilling(users, items, times, ShillingSettings())
    clean_report = detect_shilling(users[: len(inter.user)], items[: len(inter.user)], times[: len(inter.user)])
    tp_u = len(report.users & fake_users)
    tp_i = len(report.items & targets)
    return {
        "groups_injected": groups,
        "fake_accounts": len(fake_users),
        "genuine_accounts": len(set(users) - fake_users),
        "user_recall": _rate(tp_u, len(fake_users)),
        "user_precision": _rate(tp_u, len(report.users)),
        "item_recall": _rate(tp_i, len(targets)),
        "item_precision": _rate(tp_i, len(report.items)),
        "genuine_accounts_flagged": len(report.users - fake_users),
        "flags_on_clean_log": {"users": len(clean_report.users), "items": len(clean_report.items)},
        "seconds": round(t.seconds, 3),
    }


def watermark(dataset: str, human_texts: list[str]) -> dict[str, Any] | None:
    """The other helper's watermark section, when benchmarks/fidelity_watermark.py exists."""
    path = Path(__file__).resolve().parent / "fidelity_watermark.py"
    if not path.exists():
        return None
    spec = importlib.util.spec_from_file_location("fidelity_watermark", path)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module.watermark_section(dataset, human_texts)


def handwritten_section(
    checker: FidelityChecker, ds: Dataset, dataset: str, split: str | None = None
) -> tuple[dict[str, Any], list[FidelityReport]]:
    """The hand-written set of ``dataset`` (optionally one split) through ``checker``: recall, clean flags, outcomes."""
    cases = [c for c in load_cases(dataset, ds.items) if split is None or c.split == split]
    ctx = handwritten_context(ds.items)
    reports, seconds = run_checks(checker, [c.item for c in cases], ctx)
    out = score_cases(cases, reports)
    out["seconds"] = round(seconds, 3)
    return out, reports


def print_dev_misses(section: dict[str, Any], reports: list[FidelityReport]) -> None:
    """Dev cases only: the faulty ones their check missed and the clean ones something flagged."""
    for row, report in zip(section["outcomes"], reports):
        if row["split"] != "dev":
            continue
        missed = [c for c in row["expect"] if c not in row["flagged_by"]]
        if missed or (not row["expect"] and row["flagged_by"]):
            print(f"  {row['id']:10s} expect {row['expect'] or 'clean'} flagged {row['flagged_by']}")
            for line in report.reasons[:3]:
                print(f"      {line[:200]}")


def main() -> None:
    """Parse arguments, run the benchmark, write the result file."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", required=True, choices=["synthetic", "amazon-beauty"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--per-fault", type=int, default=60)
    ap.add_argument("--clean-edits", type=int, default=300)
    ap.add_argument("--clean-creates", type=int, default=100)
    ap.add_argument("--out", default="fidelity", help="result file name (benchmarks/results/<dataset>/<out>.json)")
    ap.add_argument("--no-watermark", action="store_true", help="skip the watermark section")
    ap.add_argument(
        "--reuse-watermark",
        action="store_true",
        help="copy the watermark section of the existing result file (it does not depend on the checks)",
    )
    ap.add_argument(
        "--dev",
        action="store_true",
        help="development run: the hand-written DEV cases only, misses printed, nothing written",
    )
    ap.add_argument(
        "--handwritten-only",
        action="store_true",
        help="only the hand-written set (all splits) into the result file: a baseline of other check code",
    )
    ap.add_argument("--note", default="", help="free text stored in the result file (e.g. which check code ran)")
    args = ap.parse_args()
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass

    started = time.perf_counter()
    ds = load(args.dataset)
    checker = FidelityChecker()
    checks = [c.name for c in checker.checks]
    if args.dev:
        section, reports = handwritten_section(checker, ds, args.dataset, split="dev")
        print_dev_misses(section, reports)
        for name, row in section["checks"].items():
            print(
                f"  {name:16s} dev recall {row['recall_all']} (plain {row['recall_plain']}, disguised {row['recall_disguised']})"
            )
        for name, rates in section["clean_sets"].items():
            print(f"  {name} flagged {rates['any_flag']} of {rates['n']} by {rates['flagged_by']}")
        return
    if args.handwritten_only:
        section, _ = handwritten_section(checker, ds, args.dataset)
        path = write_result(
            args.dataset,
            args.out,
            {
                "dataset": args.dataset,
                "task": "fidelity checks: the hand-written set only",
                "note": args.note,
                "handwritten": section,
                "wall_seconds": round(time.perf_counter() - started, 2),
                "peak_rss_mb": round(peak_rss_mb(), 1),
                "commit": commit(),
                "machine": machine(),
            },
        )
        print(f"wrote {path}")
        return
    cfg = RedTeamConfig(
        seed=args.seed, clean_edits=args.clean_edits, clean_creates=args.clean_creates, per_fault=args.per_fault
    )
    with Timer() as t_build:
        rt = build_redteam(ds.items, ds.users["user_id"].astype(str).tolist(), cfg)
    ctx = rt.context(ds.items)
    with Timer() as t_index:  # build the shared indexes once, outside the per-item timing
        checker.check(human_items(ds, sorted(rt.store.users()), args.seed)[0], ctx, attach=False)
    hand, _ = handwritten_section(checker, ds, args.dataset)
    rt_reports, rt_seconds = run_checks(checker, [c.item for c in rt.cases], ctx)
    humans = human_items(ds, sorted(rt.store.users()), args.seed)
    human_reports, human_seconds = run_checks(checker, humans, ctx)
    per_check_ms = {
        name: round(1000 * float(np.mean([r.checks[name].seconds for r in rt_reports + human_reports])), 4)
        for name in checks
    }
    payload: dict[str, Any] = {
        "dataset": args.dataset,
        "task": "fidelity checks: hand-written and templated red-team recall, false positives on human items",
        "policy": checker.policy.name,
        "checks": checks,
        "handwritten": hand,
        "redteam": {
            "config": vars(cfg),
            "cases": len(rt.cases),
            "counts": rt.counts(),
            "store_users": len(rt.store.users()),
            **score_redteam(rt, rt_reports, checks),
        },
        "human": score_human(human_reports, checks, humans),
        "diagnostics": {
            "person_name_detector_without_catalog_whitelist": name_detector_raw(ds),
            "human_items_copying_another_human_item": human_near_duplicates(checker, ctx),
        },
        "shilling": shilling_section(ds, args.seed),
        "timing": {
            "build_redteam_seconds": round(t_build.seconds, 3),
            "index_build_seconds": round(t_index.seconds, 3),
            "redteam_seconds": round(rt_seconds, 3),
            "human_seconds": round(human_seconds, 3),
            "items_per_second": round((len(rt.cases) + len(humans)) / max(rt_seconds + human_seconds, 1e-9), 1),
            "ms_per_item": round(1000 * (rt_seconds + human_seconds) / max(1, len(rt.cases) + len(humans)), 3),
            "per_check_ms_per_item": per_check_ms,
        },
    }
    previous = RESULTS / args.dataset / f"{args.out}.json"
    if args.reuse_watermark and previous.exists() and "watermark" in json.loads(previous.read_text()):
        old = json.loads(previous.read_text())
        payload["watermark"] = {
            **old["watermark"],
            "reused_from": {"commit": old.get("commit"), "wall_seconds": old.get("wall_seconds")},
        }
    elif not args.no_watermark:
        wm = watermark(args.dataset, [h.text for h in humans])
        if wm is not None:
            payload["watermark"] = wm
    payload.update(
        wall_seconds=round(time.perf_counter() - started, 2),
        peak_rss_mb=round(peak_rss_mb(), 1),
        commit=commit(),
        machine=machine(),
    )
    path = write_result(args.dataset, args.out, payload)
    print(f"wrote {path}")
    print("check: hand-written DEV recall (plain / disguised); templated recall; human FPR (held-out: in the file)")
    for name in checks:
        h = hand["checks"].get(name)
        hw = f"{h['recall_dev']} ({h['recall_dev_plain']} / {h['recall_dev_disguised']})" if h else "-"
        tmpl = payload["redteam"]["checks"][name]["recall"]
        print(f"  {name:16s} {hw:40s} {tmpl} {payload['human']['checks'][name]['fpr']}")
    print(
        f"clean hand-written DEV flagged {hand['clean']['any_flag_dev']} (clean_hard DEV "
        f"{hand['clean_sets']['clean_hard']['any_flag_dev']}; {NEWEST_CLEAN} HELD-OUT "
        f"{hand['clean_sets'][NEWEST_CLEAN]['any_flag_heldout']}; pooled {hand['clean_pooled']['any_flag']}); "
        f"human any-flag {payload['human']['any_flag']}, "
        f"any-block {payload['human']['any_block']}; {payload['timing']['ms_per_item']} ms/item; "
        f"wall {payload['wall_seconds']} s, peak {payload['peak_rss_mb']} MiB"
    )


if __name__ == "__main__":
    main()
