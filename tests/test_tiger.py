"""The generative recommender (tiger) end to end: quality, validity, exclusion, save/load, new items."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("faiss")
pytest.importorskip("sentence_transformers")

from genrec.config import EvalConfig, SyntheticConfig, TigerConfig, apply_overrides  # noqa: E402
from genrec.data.dataset import Dataset  # noqa: E402
from genrec.data.split import leave_one_out  # noqa: E402
from genrec.data.synthetic import generate  # noqa: E402
from genrec.eval.evaluator import evaluate  # noqa: E402
from genrec.eval.validation import ranking_validator  # noqa: E402
from genrec.models.base import Recommender, top_k  # noqa: E402
from genrec.models.popularity import Popularity  # noqa: E402
from genrec.models.registry import create_model, model_names  # noqa: E402
from genrec.models.tiger import Tiger, alone_rounds  # noqa: E402
from genrec.semantic_ids import codebook_size_for  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def one_thread():  # type: ignore[no-untyped-def]
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def small_config(cache_dir: str, **changes: object) -> TigerConfig:
    """A tiny, fast configuration (2 x 16 codes + the extra code)."""
    base = {
        "sid.levels": 2,
        "sid.codebook_size": 16,
        "sid.max_collisions": 32,
        "sid.kmeans_iters": 10,
        "encoder.cache_dir": cache_dir,
        "encoder.fields": ("title", "brand", "categories"),
    }
    base.update(
        collab_dim=16,
        dim=32,
        layers=1,
        heads=1,
        max_length=20,
        dropout=0.2,
        lr=3e-3,
        batch_size=64,
        epochs=12,
        patience=100,
        threads=1,
        progress=False,
        beam_width=20,
    )
    base.update(changes)
    return apply_overrides(TigerConfig(), base)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> str:  # type: ignore[no-untyped-def]
    return str(tmp_path_factory.mktemp("tiger-embeddings"))


@pytest.fixture(scope="module")
def split():  # type: ignore[no-untyped-def]
    return leave_one_out(generate(SyntheticConfig(n_users=700, n_items=250, seed=3)))


@pytest.fixture(scope="module")
def trained(split, cache_dir):  # type: ignore[no-untyped-def]
    return Tiger(small_config(cache_dir)).fit(split.train, ranking_validator(split.valid))


def ndcg10(model: Recommender, cases, train) -> float:  # type: ignore[no-untyped-def]
    res = evaluate(model, cases, train, EvalConfig(ks=(10,)), beyond_accuracy=False, progress=False)
    return res.metrics["NDCG@10"]


def test_registered_and_fit_info(trained) -> None:  # type: ignore[no-untyped-def]
    assert "tiger" in model_names()
    assert isinstance(create_model("tiger", ["beam_width=7"]), Tiger)
    info = trained.fit_info
    for key in ("encode_seconds", "tokenize_seconds", "train_seconds", "epochs", "best_valid_ndcg10"):
        assert key in info
    assert info["tokenizer"]["items"] == trained.n_items
    assert 0.0 <= info["tokenizer"]["collision_rate"] <= 1.0
    assert len(info["tokenizer"]["utilisation"]) == 2


def test_beats_popularity(trained, split) -> None:  # type: ignore[no-untyped-def]
    pop = ndcg10(Popularity().fit(split.train), split.test, split.train)
    gen = ndcg10(trained, split.test, split.train)
    assert gen > pop + 0.03, (gen, pop)


def test_recommendations_are_valid_distinct_and_sorted(trained) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(0)
    histories = [rng.integers(0, trained.n_items, rng.integers(0, 30)) for _ in range(150)]
    for k in (1, 10, 20, 45):  # 45 > beam_width: the beam widens to k
        recs = trained.recommend(histories, k=k)
        assert recs.items.shape == (150, k)
        assert ((recs.items >= 0) & (recs.items < trained.n_items)).all()
        assert all(len(set(row)) == k for row in recs.items.tolist())
        assert (np.diff(recs.scores, axis=1) <= 1e-6).all()
        assert np.isfinite(recs.scores).all() and (recs.scores <= 1e-6).all()  # log-probabilities


def test_beam_search_agrees_with_exact_scores(trained, split) -> None:  # type: ignore[no-untyped-def]
    """With a beam as wide as the catalog the search is exact: it must match ``score``'s top-k."""
    histories = split.test.histories[:40]
    exact = trained.score(histories)
    mass = np.exp(exact).sum(1)  # probability of generating some catalog ID (the rest: non-IDs)
    assert ((mass > 0.5) & (mass <= 1 + 1e-4)).all(), mass
    wide = Tiger(trained.config)
    wide.__dict__.update(trained.__dict__)
    wide.config = trained.config.replace(beam_width=trained.n_items)
    recs = wide.recommend(histories, k=10)
    items, scores = top_k(exact, 10)
    assert np.allclose(recs.scores, scores, atol=1e-4)
    assert (recs.items == items).mean() > 0.95  # ties may swap places


