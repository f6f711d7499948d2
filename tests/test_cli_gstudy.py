"""``calibrate gstudy``: JSON and text output, design detection, one-line errors."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from calibrate.ratings import read_ratings_csv
from calibrate.stats.gtheory import gstudy
from tests.conftest import Result

REFERENCE = Path(__file__).parent / "reference"


def brennan(statistic: str) -> tuple[float, float]:
    """Brennan (2001) value for Synthetic Data Set No. 3 and its printed-precision tolerance,
    from tests/reference/brennan2001_two_facet/reference.json."""
    path = REFERENCE / "brennan2001_two_facet" / "reference.json"
    (entry,) = [v for v in json.loads(path.read_text())["values"] if v["statistic"] == statistic]
    return entry["published_value"], 0.5 * 10.0 ** -entry["printed_decimals"]


def brennan_components() -> dict[str, float]:
    """Brennan's (2001, Table 3.1) p x i x o components of No. 3 in calibrate's p x r x i
    notation (occasions are the assessors r, items the criteria i)."""
    names = {"p": "p", "r": "o", "i": "i", "pr": "po", "pi": "pi", "ri": "io", "pri,e": "pio,e"}
    return {
        ours: brennan(f"Synthetic 3 (p x i x o): var({theirs})")[0]
        for ours, theirs in names.items()
    }


def d_study(v: dict[str, float], n_r: float, n_i: float) -> tuple[float, float]:
    """(E rho^2, Phi) of the crossed p x R x I random-effects D study (Brennan 2001, ch. 4):
    relative error s2(pr)/n_r + s2(pi)/n_i + s2(pri,e)/(n_r n_i); absolute error adds
    s2(r)/n_r + s2(i)/n_i + s2(ri)/(n_r n_i)."""
    rel = v["pr"] / n_r + v["pi"] / n_i + v["pri,e"] / (n_r * n_i)
    ab = rel + v["r"] / n_r + v["i"] / n_i + v["ri"] / (n_r * n_i)
    return v["p"] / (v["p"] + rel), v["p"] / (v["p"] + ab)


def write_ratings(path: Path, rows: list[tuple[str, str, str, int]]) -> Path:
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["submission", "assessor", "criterion", "score"])
        writer.writerows(rows)
    return path


@pytest.fixture
def synthetic3(tmp_path: Path) -> Path:
    """Brennan's Synthetic Data Set No. 3 as ratings: occasions assess, items are criteria."""
    with (REFERENCE / "brennan2001_two_facet" / "synthetic3_p_x_i_x_o.csv").open() as f:
        rows = [
            (f"P{r['person']}", f"O{r['occasion']}", f"I{r['item']}", int(r["score"]))
            for r in csv.DictReader(f)
        ]
    return write_ratings(tmp_path / "synthetic3.csv", rows)


def test_json(calibrate: Callable[..., Result], synthetic3: Path) -> None:
    out = calibrate("gstudy", str(synthetic3), "--json")
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)
    assert (payload["design"], payload["notation"], payload["balanced"]) == (
        "crossed",
        "p x r x i",
        True,
    )
    assert (payload["n_submissions"], payload["n_assessors"], payload["n_criteria"]) == (10, 2, 4)
    components = {c["effect"]: c["estimate"] for c in payload["variance_components"]}
    # Brennan (2001), ch. 3, Table 3.1: the seven components of No. 3 (.5528 ... .9352)
    for effect, value in brennan_components().items():
        assert abs(components[effect] - value) <= 5e-5
    # Brennan (2001), Synthetic Data Set No. 3: E rho^2 = .64, Phi = .55 for n'_i = 4, n'_o = 2
    g, tol = brennan("Synthetic 3 (p x I x O): E rho^2 (n'_i = 4, n'_o = 2)")
    assert abs(payload["g"] - g) <= tol
    phi, tol = brennan("Synthetic 3 (p x I x O): Phi (n'_i = 4, n'_o = 2)")
    assert abs(payload["phi"] - phi) <= tol
    assert [row["n_assessors"] for row in payload["d_study"]] == [1, 2, 3, 4, 5]
    assert payload["d_study"][1]["phi"] == pytest.approx(payload["phi"])
    assert payload["target"] == 0.8
    assert payload["assessors_needed"] == {"phi": None, "g": None}
    assert payload["limit"]["phi"] < 0.8


