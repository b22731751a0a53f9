"""Prefix trie and trie-constrained beam search, checked against brute force on random catalogs."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from genrec.decoding import PrefixTrie, benchmark_decoding, constrained_beam_search, reorder_rows

SETTINGS = settings(max_examples=60, deadline=None)
Catalog = tuple[np.ndarray, list[int]]  # codes [n_items, L], vocab size per level


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    """The tensors here are tiny: thread start-up would dominate (and thrash a busy machine)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# ---- random catalogs and models ---------------------------------------------------------------
@st.composite
def catalogs(draw: st.DrawFn, min_items: int = 0, max_items: int = 40) -> Catalog:
    """Distinct code rows with 1..4 levels of vocabulary 1..5 (tiny catalogs included)."""
    n_levels = draw(st.integers(1, 4))
    vocab = draw(st.lists(st.integers(1, 5), min_size=n_levels, max_size=n_levels))
    space = math.prod(vocab)
    n_items = draw(st.integers(min(min_items, space), min(max_items, space)))
    flat = draw(st.lists(st.integers(0, space - 1), min_size=n_items, max_size=n_items, unique=True))
    return _decode(np.asarray(flat, dtype=np.int64), vocab), vocab


def _decode(flat: np.ndarray, vocab: list[int]) -> np.ndarray:
    """Mixed-radix integers -> code rows [n, L]."""
    digits = []
    for size in reversed(vocab):
        digits.append(flat % size)
        flat = flat // size
    if not len(flat):
        return np.zeros((0, len(vocab)), dtype=np.int64)
    return np.stack(digits[::-1], axis=1)


