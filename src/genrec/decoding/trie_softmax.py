"""Log-softmax over trie children only, for heads whose logits are dot products with per-child vectors.

For a row at trie node p with query vector q, a head of this form scores each child c of p by

    z_c = q . W[c] + b[c]        and        log p(c | p) = z_c - log sum_{c' child of p} exp(z_c')

Computing z for every (row, vocabulary token) and masking wastes most of the work below the first
level (a node has a few dozen children out of 256 tokens), and gathering q and W per edge moves
E x D floats through memory. Here the E = sum of children dot products are one sampled dense-dense
product (``torch.sparse.sampled_addmm`` on the CSR pattern of the trie edges: the children of a
node are consecutive node ids, so each row's pattern is one sorted run), and the softmax runs per
row over its edges only. A row whose node has a single child needs no query at all: that child's
log-probability is exactly 0, so ``query`` is asked only for the rows with two or more children
(near the leaves, most rows have one). The result is laid out as the beam search expects:
[rows, V] log-probs, -inf on tokens that do not continue the row's prefix.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import torch

from genrec.decoding.trie import PrefixTrie


def trie_log_softmax(
    trie: PrefixTrie,
    level: int,
    nodes: torch.Tensor,
    query: Callable[[torch.Tensor], torch.Tensor],
    child_vectors: torch.Tensor,
    child_bias: torch.Tensor,
) -> torch.Tensor:
    """log p(token | node) [rows, V_level] for depth-``level`` ``nodes`` (-1: dead row, all -inf).

    ``query(rows)`` returns the query vectors [len(rows), D] of the given rows (LongTensor, sorted);
    ``child_vectors`` [n_nodes(level + 1), D] and ``child_bias`` [n_nodes(level + 1)] give every
    depth-(level + 1) node's output vector and bias.
    """
    n_rows, vocab = len(nodes), trie.vocab_sizes[level]
    row, child = trie.children(level, nodes)
    out = torch.full((n_rows, vocab), -torch.inf, dtype=child_vectors.dtype)
    if not len(row):
        return out
    flat = out.view(-1)
    token = trie.token(level, child)
    counts = torch.bincount(row, minlength=n_rows)
    alone = counts.index_select(0, row) == 1
    flat.index_fill_(0, row[alone] * vocab + token[alone], 0.0)  # an only child: log 1
    scored = torch.nonzero(counts >= 2).reshape(-1)
    if not len(scored):
        return out
    row, child, token = row[~alone], child[~alone], token[~alone]
    sub = counts.index_select(0, scored)
    local = torch.repeat_interleave(torch.arange(len(scored)), sub)  # row's position among the scored rows
    q = query(scored)
    crow = torch.cat([sub.new_zeros(1), sub.cumsum(0)])
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta", category=UserWarning)
        pattern = torch.sparse_csr_tensor(
            crow,
            child,
            torch.zeros(len(child), dtype=q.dtype),
            (len(scored), len(child_vectors)),
            check_invariants=False,
        )
        dots = torch.sparse.sampled_addmm(pattern, q, child_vectors.T, beta=0.0).values()
    logits = dots + child_bias.index_select(0, child)
    top = torch.full((len(scored),), -torch.inf, dtype=logits.dtype).scatter_reduce_(0, local, logits, "amax")
    shifted = logits - top.index_select(0, local)
    norm = torch.zeros(len(scored), dtype=logits.dtype).index_add_(0, local, shifted.exp()).log_()
    flat.index_copy_(0, row * vocab + token, shifted - norm.index_select(0, local))
    return out
