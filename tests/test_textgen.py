"""The conditional item-text generator: tokenizer, training, conditioning, sampling, persistence."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("tokenizers")

from genrec.config import SyntheticConfig, TextGenConfig  # noqa: E402
from genrec.data.synthetic import generate as synthetic  # noqa: E402
from genrec.generation.intent import Guidance  # noqa: E402
from genrec.generation.textgen import (  # noqa: E402
    DESC,
    EOS,
    SPECIAL_TOKENS,
    ItemTokenizer,
    TextGenerator,
    guidance_condition,
    item_corpus,
    mix_conditions,
    split_text,
)

DIM = 384
FRUIT = ("apple", "pear", "plum", "cherry", "mango", "peach")
TOOLS = ("hammer", "drill", "wrench", "chisel", "pliers", "saw")


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> None:
    torch.set_num_threads(1)


def tiny_config(**changes: object) -> TextGenConfig:
    base = dict(
        vocab_size=400,
        max_length=40,
        dim=48,
        layers=2,
        heads=2,
        dropout=0.0,
        cond_tokens=2,
        lr=5e-3,
        batch_size=32,
        epochs=6,
        seed=0,
        threads=1,
        progress=False,
        max_new_tokens=30,
    )
    base.update(changes)
    return TextGenConfig(**base)  # type: ignore[arg-type]


def two_topic_corpus(n: int = 240, seed: int = 0) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Texts about fruit (topic 0) or tools (topic 1), each topic with its own guidance direction."""
    rng = np.random.default_rng(seed)
    directions = rng.normal(size=(2, DIM))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    texts, topics = [], []
    for i in range(n):
        topic = i % 2
        words = FRUIT if topic == 0 else TOOLS
        a, b, c = rng.choice(words, size=3, replace=False)
        brand = rng.choice(["Orto", "Velda", "Kimbo"])
        texts.append(f"{brand} {a.title()} and {b.title()} Set\nA fine {a} with {c}, made by {brand}.")
        topics.append(topic)
    cond = directions[topics] + rng.normal(scale=0.02, size=(n, DIM))
    cond /= np.linalg.norm(cond, axis=1, keepdims=True)
    return texts, cond.astype(np.float32), directions.astype(np.float32)


@pytest.fixture(scope="module")
def topic_model() -> tuple[TextGenerator, np.ndarray, list[dict]]:
    texts, cond, directions = two_topic_corpus()
    gen = TextGenerator(tiny_config(epochs=30))
    history = gen.fit(texts, cond)
    return gen, directions, history


@pytest.fixture(scope="module")
def catalog_texts() -> list[str]:
    return item_corpus(synthetic(SyntheticConfig(n_items=200, n_users=30, seed=3)))


# ---- tokenizer ---------------------------------------------------------------------------------
def test_tokenizer_round_trips_the_catalog(catalog_texts: list[str]) -> None:
    tok = ItemTokenizer.train(catalog_texts, 600)
    assert tok.vocab_size <= 600
    for text in catalog_texts:
        title, description = split_text(text)
        assert tok.decode(tok.encode(title)) == title
        assert tok.decode(tok.encode(description)) == description
        stream = tok.sequence(text, 10_000)
        assert stream[:2] == [1, 3] and stream[-1] == EOS and stream.count(DESC) == 1
        parsed_title, parsed_description, ids = tok.parse(stream)
        assert (parsed_title, parsed_description) == (title, description)
        assert ids == tok.content_ids(text)
    # BPE learned real merges: far fewer tokens than bytes
    assert len(tok.content_ids(catalog_texts[0])) < len(catalog_texts[0].encode()) / 2


def test_special_token_strings_in_a_text_are_plain_text(catalog_texts: list[str]) -> None:
    tok = ItemTokenizer.train(catalog_texts, 600)
    ids = tok.encode("a <desc> and <eos> inside")
    assert not set(ids) & set(range(len(SPECIAL_TOKENS)))
    assert tok.decode(ids) == "a <desc> and <eos> inside"


