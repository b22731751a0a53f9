"""The LLM backend interface: plain generation, chat, and JSON output validated against a schema."""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from genrec.llm.grammar import Grammar

#: A logits processor as in Hugging Face transformers: (input_ids [B, T], scores [B, V]) -> scores.
LogitsProcessorFn = Callable[[Any, Any], Any]
M = TypeVar("M", bound=BaseModel)


@dataclass
class Message:
    """One chat turn."""

    role: str  # "system", "user" or "assistant"
    content: str


@dataclass
class Generation:
    """What a backend produced: the text and the generated token ids (for watermark detection)."""

    text: str
    token_ids: list[int] = field(default_factory=list)
    seconds: float = 0.0


class StructuredOutputError(RuntimeError):
    """The model did not produce JSON matching the schema within the allowed attempts."""

    def __init__(self, schema: str, attempts: int, last_output: str, errors: str) -> None:
        super().__init__(
            f"the LLM gave no valid {schema} after {attempts} attempt(s); last error: {errors}; "
            f"last output: {last_output[:300]!r}"
        )
        self.last_output = last_output
        self.errors = errors


class LLMBackend(ABC):
    """A text generator behind one small interface; implementations: genrec.llm.local."""

    name: str = "llm"

    @abstractmethod
    def generate(
        self,
        prompt: str,
        *,
        max_new_tokens: int = 128,
        temperature: float = 0.0,
        top_p: float = 1.0,
        seed: int | None = None,
        logits_processors: Sequence[LogitsProcessorFn] = (),
        stop: Sequence[str] = (),
    ) -> Generation:
        """Continue ``prompt`` (raw text, no chat template); temperature 0 is greedy."""

    @abstractmethod
    def chat(
        self,
        messages: Sequence[Message],
        *,
        max_new_tokens: int = 256,
        temperature: float = 0.0,
        top_p: float = 1.0,
        seed: int | None = None,
        logits_processors: Sequence[LogitsProcessorFn] = (),
    ) -> Generation:
        """Answer the last user message, applying the model's chat template."""

    @abstractmethod
    def tokenize(self, text: str) -> list[int]:
        """Token ids of ``text`` (no special tokens), e.g. for watermark detection."""

    def structured(
        self,
        messages: Sequence[Message],
        schema: type[M],
        *,
        attempts: int = 3,
        max_new_tokens: int = 256,
        seed: int | None = 0,
    ) -> M:
        """Ask for JSON matching ``schema``; on invalid output retry with the error shown to the model.

        The first attempt is greedy, later ones sample (temperature 0.7, seed + attempt).
        """
        if attempts < 1:
            raise ValueError(f"attempts must be >= 1, got {attempts}")
        base = self.structured_messages(messages, schema)
        history = base
        last, errors = "", ""
        for attempt in range(attempts):
            last = self.structured_answer(
                history,
                schema,
                max_new_tokens=max_new_tokens,
                temperature=0.0 if attempt == 0 else 0.7,
                seed=None if seed is None else seed + attempt,
            )
            try:
                return schema.model_validate(extract_json(last))
            except (ValueError, ValidationError) as exc:
                errors = str(exc).replace("\n", " ")[:500]
                history = [
                    *base,
                    Message("assistant", last),
                    Message("user", f"That was not valid. Error: {errors}. Reply with only the JSON object."),
                ]
        raise StructuredOutputError(schema.__name__, attempts, last, errors)

    def grammar_json(
        self, messages: Sequence[Message], grammar: Grammar, *, max_new_tokens: int = 200
    ) -> Generation | None:
        """Greedy JSON answer to ``messages`` decoded under ``grammar`` (``genrec.llm.grammar``): every
        token the model picks keeps the text inside the grammar, so the answer always parses. None when
        the backend cannot constrain its decoding (callers fall back to ``structured``)."""
        return None

    def structured_messages(self, messages: Sequence[Message], schema: type[BaseModel]) -> list[Message]:
        """The conversation a structured request starts from; backends may add a note on the schema."""
        return list(messages)

    def structured_answer(
        self,
        history: Sequence[Message],
        schema: type[BaseModel],
        *,
        max_new_tokens: int,
        temperature: float,
        seed: int | None,
    ) -> str:
        """One attempt's raw answer to ``history``, to be parsed as JSON."""
        return self.chat(history, max_new_tokens=max_new_tokens, temperature=temperature, seed=seed).text


def extract_json(text: str) -> Any:
    """Parse the first JSON object in ``text`` (models often wrap it in prose or code fences)."""
    fenced = re.search(r"```(?:json)?\s*(.*?)```", text, re.S)
    if fenced:
        text = fenced.group(1)
    start = text.find("{")
    if start < 0:
        raise ValueError("no JSON object in the output")
    decoder = json.JSONDecoder()
    obj, _ = decoder.raw_decode(text[start:])
    return obj
