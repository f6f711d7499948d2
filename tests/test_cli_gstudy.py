"""``calibrate gstudy``: JSON and text output, design detection, one-line errors."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Result

REFERENCE = Path(__file__).parent / "reference"


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
    # Brennan (2001), ch. 3, Table 3.1: sigma^2(p) = .5528, sigma^2(pri,e) = .9352 (No. 3)
    assert abs(components["p"] - 0.5528) <= 5e-5
    assert abs(components["pri,e"] - 0.9352) <= 5e-5
    # Brennan (2001), Synthetic Data Set No. 3: E rho^2 = .64, Phi = .55 for n'_i = 4, n'_o = 2
    assert abs(payload["g"] - 0.64) <= 0.005
    assert abs(payload["phi"] - 0.55) <= 0.005
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
    assert "G (relative, E rho^2) 0.640, Phi (absolute) 0.554" in out.stdout
    assert "  on Phi (pass/not-yet decisions against the standard): 4" in lines
    assert "  on G (ranking submissions): 2" in lines
    d_rows = [line.split() for line in lines if line.strip()[:1].isdigit()]
    assert [row[0] for row in d_rows] == ["1", "2", "3"]


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