def test_tokenizer_survives_json(catalog_texts: list[str]) -> None:
    tok = ItemTokenizer.train(catalog_texts, 600)
    again = ItemTokenizer.from_json(tok.to_json())
    assert again.content_ids(catalog_texts[5]) == tok.content_ids(catalog_texts[5])


# ---- training ----------------------------------------------------------------------------------
def test_training_lowers_the_loss(catalog_texts: list[str]) -> None:
    gen = TextGenerator(tiny_config(max_length=96, epochs=3, batch_size=16, lr=1e-2, vocab_size=600))
    cond = np.random.default_rng(0).normal(size=(len(catalog_texts), DIM)).astype(np.float32)
    history = gen.fit(catalog_texts, cond)
    assert [h["epoch"] for h in history] == [1, 2, 3] and history[-1]["stop"] == "epochs"
    assert history[2]["loss"] < history[1]["loss"] < history[0]["loss"]
    assert gen.loss(catalog_texts[:50], cond[:50]) < 0.8 * np.log(gen.vocab_size)  # well below uniform


def test_time_budget_stops_training(catalog_texts: list[str]) -> None:
    gen = TextGenerator(tiny_config(epochs=50, time_budget_seconds=0.5))
    history = gen.fit(catalog_texts)
    assert history[-1]["stop"] == "time_budget" and len(history) < 50


def test_an_interrupted_run_resumes_to_the_same_model(
    catalog_texts: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Trained by genrec.train: a crash in epoch 3 and a restart from the checkpoint give the uninterrupted
    run's history (loss, lr of the warm-up + cosine schedule) and the same samples."""
    import genrec.generation.textgen as textgen

    config = tiny_config(epochs=4, batch_size=64, warmup_steps=3)
    cond = np.random.default_rng(0).normal(size=(len(catalog_texts), DIM)).astype(np.float32)
    straight = TextGenerator(config)
    straight.fit(catalog_texts, cond)

    resumable = config.replace(checkpoint_dir=str(tmp_path / "ckpt"))
    real, calls = textgen._pad_batch, []

    def crashing(seqs):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) == 8:  # 4 batches an epoch: in the middle of epoch 2
            raise KeyboardInterrupt("simulated crash")
        return real(seqs)

    monkeypatch.setattr(textgen, "_pad_batch", crashing)
    with pytest.raises(KeyboardInterrupt):
        TextGenerator(resumable).fit(catalog_texts, cond)
    monkeypatch.setattr(textgen, "_pad_batch", real)
    resumed = TextGenerator(resumable)
    resumed.fit(catalog_texts, cond)

    def untimed(history: list[dict]) -> list[dict]:
        return [{k: v for k, v in h.items() if k != "seconds"} for h in history]

    assert untimed(resumed.history) == untimed(straight.history)
    a = [t.text for t in straight.generate(cond[:4], n_per_cond=2, seed=5)]
    assert [t.text for t in resumed.generate(cond[:4], n_per_cond=2, seed=5)] == a


def test_the_condition_steers_the_content(topic_model: tuple[TextGenerator, np.ndarray, list]) -> None:
    gen, directions, history = topic_model
    assert history[-1]["loss"] < history[0]["loss"]

    def topic_words(text: str) -> tuple[int, int]:
        words = set(text.lower().replace(",", " ").replace(".", " ").split())
        return len(words & set(FRUIT)), len(words & set(TOOLS))

    for topic, (mine, other) in enumerate([(0, 1), (1, 0)]):
        outs = gen.generate(directions[topic], n_per_cond=16, seed=7)
        counts = np.array([topic_words(o.text) for o in outs]).sum(axis=0)
        assert counts[mine] > 4 * max(counts[other], 1), (topic, counts, [o.text for o in outs[:3]])


