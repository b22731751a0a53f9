"""Edge-only trie softmax: hand-checked on a tiny trie, and tiger's fast beam search equals the reference."""

from __future__ import annotations

import math
from functools import partial

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("faiss")

from genrec.config import SyntheticConfig  # noqa: E402
from genrec.data.split import leave_one_out  # noqa: E402
from genrec.data.synthetic import generate  # noqa: E402
from genrec.decoding import PrefixTrie  # noqa: E402
from genrec.decoding.trie_softmax import trie_log_softmax  # noqa: E402
from genrec.models.registry import create_model  # noqa: E402


def test_trie_log_softmax_by_hand() -> None:
    # items (0, 1), (0, 2), (1, 0): depth-1 nodes 0 (code 0) and 1 (code 1); depth-2 nodes 0..2 in that order
    trie = PrefixTrie(np.array([[0, 1], [0, 2], [1, 0]]), [2, 3])
    vectors = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])  # output vector of each depth-2 node
    bias = torch.tensor([0.0, 0.5, 0.0])
    query = torch.tensor([[2.0, 1.0], [0.0, 3.0], [5.0, 5.0]])
    nodes = torch.tensor([0, 0, -1])  # two rows at node 0 (code 0), one dead row
    asked: list[list[int]] = []

    def rows_of(rows: torch.Tensor) -> torch.Tensor:
        asked.append(rows.tolist())
        return query.index_select(0, rows)

    out = trie_log_softmax(trie, 1, nodes, rows_of, vectors, bias)
    assert asked == [[0, 1]]  # the dead row needs no query
    # row 0: z(token 1) = 2, z(token 2) = 1 + 0.5 -> log-softmax over those two; token 0 is not a child
    lse = math.log(math.exp(2.0) + math.exp(1.5))
    assert out[0].tolist() == pytest.approx([-math.inf, 2.0 - lse, 1.5 - lse])
    lse = math.log(math.exp(0.0) + math.exp(3.5))
    assert out[1].tolist() == pytest.approx([-math.inf, 0.0 - lse, 3.5 - lse])
    assert torch.isneginf(out[2]).all()
    asked.clear()
    one = trie_log_softmax(trie, 1, torch.tensor([1, 0]), rows_of, vectors, bias)
    assert one[0].tolist() == [0.0, -math.inf, -math.inf]  # an only child has probability one ...
    assert asked == [[1]]  # ... and its row needs no query


def test_trie_log_softmax_equals_masked_dense_softmax() -> None:
    rng = np.random.default_rng(0)
    codes = np.unique(rng.integers(0, 6, size=(120, 3)), axis=0)
    trie = PrefixTrie(codes, [6, 6, 6])
    for level in range(3):
        n = trie.n_nodes(level + 1)
        vectors, bias = torch.randn(n, 4), torch.randn(n)
        nodes = torch.from_numpy(rng.integers(0, trie.n_nodes(level), size=50))
        query = torch.randn(50, 4)
        row, child = trie.children(level, nodes)
        dense = torch.full((50, 6), -torch.inf)
        dense[row, trie.token(level, child)] = (query[row] * vectors[child]).sum(1) + bias[child]
        want = dense.log_softmax(1)
        got = trie_log_softmax(trie, level, nodes, partial(query.index_select, 0), vectors, bias)
        assert torch.equal(torch.isinf(got), torch.isinf(want))
        torch.testing.assert_close(got[~torch.isinf(got)], want[~torch.isinf(want)], atol=1e-5, rtol=1e-5)


@pytest.fixture(scope="module")
def models():  # type: ignore[no-untyped-def]
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    split = leave_one_out(generate(SyntheticConfig(n_users=500, n_items=300, seed=11)))
    base = {
        "encoder.fields": (),  # collaborative IDs: no text encoder needed
        "sid.levels": 2,
        "sid.codebook_size": 8,  # small codebooks: many siblings per node, as on Beauty's first levels
        "sid.max_collisions": 64,
        "collab_dim": 16,
        "dim": 32,
        "layers": 1,
        "max_length": 20,
        "epochs": 5,
        "patience": 100,
        "threads": 1,
        "progress": False,
        "beam_width": 15,
    }
    trained = [create_model("tiger", {**base, "node_embedding": node}).fit(split.train) for node in (True, False)]
    yield split, trained
    torch.set_num_threads(before)


@pytest.mark.parametrize("which", [0, 1], ids=["node-embeddings", "codes-only"])
def test_fast_beam_search_gives_the_reference_lists(models, which: int) -> None:  # type: ignore[no-untyped-def]
    split, trained = models
    model = trained[which]
    hist = split.test.histories
    results = {}
    for fast in (True, False):
        model.config.fast_decoding = fast
        for exclude in (None, "history"):
            results[fast, exclude] = model.recommend(hist, k=10, exclude=exclude)
    model.config.fast_decoding = True
    for exclude in (None, "history"):
        fast, ref = results[True, exclude], results[False, exclude]
        np.testing.assert_array_equal(fast.items, ref.items)
        np.testing.assert_allclose(fast.scores, ref.scores, atol=1e-5)
    # and the lists are the exact top-10 where the beam is as wide as the catalog
    model.config.beam_width = model.n_items
    try:
        wide = model.recommend(hist[:30], k=10)
    finally:
        model.config.beam_width = 15
    exact = model.score(hist[:30])
    np.testing.assert_allclose(wide.scores, -np.sort(-exact, axis=1)[:, :10], atol=1e-4)