@pytest.mark.parametrize("trie_softmax,node_embedding", [(False, False), (False, True), (True, False)])
def test_variants_decode_exactly_and_validly(split, cache_dir, trie_softmax, node_embedding) -> None:  # type: ignore[no-untyped-def]
    """Softmax over the whole vocabulary and/or no node embeddings: still valid, still exact at full beam."""
    cfg = small_config(cache_dir, epochs=2, trie_softmax=trie_softmax, node_embedding=node_embedding)
    model = Tiger(cfg).fit(split.train)
    histories = split.test.histories[:30]
    exact = model.score(histories)
    mass = np.exp(exact).sum(1)
    assert (mass <= 1 + 1e-4).all() and (np.allclose(mass, 1, atol=1e-4) or not trie_softmax)
    model.config = cfg.replace(beam_width=model.n_items)
    recs = model.recommend(histories, k=10, exclude="history")
    masked = exact.copy()
    for row, hist in zip(masked, histories):
        row[hist] = -np.inf
    assert np.allclose(recs.scores, top_k(masked, 10)[1], atol=1e-4)
    assert ((recs.items >= 0) & (recs.items < model.n_items)).all()


def test_exclusion_is_respected(trained, split) -> None:  # type: ignore[no-untyped-def]
    histories = split.test.histories[:100]
    recs = trained.recommend(histories, k=10, exclude="history")
    for row, hist in zip(recs.items, histories):
        assert not set(row.tolist()) & set(hist.tolist())
    rng = np.random.default_rng(1)
    top = trained.recommend(histories, k=10).items
    drop = [np.concatenate([t[:3], rng.integers(0, trained.n_items, 5)]) for t in top]
    recs = trained.recommend(histories, k=10, exclude=drop)
    for row, banned in zip(recs.items, drop):
        assert not set(row.tolist()) & set(banned.tolist())
    # excluding all but 3 items leaves only those, then -1 padding
    keep = np.array([5, 17, 42])
    everything_else = [np.setdiff1d(np.arange(trained.n_items), keep)] * 2
    recs = trained.recommend(histories[:2], k=5, exclude=everything_else)
    assert (np.sort(recs.items[:, :3], axis=1) == keep).all()
    assert (recs.items[:, 3:] == -1).all() and np.isneginf(recs.scores[:, 3:]).all()


def test_save_load_gives_identical_recommendations(trained, split, tmp_path) -> None:  # type: ignore[no-untyped-def]
    trained.save(tmp_path / "m")
    loaded = Recommender.load(tmp_path / "m")
    assert isinstance(loaded, Tiger)
    histories = split.test.histories[:200]
    a, b = trained.recommend(histories, k=10), loaded.recommend(histories, k=10)
    assert (a.items == b.items).all()
    assert np.allclose(a.scores, b.scores)
    assert loaded.item_ids == trained.item_ids
    assert (loaded.codes == trained.codes).all()


