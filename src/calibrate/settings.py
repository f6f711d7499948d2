"""Settings, read once at the edge from the environment (``CALIBRATE_*``) or a ``.env`` file,
and where the shipped rubrics and anchor sets are."""

from __future__ import annotations

import functools
import os
from importlib.resources import files
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from calibrate.errors import CalibrateError

DEFAULT_DATABASE = Path("var") / "calibrate.db"
ROOT = Path(__file__).resolve().parents[2]  # the checkout, when running from one

Content = Literal["rubrics", "anchor_sets"]


def shipped(content: Content) -> Path:
    """The folder of the shipped rubrics (``"rubrics"``) or anchor sets (``"anchor_sets"``).

    An installed package carries them as package data (``calibrate/content/<content>``, mapped
    from the repository's top-level folders by ``pyproject.toml``), found with
    :mod:`importlib.resources`; a checkout (or an editable install) has them at its root. Options
    naming a folder (``--rubrics``, ``--anchors``) always win over this default.

    Raises
    ------
    CalibrateError
        Neither place holds the folder (a broken installation).
    """
    packaged = files("calibrate").joinpath("content", content)
    if packaged.is_dir():
        return Path(str(packaged))
    if (ROOT / content).is_dir():
        return ROOT / content
    raise CalibrateError(
        f"the shipped {content.replace('_', ' ')} are missing: not in the installed package "
        f"({packaged}) nor in a checkout ({ROOT / content}); reinstall calibrate"
    )


class Settings(BaseSettings):
    """Deployment settings; each field documents itself for ``calibrate --help`` and the README."""

    model_config = SettingsConfigDict(
        env_prefix="CALIBRATE_", env_file=".env", extra="ignore", frozen=True
    )

    database_url: str = Field(
        default=f"sqlite:///{DEFAULT_DATABASE}",
        description="SQLAlchemy URL of the store: a SQLite file by default, "
        "postgresql://user:pass@host:port/db for a multi-user deployment.",
    )
    rules_file: Path | None = Field(
        default=None,
        description="YAML file of the issuer's departures from the programme rules' defaults "
        "(format in docs/rules.md); unset: the defaults.",
    )
    session_hours: float = Field(
        default=8.0,
        gt=0,
        le=24 * 30,
        description="Hours a login lasts (dashboard and CLI) before the account must log in again.",
    )
    login_failures: int = Field(
        default=5,
        ge=1,
        le=100,
        description="Failed logins allowed per user name within the login window; more and the "
        "name is locked until the window has passed (OWASP Authentication Cheat Sheet).",
    )
    login_window_minutes: float = Field(
        default=15.0,
        gt=0,
        le=24 * 60,
        description="The window, in minutes, over which failed logins are counted.",
    )
    demo: bool = Field(
        default=False,
        description="Demo mode: every page says it is a demo and offers the demo accounts; "
        "never set it on a store with real data.",
    )


def get_settings() -> Settings:
    """The settings in force, read again whenever the ``CALIBRATE_*`` environment, the working
    folder or its ``.env`` file change (reading them costs milliseconds, and the live queue asks
    on every call)."""
    try:
        dotenv: bytes | None = Path(".env").read_bytes()
    except OSError:
        dotenv = None
    ours = tuple(sorted((k.upper(), v) for k, v in os.environ.items()
                        if k.upper().startswith("CALIBRATE_")))  # fmt: skip
    return _settings(ours, os.getcwd(), dotenv)


@functools.lru_cache(maxsize=16)
def _settings(_env: object, _cwd: str, _dotenv: object) -> Settings:
    return Settings()
