"""Repair an edit the authenticity check blocked: cut the description sentences its findings point at.

A sampled description may state a material, number or brand its source does not support. When
every blocking finding of an edit is an authenticity finding inside the description, the
sentences holding those spans are dropped and the shorter text is checked again from scratch
(every check, a new item id). The blocked draft stays stored with its reasons, for the audit.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from genrec.data.generated import GeneratedItem
from genrec.fidelity.base import CheckContext
from genrec.fidelity.checker import FidelityChecker
from genrec.textnorm import sentence_spans  # keeps "5.3" and "$6.45" whole

__all__ = ["check_and_repair", "cut_flagged_sentences", "sentence_spans"]


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
