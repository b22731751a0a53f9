"""Settings of ``genrec serve``: one pydantic model, from the command line or the environment."""

from __future__ import annotations

import json
import os
from typing import Any

from pydantic import BaseModel, Field

ENV = "GENREC_SERVE_SETTINGS"  # the settings as JSON, for uvicorn worker processes


class ServeSettings(BaseModel):
    """What the server loads and how it serves it."""

    dataset: str = Field(default="synthetic", description="dataset spec: synthetic, a stored name or KIND:PATH")
    dataset_options: dict[str, Any] = Field(default_factory=dict, description="loader / synthetic options")
    store: str | None = Field(default=None, description="DuckDB file holding the datasets (default: $GENREC_HOME)")
    db: str | None = Field(
        default=None, description="database URL for users' data (default: $GENREC_DB_URL or the store)"
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    workers: int = Field(default=1, ge=1, le=64, description="server processes (more than one needs PostgreSQL)")
    loop: bool = Field(default=True, description="build the generative loop (off: recommendations only)")
    overrides: list[str] = Field(default_factory=list, description="loop settings part.key=value (as genrec chat)")
    recommender: str | None = Field(default=None, description="model behind /recommendations (default: the loop's)")
    model_dir: str | None = Field(
        default=None, description="a saved model for /recommendations instead of training one"
    )
    threads: int = Field(default=1, ge=1, le=64, description="torch threads of the recommendations model")
    batch_max: int = Field(default=64, ge=1, le=4096, description="most requests scored in one forward pass")
    batch_wait_ms: float = Field(default=2.0, ge=0.0, le=1000.0, description="longest wait to fill a batch")
    turn_workers: int = Field(default=1, ge=1, le=16, description="turns of the loop run at once (one pipeline)")
    turn_queue: int = Field(default=32, ge=1, le=10_000, description="turns waiting at most; more get 429")
    session_hours: float = Field(default=12.0, gt=0, le=24 * 30)
    secure_cookies: bool = Field(default=False, description="mark cookies Secure (set behind HTTPS)")
    bootstrap_admin: bool = Field(default=True, description="create and print an admin key when there is none")
    log_impressions: bool = Field(default=True, description="store every recommendation list shown")

    def to_env(self) -> dict[str, str]:
        """The environment variable worker processes read these settings from."""
        return {ENV: self.model_dump_json()}


def settings_from_env() -> ServeSettings:
    """Settings passed to a worker process (``ServeSettings.to_env``), or the defaults."""
    raw = os.environ.get(ENV)
    return ServeSettings.model_validate(json.loads(raw)) if raw else ServeSettings()
