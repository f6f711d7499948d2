"""The dashboard with Streamlit's AppTest: the Overview renders on an empty and on a loaded store
(logged in as the issuer's administrator)."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from calibrate import store
from tests.conftest import ROOT
from tests.test_dashboard_pages import ADMIN, PASSWORD, add_admin, open_page


def run_app(monkeypatch: pytest.MonkeyPatch, url: str) -> AppTest:
    add_admin(url)
    return open_page(monkeypatch, url, "overview", ADMIN, PASSWORD)


def test_overview_on_empty_store(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    at = run_app(monkeypatch, f"sqlite:///{tmp_path / 'empty.db'}")
    assert at.title[0].value == "calibrate"
    assert [m.label for m in at.metric] == [
        "Rubric versions",
        "Anchor sets",
        "Assessors",
        "Ratings",
    ]
    assert [m.value for m in at.metric] == ["0", "0", "0", "0"]
    assert "calibrate demo" in at.info[0].value


def test_overview_lists_rubrics(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    engine = store.open_store(url)
    store.import_definition_dirs(ROOT / "rubrics", ROOT / "anchor_sets", engine=engine)
    n = store.counts(engine=engine)
    engine.dispose()
    at = run_app(monkeypatch, url)
    assert at.metric[0].value == str(n["rubric_version"])
    assert at.metric[1].value == str(n["anchor_set"])
    labels = [e.label for e in at.expander]
    assert any("crsel-intro@1" in label for label in labels)
    assert len(labels) == n["rubric_version"]