def test_unconditional_generation_works(topic_model: tuple[TextGenerator, np.ndarray, list]) -> None:
    gen, _, _ = topic_model
    outs = gen.generate(None, n_per_cond=6, seed=1)
    assert len(outs) == 6 and all(o.title for o in outs)


def test_classifier_free_guidance_runs(topic_model: tuple[TextGenerator, np.ndarray, list]) -> None:
    gen, directions, _ = topic_model
    plain = gen.generate(directions[:1], n_per_cond=3, seed=2)
    guided = gen.generate(directions[:1], n_per_cond=3, seed=2, guidance_scale=2.0)
    assert len(guided) == 3 and [g.text for g in guided] != [p.text for p in plain]


# ---- sampling ----------------------------------------------------------------------------------
def test_same_seed_same_texts(topic_model: tuple[TextGenerator, np.ndarray, list]) -> None:
    gen, directions, _ = topic_model
    a = gen.generate(directions, n_per_cond=4, seed=11)
    b = gen.generate(directions, n_per_cond=4, seed=11)
    c = gen.generate(directions, n_per_cond=4, seed=12)
    assert [x.token_ids for x in a] == [x.token_ids for x in b]
    assert [x.token_ids for x in a] != [x.token_ids for x in c]
    assert len(a) == 8 and all(x.seconds > 0 for x in a)


def test_outputs_are_parsed_into_fields(topic_model: tuple[TextGenerator, np.ndarray, list]) -> None:
    gen, directions, _ = topic_model
    for out in gen.generate(directions, n_per_cond=3, seed=3, temperature=0.5):
        assert out.text == f"{out.title}\n{out.description}".strip()
        assert "\n" not in out.title and out.title
        assert not set(out.token_ids) & set(range(len(SPECIAL_TOKENS)))
        assert gen.tokenize(out.text) == gen.tokenizer.content_ids(out.text)


def test_greedy_is_the_same_for_any_seed(topic_model: tuple[TextGenerator, np.ndarray, list]) -> None:
    gen, directions, _ = topic_model
    a = gen.generate(directions, temperature=0.0, seed=1)
    b = gen.generate(directions, temperature=0.0, seed=99)
    assert [x.text for x in a] == [x.text for x in b]


def test_prefix_is_forced(topic_model: tuple[TextGenerator, np.ndarray, list]) -> None:
    gen, directions, _ = topic_model
    outs = gen.generate(directions[1], n_per_cond=4, seed=5, prefix="Velda Hammer")
    assert all(o.title.startswith("Velda Hammer") for o in outs)
    assert all(o.prefix_tokens == len(gen.tokenizer.encode("Velda Hammer")) for o in outs)
    with pytest.raises(ValueError, match="newline"):
        gen.generate(directions[1], prefix="a\nb")


def test_a_given_title_is_kept_and_only_the_description_is_written(
    topic_model: tuple[TextGenerator, np.ndarray, list],
) -> None:
    gen, directions, _ = topic_model
    title = "Kimbo Hammer and Saw Set"
    outs = gen.generate(directions[1], n_per_cond=4, seed=2, title=title)
    assert all(o.title == title for o in outs)
    assert all(o.prefix_tokens == len(gen.tokenizer.encode(title)) for o in outs)
    assert all(o.token_ids[: o.prefix_tokens] == gen.tokenizer.encode(title) for o in outs)
    assert any(o.description for o in outs)
    with pytest.raises(ValueError, match="title"):
        gen.generate(directions[1], title=title, prefix="Kimbo")
    with pytest.raises(ValueError, match="title"):
        gen.generate(directions[1], title="a\nb")


def test_a_given_description_start_is_kept_and_continued(topic_model: tuple[TextGenerator, np.ndarray, list]) -> None:
    gen, directions, _ = topic_model
    title, start = "Kimbo Hammer and Saw Set", "A fine hammer with saw."
    outs = gen.generate(directions[1], n_per_cond=4, seed=2, title=title, description=start, min_description_tokens=3)
    assert all(o.title == title and o.description.startswith(start) for o in outs)
    assert all(len(o.description) > len(start) for o in outs)  # something was added
    assert all(o.prefix_tokens == len(gen.tokenizer.encode(title)) + len(gen.tokenizer.encode(start)) for o in outs)
    with pytest.raises(ValueError, match="needs title"):
        gen.generate(directions[1], description=start)


