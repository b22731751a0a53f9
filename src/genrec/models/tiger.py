"""TIGER-style generative retrieval (Rajput et al., 2023), built to train on a small CPU.

Items as semantic IDs
---------------------
Every item's text (title, brand, categories, price, ...) is embedded by a sentence encoder
(``genrec.encoders``, cached on disk). Optionally a collaborative vector is mixed in
(LETTER / ColaRec-style): the item's row of a truncated SVD of the training item-user matrix,
``v_i = [sqrt(1 - w) t_i / |t_i|, sqrt(w) c_i / |c_i|]`` (``mix_embeddings``), so that the codes
group items that are both described alike and bought by the same people. Items without training
interactions (and items added later) get c_i imputed from their nearest text neighbours. The
vectors are quantised by RQ-KMeans (or RQ-VAE) into L codes, plus TIGER's disambiguating code:
item i -> (c_i1, ..., c_iL, c_i,L+1), unique per item.

Network (one input position per history item, not one per code)
----------------------------------------------------------------
The history s_1..s_T becomes T input vectors

  x_t = sum_l E_l[c_{s_t, l}]  (+ I[s_t], an item-id embedding)  + P[p_t]

read by a causal pre-norm transformer (``genrec.nn``'s blocks, as SASRec), giving h_t after every item. A small
autoregressive code head turns h = h_t into the next item's codes, level by level:

  x_l = h + sum_{j<l} G_{l,j}[c_j]            (embeddings of the codes already chosen)
  q_l = x_l + W_2 GELU(W_1 LN(x_l))          (a residual MLP per level)
  z_l[v] = q_l . (O_l[v] + N_l[node(c_<l, v)]) + b_l[v]
  log p(c_l | h, c_<l) = log_softmax_{v in C(c_<l)}(z_l)[c_l]

O_l = E_l (tied, ``tie_codes``) or a separate table. N_l (``node_embedding``, levels >= 1) is a
vector per trie node, i.e. per distinct code prefix, added to the code's shared vector: the
shared part says what code v means everywhere, N_l what this prefix (near the leaves: this item)
means; nodes of items added later start at zero. C(c_<l) (``trie_softmax``) is the set of codes
that continue the prefix in the catalog, so the item probabilities sum to one over the catalog;
without it the softmax runs over the whole vocabulary V_l. An item's score is its
log-probability sum_l log p(c_l | h, c_<l). Training is teacher-forced cross-entropy on every
level at every position of every sequence in one pass (as SASRec): L + 1 softmaxes of at most
V_l <= 256 codes per position instead of one over the catalog.

Decoding
--------
``recommend`` runs ``constrained_beam_search`` over the catalog's prefix trie: the transformer
runs once per user, each further level only runs the head on the (user, beam) rows. Every result
is a real, distinct catalog item; exclusions prune whole subtrees. ``score`` computes the exact
log-probability of every item (costly: the head runs on every trie prefix for every user; for
small catalogs and checks).
"""

from __future__ import annotations

import copy
import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, cast

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from genrec.config import EncoderConfig, SemanticIdConfig, TigerConfig
from genrec.data.dataset import Dataset
from genrec.decoding import PrefixTrie, constrained_beam_search
from genrec.decoding.trie_softmax import trie_log_softmax
from genrec.models.base import Histories, Recommendations, Recommender, check_recommend_args
from genrec.models.registry import register_model
from genrec.nn import Block, Sequences, bucketed_batches, history_mask, last_hidden, set_threads
from genrec.semantic_ids import SemanticIdTokenizer, codebook_size_for, create_tokenizer, mix_embeddings
from genrec.semantic_ids.collaborative import collaborative_item_vectors
from genrec.train import Step, Trainer, TrainLoop, TrainResult
from genrec.vectors import unit

if TYPE_CHECKING:
    from genrec.train import Validator

logger = logging.getLogger(__name__)

#: How a catalog without item text gets its IDs when ``collab`` is "none" (chosen on validation).
NO_TEXT_COLLAB = "svd"


# ---- the network ----------------------------------------------------------------------
class CodeHead(nn.Module):
    """Autoregressive head: level l reads h plus the embeddings of the codes chosen before it."""

    offsets: torch.Tensor

    def __init__(self, vocab_sizes: Sequence[int], dim: int, mult: int, dropout: float) -> None:
        super().__init__()
        self.vocab_sizes = list(vocab_sizes)
        offsets = np.concatenate([[0], np.cumsum(self.vocab_sizes)]).astype(np.int64)
        self.register_buffer("offsets", torch.from_numpy(offsets), persistent=False)
        # G_{l, j} for j < l, stored as one table per level indexed by offsets[j] + c_j
        self.prefix = nn.ModuleList(nn.Embedding(max(int(offsets[l]), 1), dim) for l in range(len(vocab_sizes)))
        self.norm = nn.ModuleList(nn.LayerNorm(dim) for _ in vocab_sizes)
        self.ff1 = nn.ModuleList(nn.Linear(dim, mult * dim) for _ in vocab_sizes)
        self.ff2 = nn.ModuleList(nn.Linear(mult * dim, dim) for _ in vocab_sizes)
        self.bias = nn.ParameterList(nn.Parameter(torch.zeros(v)) for v in vocab_sizes)
        self.drop = nn.Dropout(dropout)

    def query(self, level: int, h: torch.Tensor, prefix: torch.Tensor) -> torch.Tensor:
        """q_l = x + W_2 GELU(W_1 LN(x)),  x = h + sum_{j<l} G_{l,j}[prefix_j];  h [N, D], prefix [N, l]."""
        x = h
        if level:
            x = x + self.prefix[level](prefix + self.offsets[:level]).sum(1)
        return x + self.ff2[level](self.drop(F.gelu(self.ff1[level](self.norm[level](x)))))


