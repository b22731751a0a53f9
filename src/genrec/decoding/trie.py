"""Prefix trie over a catalog's semantic IDs, with batched lookups for constrained decoding.

Every prefix of every item's code tuple is a node. Nodes are numbered per *depth*: depth 0 holds
the root (node 0), depth d the distinct length-d prefixes, depth L (``n_levels``) the items
themselves (leaves). *Level* l is the decoding step that picks token l, i.e. it goes from a depth-l
node to a depth-(l + 1) node, and its tokens range over ``vocab_sizes[l]``.

Layout, built from the lexicographically sorted code rows, per level l:

* ``edge_token[l][c]``: the token leading to depth-(l+1) node ``c``. Because rows are sorted, the
  children of a depth-l node ``p`` are the contiguous run ``offsets[l][p] : offsets[l][p + 1]``
  of depth-(l+1) ids, in increasing token order (a CSR layout with child id = edge id).
* ``edge_key[l][c] = parent * V_l + token`` is therefore sorted, so ``child`` is one searchsorted.

The id ``-1`` means "no such node" everywhere; every lookup maps it to ``-1`` (or to no children).
All lookups take and return torch tensors and contain no Python loop over nodes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch


class PrefixTrie:
    """The valid semantic IDs of a catalog, for vectorised prefix-constrained decoding."""

    def __init__(self, codes: np.ndarray, vocab_sizes: Sequence[int] | None = None) -> None:
        """Build from ``codes`` int [n_items, L] (row i is item i); vocab sizes default to max+1."""
        codes = _as_code_matrix(codes)
        if vocab_sizes is None:
            if len(codes) == 0:
                raise ValueError("vocab_sizes must be given for an empty catalog")
            vocab_sizes = codes.max(axis=0) + 1
        self.vocab_sizes: tuple[int, ...] = tuple(int(v) for v in vocab_sizes)
        if len(self.vocab_sizes) != codes.shape[1]:
            raise ValueError(f"{len(self.vocab_sizes)} vocab sizes for {codes.shape[1]} levels")
        _check_in_vocab(codes, self.vocab_sizes)
        self._codes = codes
        self._items = np.arange(len(codes), dtype=np.int64)
        self._pending: dict[int, tuple[int, ...]] = {}  # item index -> codes, added since build
        self._pending_rows: set[tuple[int, ...]] = set()
        self._build()

    # ---- catalog-level ---------------------------------------------------------------
    @property
    def n_levels(self) -> int:
        """Number of code positions L (the depth of the leaves)."""
        return len(self.vocab_sizes)

    def __len__(self) -> int:
        """Number of items in the catalog, including those added since the last build."""
        return len(self._items) + len(self._pending)

    def n_nodes(self, depth: int) -> int:
        """Number of distinct prefixes of length ``depth`` (1 for the root, n_items for leaves)."""
        self._ensure_built()
        return self._n_nodes[depth]

    def add(self, code_row: Sequence[int] | np.ndarray, item_index: int) -> None:
        """Register a new item (e.g. created after training); the trie is rebuilt on next use."""
        row = tuple(int(c) for c in np.asarray(code_row).reshape(-1))
        if len(row) != self.n_levels:
            raise ValueError(f"code row has {len(row)} entries, expected {self.n_levels}")
        _check_in_vocab(np.asarray([row], dtype=np.int64), self.vocab_sizes)
        if item_index < 0 or self._has_item(item_index):
            raise ValueError(f"item index {item_index} is negative or already in the trie")
        if row in self._pending_rows or self._built_contains(row):
            raise ValueError(f"code {row} already belongs to an item")
        self._pending[int(item_index)] = row
        self._pending_rows.add(row)

    def contains(self, code_tuple: Sequence[int]) -> bool:
        """Whether ``code_tuple`` is the full semantic ID of some item."""
        self._ensure_built()
        return len(code_tuple) == self.n_levels and self._built_contains(tuple(code_tuple))

    # ---- batched lookups -------------------------------------------------------------
    def child(self, level: int, node_ids: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """Depth-(level+1) nodes reached from depth-``level`` ``node_ids`` by ``tokens``, or -1."""
        self._ensure_built()
        return self._child(level, torch.as_tensor(node_ids), torch.as_tensor(tokens))

    def children(self, level: int, node_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """All (position, child) pairs, ``child`` extending ``node_ids[position]``, by position."""
        self._ensure_built()
        node_ids = torch.as_tensor(node_ids, dtype=torch.long)
        offsets = self._offsets[level]
        valid = node_ids >= 0
        start = torch.zeros_like(node_ids)
        count = torch.zeros_like(node_ids)
        start[valid] = offsets[node_ids[valid]]
        count[valid] = offsets[node_ids[valid] + 1] - start[valid]
        # One entry per (node, child) pair. Pair e of node i is its (e - first_pair[i])-th child,
        # whose id is start[i] + e - first_pair[i]: node i's runs are contiguous in both numberings.
        position = torch.repeat_interleave(torch.arange(len(node_ids)), count)
        shift = start - (count.cumsum(0) - count)
        return position, torch.arange(len(position)) + shift.index_select(0, position)

    def token(self, level: int, child_ids: torch.Tensor) -> torch.Tensor:
        """The token at ``level`` that leads to each depth-(level+1) node (ids must be valid)."""
        self._ensure_built()
        return self._edge_token[level].index_select(0, torch.as_tensor(child_ids, dtype=torch.long))

    def children_table(self, level: int, node_ids: torch.Tensor) -> torch.Tensor:
        """LongTensor [N, V_level]: entry [i, t] is the child of ``node_ids[i]`` by t, or -1."""
        node_ids = torch.as_tensor(node_ids, dtype=torch.long)
        position, child = self.children(level, node_ids)
        table = torch.full((len(node_ids), self.vocab_sizes[level]), -1, dtype=torch.long)
        table[position, self._edge_token[level][child]] = child
        return table

    def allowed_mask(self, level: int, node_ids: torch.Tensor) -> torch.Tensor:
        """BoolTensor [N, V_level]: the tokens that extend each depth-``level`` node."""
        return self.children_table(level, node_ids) >= 0

    def allowed_tokens(self, level: int, node_id: int) -> torch.Tensor:
        """Sorted tokens allowed after one depth-``level`` node (empty for -1)."""
        self._ensure_built()
        if node_id < 0:
            return torch.empty(0, dtype=torch.long)
        offsets = self._offsets[level]
        return self._edge_token[level][offsets[node_id] : offsets[node_id + 1]].clone()

    def leaf_item(self, node_ids: torch.Tensor) -> torch.Tensor:
        """Item index of each leaf (depth-L) node; -1 for -1."""
        self._ensure_built()
        node_ids = torch.as_tensor(node_ids, dtype=torch.long)
        # _leaf_item ends with a -1 sentinel, which node -1 is sent to (the catalog may be empty)
        sentinel = len(self._leaf_item) - 1
        return self._leaf_item.index_select(0, torch.where(node_ids >= 0, node_ids, sentinel))

    def item_leaf(self, items: torch.Tensor) -> torch.Tensor:
        """Leaf node of each item index; -1 for indices that are not in the catalog."""
        self._ensure_built()
        items = torch.as_tensor(items, dtype=torch.long)
        known = (items >= 0) & (items < len(self._item_leaf))
        if not known.any():
            return torch.full_like(items, -1)
        return torch.where(known, self._item_leaf[torch.where(known, items, 0)], -1)

    def ancestor(self, depth: int, leaf_ids: torch.Tensor) -> torch.Tensor:
        """Depth-``depth`` node on the path to each leaf (leaf ids must be valid)."""
        self._ensure_built()
        leaf_ids = torch.as_tensor(leaf_ids, dtype=torch.long)
        return self._node_of_leaf[depth].index_select(0, leaf_ids)

    def subtree_size(self, depth: int) -> torch.Tensor:
        """Number of items under each depth-``depth`` node, indexed by node id."""
        self._ensure_built()
        return self._subtree_size[depth]

    # ---- construction ----------------------------------------------------------------
    def _ensure_built(self) -> None:
        """Fold the items added since the last build into the trie."""
        if self._pending:
            new_items = np.fromiter(self._pending, dtype=np.int64)
            new_codes = np.asarray(list(self._pending.values()), dtype=np.int64)
            self._codes = np.concatenate([self._codes, new_codes])
            self._items = np.concatenate([self._items, new_items])
            self._pending, self._pending_rows = {}, set()
            self._build()

    def _build(self) -> None:
        """(Re)compute every table from ``_codes`` / ``_items``."""
        codes, n_levels = self._codes, self.n_levels
        order = np.lexsort(codes.T[::-1])  # lexsort's last key is the primary one
        rows = codes[order]
        # starts[i, l]: sorted row i starts a new length-(l+1) prefix (differs from row i-1 in 0..l)
        starts = np.ones(rows.shape, dtype=bool)
        starts[1:] = np.logical_or.accumulate(rows[1:] != rows[:-1], axis=1)
        if len(rows) > 1 and not starts[1:, -1].all():
            raise ValueError("two items share the same code row")
        # node id at each depth of every sorted row (= leaf); depth L ids are the row positions
        node_of_leaf = [np.zeros(len(rows), dtype=np.int64)]
        node_of_leaf += [np.cumsum(starts[:, l]) - 1 for l in range(n_levels)]
        n_nodes = [1] + [int(starts[:, l].sum()) for l in range(n_levels)]

        self._offsets, self._edge_token, self._edge_key = [], [], []
        for l in range(n_levels):
            first = np.flatnonzero(starts[:, l])  # first sorted row of each depth-(l+1) node
            parent, token = node_of_leaf[l][first], rows[first, l]
            offsets = np.searchsorted(parent, np.arange(n_nodes[l] + 1))
            self._offsets.append(torch.from_numpy(offsets))
            self._edge_token.append(torch.from_numpy(np.ascontiguousarray(token)))
            self._edge_key.append(torch.from_numpy(parent * self.vocab_sizes[l] + token))

        self._node_of_leaf = [torch.from_numpy(a) for a in node_of_leaf]
        self._subtree_size = [torch.from_numpy(np.bincount(a, minlength=n)) for a, n in zip(node_of_leaf, n_nodes)]
        leaf_item = self._items[order]
        item_leaf = np.full(int(leaf_item.max()) + 1 if len(leaf_item) else 0, -1, dtype=np.int64)
        item_leaf[leaf_item] = np.arange(len(leaf_item))
        self._leaf_item = torch.from_numpy(np.append(leaf_item, -1))
        self._item_leaf = torch.from_numpy(item_leaf)
        self._n_nodes = n_nodes

    # ---- lookup internals ------------------------------------------------------------
    def _child(self, level: int, node_ids: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """`child` without the rebuild check (used while pending items are being validated)."""
        keys = self._edge_key[level]
        vocab = self.vocab_sizes[level]
        node_ids, tokens = torch.broadcast_tensors(node_ids.long(), tokens.long())
        if len(keys) == 0:
            return torch.full_like(node_ids, -1)
        valid = (node_ids >= 0) & (tokens >= 0) & (tokens < vocab)
        query = node_ids * vocab + tokens
        pos = torch.searchsorted(keys, query).clamp_(max=len(keys) - 1)
        return torch.where(valid & (keys[pos] == query), pos, -1)

    def _built_contains(self, row: tuple[int, ...]) -> bool:
        node = torch.zeros(1, dtype=torch.long)
        for level, token in enumerate(row):
            node = self._child(level, node, torch.tensor([token]))
        return bool(node[0] >= 0)

    def _has_item(self, item_index: int) -> bool:
        in_built = item_index < len(self._item_leaf) and int(self._item_leaf[item_index]) >= 0
        return in_built or item_index in self._pending


def _as_code_matrix(codes: np.ndarray) -> np.ndarray:
    codes = np.asarray(codes)
    if codes.ndim != 2 or codes.shape[1] < 1:
        raise ValueError(f"codes must be a 2-D [n_items, L >= 1] array, got shape {codes.shape}")
    if codes.size and not np.issubdtype(codes.dtype, np.integer):
        raise ValueError(f"codes must be integers, got {codes.dtype}")
    return codes.astype(np.int64, copy=True)


def _check_in_vocab(codes: np.ndarray, vocab_sizes: Sequence[int]) -> None:
    if codes.size and ((codes < 0).any() or (codes >= np.asarray(vocab_sizes)).any()):
        raise ValueError(f"codes must lie in [0, vocab_size) per level, vocab sizes {vocab_sizes}")
