"""Build BENCHMARKS.md (the headline tables) and its appendix pages from benchmarks/results/.

BENCHMARKS.md opens with one screen of headline tables, generated between the markers
`<!-- headline:start -->` and `<!-- headline:end -->`. The full tables and per-run provenance
live in appendix pages under docs/benchmarks/, each regenerated between
`<!-- results:start -->` and `<!-- results:end -->`; the prose around the markers is kept.

    python -m benchmarks tables
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchmarks.common import REPO, RESULTS

BENCHMARKS_MD = REPO / "BENCHMARKS.md"
APPENDIX = REPO / "docs" / "benchmarks"
START, END = "<!-- results:start -->", "<!-- results:end -->"
HEAD_START, HEAD_END = "<!-- headline:start -->", "<!-- headline:end -->"
HEADLINE = ["Recall@10", "NDCG@10", "Recall@20", "NDCG@20", "MRR@10"]
DATASET_TITLES = {"amazon-beauty": "Amazon Beauty", "ml-1m": "MovieLens-1M", "lastfm": "LastFM"}
MODEL_ORDER = ["popularity", "itemknn", "transition", "sasrec", "tiger"]
#: Datasets with a headline table on BENCHMARKS.md's first screen (the others: docs/benchmarks/accuracy.md).
HEADLINE_DATASETS = ("amazon-beauty", "ml-1m")
EXCLUDED = " (history excluded)"
ACCURACY = ["Recall@5", "NDCG@5", "Recall@10", "NDCG@10", "Recall@20", "NDCG@20", "MRR@10"]
BEYOND = ["Coverage@10", "ILD@10", "Novelty@10", "ARP@10", "Gini@10"]

#: Figures published by others, for comparison only (cited, not measured here).
PUBLISHED: dict[str, list[tuple[str, dict[str, float], str]]] = {
    "amazon-beauty": [
        (
            "SASRec (binary loss)",
            {"Recall@10": 0.0605, "NDCG@10": 0.0318},
            "as reported in the TIGER paper (Rajput et al., 2023)",
        ),
        (
            "TIGER",
            {"Recall@10": 0.0648, "NDCG@10": 0.0384, "Recall@5": 0.0454, "NDCG@5": 0.0321},
            "Rajput et al., 2023",
        ),
        ("eSASRec", {"Recall@10": 0.0928, "NDCG@10": 0.0523}, "arXiv 2508.06450, as compiled in issue 22"),
        ("SASRec, sampled softmax", {"Recall@10": 0.0921, "NDCG@10": 0.0531}, "as compiled in issue 22"),
        ("OneRec-SFT (Qwen3-1.7B)", {"Recall@10": 0.0925, "NDCG@10": 0.0501}, "as compiled in issue 22"),
        ("BARGE", {"Recall@10": 0.0927, "NDCG@10": 0.0547}, "reported, as compiled in issue 22"),
    ],
    "ml-1m": [
        (
            "SASRec (history excluded)",
            {"HR@10": 0.2853, "NDCG@10": 0.1603},
            "as reported in the HSTU paper (Zhai et al., 2024)",
        ),
        (
            "HSTU-large (history excluded)",
            {"HR@10": 0.3294, "NDCG@10": 0.1893},
            "Zhai et al., 2024 (history excluded from the ranking)",
        ),
    ],
}


def _row_name(path: Path, data: dict[str, Any]) -> str:
    """The table row of a result file: the model, or what the file name says beyond it."""
    stem = path.stem
    if stem.startswith("fusion_component_"):
        return data["model"]
    if data["model"] == "fusion":
        parts = data.get("models") or ["tiger", data.get("components", {}).get("scorer", "?")]
        if stem.startswith("fusion_") and not data.get("models"):
            parts = ["tiger", *stem.removeprefix("fusion_").split("_")]
        return "fusion: " + " + ".join(parts)
    if stem.endswith("_exclude_history"):
        return f"{data['model']} (history excluded)"
    return data["model"]


def load_results() -> dict[str, dict[str, dict[str, Any]]]:
    """All model result files, keyed by dataset then table row; a model's own file wins over a fusion's
    component (which is shown only where the model has no file of its own)."""
    found: dict[str, dict[str, dict[str, Any]]] = {}
    for path in sorted(RESULTS.glob("*/*.json"), key=lambda p: (p.parent.name, p.stem.startswith("fusion_component"))):
        data = json.loads(path.read_text())
        if "metrics" in data and "model" in data and "protocol" in data and "variant" not in data:
            runs = found.setdefault(path.parent.name, {})
            name = _row_name(path, data)
            if name not in runs:
                runs[name] = data
    return found


def _commit(sha: str) -> str:
    """Short commit id; a run from a tree with uncommitted changes says so."""
    return sha[:12] + (" + uncommitted changes" if sha.endswith("-dirty") else "")


def cost(r: dict[str, Any]) -> tuple[float, float, Any]:
    """Wall seconds, peak MiB and torch threads of a run; a fusion's include training its components."""
    parts = [r, *r.get("components", {}).get("results", {}).values()] if r.get("model") == "fusion" else [r]
    threads = (
        r.get("torch_threads") or (r.get("config") or {}).get("threads") or r.get("machine", {}).get("torch_threads")
    )
    return (
        sum(float(x.get("wall_seconds") or 0.0) for x in parts),
        max(float(x.get("peak_rss_mb") or 0.0) for x in parts),
        threads or "?",
    )


