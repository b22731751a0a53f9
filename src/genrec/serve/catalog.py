"""The catalog as the service sees it: item records, hard filters as masks, popularity, short explanations."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from genrec.data.dataset import Dataset


@dataclass
class Filters:
    """Hard filters of a recommendation request (values compared case-insensitively)."""

    brands: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    price_min: float | None = None
    price_max: float | None = None

    def empty(self) -> bool:
        """True when nothing is filtered."""
        return not (self.brands or self.categories or self.price_min is not None or self.price_max is not None)


class CatalogIndex:
    """Per-item arrays of one dataset, built once per loaded dataset."""

    def __init__(self, dataset: Dataset) -> None:
        items = dataset.items
        self.dataset = dataset
        self.ids = [str(x) for x in items["item_id"]]
        self.index = {item: i for i, item in enumerate(self.ids)}
        self.titles = [str(t) for t in items["title"]]
        self.descriptions = ["" if d is None or d != d else str(d) for d in items["description"]]
        self.brands = [None if b is None or b != b else str(b) for b in items["brand"]]
        self.brand_key = np.array([(b or "").lower() for b in self.brands], dtype=object)
        self.categories = [[str(c) for c in (cats if cats is not None else [])] for cats in items["categories"]]
        self.price = np.array([np.nan if p is None else float(p) for p in items["price"]], dtype=np.float64)
        self.by_category: dict[str, list[int]] = defaultdict(list)
        for i, cats in enumerate(self.categories):
            for c in {c.lower() for c in cats}:
                self.by_category[c].append(i)
        counts = np.bincount(dataset.interactions.item, minlength=len(self.ids)).astype(np.float64)
        self.popular = np.argsort(-counts, kind="stable")
        self.users = {str(u): i for i, u in enumerate(dataset.users["user_id"])}

    def __len__(self) -> int:
        return len(self.ids)

    def history(self, user_id: str) -> list[int]:
        """The user's interactions in the dataset (internal ids, oldest first; empty for a new user)."""
        u = self.users.get(user_id)
        return [] if u is None else [int(i) for i in self.dataset.sequences()[u]]

    def allowed(self, filters: Filters) -> np.ndarray | None:
        """Boolean mask of the items passing ``filters`` (None when nothing is filtered)."""
        if filters.empty():
            return None
        mask = np.ones(len(self.ids), dtype=bool)
        if filters.brands:
            mask &= np.isin(self.brand_key, [b.lower() for b in filters.brands])
        if filters.categories:
            keep = np.zeros(len(self.ids), dtype=bool)
            for c in filters.categories:
                keep[self.by_category.get(c.lower(), [])] = True
            mask &= keep
        if filters.price_min is not None:
            mask &= self.price >= filters.price_min
        if filters.price_max is not None:
            mask &= self.price <= filters.price_max
        return mask

    def record(self, i: int) -> dict[str, Any]:
        """The public fields of item ``i``."""
        price = self.price[i]
        return {
            "item_id": self.ids[i],
            "title": self.titles[i],
            "brand": self.brands[i],
            "price": None if np.isnan(price) else float(price),
            "categories": self.categories[i],
        }

    def why(self, history: Sequence[int], i: int) -> str:
        """One line saying why item ``i`` suits a user with this history."""
        recent = list(history)[-20:][::-1]
        leaf = {c.lower() for c in self.categories[i][-1:]}
        for h in recent:
            if leaf and leaf & {c.lower() for c in self.categories[h][-1:]}:
                return f"Because you chose {self.titles[h]}"
        brand = self.brand_key[i]
        if brand and any(self.brand_key[h] == brand for h in recent):
            return f"You have chosen {self.brands[i]} before"
        cats = {c.lower() for c in self.categories[i]}
        for h in recent:
            shared = cats & {c.lower() for c in self.categories[h]}
            if shared:
                return f"More in {sorted(shared)[0]}, which you browse"
        if not recent:
            return "Popular with shoppers right now"
        return "Shoppers with a history like yours chose it"

    def facets(self, limit: int = 60) -> dict[str, list[str]]:
        """The most common brands and categories (for filter menus)."""
        brands: dict[str, int] = defaultdict(int)
        for b in self.brands:
            if b:
                brands[b] += 1
        cats = sorted(self.by_category.items(), key=lambda kv: -len(kv[1]))[:limit]
        names: dict[str, str] = {}
        for item_cats in self.categories:
            for c in item_cats:
                names.setdefault(c.lower(), c)
        return {
            "brands": sorted(sorted(brands, key=lambda b: -brands[b])[:limit], key=str.lower),
            "categories": sorted((names[c] for c, _ in cats), key=str.lower),
        }
