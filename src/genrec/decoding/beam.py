"""Trie-constrained beam search over semantic IDs: batched over users, agnostic to the model.

Protocol with the model
-----------------------
The search calls ``step_fn(level, prefix_tokens, state) -> (log_probs, state)`` once per level
``l = 0 .. L-1``. Rows are (user, beam) pairs in user-major order: with ``n`` beams per user,
row ``b * n + j`` is beam ``j`` of user ``b``, best first. At level 0 every beam would hold the same
empty prefix, so ``n = 1`` there (the model runs once per user); from level 1 on ``n = beam_width``.
When a user has fewer valid hypotheses than that (tiny catalog, exclusions), the extra rows are
dead beams: the model is still called on them (their tokens are in range but meaningless) and
their output is ignored.

* ``prefix_tokens``: LongTensor [rows, level], the tokens chosen so far by each row.
* ``state``: anything the model carries between steps (encoder output, KV cache, ...). It starts
  as the ``state`` argument, with one row per user (or ``None``), and is returned by every step.
* ``log_probs``: FloatTensor [rows, V_level], the row's next-token log-probabilities (any additive
  scores work). ``-inf`` or NaN means the model rules the token out.

After each step but the last the search calls ``reorder(state, index)``: ``index`` is a LongTensor
[new_rows] of rows of the previous step, and new row ``r`` continues old row ``index[r]`` (the
first call turns one row per user into ``n`` rows per user). The default, `reorder_rows`, applies
``index_select(0, index)`` to every tensor in a (nested) tuple / list / dict and keeps anything
else; pass another callable for a state whose batch dimension is not the first.

The search itself runs on the CPU, like the trie (``log_probs`` must be CPU tensors).
Micro-benchmark: ``python -c "from genrec.decoding import benchmark_decoding as b; print(b())"``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from genrec.decoding.trie import PrefixTrie
from genrec.nn import torch_threads

State = Any
StepFn = Callable[[int, torch.Tensor, State], tuple[torch.Tensor, State]]
Reorder = Callable[[State, torch.Tensor], State]
Exclude = Sequence[Iterable[int]] | torch.Tensor | np.ndarray

# A token the model rules out (-inf / NaN) gets this finite score instead, so an item that the model
# deems impossible still ranks above "no item": -inf is reserved for tokens outside the trie, which
# is what lets the search tell a dead beam from a live one by its score alone.
_RULED_OUT = -1e30


def reorder_rows(state: State, index: torch.Tensor) -> State:
    """Default state reordering: select rows ``index`` of every tensor in a nested container."""
    if isinstance(state, torch.Tensor):
        return state.index_select(0, index.to(state.device))
    if isinstance(state, tuple) and hasattr(state, "_fields"):  # namedtuple
        return type(state)(*(reorder_rows(s, index) for s in state))
    if isinstance(state, (tuple, list)):
        return type(state)(reorder_rows(s, index) for s in state)
    if isinstance(state, dict):
        return {key: reorder_rows(value, index) for key, value in state.items()}
    return state


@dataclass
class _Beams:
    """The live hypotheses: ``per_user`` rows per user, best first within each user."""

    nodes: torch.Tensor  # [rows] trie node at depth = current level; -1 for a dead beam
    scores: torch.Tensor  # [rows] float32 sum of log-probs; -inf for a dead beam
    tokens: torch.Tensor  # [rows, level]
    per_user: int


def constrained_beam_search(
    step_fn: StepFn,
    trie: PrefixTrie,
    batch_size: int,
    beam_width: int,
    k: int,
    exclude: Exclude | None = None,
    state: State = None,
    reorder: Reorder = reorder_rows,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-``k`` catalog items per user by total log-prob: (items LongTensor [B, k], scores [B, k]).

    Only prefixes of catalog items are ever extended, so every returned item is a real, distinct
    catalog item, best first. ``exclude[b]`` lists item indices user ``b`` must not get (a list of
    iterables, or a [B, m] tensor/array padded with negative values; ids not in the catalog are
    ignored); prefixes whose items are all excluded are pruned at every level, so they never take
    a beam slot. Where fewer than ``k``
    items remain (tiny catalog, many exclusions) the tail is padded with item -1 and score -inf.
    All items have the same length, so no length penalty applies. ``k`` cannot exceed
    ``beam_width``: to get more items, widen the beam. See the module docstring for the protocol.
    """
    _check_sizes(batch_size, beam_width, k)
    blocked = _blocked_prefixes(trie, exclude, batch_size)
    beams = _Beams(
        nodes=torch.zeros(batch_size, dtype=torch.long),  # everyone starts at the root
        scores=torch.zeros(batch_size),
        tokens=torch.zeros(batch_size, 0, dtype=torch.long),
        per_user=1,
    )
    for level in range(trie.n_levels):
        log_probs, state = step_fn(level, beams.tokens, state)
        _check_log_probs(log_probs, len(beams.nodes), trie.vocab_sizes[level], level)
        parent_rows, beams = _select(trie, level, beams, log_probs, blocked[level + 1], beam_width)
        if level + 1 < trie.n_levels:  # the state after the last step is never used
            state = reorder(state, parent_rows)
    return _top_k(trie, beams, k)