class TableModel:
    """A random model: log-probs drawn once per (user, level, prefix), looked up by step_fn.

    Its state is (user ids, tokens the state has seen), so a beam reordered without its state,
    or the other way round, trips the assertion in `step`.
    """

    def __init__(self, vocab: list[int], n_users: int, seed: int, p_ruled_out: float = 0.0) -> None:
        gen = torch.Generator().manual_seed(seed)
        self.vocab = vocab
        self.tables = []
        for level, size in enumerate(vocab):
            logits = torch.randn(n_users, math.prod(vocab[:level]), size, generator=gen)
            log_probs = logits.log_softmax(-1)
            ruled_out = torch.rand(log_probs.shape, generator=gen) < p_ruled_out
            self.tables.append(log_probs.masked_fill(ruled_out, -torch.inf))
        self.rows_seen: list[int] = []

    def initial_state(self, n_users: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        return torch.arange(n_users), {"seen": torch.zeros(n_users, 0, dtype=torch.long)}

    def step(self, level: int, prefix: torch.Tensor, state: tuple) -> tuple[torch.Tensor, tuple]:
        users, extra = state
        assert prefix.shape == (len(users), level) and prefix.dtype == torch.long
        assert torch.equal(extra["seen"], prefix[:, : extra["seen"].shape[1]])
        self.rows_seen.append(len(users))
        log_probs = self.tables[level][users, self._prefix_index(prefix)]
        return log_probs, (users, {"seen": prefix.clone()})

    def _prefix_index(self, prefix: torch.Tensor) -> torch.Tensor:
        index = torch.zeros(len(prefix), dtype=torch.long)
        for i in range(prefix.shape[1]):
            index = index * self.vocab[i] + prefix[:, i]
        return index

    def item_scores(self, codes: np.ndarray) -> np.ndarray:
        """Brute force: float64 [n_users, n_items] total log-prob of every catalog item."""
        codes_t = torch.as_tensor(codes)
        n_users = self.tables[0].shape[0]
        total = torch.zeros(n_users, len(codes), dtype=torch.float64)
        for level, table in enumerate(self.tables):
            rows = table[:, self._prefix_index(codes_t[:, :level])]  # [users, items, V]
            chosen = codes_t[None, :, level, None].expand(n_users, -1, 1)
            total += rows.gather(2, chosen)[..., 0].double()
        return total.numpy()


@st.composite
def search_cases(draw: st.DrawFn, exact: bool) -> dict:
    """A catalog, a model, a beam (wider than the catalog when ``exact``) and exclusions."""
    codes, vocab = draw(catalogs())
    n_items, n_users = len(codes), draw(st.integers(1, 3))
    wide = max(n_items, 1)
    beam = draw(st.integers(wide, wide + 3) if exact else st.integers(1, 6))
    k = draw(st.integers(1, beam))
    # Exclusions: catalog items, duplicates, and ids the catalog does not have (ignored).
    item_ids = st.integers(0, n_items + 2)
    per_user = st.lists(item_ids, max_size=n_items + 2)
    exclude = draw(st.lists(per_user, min_size=n_users, max_size=n_users))
    p_ruled_out = draw(st.sampled_from([0.0, 0.0, 0.3]))
    model = TableModel(vocab, n_users, seed=draw(st.integers(0, 2**16)), p_ruled_out=p_ruled_out)
    return dict(codes=codes, vocab=vocab, n_users=n_users, beam=beam, k=k, exclude=exclude, model=model)


def constant_step(log_probs: list[float]) -> Callable[..., tuple[torch.Tensor, Any]]:
    """A step_fn that gives every row, at every level, the same next-token log-probs."""
    row = torch.tensor(log_probs)

    def step(level: int, prefix: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
        return row.expand(len(prefix), -1), state

    return step


def close(actual: np.ndarray, expected: np.ndarray) -> None:
    """float32 sums of log-probs against float64 brute force."""
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-4)


def _run(case: dict) -> tuple[np.ndarray, np.ndarray]:
    trie = PrefixTrie(case["codes"], case["vocab"])
    model = case["model"]
    items, scores = constrained_beam_search(
        model.step,
        trie,
        case["n_users"],
        case["beam"],
        case["k"],
        exclude=case["exclude"],
        state=model.initial_state(case["n_users"]),
    )
    assert items.shape == scores.shape == (case["n_users"], case["k"])
    assert items.dtype == torch.long and scores.dtype == torch.float32
    return items.numpy(), scores.numpy()


# ---- beam search properties -------------------------------------------------------------------
@SETTINGS
@given(search_cases(exact=False))
def test_results_are_valid_distinct_unexcluded_and_padded_only_when_needed(case: dict) -> None:
    items, scores = _run(case)
    n_items = len(case["codes"])
    brute = case["model"].item_scores(case["codes"])
    for user in range(case["n_users"]):
        excluded = {i for i in case["exclude"][user] if i < n_items}
        found = items[user][items[user] >= 0]
        # Valid items come first, then padding; the count is all the catalog can offer, up to k.
        assert len(found) == min(case["k"], n_items - len(excluded))
        assert (items[user][len(found) :] == -1).all()
        assert np.isneginf(scores[user][len(found) :]).all()
        assert len(set(found.tolist())) == len(found)
        assert set(found.tolist()).isdisjoint(excluded)
        assert (found < n_items).all()
        # Scores are the model's total log-probs, best first.
        close(scores[user][: len(found)], brute[user, found])
        assert (np.diff(scores[user][np.isfinite(scores[user])]) <= 1e-6).all()


@SETTINGS
@given(search_cases(exact=True))
def test_wide_beam_equals_brute_force_top_k(case: dict) -> None:
    items, scores = _run(case)
    brute = case["model"].item_scores(case["codes"])
    for user in range(case["n_users"]):
        candidates = np.setdiff1d(np.arange(len(case["codes"])), case["exclude"][user])
        expected = np.sort(brute[user, candidates])[::-1][: case["k"]]
        n_found = len(expected)
        # Compare scores rather than ids, so that (measure-zero) ties cannot make the test flaky.
        close(scores[user][:n_found], expected)
        close(brute[user, items[user][:n_found]], expected)
        assert (items[user][n_found:] == -1).all()


@SETTINGS
@given(search_cases(exact=False))
def test_model_sees_one_row_per_user_then_one_per_beam(case: dict) -> None:
    _run(case)
    rows = case["model"].rows_seen
    assert rows == [case["n_users"]] + [case["n_users"] * case["beam"]] * (len(case["vocab"]) - 1)


@SETTINGS
@given(search_cases(exact=False))
def test_exclude_as_padded_tensor_matches_lists(case: dict) -> None:
    items, scores = _run(case)
    width = max(len(x) for x in case["exclude"]) + 1
    padded = torch.full((case["n_users"], width), -1)
    for user, excluded in enumerate(case["exclude"]):
        padded[user, : len(excluded)] = torch.tensor(excluded, dtype=torch.long)
    case["model"].rows_seen.clear()
    items2, scores2 = _run(dict(case, exclude=padded))
    np.testing.assert_array_equal(items, items2)
    np.testing.assert_array_equal(scores, scores2)


def test_excluded_subtree_does_not_crowd_out_the_valid_item() -> None:
    # The model prefers token 0 at every level, but both items under prefix (0,) are excluded:
    # a one-wide beam must still go to (1, 0) instead of dying under (0,).
    trie = PrefixTrie(np.array([[0, 0], [0, 1], [1, 0]]), [2, 2])
    step = constant_step([0.0, -5.0])
    items, scores = constrained_beam_search(step, trie, 1, beam_width=1, k=1, exclude=[[0, 1]])
    assert items.tolist() == [[2]]
    assert scores.tolist() == [[-5.0]]


def test_item_the_model_rules_out_still_fills_k_after_the_others() -> None:
    trie = PrefixTrie(np.array([[0], [1], [2]]), [4])
    step = constant_step([-1.0, -torch.inf, -2.0, -0.5])
    items, scores = constrained_beam_search(step, trie, 1, beam_width=3, k=3)
    assert items.tolist() == [[0, 2, 1]]
    assert scores[0, :2].tolist() == [-1.0, -2.0] and scores[0, 2] == -torch.inf


def test_tiny_and_empty_catalogs_are_padded() -> None:
    step, one_item = constant_step([0.0, 0.0, 0.0]), PrefixTrie(np.array([[1, 2]]), [3, 3])
    items, scores = constrained_beam_search(step, one_item, 2, 4, 3)
    assert items.tolist() == [[0, -1, -1]] * 2
    assert scores[:, 0].tolist() == [0.0, 0.0] and torch.isneginf(scores[:, 1:]).all()
    empty = PrefixTrie(np.zeros((0, 2), dtype=np.int64), [3, 3])
    items, scores = constrained_beam_search(step, empty, 2, 4, 3)
    assert (items == -1).all() and torch.isneginf(scores).all()
    items, _ = constrained_beam_search(step, one_item, 1, 2, 1, exclude=[[0]])
    assert items.tolist() == [[-1]]


def test_zero_users() -> None:
    trie = PrefixTrie(np.array([[1, 2]]), [3, 3])
    items, scores = constrained_beam_search(constant_step([0.0, 0.0, 0.0]), trie, 0, 4, 3)
    assert items.shape == scores.shape == (0, 3)


def test_custom_reorder_for_a_state_batched_on_dim_1() -> None:
    codes = np.array([[0, 0, 1], [0, 1, 1], [1, 1, 0], [1, 0, 0], [1, 1, 1]])
    model = TableModel([2, 2, 2], n_users=2, seed=3)
    users = torch.arange(2)

    def step(level: int, prefix: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, Any]:
        assert state.shape == (3, len(prefix))  # batch on dim 1
        return model.tables[level][state[0], model._prefix_index(prefix)], state

    def reorder(state: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        return state[:, index]

    state = users[None].expand(3, 2)
    trie = PrefixTrie(codes)
    items, _ = constrained_beam_search(step, trie, 2, 5, 5, state=state, reorder=reorder)
    brute = model.item_scores(codes)
    assert items.tolist() == np.argsort(-brute, axis=1).tolist()


def test_reorder_rows_handles_nested_containers() -> None:
    state = (torch.arange(3), [torch.arange(6).view(3, 2)], {"a": torch.ones(3), "n": 7}, None)
    out = reorder_rows(state, torch.tensor([2, 2, 0, 1]))
    assert out[0].tolist() == [2, 2, 0, 1]
    assert out[1][0].tolist() == [[4, 5], [4, 5], [0, 1], [2, 3]]
    assert out[2]["a"].shape == (4,) and out[2]["n"] == 7 and out[3] is None


def test_argument_errors() -> None:
    trie = PrefixTrie(np.array([[0, 1], [1, 1]]))
    step = constant_step([0.0, 0.0])
    with pytest.raises(ValueError, match="widen the beam"):
        constrained_beam_search(step, trie, 1, beam_width=2, k=3)
    with pytest.raises(ValueError, match="log_probs"):
        constrained_beam_search(constant_step([0.0] * 5), trie, 1, 2, 2)
    with pytest.raises(ValueError, match="exclude"):
        constrained_beam_search(step, trie, 2, 2, 2, exclude=[[0]])


# ---- trie -------------------------------------------------------------------------------------
def _walk(trie: PrefixTrie, row: np.ndarray) -> int:
    node = torch.zeros(1, dtype=torch.long)
    for level, token in enumerate(row):
        node = trie.child(level, node, torch.tensor([int(token)]))
    return int(node[0])


@SETTINGS
@given(catalogs())
def test_trie_lookups_match_the_codes(catalog: Catalog) -> None:
    codes, vocab = catalog
    trie = PrefixTrie(codes, vocab)
    assert len(trie) == len(codes) and trie.n_levels == len(vocab)
    for item, row in enumerate(codes):
        assert trie.contains(tuple(row))
        assert trie.leaf_item(torch.tensor([_walk(trie, row)])).item() == item
    assert trie.item_leaf(torch.tensor([-1, len(codes)])).tolist() == [-1, -1]
    for level in range(len(vocab)):
        # Every distinct prefix of length `level` (the root exists even in an empty catalog).
        prefixes = sorted({tuple(row[:level]) for row in codes}) if level else [()]
        nodes = torch.tensor([_walk(trie, np.array(p, dtype=np.int64)) for p in prefixes] + [-1])
        assert len(set(nodes[:-1].tolist())) == len(prefixes) == trie.n_nodes(level)
        mask, table = trie.allowed_mask(level, nodes), trie.children_table(level, nodes)
        assert mask.shape == (len(nodes), vocab[level]) and not mask[-1].any()
        for i, prefix in enumerate(prefixes):
            below = codes[(codes[:, :level] == prefix).all(axis=1)] if len(codes) else codes
            assert set(np.flatnonzero(mask[i].numpy())) == set(below[:, level].tolist())
            allowed = trie.allowed_tokens(level, int(nodes[i])).tolist()
            assert allowed == sorted(set(below[:, level].tolist()))
            if len(below) and nodes[i] >= 0:
                assert trie.subtree_size(level)[nodes[i]] == len(below)
        # child() agrees with the table, for every token including out-of-range ones.
        for token in range(-1, vocab[level] + 1):
            got = trie.child(level, nodes, torch.full_like(nodes, token))
            want = table[:, token] if 0 <= token < vocab[level] else torch.full_like(nodes, -1)
            assert torch.equal(got, want)


@SETTINGS
@given(catalogs(min_items=1), st.data())
def test_trie_contains_exactly_the_catalog(catalog: Catalog, data: st.DataObject) -> None:
    codes, vocab = catalog
    trie = PrefixTrie(codes, vocab)
    row = tuple(data.draw(st.integers(0, v - 1)) for v in vocab)
    assert trie.contains(row) == any(tuple(r) == row for r in codes)
    assert not trie.contains(row[:-1])


@SETTINGS
@given(catalogs(max_items=20), st.data())
def test_added_item_is_decodable(catalog: Catalog, data: st.DataObject) -> None:
    codes, vocab = catalog
    free = sorted(set(range(math.prod(vocab))) - set(_flat(codes, vocab)))
    if not free:
        return
    new_row = _decode(np.array([data.draw(st.sampled_from(free))]), vocab)[0]
    new_index = len(codes) + data.draw(st.integers(0, 2))  # item indices need not be contiguous
    trie = PrefixTrie(codes, vocab)
    trie.add(new_row, new_index)
    assert len(trie) == len(codes) + 1 and trie.contains(tuple(new_row))
    assert trie.leaf_item(torch.tensor([_walk(trie, new_row)])).item() == new_index

    # A model that puts all its mass on the new row's tokens must return it first.
    def step(level: int, prefix: torch.Tensor, state: None) -> tuple[torch.Tensor, None]:
        log_probs = torch.full((len(prefix), vocab[level]), -10.0)
        log_probs[:, new_row[level]] = 0.0
        return log_probs, state

    beam = len(codes) + 1
    items, scores = constrained_beam_search(step, trie, 2, beam, beam)
    assert items[:, 0].tolist() == [new_index, new_index] and scores[:, 0].tolist() == [0.0, 0.0]
    assert sorted(items[0].tolist()) == sorted(list(range(len(codes))) + [new_index])


def _flat(codes: np.ndarray, vocab: list[int]) -> list[int]:
    flat = np.zeros(len(codes), dtype=np.int64)
    for level, size in enumerate(vocab):
        flat = flat * size + codes[:, level]
    return flat.tolist()


def test_trie_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="share"):
        PrefixTrie(np.array([[0, 1], [1, 0], [0, 1]]))
    with pytest.raises(ValueError, match="vocab"):
        PrefixTrie(np.array([[0, 3]]), [2, 2])
    with pytest.raises(ValueError, match="2-D"):
        PrefixTrie(np.array([0, 1]))
    trie = PrefixTrie(np.array([[0, 1], [1, 0]]), [2, 2])
    with pytest.raises(ValueError, match="already belongs"):
        trie.add([0, 1], 5)
    with pytest.raises(ValueError, match="already in the trie"):
        trie.add([1, 1], 0)
    with pytest.raises(ValueError, match="entries"):
        trie.add([1], 5)
    with pytest.raises(ValueError, match="vocab"):
        trie.add([1, 2], 5)
    trie.add([1, 1], 5)
    with pytest.raises(ValueError, match="already"):
        trie.add([1, 1], 6)  # still pending: not yet built into the trie


def test_benchmark_runs_on_a_small_catalog() -> None:
    stats = benchmark_decoding(n_items=300, levels=3, batch=8, beam=5, vocab=16, k=5, exclude_per_user=3, repeats=1)
    assert stats["users_per_s"] > 0 and stats["search_seconds"] >= 0
