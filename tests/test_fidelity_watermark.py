"""The green-list watermark: embedded while a real (tiny, random-weight) causal LM samples, then detected."""

from __future__ import annotations

import json
import random

import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel, LogitsProcessorList

from genrec.fidelity.watermark import GreenListWatermark, WatermarkScore

VOCAB = 512
KEY = "test-secret-key-7f3a"
N_NEW = 64


@pytest.fixture(scope="module")
def model() -> GPT2LMHeadModel:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    cfg = GPT2Config(
        n_layer=2,
        n_head=2,
        n_embd=64,
        n_positions=128,
        vocab_size=VOCAB,
        bos_token_id=0,
        eos_token_id=VOCAB - 1,
        pad_token_id=0,
    )
    return GPT2LMHeadModel(cfg).eval()


def sample(model: GPT2LMHeadModel, processors: list, seed: int, batch: int = 8) -> list[list[int]]:
    """Sample ``batch`` continuations of N_NEW tokens after random 4-token prompts; returns only new tokens."""
    gen = torch.Generator().manual_seed(seed)
    prompts = torch.randint(1, VOCAB, (batch, 4), generator=gen)
    torch.manual_seed(seed)
    with torch.no_grad():
        out = model.generate(
            prompts,
            attention_mask=torch.ones_like(prompts),
            do_sample=True,
            top_k=0,
            max_new_tokens=N_NEW,
            min_new_tokens=N_NEW,
            logits_processor=LogitsProcessorList(processors),
            pad_token_id=0,
        )
    return out[:, prompts.shape[1] :].tolist()


@pytest.fixture(scope="module")
def watermarked(model: GPT2LMHeadModel) -> list[list[int]]:
    return sample(model, [GreenListWatermark(VOCAB, KEY)], seed=1)


@pytest.fixture(scope="module")
def plain(model: GPT2LMHeadModel) -> list[list[int]]:
    return sample(model, [], seed=2)


def test_watermarked_samples_are_detected(watermarked: list[list[int]]) -> None:
    wm = GreenListWatermark(VOCAB, KEY)
    for ids in watermarked:
        assert len(ids) == N_NEW
        score = wm.detect(ids)
        assert score.z > 4, score
        assert score.detected()
        assert score.p_value < 1e-4


def test_unwatermarked_samples_are_not_detected(plain: list[list[int]]) -> None:
    wm = GreenListWatermark(VOCAB, KEY)
    zs = [wm.detect(ids).z for ids in plain]
    assert max(abs(z) for z in zs) < 3.5, zs
    assert abs(sum(zs) / len(zs)) < 1.5, zs


def test_wrong_key_detects_nothing(watermarked: list[list[int]]) -> None:
    other = GreenListWatermark(VOCAB, "some-other-key")
    zs = [other.detect(ids).z for ids in watermarked]
    # Under the wrong key z is standard normal (checked on 480 samples at delta 2.5: mean 0.05, sd 1.01);
    # with delta 2.5 one of these 8 fixed samples reaches 3.9 by chance, below the detector's 4.0.
    assert not any(other.detect(ids).detected() for ids in watermarked) and abs(sum(zs) / len(zs)) < 1.5, zs


