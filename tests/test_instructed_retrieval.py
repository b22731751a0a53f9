"""Instruction-conditioned retrieval honours hard constraints and moves towards what was asked."""

from __future__ import annotations

import numpy as np
import pandas as pd

from genrec.config import PopularityConfig, SyntheticConfig
from genrec.data.synthetic import generate
from genrec.generation.intent import Constraints
from genrec.generation.retrieval import InstructedRetriever, standardise
from genrec.models.popularity import Popularity


def setup() -> tuple[InstructedRetriever, pd.DataFrame, np.ndarray]:
    ds = generate(SyntheticConfig(n_users=300, n_items=120, seed=3))
    model = Popularity(PopularityConfig()).fit(ds)
    # one-hot category "embeddings": a stand-in encoder whose geometry we know exactly
    cats = sorted({c[0] for c in ds.items["categories"]})
    emb = np.zeros((ds.n_items, len(cats)), dtype=np.float32)
    for i, c in enumerate(ds.items["categories"]):
        emb[i, cats.index(c[0])] = 1.0
    return InstructedRetriever(model, ds.items, emb), ds.items, emb


def test_excluded_brands_and_price_range_never_appear() -> None:
    retriever, items, _ = setup()
    plain = retriever.recommend([np.array([0, 1])], [None], k=20)
    top_brand = items["brand"].iloc[plain.items[0, 0]]
    c = Constraints(exclude_brands=[top_brand.upper()], price_min=20.0, price_max=80.0)
    recs = retriever.recommend([np.array([0, 1])], [c], k=50)
    shown = items.iloc[recs.items[0][recs.items[0] >= 0]]
    assert len(shown) > 0
    assert top_brand not in set(shown["brand"])
    assert shown["price"].between(20.0, 80.0).all()


def test_instruction_query_and_soft_constraints_move_the_ranking() -> None:
    retriever, items, emb = setup()
    target = items["categories"].iloc[5][0]
    q = emb[5:6]  # "a query about item 5's category"
    plain = retriever.recommend([np.array([0])], [None], k=10)
    asked = retriever.recommend([np.array([0])], [Constraints(categories=[target])], queries=q, k=10)
    share = lambda r: np.mean([items["categories"].iloc[i][0] == target for i in r.items[0]])  # noqa: E731
    assert share(asked) == 1.0 and share(asked) > share(plain)


def test_unlike_items_excluded_and_everything_excluded_gives_empty_slots() -> None:
    retriever, items, _ = setup()
    recs = retriever.recommend([np.array([0])], [Constraints(unlike_items=[items["item_id"].iloc[3]])], k=len(items))
    assert 3 not in recs.items[0]
    none_left = Constraints(price_max=-1.0)
    recs = retriever.recommend([np.array([0])], [none_left], k=5)
    assert (recs.items == -1).all() and np.isneginf(recs.scores).all()


def test_standardise_keeps_minus_inf_and_constant_rows() -> None:
    x = np.array([[1.0, 3.0, -np.inf], [2.0, 2.0, 2.0]])
    z = standardise(x)
    assert np.isneginf(z[0, 2]) and np.allclose(z[0, :2], [-1.0, 1.0]) and np.allclose(z[1], 0.0)


def test_cheapest_lists_the_matching_items_by_price() -> None:
    retriever, items, _ = setup()
    target = items["categories"].iloc[5][0]
    for order, sign in (("asc", 1), ("desc", -1)):
        recs = retriever.recommend([np.array([0])], [Constraints(categories=[target], price_order=order)], k=8)
        shown = items.iloc[recs.items[0]]
        assert (shown["categories"].map(lambda c: c[0]) == target).all()
        prices = shown["price"].to_numpy()
        assert (np.diff(sign * prices) >= 0).all()  # cheapest (priciest) first
