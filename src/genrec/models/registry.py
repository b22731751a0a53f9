"""Name registry: models are created and loaded by name ("popularity", "itemknn", "sasrec", ...)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, TypeVar

from genrec.config import apply_overrides

_MODELS: dict[str, type] = {}
# Modules that register models on import; imported lazily so that torch loads only when needed.
_MODULES: dict[str, str] = {
    "popularity": "genrec.models.popularity",
    "itemknn": "genrec.models.itemknn",
    "sasrec": "genrec.models.sasrec",
    "tiger": "genrec.models.tiger",
    "transition": "genrec.models.transition",
    "fusion": "genrec.models.fusion",
}

T = TypeVar("T", bound=type)


def register_model(name: str) -> Callable[[T], T]:
    """Class decorator: make a Recommender available under ``name``."""

    def wrap(cls: T) -> T:
        cls.name = name  # type: ignore[attr-defined]
        _MODELS[name] = cls
        return cls

    return wrap


def model_names() -> list[str]:
    """Names of all known models."""
    return sorted(set(_MODELS) | set(_MODULES))


def get_model_class(name: str) -> type:
    """The Recommender class registered under ``name``."""
    if name not in _MODELS and name in _MODULES:
        importlib.import_module(_MODULES[name])
    try:
        return _MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(model_names())}") from None


def create_model(name: str, overrides: dict[str, Any] | list[str] | None = None) -> Any:
    """Instantiate model ``name`` with its default config plus ``overrides``."""
    cls: Any = get_model_class(name)
    return cls(apply_overrides(cls.config_class(), overrides))