def _select(
    trie: PrefixTrie,
    level: int,
    beams: _Beams,
    log_probs: torch.Tensor,
    blocked: torch.Tensor | None,
    beam_width: int,
) -> tuple[torch.Tensor, _Beams]:
    """One beam step: each user keeps its best ``beam_width`` one-token extensions in the trie.

    Work is proportional to the number of trie edges leaving the beams (not rows x vocab), which
    is small below the first levels of a sparse catalog.
    """
    # (index_select rather than [] indexing below: the latter is several times slower on CPU)
    rows, child = trie.children(level, beams.nodes)  # dead beams (node -1) have no children
    users = torch.div(rows, beams.per_user, rounding_mode="floor")
    if blocked is not None and len(blocked):
        keep = ~_is_blocked(blocked, trie.n_nodes(level + 1), users, child)
        rows, child, users = rows[keep], child[keep], users[keep]
    token = trie.token(level, child)
    vocab = log_probs.shape[1]
    step_scores = log_probs.reshape(-1).index_select(0, rows * vocab + token).float()
    score = beams.scores.index_select(0, rows) + step_scores
    score.nan_to_num_(nan=_RULED_OUT, neginf=_RULED_OUT)
    n_users = len(beams.nodes) // beams.per_user
    best, edge = _top_per_user(users, score, n_users, beam_width)
    # Slots with no candidate left become dead beams: node -1, score -inf, continuing the user's
    # first row with token 0 (any in-range values would do; they are never returned).
    edge = edge.reshape(-1)
    found = edge >= 0
    edge = torch.where(found, edge, len(rows))  # index of a sentinel appended below
    first_row = torch.arange(n_users).repeat_interleave(beam_width) * beams.per_user
    parent_rows = torch.where(found, _append(rows, 0).index_select(0, edge), first_row)
    new_tokens = _append(token, 0).index_select(0, edge)[:, None]
    new = _Beams(
        nodes=_append(child, -1).index_select(0, edge),
        scores=best.reshape(-1),
        tokens=torch.cat([beams.tokens.index_select(0, parent_rows), new_tokens], 1),
        per_user=beam_width,
    )
    return parent_rows, new