def test_d_study_over_other_numbers_of_criteria(
    calibrate: Callable[..., Result], synthetic3: Path
) -> None:
    out = calibrate(
        "gstudy", str(synthetic3), "--criteria", "2", "--criteria", "8", "--max-assessors", "3",
        "--json",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)
    v = {c["effect"]: c["estimate"] for c in payload["variance_components"]}
    rows = [(r["n_criteria"], r["n_assessors"], r["g"]) for r in payload["d_study"]]
    assert [(i, r) for i, r, _ in rows] == [(2, 1), (2, 2), (2, 3), (8, 1), (8, 2), (8, 3)]
    for n_i, n_r, g in rows:
        # crossed p x I x R (Brennan 2001, eq. 4.12): E rho^2 = s2(p) / (s2(p) + s2(delta))
        delta = v["pi"] / n_i + v["pr"] / n_r + v["pri,e"] / (n_i * n_r)
        assert g == pytest.approx(v["p"] / (v["p"] + delta))
    text = calibrate("gstudy", str(synthetic3), "--criteria", "2", "--criteria", "8").stdout
    assert "  criteria  assessors  rel. error" in text
    assert "to reach 0.8 (4 criteria):" in text  # assessors needed: the observed rubric
    bad = calibrate("gstudy", str(synthetic3), "--criteria", "0")
    assert bad.returncode == 1 and "numbers of criteria must be positive" in bad.stderr


def test_text(calibrate: Callable[..., Result], synthetic3: Path) -> None:
    out = calibrate("gstudy", str(synthetic3), "--target", "0.6", "--max-assessors", "3")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "synthetic3.csv: 80 ratings, 10 submissions, 2 assessors, 4 criteria"
    assert lines[1].startswith("design: crossed (detected), p x r x i; balanced")
    # Expected output from Brennan's (2001, Table 3.1) components and the p x R x I D study:
    # observed design n'_r = 2, n'_i = 4 (E rho^2 = .5528 / .8639 = .640, Phi = .5528 / .9976
    # = .554), and the fewest assessors (4 criteria) whose coefficient reaches 0.6.
    v = brennan_components()
    g, phi = d_study(v, 2, 4)
    assert f"G (relative, E rho^2) {g:.3f} [" in out.stdout
    assert f"Phi (absolute) {phi:.3f} [" in out.stdout
    needed_phi = next(n for n in range(1, 100) if d_study(v, n, 4)[1] >= 0.6)
    needed_g = next(n for n in range(1, 100) if d_study(v, n, 4)[0] >= 0.6)
    assert (needed_phi, needed_g) == (4, 2)  # Phi: .592 at 3, .613 at 4; G: .536 at 1, .640 at 2
    assert any(x.startswith(f"  on Phi (pass/not-yet decisions against the standard): {needed_phi}")
               for x in lines)  # fmt: skip
    assert any(x.startswith(f"  on G (ranking submissions): {needed_g}") for x in lines)
    d_rows = [line.split() for line in lines if line.strip()[:1].isdigit()]
    assert [row[0] for row in d_rows] == ["1", "2", "3"]
    # The intervals and the verdict are the library's (1,000 resamples, seed 2026 by default)
    ratings = read_ratings_csv(synthetic3)
    study = gstudy(ratings.unit, ratings.rater, ratings.criterion, ratings.value, target=0.6,
                   max_assessors=3, n_boot=1000, seed=2026)  # fmt: skip
    assert study.intervals is not None
    low, high = study.intervals.observed.phi.low, study.intervals.observed.phi.high
    assert f"Phi (absolute) {phi:.3f} [{low:.3f}, {high:.3f}]" in out.stdout
    verdict = study.verdict()
    assert lines[-1] == f"verdict at the observed design: {verdict.verdict}: {verdict.reason}"
    # only 10 submissions: Brennan's synthetic data cannot settle Phi against 0.6
    assert verdict.verdict == "too few submissions to tell"

    bare = calibrate("gstudy", str(synthetic3), "--target", "0.6", "--bootstrap", "0")
    assert bare.returncode == 0, bare.stderr
    assert f"G (relative, E rho^2) {g:.3f}, Phi (absolute) {phi:.3f}" in bare.stdout
    assert bare.stdout.splitlines()[-1] == "no verdict without intervals (--bootstrap 0)"


