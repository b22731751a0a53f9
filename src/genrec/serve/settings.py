"""Handing ``genrec serve``'s settings (``genrec.config.ServeConfig``) to uvicorn's worker processes."""

from __future__ import annotations

import json
import os

from genrec.config import ServeConfig, config_from_dict

ENV = "GENREC_SERVE_SETTINGS"  # the settings as JSON, for uvicorn worker processes


def to_env(config: ServeConfig) -> dict[str, str]:
    """The environment variable worker processes read ``config`` from."""
    return {ENV: config.model_dump_json()}


def settings_from_env() -> ServeConfig:
    """Settings passed to a worker process (``to_env``), or the defaults."""
    raw = os.environ.get(ENV)
    return config_from_dict(ServeConfig, json.loads(raw), ENV) if raw else ServeConfig()
