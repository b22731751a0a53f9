"""SASRec: self-attentive sequential recommendation (Kang & McAuley, 2018), in torch.

A user's last items s_1..s_L (left-padded to the batch's longest sequence) are embedded as

  x_t = E[s_t] + P[p_t],      p_t = max_length - L + t - 1  (the newest item always has p = max_length - 1)

(or sqrt(dim) E[s_t] + P[p_t] as in the paper, or LN(E[s_t] + P[p_t]): ``input_norm``), then
dropout, and pass through ``layers`` pre-norm transformer blocks

  x = x + Dropout(W_o Attn(LN(x)))        Attn: softmax(q k^T / sqrt(d_h) + mask) v, per head
  x = x + Dropout(W_2 Dropout(GELU(W_1 LN(x))))

with a mask that lets position t see positions <= t that hold an item (and always itself, so
no row is empty). After a final LN, h_t predicts s_{t+1} with the item embeddings shared as
the output layer: logit(i | h_t) = h_t . E[i].

Losses, over every non-padding position t of each training sequence (input s[:-1], target s[1:]):
  ce:  -log softmax_i(h_t . E[i])[s_{t+1}], the softmax running over the whole catalog;
  bce: -log sigma(h_t . E[s_{t+1}]) - log(1 - sigma(h_t . E[n_t])), n_t one uniformly sampled
       item the user has not interacted with within the window (the original paper's loss).
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import math
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from genrec.config import SASRecConfig, config_to_dict
from genrec.data.dataset import Dataset
from genrec.data.split import EvalCases
from genrec.eval import metrics as M
from genrec.models.base import Histories, Recommender
from genrec.models.registry import register_model

logger = logging.getLogger(__name__)

# Config fields that shape the network: a checkpoint is only resumed when they match.
_ARCH_FIELDS = ("dim", "layers", "heads", "max_length", "ffn_mult")
_RESUME_FILE = "resume.pt"
_BEST_DIR = "best"


# ---- the network ----------------------------------------------------------------------
class CausalSelfAttention(nn.Module):
    """Multi-head self-attention; ``mask[b, 0, t, u]`` says whether position t may attend to u."""

    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim ({dim}) must be divisible by heads ({heads})")
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)
        self.attn_dropout = dropout

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x: [B, L, D] -> [B, L, D]."""
        b, length, dim = x.shape
        q, k, v = self.qkv(x).split(dim, dim=2)
        # [B, L, D] -> [B, H, L, D/H]
        q = q.view(b, length, self.heads, dim // self.heads).transpose(1, 2)
        k = k.view(b, length, self.heads, dim // self.heads).transpose(1, 2)
        v = v.view(b, length, self.heads, dim // self.heads).transpose(1, 2)
        # softmax(q k^T / sqrt(D/H), masked entries -inf) v, with dropout on the attention weights
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, dropout_p=self.attn_dropout if self.training else 0.0
        )
        return self.out(y.transpose(1, 2).reshape(b, length, dim))


class Block(nn.Module):
    """Pre-norm transformer block: causal self-attention, then a point-wise feed-forward net."""

    def __init__(self, dim: int, heads: int, dropout: float, ffn_mult: int) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(dim)
        self.attn = CausalSelfAttention(dim, heads, dropout)
        self.ln2 = nn.LayerNorm(dim)
        self.ff1 = nn.Linear(dim, ffn_mult * dim)
        self.ff2 = nn.Linear(ffn_mult * dim, dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x: [B, L, D] -> [B, L, D]."""
        x = x + self.drop(self.attn(self.ln1(x), mask))
        x = x + self.drop(self.ff2(self.drop(F.gelu(self.ff1(self.ln2(x))))))
        return x


class SASRecNet(nn.Module):
    """Item + position embeddings, causal blocks, final layer norm; item id 0 is padding."""

    def __init__(self, n_items: int, cfg: SASRecConfig) -> None:
        super().__init__()
        self.max_length = cfg.max_length
        self.item_emb = nn.Embedding(n_items + 1, cfg.dim, padding_idx=0)
        self.pos_emb = nn.Embedding(cfg.max_length, cfg.dim)
        self.emb_drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg.dim, cfg.heads, cfg.dropout, cfg.ffn_mult) for _ in range(cfg.layers))
        self.ln_f = nn.LayerNorm(cfg.dim)
        if cfg.input_norm not in ("scale", "layernorm", "none"):
            raise ValueError(f"input_norm must be 'scale', 'layernorm' or 'none', not {cfg.input_norm!r}")
        self.input_norm = cfg.input_norm
        self.ln_in = nn.LayerNorm(cfg.dim) if cfg.input_norm == "layernorm" else None
        self.item_scale = math.sqrt(cfg.dim) if cfg.input_norm == "scale" else 1.0
        nn.init.normal_(self.item_emb.weight, std=cfg.init_std)
        nn.init.normal_(self.pos_emb.weight, std=cfg.init_std)
        with torch.no_grad():
            self.item_emb.weight[0].zero_()

    def forward(self, seq: torch.Tensor) -> torch.Tensor:
        """seq: [B, L] item ids + 1, left-padded with 0 -> hidden states [B, L, D]."""
        length = seq.shape[1]
        positions = torch.arange(self.max_length - length, self.max_length, device=seq.device)
        x = self.item_emb(seq) * self.item_scale + self.pos_emb(positions)[None]
        if self.ln_in is not None:
            x = self.ln_in(x)
        x = self.emb_drop(x)
        present = seq > 0  # [B, L]
        causal = torch.ones(length, length, dtype=torch.bool, device=seq.device).tril()
        itself = torch.eye(length, dtype=torch.bool, device=seq.device)
        # may_attend[b, t, u] = u <= t and (item at u or u == t)
        mask = causal[None] & (present[:, None, :] | itself[None])
        mask = mask[:, None]  # [B, 1, L, L], broadcast over heads
        for block in self.blocks:
            x = block(x, mask)
        return self.ln_f(x)

    def output_weights(self) -> torch.Tensor:
        """The item embedding table without the padding row: [n_items, D]."""
        return self.item_emb.weight[1:]


class FullSoftmaxCE(torch.autograd.Function):
    """Sum over rows n of  logsumexp_i(h_n . W_i) - h_n . W_{y_n}  and its gradient, chunk by chunk.

    The [N, n_items] logits never exist at once: each chunk of rows computes z = h W^T, the
    loss, and its gradient dz = softmax(z) - onehot(y), giving dh = dz W and dW += dz^T h
    while z is still in cache. Backward only scales them.
    """

    @staticmethod
    def forward(
        ctx: Any, hidden: torch.Tensor, weight: torch.Tensor, target: torch.Tensor, chunk: int, bf16: bool
    ) -> torch.Tensor:
        """hidden [N, D], weight [V, D], target [N] in 0..V-1 -> scalar summed loss."""
        n = hidden.shape[0]
        d_hidden = torch.empty_like(hidden)
        d_weight = torch.zeros_like(weight)
        w = weight.detach().to(torch.bfloat16) if bf16 else weight.detach()
        total = hidden.new_zeros(())
        for lo in range(0, n, chunk):
            h = hidden[lo : lo + chunk].detach()
            y = target[lo : lo + chunk]
            rows = torch.arange(len(y))
            hc = h.to(w.dtype)
            z = (hc @ w.T).to(hidden.dtype)  # [C, V] logits
            z_target = z[rows, y]
            z_max = z.amax(1, keepdim=True)
            z.sub_(z_max).exp_()  # exp(z - max)
            z_sum = z.sum(1, keepdim=True)
            total += (z_max[:, 0] + z_sum[:, 0].log() - z_target).sum()  # logsumexp(z) - z_y
            z.div_(z_sum)  # softmax(z)
            z[rows, y] -= 1.0  # softmax(z) - onehot(y)
            dz = z.to(w.dtype)
            d_hidden[lo : lo + chunk] = dz @ w
            d_weight += dz.T @ hc
        ctx.save_for_backward(d_hidden, d_weight)
        return total

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[Any, ...]:
        """Chain rule: scale the stored gradients by the incoming one."""
        d_hidden, d_weight = ctx.saved_tensors
        return grad * d_hidden, grad * d_weight, None, None, None


# ---- batching helpers -----------------------------------------------------------------
def left_padded(flat: np.ndarray, ends: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Rows ``flat[ends[b] - lengths[b] : ends[b]]``, left-padded with 0 to the longest length."""
    width = max(int(lengths.max()) if len(lengths) else 0, 1)
    offset = np.arange(width)[None, :] - (width - lengths[:, None])  # index within the row's window
    index = ends[:, None] - lengths[:, None] + offset
    index = np.clip(index, 0, max(len(flat) - 1, 0))
    values = flat[index] if len(flat) else np.zeros_like(index)
    return np.where(offset >= 0, values, 0)


def last_hidden(
    net: torch.nn.Module, histories: Sequence[np.ndarray], max_length: int, batch_size: int, dim: int
) -> torch.Tensor:
    """``net(seq)[:, -1]`` for every history's last ``max_length`` items: [n, dim], in input order."""
    n = len(histories)
    lengths = np.array([len(h) for h in histories], dtype=np.int64)
    flat = (
        np.concatenate([np.asarray(h, dtype=np.int64) for h in histories]) + 1
        if n and lengths.sum()
        else np.zeros(0, dtype=np.int64)
    )
    ends = np.cumsum(lengths)
    window = np.minimum(lengths, max_length)
    order = np.argsort(window, kind="stable")  # similar lengths together: little padding
    out = torch.zeros(n, dim)
    for lo in range(0, n, batch_size):
        idx = order[lo : lo + batch_size]
        seq = torch.from_numpy(left_padded(flat, ends[idx], window[idx]))
        out[torch.from_numpy(idx)] = net(seq)[:, -1]
    return out


def bucketed_batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Shuffled batches of sequence indices; each batch holds sequences of similar length."""
    perm = rng.permutation(len(lengths))
    pool = batch_size * 64  # sort within pools so batches stay random but pad little
    batches: list[np.ndarray] = []
    for lo in range(0, len(perm), pool):
        part = perm[lo : lo + pool]
        part = part[np.argsort(lengths[part], kind="stable")]
        batches.extend(part[i : i + batch_size] for i in range(0, len(part), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


# ---- the recommender ------------------------------------------------------------------
@register_model("sasrec")
class SASRec(Recommender):
    """Transformer next-item model trained with full-catalog softmax (ce) or sampled bce."""

    config_class = SASRecConfig

    def __init__(self, config: SASRecConfig | None = None) -> None:
        super().__init__(config)
        self.net: SASRecNet | None = None

    # ---- training -----------------------------------------------------------------------
    def _fit(self, dataset: Dataset, valid: EvalCases | None) -> None:
        cfg = self.config
        if cfg.loss not in ("ce", "bce"):
            raise ValueError(f"loss must be 'ce' or 'bce', not {cfg.loss!r}")
        if cfg.crop not in ("last", "random"):
            raise ValueError(f"crop must be 'last' or 'random', not {cfg.crop!r}")
        self._set_threads()
        torch.manual_seed(cfg.seed)
        rng = np.random.default_rng(cfg.seed)
        self.net = SASRecNet(self.n_items, cfg)
        optim = torch.optim.AdamW(self.net.parameters(), lr=cfg.lr, betas=(0.9, 0.98), weight_decay=cfg.weight_decay)

        # Training sequences as one flat array (item id + 1) with per-sequence start and length.
        seqs = [s for s in dataset.sequences() if len(s) >= 2]
        n_seq = np.array([len(s) for s in seqs], dtype=np.int64)
        flat = np.concatenate(seqs).astype(np.int64) + 1 if seqs else np.zeros(0, dtype=np.int64)
        starts = np.concatenate([[0], np.cumsum(n_seq)[:-1]]).astype(np.int64)
        window = np.minimum(n_seq - 1, cfg.max_length)  # positions trained per sequence

        if valid is not None and cfg.valid_users and cfg.valid_users < len(valid):
            pick = np.random.default_rng(cfg.seed + 1).choice(len(valid), cfg.valid_users, replace=False)
            valid = valid.subset(np.sort(pick))

        state = _TrainState()
        ckpt_dir = Path(cfg.checkpoint_dir) if cfg.checkpoint_dir else None
        if ckpt_dir is not None and (ckpt_dir / _RESUME_FILE).exists():
            state = self._resume(ckpt_dir / _RESUME_FILE, optim, rng)
            logger.info("sasrec: resumed from %s after epoch %d", ckpt_dir, state.epoch)

        start = time.perf_counter()
        stop_reason = state.stop_reason or "epochs"
        while not state.stop_reason and state.epoch < cfg.epochs:
            epoch_start = time.perf_counter()
            # Window of each long sequence: the last one, or a random one this epoch.
            slack = n_seq - 1 - window
            shift = np.floor(rng.random(len(n_seq)) * (slack + 1)).astype(np.int64)
            if cfg.crop == "last":
                shift = slack
            in_end = starts + shift + window  # inputs flat[in_end - window : in_end], targets one later
            loss_sum, loss_n, out_of_time = 0.0, 0, False
            self.net.train()
            batches = bucketed_batches(window, cfg.batch_size, rng)
            tokens_per_batch = float(window.sum()) / max(len(batches), 1)
            bar = tqdm(
                batches, desc=f"sasrec epoch {state.epoch + 1}", unit="batch", leave=False, disable=not cfg.progress
            )
            for idx in bar:
                inputs = torch.from_numpy(left_padded(flat, in_end[idx], window[idx]))
                targets = torch.from_numpy(left_padded(flat, in_end[idx] + 1, window[idx]))
                loss_total, n_tokens = self._loss(inputs, targets)
                # Every position weighs the same whatever its batch: divide by the mean positions per
                # batch, not by this batch's count (length-bucketed batches differ a lot in size).
                optim.zero_grad(set_to_none=True)
                (loss_total / tokens_per_batch).backward()
                optim.step()
                loss_sum += float(loss_total.detach())
                loss_n += n_tokens
                bar.set_postfix(loss=f"{loss_sum / max(loss_n, 1):.4f}", refresh=False)
                if cfg.time_budget_seconds and time.perf_counter() - start > cfg.time_budget_seconds:
                    out_of_time = True
                    break
            bar.close()
            state.epoch += 1
            state.epoch_seconds.append(time.perf_counter() - epoch_start)
            entry: dict[str, float] = {"epoch": state.epoch, "loss": loss_sum / max(loss_n, 1)}
            evaluate_now = valid is not None and (
                state.epoch % max(cfg.eval_every, 1) == 0 or out_of_time or state.epoch >= cfg.epochs
            )
            if evaluate_now and valid is not None:
                ndcg = self.valid_ndcg(valid)
                entry["valid_ndcg10"] = ndcg
                if ndcg > state.best_score:
                    state.best_score, state.best_epoch, state.bad = ndcg, state.epoch, 0
                    state.best_weights = copy.deepcopy(self.net.state_dict())
                    if ckpt_dir is not None:
                        self.save(ckpt_dir / _BEST_DIR)
                else:
                    state.bad += 1
                    if cfg.lr_decay_patience and state.bad % cfg.lr_decay_patience == 0:
                        for group in optim.param_groups:  # reduce on plateau: lr <- factor * lr
                            group["lr"] *= cfg.lr_decay_factor
                entry["lr"] = optim.param_groups[0]["lr"]
                logger.info(
                    "sasrec epoch %d: loss %.4f, valid NDCG@10 %.5f (best %.5f at epoch %d), %.1f s",
                    state.epoch,
                    entry["loss"],
                    ndcg,
                    state.best_score,
                    state.best_epoch,
                    state.epoch_seconds[-1],
                )
                if state.bad >= cfg.patience:
                    state.stop_reason = "patience"
            else:
                logger.info("sasrec epoch %d: loss %.4f, %.1f s", state.epoch, entry["loss"], state.epoch_seconds[-1])
            state.history.append(entry)
            if out_of_time:
                state.stop_reason = "time_budget"
            if state.epoch >= cfg.epochs and not state.stop_reason:
                state.stop_reason = "epochs"
            stop_reason = state.stop_reason or stop_reason
            if ckpt_dir is not None and (evaluate_now or valid is None or state.stop_reason):
                elapsed = state.train_seconds + time.perf_counter() - start
                self._checkpoint(ckpt_dir / _RESUME_FILE, optim, rng, state, elapsed)
        state.train_seconds += time.perf_counter() - start

        if state.best_weights is not None:
            self.net.load_state_dict(state.best_weights)
        self.fit_info.update(
            {
                "epochs": state.epoch,
                "best_epoch": state.best_epoch,
                "best_valid_ndcg10": state.best_score if state.best_epoch else None,
                "seconds_per_epoch": float(np.mean(state.epoch_seconds)) if state.epoch_seconds else 0.0,
                "train_seconds": state.train_seconds,
                "stop_reason": stop_reason,
                "history": state.history,
            }
        )

    def _loss(self, inputs: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, int]:
        """Summed loss over the non-padding positions of a batch ([B, L] ids + 1, 0 = padding), and their count."""
        assert self.net is not None
        keep = targets > 0
        hidden = self.net(inputs)[keep]  # [N, D]: only the positions that have a target
        weights = self.net.output_weights()
        if self.config.loss == "ce":
            # -log softmax_i(h . E[i])[target] over the full catalog (fused, chunked)
            loss = FullSoftmaxCE.apply(hidden, weights, targets[keep] - 1, self.config.ce_chunk, self.config.bf16)
            return loss, len(hidden)
        positive = targets[keep]
        negative = self._sample_negatives(inputs, targets)[keep]
        pos_logit = (hidden * weights[positive - 1]).sum(-1)
        neg_logit = (hidden * weights[negative - 1]).sum(-1)
        # -log sigma(pos) - log(1 - sigma(neg)) = softplus(-pos) + softplus(neg)
        return (F.softplus(-pos_logit) + F.softplus(neg_logit)).sum(), len(hidden)

    def _sample_negatives(self, inputs: torch.Tensor, targets: torch.Tensor, tries: int = 10) -> torch.Tensor:
        """One uniform item per position (ids + 1), redrawn while it is in the user's window."""
        seen = torch.cat([inputs, targets[:, -1:]], dim=1)  # [B, L + 1] every item of the window
        negative = torch.randint(1, self.n_items + 1, targets.shape)
        for _ in range(tries):
            clash = (negative[:, :, None] == seen[:, None, :]).any(-1)
            if not bool(clash.any()):
                break
            negative = torch.where(clash, torch.randint(1, self.n_items + 1, targets.shape), negative)
        return negative

    # ---- checkpoints ----------------------------------------------------------------------
    def _checkpoint(
        self, path: Path, optim: torch.optim.Optimizer, rng: np.random.Generator, state: _TrainState, elapsed: float
    ) -> None:
        """Write a resumable training state atomically."""
        assert self.net is not None
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "epoch": state.epoch,
            "best_score": state.best_score,
            "best_epoch": state.best_epoch,
            "bad": state.bad,
            "stop_reason": state.stop_reason,
            "history": state.history,
            "epoch_seconds": state.epoch_seconds,
            "train_seconds": elapsed,
            "model": self.net.state_dict(),
            "best_weights": state.best_weights,
            "optimizer": optim.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "numpy_rng": rng.bit_generator.state,
            "config": config_to_dict(self.config),
            "n_items": self.n_items,
        }
        tmp = path.with_name(path.name + ".tmp")
        torch.save(payload, tmp)
        os.replace(tmp, path)

    def _resume(self, path: Path, optim: torch.optim.Optimizer, rng: np.random.Generator) -> _TrainState:
        """Restore model, optimizer, RNGs and progress from a checkpoint written by ``_checkpoint``."""
        assert self.net is not None
        payload = torch.load(path, weights_only=True)
        saved = payload["config"]
        mismatch = [f for f in _ARCH_FIELDS if saved.get(f) != getattr(self.config, f)]
        if mismatch or payload["n_items"] != self.n_items:
            raise ValueError(
                f"checkpoint {path} was written for another model (differs in "
                f"{', '.join(mismatch) or 'n_items'}); use another checkpoint_dir"
            )
        self.net.load_state_dict(payload["model"])
        optim.load_state_dict(payload["optimizer"])
        torch.set_rng_state(payload["torch_rng"])
        rng.bit_generator.state = payload["numpy_rng"]
        state = _TrainState(
            epoch=payload["epoch"],
            best_score=payload["best_score"],
            best_epoch=payload["best_epoch"],
            bad=payload["bad"],
            stop_reason=payload["stop_reason"],
            history=list(payload["history"]),
            epoch_seconds=list(payload["epoch_seconds"]),
            train_seconds=payload["train_seconds"],
            best_weights=payload["best_weights"],
        )
        # A finished run is resumed only if the new config allows it to go further.
        if state.stop_reason == "epochs" and state.epoch < self.config.epochs:
            state.stop_reason = ""
        if state.stop_reason == "time_budget":
            state.stop_reason = ""
        if state.stop_reason == "patience" and state.bad < self.config.patience:
            state.stop_reason = ""
        return state

    # ---- inference ------------------------------------------------------------------------
    def valid_ndcg(self, cases: EvalCases, batch_size: int = 1024) -> float:
        """NDCG@10 over ``cases`` (full ranking, history kept, pessimistic ties), as ``evaluate`` gives.

        The same scores as ``evaluate`` (same batches of ``batch_size`` histories), ranked in torch:
        rank = #(scores > s_target) + #(scores == s_target) - 1.
        """
        ranks = np.zeros(len(cases), dtype=np.int64)
        for lo in range(0, len(cases), batch_size):
            hi = min(lo + batch_size, len(cases))
            scores = self._score_tensor(cases.histories[lo:hi])
            target = scores.gather(1, torch.from_numpy(cases.targets[lo:hi]).long()[:, None])
            rank = (scores > target).sum(1) + (scores == target).sum(1) - 1
            worst = torch.isneginf(target[:, 0]) | torch.isnan(target[:, 0])
            ranks[lo:hi] = torch.where(worst, scores.shape[1] - 1, rank).numpy()
        return M.rank_metrics(ranks, (10,))["NDCG@10"]

    def score(self, histories: Histories) -> np.ndarray:
        """Logits h_L . E[i] of every item after the last ``max_length`` items of each history."""
        return self._score_tensor(histories).numpy().astype(np.float32, copy=False)

    def _score_tensor(self, histories: Histories) -> torch.Tensor:
        """``score`` as a float32 tensor [B, n_items]."""
        if self.net is None:
            raise RuntimeError("SASRec model is not trained; call fit or load first")
        self._set_threads()
        self.net.eval()
        with torch.inference_mode():
            last = last_hidden(
                self.net, histories, self.config.max_length, self.config.eval_batch_size, self.config.dim
            )
            return last @ self.net.output_weights().T

    # ---- state ----------------------------------------------------------------------------
    def _state(self) -> dict[str, np.ndarray]:
        assert self.net is not None
        return {k: v.detach().cpu().numpy() for k, v in self.net.state_dict().items()}

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        self.net = SASRecNet(self.n_items, self.config)
        self.net.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.items()})
        self.net.eval()

    def _set_threads(self) -> None:
        threads = self.config.threads or os.cpu_count() or 1
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)


@dataclasses.dataclass
class _TrainState:
    """Progress of a training run (what a checkpoint restores)."""

    epoch: int = 0
    best_score: float = -math.inf
    best_epoch: int = 0
    bad: int = 0
    stop_reason: str = ""
    history: list[dict[str, float]] = dataclasses.field(default_factory=list)
    epoch_seconds: list[float] = dataclasses.field(default_factory=list)
    train_seconds: float = 0.0
    best_weights: dict[str, Any] | None = None
