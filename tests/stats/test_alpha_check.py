"""Run-time cross-check of Krippendorff's alpha against the reference implementation, the
``krippendorff`` package (calibrate.analyses.agreement.check_alpha), as recorded on every
agreement report and in ``calibrate agreement --json``."""

from __future__ import annotations

import csv
import importlib.metadata
import json
import math
from pathlib import Path
from typing import Any

import krippendorff
import numpy as np
import pytest
from typer.testing import CliRunner

from calibrate.analyses import agreement as agreement_module
from calibrate.analyses.agreement import (
    AGREE_WITHIN,
    AlphaCheck,
    AlphaCheckWarning,
    agreement_report,
    check_alpha,
)
from calibrate.cli import app
from calibrate.ratings import Ratings
from calibrate.stats.agreement import ALPHA_LEVELS, krippendorff_alpha

REFERENCE = Path(__file__).parents[1] / "reference"
VERSION = f"krippendorff {importlib.metadata.version('krippendorff')}"


def ratings_of(
    unit: list[str], rater: list[str], value: list[float], criterion: list[str] | None = None
) -> Ratings:
    """Labelled long ratings -> coded Ratings (one criterion unless given)."""
    labels = (unit, rater, criterion or ["c"] * len(unit))
    coded = [np.unique(np.asarray(x), return_inverse=True) for x in labels]
    return Ratings(
        unit=coded[0][1].astype(np.int64),
        rater=coded[1][1].astype(np.int64),
        criterion=coded[2][1].astype(np.int64),
        value=np.asarray(value, dtype=np.float64),
        units=tuple(coded[0][0].tolist()),
        raters=tuple(coded[1][0].tolist()),
        criteria=tuple(coded[2][0].tolist()),
    )


def read_long(folder: str, name: str, unit: str, rater: str, value: str) -> Ratings:
    with (REFERENCE / folder / name).open() as f:
        rows = [r for r in csv.DictReader(f) if r[value].strip()]
    return ratings_of(
        [r[unit] for r in rows], [r[rater] for r in rows], [float(r[value]) for r in rows]
    )


def read_wide(folder: str, name: str) -> Ratings:
    """Unit column + one column per rater; empty cells and NA are missing."""
    with (REFERENCE / folder / name).open() as f:
        header, *rows = list(csv.reader(f))
    cells = [
        (row[0], header[j], float(cell))
        for row in rows
        for j, cell in enumerate(row)
        if j > 0 and cell.strip() not in ("", "NA")
    ]
    return ratings_of([c[0] for c in cells], [c[1] for c in cells], [c[2] for c in cells])


SHIPPED = {
    # Krippendorff (2011, p. 8): 4 observers x 12 units, values 1-5, missing values.
    "krippendorff2011": lambda: read_long(
        "krippendorff2011", "reliability_data_long.csv", "unit", "observer", "value"
    ),
    # Fleiss (1971): 30 subjects x 6 diagnoses, categories 1-5.
    "fleiss1971": lambda: read_long(
        "fleiss1971_diagnoses", "diagnoses_long.csv", "subject", "rater_slot", "category_code"
    ),
    # Shrout & Fleiss (1979), Table 4: 6 targets x 4 judges, complete.
    "shrout_fleiss1979": lambda: read_long(
        "shrout_fleiss1979", "sf_long.csv", "target", "judge", "rating"
    ),
    # irr's anxiety data: 20 subjects x 3 raters, 1-6.
    "irr_anxiety": lambda: read_wide("irr_anxiety", "anxiety.csv"),
    # irrCAC cac.raw4raters and cac.raw5obser: missing values, a zero score (ratio level).
    "cac_raw4raters": lambda: read_wide("gwet_irrCAC", "cac_raw4raters.csv"),
    "cac_raw5obser": lambda: read_wide("gwet_irrCAC", "cac_raw5obser.csv"),
}


@pytest.mark.parametrize("dataset", SHIPPED)
def test_agrees_on_the_shipped_reference_data(dataset: str) -> None:
    report = agreement_report(SHIPPED[dataset]())
    check = report.alpha_check
    assert check is not None and check.skipped is None
    assert check.reference == VERSION
    assert check.agrees is True
    assert check.max_abs_difference is not None and check.max_abs_difference <= 1e-12
    assert report.to_dict()["alpha_check"] == {
        "reference": VERSION,
        "max_abs_difference": check.max_abs_difference,
        "agrees": True,
    }
    assert report.warnings() == []


def test_krippendorff_2011_published_values_and_the_reference_agree() -> None:
    ratings = SHIPPED["krippendorff2011"]()
    # Krippendorff (2011, p. 8) prints 0.743, 0.815, 0.849, 0.797 (nominal ... ratio).
    ours = {lv: krippendorff_alpha(ratings.unit, ratings.value, level=lv) for lv in ALPHA_LEVELS}
    assert [round(ours[lv], 3) for lv in ALPHA_LEVELS] == [0.743, 0.815, 0.849, 0.797]
    check = check_alpha(ratings.unit, ratings.value, ours, levels=[1, 2, 3, 4, 5])
    assert check.agrees is True and check.max_abs_difference is not None
    assert check.max_abs_difference <= 1e-15