def _fmt(value: Any, digits: int = 4) -> str:
    return f"{value:.{digits}f}" if isinstance(value, (int, float)) else "–"


def dataset_section(dataset: str, runs: dict[str, dict[str, Any]]) -> str:
    """Markdown for one dataset: accuracy table, beyond-accuracy table, provenance."""
    names = _ordered(runs)
    first = runs[names[0]]
    stats = first.get("dataset_stats", {})
    lines = [f"### {dataset}", ""]
    lines.append(
        f"Source: {first.get('dataset_source', dataset)}; {stats.get('users', '?')} users, "
        f"{stats.get('items', '?')} items, {stats.get('interactions', '?')} interactions. "
        f"Split: {first['split']['name']} ({first['split'].get('test_cases', '?')} test users). "
        f"Protocol: full ranking over all items = {first['protocol']['full_ranking']}, "
        f"history excluded = {first['protocol']['exclude_history']}, ties {first['protocol']['ties']}."
    )
    lines += [
        "",
        "| model | " + " | ".join(ACCURACY) + " | fit s | wall s | peak MiB | threads |",
        "|---" * (len(ACCURACY) + 5) + "|",
    ]
    for name in names:
        r = runs[name]
        m = r["metrics"]
        wall, peak, threads = cost(r)
        lines.append(
            f"| {name} | "
            + " | ".join(_fmt(m.get(k)) for k in ACCURACY)
            + f" | {_fmt(r.get('fit_seconds'), 0)} | {_fmt(wall, 0)} | {_fmt(peak, 0)} | {threads} |"
        )
    for label, figures, _cite in PUBLISHED.get(dataset, []):
        cells = [_fmt(figures.get(k, figures.get(k.replace("Recall", "HR")))) for k in ACCURACY]
        lines.append(f"| *published: {label}* | " + " | ".join(cells) + " | | | | |")
    cites = [f"{label}: {cite}" for label, _, cite in PUBLISHED.get(dataset, [])]
    if cites:
        lines += ["", "Published rows are quoted for comparison, not measured here: " + "; ".join(cites) + "."]
    lines += ["", "Beyond accuracy (top-10 lists on the test split):", ""]
    lines += ["| model | " + " | ".join(BEYOND) + " |", "|---" * (len(BEYOND) + 1) + "|"]
    for name in names:
        m = runs[name]["metrics"]
        lines.append(f"| {name} | " + " | ".join(_fmt(m.get(k), 3 if k != "ARP@10" else 1) for k in BEYOND) + " |")
    lines += ["", "Runs:", ""]
    for name in names:
        r = runs[name]
        chosen = r.get("selection", {}).get("chosen", {})
        fit = r.get("fit_info", {})
        extra = ""
        sel = r.get("selection_fit_info", fit)
        if "best_epoch" in sel:
            extra = (
                f", early stopping chose epoch {sel['best_epoch']} of {sel.get('epochs', '?')} "
                f"(valid NDCG@10 {_fmt(sel.get('best_valid_ndcg10'))}, {sel.get('stop_reason', '?')})"
            )
        if isinstance(r.get("refit"), dict):
            before = r.get("test_metrics_before_refit", {})
            refit = r["refit"]
            what = f"for {refit['epochs']} epochs" if "epochs" in refit else "(rebuilt, nothing to train)"
            extra += f"; then refit on train+valid {what} ({_fmt(refit.get('fit_seconds'), 0)} s)"
            if before:
                extra += (
                    f"; test of the early-stopped model before the refit: Recall@10 {_fmt(before.get('Recall@10'))}, "
                    f"NDCG@10 {_fmt(before.get('NDCG@10'))}"
                )
        if "stages_seconds" in r:
            st = r["stages_seconds"]
            parts = ", ".join(
                f"{k.replace('_seconds', '')} {_fmt(v, 0)} s" for k, v in st.items() if k != "pipeline_wall"
            )
            extra += (
                f"; whole pipeline {_fmt(st.get('pipeline_wall', r.get('wall_seconds')), 0)} s wall"
                f"{' with a cold embedding cache' if r.get('cold_encode') else ''} ({parts})"
            )
        lines.append(
            f"- `{name}`: commit `{_commit(r['commit'])}`, {r['finished_at']}, chosen on validation: `{json.dumps(chosen)}`{extra}; "
            f"machine: {r['machine'].get('cpu')}, {r['machine'].get('cores')} cores; `{r['command']}`"
        )
    decoding = RESULTS / dataset / "tiger_decoding.json"
    if decoding.exists():
        lines += ["", decoding_section(json.loads(decoding.read_text()))]
    return "\n".join(lines) + "\n"


