"""Test support for the service: the benchmark harness, with PostgreSQL tests skipped when its binaries are missing."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from benchmarks.serve_harness import (
    SERVE_DATA,
    SERVE_FAST,
    PostgresMissing,
    ServerProcess,
    bearer,
    free_port,
    fresh_pg_database,
    serve_args,
)
from benchmarks.serve_harness import postgres_server as _postgres_server

__all__ = [
    "SERVE_DATA",
    "SERVE_FAST",
    "ServerProcess",
    "bearer",
    "dump",
    "free_port",
    "fresh_pg_database",
    "serve_args",
]


def missing(reason: str) -> None:
    """Skip a test whose system package is not installed; fail instead under CI ($GENREC_CI), which must have it."""
    if os.environ.get("GENREC_CI"):
        pytest.fail(f"{reason}; CI must install it (make system-deps)")
    pytest.skip(reason)


@contextmanager
def postgres_server() -> Iterator[str]:
    """A throw-away PostgreSQL server; the test is skipped only when the binaries are not installed."""
    try:
        with _postgres_server() as url:
            yield url
    except PostgresMissing as err:
        missing(str(err))


def dump(obj: Any) -> str:
    """Compact JSON for assertion messages."""
    return json.dumps(obj, default=str)[:2000]