class TigerNet(nn.Module):
    """Code-sum item inputs, causal transformer blocks, and the code head."""

    def __init__(
        self,
        n_items: int,
        codes: np.ndarray,
        vocab_sizes: Sequence[int],
        cfg: TigerConfig,
        node_counts: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        self.max_length = cfg.max_length
        self.tie = cfg.tie_codes
        self.vocab_sizes = list(vocab_sizes)
        # input code tables have one extra row, V_l, the padding code (zero, never trained)
        self.code_emb = nn.ModuleList(nn.Embedding(v + 1, cfg.dim, padding_idx=v) for v in vocab_sizes)
        self.item_emb = nn.Embedding(n_items + 1, cfg.dim, padding_idx=0) if cfg.item_id_embedding else None
        self.pos_emb = nn.Embedding(cfg.max_length, cfg.dim)
        self.emb_drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg.dim, cfg.heads, cfg.dropout, cfg.ffn_mult) for _ in range(cfg.layers))
        self.ln_f = nn.LayerNorm(cfg.dim)
        self.head = CodeHead(vocab_sizes, cfg.dim, cfg.head_mult, cfg.dropout)
        self.out_emb: nn.ModuleList | None = (
            None if self.tie else nn.ModuleList(nn.Embedding(v, cfg.dim) for v in vocab_sizes)
        )
        # N_l: one output vector per trie node at depth l + 1 (per distinct code prefix), or None
        self.node_emb: nn.ModuleList | None = (
            None if node_counts is None else nn.ModuleList(nn.Embedding(n, cfg.dim) for n in node_counts)
        )
        for emb in [*self.code_emb, self.pos_emb, *(self.out_emb or []), *self.head.prefix, *(self.node_emb or [])]:
            nn.init.normal_(emb.weight, std=cfg.init_std)
        if self.item_emb is not None:
            nn.init.normal_(self.item_emb.weight, std=cfg.init_std)
        with torch.no_grad():
            for emb, v in zip(self.code_emb, vocab_sizes):
                emb.weight[v].zero_()  # type: ignore[index]
            if self.item_emb is not None:
                self.item_emb.weight[0].zero_()
        self.codes = torch.empty(0)
        self.set_codes(codes)

    def set_codes(self, codes: np.ndarray) -> None:
        """The item -> codes table, [n_items + 1, L] with row 0 (padding) = the padding codes."""
        pad = np.asarray(self.vocab_sizes, dtype=np.int64)[None]
        self.codes = torch.from_numpy(np.concatenate([pad, np.asarray(codes, dtype=np.int64)]))

    def add_items(self, codes: np.ndarray, node_counts: Sequence[int] | None = None) -> None:
        """Append new items: codes, and zero id / node embeddings (new items rely on codes alone)."""
        self.set_codes(np.concatenate([self.codes[1:].numpy(), np.asarray(codes, dtype=np.int64)]))
        if self.item_emb is not None:
            self.item_emb = _grown(self.item_emb, len(self.codes), padding_idx=0)
        if self.node_emb is not None and node_counts is not None:
            for level, count in enumerate(node_counts):
                self.node_emb[level] = _grown(cast(nn.Embedding, self.node_emb[level]), count)

    def forward(self, seq: torch.Tensor) -> torch.Tensor:
        """seq: [B, T] item ids + 1, left-padded with 0 -> hidden states h [B, T, D]."""
        length = seq.shape[1]
        codes = self.codes[seq]  # [B, T, L]
        x = sum(emb(codes[..., l]) for l, emb in enumerate(self.code_emb))
        if self.item_emb is not None:
            x = x + self.item_emb(seq)
        positions = torch.arange(self.max_length - length, self.max_length)
        x = self.emb_drop(x + self.pos_emb(positions)[None])
        mask = history_mask(seq)  # t reads u <= t that holds an item, and itself
        for block in self.blocks:
            x, _ = block(x, mask)
        return self.ln_f(x)

    def level_logits(
        self, level: int, h: torch.Tensor, prefix: torch.Tensor, edges: Edges | None = None
    ) -> torch.Tensor:
        """Logits [N, V_l] of code ``level`` given h [N, D] and the codes before it, prefix [N, l].

        z[n, v] = q_l[n] . O_l[v] + b_l[v], plus q_l[n] . N_l[child] on each trie edge (n, v -> child)
        in ``edges`` when node embeddings are on (levels >= 1; at level 0 the child is the code).
        """
        q = self.head.query(level, h, prefix)
        emb = cast(nn.Embedding, (self.out_emb if self.out_emb is not None else self.code_emb)[level])
        table = emb.weight if self.out_emb is not None else emb.weight[:-1]
        logits = q @ table.T + self.head.bias[level]
        if edges is not None and self.node_emb is not None and level > 0:  # level 0: N_0 would repeat O_0
            extra = (q.index_select(0, edges.row) * self.node_emb[level](edges.node)).sum(-1)
            logits = logits.index_put((edges.row, edges.token), extra, accumulate=True)
        return logits

    def loss(
        self,
        inputs: torch.Tensor,
        targets: torch.Tensor,
        label_smoothing: float,
        edges_of: Callable[[int, torch.Tensor], Edges] | None = None,
        trie_softmax: bool = False,
    ) -> torch.Tensor:
        """Teacher-forced -sum_l log p(c_l | h_t, c_<l) of every next item, mean over positions.

        ``edges_of(level, items)`` gives the trie edges leaving each target's level-l prefix; with
        ``trie_softmax`` each level's softmax runs over those codes only (else the whole vocabulary).
        """
        keep = targets > 0
        h = self(inputs)[keep]  # [N, D]
        items = targets[keep] - 1
        codes = self.codes[targets[keep]]  # [N, L]
        total = h.new_zeros(())
        for level in range(len(self.vocab_sizes)):
            edges = edges_of(level, items) if edges_of is not None else None
            logits = self.level_logits(level, h, codes[:, :level], edges)
            mask = edges.mask(len(items), self.vocab_sizes[level]) if trie_softmax and edges is not None else None
            total = total + smoothed_ce(logits, codes[:, level], label_smoothing, mask)
        return total


