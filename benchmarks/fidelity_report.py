"""The fidelity section for BENCHMARKS.md, from the result files of run_fidelity (both catalogs, pooled).

``markdown()`` returns the section; ``python -m benchmarks.fidelity_report`` fills the results block of
``docs/benchmarks/fidelity.md`` with it and the per-catalog sections (as ``make_tables`` does). Every number comes from ``benchmarks/results/<dataset>/fidelity.json``
(and ``fidelity_before.json``, the unchanged checks of the commit before issue 21, where present).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchmarks.common import RESULTS
from benchmarks.fidelity_cases import CHECKS, CLEAN_FILES, FAULTY_FILES, FRESH_FAULTY, NEWEST_CLEAN, row_file, summarise

DATASETS = ("synthetic", "amazon-beauty")
OUT = Path(__file__).resolve().parent.parent / "docs" / "benchmarks" / "fidelity.md"
#: Clean sets whose held-out cases were looked at (burned) to fix their false positives, and when: every one but the newest.
BURNED_SETS = tuple(name for name in CLEAN_FILES if name != NEWEST_CLEAN)
BURNED = (
    "2026-12-07: clean and clean_hard in the clean_fresh round, clean_fresh in the clean_fresh2 round, "
    "clean_fresh2 in the clean_fresh3 round, clean_fresh3 in the clean_fresh4 round, clean_fresh4 in the clean_fresh5 round, clean_fresh5 in the clean_fresh6 round, clean_fresh6 in the clean_fresh7 round"
)
TARGETS = "recall >= 0.90 per check on the held-out hand-written cases, >= 0.85 on disguised spellings, <= 1% of human items and <= 2% of clean paraphrases flagged"


def _load(name: str) -> dict[str, dict[str, Any]]:
    out = {}
    for ds in DATASETS:
        path = RESULTS / ds / f"{name}.json"
        if path.exists():
            out[ds] = json.loads(path.read_text())
    return out


def _f(x: float | None, pct: bool = False) -> str:
    if x is None:
        return "-"
    return f"{100 * x:.2f}%" if pct else f"{x:.3f}"


#: Blind faulty sets whose misses were read to fix their causes (every one but the newest): no longer held out.
BURNED_FAULTY = tuple(name for name in FAULTY_FILES if name not in CHECKS and name != FRESH_FAULTY)


def recall_cell(rows: list[dict[str, Any]], check: str, **where: str) -> str:
    """Recall of ``check`` on the hand-written outcome rows matching ``where``, as "0.941 (16/17)"; held-out
    rows of a burned faulty set count only when that file is asked for."""
    part = [
        r
        for r in rows
        if check in r["expect"]
        and all(r[k] == v for k, v in where.items())
        and ("file" in where or where.get("split") != "heldout" or r.get("file") not in BURNED_FAULTY)
    ]
    hit = sum(check in r["flagged_by"] for r in part)
    return f"{hit / len(part):.3f} ({hit}/{len(part)})" if part else "-"


def _share(rows: list[dict[str, Any]]) -> str:
    flagged = sum(r["verdict"] != "pass" for r in rows)
    return f"{_f(flagged / len(rows), True)} ({flagged}/{len(rows)})" if rows else "-"


def clean_table(rows: list[dict[str, Any]]) -> list[str]:
    """Flag rates of the clean hand-written cases per set and split, and pooled over every set and split."""
    clean = [r for r in rows if not r["expect"]]
    out = [
        "Clean hand-written cases flagged by any check (`clean.jsonl`: paraphrased edits and creations written for",
        "issue 21; `clean_hard.jsonl`: hard negatives written after its run; `clean_fresh.jsonl`: written after the",
        "clean_hard round; `clean_fresh2.jsonl` to `clean_fresh7.jsonl`: written blind to the checks), target",
        f"<= 2%. The held-out cases of {', '.join(f'`{b}`' for b in BURNED_SETS)} are *burned* ({BURNED}): they were",
        f"looked at to fix their false positives, so `{NEWEST_CLEAN}` is the held-out estimate:",
        "",
        "| clean set | all | dev | held-out | flagged by |",
        "|---|---|---|---|---|",
    ]
    for name in CLEAN_FILES:
        part = [r for r in clean if row_file(r) == name]
        if not part:
            continue
        label = f"{name} (held-out burned)" if name in BURNED_SETS else name
        by: dict[str, int] = {}
        for r in part:
            for check in r["flagged_by"]:
                by[check] = by.get(check, 0) + 1
        who = ", ".join(f"{c} {n}" for c, n in sorted(by.items())) or "-"
        out.append(
            f"| {label} | {_share(part)} | {_share([r for r in part if r['split'] == 'dev'])} | "
            f"{_share([r for r in part if r['split'] == 'heldout'])} | {who} |"
        )
    out.append(
        f"| pooled (all sets and splits) | {_share(clean)} | {_share([r for r in clean if r['split'] == 'dev'])} | "
        f"{_share([r for r in clean if r['split'] == 'heldout'])} | |"
    )
    return out


def clean_baseline(base: dict[str, dict[str, Any]]) -> list[str]:
    """The clean sets' flag rates under the checks before the clean_hard fixes (``fidelity_clean_hard_before.json``)."""
    if not base:
        return []
    rows = [r for ds in base.values() for r in ds["handwritten"]["outcomes"] if not r["expect"]]
    commits = "; ".join(
        sorted({f"`{r['commit'][:10]}`{', ' + r['note'] if r.get('note') else ''}" for r in base.values()})
    )
    cells = []
    for name in CLEAN_FILES:
        part = [r for r in rows if row_file(r) == name]
        dev = [r for r in part if r["split"] == "dev"]
        held = [r for r in part if r["split"] == "heldout"]
        if not part:
            continue
        cells.append(f"{name} {_share(part)} (dev {_share(dev)}, held-out {_share(held)})")
    return [
        "",
        f"Before the fixes for `clean_hard` (run {commits}; same cases and harness): "
        + "; ".join(cells)
        + f"; pooled {_share(rows)}.",
    ]