def test_each_criterion_is_checked_and_reported(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    unit, rater, crit, value = [], [], [], []
    for s in range(60):
        who = rng.choice(8, int(rng.integers(1, 4)), replace=False)  # some single-rated
        for c in ("plan", "reflect"):
            truth = int(rng.integers(1, 5))
            for a in who:
                unit.append(f"s{s}")
                rater.append(f"a{a}")
                crit.append(c)
                value.append(float(np.clip(truth + rng.integers(-1, 2), 1, 4)))
    # Rubric levels 1-5 with level 5 never used: the reference's value_domain.
    report = agreement_report(ratings_of(unit, rater, value, crit), levels=[1, 2, 3, 4, 5])
    payload = report.to_dict()
    assert payload["alpha_check"]["agrees"] is True
    for name in ("plan", "reflect"):
        assert payload["criteria"][name]["alpha_check"]["agrees"] is True
        assert report.criteria_alpha_check[name].max_abs_difference <= AGREE_WITHIN  # type: ignore[operator]


def test_skipped_above_the_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    ratings = SHIPPED["fleiss1971"]()  # 30 units x 6 ratings, 5 levels: 30 x 5 x 5 = 750 cells
    monkeypatch.setattr(agreement_module, "REFERENCE_CELLS", 749)
    report = agreement_report(ratings)
    check = report.alpha_check
    assert check is not None and check.agrees is None and check.max_abs_difference is None
    message = (
        "too large for the reference implementation's dense matrices: 30 units x 5x5 levels "
        "= 750 cells > 749"
    )
    assert report.to_dict()["alpha_check"] == {"reference": VERSION, "skipped": message}
    monkeypatch.setattr(agreement_module, "REFERENCE_CELLS", 750)
    assert agreement_report(ratings).alpha_check.agrees is True  # type: ignore[union-attr]


def test_skipped_names_the_ratings_when_they_are_the_larger_side(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 2 levels but 6 ratings per unit: the reliability matrix (6 x 30) is the larger array.
    ratings = SHIPPED["fleiss1971"]()
    binary = np.where(ratings.value >= 3, 1.0, 0.0)
    monkeypatch.setattr(agreement_module, "REFERENCE_CELLS", 100)
    check = check_alpha(ratings.unit, binary, dict.fromkeys(ALPHA_LEVELS, 0.0))
    assert check.skipped == (
        "too large for the reference implementation's dense matrices: 30 units x 6 ratings "
        "= 180 cells > 100"
    )


def test_a_planted_disagreement_is_visible_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    real = krippendorff.alpha

    def off_by_a_little(*args: Any, **kwargs: Any) -> float:
        return float(real(*args, **kwargs)) + 3e-6

    monkeypatch.setattr(krippendorff, "alpha", off_by_a_little)
    with pytest.warns(AlphaCheckWarning, match=r"differs from the reference .* by 3e-06"):
        report = agreement_report(SHIPPED["krippendorff2011"]())
    check = report.alpha_check
    assert check is not None and check.agrees is False
    assert check.max_abs_difference == pytest.approx(3e-6, rel=1e-6)
    payload = report.to_dict()["alpha_check"]
    assert payload["agrees"] is False and payload["max_abs_difference"] > AGREE_WITHIN
    (warning,) = report.warnings()
    assert warning.startswith("Krippendorff's alpha (all) differs from the reference")


def test_both_undefined_counts_as_agreement() -> None:
    # Every rating the same level: our alpha is NaN (no variation; Krippendorff 2011, p. 5);
    # the reference refuses a one-value domain, or divides 0 by 0 with the rubric's levels.
    unit, value = [0, 0, 1, 1, 2, 2], [2.0] * 6
    nan = dict.fromkeys(ALPHA_LEVELS, math.nan)
    for levels in (None, [1, 2, 3]):
        check = check_alpha(unit, value, nan, levels=levels)
        assert (check.agrees, check.max_abs_difference) == (True, 0.0)


def test_one_side_undefined_is_a_disagreement() -> None:
    unit, value = [0, 0, 1, 1, 2, 2], [1.0, 2.0, 2.0, 2.0, 3.0, 3.0]
    with pytest.warns(AlphaCheckWarning):
        check = check_alpha(unit, value, dict.fromkeys(ALPHA_LEVELS, math.nan))
    assert check.agrees is False and check.max_abs_difference == math.inf


def test_no_check_asked_no_key() -> None:
    report = agreement_report(SHIPPED["irr_anxiety"](), reference_check=False)
    assert report.alpha_check is None and "alpha_check" not in report.to_dict()


def test_alpha_check_serialises() -> None:
    assert AlphaCheck("krippendorff 0.9.0", 0.0, True).to_dict() == {
        "reference": "krippendorff 0.9.0",
        "max_abs_difference": 0.0,
        "agrees": True,
    }


def test_in_the_agreement_json(tmp_path: Path) -> None:
    path = tmp_path / "ratings.csv"
    rows = ["submission,assessor,criterion,score"]
    with (REFERENCE / "krippendorff2011" / "reliability_data_long.csv").open() as f:
        rows += [
            f"u{r['unit']},{r['observer']},c,{r['value']}" for r in csv.DictReader(f) if r["value"]
        ]
    path.write_text("\n".join(rows) + "\n")
    result = CliRunner().invoke(app, ["agreement", str(path), "--json"])
    assert result.exit_code == 0, result.output
    check = json.loads(result.stdout)["alpha_check"]
    assert check["reference"] == VERSION and check["agrees"] is True
    assert check["max_abs_difference"] <= 1e-12