class Edges(NamedTuple):
    """Trie edges leaving a batch of prefixes: row n may continue with ``token`` to prefix ``node``."""

    row: torch.Tensor  # [E] which row (prefix) the edge leaves
    token: torch.Tensor  # [E] the code on the edge
    node: torch.Tensor  # [E] stable index of the prefix the edge leads to (for N_l)

    def mask(self, rows: int, vocab: int) -> torch.Tensor:
        """bool [rows, vocab]: which codes continue each row's prefix."""
        out = torch.zeros(rows, vocab, dtype=torch.bool)
        out[self.row, self.token] = True
        return out


def _grown(emb: nn.Embedding, rows: int, padding_idx: int | None = None) -> nn.Embedding:
    """A copy of ``emb`` with zero rows appended up to ``rows``."""
    old = emb.weight.data
    grown = nn.Embedding(rows, old.shape[1], padding_idx=padding_idx)
    grown.weight.data.zero_()
    grown.weight.data[: len(old)] = old
    return grown


def smoothed_ce(logits: torch.Tensor, target: torch.Tensor, eps: float, mask: torch.Tensor | None) -> torch.Tensor:
    """Mean of -(1 - eps) log p[y] - eps mean_{v allowed} log p[v], p = softmax over allowed v."""
    if mask is None:
        return F.cross_entropy(logits, target, label_smoothing=eps)
    logp = logits.masked_fill(~mask, -torch.inf).log_softmax(-1)
    nll = -logp.gather(1, target[:, None])[:, 0]
    if eps:
        uniform = -logp.masked_fill(~mask, 0.0).sum(1) / mask.sum(1)
        nll = (1 - eps) * nll + eps * uniform
    return nll.mean()