def decoding_section(d: dict[str, Any]) -> str:
    """Markdown for the tiger decoding-throughput benchmark."""
    lines = [
        f"Decoding throughput of tiger: {d['task']}; trie-constrained beam search, "
        f"{d['torch_threads']} torch thread(s), {d['batch_size']} users per batch, best of "
        f"{len(d['runs'][0]['all_seconds'])} passes (commit `{_commit(d['commit'])}`, `{d['command']}`):",
        "",
        "| beam width | users | seconds | users/s | invalid ids | lists without duplicates | load avg before |",
        "|---|---|---|---|---|---|---|",
    ]
    for run in d["runs"]:
        lines.append(
            f"| {run['beam_width']} | {run['users']} | {_fmt(run['seconds'], 1)} | {_fmt(run['users_per_s'], 0)} | "
            f"{run['invalid_ids']} | {run['all_lists_distinct']} | {_fmt(run['load_average_1min_before'], 1)} |"
        )
    return "\n".join(lines)


def fidelity_section(dataset: str, r: dict[str, Any]) -> str:
    """Markdown for benchmarks/results/<dataset>/fidelity.json (run_fidelity.py)."""
    rt, human = r["redteam"], r["human"]
    lines = [
        f"#### Fidelity checks: {dataset}",
        "",
        f"Red-team set: {rt['cases']} generated-item cases ({rt['counts'].get('clean', 0)} clean, "
        f"{rt['config'].get('per_fault')} per fault type, {len(rt['counts']) - 1} fault types; dev and held-out "
        f"templates); false positives on all {human['items']} human catalog items, each checked as an AI edit "
        f"of itself. Recall on a check's injected faults, precision over everything it flagged. Held-out "
        f"(seen): the first held-out templates, read before the learned detector was built; fresh held-out: "
        f"written before it and never tuned on (unsafe, stereotype and regulated claims only); fresh held-out 3: "
        f"unsafe phrasings written before the second round of safety examples and never tuned on "
        f"([docs/fidelity.md](docs/fidelity.md)).",
        "",
        "| check | recall | recall (dev templates) | recall (held-out, seen) | recall (fresh held-out) "
        "| recall (fresh held-out 3) | precision | FPR on human items |",
        "|---|---|---|---|---|---|---|---|",
    ]
    rows = [(name, c, human["checks"].get(name, {}).get("fpr")) for name, c in rt["checks"].items()]
    if rt.get("regulated_claims"):
        rows.append(("legal: regulated claims only", rt["regulated_claims"], None))
    for name, c, fpr in rows:
        if not c.get("positives"):
            continue
        lines.append(
            f"| {name} | {_fmt(c.get('recall'), 3)} | {_fmt(c.get('recall_dev'), 3)} | {_fmt(c.get('recall_heldout'), 3)} "
            f"| {_fmt(c.get('recall_heldout2'), 3)} | {_fmt(c.get('recall_heldout3'), 3)} | {_fmt(c.get('precision'), 3)} "
            f"| {'' if fpr is None else _fmt(100 * fpr, 2) + '%'} |"
        )
    lines += [
        "",
        f"Any check flagging a human item: {_fmt(100 * human['any_flag'], 2)}%; blocking one: "
        f"{_fmt(100 * human['any_block'], 2)}%.",
    ]
    sh = r.get("shilling") or {}
    if sh.get("groups_injected"):
        lines.append(
            f"Shilling: {sh['groups_injected']} injected bursts ({sh['fake_accounts']} fake accounts among "
            f"{sh['genuine_accounts']} genuine): account recall {_fmt(sh['user_recall'], 3)}, precision "
            f"{_fmt(sh['user_precision'], 3)}; item recall {_fmt(sh['item_recall'], 3)}; "
            f"{sh['genuine_accounts_flagged']} genuine accounts flagged."
        )
    wm = r.get("watermark")
    if wm and "detection" in wm:
        w = wm["watermark"]
        lines += [
            "",
            f"Watermark ({w['scheme']}, gamma {w['gamma']}, delta {w['delta']}, context {w['context_width']}) on "
            f"{wm['generator']} samples (temperature {wm['sampling']['temperature']}, top-p {wm['sampling']['top_p']}); "
            "threshold = the z-score at a 1% false-positive rate on human catalog texts of the same length; "
            f"edits: {wm['edits']}."
            + (
                f" (Sampled by the run at commit `{_commit(wm['reused_from']['commit'])}`, reused with `--reuse-watermark`.)"
                if wm.get("reused_from")
                else ""
            ),
            "",
            "| tokens | human texts | z threshold (1% FPR) | generated | detected (clean) | after 10% edits | after 20% edits |",
            "|---|---|---|---|---|---|---|",
        ]
        for length, det in wm["detection"].items():
            hum = wm["human"]["per_length"][length]
            lines.append(
                f"| {length} | {hum['samples']} | {_fmt(hum['threshold_fpr1'], 2)} | {det['clean']['n']} | "
                f"{_fmt(det['clean']['rate_at_fpr1'], 3)} | {_fmt(det['edit10']['rate_at_fpr1'], 3)} | "
                f"{_fmt(det['edit20']['rate_at_fpr1'], 3)} |"
            )
    lines += [
        "",
        f"Run: commit `{_commit(r['commit'])}`, {_fmt(float(r['wall_seconds']), 0)} s wall ("
        f"watermark sampling unless reused), peak {_fmt(float(r['peak_rss_mb']), 0)} MiB, {r['machine'].get('cpu')}, "
        f"{r['machine'].get('cores')} cores, `python -m benchmarks.run_fidelity --dataset {dataset}`.",
    ]
    return "\n".join(lines) + "\n"


