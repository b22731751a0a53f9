"""Benchmark the instructors (rules, LLM, combined) on the generated and the hand-written instruction sets.

For a dataset (``synthetic`` or ``amazon-beauty``): action accuracy, constraint precision /
recall / F1 over (field, value) pairs (``instruction_set.constraint_pairs``), the precision of
hard constraints (the filters: a wrong one hides items), how often a request that must be
declined is recognised, seconds per instruction and, for the LLM instructor, the share of
instructions it answered with valid JSON. The hand-written set is reported per split: ``dev``
(the rules were tuned on it) and ``heldout`` (never tuned on; the targets are measured there).

    python -m benchmarks.run_instructor --dataset amazon-beauty
    python -m benchmarks.run_instructor --dataset synthetic --methods rules --dev   # tuning: dev only, no file

Writes ``benchmarks/results/<dataset>/instructor.json``; ``markdown(result)`` renders its section.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from typing import Any

from benchmarks.common import RESULTS, Timer, command_line, commit, machine, peak_rss_mb, write_result
from benchmarks.handwritten import load_cases
from benchmarks.instruction_set import build_instruction_set, evaluate_instructor, load_dataset
from genrec.config import EncoderConfig, InstructorConfig, LLMConfig
from genrec.encoders.text import TextEncoder
from genrec.generation.instructor import Instructor
from genrec.generation.vocabulary import CatalogVocabulary

CATALOG_OF = {"synthetic": "synthetic", "amazon-beauty": "beauty"}
TARGETS = {"action_accuracy": 0.95, "constraint_precision": 0.90, "constraint_f1": 0.85}


def make(method: str, vocab: CatalogVocabulary, encoder: TextEncoder, threads: int) -> Instructor:
    """An instructor by method name, sharing one encoder (and one LLM backend across calls)."""
    from genrec.generation.instructor_llm import create_instructor
    from genrec.llm.registry import create_backend

    backend = None if method == "rules" else _backend(create_backend, threads)
    return create_instructor(method, vocab, InstructorConfig(method=method), backend, encoder)


_BACKEND: list[Any] = []


def _backend(factory: Any, threads: int) -> Any:
    if not _BACKEND:
        _BACKEND.append(factory(LLMConfig(threads=threads)))
    return _BACKEND[0]


def _trim(report: dict[str, Any], mistakes: int) -> dict[str, Any]:
    out = {k: v for k, v in report.items() if k != "mistakes"}
    out["mistakes"] = report["mistakes"][:mistakes]
    return out


def run(
    dataset: str,
    methods: Sequence[str],
    generated: int,
    llm_generated: int,
    dev_only: bool,
    threads: int,
    seed: int,
    mistakes: int,
) -> dict[str, Any]:
    """Evaluate each method; returns the result record (also written unless ``dev_only``)."""
    import torch

    torch.set_num_threads(threads)
    start = time.perf_counter()
    ds = load_dataset(dataset)
    vocab = CatalogVocabulary.from_dataset(ds)
    encoder = TextEncoder(EncoderConfig(progress=False, threads=threads))
    catalog = CATALOG_OF[dataset]
    hand = load_cases(catalog, "dev" if dev_only else "all", vocabulary=vocab)
    gen = [] if dev_only else build_instruction_set(ds, generated, seed=seed, vocabulary=vocab)
    result: dict[str, Any] = {"dataset": dataset, "methods": {}}
    for method in methods:
        instructor = make(method, vocab, encoder, threads)
        entry: dict[str, Any] = {}
        with Timer() as t:
            report = evaluate_instructor(instructor, hand, mistakes=400)
        entry["handwritten"] = _split_report(report, hand, mistakes)
        entry["handwritten"]["seconds"] = t.seconds
        if gen:
            cases = gen if method == "rules" else gen[:llm_generated]
            with Timer() as t:
                entry["generated"] = _trim(evaluate_instructor(instructor, cases), mistakes)
            entry["generated"]["seconds"] = t.seconds
            entry["generated"]["cases"] = len(cases)
        llm = getattr(instructor, "llm", instructor)
        if hasattr(llm, "asked"):
            entry["llm_valid_json"] = {
                "asked": llm.asked,
                "valid": llm.asked - llm.failures,
                "rate": (llm.asked - llm.failures) / llm.asked if llm.asked else None,
                "decoding": "grammar" if getattr(llm, "grammar", False) else "free",
            }
        result["methods"][method] = entry
        _print(method, entry)
    if dev_only:
        return result
    result.update(
        split_note=(
            "hand-written: dev = the cases the rules were tuned on; heldout = every third case of each family, "
            "fixed when the set was written and never tuned on; generated: build_instruction_set "
            f"(n={generated}, seed={seed}); LLM and combined on its first {llm_generated} cases"
        ),
        targets={"on": "hand-written heldout, default instructor (rules)", **TARGETS},
        wall_seconds=time.perf_counter() - start,
        peak_rss_mb=peak_rss_mb(),
        commit=commit(),
        machine=machine(),
        command=command_line(),
        finished_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    )
    out = write_result(dataset, "instructor", result)
    print(f"-> {out}")
    print(markdown(result))
    return result


def _split_report(report: dict[str, Any], cases: Sequence[Any], mistakes: int) -> dict[str, Any]:
    out = {k: report[k] for k in ("n", "seconds_per_instruction", "errors")}
    out["all"] = {k: v for k, v in report.items() if k in _METRICS}
    out["per_split"] = {("dev" if k == "tune" else "heldout"): v for k, v in report["per_split"].items()}
    out["per_family"] = report["per_family"]
    out["mistakes"] = {
        split: [m for m in report["mistakes"] if m["held_out"] == (split == "heldout")][:mistakes]
        for split in ("dev", "heldout")
    }
    return out


_METRICS = (
    "action_accuracy",
    "constraint_precision",
    "constraint_recall",
    "constraint_f1",
    "hard_precision",
    "hard_recall",
    "false_hard_filters",
    "decline_accuracy",
    "exact_match",
)


def _print(method: str, entry: dict[str, Any]) -> None:
    for split, s in entry["handwritten"]["per_split"].items():
        print(
            f"[{method}] hand-written {split:7s} n={s['n']:3d} action={s['action_accuracy']:.3f} "
            f"P={s['constraint_precision']:.3f} R={s['constraint_recall']:.3f} F1={s['constraint_f1']:.3f} "
            f"hardP={s['hard_precision']:.3f} declined={s['decline_accuracy']:.3f}",
            flush=True,
        )
    if "generated" in entry:
        g = entry["generated"]
        print(
            f"[{method}] generated n={g['n']} action={g['action_accuracy']:.3f} P={g['constraint_precision']:.3f} "
            f"R={g['constraint_recall']:.3f} F1={g['constraint_f1']:.3f}",
            flush=True,
        )
    if "llm_valid_json" in entry:
        print(f"[{method}] valid JSON {entry['llm_valid_json']}", flush=True)


def pooled(results: Sequence[dict[str, Any]], method: str = "rules", split: str = "heldout") -> dict[str, Any]:
    """One method's hand-written ``split`` over several result records (both catalogs), from the counts."""
    parts = [r["methods"][method]["handwritten"]["per_split"][split] for r in results if method in r["methods"]]
    if not parts:
        return {}
    c = {k: sum(p["counts"][k] for p in parts) for k in parts[0]["counts"]}
    n = sum(p["n"] for p in parts)
    precision = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 1.0
    recall = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 1.0
    return {
        "n": n,
        "counts": c,
        "action_accuracy": sum(p["actions_right"] for p in parts) / n,
        "constraint_precision": precision,
        "constraint_recall": recall,
        "constraint_f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "hard_precision": c["hard_tp"] / (c["hard_tp"] + c["hard_fp"]) if c["hard_tp"] + c["hard_fp"] else 1.0,
        "decline_accuracy": sum(p["declines_right"] for p in parts) / n,
    }


