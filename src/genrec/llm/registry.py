"""Backend names to factories: ``create_backend(LLMConfig(model=...))`` picks the implementation."""

from __future__ import annotations

from collections.abc import Callable

from genrec.config import LLMConfig
from genrec.llm.base import LLMBackend
from genrec.llm.local import DEFAULT_MODEL, SMOLLM2_NAME, TransformersBackend
from genrec.registry import Registry

BackendFactory = Callable[[LLMConfig], LLMBackend]

_FACTORIES: Registry[BackendFactory] = Registry("LLM backend")
_FACTORIES.register(DEFAULT_MODEL, TransformersBackend)
_FACTORIES.register(SMOLLM2_NAME, TransformersBackend)


def register_backend(name: str, factory: BackendFactory) -> None:
    """Make ``LLMConfig(model=name)`` build its backend with ``factory``."""
    if not name.strip():
        raise ValueError("a backend name must not be empty")
    _FACTORIES.register(name.strip().lower(), factory)


def backend_names() -> list[str]:
    """The registered backend names (any other model value is read as a local transformers folder)."""
    return _FACTORIES.names()


def create_backend(config: LLMConfig | None = None) -> LLMBackend:
    """The backend for ``config.model``: a registered name, else a transformers model folder (loaded lazily)."""
    config = config or LLMConfig()
    factory = _FACTORIES.find(config.model.strip().lower()) or TransformersBackend
    return factory(config)