def _run_line(r: dict[str, Any]) -> str:
    """'Run: commit, wall time, peak memory, machine, command.' for a result that records its command."""
    return (
        f"Run: commit `{_commit(r['commit'])}`, {_fmt(float(r['wall_seconds']), 0)} s wall, peak "
        f"{_fmt(float(r['peak_rss_mb']), 0)} MiB, {r['machine'].get('cpu')}, {r['machine'].get('cores')} cores, "
        f"`{r['command']}`."
    )


def generation_section(dataset: str, r: dict[str, Any]) -> str:
    """Markdown for benchmarks/results/<dataset>/generation.json (run_generation.py writes the tables)."""
    body = (
        r["markdown"].replace("## Generation benchmark", "#### Generation benchmark", 1).replace("\n### ", "\n##### ")
    )
    return f"{body}\n{_run_line(r)}\n"


def rewrite_selection_section(dataset: str, r: dict[str, Any]) -> str:
    """Markdown for benchmarks/results/<dataset>/rewrite_selection.json (select_rewrite.py)."""
    orig = next(iter(r["modes"].values()))["original"]
    lines = [
        f"#### Rewrite mode and edit-vs-source rule, chosen on validation users: {dataset}",
        "",
        f"{r['users']} users, {r['cases']}; recommender: {r['recommender']}. Each mode's rows are the loop's "
        "edits (checked, repaired, ranked; `mode/rule`: `pipeline.rewrite` / `pipeline.edit_vs_source`, the "
        "rules judge the same drafts); differences are against the original item, paired, with a 95% "
        "bootstrap interval.",
        "",
        "| mode/rule (drafts) | guidance | Cosine@10 | PS@10 | FactKeep | NameKeep | Changed | Identity | "
        "Cosine@10 vs original | PS@10 vs original |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|---|",
        f"| original item | – | {_fmt(orig['Cosine@10'])} | {_fmt(orig['PS@10'])} | – | – | – | – | – | – |",
    ]
    for mode, m in r["modes"].items():
        for row, v in m["table"].items():
            if not row.startswith("textgen (User_") or row.endswith("1 draft"):
                continue
            d = m["vs_original"][row]
            ci = [f"{x['diff']:+.4f} [{x['lo']:+.4f}, {x['hi']:+.4f}]" for x in (d["Cosine@10"], d["PS@10"])]
            lines.append(
                f"| {mode} ({m['resolved']}) | {row[len('textgen (') : -1]} | {_fmt(v['Cosine@10'])} | "
                f"{_fmt(v['PS@10'])} | {_fmt(v.get('FactKeep'), 3)} | {_fmt(v.get('NameKeep'), 3)} | "
                f"{_fmt(v.get('Changed'), 3)} | "
                f"{_fmt(v.get('Identity'), 3)} | {ci[0]} | {ci[1]} |"
            )
    lines += ["", _run_line(r)]
    return "\n".join(lines) + "\n"


def selection_floor_section(dataset: str, r: dict[str, Any]) -> str:
    """Markdown for benchmarks/results/<dataset>/selection_floor.json (select_selection.py)."""
    base = r["baselines"]
    lines = [
        f"#### Selection floor, chosen on validation users: {dataset}",
        "",
        f"{r['users']} users, {r['cases']}; recommender: {r['recommender']}. The recommender's segment "
        "choice among the segments at least as close to the user (User_Hist) as the floor; differences "
        "against the first and a random segment, paired, with a 95% bootstrap interval.",
        "",
        "| floor | Cosine@10 | PS@10 | Cosine@10 vs first | PS@10 vs first | Cosine@10 vs random | PS@10 vs random |",
        "|---|---:|---:|---|---|---|---|",
        *(
            f"| {name} segment (baseline) | {_fmt(b['Cosine@10'])} | {_fmt(b['PS@10'])} | – | – | – | – |"
            for name, b in (("first", base["first segment"]), ("random", base["random segment"]))
        ),
    ]
    for floor, v in r["floors"].items():
        cells = [
            f"{x['diff']:+.4f} [{x['lo']:+.4f}, {x['hi']:+.4f}]"
            for b in ("first segment", "random segment")
            for x in (v["vs"][b]["Cosine@10"], v["vs"][b]["PS@10"])
        ]
        lines.append(f"| {floor} | {_fmt(v['Cosine@10'])} | {_fmt(v['PS@10'])} | {' | '.join(cells)} |")
    lines += ["", _run_line(r)]
    return "\n".join(lines) + "\n"


def extra_sections(name: str, render: Any) -> list[str]:
    """Sections rendered from benchmarks/results/<dataset>/<name>.json where present."""
    return [render(path.parent.name, json.loads(path.read_text())) for path in sorted(RESULTS.glob(f"*/{name}.json"))]


