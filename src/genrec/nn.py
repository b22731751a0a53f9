"""Shared torch building blocks: the transformer block, sequence batching helpers and torch thread setup.

The block (pre-norm, used by SASRec, tiger and the text generator) is

  x = x + Dropout(W_o Attn(LN(x)))        Attn: softmax(q k^T / sqrt(d_h) + mask) v, per head
  x = x + Dropout(W_2 Dropout(GELU(W_1 LN(x))))

Attention is ``F.scaled_dot_product_attention`` with either an explicit boolean mask (which
positions each position may read) or plain causal masking, and it can extend a cache of earlier
keys and values (one new position at a time) for sampling.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

#: The keys and values [B, H, L, D/H] of the positions a block has seen.
KV = tuple[torch.Tensor, torch.Tensor]


class SelfAttention(nn.Module):
    """Multi-head self-attention: masked (``mask[b, 0, t, u]``: may t read u), causal, or over a KV cache."""

    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim ({dim}) must be divisible by heads ({heads})")
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)
        self.dropout = dropout

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor | None = None, past: KV | None = None
    ) -> tuple[torch.Tensor, KV]:
        """x [B, L, D] (the new positions) -> output [B, L, D] and the keys / values of every position seen."""
        b, length, dim = x.shape
        if past is not None and length > 1:
            raise ValueError("with a cache, feed one new position at a time")
        # [B, L, 3D] -> three [B, H, L, D/H]
        q, k, v = (
            t.view(b, length, self.heads, dim // self.heads).transpose(1, 2) for t in self.qkv(x).split(dim, dim=2)
        )
        if past is not None:
            k = torch.cat([past[0], k], dim=2)
            v = torch.cat([past[1], v], dim=2)
        # without a mask or a cache: causal over the given positions; with a cache the new position reads all
        y = F.scaled_dot_product_attention(
            q,
            k,
            v,
            attn_mask=mask,
            dropout_p=self.dropout if self.training else 0.0,
            is_causal=mask is None and past is None and length > 1,
        )
        return self.out(y.transpose(1, 2).reshape(b, length, dim)), (k, v)


class Block(nn.Module):
    """Pre-norm transformer block: self-attention, then a position-wise feed-forward net."""

    def __init__(self, dim: int, heads: int, dropout: float, ffn_mult: int) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(dim)
        self.attn = SelfAttention(dim, heads, dropout)
        self.ln2 = nn.LayerNorm(dim)
        self.ff1 = nn.Linear(dim, ffn_mult * dim)
        self.ff2 = nn.Linear(ffn_mult * dim, dim)
        self.drop = nn.Dropout(dropout)

    def forward(
        self, x: torch.Tensor, mask: torch.Tensor | None = None, past: KV | None = None
    ) -> tuple[torch.Tensor, KV]:
        """x [B, L, D] -> [B, L, D] and this block's keys / values."""
        a, kv = self.attn(self.ln1(x), mask, past)
        x = x + self.drop(a)
        x = x + self.drop(self.ff2(self.drop(F.gelu(self.ff1(self.ln2(x))))))
        return x, kv


def history_mask(seq: torch.Tensor) -> torch.Tensor:
    """[B, 1, L, L] attention mask of left-padded item sequences (0 = padding).

    Position t may read u when u <= t and u holds an item, and always itself (no row is empty).
    """
    length = seq.shape[1]
    present = seq > 0  # [B, L]
    causal = torch.ones(length, length, dtype=torch.bool, device=seq.device).tril()
    itself = torch.eye(length, dtype=torch.bool, device=seq.device)
    return (causal[None] & (present[:, None, :] | itself[None]))[:, None]


# ---- sequence batching ----------------------------------------------------------------------
def bucketed_batches(
    lengths: np.ndarray, batch_size: int, rng: np.random.Generator, pool_batches: int = 64
) -> list[np.ndarray]:
    """Shuffled batches of sequence indices; each batch holds sequences of similar length.

    Indices are shuffled, sorted by length within pools of ``pool_batches`` batches (random
    batches that pad little), cut into batches, and the batches shuffled.
    """
    perm = rng.permutation(len(lengths))
    pool = batch_size * pool_batches
    batches: list[np.ndarray] = []
    for lo in range(0, len(perm), pool):
        part = perm[lo : lo + pool]
        part = part[np.argsort(lengths[part], kind="stable")]
        batches.extend(part[i : i + batch_size] for i in range(0, len(part), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


def left_padded(flat: np.ndarray, ends: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Rows ``flat[ends[b] - lengths[b] : ends[b]]``, left-padded with 0 to the longest length."""
    width = max(int(lengths.max()) if len(lengths) else 0, 1)
    offset = np.arange(width)[None, :] - (width - lengths[:, None])  # index within the row's window
    index = ends[:, None] - lengths[:, None] + offset
    index = np.clip(index, 0, max(len(flat) - 1, 0))
    values = flat[index] if len(flat) else np.zeros_like(index)
    return np.where(offset >= 0, values, 0)


class Sequences:
    """Item sequences as one flat array of ids + 1 (0 is padding), with each sequence's start and length."""

    def __init__(self, sequences: Sequence[np.ndarray]) -> None:
        self.lengths = np.array([len(s) for s in sequences], dtype=np.int64)
        self.flat = (
            np.concatenate([np.asarray(s, dtype=np.int64) for s in sequences]) + 1
            if len(sequences) and self.lengths.sum()
            else np.zeros(0, dtype=np.int64)
        )
        self.starts = np.concatenate([[0], np.cumsum(self.lengths)[:-1]]).astype(np.int64)

    def __len__(self) -> int:
        return len(self.lengths)

    def windows(self, ends: np.ndarray, lengths: np.ndarray) -> torch.Tensor:
        """The items ``flat[ends - lengths : ends]`` of each row, left-padded: [B, max length]."""
        return torch.from_numpy(left_padded(self.flat, ends, lengths))


def last_hidden(
    net: torch.nn.Module, histories: Sequence[np.ndarray], max_length: int, batch_size: int, dim: int
) -> torch.Tensor:
    """``net(seq)[:, -1]`` for every history's last ``max_length`` items: [n, dim], in input order."""
    seqs = Sequences(histories)
    ends = np.cumsum(seqs.lengths)
    window = np.minimum(seqs.lengths, max_length)
    order = np.argsort(window, kind="stable")  # similar lengths together: little padding
    out = torch.zeros(len(seqs), dim)
    for lo in range(0, len(seqs), batch_size):
        idx = order[lo : lo + batch_size]
        out[torch.from_numpy(idx)] = net(seqs.windows(ends[idx], window[idx]))[:, -1]
    return out


# ---- threads --------------------------------------------------------------------------------
def set_threads(threads: int) -> None:
    """Use ``threads`` torch threads from now on (0: all cores)."""
    n = threads or os.cpu_count() or 1
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run with ``threads`` torch threads (0: all cores; None: leave the setting), then restore it."""
    before = torch.get_num_threads()
    if threads is not None:
        set_threads(threads)
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)
