"""The network behind genrec's item-text generator: a small decoder-only transformer with a guidance prefix.

Given a guidance vector c (cond_dim, unit norm), or none, and tokens w_1..w_T:

  prefix   p = reshape(W_c c + b_c, [K, D])         K = cond_tokens; without guidance: a learned null prefix N
  input    x = [p_1..p_K, E[w_1]..E[w_T]] + P[0..K+T-1]          E token, P position embeddings
  blocks   x = x + Dropout(W_o Attn(LN(x)))                       causal multi-head self-attention
           x = x + Dropout(W_2 Dropout(GELU(W_1 LN(x))))
  output   logits_t = LN(x_{K+t}) . E^T                           the token table doubles as output layer

so position K+t predicts w_{t+1}. The blocks are ``genrec.nn.Block`` (causal attention). While sampling,
every block keeps the keys and values of the positions it has seen (a KV cache), so each new
token costs one position's work instead of re-reading the whole sequence.
"""

from __future__ import annotations

import math
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from genrec.nn import KV, Block

#: Per block: the keys and values [B, H, L, D/H] of the positions seen so far.
KVCache = list[KV]


class TextGenNet(nn.Module):
    """Guidance prefix + token/position embeddings, causal blocks, tied output layer."""

    def __init__(
        self,
        vocab_size: int,
        *,
        dim: int,
        layers: int,
        heads: int,
        dropout: float,
        cond_dim: int,
        cond_tokens: int,
        max_length: int,
        ffn_mult: int = 4,
        pad_id: int = 0,
    ) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim ({dim}) must be divisible by heads ({heads})")
        if cond_tokens < 1:
            raise ValueError(f"cond_tokens must be >= 1, got {cond_tokens}")
        self.dim, self.cond_dim, self.cond_tokens = dim, cond_dim, cond_tokens
        self.max_positions = cond_tokens + max_length
        self.tok_emb = nn.Embedding(vocab_size, dim, padding_idx=pad_id)
        self.pos_emb = nn.Embedding(self.max_positions, dim)
        self.cond_proj = nn.Linear(cond_dim, cond_tokens * dim)
        self.null_prefix = nn.Parameter(torch.zeros(cond_tokens, dim))
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(Block(dim, heads, dropout, ffn_mult) for _ in range(layers))
        self.ln_f = nn.LayerNorm(dim)
        self._init_weights(layers)

    def _init_weights(self, layers: int) -> None:
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, std=0.02)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)
        nn.init.normal_(self.null_prefix, std=0.02)
        # GPT-2: residual outputs scaled down so the residual stream's variance does not grow with depth
        for block in cast(list[Block], list(self.blocks)):
            for proj in (block.attn.out, block.ff2):
                nn.init.normal_(proj.weight, std=0.02 / math.sqrt(2 * layers))
        with torch.no_grad():
            self.tok_emb.weight[self.tok_emb.padding_idx].zero_()

    def prefix(self, cond: torch.Tensor | None, null: torch.Tensor | None, batch: int) -> torch.Tensor:
        """Prefix embeddings [B, K, D]: projected guidance, or the null prefix where ``null`` (or no cond)."""
        nulls = self.null_prefix.unsqueeze(0).expand(batch, -1, -1)
        if cond is None:
            return nulls
        projected = self.cond_proj(cond).view(batch, self.cond_tokens, self.dim)
        if null is None:
            return projected
        return torch.where(null.view(batch, 1, 1), nulls, projected)

    def logits(self, h: torch.Tensor) -> torch.Tensor:
        """Hidden states [..., D] -> logits [..., V] through the shared token table."""
        return F.linear(self.ln_f(h), self.tok_emb.weight)

    def forward(
        self, ids: torch.Tensor, cond: torch.Tensor | None, null: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, KVCache]:
        """Tokens [B, T] and guidance [B, cond_dim] -> logits [B, T, V] (position t predicts t+1), cache."""
        b, t = ids.shape
        k = self.cond_tokens
        if k + t > self.max_positions:
            raise ValueError(f"{t} tokens exceed max_length ({self.max_positions - k})")
        x = torch.cat([self.prefix(cond, null, b), self.tok_emb(ids)], dim=1)
        x = self.drop(x + self.pos_emb.weight[: k + t])
        cache: KVCache = []
        for block in self.blocks:
            x, kv = block(x)
            cache.append(kv)
        return self.logits(x[:, k:]), cache

    def step(self, ids: torch.Tensor, cache: KVCache) -> tuple[torch.Tensor, KVCache]:
        """One new token per row [B] after the cached positions -> next-token logits [B, V], new cache."""
        position = cache[0][0].shape[2]
        if position >= self.max_positions:
            raise ValueError(f"no position left (max_length {self.max_positions - self.cond_tokens})")
        x = self.tok_emb(ids).unsqueeze(1) + self.pos_emb.weight[position]
        new: KVCache = []
        for block, past in zip(self.blocks, cache):
            x, kv = block(x, past=past)
            new.append(kv)
        return self.logits(x[:, 0]), new