def section(datasets: Sequence[str] = ("amazon-beauty", "synthetic")) -> str:
    """The BENCHMARKS.md section: each dataset's table and the pooled hand-written heldout numbers
    against the targets (for benchmarks/make_tables.py)."""
    results = [json.loads(p.read_text()) for d in datasets if (p := RESULTS / d / "instructor.json").exists()]
    if not results:
        return ""
    parts = [markdown(r) for r in results]
    lines = ["### Instructor: both hand-written heldout splits together", ""]
    lines += ["| instructor | n | action acc. | constraint P | R | F1 | hard-filter P | declines | targets met |"]
    lines += ["|---|---|---|---|---|---|---|---|---|"]
    for method in ("rules", "llm", "combined"):
        p = pooled(results, method)
        if not p:
            continue
        met = all(p[k] >= v for k, v in TARGETS.items())
        lines.append(
            f"| {method} | {p['n']} | {p['action_accuracy']:.3f} | {p['constraint_precision']:.3f} | "
            f"{p['constraint_recall']:.3f} | {p['constraint_f1']:.3f} | {p['hard_precision']:.3f} | "
            f"{p['decline_accuracy']:.3f} | {'yes' if met else 'no'} |"
        )
    return "\n\n".join([*parts, "\n".join(lines)])


