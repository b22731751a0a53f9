"""The hand-written full-catalog cross-entropies against torch's F.cross_entropy: values and gradients."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

import torch.nn.functional as F  # noqa: E402

from genrec.models.sasrec import FullSoftmaxCE  # noqa: E402
from genrec.models.tiger import smoothed_ce  # noqa: E402


def grads(loss: torch.Tensor, *inputs: torch.Tensor, scale: float = 1.0) -> list[torch.Tensor]:
    return list(torch.autograd.grad(loss * scale, inputs))


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-10), (torch.float32, 2e-5)])
@pytest.mark.parametrize("chunk", [1, 7, 64, 1000])  # rows per chunk: one, uneven chunks, all at once
def test_full_softmax_ce_equals_cross_entropy(dtype: torch.dtype, tol: float, chunk: int) -> None:
    gen = torch.Generator().manual_seed(0)
    n, dim, vocab = 45, 16, 300
    hidden = torch.randn(n, dim, generator=gen, dtype=dtype, requires_grad=True)
    weight = torch.randn(vocab, dim, generator=gen, dtype=dtype, requires_grad=True)
    target = torch.randint(0, vocab, (n,), generator=gen)
    target[:3] = target[3]  # repeated targets: the weight gradient accumulates over rows

    ours = FullSoftmaxCE.apply(hidden, weight, target, chunk, False)
    ref = F.cross_entropy(hidden @ weight.T, target, reduction="sum")
    assert torch.allclose(ours, ref, rtol=tol, atol=tol)
    # the backward scales the stored gradients by the incoming one (here 2.5, as a mean or weight would)
    for got, want in zip(grads(ours, hidden, weight, scale=2.5), grads(ref, hidden, weight, scale=2.5)):
        assert torch.allclose(got, want, rtol=tol, atol=tol)


def test_full_softmax_ce_is_stable_for_large_logits() -> None:
    hidden = torch.tensor([[60.0, -40.0], [0.5, 0.5]], dtype=torch.float64, requires_grad=True)
    weight = torch.tensor([[20.0, 1.0], [-3.0, 2.0], [19.0, 0.0]], dtype=torch.float64, requires_grad=True)
    target = torch.tensor([2, 1])
    ours = FullSoftmaxCE.apply(hidden, weight, target, 1, False)
    ref = F.cross_entropy(hidden @ weight.T, target, reduction="sum")
    assert torch.isfinite(ours) and torch.allclose(ours, ref)
    for got, want in zip(grads(ours, hidden, weight), grads(ref, hidden, weight)):
        assert torch.allclose(got, want)


@pytest.mark.parametrize("eps", [0.0, 0.1, 0.3])
def test_smoothed_ce_without_a_mask_is_cross_entropy(eps: float) -> None:
    gen = torch.Generator().manual_seed(1)
    logits = torch.randn(20, 12, generator=gen, dtype=torch.float64, requires_grad=True)
    target = torch.randint(0, 12, (20,), generator=gen)
    ours = smoothed_ce(logits, target, eps, None)
    ref = F.cross_entropy(logits, target, label_smoothing=eps)
    assert torch.allclose(ours, ref)
    assert torch.allclose(grads(ours, logits)[0], grads(ref, logits)[0])


@pytest.mark.parametrize("eps", [0.0, 0.1, 0.3])
def test_smoothed_ce_over_allowed_codes_is_cross_entropy_over_them(eps: float) -> None:
    """With a mask (the codes that continue each row's prefix), each row is F.cross_entropy over its
    allowed codes alone, label smoothing spread over them; the mean is over rows. Masked logits get no gradient."""
    gen = torch.Generator().manual_seed(2)
    rows, vocab = 16, 10
    logits = torch.randn(rows, vocab, generator=gen, dtype=torch.float64, requires_grad=True)
    mask = torch.rand(rows, vocab, generator=gen) < 0.5
    target = torch.randint(0, vocab, (rows,), generator=gen)
    mask[torch.arange(rows), target] = True  # the target is always allowed
    mask[0] = True  # a row where every code is allowed
    mask[1] = False
    mask[1, target[1]] = True  # a row with a single allowed code: loss 0

    ours = smoothed_ce(logits, target, eps, mask)
    per_row = []
    for r in range(rows):
        allowed = mask[r].nonzero()[:, 0]
        position = int((allowed == target[r]).nonzero()[0, 0])
        per_row.append(F.cross_entropy(logits[r, allowed][None], torch.tensor([position]), label_smoothing=eps))
    ref = torch.stack(per_row).mean()
    assert torch.allclose(ours, ref)
    got, want = grads(ours, logits)[0], grads(ref, logits)[0]
    assert torch.allclose(got, want)
    assert (got[~mask] == 0).all()
    assert abs(float(per_row[1].detach())) < 1e-12
