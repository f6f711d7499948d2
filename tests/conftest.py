"""Shared fixtures: a store on each backend, the shipped rubrics, small files to import."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from calibrate import store
from calibrate.access import Actor
from calibrate.cli import main
from calibrate.rubric import Rubric, load_rubric

ROOT = Path(__file__).resolve().parents[1]
OPERATOR = Actor.operator("test@tests")
"""The acting account of tests that are not about access: whoever holds the database."""
POSTGRES_URL = os.environ.get("CALIBRATE_TEST_POSTGRES_URL")
REQUIRE_POSTGRES = os.environ.get("CALIBRATE_REQUIRE_POSTGRES") == "1"

DEMO_RUBRIC = """\
id: demo
version: 1
title: Demo credential
competency: The educator plans and reflects.
levels:
  - {score: 1, label: Not met}
  - {score: 2, label: Progressing}
  - {score: 3, label: Demonstrated}
parts:
  - {id: plan, title: Research and plan}
  - {id: reflect, title: Share and reflect}
criteria:
  - id: plan
    title: Plans
    part: plan
    descriptors: {1: No plan., 2: A plan without evidence., 3: A plan built on evidence.}
  - id: reflect
    title: Reflects
    part: reflect
    descriptors: {1: No reflection., 2: Describes events., 3: Draws lessons for practice.}
pass_rule:
  every_criterion_at_least: Demonstrated
"""


@pytest.fixture(scope="session")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where browser tests keep their screenshots: ``CALIBRATE_SCREENSHOTS`` (``.ci/run`` sets
    ``artifacts/screenshots``, kept as CI artifacts), else a temporary folder."""
    chosen = os.environ.get("CALIBRATE_SCREENSHOTS")
    if not chosen:
        return tmp_path_factory.mktemp("screenshots")
    folder = Path(chosen)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(autouse=True)
def _private_session_file(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No test reads or writes the developer's saved CLI login (``calibrate login``)."""
    monkeypatch.setenv(
        "CALIBRATE_SESSION_FILE", str(tmp_path_factory.mktemp("session") / "session.json")
    )


def _reset_postgres(url: str) -> None:
    engine = sa.create_engine(store.normalise_url(url))
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL to an empty database: a SQLite file, and PostgreSQL when a server is given."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    if not POSTGRES_URL:
        if REQUIRE_POSTGRES:
            pytest.fail("CALIBRATE_REQUIRE_POSTGRES=1 but CALIBRATE_TEST_POSTGRES_URL is not set")
        pytest.skip("set CALIBRATE_TEST_POSTGRES_URL to run the PostgreSQL tests")
    _reset_postgres(POSTGRES_URL)
    yield POSTGRES_URL


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """A migrated store on each backend."""
    eng = store.open_store(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def demo_rubric_file(tmp_path: Path) -> Path:
    folder = tmp_path / "rubrics"
    folder.mkdir()
    path = folder / "demo.yaml"
    path.write_text(DEMO_RUBRIC, encoding="utf-8")
    return path


@pytest.fixture
def demo_rubric(demo_rubric_file: Path) -> Rubric:
    return load_rubric(demo_rubric_file)


@pytest.fixture
def loaded(engine: Engine, demo_rubric: Rubric) -> Engine:
    """A store holding the demo rubric."""
    store.import_definitions([demo_rubric], engine=engine)
    return engine


SetRules = Callable[[dict[str, Any]], None]


@pytest.fixture
def rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SetRules:
    """Set the programme rules in force (the ``CALIBRATE_RULES_FILE`` setting, read on every
    call)."""
    path = tmp_path / "rules.yaml"

    def set_rules(values: dict[str, Any]) -> None:
        path.write_text(json.dumps(values), encoding="utf-8")  # JSON is YAML
        monkeypatch.setenv("CALIBRATE_RULES_FILE", str(path))

    return set_rules


@dataclass
class Result:
    """What a ``calibrate`` run printed and its exit status."""

    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def calibrate(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., Result]:
    """Run ``calibrate ARGS`` in-process through the real entry point (exit status, streams),
    optionally on database ``db`` and in folder ``cwd``."""

    def run(*args: str, db: str | None = None, cwd: Path | None = None) -> Result:
        if db is not None:
            monkeypatch.setenv("CALIBRATE_DATABASE_URL", db)
        if cwd is not None:
            monkeypatch.chdir(cwd)
        monkeypatch.setattr(sys, "argv", ["calibrate", *args])
        capsys.readouterr()
        with pytest.raises(SystemExit) as exit_info:
            main()
        out = capsys.readouterr()
        code = exit_info.value.code
        return Result(code if isinstance(code, int) else 1, out.out, out.err)

    return run


def alembic(engine: Engine, action: str, revision: str) -> None:
    """Run an Alembic command (``upgrade``/``downgrade``) on the store."""
    from alembic import command
    from alembic.config import Config

    from calibrate.store.engine import MIGRATIONS

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        getattr(command, action)(config, revision)


def filled_at(engine: Engine, revision: str, fill: Callable[[Engine], object]) -> None:
    """A store at an old ``revision`` holding what ``fill`` writes with today's code: filled at
    head, then downgraded (today's code writes today's schema)."""
    store.migrate(engine)
    fill(engine)
    alembic(engine, "downgrade", revision)


def table_rows(engine: Engine, table: str) -> int:
    """Rows of one table, at any schema revision."""
    with engine.connect() as conn:
        return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())