def test_detection_survives_light_token_edits(watermarked: list[list[int]]) -> None:
    wm = GreenListWatermark(VOCAB, KEY)
    rng = random.Random(0)
    for ids in watermarked:
        edited = list(ids)
        for pos in rng.sample(range(len(edited)), k=len(edited) // 10):  # 10% substitutions
            edited[pos] = rng.randrange(VOCAB)
        del edited[rng.randrange(len(edited))]  # and one deletion
        assert wm.detect(edited).z > 4


def test_detect_text_with_word_tokenizer_survives_word_edits(watermarked: list[list[int]]) -> None:
    """Texts made of one word per token, edited at word level and re-tokenized."""
    wm = GreenListWatermark(VOCAB, KEY)

    def tokenize(text: str) -> list[int]:
        return [int(word[1:]) for word in text.split()]

    rng = random.Random(1)
    for ids in watermarked:
        words = [f"w{i}" for i in ids]
        assert wm.detect_text(" ".join(words), tokenize).z == pytest.approx(wm.detect(ids).z)
        i = rng.randrange(len(words) - 1)
        words[i], words[i + 1] = words[i + 1], words[i]  # a swap
        for _ in range(3):
            del words[rng.randrange(len(words))]
        assert wm.detect_text(" ".join(words), tokenize).z > 4


def test_batched_processing_equals_row_by_row() -> None:
    gen = torch.Generator().manual_seed(3)
    for width in (1, 3):
        wm = GreenListWatermark(VOCAB, KEY, context_width=width, delta=1.5)
        ids = torch.randint(0, VOCAB, (6, 5), generator=gen)
        scores = torch.randn(6, VOCAB, generator=gen)
        batched = wm(ids, scores.clone())
        rows = torch.cat([wm(ids[i : i + 1], scores[i : i + 1].clone()) for i in range(6)])
        assert torch.equal(batched, rows)
        added = batched - scores
        assert torch.allclose(added[added > 1e-6], torch.tensor(1.5))
        assert 0.2 < (added > 1e-6).float().mean().item() < 0.3  # about gamma of the vocabulary


def test_green_list_depends_on_context_and_key() -> None:
    wm = GreenListWatermark(49_152, KEY)
    a, b = wm.green_mask([17]), wm.green_mask([18])
    assert abs(a.float().mean().item() - 0.25) < 0.01
    assert abs((a & b).float().mean().item() - 0.25**2) < 0.01  # lists of different contexts ~independent
    assert torch.equal(a, GreenListWatermark(49_152, KEY).green_mask([17]))  # deterministic
    assert not torch.equal(a, GreenListWatermark(49_152, "other").green_mask([17]))
    # only the last context_width tokens matter
    assert torch.equal(wm.green_mask([5, 9, 17]), a)
    wide = GreenListWatermark(49_152, KEY, context_width=2)
    assert not torch.equal(wide.green_mask([5, 17]), wide.green_mask([6, 17]))


def test_detect_on_uniform_random_tokens_is_null() -> None:
    wm = GreenListWatermark(49_152, KEY)
    rng = random.Random(5)
    zs = [wm.detect([rng.randrange(49_152) for _ in range(100)]).z for _ in range(200)]
    mean = sum(zs) / len(zs)
    var = sum((z - mean) ** 2 for z in zs) / len(zs)
    assert abs(mean) < 0.25 and 0.7 < var < 1.3
    assert sum(z > 2.33 for z in zs) <= 8  # ~1% expected (2 of 200)


def test_repeated_pairs_are_counted_once() -> None:
    wm = GreenListWatermark(VOCAB, KEY)
    # two tokens each green after the other: "a b a b ..." is all green when every pair is counted
    a, b = next(
        (a, b)
        for a in range(1, VOCAB)
        for b in torch.nonzero(wm.green_mask([a], VOCAB)).flatten().tolist()
        if b != a and wm.green_mask([b], VOCAB)[a]
    )
    loop = [a, b] * 30
    counted_all = wm.detect(loop, ignore_repeated=False)
    counted_once = wm.detect(loop)
    assert counted_all.scored == 59 and counted_all.green == 59 and counted_all.z > 10
    assert counted_once.scored == 2 and counted_once.z < 4
    assert GreenListWatermark(VOCAB, KEY, ignore_repeated=False).detect(loop) == counted_all


def test_score_formula_and_edge_cases() -> None:
    wm = GreenListWatermark(VOCAB, KEY, gamma=0.5, context_width=2)
    assert wm.detect([]) == WatermarkScore(0.0, 0, 0, 1.0)
    assert wm.detect([1, 2]).scored == 0
    s = wm.detect(list(range(1, 40)))
    assert s.scored == 37
    assert s.z == pytest.approx((s.green - 0.5 * 37) / (37 * 0.25) ** 0.5)
    with pytest.raises(ValueError, match="token_ids"):
        wm.detect([1, VOCAB])
    with pytest.raises(ValueError, match="gamma"):
        GreenListWatermark(VOCAB, KEY, gamma=1.0)
    with pytest.raises(ValueError, match="key"):
        GreenListWatermark(VOCAB, "")
    with pytest.raises(ValueError, match="context_width"):
        GreenListWatermark(VOCAB, KEY, context_width=0)
    with pytest.raises(ValueError, match="input_ids"):
        wm(torch.zeros(2, 3, dtype=torch.long), torch.zeros(3, VOCAB))


def test_params_hold_a_key_id_never_the_key() -> None:
    wm = GreenListWatermark(VOCAB, KEY, gamma=0.3, delta=2.5, context_width=2)
    params = wm.params()
    dumped = json.dumps(params)
    assert KEY not in dumped and "7f3a" not in dumped
    assert params["key_id"] != GreenListWatermark(VOCAB, "other").params()["key_id"]
    assert {params[k] for k in ("gamma", "delta", "context_width", "vocab_size")} == {0.3, 2.5, 2, VOCAB}
    assert params["scheme"] == "kgw-greenlist-v1"
    again = GreenListWatermark.from_params(params, KEY)
    assert torch.equal(again.green_mask([3, 4]), wm.green_mask([3, 4]))
    with pytest.raises(ValueError, match="key_id"):
        GreenListWatermark.from_params(params, "wrong")
    with pytest.raises(ValueError, match="gamma"):
        GreenListWatermark.from_params({k: v for k, v in params.items() if k != "gamma"}, KEY)


def test_benchmark_section_with_a_custom_generator(model: GPT2LMHeadModel) -> None:
    """benchmarks/fidelity_watermark.watermark_section end to end, on the tiny model and a word tokenizer."""
    from benchmarks.fidelity_watermark import watermark_section

    def tokenize(text: str) -> list[int]:
        return [int(w[1:]) for w in text.split() if w[1:].isdigit() and len(w) > 1]

    calls = []

    def generate(prompts: list[str], processor, max_new_tokens: int) -> list[str]:
        calls.append(max_new_tokens)
        gen = torch.Generator().manual_seed(len(calls))
        ids = torch.randint(1, VOCAB - 1, (len(prompts), 3), generator=gen)
        with torch.no_grad():
            out = model.generate(
                ids,
                attention_mask=torch.ones_like(ids),
                do_sample=True,
                top_k=0,
                max_new_tokens=max_new_tokens,
                min_new_tokens=max_new_tokens,
                logits_processor=LogitsProcessorList([processor]),
                pad_token_id=0,
            )
        return [" ".join(f"w{t}" for t in row[3:]) for row in out.tolist()]

    rng = random.Random(9)
    human = [
        f"w{rng.randrange(1, VOCAB)} title\n" + " ".join(f"w{rng.randrange(1, VOCAB)}" for _ in range(70))
        for _ in range(300)
    ]
    result = watermark_section(
        "tiny",
        human,
        generate,
        tokenize=tokenize,
        vocab_size=VOCAB,
        key=KEY,
        batch_size=8,
        max_generated=16,
        lengths=(16, 64),
    )
    assert calls == [72, 72] and result["generated"]["texts"] == 16
    assert KEY not in json.dumps(result) and result["watermark"]["key_id"]
    for length in ("16", "64"):
        assert result["human"]["per_length"][length]["samples"] >= 300
        assert result["human"]["per_length"][length]["fpr_at_threshold"] <= 0.01
    assert result["detection"]["64"]["clean"]["rate_at_fpr1"] == 1.0
    assert result["detection"]["64"]["edit10"]["rate_at_fpr1"] >= 0.9
    assert 8 <= result["detection"]["64"]["edit20"]["n"] <= 16  # deletions can leave < 64 tokens