# ---- new items without retraining ------------------------------------------------------------
FAMILIES = [
    ("lipstick", "Rouge Co", "Beauty > Makeup > Lips"),
    ("hiking boots", "TrailMax", "Outdoors > Footwear"),
    ("espresso coffee beans", "Bean Bros", "Grocery > Coffee"),
    ("acoustic guitar strings", "StringCraft", "Music > Guitar Accessories"),
    ("dry dog food", "HappyPaws", "Pets > Dogs > Food"),
    ("yoga mat", "ZenFit", "Sports > Yoga"),
    ("laptop charger", "VoltPro", "Electronics > Computer Accessories"),
    ("garden hose", "GreenThumb", "Garden > Watering"),
]
ADJECTIVES = [
    "classic",
    "deluxe",
    "compact",
    "premium",
    "everyday",
    "eco",
    "travel",
    "pro",
    "mini",
    "ultra",
    "soft",
    "bold",
    "light",
    "heavy",
    "smart",
    "basic",
    "super",
    "gentle",
    "strong",
    "quick",
]
PER_FAMILY = 20


def family_items() -> pd.DataFrame:
    rows = []
    for f, (noun, brand, cats) in enumerate(FAMILIES):
        for j in range(PER_FAMILY):
            rows.append(
                {
                    "item_id": f"f{f}-{j}",
                    "title": f"{ADJECTIVES[j].title()} {noun} {brand} edition {j}",
                    "brand": brand,
                    "categories": cats.split(" > "),
                    "price": 10.0 + f + j / 10,
                }
            )
    return pd.DataFrame(rows)


def family_dataset(items: pd.DataFrame, n_users: int = 800, seed: int = 0) -> Dataset:
    """Every user shops in one family only, in random order."""
    rng = np.random.default_rng(seed)
    fam = items["item_id"].str.split("-").str[0].to_numpy()
    seqs = {}
    for u in range(n_users):
        pool = items["item_id"].to_numpy()[fam == f"f{rng.integers(len(FAMILIES))}"]
        seqs[f"u{u}"] = list(rng.choice(pool, size=rng.integers(5, 11), replace=False))
    return Dataset.from_sequences("families", seqs, items)


def test_new_item_gets_an_id_and_is_recommendable_at_once(cache_dir, tmp_path) -> None:  # type: ignore[no-untyped-def]
    items = family_items()
    held = items["item_id"].isin(["f2-7", "f5-3"])  # never seen in training, not in the catalog
    train_items = items[~held].reset_index(drop=True)
    ds = family_dataset(train_items)
    cfg = small_config(cache_dir, **{"sid.codebook_size": 8}, epochs=8, collab="svd", collab_weight=0.3)
    model = Tiger(cfg).fit(ds)  # collaborative part of the new items: imputed from text neighbours
    n_before = model.n_items
    new_ids = model.add_items(items[held])
    assert new_ids == [n_before, n_before + 1] and model.n_items == n_before + 2
    assert model.item_ids[-2:] == ["f2-7", "f5-3"]
    codes = model.codes
    family = np.array([int(x.split("-")[0][1:]) for x in model.item_ids])
    for new, f in zip(new_ids, (2, 5)):
        assert model.trie is not None and model.trie.contains(codes[new].tolist())
        # its first code is the one most of its family's (trained) items have
        first = codes[:n_before][family[:n_before] == f, 0]
        assert codes[new, 0] == np.bincount(first).argmax()
        # a history in that family, with the family's other items excluded: the new item comes first
        hist = np.flatnonzero(family[:n_before] == f)[:6]
        others = np.flatnonzero(family[:n_before] == f)
        recs = model.recommend([hist], k=5, exclude=[others])
        assert recs.items[0, 0] == new, (recs.items, new)
        # and without exclusions it is within the family's top candidates
        recs = model.recommend([hist], k=PER_FAMILY)
        assert new in recs.items[0]
    with pytest.raises(ValueError, match="already in the catalog"):
        model.add_items(items[held])
    # the grown catalog survives save / load, and the loaded model can keep adding items
    model.save(tmp_path / "grown")
    loaded = Recommender.load(tmp_path / "grown")
    assert isinstance(loaded, Tiger) and loaded.item_ids == model.item_ids
    probe = [np.flatnonzero(family[:n_before] == f)[:6] for f in range(len(FAMILIES))]
    assert (loaded.recommend(probe, k=10).items == model.recommend(probe, k=10).items).all()
    extra = pd.DataFrame(
        [
            {
                "item_id": "f2-new",
                "title": "Dark roast espresso coffee beans Bean Bros edition",
                "brand": "Bean Bros",
                "categories": ["Grocery", "Coffee"],
                "price": 12.5,
            }
        ]
    )
    assert loaded.add_items(extra) == [n_before + 2]


