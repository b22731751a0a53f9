"""Repair a blocked draft: cut the description sentences an edit's authenticity findings point at, or
respell the near-words a small generator made up in a creation.

A sampled description may state a material, number or brand its source does not support. When
every blocking finding of an edit is an authenticity finding inside the description, the
sentences holding those spans are dropped and the shorter text is checked again from scratch
(every check, a new item id). The blocked draft stays stored with its reasons, for the audit.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Sequence

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from genrec.data.generated import GeneratedItem
from genrec.fidelity.base import CheckContext
from genrec.fidelity.checker import FidelityChecker
from genrec.textnorm import sentence_spans  # keeps "5.3" and "$6.45" whole

__all__ = ["check_and_repair", "cut_flagged_sentences", "respell", "sentence_spans"]


def cut_flagged_sentences(item: GeneratedItem) -> GeneratedItem | None:
    """The edit without the description sentences its blocking authenticity findings point at (None: not repairable)."""
    report = item.fidelity or {}
    if item.provenance.kind != "edit" or report.get("verdict") != "block":
        return None
    spans = []
    for name, check in (report.get("checks") or {}).items():
        for f in check.get("findings", []):
            if f.get("severity") != "block":
                continue
            if name != "authenticity" or f.get("field") != "description" or f.get("start") is None:
                return None  # something else blocks, or a finding without a place to cut
            spans.append((int(f["start"]), int(f["end"])))
    if not spans:
        return None
    text = item.description
    kept = [text[a:b] for a, b in sentence_spans(text) if not any(s < b and a < e for s, e in spans)]
    description = " ".join(kept).strip()
    if not description or description == text.strip():
        return None
    return dataclasses.replace(item, description=description, item_id="", fidelity=None)


def check_and_repair(
    checker: FidelityChecker, items: Sequence[GeneratedItem], ctx: CheckContext
) -> list[GeneratedItem]:
    """Check ``items``; add a checked repaired copy of each edit only authenticity findings in its description block."""
    checker.check_many(list(items), ctx)
    repaired = [r for r in (cut_flagged_sentences(d) for d in items) if r is not None]
    if repaired:
        checker.check_many(repaired, ctx)
    return [*items, *repaired]


def respell(item: GeneratedItem, odd: Iterable[str], vocabulary: Sequence[str]) -> GeneratedItem | None:
    """The draft with each made-up word of ``odd`` replaced by the catalog word one edit away (two for words
    of six letters or more): "mudy" -> "muddy"; None when some word has no such neighbour."""
    fixes = {}
    for word in odd:
        best = process.extractOne(
            word, vocabulary, scorer=Levenshtein.distance, score_cutoff=2 if len(word) >= 6 else 1
        )
        if best is None:
            return None
        fixes[word] = best[0]
    if not fixes:
        return None

    def swap(text: str) -> str:
        def keep_case(m: re.Match[str]) -> str:
            new = fixes[m.group().lower()]
            return new.capitalize() if m.group()[0].isupper() else new

        pattern = r"\b(" + "|".join(re.escape(w) for w in fixes) + r")\b"
        return re.sub(pattern, keep_case, text, flags=re.IGNORECASE)

    return dataclasses.replace(
        item, title=swap(item.title), description=swap(item.description), item_id="", fidelity=None
    )
