"""Helpers of the fidelity false-positive tests: a small catalog with its checker and context fixtures, an edit
of one of its items or a creation, and what each check flagged."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest

from genrec.data.generated import GeneratedItem, Provenance
from genrec.fidelity.base import CheckContext
from genrec.fidelity.checker import FidelityChecker


def catalog_of(rows: list[dict[str, object]]) -> pd.DataFrame:
    """A catalog of ``rows`` (item_id, brand, title, price, optional description), without categories."""
    catalog = pd.DataFrame(rows)
    if "description" not in catalog:
        catalog["description"] = ""
    catalog["description"] = catalog["description"].fillna("")
    catalog["categories"] = [[] for _ in range(len(catalog))]
    return catalog


def probe_fixtures(catalog: pd.DataFrame) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """Module-scoped ``checker`` (the default policy) and ``ctx`` (``catalog``, user u1) fixtures for a test module:
    ``checker, ctx = probe_fixtures(CATALOG)``."""

    @pytest.fixture(scope="module")
    def checker() -> FidelityChecker:
        return FidelityChecker()

    @pytest.fixture(scope="module")
    def ctx() -> CheckContext:
        return CheckContext(catalog=catalog, user_id="u1")

    return checker, ctx


def creation(title: str, description: str = "", brand: str | None = None, generator: str = "textgen") -> GeneratedItem:
    """An AI creation for user u1 (no source, categories or price)."""
    prov = Provenance("create", generator, "1", user_id="u1")
    return GeneratedItem(title, description, brand, [], None, provenance=prov)


def edit_of(catalog: pd.DataFrame, item_id: str, title: str, description: str) -> GeneratedItem:
    """An AI edit of ``item_id`` (its brand and price kept) with a new title and description."""
    row = catalog.set_index("item_id").loc[item_id]
    prov = Provenance("edit", "textgen", "1", user_id="u1", source_item_id=item_id)
    return GeneratedItem(title, description, str(row["brand"]), [], float(row["price"]), provenance=prov)


def flags(checker: FidelityChecker, item: GeneratedItem, ctx: CheckContext) -> dict[str, list[str]]:
    """Finding codes of every check that did not pass."""
    report = checker.check(item, ctx, attach=False)
    return {name: [f.code for f in r.findings] for name, r in report.checks.items() if r.verdict != "pass"}


def auth_codes(
    checker: FidelityChecker, catalog: pd.DataFrame, item_id: str, title: str, text: str, ctx: CheckContext
) -> list[str]:
    """Authenticity finding codes of an edit of ``item_id`` (empty when the check passes)."""
    return flags(checker, edit_of(catalog, item_id, title, text), ctx).get("authenticity", [])


def rule_labels(text: str) -> set[str]:
    """What the pattern rules alone find in ``text`` (normalised): safety categories, "integrity:<code>",
    "identifiability:<code>" and "bias:<pattern name>"."""
    from genrec.fidelity import _rules
    from genrec.fidelity.bias import load_lexicon
    from genrec.fidelity.identifiability import load_rules as authorship_rules
    from genrec.fidelity.integrity import load_rules as integrity_rules
    from genrec.fidelity.safety import load_rules as safety_rules
    from genrec.textnorm import normalize

    n = normalize(text).text
    found = {r.label for r, _, _ in _rules.find_patterns(n, safety_rules())}
    found |= {"integrity:" + r.code for r, _, _ in _rules.find_patterns(n, integrity_rules())}
    found |= {"identifiability:" + r.code for r, _, _ in _rules.find_patterns(n, authorship_rules())}
    found |= {"bias:" + name for _, name, rx, _ in load_lexicon().compile().patterns if rx.search(n)}
    return found
