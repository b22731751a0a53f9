"""What the watermark costs in fluency: SmolLM2 samples at several deltas, same prompts and seeds.

For 48 synthetic-catalog titles ("Write a product description for: <title>", temperature 0.7,
top-p 0.95, 72 new tokens) and each delta, prints the mean negative log-likelihood per token of
the samples under the unwatermarked model (higher: less like what the model would write),
distinct word bigrams, the share of degenerate samples (under 60% letters, or a word 4-gram
three times) and a few paired examples.

    OMP_NUM_THREADS=1 nice -n 19 python -m benchmarks.watermark_fluency --deltas 0,2,2.5
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from benchmarks.fidelity_watermark import PROMPT, SmolLM2Generator, synthetic_texts
from genrec.fidelity.watermark import GreenListWatermark


def nll(gen: SmolLM2Generator, prompt: str, text: str) -> float:
    """Mean negative log-likelihood per token of ``text`` after the chat ``prompt``, unwatermarked."""
    p, c = gen._prompt_ids(prompt), gen.tokenize(text)
    if not c:
        return float("nan")
    with torch.inference_mode():
        logits = gen.model(torch.tensor([p + c])).logits[0, len(p) - 1 : -1].float()
    return float(-torch.log_softmax(logits, -1)[torch.arange(len(c)), torch.tensor(c)].mean())


def degenerate(text: str) -> bool:
    """Under 60% letters, or a word 4-gram repeated three times."""
    letters = sum(ch.isalpha() for ch in text) / max(1, len(text))
    words = text.lower().split()
    grams = [" ".join(words[i : i + 4]) for i in range(len(words) - 3)]
    return letters < 0.6 or max((grams.count(g) for g in set(grams)), default=0) >= 3


def main() -> None:
    """Sample, score and print."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--deltas", default="0,2,2.5")
    ap.add_argument("--n", type=int, default=48, help="titles (every 40th of the synthetic catalog)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    gen = SmolLM2Generator()
    titles = [t.split("\n")[0] for t in synthetic_texts()[::40][: args.n]]
    samples = {}
    for delta in (float(x) for x in args.deltas.split(",")):
        wm = GreenListWatermark(gen.vocab_size, "fluency-check-key", delta=delta)
        out: list[str] = []
        for i in range(0, len(titles), 16):
            torch.manual_seed(100 + i)
            out += gen([PROMPT.format(title=t) for t in titles[i : i + 16]], wm, 72)
        scores = [nll(gen, PROMPT.format(title=t), o) for t, o in zip(titles, out)]
        bigrams = [len(set(zip(o.split(), o.split()[1:]))) / max(1, len(o.split()) - 1) for o in out]
        samples[delta] = out
        print(
            f"delta {delta}: NLL/token under the unwatermarked model {np.nanmean(scores):.3f} "
            f"(median {np.nanmedian(scores):.3f}), distinct-2 {np.mean(bigrams):.3f}, "
            f"degenerate {np.mean([degenerate(o) for o in out]):.3f}, words {np.mean([len(o.split()) for o in out]):.1f}"
        )
    for i in (0, 5, 11):
        for delta, out in samples.items():
            print(f"[{delta}] {out[i][:220]!r}")


if __name__ == "__main__":
    main()