# ---- the headline (first screen of BENCHMARKS.md) ---------------------------------------------
def _ordered(runs: dict[str, dict[str, Any]]) -> list[str]:
    """Table rows in model order, each model's history-excluded row after its history-kept one."""

    def key(name: str) -> tuple[int, str]:
        base = name.removesuffix(EXCLUDED)
        return (MODEL_ORDER.index(base) if base in MODEL_ORDER else 99, name)

    return sorted(runs, key=key)


def accuracy_table(dataset: str, runs: dict[str, dict[str, Any]]) -> str:
    """One dataset's accuracy table (history kept): genrec's models, best in bold, then published rows."""
    runs = {name: r for name, r in runs.items() if not name.endswith(EXCLUDED)}
    lines: list[str] = []
    if runs:
        stats = next(iter(runs.values())).get("dataset_stats", {})
        title = DATASET_TITLES.get(dataset, dataset)
        lines += [
            f"**{title}** ({stats.get('users', '?'):,} users, {stats.get('items', '?'):,} items; test on the last item)",
            "",
            "| model | " + " | ".join(HEADLINE) + " | wall s | peak MiB | threads |",
            "|---" + "|---:" * (len(HEADLINE) + 3) + "|",
        ]
        best = {k: max((r["metrics"].get(k, 0.0) for r in runs.values()), default=0.0) for k in HEADLINE}
        for name in _ordered(runs):
            r = runs[name]
            cells = [
                f"**{_fmt(r['metrics'].get(k))}**" if r["metrics"].get(k) == best[k] else _fmt(r["metrics"].get(k))
                for k in HEADLINE
            ]
            wall, peak, threads = cost(r)
            lines.append(f"| {name} | " + " | ".join(cells) + f" | {_fmt(wall, 0)} | {_fmt(peak, 0)} | {threads} |")
        for label, figures, _cite in PUBLISHED.get(dataset, []):
            if EXCLUDED.strip(" ()") not in label:
                cells = [_fmt(figures.get(k, figures.get(k.replace("Recall", "HR")))) for k in HEADLINE]
                lines.append(f"| *{label}* | " + " | ".join(cells) + " | | | |")
        lines.append("")
    return "\n".join(lines)


def protocols_table(runs: dict[str, dict[str, Any]], published: list[tuple[str, dict[str, float], str]]) -> str:
    """Recall@10 / NDCG@10 of every model with history kept and excluded side by side (the HSTU rows are
    history-excluded figures)."""
    models = [n for n in _ordered(runs) if not n.endswith(EXCLUDED)]
    lines = [
        "| model | kept: Recall@10 | kept: NDCG@10 | excluded: Recall@10 | excluded: NDCG@10 | wall s (kept / excl.) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    best = {
        (excl, k): max((r["metrics"].get(k, 0.0) for n, r in runs.items() if n.endswith(EXCLUDED) == excl), default=0)
        for excl in (False, True)
        for k in ("Recall@10", "NDCG@10")
    }

    def cell(r: dict[str, Any] | None, excl: bool, k: str) -> str:
        if r is None:
            return "–"
        value = r["metrics"].get(k)
        return f"**{_fmt(value)}**" if value == best[(excl, k)] else _fmt(value)

    stale = False
    for name in models:
        kept, excl = runs[name], runs.get(name + EXCLUDED)
        if (
            excl is not None
            and "best_epoch" in excl.get("fit_info", {})
            and "early_stopping_exclude_history" not in excl
        ):
            stale = True
            name += " †"
        walls = " / ".join(_fmt(cost(r)[0], 0) if r else "–" for r in (kept, excl))
        lines.append(
            f"| {name} | {cell(kept, False, 'Recall@10')} | {cell(kept, False, 'NDCG@10')} | "
            f"{cell(excl, True, 'Recall@10')} | {cell(excl, True, 'NDCG@10')} | {walls} |"
        )
    for label, figures, _cite in published:
        recall, ndcg = _fmt(figures.get("Recall@10", figures.get("HR@10"))), _fmt(figures.get("NDCG@10"))
        excluded = EXCLUDED.strip(" ()") in label
        name = label.replace(EXCLUDED, "")
        cells = f"– | – | {recall} | {ndcg}" if excluded else f"{recall} | {ndcg} | – | –"
        lines.append(f"| *{name}* | {cells} | |")
    if stale:
        lines += [
            "",
            "† Run before early stopping followed the protocol: its epoch count was chosen on the history-kept "
            "validation NDCG@10, the rest (test, and any grid) with history excluded.",
        ]
    return "\n".join(lines) + "\n"


def headline_accuracy(results: dict[str, dict[str, dict[str, Any]]]) -> str:
    """The headline datasets' tables; a dataset with history-excluded runs gets the two protocols side by side."""
    parts = []
    for dataset in HEADLINE_DATASETS:
        runs = results.get(dataset)
        if not runs:
            continue
        if any(n.endswith(EXCLUDED) for n in runs):
            stats = next(iter(runs.values())).get("dataset_stats", {})
            parts.append(
                f"**{DATASET_TITLES.get(dataset, dataset)}** ({stats.get('users', '?'):,} users, "
                f"{stats.get('items', '?'):,} items; test on the last item; history items kept in the ranking, and "
                "excluded from it as in the HSTU paper, each protocol used for selection and test alike)\n\n"
                + protocols_table(runs, PUBLISHED.get(dataset, []))
            )
        else:
            parts.append(accuracy_table(dataset, runs))
    return "\n".join(parts)


