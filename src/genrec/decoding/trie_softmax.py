"""Log-softmax over trie children only, for heads whose logits are dot products with per-child vectors.

For a row at trie node p with query vector q, a head of this form scores each child c of p by

    z_c = q . W[c] + b[c]        and        log p(c | p) = z_c - log sum_{c' child of p} exp(z_c')

Computing z for every (row, vocabulary token) and masking wastes most of the work below the first
level (a node has a few dozen children out of 256 tokens), and gathering q and W per edge moves
E x D floats through memory. Here the E = sum of children dot products are one sampled dense-dense
product (``torch.sparse.sampled_addmm`` on the CSR pattern of the trie edges: the children of a
node are consecutive node ids, so each row's pattern is one sorted run), and the softmax runs per
row over its edges only. The result is laid out as the beam search expects: [rows, V] log-probs,
-inf on tokens that do not continue the row's prefix.
"""

from __future__ import annotations

import warnings

import torch

from genrec.decoding.trie import PrefixTrie


def trie_log_softmax(
    trie: PrefixTrie,
    level: int,
    nodes: torch.Tensor,
    query: torch.Tensor,
    child_vectors: torch.Tensor,
    child_bias: torch.Tensor,
) -> torch.Tensor:
    """log p(token | node) [rows, V_level] for depth-``level`` ``nodes`` (-1: dead row, all -inf).

    ``query`` [rows, D] is each row's query vector; ``child_vectors`` [n_nodes(level + 1), D] and
    ``child_bias`` [n_nodes(level + 1)] give every depth-(level + 1) node's output vector and bias.
    """
    rows, vocab = len(nodes), trie.vocab_sizes[level]
    row, child = trie.children(level, nodes)
    out = torch.full((rows, vocab), -torch.inf, dtype=query.dtype)
    if not len(row):
        return out
    counts = torch.bincount(row, minlength=rows)
    crow = torch.cat([counts.new_zeros(1), counts.cumsum(0)])
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta", category=UserWarning)
        pattern = torch.sparse_csr_tensor(
            crow, child, torch.zeros(len(child), dtype=query.dtype), (rows, len(child_vectors)), check_invariants=False
        )
        dots = torch.sparse.sampled_addmm(pattern, query, child_vectors.T, beta=0.0).values()
    logits = dots + child_bias.index_select(0, child)
    top = torch.full((rows,), -torch.inf, dtype=logits.dtype).scatter_reduce_(0, row, logits, "amax")
    shifted = logits - top.index_select(0, row)
    norm = torch.zeros(rows, dtype=logits.dtype).index_add_(0, row, shifted.exp()).log_()
    token = trie.token(level, child)
    out.view(-1).index_copy_(0, row * vocab + token, shifted - norm.index_select(0, row))
    return out