def markdown() -> str:
    """The section, from the result files on disk."""
    now, before = _load("fidelity"), _load("fidelity_before")
    base = _load("fidelity_clean_hard_before")
    if not now:
        return (
            "No fidelity result files yet: run `python -m benchmarks.run_fidelity --dataset synthetic|amazon-beauty`.\n"
        )
    rows = [r for ds in now.values() for r in ds["handwritten"]["outcomes"]]
    old_rows = [r for ds in before.values() for r in ds.get("handwritten", {}).get("outcomes", [])]
    pooled = summarise(rows)
    lines = [
        "## Fidelity checks",
        "",
        "Hand-written cases (`benchmarks/data/fidelity/`, written for issue 21 before any check changed; every third",
        "case per file and style held out and never looked at while tuning), both catalogs pooled. A check *flags* a",
        "case when it warns or blocks. Targets: " + TARGETS + ".",
        "",
        "| check | held-out recall | fresh set, blind | dev recall | held-out plain | held-out disguised | all disguised | before (held-out) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for check in CHECKS:
        lines.append(
            f"| {check} | {recall_cell(rows, check, split='heldout')} | {recall_cell(rows, check, file=FRESH_FAULTY)} | "
            f"{recall_cell(rows, check, split='dev')} | "
            f"{recall_cell(rows, check, split='heldout', style='plain')} | {recall_cell(rows, check, split='heldout', style='disguised')} | "
            f"{recall_cell(rows, check, style='disguised')} | {recall_cell(old_rows, check, split='heldout') if old_rows else '-'} |"
        )
    lines += [
        "",
        *clean_table(rows),
        *clean_baseline(base),
        "",
        f"Faulty cases no check flagged: {pooled['faulty']['unflagged_by_any_check']}/{pooled['faulty']['n']}.",
        "",
        "| catalog | human items | any check flags | any blocks | untouched half flags | ms / item | templated set recall (bias / privacy / safety / authenticity / legal / identifiability) | commit |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for ds, r in now.items():
        h = r["human"]
        tmpl = " / ".join(
            _f(r["redteam"]["checks"][c]["recall"])
            for c in ("bias", "privacy", "safety", "authenticity", "legal", "identifiability")
        )
        lines.append(
            f"| {ds} | {h['items']} | {_f(h['any_flag'], True)} | {_f(h['any_block'], True)} | "
            f"{_f(h['untouched_half']['any_flag'], True)} | {r['timing']['ms_per_item']} | {tmpl} | `{r['commit'][:10]}` |"
        )
    if before:
        lines += ["", "Before issue 21 (same harness, unchanged checks):", ""]
        lines += ["| catalog | human items flagged | ms / item | commit |", "|---|---|---|---|"]
        for ds, r in before.items():
            lines.append(
                f"| {ds} | {_f(r['human']['any_flag'], True)} | {r['timing']['ms_per_item']} | `{r['commit'][:10]}` |"
            )
    lines += ["", "Per check on human items (flag rate, all items / untouched half):", ""]
    lines += ["| check | " + " | ".join(now) + " |", "|---|" + "---|" * len(now)]
    for check in now[next(iter(now))]["checks"]:
        cells = []
        for r in now.values():
            c = r["human"]["checks"].get(check, {})
            cells.append(f"{_f(c.get('fpr'), True)} / {_f(c.get('fpr_untouched_half'), True)}")
        lines.append(f"| {check} | " + " | ".join(cells) + " |")
    wall = ", ".join(f"{ds} {r['wall_seconds']} s, peak {r['peak_rss_mb']} MiB" for ds, r in now.items())
    lines += ["", f"Wall time and peak memory of the runs: {wall}.", ""]
    return "\n".join(lines)


def main() -> None:
    """Fill the results block of docs/benchmarks/fidelity.md (this section and the per-catalog sections), as make_tables does."""
    from benchmarks.make_tables import extra_sections, fidelity_section, fill

    fill(OUT, "\n".join([markdown(), *extra_sections("fidelity", fidelity_section)]))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
