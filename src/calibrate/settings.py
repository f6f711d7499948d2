"""Settings, read once at the edge from the environment (``CALIBRATE_*``) or a ``.env`` file."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE = Path("var") / "calibrate.db"
ROOT = Path(__file__).resolve().parents[2]
RUBRICS = ROOT / "rubrics"  # the shipped rubrics of a checkout
ANCHOR_SETS = ROOT / "anchor_sets"  # and their anchor sets


class Settings(BaseSettings):
    """Deployment settings; each field documents itself for ``calibrate --help`` and the README."""

    model_config = SettingsConfigDict(env_prefix="CALIBRATE_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default=f"sqlite:///{DEFAULT_DATABASE}",
        description="SQLAlchemy URL of the store: a SQLite file by default, "
        "postgresql://user:pass@host:port/db for a multi-user deployment.",
    )


def get_settings() -> Settings:
    return Settings()
