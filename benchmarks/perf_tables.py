"""Markdown sections for issue 22's results, built from the result files only (make_tables.py can call ``markdown``).

* the item-transition graph beside the other models (``run_transition.markdown_section``);
* every fused re-scorer result (``run_fusion.markdown_section``), and which fusion validation chose;
* tiger's decoding speed with the edge-only step against the dense reference (``tiger_decoding_fast.json``).

    python -m benchmarks.perf_tables
"""

from __future__ import annotations

import json

from benchmarks.common import RESULTS
from benchmarks.run_fusion import choose_on_validation, markdown_section
from benchmarks.run_transition import markdown_section as transition_section


def fusion_sections(dataset: str) -> str:
    """Every fusion result of ``dataset`` and the one chosen on validation."""
    parts = []
    for path in sorted((RESULTS / dataset).glob("fusion*.json")):
        if path.stem.startswith("fusion_component"):
            continue
        scorers = json.loads(path.read_text())["models"][1:]
        parts.append(markdown_section(dataset, scorers))
    chosen = choose_on_validation(dataset)
    if chosen is not None:
        parts.append(
            f"Chosen on validation ({dataset}): tiger + {' + '.join(chosen['scorers'])}, {chosen['learned']['method']} "
            f"mix {chosen['learned']['mix']} (valid NDCG@10 {chosen['learned']['valid_NDCG@10']:.4f}, "
            f"Recall@10 {chosen['valid_Recall@10']:.4f}).\n"
        )
    return "\n".join(parts)


def decoding_section(dataset: str = "amazon-beauty") -> str:
    """Users/s (wall and per CPU-second) of the edge-only step and the dense reference, per beam width."""
    path = RESULTS / dataset / "tiger_decoding_fast.json"
    if not path.exists():
        return ""
    rec = json.loads(path.read_text())
    rows = [
        "| beam | users/s (wall) | users per CPU-s | reference users per CPU-s | lists differing | load |",
        "|---|---|---|---|---|---|",
    ]
    for run in rec["runs"]:
        ref = run.get("reference", {})
        rows.append(
            f"| {run['beam_width']} | {run['users_per_s']:,.0f} | {run['users_per_cpu_s']:,.0f} | "
            f"{ref.get('users_per_cpu_s', float('nan')):,.0f} | {ref.get('users_with_different_lists', '-')} "
            f"of {run['users']:,} | {run['load_average_1min_before']:.1f} |"
        )
    note = (
        f"Top-10 for every user, {rec['torch_threads']} torch thread, commit {rec['commit']}; the machine was shared "
        "(load = 1-minute load average), so CPU-seconds stand in for an idle machine's wall time."
    )
    return f"### tiger decoding ({dataset})\n\n" + "\n".join(rows) + "\n\n" + note + "\n"


def markdown() -> str:
    """All sections."""
    parts = [transition_section()]
    for dataset in ("amazon-beauty", "lastfm"):
        parts.append(fusion_sections(dataset))
    parts.append(decoding_section())
    return "\n".join(p for p in parts if p)


if __name__ == "__main__":
    print(markdown())
