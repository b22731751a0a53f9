"""List-level exposure fairness: how position-weighted exposure in recommendation lists is shared
among providers (brands), and between generated and human items.

Exposure of a slot at 0-based rank r is 1 / log2(r + 2) (the DCG discount). The report gives
each provider's share of all exposure, of the exposure of human items and of generated items;
the Gini coefficient of provider exposure; and how far generated items shift exposure between
providers (Jensen-Shannon divergence of the two provider distributions, and the provider that
gains the most).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from genrec.data.generated import GENERATED_PREFIX, GeneratedItem
from genrec.fidelity._text import clean

UNKNOWN_PROVIDER = "(unknown)"


def provider_map(catalog: pd.DataFrame, generated: Iterable[GeneratedItem] = ()) -> dict[str, str]:
    """Item id -> provider: a human item's brand; an edit's source brand; a creation's brand or generator."""
    out = {str(i): clean(b) or UNKNOWN_PROVIDER for i, b in zip(catalog["item_id"], catalog["brand"])}
    for g in generated:
        src = g.provenance.source_item_id
        if g.provenance.kind != "create" and src is not None and str(src) in out:
            out[g.item_id] = out[str(src)]
        else:
            out[g.item_id] = g.brand or f"generated:{g.provenance.generator}"
    return out


def gini(values: Sequence[float]) -> float:
    """Gini coefficient of non-negative values (0 = equal, ->1 = one takes all)."""
    x = np.sort(np.asarray(values, dtype=np.float64))
    if x.size == 0 or x.sum() <= 0:
        return 0.0
    n = x.size
    return float((2 * np.arange(1, n + 1) - n - 1) @ x / (n * x.sum()))


def _js_divergence(p: Mapping[str, float], q: Mapping[str, float]) -> float:
    keys = set(p) | set(q)
    if not keys or not any(p.values()) or not any(q.values()):
        return 0.0
    a = np.array([p.get(k, 0.0) for k in keys])
    b = np.array([q.get(k, 0.0) for k in keys])
    a, b = a / a.sum(), b / b.sum()
    m = (a + b) / 2

    def kl(x: np.ndarray) -> float:
        mask = x > 0
        return float(np.sum(x[mask] * np.log2(x[mask] / m[mask])))

    return (kl(a) + kl(b)) / 2


def exposure_report(
    lists: Sequence[Sequence[str]],
    provider_of: Mapping[str, str],
    generated: Collection[str] | None = None,
    k: int | None = None,
    providers: Iterable[str] | None = None,
) -> dict[str, Any]:
    """Exposure shares by provider and by origin (generated vs human) over recommendation ``lists``.

    ``generated`` holds the generated item ids (default: ids starting with ``gen:``); ``k`` cuts
    each list; ``providers`` is the universe for the Gini coefficient (default: providers seen).
    """
    is_gen = (lambda i: i in generated) if generated is not None else (lambda i: str(i).startswith(GENERATED_PREFIX))
    total: dict[str, float] = defaultdict(float)
    by_origin: dict[str, dict[str, float]] = {"human": defaultdict(float), "generated": defaultdict(float)}
    slots = {"human": 0, "generated": 0}
    for lst in lists:
        for rank, item in enumerate(list(lst)[:k] if k else lst):
            w = 1.0 / math.log2(rank + 2)
            origin = "generated" if is_gen(str(item)) else "human"
            provider = provider_of.get(str(item), UNKNOWN_PROVIDER)
            total[provider] += w
            by_origin[origin][provider] += w
            slots[origin] += 1
    exposure = sum(total.values())
    gen_exposure = sum(by_origin["generated"].values())
    human_exposure = sum(by_origin["human"].values())
    universe = set(providers) if providers is not None else set(total)
    per_provider = {}
    for p in sorted(universe | set(total), key=lambda p: -total.get(p, 0.0)):
        per_provider[p] = {
            "share": total.get(p, 0.0) / exposure if exposure else 0.0,
            "human_share": by_origin["human"].get(p, 0.0) / human_exposure if human_exposure else 0.0,
            "generated_share": by_origin["generated"].get(p, 0.0) / gen_exposure if gen_exposure else 0.0,
        }
    gains = {p: v["generated_share"] - v["human_share"] for p, v in per_provider.items()}
    top_gain = max(gains, key=lambda p: gains[p]) if gains and gen_exposure and human_exposure else None
    n_slots = slots["human"] + slots["generated"]
    return {
        "lists": len(lists),
        "slots": n_slots,
        "generated_slot_share": slots["generated"] / n_slots if n_slots else 0.0,
        "generated_exposure_share": gen_exposure / exposure if exposure else 0.0,
        "providers": per_provider,
        "gini": gini([total.get(p, 0.0) for p in universe]),
        "top_provider_share": max((v["share"] for v in per_provider.values()), default=0.0),
        "generated_vs_human_js": _js_divergence(by_origin["generated"], by_origin["human"]),
        "largest_gain": {"provider": top_gain, "gain": gains[top_gain]} if top_gain else None,
    }
