"""Start-up: a command imports only what its answer needs (not timed; the times are a benchmark,
``benchmarks/bench_startup.py``, docs/benchmarks.md "Command start-up").

``calibrate agreement FILE --json`` on a small file used to take 1.9 s on an idle machine, nearly
all of it importing the store (SQLAlchemy, SQLModel, Alembic) and ``scipy.stats``, which the
answer does not need. Which modules a fresh process imports is exact where a time is not, so the
property is pinned here: a heavy import coming back fails a test instead of slowing every
command silently.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import calibrate.services as services

# Never needed to analyse a file: the store and its database stack, the statistics modules of
# other commands (scipy.stats ~1 s: the quantiles come from scipy.special, imported when an
# interval is asked for; scipy.sparse is the rater model's), and the dashboard's libraries.
HEAVY = (
    "sqlalchemy",
    "sqlmodel",
    "alembic",
    "psycopg",
    "calibrate.store",
    "scipy.stats",
    "scipy.sparse",
    "scipy.optimize",
    "streamlit",
    "altair",
)

FOUR_ROWS = "submission,assessor,criterion,score\ns1,a,c,1\ns1,b,c,2\ns2,a,c,3\ns2,b,c,3\n"


def imported_by(args: list[str], cwd: Path) -> tuple[set[str], dict[str, Any]]:
    """The modules a fresh ``calibrate ARGS`` process imports (``python -X importtime``: one
    line per module on its first import) and its JSON output."""
    run = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "calibrate", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    modules = {
        line.rsplit("|", 1)[1].strip()
        for line in run.stderr.splitlines()
        if line.startswith("import time:") and "cumulative" not in line
    }
    return modules, json.loads(run.stdout)


def heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


def test_agreement_on_a_small_file_imports_no_heavy_library(tmp_path: Path) -> None:
    (tmp_path / "four.csv").write_text(FOUR_ROWS)
    modules, out = imported_by(["agreement", "four.csv", "--json"], tmp_path)
    # The check sees the imports (numpy and the agreement use case are always there), and the
    # command answered: 2 submissions x 2 assessors, alpha cross-checked.
    assert {"numpy", "calibrate.analyses.agreement", "krippendorff"} <= modules
    assert out["n_ratings"] == 4
    assert out["alpha_check"]["agrees"] is True
    assert heavy(modules) == []
    # No interval was asked for, so no distribution function either (not even scipy.special).
    assert "scipy" not in modules


def test_agreement_with_its_rubric_and_pass_decisions_imports_no_heavy_library(
    tmp_path: Path, demo_rubric_file: Path
) -> None:
    """The fuller file path: ``./rubrics`` read (pydantic, YAML), live ratings naming their
    rubric, so the pass decisions (the accuracy use case) apply."""
    rows = ["submission,assessor,criterion,score,rubric"]
    for submission, scores in {"s1": (3, 3, 3, 2), "s2": (1, 2, 3, 3)}.items():
        for (assessor, criterion), score in zip(
            [("a", "plan"), ("a", "reflect"), ("b", "plan"), ("b", "reflect")], scores, strict=True
        ):
            rows.append(f"{submission},{assessor},{criterion},{score},demo@1")
    (tmp_path / "live.csv").write_text("\n".join(rows) + "\n")
    assert demo_rubric_file.parent == tmp_path / "rubrics"
    modules, out = imported_by(["agreement", "live.csv", "--json"], tmp_path)
    assert {"calibrate.rubric", "calibrate.analyses.accuracy"} <= modules
    assert out["decisions"] is not None and out["decisions"]["n"] == 2
    assert heavy(modules) == []


def test_every_service_name_resolves_on_first_use() -> None:
    """``calibrate.services`` imports each name from its module when first asked for it
    (PEP 562): every name in ``__all__`` is that module's object, and listed by ``dir``."""
    for name in services.__all__:
        found = getattr(services, name)
        module = importlib.import_module(f"calibrate.services.{services._MODULE_OF[name]}")
        assert found is getattr(module, name), name
    assert set(services._MODULE_OF) == set(services.__all__)
    assert set(services.__all__) <= set(dir(services))
    from calibrate.services import agreement  # the form the doors use

    assert agreement is services.agreement
    with pytest.raises(AttributeError, match="has no attribute 'agrement'"):
        services.agrement  # noqa: B018
