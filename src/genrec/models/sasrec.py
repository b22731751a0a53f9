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

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from genrec.config import SASRecConfig
from genrec.data.dataset import Dataset
from genrec.models.base import Histories, Recommender
from genrec.models.registry import register_model
from genrec.nn import Block, Sequences, bucketed_batches, history_mask, last_hidden, set_threads
from genrec.train import Step, Trainer, TrainLoop

if TYPE_CHECKING:
    from genrec.train import Validator

# Config fields that shape the network: a checkpoint is only resumed when they match.
_ARCH_FIELDS = ("dim", "layers", "heads", "max_length", "ffn_mult")


# ---- the network ----------------------------------------------------------------------
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
        mask = history_mask(seq)  # [B, 1, L, L], broadcast over heads
        for block in self.blocks:
            x, _ = block(x, mask)
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


# ---- the recommender ------------------------------------------------------------------
@register_model("sasrec")
class SASRec(Recommender):
    """Transformer next-item model trained with full-catalog softmax (ce) or sampled bce."""

    config_class = SASRecConfig

    def __init__(self, config: SASRecConfig | None = None) -> None:
        super().__init__(config)
        self.net: SASRecNet | None = None

    # ---- training -----------------------------------------------------------------------
    def _fit(self, dataset: Dataset, valid: Validator | None) -> None:
        cfg = self.config
        set_threads(cfg.threads)
        torch.manual_seed(cfg.seed)
        loop = _SASRecLoop(self, dataset, np.random.default_rng(cfg.seed))
        result = Trainer(cfg, cfg.seed, cfg.progress).fit(loop, valid)
        self.fit_info.update(result.info())

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

    # ---- inference ------------------------------------------------------------------------
    def score(self, histories: Histories) -> np.ndarray:
        """Logits h_L . E[i] of every item after the last ``max_length`` items of each history."""
        return self._score_tensor(histories).numpy().astype(np.float32, copy=False)

    def _score_tensor(self, histories: Histories) -> torch.Tensor:
        """``score`` as a float32 tensor [B, n_items]."""
        if self.net is None:
            raise RuntimeError("SASRec model is not trained; call fit or load first")
        set_threads(self.config.threads)
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


class _SASRecLoop(TrainLoop):
    """SASRec's batches (a window of every training sequence, length-bucketed) and step (its loss)."""

    name = "sasrec"
    net: SASRecNet

    def __init__(self, model: SASRec, dataset: Dataset, rng: np.random.Generator) -> None:
        cfg = model.config
        self.model, self.rng = model, rng
        self.net = model.net = SASRecNet(model.n_items, cfg)
        self.optimizer = torch.optim.AdamW(
            self.net.parameters(), lr=cfg.lr, betas=(0.9, 0.98), weight_decay=cfg.weight_decay
        )
        self.seqs = Sequences([s for s in dataset.sequences() if len(s) >= 2])
        self.window = np.minimum(self.seqs.lengths - 1, cfg.max_length)  # positions trained per sequence
        self.in_end = self.seqs.starts  # set per epoch
        self.tokens_per_batch = 1.0

    def batches(self, epoch: int) -> Sequence[Any]:
        """Each sequence's window for this epoch (the last one, or a random one), in length-bucketed batches."""
        lengths = self.seqs.lengths
        slack = lengths - 1 - self.window
        shift = np.floor(self.rng.random(len(lengths)) * (slack + 1)).astype(np.int64)
        if self.model.config.crop == "last":
            shift = slack
        self.in_end = self.seqs.starts + shift + self.window  # inputs flat[in_end - window : in_end], targets one later
        batches = bucketed_batches(self.window, self.model.config.batch_size, self.rng)
        # Every position weighs the same whatever its batch: divide by the mean positions per batch,
        # not by this batch's count (length-bucketed batches differ a lot in size).
        self.tokens_per_batch = float(self.window.sum()) / max(len(batches), 1)
        return batches

    def step(self, batch: Any) -> Step:
        """The summed loss of a batch of windows, scaled by the mean positions per batch."""
        inputs = self.seqs.windows(self.in_end[batch], self.window[batch])
        targets = self.seqs.windows(self.in_end[batch] + 1, self.window[batch])
        loss_total, n_tokens = self.model._loss(inputs, targets)
        return Step(loss_total / self.tokens_per_batch, float(loss_total.detach()), n_tokens)

    def subject(self) -> SASRec:
        return self.model

    def save_best(self, path: Path) -> None:
        self.model.save(path)

    def arch(self) -> dict[str, Any]:
        return {**{f: getattr(self.model.config, f) for f in _ARCH_FIELDS}, "n_items": self.model.n_items}