def headline_decoding() -> str:
    """One line per dataset with tiger's decoding throughput (the newest measurement of the default decoder)."""
    out = []
    for folder in sorted({p.parent for p in RESULTS.glob("*/tiger_decoding*.json")}):
        fast = folder / "tiger_decoding_fast.json"
        d = json.loads((fast if fast.exists() else folder / "tiger_decoding.json").read_text())
        runs = []
        for r in d["runs"]:
            cell = f"{_fmt(r['users_per_s'], 0)} users/s at beam {r['beam_width']}"
            if "users_per_cpu_s" in r:
                cell += f" ({_fmt(r['users_per_cpu_s'], 0)} per CPU-second, load {r['load_average_1min_before']:.1f})"
            runs.append(cell)
        out.append(
            f"**Decoding** (tiger, {DATASET_TITLES.get(folder.name, folder.name)}, catalog-constrained "
            f"beam search, {d['torch_threads']} thread(s), commit `{d['commit'][:10]}`): {'; '.join(runs)}; "
            f"{sum(r['invalid_ids'] for r in d['runs'])} invalid IDs."
        )
    return "\n\n".join(out)


#: The generative loop's five headline checks: (label, section, check name in generation.json's criteria).
LOOP_ROWS = [
    (
        "Segment selection by the recommender vs the first segment, PS@10",
        "selection",
        "personal (recommender) > first segment on PS@10",
    ),
    (
        "Rewriting (User_Hist) vs the original item, Cosine@10",
        "rewriting",
        "textgen (User_Hist) > original item on Cosine@10",
    ),
    ("Rewriting (User_Hist) vs the original item, PS@10", "rewriting", "textgen (User_Hist) > original item on PS@10"),
    (
        "Creation (User_Hist) vs random catalog items, Cosine@10",
        "creation",
        "textgen (User_Hist) > random catalog items on Cosine@10",
    ),
    ("Instruction-conditioned retrieval, NDCG@10 (without instruction)", "retrieval", "instruction raises NDCG@10"),
]


def _loop_cell(row: dict[str, Any] | None) -> str:
    if row is None:
        return "–"
    if "lo" in row:
        return f"{row['diff']:+.4f} [{row['lo']:+.4f}, {row['hi']:+.4f}]"
    return f"{_fmt(row['method'])} ({_fmt(row.get('baseline'))})"


def headline_loop() -> str:
    """Five rows of the generative loop's benchmark with their 95% intervals, one column per dataset."""
    found = {p.parent.name: json.loads(p.read_text()) for p in sorted(RESULTS.glob("*/generation.json"))}
    if not found:
        return ""
    names = sorted(found)
    lines = [
        "| the loop's default vs its baseline (95% paired bootstrap) | "
        + " | ".join(f"{DATASET_TITLES.get(n, n)} ({found[n]['protocol']['users']} users)" for n in names)
        + " |",
        "|---" * (len(names) + 1) + "|",
    ]
    for label, section, check in LOOP_ROWS:
        cells = []
        for n in names:
            rows = {(c["section"], c["check"]): c for c in found[n]["criteria"]}
            cells.append(_loop_cell(rows.get((section, check))))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    inst = []
    for n in names:
        rows = {(c["section"], c["check"]): c for c in found[n]["criteria"]}
        acc = rows.get(("instructor", "rules: action accuracy >= 0.9"))
        f1 = rows.get(("instructor", "rules: constraint F1 >= 0.8"))
        inst.append(f"{_fmt(acc['method'], 3) if acc else '–'} / {_fmt(f1['method'], 3) if f1 else '–'}")
    lines.append(
        "| Instructor (rules) on the generated instruction set: action accuracy / constraint F1 | "
        + " | ".join(inst)
        + " |"
    )
    return "\n".join(lines)