def test_score_new_matches_adding_and_leaves_the_model_unchanged(cache_dir) -> None:  # type: ignore[no-untyped-def]
    items = family_items()
    held = items["item_id"].isin(["f2-7", "f2-8", "f2-9", "f5-3"])
    model = Tiger(small_config(cache_dir, **{"sid.codebook_size": 8}, epochs=4)).fit(
        family_dataset(items[~held].reset_index(drop=True))
    )
    new = items[held].reset_index(drop=True)
    n_before, codes_before = model.n_items, model.codes.copy()
    family = np.array([int(x.split("-")[0][1:]) for x in model.item_ids])
    hists = [np.flatnonzero(family == 2)[:5], np.flatnonzero(family == 5)[:5]]
    before = model.score(hists)
    prospective = model.score_new(hists, new)
    assert prospective.shape == (2, 4) and np.isfinite(prospective).all()
    # each item scores as if it alone were added to the catalog
    alone = np.stack([model.with_items(new.iloc[[j]])[0].score(hists)[:, -1] for j in range(len(new))], axis=1)
    assert np.allclose(prospective, alone, atol=1e-5)
    # the three coffee items share a first code, so adding them together lowers some of them: the
    # attach node of one is on another's path; score_new puts those on separate copies
    together, ids = model.with_items(new)
    rounds = alone_rounds(model.codes, together.codes[ids])
    assert rounds.max() > 0 and not np.allclose(together.score(hists, items=ids), alone, atol=1e-5)
    # a twin neither splits nor reorders them
    twins = model.score_new(hists, pd.concat([new, new], ignore_index=True))
    assert np.allclose(twins[:, :4], prospective, atol=1e-5) and np.allclose(twins[:, 4:], prospective, atol=1e-5)
    # nothing changed: same catalog, same codes, same scores
    assert model.n_items == n_before and np.array_equal(model.codes, codes_before)
    assert np.allclose(model.score(hists), before)
    # each history prefers its family's items
    assert prospective[0, :3].min() > prospective[0, 3] and prospective[1, 3] > prospective[1, :3].max()
    ids = model.add_items(new)
    # a subset of items scores like the full catalog restricted to it
    sub = np.array([3, 0, ids[1]])
    assert np.allclose(model.score(hists, items=sub), model.score(hists)[:, sub], atol=1e-6)
    with pytest.raises(IndexError):
        model.score(hists, items=[model.n_items])


def test_alone_rounds_separate_items_whose_attach_node_is_on_another_path() -> None:
    catalog = np.array([[0, 0, 0], [0, 1, 0], [1, 0, 0]])  # two semantic levels + the extra code
    new = np.array(
        [
            [0, 2, 0],  # attaches at node (0): a new second code
            [0, 3, 0],  # also at (0): each changes the other's softmax there
            [1, 1, 0],  # attaches at (1): no path of another new item passes through it
            [2, 0, 0],  # a new first code changes the root softmax, so every item's score
            [0, 0, 1],  # attaches at (0, 0), and passes through (0), where the first two attach
        ]
    )
    assert alone_rounds(catalog, new).tolist() == [0, 1, 0, 2, 3]
    assert alone_rounds(catalog, new[[0, 2]]).tolist() == [0, 0]
    assert alone_rounds(catalog, new[:0]).tolist() == []


def test_default_codebook_size_follows_the_catalog_and_is_saved(cache_dir, tmp_path) -> None:  # type: ignore[no-untyped-def]
    items = family_items()
    model = Tiger(small_config(cache_dir, **{"sid.codebook_size": 0}, epochs=1)).fit(family_dataset(items))
    n = len(items)
    assert model.config.sid.codebook_size == codebook_size_for(n) < n  # a number, never the 0 it was given
    assert model.tokenizer is not None and model.tokenizer.vocab_sizes[0] == codebook_size_for(n)
    assert Recommender.load(model.save(tmp_path / "m")).config.sid.codebook_size == codebook_size_for(n)