# ---- the recommender ------------------------------------------------------------------
@register_model("tiger")
class Tiger(Recommender):
    """Generative recommender: semantic IDs from item text, decoded by trie-constrained beam search."""

    config_class = TigerConfig
    full_scores = False  # evaluated from recommend()'s top-k lists

    def __init__(self, config: TigerConfig | None = None) -> None:
        super().__init__(config)
        self.net: TigerNet | None = None
        self.tokenizer: SemanticIdTokenizer | None = None
        self.trie: PrefixTrie | None = None
        self.codes: np.ndarray | None = None  # [n_items, L + 1] semantic IDs, row = item
        self.text_emb: np.ndarray | None = None  # [n_items, d] unit text vectors (for imputation)
        self.collab_emb: np.ndarray | None = None  # [n_items, k] collaborative vectors, or None
        self.prefix_ids: np.ndarray | None = None  # [n_items, L + 1] stable index of each item's prefixes
        self._structure: _TrieIndex | None = None  # trie-node lookups, rebuilt when the catalog grows
        self._text_encoder: Any = None  # the loaded sentence encoder (not saved)

    # ---- item vectors and semantic IDs ---------------------------------------------------
    def _encoder_config(self) -> EncoderConfig:
        """The text encoder's settings, run with this model's threads and progress."""
        cfg = self.config
        return cfg.encoder.replace(threads=cfg.threads, progress=cfg.progress)

    def _encoder(self) -> Any:
        """The sentence encoder of the configured model, created once and kept (add_items reuses it)."""
        from genrec.encoders import TextEncoder

        enc_cfg = self._encoder_config()
        if self._text_encoder is None or self._text_encoder.config != enc_cfg:
            self._text_encoder = TextEncoder(enc_cfg)  # loads its model lazily, on the first text not cached
        return self._text_encoder

    def _encode_texts(self, dataset: Dataset) -> tuple[np.ndarray, dict[str, Any]]:
        """Unit text embeddings of the dataset's items and how many came from the cache.

        A catalog with no item text in ``encoder.fields`` (e.g. LastFM: artist ids only) gets [n, 0]:
        its semantic IDs then come from collaborative vectors alone (``_collab_vectors``).
        """
        from genrec.encoders import has_item_text, item_texts, text_key

        enc_cfg = self._encoder_config()
        if not has_item_text(dataset, enc_cfg.fields, enc_cfg.template or None):
            return np.zeros((dataset.n_items, 0), dtype=np.float32), {"encode_seconds": 0.0, "item_text": False}
        texts = item_texts(dataset, enc_cfg.fields, enc_cfg.template or None)
        encoder = self._encoder()
        hits = 0
        if encoder.cache is not None:
            hits = int(encoder.cache.get([text_key(t) for t in texts])[0].sum())
        start = time.perf_counter()
        vectors = encoder.encode(texts)
        info = {"encode_seconds": time.perf_counter() - start, "encode_cache_hits": hits, "encode_texts": len(texts)}
        return vectors, info

    def _sid_config(self) -> SemanticIdConfig:
        """The tokenizer's settings, run with this model's threads and progress."""
        cfg = self.config
        return cfg.sid.replace(threads=cfg.threads, progress=cfg.progress)

    def _collab_vectors(self, dataset: Dataset, text: np.ndarray) -> np.ndarray | None:
        """Collaborative item vectors of the training log (``collab``: "svd" or "cooc"), or None.

        With item text, cold items are imputed from their text neighbours. Without (``text`` is
        [n, 0]) the IDs come from these vectors alone, by ``NO_TEXT_COLLAB`` when ``collab`` is "none".
        """
        cfg = self.config
        method = cfg.collab
        if text.shape[1] == 0:
            method = NO_TEXT_COLLAB if method == "none" else method
        elif method == "none" or cfg.collab_weight <= 0.0:
            return None
        collab = unit(collaborative_item_vectors(dataset, method, cfg.collab_dim, cfg.seed))
        warm = np.bincount(dataset.interactions.item, minlength=dataset.n_items) > 0
        if (~warm).any() and warm.any() and text.shape[1]:
            collab[~warm] = impute_from_neighbors(text[~warm], text[warm], collab[warm], cfg.impute_neighbors)
        return collab

    def _mixed(self, text: np.ndarray, collab: np.ndarray | None) -> np.ndarray:
        if collab is None:
            return text
        if text.shape[1] == 0:
            return collab
        return mix_embeddings(text, collab, self.config.collab_weight)

    # ---- training -----------------------------------------------------------------------
    def _fit(self, dataset: Dataset, valid: Validator | None) -> None:
        if self.config.sid.codebook_size == 0:  # sized to the catalog, and saved as the number it became
            self.config = self.config.replace(**{"sid.codebook_size": codebook_size_for(dataset.n_items)})
        cfg = self.config
        set_threads(cfg.threads)
        torch.manual_seed(cfg.seed)
        rng = np.random.default_rng(cfg.seed)

        text, enc_info = self._encode_texts(dataset)
        self.fit_info.update(enc_info)
        start = time.perf_counter()
        self.text_emb = unit(text)
        self.collab_emb = self._collab_vectors(dataset, self.text_emb)
        self.tokenizer = create_tokenizer(self._sid_config())
        self.codes = self.tokenizer.fit_assign(self._mixed(self.text_emb, self.collab_emb))
        self.trie = PrefixTrie(self.codes, self.tokenizer.vocab_sizes)
        self.fit_info["tokenize_seconds"] = time.perf_counter() - start
        self.fit_info["tokenizer"] = self.tokenizer.stats()
        set_threads(cfg.threads)  # faiss / the encoder may have changed thread settings

        self.prefix_ids = stable_prefix_ids(self.codes)
        loop = _TigerLoop(self, dataset, rng)
        if len(loop.seqs):
            result = Trainer(cfg, cfg.seed, cfg.progress).fit(loop, valid)
        else:  # nothing to learn from: the initial network
            result = TrainResult(stop_reason="epochs")
            loop.net.eval()
        info = result.info()
        history = info.pop("history")
        self.fit_info.update(info)
        self.fit_info.update(
            {
                "valid_users": result.valid_cases,
                "parameters": sum(p.numel() for p in loop.net.parameters()),
                "history": history,
            }
        )

    # ---- inference ------------------------------------------------------------------------
    def _require(self) -> tuple[TigerNet, PrefixTrie]:
        if self.net is None or self.trie is None:
            raise RuntimeError("tiger model is not trained; call fit or load first")
        return self.net, self.trie

    def user_states(self, histories: Histories) -> torch.Tensor:
        """h after the last ``max_length`` items of every history: [n, D] (in input order)."""
        net, _ = self._require()
        set_threads(self.config.threads)
        net.eval()
        with torch.inference_mode():
            return last_hidden(net, histories, self.config.max_length, self.config.eval_batch_size, self.config.dim)

    def recommend(
        self,
        histories: Histories,
        k: int = 10,
        exclude: str | Sequence[np.ndarray] | None = None,
        batch_size: int = 0,
    ) -> Recommendations:
        """Top-``k`` items per history by trie-constrained beam search (beam = max(beam_width, k)).

        Items are real and distinct; a slot with no item left (tiny catalog, exclusions) is -1
        with score -inf. Scores are the items' log-probabilities sum_l log p(c_l | h, c_<l).
        """
        _, trie = self._require()
        check_recommend_args(histories, k, exclude)
        k = min(k, self.n_items)
        beam = max(self.config.beam_width, k)
        batch_size = batch_size or self.config.eval_batch_size
        n = len(histories)
        out_items = np.full((n, k), -1, dtype=np.int64)
        out_scores = np.full((n, k), -np.inf, dtype=np.float32)
        states = self.user_states(histories)
        with torch.inference_mode():
            step = self._decode_step()
            for lo in range(0, n, batch_size):
                hi = min(lo + batch_size, n)
                drop = None
                if exclude is not None:
                    source = histories if isinstance(exclude, str) else exclude
                    drop = [np.asarray(x, dtype=np.int64) for x in source[lo:hi]]
                root = torch.zeros(hi - lo, dtype=torch.long)
                start = (states[lo:hi], root)
                items, scores = constrained_beam_search(step, trie, hi - lo, beam, k, exclude=drop, state=start)
                out_items[lo:hi] = items.numpy()
                out_scores[lo:hi] = scores.numpy()
        return Recommendations(out_items, out_scores)

    def _decode_step(self) -> Callable[[int, torch.Tensor, _StepState], tuple[torch.Tensor, _StepState]]:
        """The beam search's step: log p(c_l | h, prefix) per (user, beam) row; the state is (h, node).

        ``node`` is each row's trie node, extended by one token per level (no walk from the root).
        With ``trie_softmax`` and ``fast_decoding`` (config) only the trie edges are scored, by
        ``trie_log_softmax`` over per-node output vectors O_l[token] + N_l[node] built once per call;
        otherwise every code is scored and masked (``_log_probs``, the reference).
        """
        net, trie = self._require()
        tables = self._child_tables() if self.config.trie_softmax and self.config.fast_decoding else None

        def step(level: int, prefix: torch.Tensor, state: _StepState) -> tuple[torch.Tensor, _StepState]:
            h, parent = state
            if tables is None:
                return self._log_probs(level, h, prefix), state
            node = parent if level == 0 else trie.child(level - 1, parent, prefix[:, -1])

            def query(rows: torch.Tensor) -> torch.Tensor:
                return net.head.query(level, h.index_select(0, rows), prefix.index_select(0, rows))

            return trie_log_softmax(trie, level, node, query, *tables[level]), (h, node)

        return step

    def _child_tables(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per level: the output vector O_l[token] (+ N_l[node]) and bias b_l[token] of every trie node below it."""
        net, trie = self._require()
        stable = self._index().stable
        tables = []
        for level in range(trie.n_levels):
            token = trie.token(level, torch.arange(trie.n_nodes(level + 1)))
            emb = cast(nn.Embedding, (net.out_emb if net.out_emb is not None else net.code_emb)[level])
            vectors = emb.weight.index_select(0, token)
            if net.node_emb is not None and level > 0:
                node_emb = cast(nn.Embedding, net.node_emb[level])
                vectors = vectors + node_emb.weight.index_select(0, stable[level])
            tables.append((vectors, net.head.bias[level].index_select(0, token)))
        return tables

    def score(
        self, histories: Histories, chunk: int = 1 << 16, items: Sequence[int] | np.ndarray | None = None
    ) -> np.ndarray:
        """Exact log p(item | history) of every catalog item (or of ``items`` only): [batch, n_items].

        Costs one head evaluation per (user, trie prefix), about (L + 1) x n_items per user:
        fine for small catalogs and checks, slow for large ones (use ``recommend``).
        """
        self._require()
        assert self.codes is not None
        chosen = np.arange(self.n_items) if items is None else np.asarray(items, dtype=np.int64)
        if len(chosen) and (chosen.min() < 0 or chosen.max() >= self.n_items):
            raise IndexError(f"items must be internal ids in [0, {self.n_items})")
        states = self.user_states(histories)
        n, codes = len(histories), torch.from_numpy(self.codes[chosen])
        total = torch.zeros(n, len(chosen))
        with torch.inference_mode():
            for level in range(codes.shape[1]):
                if level == 0:
                    prefixes, inverse = codes[:1, :0], torch.zeros(len(chosen), dtype=torch.long)
                else:
                    prefixes, inverse = torch.unique(codes[:, :level], dim=0, return_inverse=True)
                per = max(1, chunk // max(len(prefixes), 1))
                for lo in range(0, n, per):
                    h = states[lo : lo + per]
                    rows = h.repeat_interleave(len(prefixes), 0)
                    logp = self._log_probs(level, rows, prefixes.repeat(len(h), 1))
                    logp = logp.view(len(h), len(prefixes), -1)
                    total[lo : lo + per] += logp[:, inverse, codes[:, level]]
        return total.numpy()

    def item_log_probs(self, histories: Histories, items: np.ndarray, chunk: int = 1 << 15) -> np.ndarray:
        """Exact log p(item | history) [batch, m] of per-user candidates ``items`` [batch, m]; -1 -> -inf.

        What ``score`` gives for those entries, at the cost of (L + 1) head evaluations per candidate
        (used to re-score another model's candidates, ``genrec.models.fusion``).
        """
        self._require()
        assert self.codes is not None
        items = np.asarray(items, dtype=np.int64)
        if items.ndim != 2 or len(items) != len(histories):
            raise ValueError(f"items must be [batch={len(histories)}, m], got shape {items.shape}")
        if (items >= self.n_items).any():
            raise IndexError(f"items must be internal ids in [0, {self.n_items}) or -1")
        out = np.full(items.shape, -np.inf, dtype=np.float32)
        rows, cols = np.nonzero(items >= 0)
        if not len(rows):
            return out
        states = self.user_states(histories).index_select(0, torch.from_numpy(rows))
        codes = torch.from_numpy(self.codes[items[rows, cols]])
        total = torch.zeros(len(rows))
        with torch.inference_mode():
            for lo in range(0, len(rows), chunk):
                h, c = states[lo : lo + chunk], codes[lo : lo + chunk]
                for level in range(c.shape[1]):
                    logp = self._log_probs(level, h, c[:, :level])
                    total[lo : lo + chunk] += logp.gather(1, c[:, level : level + 1])[:, 0]
        out[rows, cols] = total.numpy()
        return out

    def _log_probs(self, level: int, h: torch.Tensor, prefix: torch.Tensor) -> torch.Tensor:
        """log p(c_l = v | h, prefix) [N, V_l]; with ``trie_softmax`` only over v continuing the prefix."""
        net, trie = self._require()
        cfg = self.config
        edges = None
        if cfg.trie_softmax or cfg.node_embedding:
            node = torch.zeros(len(prefix), dtype=torch.long)
            for j in range(level):  # walk the trie to each row's prefix node (-1: not a prefix)
                node = trie.child(j, node, prefix[:, j])
            edges = self._edges(level, node)
        logits = net.level_logits(level, h, prefix, edges)
        if cfg.trie_softmax and edges is not None:
            logits = logits.masked_fill(~edges.mask(len(prefix), logits.shape[1]), -torch.inf)
        return logits.log_softmax(-1)

    def _node_counts(self) -> list[int] | None:
        """Rows of the node-embedding tables (distinct prefixes per depth), or None when off."""
        if not self.config.node_embedding or self.prefix_ids is None:
            return None
        counts = [int(c) for c in self.prefix_ids.max(axis=0) + 1]
        return [1] + counts[1:]  # depth-1 prefixes are the level-0 codes themselves: no table

    def _index(self) -> _TrieIndex:
        """Trie-node lookups for the current catalog (rebuilt after ``add_items``)."""
        _, trie = self._require()
        assert self.prefix_ids is not None
        if self._structure is None or self._structure.n_items != self.n_items:
            leaves = trie.item_leaf(torch.arange(self.n_items))
            item_nodes = [trie.ancestor(depth, leaves) for depth in range(trie.n_levels + 1)]
            stable = []
            for level in range(trie.n_levels):  # stable index of every depth-(level + 1) trie node
                table = torch.zeros(trie.n_nodes(level + 1), dtype=torch.long)
                table[item_nodes[level + 1]] = torch.from_numpy(self.prefix_ids[:, level])
                stable.append(table)
            self._structure = _TrieIndex(self.n_items, item_nodes, stable)
        return self._structure

    def _edges(self, level: int, nodes: torch.Tensor) -> Edges:
        """The trie edges leaving depth-``level`` ``nodes`` (row = position in ``nodes``)."""
        _, trie = self._require()
        row, child = trie.children(level, nodes)
        return Edges(row, trie.token(level, child), self._index().stable[level].index_select(0, child))

    def _item_edges(self, level: int, items: torch.Tensor) -> Edges:
        """The trie edges leaving the level-``level`` prefix of each item."""
        return self._edges(level, self._index().item_nodes[level].index_select(0, items))

    # ---- new items ------------------------------------------------------------------------
    def add_items(self, items: pd.DataFrame) -> list[int]:
        """Add catalog items without retraining; returns their internal ids (recommendable at once).

        ``items`` has the item schema (item_id, title, brand, categories, price, ...). Their texts
        are encoded, a collaborative vector (if used) is imputed from text neighbours, and the
        trained tokenizer gives each a new semantic ID, which joins the trie.
        """
        net, trie = self._require()
        assert self.tokenizer is not None and self.codes is not None and self.text_emb is not None
        if len(items) == 0:
            return []
        if self.text_emb.shape[1] == 0:
            raise ValueError("this tiger model was trained without item text: new items cannot get a semantic ID")
        new = Dataset.catalog_only("new-items", items)
        ext = [str(x) for x in new.items["item_id"]]
        clash = sorted(set(ext) & set(self.item_ids)) or sorted({x for x in ext if ext.count(x) > 1})
        if clash:
            raise ValueError(f"item id(s) already in the catalog or repeated: {clash[:5]}")
        text = unit(self._encode_texts(new)[0])
        collab = None
        if self.collab_emb is not None:
            collab = impute_from_neighbors(text, self.text_emb, self.collab_emb, self.config.impute_neighbors)
        ids = self.tokenizer.add_items(self._mixed(text, collab))
        first = self.n_items
        for offset, row in enumerate(ids):
            trie.add(row, first + offset)
        assert self.prefix_ids is not None
        self.prefix_ids = np.concatenate([self.prefix_ids, extend_prefix_ids(self.codes, self.prefix_ids, ids)])
        self.codes = np.concatenate([self.codes, ids])
        net.add_items(ids, self._node_counts())
        self.text_emb = np.concatenate([self.text_emb, text])
        if collab is not None and self.collab_emb is not None:
            self.collab_emb = np.concatenate([self.collab_emb, collab])
        self.item_ids.extend(ext)
        self.n_items += len(ext)
        return list(range(first, self.n_items))

    def score_new(self, histories: Histories, items: pd.DataFrame) -> np.ndarray:
        """log p(item | history) [batch, len(items)] of items NOT in the catalog, each as if it alone were added.

        The items go through ``add_items`` on copies of the model (``with_items``), so this model is
        unchanged; used to rank drafts and text segments by what the recommender predicts for a user.
        A new item adds one edge to the trie, at the deepest node its codes share with the catalog
        (its attach node); with ``trie_softmax`` that edge joins the node's softmax and lowers every
        item below it. Two new items share a copy only when neither passes through the other's
        attach node (``alone_rounds``), so no score is changed by another new item.
        """
        self._require()
        if len(items) == 0:
            return np.zeros((len(histories), 0), dtype=np.float32)
        frame = items.reset_index(drop=True).copy()
        frame["item_id"] = [f"probe:{j}" for j in range(len(frame))]  # ids never clash with the catalog
        probe, ids = self.with_items(frame)
        assert self.codes is not None and probe.codes is not None
        rounds = alone_rounds(self.codes, probe.codes[ids])
        if rounds.max() == 0:
            return probe.score(histories, items=ids)
        scores = np.empty((len(histories), len(frame)), dtype=np.float32)
        for r in range(int(rounds.max()) + 1):
            part = np.flatnonzero(rounds == r)
            again, part_ids = self.with_items(frame.iloc[part])
            scores[:, part] = again.score(histories, items=part_ids)
        return scores

    def with_items(self, items: pd.DataFrame) -> tuple[Tiger, list[int]]:
        """A copy of this model with ``items`` added (see ``add_items``) and their ids in the copy."""
        probe = self._probe()
        return probe, probe.add_items(items)

    def _probe(self) -> Tiger:
        """A deep copy to add items to, sharing (not copying) the loaded sentence encoder."""
        encoder, self._text_encoder = self._encoder(), None
        try:
            probe = copy.deepcopy(self)
        finally:
            self._text_encoder = encoder
        probe._text_encoder = encoder
        return probe

    # ---- state ----------------------------------------------------------------------------
    def _state(self) -> dict[str, np.ndarray]:
        net, _ = self._require()
        assert self.tokenizer is not None and self.codes is not None and self.text_emb is not None
        tok = self.tokenizer
        state = {f"net.{k}": v.detach().cpu().numpy() for k, v in net.state_dict().items()}
        state.update({f"tok.{k}": np.asarray(v) for k, v in tok._state().items()})
        state.update(
            codes=self.codes,
            prefix_ids=self.prefix_ids,
            tok_ids=tok.ids,
            tok_raw_codes=tok.raw_codes,
            tok_dim=np.array(tok.dim),
            text_emb=self.text_emb.astype(np.float32),
        )
        if self.collab_emb is not None:
            state["collab_emb"] = self.collab_emb.astype(np.float32)
        return state

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        tok = create_tokenizer(self._sid_config())
        tok.dim = int(state["tok_dim"])
        tok._set_state({k[4:]: v for k, v in state.items() if k.startswith("tok.")})
        tok.ids = state["tok_ids"].astype(np.int64)
        tok.raw_codes = state["tok_raw_codes"].astype(np.int64)
        self.tokenizer = tok
        self.codes = state["codes"].astype(np.int64)
        self.text_emb = state["text_emb"]
        self.collab_emb = state.get("collab_emb")
        self.prefix_ids = state["prefix_ids"].astype(np.int64)
        self.trie = PrefixTrie(self.codes, tok.vocab_sizes)
        self._structure = None
        self.net = TigerNet(self.n_items, self.codes, tok.vocab_sizes, self.config, self._node_counts())
        self.net.load_state_dict(
            {k[4:]: torch.from_numpy(np.array(v)) for k, v in state.items() if k.startswith("net.")}
        )
        self.net.eval()


class _TigerLoop(TrainLoop):
    """tiger's batches (the last window of every training sequence, length-bucketed) and step (the code loss)."""

    name = "tiger"
    net: TigerNet

    def __init__(self, model: Tiger, dataset: Dataset, rng: np.random.Generator) -> None:
        cfg = model.config
        assert model.tokenizer is not None and model.codes is not None
        self.model, self.rng = model, rng
        self.net = model.net = TigerNet(
            model.n_items, model.codes, model.tokenizer.vocab_sizes, cfg, model._node_counts()
        )
        self.optimizer = torch.optim.AdamW(
            self.net.parameters(), lr=cfg.lr, betas=(0.9, 0.98), weight_decay=cfg.weight_decay, foreach=True
        )
        self.edges_of = model._item_edges if (cfg.trie_softmax or cfg.node_embedding) else None
        self.seqs = Sequences([s for s in dataset.sequences() if len(s) >= 2])
        self.window = np.minimum(self.seqs.lengths - 1, cfg.max_length)
        self.in_end = self.seqs.starts + self.seqs.lengths - 1  # the last window: inputs flat[in_end - window : in_end]

    def batches(self, epoch: int) -> Sequence[Any]:
        """Length-bucketed batches of sequence indices, shuffled anew every epoch."""
        return bucketed_batches(self.window, self.model.config.batch_size, self.rng)

    def step(self, batch: Any) -> Step:
        """Teacher-forced cross-entropy of every level of every next item in the batch (mean over positions)."""
        cfg = self.model.config
        inputs = self.seqs.windows(self.in_end[batch], self.window[batch])
        targets = self.seqs.windows(self.in_end[batch] + 1, self.window[batch])
        loss = self.net.loss(inputs, targets, cfg.label_smoothing, self.edges_of, cfg.trie_softmax)
        return Step(loss, float(loss.detach()))

    def subject(self) -> Tiger:
        return self.model

    def save_best(self, path: Path) -> None:
        self.model.save(path)

    def arch(self) -> dict[str, Any]:
        cfg, codes = self.model.config, self.model.codes
        assert codes is not None
        fields = ("dim", "layers", "heads", "max_length", "ffn_mult", "head_mult", "tie_codes", "node_embedding")
        return {
            **{f: getattr(cfg, f) for f in fields},
            "item_id_embedding": cfg.item_id_embedding,
            "n_items": self.model.n_items,
            "codes": hashlib.sha256(np.ascontiguousarray(codes).tobytes()).hexdigest()[:16],
        }


# ---- helpers ----------------------------------------------------------------------------
def impute_from_neighbors(
    query: np.ndarray, ref: np.ndarray, values: np.ndarray, k: int, chunk: int = 4096
) -> np.ndarray:
    """For unit ``query`` rows: sum_n w_n values[n] / sum_n w_n over the k nearest ``ref`` rows, w = max(cos, 0)."""
    k = max(1, min(k, len(ref)))
    out = np.zeros((len(query), values.shape[1]), dtype=np.float32)
    for lo in range(0, len(query), chunk):
        sim = query[lo : lo + chunk] @ ref.T  # [C, n_ref] cosines
        nbr = np.argpartition(-sim, k - 1, axis=1)[:, :k]
        w = np.maximum(np.take_along_axis(sim, nbr, axis=1), 0.0) + 1e-6
        out[lo : lo + chunk] = (w[:, :, None] * values[nbr]).sum(1) / w.sum(1, keepdims=True)
    return unit(out)


_StepState = tuple[torch.Tensor, torch.Tensor]  # (h [rows, D], trie node [rows]) during beam search


class _TrieIndex(NamedTuple):
    """Per catalog: the trie node of each item's prefix at every depth, and node -> stable index."""

    n_items: int
    item_nodes: list[torch.Tensor]  # [depth] LongTensor [n_items]
    stable: list[torch.Tensor]  # [level] LongTensor [n_nodes(level + 1)]


def stable_prefix_ids(codes: np.ndarray) -> np.ndarray:
    """[n, L]: column l numbers the distinct prefixes codes[:, :l + 1] (in sorted order)."""
    out = np.zeros(codes.shape, dtype=np.int64)
    for level in range(codes.shape[1]):
        out[:, level] = np.unique(codes[:, : level + 1], axis=0, return_inverse=True)[1].reshape(-1)
    return out


def extend_prefix_ids(codes: np.ndarray, prefix_ids: np.ndarray, new_codes: np.ndarray) -> np.ndarray:
    """Stable prefix indices of new items: an existing prefix keeps its index, a new one gets the next."""
    out = np.zeros(new_codes.shape, dtype=np.int64)
    for level in range(codes.shape[1]):
        known = {tuple(c): int(i) for c, i in zip(codes[:, : level + 1].tolist(), prefix_ids[:, level])}
        next_id = int(prefix_ids[:, level].max()) + 1 if len(prefix_ids) else 0
        for n, c in enumerate(new_codes[:, : level + 1].tolist()):
            key = tuple(c)
            if key not in known:
                known[key], next_id = next_id, next_id + 1
            out[n, level] = known[key]
    return out


def attach_depths(codes: np.ndarray, new_codes: np.ndarray) -> np.ndarray:
    """[m]: how many leading codes each new item shares with some catalog item (the depth of its attach node)."""
    depth = np.zeros(len(new_codes), dtype=np.int64)
    for level in range(1, codes.shape[1]):
        known = {tuple(c) for c in codes[:, :level].tolist()}
        inside = np.array([tuple(c) in known for c in new_codes[:, :level].tolist()], dtype=bool)
        depth[inside] = level
    return depth


def alone_rounds(codes: np.ndarray, new_codes: np.ndarray) -> np.ndarray:
    """[m]: a round per new item, such that items of one round can be added together and each scores as if alone.

    Item a changes the softmax of its attach node (its first ``p_a`` codes, ``attach_depths``), so it
    changes the score of b exactly when b passes through that node: b's first ``p_a`` codes equal
    a's. Items that share ``s`` leading codes clash when ``s >= min(p_a, p_b)``; each item goes to
    the first round with no clash (greedy colouring). New items on different first codes that both
    attach below the root never clash.
    """
    depth = attach_depths(codes, new_codes)
    rows = new_codes.tolist()
    rounds = np.zeros(len(rows), dtype=np.int64)
    members: list[list[int]] = []
    for j, row in enumerate(rows):
        for r, group in enumerate(members):
            if not any(_shared(row, rows[i]) >= min(depth[j], depth[i]) for i in group):
                group.append(j)
                rounds[j] = r
                break
        else:
            rounds[j] = len(members)
            members.append([j])
    return rounds


def _shared(a: list[int], b: list[int]) -> int:
    """Number of leading codes two semantic IDs share."""
    n = 0
    while n < len(a) and a[n] == b[n]:
        n += 1
    return n