def headline_fidelity() -> str:
    """Per check: recall on the hand-written held-out cases (pooled over both catalogs), on their disguised
    spellings, and the share of all human catalog items each check flags."""
    from benchmarks.fidelity_cases import CHECKS, FRESH_FAULTY, NEWEST_CLEAN
    from benchmarks.fidelity_report import recall_cell

    found = {p.parent.name: json.loads(p.read_text()) for p in sorted(RESULTS.glob("*/fidelity.json"))}
    if not found:
        return ""
    names = sorted(found)
    rows = [r for n in names for r in found[n].get("handwritten", {}).get("outcomes", [])]

    lines = [
        "| check | hand-written held-out recall | fresh faulty set, written blind | held-out, disguised spellings | "
        + " | ".join(f"{DATASET_TITLES.get(n, n)} human items flagged" for n in names)
        + " |",
        "|---" * (4 + len(names)) + "|",
    ]
    for check in CHECKS:
        cells = []
        for n in names:
            fpr = found[n]["human"]["checks"].get(check, {}).get("fpr")
            cells.append("–" if fpr is None else f"{100 * fpr:.2f}%")
        lines.append(
            f"| {check} | {recall_cell(rows, check, split='heldout')} | {recall_cell(rows, check, file=FRESH_FAULTY)} | "
            f"{recall_cell(rows, check, split='heldout', style='disguised')} | " + " | ".join(cells) + " |"
        )
    any_flag = " / ".join(f"{100 * found[n]['human']['any_flag']:.2f}%" for n in names)
    clean = [r for r in rows if not r["expect"]]
    flagged = sum(r["verdict"] != "pass" for r in clean)
    fresh = [r for r in clean if r.get("file") == NEWEST_CLEAN]
    fresh_flagged = sum(r["verdict"] != "pass" for r in fresh)
    missed = sum(1 for r in rows if r["expect"] and not r["flagged_by"])
    faulty = sum(1 for r in rows if r["expect"])
    lines += [
        "",
        f"Any check flagging a human item: {any_flag} ({', '.join(DATASET_TITLES.get(n, n) for n in names)}); "
        f"clean hand-written paraphrases flagged: {flagged}/{len(clean)} over every clean set"
        + (
            f", {fresh_flagged}/{len(fresh)} ({100 * fresh_flagged / len(fresh):.1f}%) on the newest set, written "
            "after the last round of fixes and never tuned on (target <= 2%)"
            if fresh
            else ""
        )
        + f"; faulty hand-written cases no check flagged: {missed}/{faulty}.",
    ]
    return "\n".join(lines)


def headline_instructor() -> str:
    """One sentence: the instructors on the hand-written held-out requests of both catalogs, pooled."""
    from benchmarks.run_instructor import TARGETS, pooled

    results = [json.loads(p.read_text()) for p in sorted(RESULTS.glob("*/instructor.json"))]
    rules, llm = pooled(results, "rules"), pooled(results, "llm")
    if not results or not rules:
        return ""
    line = (
        f"**Instructor** on {rules['n']} hand-written held-out requests (never tuned on), the default (rules): "
        f"action accuracy {rules['action_accuracy']:.3f}, constraint precision {rules['constraint_precision']:.3f}, "
        f"F1 {rules['constraint_f1']:.3f} (targets {TARGETS['action_accuracy']}, {TARGETS['constraint_precision']}, "
        f"{TARGETS['constraint_f1']})"
    )
    if llm:
        line += (
            f"; the LLM instructor {llm['action_accuracy']:.3f}, {llm['constraint_precision']:.3f}, "
            f"{llm['constraint_f1']:.3f}"
        )
    return line + " ([details](docs/benchmarks/loop.md))."


def headline_reliability() -> str:
    """One sentence: hostile inputs tried, failures, data lost (the table: docs/benchmarks/reliability.md)."""
    path = RESULTS / "reliability" / "reliability.json"
    if not path.exists():
        return ""
    r = json.loads(path.read_text())
    inputs = sum(v["inputs"] for part in r["loaders"].values() for v in part.values())
    failures = sum(len(v.get("failures", [])) for part in r["loaders"].values() for v in part.values())
    kill, conc, disk = r["kill_convert"], r["concurrent"], r["full_disk"]
    parts = [
        f"{inputs:,} malformed input files, {failures} tracebacks or unnamed errors",
        f"{kill['kill_points']} kill -9s during `genrec data convert`, {kill['datasets_lost_or_changed']} datasets lost",
        f"{conc['processes']} concurrent CLI processes, {conc['processes'] - conc['outcomes'].get('ok', 0)} failed",
        f"a full disk at {sum(disk['outcomes'].values())} sizes, {disk['datasets_lost_or_half_written']} half-written",
    ]
    kill9 = RESULTS / "synthetic" / "serve_kill9.json"
    if kill9.exists():
        k = json.loads(kill9.read_text())
        parts.append(
            f"{len(k['rounds'])} kill -9s of `genrec serve` / `genrec chat`, {k['total']['lost']} of "
            f"{k['total']['acknowledged']:,} acknowledged feedback events lost"
        )
    return "**Reliability**: " + "; ".join(parts) + " ([details](docs/benchmarks/reliability.md))."


def headline_serving() -> str:
    """One sentence: p99 latency of the recommendations endpoint at the highest rate, per model (Amazon Beauty)."""
    path = RESULTS / "amazon-beauty" / "serve_load.json"
    if not path.exists():
        return ""
    r = json.loads(path.read_text())
    cells = []
    load = [run for run in r["runs"] if "target_rps" in run]  # the other rows describe the served models
    for model in dict.fromkeys(run["model"] for run in load):
        top = max((run for run in load if run["model"] == model), key=lambda run: run["target_rps"])
        cells.append(f"{model} p99 {top['p99_ms']:.1f} ms at {top['target_rps']:.0f} req/s, {top['errors']} errors")
    return (
        f"**Serving** `POST /v1/recommendations` on the Amazon Beauty catalog ({r['catalog_items']:,} items), one "
        f"process, open-loop load on loopback: {'; '.join(cells)}; target p99 <= 100 ms at 200 req/s "
        "([details](docs/benchmarks/serving.md))."
    )


