"""Fact anchors for rewritten titles: the source's numbers, prices and product type, kept verbatim.

An "anchored" rewrite (``TextGenWriter(rewrite="anchored")``) lets the generator write a new
title after the brand, removes the numbers it wrote that the source does not state, and then
appends each of the source's facts that the new text does not state: numbers with their units ("0.34 Ounce", "SPF 30"),
prices, and the source's own category names that its title uses ("Blush"). The new words move
the item towards the user; the anchors keep what the authenticity check and fact keeping ask for.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from genrec.fidelity.authenticity import Fact, extract_numbers, extract_prices, supported


def stated(fact: Fact, facts: Sequence[Fact]) -> bool:
    """``facts`` state ``fact``: the same value in the same unit, or an equal amount in another unit.

    Stricter than the authenticity check's ``supported``, whose 3% tolerance within one unit would
    let a rewrite say "0.33 Ounce" for a 0.34-ounce product.
    """
    same_unit = [f for f in facts if f.unit == fact.unit]
    if any(abs(f.value - fact.value) <= 1e-9 * max(1.0, abs(fact.value)) for f in same_unit):
        return True
    return supported(fact, [f for f in facts if f.unit != fact.unit and f.unit and fact.unit])


def has_phrase(text: str, phrase: str) -> bool:
    """``phrase`` occurs in ``text`` as whole words, any case."""
    return re.search(rf"(?<!\w){re.escape(phrase)}(?!\w)", text, re.IGNORECASE) is not None


def missing_facts(source_text: str, draft_text: str, product_types: Sequence[str] = ()) -> list[str]:
    """The source's fact spans (prices, numbers with units, product types it names) the draft does not state."""
    out: list[str] = []
    have_prices = extract_prices(draft_text)
    have_numbers = extract_numbers(draft_text, [(p.start, p.end) for p in have_prices])
    prices = extract_prices(source_text)
    for p in prices:
        if not any(abs(p.value - q.value) < 1e-9 for q in have_prices):
            out.append(p.text)
    for f in extract_numbers(source_text, [(p.start, p.end) for p in prices]):
        if not stated(f, have_numbers):
            out.append(f.text.strip())
    for phrase in product_types:
        phrase = phrase.strip()
        if phrase and has_phrase(source_text, phrase) and not has_phrase(draft_text, phrase):
            out.append(phrase)
    return list(dict.fromkeys(x for x in out if x))


def anchor_title(title: str, missing: Sequence[str]) -> str:
    """``title`` followed by the ``missing`` fact spans, comma separated."""
    title = title.strip().rstrip(",;:- ")
    return ", ".join([title, *missing]) if title else ", ".join(missing)


def strip_unsupported_numbers(text: str, source_text: str, notes: list[str] | None = None) -> str:
    """``text`` without the prices and numbers (with their units) that ``source_text`` does not state."""
    src_prices = extract_prices(source_text)
    src_numbers = extract_numbers(source_text, [(p.start, p.end) for p in src_prices])
    prices = extract_prices(text)
    cut = [(p.start, p.end, p.text) for p in prices if not any(abs(p.value - q.value) < 1e-9 for q in src_prices)]
    cut += [
        (f.start, f.end, f.text)
        for f in extract_numbers(text, [(p.start, p.end) for p in prices])
        if not stated(f, src_numbers)
    ]
    for start, end, found in sorted(cut, reverse=True):
        text = text[:start] + text[end:]
        if notes is not None:
            notes.append(f"number {found.strip()!r} removed")
    return tidy(text)


def tidy(text: str) -> str:
    """Spaces and punctuation left clean after words were cut out of ``text``."""
    text = re.sub(r"\s+([.,;:!?)])", r"\1", re.sub(r"\s+", " ", text))
    return re.sub(r"([,;:])(?:\s*[,;:])+", r"\1", text).strip(" -:;,")
