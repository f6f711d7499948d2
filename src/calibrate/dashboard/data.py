"""Cached access to the store for the dashboard pages (one engine per database URL).

Cached functions take the database URL as their first argument, so the cache follows the store
the process is pointed at (``CALIBRATE_DATABASE_URL``).
"""

from __future__ import annotations

from typing import Any

import streamlit as st
from sqlalchemy import Engine

from calibrate import store
from calibrate.settings import get_settings


def database_url() -> str:
    return get_settings().database_url


@st.cache_resource
def engine(url: str) -> Engine:
    """The migrated store at ``url``."""
    return store.open_store(url)


@st.cache_data(ttl=30)
def counts(url: str) -> dict[str, int]:
    return store.counts(engine=engine(url))


@st.cache_data(ttl=300)
def rubrics(url: str) -> list[dict[str, Any]]:
    return [r.to_dict() for r in store.stored_rubrics(engine=engine(url))]
