"""The synthetic marketplace: determinism, shape, item texts, habits and learnability."""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genrec.config import PopularityConfig, SyntheticConfig
from genrec.data.dataset import Dataset
from genrec.data.split import leave_one_out
from genrec.data.synthetic import CATEGORIES, TIERS, generate, render_item
from genrec.eval.evaluator import evaluate
from genrec.models.base import Histories, Recommender
from genrec.models.popularity import Popularity

SMALL = SyntheticConfig(n_users=200, n_items=150, n_categories=6, n_brands=10, mean_length=8, max_length=20)
SPECS = {c.name: c for c in CATEGORIES}


@pytest.fixture(scope="module")
def default() -> Dataset:
    return generate()


def _category_codes(dataset: Dataset) -> np.ndarray:
    names = [c.name for c in CATEGORIES]
    return np.array([names.index(c[0]) for c in dataset.items["categories"]])


def _same(a: Dataset, b: Dataset) -> bool:
    fields = ("user", "item", "timestamp", "event")
    return a.items.equals(b.items) and all(
        np.array_equal(getattr(a.interactions, f), getattr(b.interactions, f)) for f in fields
    )


def test_same_seed_same_dataset_other_seed_differs() -> None:
    assert _same(generate(SMALL), generate(SMALL))
    other = generate(SMALL.replace(seed=7))
    assert not np.array_equal(other.interactions.item[:100], generate(SMALL).interactions.item[:100])


def test_default_sizes(default: Dataset) -> None:
    cfg = SyntheticConfig()
    assert default.name == "synthetic"
    assert (default.n_users, default.n_items) == (cfg.n_users, cfg.n_items)
    lengths = np.bincount(default.interactions.user, minlength=default.n_users)
    assert lengths.min() >= cfg.min_length and lengths.max() <= cfg.max_length
    assert abs(lengths.mean() - cfg.mean_length) < 1.0
    assert len({c[0] for c in default.items["categories"]}) == cfg.n_categories
    assert default.items["brand"].nunique() <= cfg.n_brands


@settings(max_examples=12, deadline=None)
@given(
    n_users=st.integers(1, 40),
    n_items=st.integers(14, 80),
    n_categories=st.integers(1, len(CATEGORIES)),
    min_length=st.integers(1, 6),
    extra=st.integers(0, 10),
    seed=st.integers(0, 1000),
)
def test_small_configs_are_respected(
    n_users: int, n_items: int, n_categories: int, min_length: int, extra: int, seed: int
) -> None:
    cfg = SyntheticConfig(
        n_users=n_users,
        n_items=n_items,
        n_categories=n_categories,
        n_brands=n_categories + 2,
        min_length=min_length,
        mean_length=min_length + extra / 2,
        max_length=min_length + extra,
        seed=seed,
    )
    ds = generate(cfg)
    assert (ds.n_users, ds.n_items) == (n_users, n_items)
    lengths = np.bincount(ds.interactions.user, minlength=n_users)
    assert lengths.min() >= cfg.min_length and lengths.max() <= cfg.max_length
    allowed = {c.name for c in CATEGORIES[:n_categories]}
    assert {c[0] for c in ds.items["categories"]} == allowed  # every category gets items


def test_items_are_consistent_with_their_category(default: Dataset) -> None:
    tier_names = {name for name, _ in TIERS}
    for row in default.items.itertuples():
        spec = SPECS[row.categories[0]]
        attrs = row.attributes
        assert re.fullmatch(r"i\d{5}", row.item_id)
        assert row.brand and row.title.startswith(row.brand) and row.brand in row.description
        assert row.categories == [spec.name, attrs["product_type"]]
        assert attrs["product_type"] in spec.types
        assert attrs["product_type"].lower() in row.title.lower()
        for key, attr in spec.attributes.items():
            assert attrs[key] in attr.values and attrs[key] in row.description
        assert attrs["style"] in spec.styles and attrs["feature"] in spec.features
        assert attrs["price_tier"] in tier_names
        assert row.price > 0 and round(row.price, 2) == row.price
        assert 2 <= row.description.count(". ") + 1 <= 3
        assert (row.title, row.description) in {render_item(spec, row.brand, attrs, v) for v in range(6)}


