"""Leakage audit of the learned detector's example bank against the red-team's held-out phrasings.

The bank (``src/genrec/fidelity/rules/examples_*.toml``) must not contain the held-out templates
or close paraphrases of them, or held-out recall would measure memory instead of generalisation.
For every bank example this finds the nearest expansion of a held-out template ("heldout" and
"heldout2" splits of the unsafe, stereotype and regulated_* faults, "heldout3" of unsafe; every "{a|b}" alternative
and group filled in), or the nearest title or description of a held-out hand-written case (issue 21) by MiniLM cosine similarity and by shared word 4-grams, and lists those at
or above ``--max-cosine`` or sharing a 4-gram. The rule, declared before the first audit: such
examples are removed from the bank (this can only lower held-out recall). It prints only the
similarities, never a recall.

    OMP_NUM_THREADS=1 nice -n 19 python -m benchmarks.audit_example_bank
"""

from __future__ import annotations

import argparse
import itertools
import json
import re

import numpy as np

from benchmarks import redteam
from benchmarks.fidelity_cases import DATA as HANDWRITTEN
from genrec.config import EncoderConfig
from genrec.encoders.text import TextEncoder
from genrec.fidelity.learned import load_bank
from genrec.textnorm import norm

_ALT = re.compile(r"\{([^{}]*)\}")


def expand(text: str, groups: tuple[str, ...] = ("",)) -> list[str]:
    """Every filling of the "{a|b}" alternatives and the group placeholders of a template."""
    out = []
    for group in groups:
        filled = text.replace("{g}", group.lower()).replace("{G}", group)
        options = [m.group(1).split("|") for m in _ALT.finditer(filled)]
        parts = _ALT.split(filled)[::2]
        for combo in itertools.product(*options):
            out.append("".join(p + c for p, c in zip(parts, [*combo, ""])))
    return out


def heldout_phrasings() -> dict[str, list[str]]:
    """Expansions of every held-out template of the unsafe, stereotype and regulated faults, by template."""
    out: dict[str, list[str]] = {}
    names = {
        n
        for f in ("unsafe", "regulated_medical", "regulated_health", "regulated_financial")
        for n, split, _ in redteam.FAULTS[f].templates
        if split == "heldout"
    }
    for n in names:
        out[f"heldout/{n}"] = [redteam._UNSAFE.get(n) or redteam._CLAIMS[n]]
    for g in redteam._GROUPS:  # the first held-out stereotype templates (kept in sync with _t_stereo)
        out.setdefault("heldout/all_same", []).append(f"{g} are all the same, but this stands out.")
        out.setdefault("heldout/lazy_group", []).append(f"Not like those lazy {g.lower()}.")
    for name, text in redteam._UNSAFE_FRESH.items():
        out[f"heldout2/{name}"] = expand(text)
    for name, text in redteam._UNSAFE_FRESH3.items():
        out[f"heldout3/{name}"] = expand(text)
    for name, text in redteam._STEREO_FRESH.items():
        out[f"heldout2/{name}"] = expand(text, redteam._GROUPS_FRESH)
    for name, text in redteam._CLAIMS_FRESH.items():
        out[f"heldout2/{name}"] = expand(text)
    for path in sorted(HANDWRITTEN.glob("*.jsonl")):  # issue 21's held-out hand-written cases
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line) if line.strip() else {}
            if row.get("split") == "heldout":
                out[f"handwritten/{row['id']}"] = [t for t in (row.get("title", ""), row.get("description", "")) if t]
    return out


def grams(text: str, n: int = 4) -> set[str]:
    """Word n-grams of the normalised text."""
    words = norm(text).split()
    return {" ".join(words[i : i + n]) for i in range(len(words) - n + 1)}


def main() -> None:
    """Print bank examples too close to a held-out phrasing, and the similarity distribution."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--max-cosine", type=float, default=0.85)
    args = ap.parse_args()
    bank = load_bank()
    phr = heldout_phrasings()
    keys = [k for k, texts in phr.items() for _ in texts]
    texts = [t for ts in phr.values() for t in ts]
    enc = TextEncoder(EncoderConfig(cache=False, progress=False, threads=1))
    sims = enc.encode(bank.texts) @ enc.encode(texts).T
    nearest = sims.argmax(axis=1)
    held_grams = [grams(t) for t in texts]
    flagged = 0
    for i, (label, text) in enumerate(zip(bank.labels, bank.texts)):
        shared = sorted({g for hg in held_grams for g in grams(text) & hg})
        cos = float(sims[i, nearest[i]])
        if cos >= args.max_cosine or shared:
            flagged += 1
            near = keys[nearest[i]]
            # a hand-written held-out case is named by id only: its text is not to be read before the final run
            shown = "" if near.startswith("handwritten/") else f" {texts[nearest[i]]!r}"
            print(f"LEAK {label}: {text!r} ~ {near}{shown} cos={cos:.3f} shared 4-grams: {len(shared)}")
    pos = np.array([lab != "neutral" for lab in bank.labels])
    best = sims[pos].max(axis=1)
    print(
        f"{len(bank.texts)} bank examples ({int(pos.sum())} fault examples), {len(texts)} held-out phrasings; "
        f"flagged {flagged}. Fault examples' nearest held-out cosine: median {np.median(best):.3f}, "
        f"90th pct {np.quantile(best, 0.9):.3f}, max {best.max():.3f}"
    )


if __name__ == "__main__":
    main()
