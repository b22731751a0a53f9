"""One small name registry for everything genrec picks by name: models, tokenizers, loaders, backends, checks.

``Registry[T]`` maps names to values (classes or factories). Values may live in modules that are
imported only when their name is first asked for (``modules``), so that ``genrec --help`` does
not load torch. An unknown name is a ``ValueError`` that lists the known ones.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar, overload

T = TypeVar("T")


class Registry(Generic[T]):
    """Names -> values of one kind (``kind`` names it in errors: "unknown model 'foo'; known: ...")."""

    def __init__(self, kind: str, modules: dict[str, str] | None = None) -> None:
        self.kind = kind
        self._values: dict[str, T] = {}
        self._modules: dict[str, str] = dict(modules or {})  # name -> module that registers it on import

    @overload
    def register(self, name: str) -> Callable[[T], T]: ...

    @overload
    def register(self, name: str, value: T) -> T: ...

    def register(self, name: str, value: T | None = None) -> T | Callable[[T], T]:
        """Register ``value`` under ``name``; without a value, a decorator that registers what it decorates."""
        if not name or name != name.strip():
            raise ValueError(f"a {self.kind} name must be a non-empty word, not {name!r}")
        if value is None:

            def decorate(obj: T) -> T:
                self._values[name] = obj
                return obj

            return decorate
        self._values[name] = value
        return value

    def get(self, name: str) -> T:
        """The value registered under ``name`` (importing its module first if needed)."""
        found = self.find(name)
        if found is None:
            raise ValueError(f"unknown {self.kind} {name!r}; known: {', '.join(self.names())}")
        return found

    def find(self, name: str) -> T | None:
        """The value registered under ``name``, or None."""
        if name not in self._values and name in self._modules:
            importlib.import_module(self._modules[name])
        return self._values.get(name)

    def pop(self, name: str, default: T | None = None) -> T | None:
        """Remove ``name`` (a registered value; lazy modules stay) and return its value, else ``default``."""
        return self._values.pop(name, default)

    def names(self) -> list[str]:
        """Every known name (registered or lazily importable), sorted."""
        return sorted(set(self._values) | set(self._modules))

    def __contains__(self, name: object) -> bool:
        return name in self._values or name in self._modules

    def __iter__(self) -> Iterator[str]:
        """Names in registration order (lazy ones not yet imported last)."""
        yield from self._values
        yield from (n for n in self._modules if n not in self._values)

    def __len__(self) -> int:
        return len(set(self._values) | set(self._modules))
