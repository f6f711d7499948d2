"""``calibrate raters``: the random-effects rater model (default) and JMLE as FACETS from a ratings
CSV."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from calibrate.analyses.raters import interval_reading
from calibrate.cli import app
from calibrate.ratings import read_ratings_csv
from calibrate.stats import rasch
from calibrate.stats.rater_effects import rating_moments
from calibrate.stats.severity import fit_severity
from tests.conftest import Result

runner = CliRunner()


def write_ratings(path: Path, *, n_units: int = 120, n_raters: int = 8, seed: int = 0) -> Path:
    """A long ratings CSV from the rating-scale MFRM: assessor A7 harsh, A0 lenient."""
    rng = np.random.default_rng(seed)
    severity = np.linspace(-1.0, 1.0, n_raters)
    tau = np.array([-1.2, 0.0, 1.2])
    psi = np.concatenate([[0.0], np.cumsum(tau)])
    rows = []
    for u in range(n_units):
        ability = rng.normal(0, 1.2)
        for r in rng.choice(n_raters, 2, replace=False):
            for c, difficulty in enumerate((-0.4, 0.0, 0.4)):
                logits = np.arange(4) * (ability - difficulty - severity[r]) - psi
                p = np.exp(logits - logits.max())
                score = 1 + int(rng.choice(4, p=p / p.sum()))
                rows.append([f"S{u:03d}", f"A{r}", f"C{c}", score, 1 + u % 2])
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["submission", "assessor", "criterion", "score", "attempt"])
        w.writerows(rows)
    return path


@pytest.fixture
def ratings_csv(tmp_path: Path) -> Path:
    return write_ratings(tmp_path / "ratings.csv")


JMLE = ("--model", "jmle")


def test_json_has_the_documented_keys(ratings_csv: Path) -> None:
    result = runner.invoke(app, ["raters", str(ratings_csv), *JMLE, "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["model"] == "jmle" and out["scale"] == "rating-scale"
    assert {"assessors", "criteria", "submissions", "separation", "reliability"} <= set(out)
    assert {"thresholds", "subsets", "bias", "categories", "connected"} <= set(out)
    a = out["assessors"][0]
    assert set(a) >= {"id", "severity", "se", "infit", "outfit", "infit_z", "outfit_z"}
    assert set(a) >= {"fair_average", "n", "se_joint"}
    assert all(e["se_joint"] > e["se"] for e in out["assessors"])
    assert all(e["se_joint"] is None for e in out["submissions"])  # NaN -> null
    assert "measure" in out["criteria"][0] and "measure" in out["submissions"][0]
    assert set(out["separation"]) == {"submissions", "assessors", "criteria"}
    assert out["connected"] and len(out["subsets"]) == 1
    severity = {e["id"]: e["severity"] for e in out["assessors"]}
    assert severity["A7"] > severity["A0"]  # planted: A7 harshest, A0 most lenient
    assert out["thresholds"][0]["criterion"] is None
    assert {b["criterion"] for b in out["bias"]} == {"C0", "C1", "C2"}


def test_text_output_and_progress(ratings_csv: Path) -> None:
    result = runner.invoke(app, ["raters", str(ratings_csv), *JMLE])
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert text.startswith("ratings.csv: 720 ratings")
    assert "assessors (severity in logits, + = harsher)" in text
    assert "thresholds, rating scale: 1->2" in text
    assert "design: connected (one subset)" in text
    assert "raters: iteration 1," in result.stderr


def test_partial_credit_and_extra_facet(ratings_csv: Path) -> None:
    args = ["raters", str(ratings_csv), *JMLE, "--scale", "partial-credit", "--facet", "attempt"]
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert [t["criterion"] for t in out["thresholds"]] == ["C0", "C1", "C2"]
    assert out["facet_name"] == "attempt"
    assert [e["id"] for e in out["facet"]] == ["1", "2"]
    assert "facet" in out["separation"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([*JMLE, "--facet", "window"], "facet 'window': no such column (other columns: attempt)"),
        ([*JMLE, "--scale", "graded"], "model must be 'rating-scale' or 'partial-credit'"),
        (["--model", "graded"], "model must be 'random' or 'jmle', got 'graded'"),
        (["--facet", "attempt"], "an extra facet or the partial-credit scale needs model 'jmle'"),
        (["--scale", "partial-credit"], "the random-effects model has one rating scale"),
        (["--keep", "both"], "keep must be 'first' or 'last'"),
    ],
)
def test_mistakes_are_one_clear_line(
    calibrate: Callable[..., Result], ratings_csv: Path, args: list[str], message: str
) -> None:
    result = calibrate("raters", str(ratings_csv), *args)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert result.stderr.count("\n") == 1


def test_disconnected_design_is_reported(tmp_path: Path) -> None:
    a = write_ratings(tmp_path / "a.csv", seed=1).read_text().splitlines()
    b = write_ratings(tmp_path / "b.csv", seed=2).read_text().splitlines()
    moved = [line.replace("S", "T", 1).replace(",A", ",B", 1) for line in b[1:]]
    both = tmp_path / "both.csv"
    both.write_text("\n".join([*a, *moved]) + "\n")
    result = runner.invoke(app, ["raters", str(both), *JMLE, "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert not out["connected"]
    assert [len(s["assessors"]) for s in out["subsets"]] == [8, 8]
    assert "2 disconnected subsets" in result.stderr


def test_joint_se_beyond_the_direct_limit_is_null_and_warned(
    ratings_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rasch, "JOINT_SE_LIMIT", 2)  # as if the design had > 3,000 unknowns
    result = runner.invoke(app, ["raters", str(ratings_csv), *JMLE, "--json"])
    assert result.exit_code == 0, result.output
    assert all(e["se_joint"] is None for e in json.loads(result.stdout)["assessors"])
    assert "warning: joint standard errors not computed" in result.stderr
    assert json.loads(result.stdout)["joint_se"] == "too_large"


ZS = (("A0", 4), ("Z", 3))  # (assessor, score) on T0-T2


def write_drifting(path: Path) -> Path:
    """:func:`write_ratings` plus a separated group with no finite estimate: assessor Z rates
    T0-T2 together with A0, and A0 gives those three the top score on every criterion while Z
    gives 3 (Fischer 1981: no maximum-likelihood solution; Z and T0-T2 drift outward together,
    as the README's pilot example did: 32 logits after 500 iterations, joint SE 15,809)."""
    write_ratings(path)
    rows = [f"T{t},{a},C{c},{s},1" for t in range(3) for c in range(3) for a, s in ZS]
    with path.open("a") as fh:
        fh.write("\n".join(rows) + "\n")
    return path


@pytest.fixture(scope="module")
def drifting_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_drifting(tmp_path_factory.mktemp("drift") / "ratings.csv")


def test_a_model_that_did_not_converge_is_unmistakable_in_text(
    calibrate: Callable[..., Result], drifting_csv: Path
) -> None:
    result = calibrate("raters", str(drifting_csv), *JMLE)
    assert result.returncode == 3  # results printed, not trustworthy
    lines = result.stdout.splitlines()
    assert lines[0] == (
        "NOT TRUSTWORTHY (exit status 3): the rater model did not converge after 500 iterations; "
        "1 assessor and 3 submissions cannot be placed and show as not measured"
    )
    (z,) = [line for line in lines if line.startswith("Z ")]
    assert z.split()[1:3] == ["not", "measured"]
    assert "-" in z.split()[3:5]  # no SE either
    assert [line.split()[0] for line in lines[1:] if "not measured" in line] == ["Z"]
    assert "warning: the rater model did not converge" in result.stderr
    assert "(shown as not measured): Z drifted more than 10 logits out" in result.stderr


def test_a_model_that_did_not_converge_is_unmistakable_in_json(
    calibrate: Callable[..., Result], drifting_csv: Path
) -> None:
    result = calibrate("raters", str(drifting_csv), *JMLE, "--json")
    assert result.returncode == 3
    out = json.loads(result.stdout)  # still one JSON object
    assert out["converged"] is False
    assert out["warnings"][0].startswith("The rater model did not converge in 500 iterations")
    assert "cannot place 1 assessor and 3 submissions" in out["warnings"][1]
    by_id = {e["id"]: e for e in out["assessors"]}
    assert by_id["Z"]["identified"] is False
    assert by_id["Z"]["severity"] is by_id["Z"]["se"] is by_id["Z"]["se_joint"] is None
    assert all(e["identified"] for name, e in by_id.items() if name != "Z")
    unplaced = [e["id"] for e in out["submissions"] if not e["identified"]]
    assert unplaced == ["T0", "T1", "T2"]
    assert all(e["measure"] is None for e in out["submissions"] if not e["identified"])
    assert all(e["identified"] for e in out["criteria"])


def test_a_converged_model_has_no_warnings_and_every_element_identified(
    ratings_csv: Path,
) -> None:
    result = runner.invoke(app, ["raters", str(ratings_csv), *JMLE, "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["converged"] is True and out["warnings"] == []
    assert all(e["identified"] for key in ("assessors", "submissions") for e in out[key])
    assert not result.stdout.startswith(("NOT TRUSTWORTHY", "WARNING"))


def test_an_assessor_alone_in_a_subset_is_not_measured(
    calibrate: Callable[..., Result], tmp_path: Path
) -> None:
    """Y scores two submissions nobody else scores: its own subset, centred on itself, so its
    severity of 0 is a convention, not a measurement."""
    path = write_ratings(tmp_path / "ratings.csv")
    scores = {("U0", "C0"): 2, ("U0", "C1"): 3, ("U0", "C2"): 2, ("U1", "C0"): 3}
    scores |= {("U1", "C1"): 2, ("U1", "C2"): 3}
    with path.open("a") as fh:
        fh.writelines(f"{u},Y,{c},{s},1\n" for (u, c), s in scores.items())
    text = calibrate("raters", str(path), *JMLE)
    assert text.returncode == 0, text.stderr  # converged: the others are measured
    assert text.stdout.splitlines()[0] == (
        "WARNING: 1 assessor cannot be placed and show as not measured"
    )
    out = json.loads(calibrate("raters", str(path), *JMLE, "--json").stdout)
    (y,) = [e for e in out["assessors"] if e["id"] == "Y"]
    assert y["identified"] is False and y["severity"] is None
    assert any("Y is alone in a subset" in w for w in out["warnings"])


# --- the random-effects model (the default) ------------------------------------------------------


def test_the_default_is_the_random_effects_model(ratings_csv: Path) -> None:
    """Planted severities -1..+1 (A0..A7) come back in order, each interval read against the
    programme's default tolerance (0.25 score levels, in logits at the mean slope of the
    expected score, the mean model variance of a rating) as :func:`interval_reading` reads
    it."""
    result = runner.invoke(app, ["raters", str(ratings_csv), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["model"] == "random" and out["converged"] is True
    data = read_ratings_csv(ratings_csv)
    long = (data.unit, data.rater, data.criterion, data.value)
    slope = rating_moments(fit_severity(*long), *long).variance.mean()
    assert 0.2 < slope < 1.0  # a 4-level scale: about a third of a level per logit
    assert out["tolerance_levels"] == 0.25 and out["level"] == 0.95
    assert out["tolerance"] == pytest.approx(0.25 / slope, rel=1e-6)
    assert out["n_ratings"] == 720 and out["n_submissions"] == 120
    keys = {"id", "severity", "se", "low", "high", "information", "infit", "outfit", "n"}
    assert all(keys | {"status", "reading", "reason"} <= set(a) for a in out["assessors"])
    by_id = {a["id"]: a for a in out["assessors"]}
    assert all(a["status"] == "placed" and a["reason"] is None for a in by_id.values())
    severities = [by_id[f"A{j}"]["severity"] for j in range(8)]
    # planted linspace(-1, 1, 8): Spearman's rho with the truth
    ranks = np.argsort(np.argsort(severities))
    assert 1 - 6 * np.sum((ranks - np.arange(8)) ** 2) / (8 * 63) > 0.9
    assert abs(sum(severities)) < 1e-6  # deviations from the assessors' mean
    for a in by_id.values():
        assert a["low"] == pytest.approx(a["severity"] - 1.959964 * a["se"], abs=1e-6)
        assert a["reading"] == interval_reading(a["low"], a["high"], out["tolerance"])
    assert by_id["A7"]["reading"].startswith("harsher")
    assert by_id["A0"]["reading"].startswith("more lenient")
    assert [c["id"] for c in out["criteria"]] == ["C0", "C1", "C2"]
    assert out["thresholds"]["categories"] == [1, 2, 3, 4]
    assert out["thresholds"]["disordered"] is False
    # separation from the EB reliability: G = sqrt(R / (1 - R)), strata = (4G + 1) / 3
    r = np.mean([a["information"] for a in out["assessors"]])
    assert out["reliability"] == pytest.approx(r)
    assert out["strata"] == pytest.approx((4 * np.sqrt(r / (1 - r)) + 1) / 3)
    assert out["warnings"] == []


def write_thin(path: Path) -> Path:
    """:func:`write_ratings` plus assessor Y, who scores two submissions (6 ratings, fewer than
    the 10 the random model needs to place anyone)."""
    write_ratings(path)
    with path.open("a") as fh:
        fh.writelines(
            f"S00{u},Y,C{c},{2 + (u + c) % 2},{1 + u}\n" for u in range(2) for c in range(3)
        )
    return path


def test_an_assessor_not_placed_has_no_number_and_a_reason(
    calibrate: Callable[..., Result], tmp_path: Path
) -> None:
    path = write_thin(tmp_path / "ratings.csv")
    out = json.loads(calibrate("raters", str(path), "--json").stdout)
    (y,) = [a for a in out["assessors"] if a["id"] == "Y"]
    assert y["status"] == "not placed" and y["n"] == 6
    assert y["severity"] is y["se"] is y["low"] is y["high"] is y["reading"] is None
    assert y["reason"] == "6 ratings, fewer than the 10 needed"
    assert out["warnings"] == [
        "The data cannot place 1 assessor (Y): no severity is shown for them, only why."
    ]
    text = calibrate("raters", str(path))
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert "random-effects model, converged in" in lines[0]
    start = lines.index("not placed (the data cannot place them: no severity)")
    assert lines[start + 1].split() == [
        "Y",
        "6",
        "ratings,",
        "fewer",
        "than",
        "the",
        "10",
        "needed",
    ]
    assert not any(line.startswith("Y ") for line in lines[:start])  # not in the table: no rank
    assert "warning: the data cannot place 1 assessor (Y)" in text.stderr


def test_the_random_model_converges_where_jmle_drifts(
    calibrate: Callable[..., Result], drifting_csv: Path
) -> None:
    """The separated group that makes JMLE drift (no finite estimate: exit 3) is finite under
    the random-effects model; Z's 9 ratings are too few to place him."""
    result = calibrate("raters", str(drifting_csv), "--json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["converged"] is True
    by_id = {a["id"]: a for a in out["assessors"]}
    assert by_id["Z"]["severity"] is None
    assert by_id["Z"]["reason"] == "9 ratings, fewer than the 10 needed"
    assert all(abs(a["severity"]) < 3 for name, a in by_id.items() if name != "Z")