def test_sparse_live_data_are_nested(calibrate: Callable[..., Result], tmp_path: Path) -> None:
    rows = []
    for s in range(30):
        for a in (s % 7, (s + 3) % 7, (s + 5) % 7)[: 2 + s % 2]:
            for c in ("plan", "implement"):
                rows.append((f"S{s}", f"A{a}", c, 1 + (s * 7 + a * 3 + len(c)) % 4))
    path = write_ratings(tmp_path / "live.csv", rows)
    out = calibrate("gstudy", str(path), "--json")
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)
    assert (payload["design"], payload["notation"], payload["balanced"]) == (
        "nested",
        "(r:p) x i",
        False,
    )
    assert payload["assessors_per_submission"] == pytest.approx(30 / (15 / 2 + 15 / 3))
    crossed = calibrate("gstudy", str(path), "--design", "crossed", "--json")
    assert crossed.returncode == 0, crossed.stderr
    assert json.loads(crossed.stdout)["notation"] == "p x r x i"


def test_constant_scores_give_null_coefficients(
    calibrate: Callable[..., Result], tmp_path: Path
) -> None:
    rows = [(f"S{s}", f"A{a}", "c", 3) for s in range(4) for a in range(3)]
    out = calibrate("gstudy", str(write_ratings(tmp_path / "flat.csv", rows)), "--json")
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)
    assert payload["g"] is None and payload["phi"] is None


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (
            [("S1", "A1", "c", 2), ("S1", "A2", "c", 3)],
            "error: ratings must cover at least two submissions, got 1",
        ),
        (
            [("S1", "A1", "c", 2), ("S2", "A1", "c", 3), ("S3", "A1", "c", 1)],
            "error: at least one submission must be rated by two or more assessors",
        ),
        (
            [("S1", "A1", "c", 2), ("S2", "A2", "c", 3), ("S3", "A3", "c", 1)],
            "error: at least one submission must be rated by two or more assessors",
        ),
    ],
)
def test_bad_input_is_one_line(
    calibrate: Callable[..., Result],
    tmp_path: Path,
    rows: list[tuple[str, str, str, int]],
    message: str,
) -> None:
    out = calibrate("gstudy", str(write_ratings(tmp_path / "bad.csv", rows)))
    assert out.returncode == 1
    assert out.stderr.startswith(message)
    assert len(out.stderr.strip().splitlines()) == 1
    assert out.stdout == ""


def test_crossed_design_refused_when_no_assessor_is_shared(
    calibrate: Callable[..., Result], tmp_path: Path
) -> None:
    rows = [(f"S{s}", f"A{s}{k}", "c", (s + k) % 4 + 1) for s in range(5) for k in range(2)]
    out = calibrate("gstudy", str(write_ratings(tmp_path / "x.csv", rows)), "--design", "crossed")
    assert out.returncode == 1
    assert "use design='nested'" in out.stderr


def test_usage_errors(calibrate: Callable[..., Result], synthetic3: Path) -> None:
    assert calibrate("gstudy", str(synthetic3), "--design", "both").returncode == 2
    assert calibrate("gstudy", str(synthetic3), "--target", "1.5").returncode == 2
    out = calibrate("gstudy", str(synthetic3), "--target", "1")
    assert out.returncode == 1
    assert out.stderr.startswith("error: target must be between 0 and 1")


def test_missing_file(calibrate: Callable[..., Result], tmp_path: Path) -> None:
    out = calibrate("gstudy", str(tmp_path / "none.csv"))
    assert out.returncode == 1
    assert "file not found" in out.stderr


def test_context_and_rubric_select_one_procedure(
    calibrate: Callable[..., Result], tmp_path: Path
) -> None:
    path = tmp_path / "mixed.csv"
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["submission", "assessor", "criterion", "score", "context", "rubric"])
        for context in ("live", "qualification"):
            for rubric in ("ct@1", "sel@1"):
                for s in range(4):
                    for a in range(3):
                        row = [f"{rubric}-S{s}", f"A{a}", "c1", 1 + (s + a) % 3]
                        writer.writerow([*row, context, rubric])
    mixed = calibrate("gstudy", str(path))
    assert mixed.returncode == 1
    assert mixed.stderr.strip() == (
        "error: the ratings mix contexts (live, qualification): choose one with --context"
    )
    out = calibrate("gstudy", str(path), "--context", "LIVE")
    assert out.stderr.strip() == (
        "error: the ratings mix rubrics (ct@1, sel@1): choose one with --rubric"
    )
    out = calibrate("gstudy", str(path), "--context", "live", "--rubric", "ct@1", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["n_ratings"] == 12
    out = calibrate("gstudy", str(path), "--rubric", "other@1", "--context", "live")
    assert out.stderr.strip() == "error: no ratings with rubric 'other@1' (found: ct@1, sel@1)"
