"""Backend names to factories: ``create_backend(LLMConfig(model=...))`` picks the implementation."""

from __future__ import annotations

from collections.abc import Callable

from genrec.config import LLMConfig
from genrec.llm.base import LLMBackend
from genrec.llm.local import DEFAULT_MODEL, SMOLLM2_NAME, TransformersBackend

BackendFactory = Callable[[LLMConfig], LLMBackend]

_FACTORIES: dict[str, BackendFactory] = {
    DEFAULT_MODEL: TransformersBackend,
    SMOLLM2_NAME: TransformersBackend,
}


def register_backend(name: str, factory: BackendFactory) -> None:
    """Make ``LLMConfig(model=name)`` build its backend with ``factory``."""
    if not name.strip():
        raise ValueError("a backend name must not be empty")
    _FACTORIES[name.strip().lower()] = factory


def backend_names() -> list[str]:
    """The registered backend names (any other model value is read as a local transformers folder)."""
    return sorted(_FACTORIES)


def create_backend(config: LLMConfig | None = None) -> LLMBackend:
    """The backend for ``config.model``: a registered name, else a transformers model folder (loaded lazily)."""
    config = config or LLMConfig()
    factory = _FACTORIES.get(config.model.strip().lower(), TransformersBackend)
    return factory(config)