def headline_other_datasets(results: dict[str, dict[str, dict[str, Any]]]) -> str:
    """One sentence per dataset outside the headline tables: its best row and tiger's."""
    lines = []
    for dataset in sorted(set(results) - set(HEADLINE_DATASETS)):
        runs = {n: r for n, r in results[dataset].items() if not n.endswith(EXCLUDED)}
        if not runs:
            continue
        best = max(runs, key=lambda n: runs[n]["metrics"].get("NDCG@10", 0.0))
        shown = [best] + [n for n in ("tiger", "sasrec") if n in runs and n != best]
        cells = ", ".join(
            f"{n} {_fmt(runs[n]['metrics']['Recall@10'])} / {_fmt(runs[n]['metrics']['NDCG@10'])}" for n in shown
        )
        lines.append(
            f"**{DATASET_TITLES.get(dataset, dataset)}**, Recall@10 / NDCG@10, same protocol: {cells} "
            "([all rows](docs/benchmarks/accuracy.md))."
        )
    return "\n\n".join(lines)


def headline(results: dict[str, dict[str, dict[str, Any]]]) -> str:
    """The first screen of BENCHMARKS.md."""
    parts = [
        "## Next-item accuracy",
        "",
        "Leave-one-out split, full ranking over the whole catalog, ties ranked pessimistically, history items "
        "kept in the ranking unless a column says otherwise, settings and epochs chosen on validation only, test "
        "evaluated once; a generative model's list is its beam-search top-k and an item it does not generate is a "
        "miss ([protocol](docs/evaluation.md)). Wall time is the whole run (selection, refit, test; a fusion's "
        "includes training its components) on this 2-core CPU with the torch threads shown. Best genrec figure in "
        "bold; *italic* rows are published figures, quoted, not measured here.",
        "",
        headline_accuracy(results),
    ]
    parts += [x + "\n" for x in (headline_other_datasets(results), headline_decoding()) if x]
    loop = headline_loop()
    if loop:
        parts += ["## The generative loop", "", loop, ""]
    fidelity = headline_fidelity()
    if fidelity:
        parts += [
            "## Fidelity checks",
            "",
            "Recall on hand-written faulty generated items (every third case held out and never tuned on; the "
            "blind set: 10 cases per check written by someone who never saw the checks, measured once; a check "
            "flags a case when it warns or blocks); share of all human "
            "catalog items flagged, each checked as an AI edit of itself ([appendix](docs/benchmarks/fidelity.md): "
            "the templated red-team set, per-split figures).",
            "",
            fidelity,
            "",
        ]
    lines = [x for x in (headline_instructor(), headline_serving(), headline_reliability()) if x]
    if lines:
        parts += ["## Instructor, serving, reliability", "", "\n\n".join(lines)]
    return "\n".join(parts) + "\n"


# ---- writing the files ---------------------------------------------------------------------------
def fill(path: Path, body: str, start: str = START, end: str = END) -> None:
    """Replace what lies between the markers ``start`` and ``end`` in ``path`` with ``body``."""
    text = path.read_text()
    if start not in text or end not in text:
        raise SystemExit(f"{path} lacks the markers {start} / {end}")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    path.write_text(f"{head}{start}\n{body}{end}{tail}")


def main() -> None:
    """Regenerate BENCHMARKS.md's headline and the appendix pages under docs/benchmarks/."""
    results = load_results()
    fill(BENCHMARKS_MD, headline(results), HEAD_START, HEAD_END)
    from benchmarks import cli_reproduce, perf_tables, trainer_equivalence

    accuracy = [dataset_section(d, runs) for d, runs in sorted(results.items())]
    for path in sorted(RESULTS.glob("*/*_cli.json")):
        accuracy.append(cli_reproduce.section(path.parent.name, json.loads(path.read_text())))
    accuracy += extra_sections("trainer_equivalence", trainer_equivalence.section)
    accuracy.append(perf_tables.section())
    fill(APPENDIX / "accuracy.md", "\n".join(accuracy))
    loop = "\n".join(
        extra_sections("generation", generation_section)
        + extra_sections("rewrite_selection", rewrite_selection_section)
        + extra_sections("selection_floor", selection_floor_section)
    )
    from benchmarks import fidelity_report, reliability, run_instructor

    fill(APPENDIX / "loop.md", "\n".join([loop, run_instructor.section()]))
    fill(
        APPENDIX / "fidelity.md", "\n".join([fidelity_report.markdown(), *extra_sections("fidelity", fidelity_section)])
    )
    from benchmarks import serve_load

    fill(APPENDIX / "serving.md", serve_load.section())
    rel = RESULTS / "reliability" / "reliability.json"
    if rel.exists():
        fill(APPENDIX / "reliability.md", reliability.markdown(json.loads(rel.read_text())))
    print(f"wrote the headline and appendix tables for {', '.join(sorted(results)) or 'no results'}")


if __name__ == "__main__":
    main()
