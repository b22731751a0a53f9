"""RQ-VAE semantic IDs (as in TIGER, Rajput et al. 2023), in torch.

An MLP encoder maps x to a latent z; a residual quantiser picks, level by level, the nearest
codeword e_l = C_l[c_l] to the residual r_l (r_1 = z, r_{l+1} = r_l - e_l); an MLP decoder
reconstructs x from z_q = sum_l e_l, with the straight-through estimator z + sg(z_q - z).
Loss per batch (squared norms summed over features, averaged over the batch):

  ||x - x_hat||^2 + sum_l ( ||sg(r_l) - e_l||^2 + beta ||r_l - sg(e_l)||^2 )

Codebooks start as k-means of the first batch's residuals; after each epoch, codes no item
picked are re-seeded from residuals of the latest batch (dead-code reset). Training runs in
``genrec.train.Trainer`` (``SemanticIdConfig.vae`` holds its settings).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from genrec.nn import torch_threads
from genrec.semantic_ids.base import SemanticIdTokenizer
from genrec.train import Step, Trainer, TrainLoop

_Quantised = tuple[torch.Tensor, torch.Tensor, torch.Tensor, list[torch.Tensor]]


def _mlp(sizes: Sequence[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class RQVAENet(nn.Module):
    """Encoder MLP, ``levels`` residual codebooks, decoder MLP."""

    def __init__(self, in_dim: int, hidden: Sequence[int], latent: int, levels: int, size: int) -> None:
        super().__init__()
        self.encoder = _mlp([in_dim, *hidden, latent])
        self.decoder = _mlp([latent, *reversed(hidden), in_dim])
        self.codebooks = nn.Parameter(torch.randn(levels, size, latent) * 0.01)

    def quantise(self, z: torch.Tensor, levels: int | None = None) -> _Quantised:
        """Quantised latent, codes [n, levels], [codebook, commitment] losses, residuals per level."""
        levels = self.codebooks.shape[0] if levels is None else levels
        residual, quantised = z, torch.zeros_like(z)
        codes, residuals, losses = [], [], []
        for level in range(levels):
            book = self.codebooks[level]
            code = torch.cdist(residual.detach(), book.detach()).argmin(dim=1)
            e = book[code]
            codebook_loss = ((residual.detach() - e) ** 2).sum(-1).mean()
            commit_loss = ((residual - e.detach()) ** 2).sum(-1).mean()
            losses.append(torch.stack([codebook_loss, commit_loss]))
            residuals.append(residual.detach())
            codes.append(code)
            quantised = quantised + e
            residual = residual - e.detach()
        if not codes:
            return quantised, z.new_zeros((len(z), 0), dtype=torch.long), z.new_zeros(2), residuals
        return quantised, torch.stack(codes, dim=1), torch.stack(losses).sum(0), residuals

    def forward(self, x: torch.Tensor) -> _Quantised:
        """Reconstruction, codes, [codebook, commitment] losses and residuals of a batch."""
        z = self.encoder(x)
        quantised, codes, terms, residuals = self.quantise(z)
        z_q = z + (quantised - z).detach()
        return self.decoder(z_q), codes, terms, residuals


class RQVAE(SemanticIdTokenizer):
    """Residual-quantised VAE semantic IDs (``levels`` codebooks of ``codebook_size``)."""

    name = "rq_vae"

    net: RQVAENet

    def _fit(self, x: np.ndarray) -> None:
        cfg = self.config
        torch.manual_seed(cfg.seed)
        loop = _RQVAELoop(self, x, np.random.default_rng(cfg.seed))
        with torch_threads(cfg.threads):
            first = loop.data[torch.from_numpy(loop.rng.permutation(len(x))[: loop.batch_size])]
            self._init_codebooks(loop.net, first)
            Trainer(cfg.vae, cfg.seed, cfg.progress).fit(loop)
        self.net = loop.net.eval()
        self.fit_info.update(loop.history)

    def _new_net(self) -> RQVAENet:
        cfg = self.config
        assert self.dim is not None
        return RQVAENet(self.dim, cfg.vae.hidden, cfg.vae.latent_dim, cfg.levels, cfg.codebook_size)

    def _init_codebooks(self, net: RQVAENet, batch: torch.Tensor) -> None:
        """k-means of the first batch's residuals, level by level."""
        import faiss

        cfg = self.config
        faiss.omp_set_num_threads(cfg.threads or os.cpu_count() or 1)
        with torch.no_grad():
            residual = net.encoder(batch).numpy().astype(np.float32)
            for level in range(cfg.levels):
                if len(residual) >= cfg.codebook_size:
                    km = faiss.Kmeans(
                        residual.shape[1],
                        cfg.codebook_size,
                        niter=cfg.kmeans_iters,
                        seed=cfg.seed + level,
                        min_points_per_centroid=1,
                        verbose=False,
                    )
                    km.train(np.ascontiguousarray(residual))
                    book = np.asarray(km.centroids, dtype=np.float32)
                else:  # too few points: sample them (with replacement) plus a little noise
                    rng = np.random.default_rng(cfg.seed + level)
                    pick = residual[rng.integers(0, len(residual), cfg.codebook_size)]
                    book = pick + 1e-3 * rng.standard_normal(pick.shape).astype(np.float32)
                net.codebooks[level].copy_(torch.from_numpy(book))
                code = torch.cdist(torch.from_numpy(residual), net.codebooks[level]).argmin(1)
                residual = residual - book[code.numpy()]

    def _reset_dead(
        self, net: RQVAENet, used: torch.Tensor, residuals: list[torch.Tensor], rng: np.random.Generator
    ) -> None:
        with torch.no_grad():
            for level, res in enumerate(residuals):
                dead = torch.nonzero(used[level] == 0).flatten()
                if len(dead):
                    pick = torch.from_numpy(rng.integers(0, len(res), len(dead)))
                    net.codebooks[level, dead] = res[pick]

    def _latent(self, x: np.ndarray) -> torch.Tensor:
        with torch.no_grad(), torch_threads(self.config.threads):
            parts = [self.net.encoder(torch.from_numpy(x[lo : lo + 8192])) for lo in range(0, len(x), 8192)]
            return torch.cat(parts)

    def _encode(self, x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return self.net.quantise(self._latent(x))[1].numpy()

    def _last_level_ranking(self, x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            z = self._latent(x)
            quantised = self.net.quantise(z, self.levels - 1)[0]
            dist = torch.cdist(z - quantised, self.net.codebooks[-1])
            return torch.argsort(dist, dim=1, stable=True).numpy()

    def reconstruct(self, embeddings: np.ndarray) -> np.ndarray:
        """Decoder output for ``embeddings`` passed through encoder and quantiser."""
        x = self._checked_input(embeddings)
        with torch.no_grad():
            z = self._latent(x)
            return self.net.decoder(self.net.quantise(z)[0]).numpy()

    def _state(self) -> dict[str, np.ndarray]:
        return {k: v.detach().numpy() for k, v in self.net.state_dict().items()}

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        self.net = self._new_net()
        self.net.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.items()})
        self.net.eval()