def test_min_description_tokens_keeps_the_description_going(
    topic_model: tuple[TextGenerator, np.ndarray, list],
) -> None:
    gen, directions, _ = topic_model
    title = "Kimbo Hammer and Saw Set"
    free = gen.generate(directions[1], n_per_cond=8, seed=3, title=title)
    short = min(len(o.token_ids) - o.prefix_tokens for o in free)
    wanted = short + 6
    outs = gen.generate(directions[1], n_per_cond=8, seed=3, title=title, min_description_tokens=wanted)
    assert all(len(o.token_ids) - o.prefix_tokens >= wanted for o in outs)
    with pytest.raises(ValueError, match="min_description_tokens"):
        gen.generate(directions[1], min_description_tokens=-1)


def test_logits_processor_is_honoured(topic_model: tuple[TextGenerator, np.ndarray, list]) -> None:
    gen, directions, _ = topic_model
    free = gen.generate(directions, n_per_cond=8, seed=4)
    counts = np.bincount([t for o in free for t in o.token_ids], minlength=gen.vocab_size)
    banned = int(counts.argmax())  # the most used token: it would certainly show up
    seen_shapes = []

    def ban(input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        seen_shapes.append((tuple(input_ids.shape), tuple(scores.shape)))
        scores = scores.clone()
        scores[:, banned] = -float("inf")
        return scores

    outs = gen.generate(directions, n_per_cond=8, seed=4, logits_processors=[ban])
    assert all(banned not in o.token_ids for o in outs)
    assert seen_shapes[0] == ((16, 2), (16, gen.vocab_size))  # <bos> <title> so far, full vocabulary
    assert seen_shapes[1][0] == (16, 3)


def test_generation_stops_at_max_length(topic_model: tuple[TextGenerator, np.ndarray, list]) -> None:
    gen, directions, _ = topic_model

    def no_eos(input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        scores = scores.clone()
        scores[:, EOS] = -float("inf")
        return scores

    outs = gen.generate(directions, max_new_tokens=1000, logits_processors=[no_eos], seed=0)
    # every position was used: <bos> <title>, the sampled tokens and (usually) one <desc> fill max_length
    max_length = gen.config.max_length
    assert all(max_length - 3 <= len(o.token_ids) <= max_length - 2 for o in outs)
    short = gen.generate(directions, max_new_tokens=5, logits_processors=[no_eos], seed=0)
    assert all(len(o.token_ids) >= 4 and len(o.token_ids) <= 5 for o in short)


def test_a_processor_that_bans_everything_is_an_error(topic_model: tuple[TextGenerator, np.ndarray, list]) -> None:
    gen, directions, _ = topic_model
    with pytest.raises(RuntimeError, match="banned"):
        gen.generate(directions, logits_processors=[lambda ids, s: torch.full_like(s, -float("inf"))])


# ---- persistence -------------------------------------------------------------------------------
def test_save_load_gives_identical_samples(topic_model: tuple[TextGenerator, np.ndarray, list], tmp_path: Path) -> None:
    gen, directions, _ = topic_model
    path = gen.save(tmp_path / "textgen")
    loaded = TextGenerator.load(path)
    assert loaded.config == gen.config
    assert loaded.history == json.loads(json.dumps(gen.history))
    before = gen.generate(directions, n_per_cond=4, seed=21)
    after = loaded.generate(directions, n_per_cond=4, seed=21)
    assert [a.text for a in after] == [b.text for b in before]
    assert loaded.tokenize(before[0].text) == gen.tokenize(before[0].text)


def test_load_rejects_other_formats(topic_model: tuple[TextGenerator, np.ndarray, list], tmp_path: Path) -> None:
    gen, _, _ = topic_model
    path = gen.save(tmp_path / "textgen")
    meta = json.loads((path / "textgen.json").read_text())
    meta["format_version"] = 999
    (path / "textgen.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="format_version"):
        TextGenerator.load(path)
    with pytest.raises(FileNotFoundError, match="textgen.json"):
        TextGenerator.load(tmp_path / "nowhere")


# ---- bad input and guidance helpers ------------------------------------------------------------
def test_bad_inputs_give_clear_errors(topic_model: tuple[TextGenerator, np.ndarray, list]) -> None:
    gen, directions, _ = topic_model
    texts = ["Title one\nbody", "Title two\nbody"]
    fresh = TextGenerator(tiny_config())
    with pytest.raises(ValueError, match="empty"):
        fresh.fit([], np.zeros((0, DIM), dtype=np.float32))
    with pytest.raises(ValueError, match=r"shape \[n, 384\]"):
        fresh.fit(texts, np.ones((2, 16), dtype=np.float32))
    with pytest.raises(ValueError, match="rows"):
        fresh.fit(texts, np.ones((3, DIM), dtype=np.float32))
    with pytest.raises(ValueError, match="NaN"):
        fresh.fit(texts, np.full((2, DIM), np.nan, dtype=np.float32))
    with pytest.raises(ValueError, match=r"texts\[1\] has an empty title"):
        fresh.fit(["ok", "  \n  "])
    with pytest.raises(TypeError, match="not one string"):
        fresh.fit("one string")
    with pytest.raises(RuntimeError, match="not trained"):
        fresh.generate(None)
    with pytest.raises(ValueError, match=r"shape \[n, 384\]"):
        gen.generate(np.ones((2, 10), dtype=np.float32))
    with pytest.raises(ValueError, match="all-zero"):
        gen.generate(np.zeros((1, DIM), dtype=np.float32))
    with pytest.raises(ValueError, match="top_p"):
        gen.generate(directions, top_p=0.0)
    with pytest.raises(ValueError, match="vocab_size"):
        TextGenerator(tiny_config(vocab_size=100)).fit(texts)


def test_guidance_mixing() -> None:
    rng = np.random.default_rng(0)
    a, b = (v / np.linalg.norm(v) for v in rng.normal(size=(2, DIM)))
    mixed = mix_conditions([a, b], [0.8, 0.2])
    assert np.isclose(np.linalg.norm(mixed), 1.0, atol=1e-5)
    assert float(mixed @ a) > float(mixed @ b)
    assert guidance_condition(Guidance()) is None
    only_user = guidance_condition(Guidance(instruction=a, user=b), {"instruction": 0.0})
    assert np.allclose(only_user, b, atol=1e-6)
    with pytest.raises(ValueError, match="unknown guidance"):
        guidance_condition(Guidance(user=b), {"mood": 1.0})
    with pytest.raises(ValueError, match="zero"):
        mix_conditions([a, a], [1.0, -1.0])


def test_green_list_watermark_plugs_in(topic_model: tuple[TextGenerator, np.ndarray, list]) -> None:
    watermark_module = pytest.importorskip("genrec.fidelity.watermark")
    gen, directions, _ = topic_model
    mark = watermark_module.GreenListWatermark(gen.vocab_size, key="test-key", delta=4.0)
    marked = gen.generate(directions, n_per_cond=8, seed=9, logits_processors=[mark])
    plain = gen.generate(directions, n_per_cond=8, seed=9)
    z_marked = np.mean([mark.detect(gen.tokenize(o.text)).z for o in marked])
    z_plain = np.mean([mark.detect(gen.tokenize(o.text)).z for o in plain])
    # templated texts leave few free choices, so the shift is modest but clear (about +1.5 to +2 here)
    assert z_marked > z_plain + 1.0, (z_marked, z_plain)