def test_brands_and_price_tiers(default: Dataset) -> None:
    items = default.items
    per_brand = items.groupby("brand")["categories"].apply(lambda cs: len({c[0] for c in cs}))
    assert per_brand.between(1, 3).all()
    tiers = items["attributes"].map(lambda a: a["price_tier"])
    assert (items.groupby("brand").apply(lambda g: tiers[g.index].nunique(), include_groups=False) == 1).all()
    cats = items["categories"].map(lambda c: c[0])
    rel = items["price"] / items.groupby(cats)["price"].transform("median")
    assert rel[tiers == "luxury"].median() > rel[tiers == "budget"].median() * 2


def test_sequences_ordered_in_time_with_events(default: Dataset) -> None:
    inter = default.interactions
    same_user = inter.user[1:] == inter.user[:-1]
    assert (np.diff(inter.timestamp)[same_user] > 0).all()
    stats = default.stats()
    assert set(stats.events) == {"view", "purchase", "like", "dislike"}
    assert stats.events["view"] + stats.events["purchase"] > 0.7 * len(inter)
    assert 0.01 < stats.events["dislike"] / len(inter) < 0.03
    assert np.isnan(inter.value).all()


def test_complements_follow_their_category(default: Dataset) -> None:
    cat = _category_codes(default)[default.interactions.item]
    same_user = default.interactions.user[1:] == default.interactions.user[:-1]
    prev, nxt = cat[:-1][same_user], cat[1:][same_user]
    shoes, apparel = 0, 1  # running shoes are followed by running apparel, above all socks
    assert np.mean(nxt[prev == shoes] == apparel) > 2 * np.mean(nxt == apparel)
    types = default.items["categories"].map(lambda c: c[1]).to_numpy()[default.interactions.item]
    after_shoes = types[1:][same_user][(prev == shoes) & (nxt == apparel)]
    all_apparel = types[1:][same_user][nxt == apparel]
    assert np.mean(after_shoes == "running socks") > 1.5 * np.mean(all_apparel == "running socks")


class _SameCategory(Recommender):
    """Most popular items, those in the last item's category first."""

    name = "same-category-test"
    config_class = PopularityConfig

    def _fit(self, dataset: Dataset, valid: object) -> None:
        self.pop = dataset.item_popularity().astype(np.float32)
        self.cat = _category_codes(dataset)

    def score(self, histories: Histories) -> np.ndarray:
        last = self.cat[np.array([h[-1] for h in histories])]
        return self.pop[None, :] + 1e6 * (self.cat[None, :] == last[:, None])

    def _state(self) -> dict[str, np.ndarray]:
        return {}

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        pass


class _Random(_SameCategory):
    name = "random-test"

    def score(self, histories: Histories) -> np.ndarray:
        return np.random.default_rng(0).random((len(histories), self.n_items)).astype(np.float32)


def test_structure_is_learnable(default: Dataset) -> None:
    split = leave_one_out(default)
    ndcg = {
        name: evaluate(model.fit(split.train), split.test, split.train, beyond_accuracy=False, progress=False).metrics[
            "NDCG@10"
        ]
        for name, model in (("random", _Random()), ("pop", Popularity()), ("same", _SameCategory()))
    }
    assert ndcg["pop"] > 5 * ndcg["random"]
    assert ndcg["same"] > 1.4 * ndcg["pop"]


@pytest.mark.parametrize(
    "change",
    [
        {"n_categories": 0},
        {"n_categories": 99},
        {"n_brands": 3},
        {"min_length": 10, "mean_length": 5},
        {"p_complement": 0.9, "p_repeat": 0.2},
        {"p_drift": -0.1},
    ],
)
def test_invalid_config_is_rejected(change: dict) -> None:
    with pytest.raises(ValueError, match=next(iter(change))):  # ranges fail in the config, relations in generate
        generate(SMALL.replace(**change))
