"""Models by name: created and loaded as "popularity", "itemknn", "sasrec", "tiger", "transition", "fusion"."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from genrec.config import apply_overrides
from genrec.registry import Registry

# Modules that register models on import; imported lazily so that torch loads only when needed.
MODELS: Registry[type] = Registry(
    "model",
    modules={
        "popularity": "genrec.models.popularity",
        "itemknn": "genrec.models.itemknn",
        "sasrec": "genrec.models.sasrec",
        "tiger": "genrec.models.tiger",
        "transition": "genrec.models.transition",
        "fusion": "genrec.models.fusion",
    },
)

T = TypeVar("T", bound=type)


def register_model(name: str) -> Callable[[T], T]:
    """Class decorator: make a Recommender available under ``name``."""

    def wrap(cls: T) -> T:
        cls.name = name  # type: ignore[attr-defined]
        MODELS.register(name, cls)
        return cls

    return wrap


def model_names() -> list[str]:
    """Names of all known models."""
    return MODELS.names()


def get_model_class(name: str) -> type:
    """The Recommender class registered under ``name``."""
    return MODELS.get(name)


def create_model(name: str, overrides: dict[str, Any] | list[str] | None = None) -> Any:
    """Instantiate model ``name`` with its default config plus ``overrides``."""
    cls: Any = get_model_class(name)
    return cls(apply_overrides(cls.config_class(), overrides))
