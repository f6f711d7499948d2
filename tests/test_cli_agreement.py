"""``calibrate agreement``: text and JSON output, per criterion and pooled, clear errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from calibrate.cli import app
from calibrate.stats.agreement import krippendorff_alpha
from tests.conftest import Result

runner = CliRunner()

LONG_HEADER = "submission,assessor,criterion,score\n"


@pytest.fixture
def long_csv(tmp_path: Path) -> Path:
    """40 submissions x 2 criteria, 2-3 of 6 assessors each, scores 1-4."""
    rng = np.random.default_rng(0)
    lines = [LONG_HEADER]
    for s in range(40):
        who = rng.choice(6, int(rng.integers(2, 4)), replace=False)
        for criterion in ("plan", "reflect"):
            truth = int(rng.integers(1, 5))
            for a in who:
                score = int(np.clip(truth + rng.integers(-1, 2), 1, 4))
                lines.append(f"s{s},a{a},{criterion},{score}\n")
    path = tmp_path / "ratings.csv"
    path.write_text("".join(lines))
    return path


@pytest.fixture
def wide_csv(tmp_path: Path) -> Path:
    path = tmp_path / "wide.csv"
    path.write_text("unit,ann,bob\nu1,1,1\nu2,2,3\nu3,3,3\nu4,4,4\nu5,2,2\nu6,1,2\n")
    return path


def test_json_per_criterion_and_pooled(long_csv: Path) -> None:
    result = runner.invoke(app, ["agreement", str(long_csv), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert set(payload["criteria"]) == {"plan", "reflect"}
    assert payload["n_units"] == 80  # pooled: (submission, criterion) pairs
    assert payload["n_raters"] == 6
    for name, crit in payload["criteria"].items():
        assert crit["n_units"] == 40
        assert set(crit["krippendorff_alpha"]) == {"nominal", "ordinal", "interval", "ratio"}
        rows = [line.split(",") for line in long_csv.read_text().splitlines()[1:]]
        mine = [r for r in rows if r[2] == name]
        unit = np.unique([r[0] for r in mine], return_inverse=True)[1]
        alpha = krippendorff_alpha(unit, [float(r[3]) for r in mine], level="ordinal")
        assert crit["krippendorff_alpha"]["ordinal"] == pytest.approx(alpha)
    assert "cohen_kappa" not in payload and "icc" not in payload and "ci" not in payload


def test_one_criterion(long_csv: Path) -> None:
    result = runner.invoke(app, ["agreement", str(long_csv), "--criterion", "plan", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert "criteria" not in payload
    assert payload["n_units"] == 40


def test_bootstrap_is_seeded_and_reports_progress(long_csv: Path) -> None:
    args = ["agreement", str(long_csv), "--bootstrap", "200", "--seed", "7", "--json"]
    first, again = runner.invoke(app, args), runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert first.stdout == again.stdout
    payload = json.loads(first.stdout)
    low, high = payload["ci"]["krippendorff_alpha"]["interval"]
    assert low <= payload["krippendorff_alpha"]["interval"] <= high
    assert set(payload["criteria"]["plan"]["ci"]) >= {"percent_exact", "gwet_ac1"}
    assert "bootstrap" in first.stderr and "600/600" in first.stderr


def test_wide_two_raters(wide_csv: Path) -> None:
    result = runner.invoke(app, ["agreement", str(wide_csv), "--wide", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["n_raters"] == 2 and payload["n_units"] == 6
    assert payload["percent_exact"] == pytest.approx(4 / 6)
    assert set(payload["cohen_kappa"]) == {"unweighted", "linear", "quadratic"}
    assert set(payload["icc"]) == {"ICC1", "ICC2", "ICC3", "ICC1k", "ICC2k", "ICC3k"}


def test_text_table(long_csv: Path) -> None:
    result = runner.invoke(app, ["agreement", str(long_csv), "--bootstrap", "100", "--seed", "1"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith("ratings.csv: ")
    header = out.splitlines()[2].split()
    assert header == ["pooled", "plan", "reflect"]
    assert "alpha interval" in out and "Gwet AC1" in out and "Fleiss kappa" in out
    assert "percentile bootstrap over units, 100 resamples" in out
    assert "Cohen kappa" not in out  # more than two assessors


def test_undefined_statistic_is_null_in_json(tmp_path: Path) -> None:
    path = tmp_path / "same.csv"
    path.write_text(LONG_HEADER + "s1,a,c,2\ns1,b,c,2\ns2,a,c,2\ns2,b,c,2\n")
    result = runner.invoke(app, ["agreement", str(path), "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["fleiss_kappa"] is None
    assert payload["krippendorff_alpha"]["nominal"] is None
    assert payload["percent_exact"] == 1.0
    text = runner.invoke(app, ["agreement", str(path)]).stdout
    assert "Fleiss kappa" in text and " -" in text


def test_keep_chooses_one_reading_of_repeated_cells(tmp_path: Path) -> None:
    path = tmp_path / "retakes.csv"
    path.write_text(
        "submission,assessor,criterion,score,context,round\n"
        "s1,a,c,1,practice,a1\ns1,b,c,3,practice,b1\ns1,a,c,3,practice,a2\n"
        "s2,a,c,2,practice,a1\ns2,b,c,2,practice,b1\n"
    )
    first = json.loads(
        runner.invoke(app, ["agreement", str(path), "--keep", "first", "--json"]).stdout
    )
    last = json.loads(
        runner.invoke(app, ["agreement", str(path), "--keep", "last", "--json"]).stdout
    )
    assert first["n_ratings"] == last["n_ratings"] == 4
    assert first["percent_exact"] == 0.5 and last["percent_exact"] == 1.0


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        (None, [], "file not found"),
        (LONG_HEADER + "s1,a,c,2\ns2,a,c,3\n", [], "at least one unit rated by two"),
        (LONG_HEADER + "s1,a,c,2\ns1,b,c,3\n", ["--criterion", "nope"], "criterion 'nope'"),
        ("submission,assessor\ns1,a\n", [], "missing column"),
        (LONG_HEADER + "s1,a,c,2\ns1,b,c,3\n", ["--bootstrap", "-1"], "greater than or equal to 0"),
        (
            "submission,assessor,criterion,score,context,round\n"
            "s1,a,c,2,practice,1\ns1,a,c,3,practice,2\n",
            [],
            "choose the reading that counts with --keep",
        ),
        (LONG_HEADER + "s1,a,c,2\ns1,b,c,3\n", ["--keep", "all"], "keep must be 'first' or"),
    ],
)
def test_bad_input_exits_nonzero_with_a_clear_message(
    calibrate: Callable[..., Result],
    tmp_path: Path,
    content: str | None,
    args: list[str],
    message: str,
) -> None:
    path = tmp_path / "ratings.csv"
    if content is not None:
        path.write_text(content)
    result = calibrate("agreement", str(path), *args)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
