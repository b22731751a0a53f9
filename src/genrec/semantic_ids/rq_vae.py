"""RQ-VAE semantic IDs (as in TIGER, Rajput et al. 2023), in torch.

An MLP encoder maps x to a latent z; a residual quantiser picks, level by level, the nearest
codeword e_l = C_l[c_l] to the residual r_l (r_1 = z, r_{l+1} = r_l - e_l); an MLP decoder
reconstructs x from z_q = sum_l e_l, with the straight-through estimator z + sg(z_q - z).
Loss per batch (squared norms summed over features, averaged over the batch):

  ||x - x_hat||^2 + sum_l ( ||sg(r_l) - e_l||^2 + beta ||r_l - sg(e_l)||^2 )

Codebooks start as k-means of the first batch's residuals; after each epoch, codes no item
picked are re-seeded from residuals of the latest batch (dead-code reset).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from genrec.semantic_ids.base import SemanticIdTokenizer

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
        rng = np.random.default_rng(cfg.seed)
        net = self._new_net()
        opt = torch.optim.Adam(net.parameters(), lr=cfg.vae_lr)
        data = torch.from_numpy(x)
        bs = min(cfg.vae_batch_size, len(x))
        history: dict[str, list[float]] = {"recon_loss": [], "codebook_loss": [], "commit_loss": []}
        with _threads(cfg.threads):
            self._init_codebooks(net, data[torch.from_numpy(rng.permutation(len(x))[:bs])])
            bar = tqdm(range(cfg.vae_epochs), desc="rq-vae epochs", disable=not cfg.progress)
            for epoch in bar:
                net.train()
                used = torch.zeros(cfg.levels, cfg.codebook_size, dtype=torch.long)
                sums = np.zeros(3)
                order = torch.from_numpy(rng.permutation(len(x)))
                for lo in range(0, len(x), bs):
                    batch = data[order[lo : lo + bs]]
                    x_hat, codes, terms, residuals = net(batch)
                    recon = ((x_hat - batch) ** 2).sum(-1).mean()
                    loss = recon + terms[0] + cfg.vae_beta * terms[1]
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    for level in range(cfg.levels):
                        used[level] += torch.bincount(codes[:, level], minlength=cfg.codebook_size)
                    sums += len(batch) * np.array([recon.item(), terms[0].item(), terms[1].item()])
                for key, value in zip(history, sums / len(x)):
                    history[key].append(float(value))
                bar.set_postfix(recon=f"{history['recon_loss'][-1]:.4f}")
                if cfg.vae_dead_reset and epoch < cfg.vae_epochs - 1:
                    self._reset_dead(net, used, residuals, rng)
        self.net = net.eval()
        self.fit_info.update(history)

    def _new_net(self) -> RQVAENet:
        cfg = self.config
        assert self.dim is not None
        return RQVAENet(self.dim, cfg.vae_hidden, cfg.vae_latent_dim, cfg.levels, cfg.codebook_size)

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
        with torch.no_grad(), _threads(self.config.threads):
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


class _threads:
    """Context manager: run torch with ``n`` threads (0: all cores), then restore."""

    def __init__(self, n: int) -> None:
        self.n = n or os.cpu_count() or 1
        self.before = 0

    def __enter__(self) -> None:
        self.before = torch.get_num_threads()
        if self.before != self.n:
            torch.set_num_threads(self.n)

    def __exit__(self, *exc: object) -> None:
        if torch.get_num_threads() != self.before:
            torch.set_num_threads(self.before)
