"""Build the result tables of BENCHMARKS.md from benchmarks/results/<dataset>/<model>.json.

Everything between the markers `<!-- results:start -->` and `<!-- results:end -->` in
BENCHMARKS.md is regenerated; the prose around it is left alone.

    python -m benchmarks.make_tables
"""

from __future__ import annotations

import json
from typing import Any

from benchmarks.common import REPO, RESULTS

BENCHMARKS_MD = REPO / "BENCHMARKS.md"
START, END = "<!-- results:start -->", "<!-- results:end -->"
MODEL_ORDER = ["popularity", "itemknn", "sasrec", "tiger"]
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
    ],
    "ml-1m": [
        ("SASRec", {"HR@10": 0.2853, "NDCG@10": 0.1603}, "as reported in the HSTU paper (Zhai et al., 2024)"),
    ],
}


def load_results() -> dict[str, dict[str, dict[str, Any]]]:
    """All model result files, keyed by dataset then model."""
    found: dict[str, dict[str, dict[str, Any]]] = {}
    for path in sorted(RESULTS.glob("*/*.json")):
        data = json.loads(path.read_text())
        if "metrics" in data and "model" in data and "protocol" in data:
            found.setdefault(path.parent.name, {})[data["model"]] = data
    return found


def _commit(sha: str) -> str:
    """Short commit id; a run from a tree with uncommitted changes says so."""
    return sha[:12] + (" + uncommitted changes" if sha.endswith("-dirty") else "")


def _fmt(value: Any, digits: int = 4) -> str:
    return f"{value:.{digits}f}" if isinstance(value, (int, float)) else "–"


def dataset_section(dataset: str, runs: dict[str, dict[str, Any]]) -> str:
    """Markdown for one dataset: accuracy table, beyond-accuracy table, provenance."""
    names = sorted(runs, key=lambda m: (MODEL_ORDER.index(m) if m in MODEL_ORDER else 99, m))
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
        "| model | " + " | ".join(ACCURACY) + " | fit s | wall s | peak MiB |",
        "|---" * (len(ACCURACY) + 4) + "|",
    ]
    for name in names:
        r = runs[name]
        m = r["metrics"]
        lines.append(
            f"| {name} | "
            + " | ".join(_fmt(m.get(k)) for k in ACCURACY)
            + f" | {_fmt(r.get('fit_seconds'), 0)} | {_fmt(r.get('wall_seconds'), 0)} | {_fmt(r.get('peak_rss_mb'), 0)} |"
        )
    for label, figures, _cite in PUBLISHED.get(dataset, []):
        cells = [_fmt(figures.get(k, figures.get(k.replace("Recall", "HR")))) for k in ACCURACY]
        lines.append(f"| *published: {label}* | " + " | ".join(cells) + " | | | | ")
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
        if "refit" in r:
            before = r.get("test_metrics_before_refit", {})
            extra += (
                f"; then refit on train+valid for {r['refit']['epochs']} epochs ({_fmt(r['refit']['fit_seconds'], 0)} s); "
                f"test of the early-stopped model before the refit: Recall@10 {_fmt(before.get('Recall@10'))}, "
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


def main() -> None:
    """Regenerate the tables in BENCHMARKS.md."""
    results = load_results()
    body = "\n".join(dataset_section(d, runs) for d, runs in sorted(results.items()))
    generation = extra_sections("generation", generation_section)
    if generation:
        body += "\n### The generative loop\n\n" + "\n".join(generation)
    selection = extra_sections("rewrite_selection", rewrite_selection_section)
    if selection:
        body += "\n".join(selection)
    floors = extra_sections("selection_floor", selection_floor_section)
    if floors:
        body += "\n" + "\n".join(floors)
    fidelity = extra_sections("fidelity", fidelity_section)
    if fidelity:
        body += "\n### Fidelity checks\n\n" + "\n".join(fidelity)
    text = BENCHMARKS_MD.read_text() if BENCHMARKS_MD.exists() else f"# Benchmarks\n\n{START}\n{END}\n"
    if START not in text or END not in text:
        raise SystemExit(f"{BENCHMARKS_MD} lacks the markers {START} / {END}")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    BENCHMARKS_MD.write_text(f"{head}{START}\n{body}{END}{tail}")
    print(f"wrote tables for {', '.join(sorted(results)) or 'no results'} into {BENCHMARKS_MD}")


if __name__ == "__main__":
    main()
