"""Cached access to the store for the dashboard pages (one engine per process)."""

from __future__ import annotations

from typing import Any

import streamlit as st
from sqlalchemy import Engine

from calibrate import store
from calibrate.rubric import Rubric


@st.cache_resource
def engine() -> Engine:
    """The store named by ``CALIBRATE_DATABASE_URL`` (default SQLite file), migrated."""
    return store.open_store()


@st.cache_data(ttl=30)
def counts() -> dict[str, int]:
    return store.counts(engine=engine())


@st.cache_data(ttl=300)
def rubrics() -> list[dict[str, Any]]:
    return [r.to_dict() for r in store.stored_rubrics(engine=engine())]


def rubric_objects() -> list[Rubric]:
    return store.stored_rubrics(engine=engine())