def _top_per_user(
    user: torch.Tensor, score: torch.Tensor, n_users: int, width: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Each user's best ``width`` candidates, best first: (scores [U, width], candidate or -1)

    ``user`` must be sorted (candidates grouped by user). The candidates are laid out in a
    [n_users, most candidates] table padded with -inf, so one batched topk does every user.
    """
    counts = torch.bincount(user, minlength=n_users)
    starts = counts.cumsum(0) - counts
    n_cols = max(width, int(counts.max()) if len(user) else 0)
    table = torch.full((n_users * n_cols,), -torch.inf)
    user_start = starts.index_select(0, user)
    table.index_copy_(0, user * n_cols + torch.arange(len(user)) - user_start, score)
    best, col = table.view(n_users, n_cols).topk(width, dim=1)
    return best, torch.where(col < counts[:, None], starts[:, None] + col, -1)


def _append(values: torch.Tensor, sentinel: int) -> torch.Tensor:
    """``values`` plus one trailing entry, for gathers whose "missing" index points past the end."""
    return torch.cat([values, values.new_full((1,), sentinel)])


def _top_k(trie: PrefixTrie, beams: _Beams, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Map the final (sorted) beams to item indices and keep ``k``; dead slots get -1 / -inf."""
    n_users = len(beams.nodes) // beams.per_user
    items = trie.leaf_item(beams.nodes).view(n_users, beams.per_user)[:, :k]
    scores = beams.scores.view(n_users, beams.per_user)[:, :k]
    return items, scores.masked_fill((items < 0) | (scores <= _RULED_OUT), -torch.inf)


# ---- exclusions ------------------------------------------------------------------------
def _blocked_prefixes(trie: PrefixTrie, exclude: Exclude | None, batch_size: int) -> list[torch.Tensor | None]:
    """Per depth d, sorted keys ``user * n_nodes(d) + node`` of nodes with every item excluded.

    Pruning whole excluded subtrees (not only excluded leaves) keeps a prefix with nothing left to
    offer from occupying a beam slot and crowding out valid items.
    """
    blocked: list[torch.Tensor | None] = [None] * (trie.n_levels + 1)
    if exclude is None or len(trie) == 0:
        return blocked
    users, items = _exclusion_pairs(exclude, batch_size)
    leaves = trie.item_leaf(items)
    n_leaves = trie.n_nodes(trie.n_levels)
    pairs = torch.unique((users * n_leaves + leaves)[leaves >= 0])  # dedupes repeated exclusions
    users, leaves = pairs // n_leaves, pairs % n_leaves
    for depth in range(1, trie.n_levels + 1):
        n_nodes = trie.n_nodes(depth)
        ancestors = trie.ancestor(depth, leaves)
        keys, n_excluded = torch.unique(users * n_nodes + ancestors, return_counts=True)
        blocked[depth] = keys[n_excluded == trie.subtree_size(depth)[keys % n_nodes]]
    return blocked


def _is_blocked(blocked: torch.Tensor, n_nodes: int, user: torch.Tensor, node: torch.Tensor) -> torch.Tensor:
    """Whether each (user, node) pair is in ``blocked`` (sorted ``user * n_nodes + node`` keys)."""
    keys = user * n_nodes + node
    pos = torch.searchsorted(blocked, keys).clamp_(max=len(blocked) - 1)
    return blocked[pos] == keys


def _exclusion_pairs(exclude: Exclude, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Flatten ``exclude`` into (user, item) LongTensor pairs, dropping negative padding."""
    is_array = isinstance(exclude, np.ndarray) and exclude.dtype != object
    if isinstance(exclude, torch.Tensor) or is_array:
        table = torch.as_tensor(exclude, dtype=torch.long)
        if table.ndim != 2 or len(table) != batch_size:
            shape = tuple(table.shape)
            raise ValueError(f"exclude must be [batch_size={batch_size}, m], got {shape}")
        users, cols = (table >= 0).nonzero(as_tuple=True)
        return users, table[users, cols]
    lists = [np.asarray(list(items), dtype=np.int64).reshape(-1) for items in exclude]
    if len(lists) != batch_size:
        raise ValueError(f"exclude has {len(lists)} lists for batch_size={batch_size}")
    lengths = torch.tensor([len(a) for a in lists], dtype=torch.long)
    users = torch.repeat_interleave(torch.arange(batch_size), lengths)
    items = torch.from_numpy(np.concatenate(lists)) if lists else torch.zeros(0, dtype=torch.long)
    keep = items >= 0
    return users[keep], items[keep]


# ---- argument checks ---------------------------------------------------------------------
def _check_sizes(batch_size: int, beam_width: int, k: int) -> None:
    if batch_size < 0 or beam_width < 1 or k < 1:
        got = f"batch_size={batch_size}, beam_width={beam_width}, k={k}"
        raise ValueError(f"need batch_size >= 0, beam_width >= 1, k >= 1; got {got}")
    if k > beam_width:
        raise ValueError(
            f"k={k} > beam_width={beam_width}: beam search returns at most beam_width items; "
            f"widen the beam (beam_width >= k) to get {k}"
        )


def _check_log_probs(log_probs: torch.Tensor, rows: int, vocab: int, level: int) -> None:
    if not isinstance(log_probs, torch.Tensor) or tuple(log_probs.shape) != (rows, vocab):
        shape = tuple(log_probs.shape) if isinstance(log_probs, torch.Tensor) else type(log_probs)
        expected = f"[{rows}, {vocab}]"
        raise ValueError(f"step_fn at level {level} must return log_probs {expected}, not {shape}")


# ---- micro-benchmark ---------------------------------------------------------------------
def benchmark_decoding(
    n_items: int = 12000,
    levels: int = 4,
    batch: int = 512,
    beam: int = 20,
    vocab: int = 256,
    k: int = 10,
    exclude_per_user: int = 0,
    repeats: int = 3,
    seed: int = 0,
    threads: int | None = None,
) -> dict[str, float]:
    """Time the search on a random catalog with a cheap dummy model; returns users/s and timings."""
    rng = np.random.default_rng(seed)
    codes = _random_distinct_codes(rng, n_items, levels, vocab)
    trie = PrefixTrie(codes, [vocab] * levels)
    # Dummy model: next-token log-probs depend on the previous token only; the state is a fake
    # hidden vector per row, so reordering is exercised at a realistic size.
    logits = rng.standard_normal((levels, vocab, vocab), dtype=np.float32)
    tables = torch.from_numpy(logits).log_softmax(2)
    step_seconds = 0.0

    def step_fn(level: int, prefix: torch.Tensor, hidden: State) -> tuple[torch.Tensor, State]:
        nonlocal step_seconds
        start = time.perf_counter()
        last = prefix[:, -1] if level > 0 else torch.zeros(len(prefix), dtype=torch.long)
        out = tables[level].index_select(0, last)
        step_seconds += time.perf_counter() - start
        return out, hidden

    exclude = rng.integers(0, n_items, size=(batch, exclude_per_user)) if exclude_per_user else None
    hidden = torch.zeros(batch, 64)
    with torch_threads(threads or None):
        constrained_beam_search(step_fn, trie, batch, beam, k, exclude, hidden)  # warm-up
        times = []
        for _ in range(repeats):
            step_seconds = 0.0
            start = time.perf_counter()
            constrained_beam_search(step_fn, trie, batch, beam, k, exclude, hidden)
            times.append((time.perf_counter() - start, step_seconds))
        n_threads = torch.get_num_threads()
    total, in_step = min(times)  # the least disturbed run (the machine may be shared)
    return {
        "users_per_s": batch / total,
        "seconds_per_batch": total,
        "step_fn_seconds": in_step,
        "search_seconds": total - in_step,
        "torch_threads": float(n_threads),
    }


def _random_distinct_codes(rng: np.random.Generator, n_items: int, levels: int, vocab: int) -> np.ndarray:
    """``n_items`` distinct uniformly random code rows (n_items must not exceed vocab**levels)."""
    if n_items > vocab**levels:
        raise ValueError(f"{n_items} items do not fit in {vocab}**{levels} codes")
    flat = rng.choice(vocab**levels, size=n_items, replace=False)
    return np.stack([(flat // vocab ** (levels - 1 - l)) % vocab for l in range(levels)], 1)
