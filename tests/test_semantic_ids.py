"""Semantic-ID tokenizers: disambiguation, determinism, stats, add_items, save/load, RQ-VAE training."""

import numpy as np
import pytest

from genrec.config import SemanticIdConfig, apply_overrides
from genrec.semantic_ids import (
    RQVAE,
    RQKMeans,
    SemanticIdTokenizer,
    codebook_size_for,
    create_tokenizer,
    mix_embeddings,
)
from genrec.semantic_ids.base import TOKENIZERS


def clustered(n: int = 1200, dim: int = 16, clusters: int = 24, seed: int = 0) -> np.ndarray:
    """Points around random centres: structure for the quantisers to find."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim)).astype(np.float32)
    return centres[rng.integers(0, clusters, n)] + 0.15 * rng.standard_normal((n, dim)).astype(np.float32)


def kmeans_config(**kw: object) -> SemanticIdConfig:
    base: dict[str, object] = dict(levels=2, codebook_size=16, progress=False, threads=1, kmeans_iters=10)
    base.update(kw)
    return apply_overrides(SemanticIdConfig(), base)


def vae_config(**kw: object) -> SemanticIdConfig:
    base: dict[str, object] = {
        "method": "rq_vae",
        "levels": 2,
        "codebook_size": 16,
        "progress": False,
        "threads": 1,
        "vae.epochs": 40,
        "vae.hidden": (32,),
        "vae.latent_dim": 8,
        "vae.batch_size": 200,
        "vae.lr": 3e-3,
        "kmeans_iters": 10,
    }
    base.update(kw)
    return apply_overrides(SemanticIdConfig(), base)


# Hand-made 2 x 4 codebooks: coarse directions 10 apart, fine offsets of 1.
COARSE = np.array([[10, 0], [0, 10], [-10, 0], [0, -10]], dtype=np.float32)
FINE = np.array([[1, 0], [0, 1], [-1, 0], [0, -1]], dtype=np.float32)


def hand_tokenizer(**kw: object) -> RQKMeans:
    cfg = SemanticIdConfig(levels=2, codebook_size=4, progress=False, **kw)  # type: ignore[arg-type]
    tok = RQKMeans(cfg)
    tok.dim, tok.codebooks = 2, np.stack([COARSE, FINE])
    return tok


def points(codes: list[tuple[int, int]]) -> np.ndarray:
    return np.array([COARSE[a] + FINE[b] for a, b in codes], dtype=np.float32)


HAND_CODES = [(0, 0), (0, 0), (0, 1), (1, 2), (1, 2), (1, 2)]


def test_stats_on_hand_made_codes():
    tok = hand_tokenizer()
    ids = tok.assign(points(HAND_CODES))
    assert ids.tolist() == [[0, 0, 0], [0, 0, 1], [0, 1, 0], [1, 2, 0], [1, 2, 1], [1, 2, 2]]
    s = tok.stats()
    assert s["utilisation"] == [0.5, 0.75]
    assert s["collision_rate"] == pytest.approx(5 / 6)
    assert s["max_items_per_code"] == 3 and s["unique_raw_codes"] == 3
    assert s["levels"] == 3 and s["vocab_sizes"] == [4, 4, 256] and s["extra_code_used"] == 3


def test_overflow_raises_or_spills_deterministically():
    with pytest.raises(ValueError, match="max_collisions=2"):
        hand_tokenizer(max_collisions=2).assign(points(HAND_CODES))
    tok = hand_tokenizer(max_collisions=2, overflow="spill")
    ids = tok.assign(points(HAND_CODES))
    # the third (1, 2) item moves to the nearest other fine code under coarse 1: code 1 (tie with 3)
    assert ids[5].tolist() == [1, 1, 0]
    assert len({tuple(r) for r in ids.tolist()}) == len(ids)
    assert tok.stats()["spilled"] == 1 and tok.stats()["max_items_per_code"] == 3


def test_round_trip_ids_unique_and_lookup():
    x = clustered()
    tok = RQKMeans(kmeans_config())
    ids = tok.fit_assign(x)
    assert ids.shape == (len(x), 3) and ids.dtype == np.int64
    assert len({tuple(r) for r in ids.tolist()}) == len(x)
    assert (ids[:, :2] == tok.encode(x)).all() and ids[:, :2].max() < 16
    assert (tok.lookup(ids) == np.arange(len(x))).all()
    assert tok.lookup(np.array([[15, 15, 255]]))[0] == -1


def test_kmeans_is_deterministic_with_a_seed():
    x = clustered()
    a = RQKMeans(kmeans_config(seed=7)).fit_assign(x)
    b = RQKMeans(kmeans_config(seed=7)).fit_assign(x)
    assert (a == b).all()


def test_add_items_keeps_old_ids_and_gives_valid_new_ones():
    tok = hand_tokenizer()
    old = tok.assign(points(HAND_CODES))
    new = tok.add_items(points([(0, 0), (3, 3), (0, 0)]))
    assert new.tolist() == [[0, 0, 2], [3, 3, 0], [0, 0, 3]]
    assert (tok.ids[: len(old)] == old).all() and len(tok.ids) == 9
    assert (tok.lookup(new) == np.arange(6, 9)).all()

    x = clustered(1300)
    tok = RQKMeans(kmeans_config())
    old = tok.fit_assign(x[:1000])
    new = tok.add_items(x[1000:])
    assert (tok.ids[:1000] == old).all()
    assert len({tuple(r) for r in tok.ids.tolist()}) == 1300
    assert (tok.lookup(new) == np.arange(1000, 1300)).all()


@pytest.mark.parametrize("config", [kmeans_config(), vae_config(**{"vae.epochs": 3})], ids=["rq_kmeans", "rq_vae"])
def test_save_load_identical(tmp_path, config):
    x = clustered(600)
    tok = create_tokenizer(config)
    ids = tok.fit_assign(x)
    tok.save(tmp_path / "sid")
    back = SemanticIdTokenizer.load(tmp_path / "sid")
    assert type(back) is type(tok) and back.config == tok.config
    assert (back.ids == ids).all() and (back.encode(x) == tok.encode(x)).all()
    assert back.stats() == tok.stats()
    assert (back.lookup(ids) == np.arange(len(x))).all()


def test_rq_vae_trains_and_reconstruction_loss_drops():
    x = clustered(1000)
    tok = RQVAE(vae_config())
    ids = tok.fit_assign(x)
    recon = tok.fit_info["recon_loss"]
    assert recon[-1] < 0.5 * recon[0]
    assert len({tuple(r) for r in ids.tolist()}) == len(x)
    assert ids[:, :2].max() < 16 and tok.stats()["utilisation"][0] > 0.5
    err = ((tok.reconstruct(x) - x) ** 2).sum(1).mean()
    assert err == pytest.approx(recon[-1], rel=0.5)


def test_mix_embeddings_weights_the_similarities():
    rng = np.random.default_rng(1)
    t, c = rng.standard_normal((5, 8)), rng.standard_normal((5, 4)) * 3
    m = mix_embeddings(t, c, 0.3)
    assert m.shape == (5, 12) and np.allclose(np.linalg.norm(m, axis=1), 1, atol=1e-5)
    tn = t / np.linalg.norm(t, axis=1, keepdims=True)
    cn = c / np.linalg.norm(c, axis=1, keepdims=True)
    assert np.allclose(m @ m.T, 0.7 * tn @ tn.T + 0.3 * cn @ cn.T, atol=1e-5)
    with pytest.raises(ValueError):
        mix_embeddings(t, c, 1.5)


def test_errors_are_clear():
    with pytest.raises(ValueError, match="method: Input should be 'rq_kmeans' or 'rq_vae' \\(got 'nope'\\)"):
        apply_overrides(SemanticIdConfig(), ["method=nope"])
    with pytest.raises(ValueError, match="unknown semantic-ID method 'nope'; known: rq_kmeans, rq_vae"):
        TOKENIZERS.get("nope")
    with pytest.raises(RuntimeError, match="not fitted"):
        RQKMeans(kmeans_config()).encode(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="at least codebook_size"):
        RQKMeans(kmeans_config()).fit(np.zeros((5, 4)))


@pytest.mark.parametrize("method", ["rq_kmeans", "rq_vae"])
def test_spill_keeps_ids_unique_with_one_level(method):
    x = clustered(600)
    config = (kmeans_config if method == "rq_kmeans" else vae_config)(
        levels=1, max_collisions=60, overflow="spill", **{"vae.epochs": 2}
    )
    tok = create_tokenizer(config)
    ids = tok.fit_assign(x)
    assert len({tuple(r) for r in ids.tolist()}) == len(x)
    assert ids[:, 0].max() < 16 and ids[:, 1].max() < 60
    assert tok.stats()["spilled"] > 0


@pytest.mark.parametrize(
    ("n_items", "size"),
    # 2 * sqrt(n): 220.0 -> 256 (Beauty), 121.8 -> 128 (MovieLens-1M), 89.4 -> 64, 14.1 -> 16, cap 256, n at most
    [(12101, 256), (3706, 128), (2000, 64), (50, 16), (1_000_000, 256), (3, 3), (1, 1)],
)
def test_codebook_size_scales_with_the_catalog(n_items, size):
    assert codebook_size_for(n_items) == size


def test_a_zero_codebook_size_is_sized_at_fit_and_saved_as_a_number(tmp_path):
    tok = RQKMeans(kmeans_config(codebook_size=0)).fit(clustered(200))
    assert tok.config.codebook_size == 32  # 2 * sqrt(200) = 28.3 -> 32
    tok.assign(clustered(200))
    assert tok.vocab_sizes[:2] == [32, 32]
    assert SemanticIdTokenizer.load(tok.save(tmp_path / "tok")).config.codebook_size == 32