class _RQVAELoop(TrainLoop):
    """RQ-VAE's batches (a fresh permutation of the items every epoch) and step (reconstruction + VQ losses)."""

    name = "rq-vae"
    net: RQVAENet

    def __init__(self, tokenizer: RQVAE, x: np.ndarray, rng: np.random.Generator) -> None:
        cfg = tokenizer.config
        self.tokenizer, self.rng = tokenizer, rng
        self.net = tokenizer._new_net()
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=cfg.vae.lr, weight_decay=cfg.vae.weight_decay)
        self.data = torch.from_numpy(x)
        self.batch_size = min(cfg.vae.batch_size, len(x))
        self.history: dict[str, list[float]] = {"recon_loss": [], "codebook_loss": [], "commit_loss": []}
        self.used = torch.zeros(cfg.levels, cfg.codebook_size, dtype=torch.long)  # codes picked this epoch
        self.sums = np.zeros(3)  # batch-size-weighted recon, codebook and commitment losses this epoch
        self.residuals: list[torch.Tensor] = []  # of the latest batch, for the dead-code reset

    def batches(self, epoch: int) -> Sequence[Any]:
        """The items in a new random order, cut into batches."""
        cfg = self.tokenizer.config
        self.used = torch.zeros(cfg.levels, cfg.codebook_size, dtype=torch.long)
        self.sums = np.zeros(3)
        order = torch.from_numpy(self.rng.permutation(len(self.data)))
        return [order[lo : lo + self.batch_size] for lo in range(0, len(self.data), self.batch_size)]

    def step(self, batch: Any) -> Step:
        """||x - x_hat||^2 + codebook loss + beta * commitment loss of one batch (means over the batch)."""
        cfg = self.tokenizer.config
        x = self.data[batch]
        x_hat, codes, terms, self.residuals = self.net(x)
        recon = ((x_hat - x) ** 2).sum(-1).mean()
        loss = recon + terms[0] + cfg.vae.beta * terms[1]
        for level in range(cfg.levels):
            self.used[level] += torch.bincount(codes[:, level], minlength=cfg.codebook_size)
        parts = np.array([recon.item(), terms[0].item(), terms[1].item()])
        self.sums += len(x) * parts
        return Step(loss, float(loss.item()) * len(x), float(len(x)))

    def end_epoch(self, epoch: int, entry: dict[str, Any]) -> None:
        """Record the epoch's mean losses; re-seed unused codes (not after the last epoch)."""
        cfg = self.tokenizer.config
        for key, value in zip(self.history, self.sums / len(self.data)):
            self.history[key].append(float(value))
            entry[key] = float(value)
        if cfg.vae.dead_reset and epoch < cfg.vae.epochs:
            self.tokenizer._reset_dead(self.net, self.used, self.residuals, self.rng)

    def arch(self) -> dict[str, Any]:
        cfg = self.tokenizer.config
        return {
            "dim": self.tokenizer.dim,
            "levels": cfg.levels,
            "codebook_size": cfg.codebook_size,
            **cfg.vae.model_dump(include={"hidden", "latent_dim"}),
        }