def markdown(result: dict[str, Any]) -> str:
    """The instructor section for BENCHMARKS.md from a result record."""
    lines = [
        f"### Instructor on {result['dataset']}",
        "",
        "| instructor | set | n | action acc. | constraint P | R | F1 | hard-filter P | declines | valid JSON |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for method, entry in result["methods"].items():
        rate = entry.get("llm_valid_json", {}).get("rate")
        valid = "" if rate is None else f"{rate:.3f}"
        rows = [(f"hand-written {k}", v) for k, v in entry["handwritten"]["per_split"].items()]
        if "generated" in entry:
            rows.append(("generated", entry["generated"]))
        for name, s in rows:
            lines.append(
                f"| {method} | {name} | {s['n']} | {s['action_accuracy']:.3f} | {s['constraint_precision']:.3f} | "
                f"{s['constraint_recall']:.3f} | {s['constraint_f1']:.3f} | {s['hard_precision']:.3f} | "
                f"{s.get('decline_accuracy', float('nan')):.3f} | {valid} |"
            )
    lines += [
        "",
        f"Targets on the hand-written heldout split for the default (rules): action >= {TARGETS['action_accuracy']}, "
        f"constraint precision >= {TARGETS['constraint_precision']}, F1 >= {TARGETS['constraint_f1']}. "
        + result.get("split_note", ""),
        f"Commit {result.get('commit', '?')}, wall {result.get('wall_seconds', 0):.0f} s, "
        f"peak {result.get('peak_rss_mb', 0):.0f} MiB.",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    """Parse arguments and run."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="synthetic", choices=sorted(CATALOG_OF))
    ap.add_argument("--methods", default="rules,llm,combined", help="comma-separated: rules, llm, combined")
    ap.add_argument("--generated", type=int, default=600, help="cases of the generated set for the rules")
    ap.add_argument("--llm-generated", type=int, default=100, help="cases of the generated set for LLM / combined")
    ap.add_argument("--dev", action="store_true", help="tuning run: hand-written dev split only, nothing written")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--mistakes", type=int, default=40, help="mistakes kept per split in the result")
    ap.add_argument("--show", action="store_true", help="print the dev mistakes")
    ap.add_argument("--section", action="store_true", help="print the markdown section of the stored results and stop")
    args = ap.parse_args(argv)
    if args.section:
        print(section())
        return
    result = run(
        args.dataset,
        [m.strip() for m in args.methods.split(",") if m.strip()],
        args.generated,
        args.llm_generated,
        args.dev,
        args.threads,
        args.seed,
        args.mistakes if not args.show else 400,
    )
    if args.show:
        for method, entry in result["methods"].items():
            for m in entry["handwritten"]["mistakes"]["dev"]:
                print(method, json.dumps(m, ensure_ascii=False))


if __name__ == "__main__":
    main()
