"""Generalizability theory against published examples, plus the API's edge cases.

Published values: Brennan (2001), *Generalizability Theory*, Springer (see
tests/reference/brennan2001_gtheory and tests/reference/brennan2001_two_facet), compared at the
printed precision: ``abs(ours - published) <= 0.5 * 10**-decimals``.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest

from calibrate.errors import StatisticsError
from calibrate.stats.gtheory import (
    Coefficient,
    Design,
    GStudy,
    VarianceComponents,
    gstudy,
    variance_components,
)

REFERENCE = Path(__file__).parents[1] / "reference"


def published(folder: str, statistic: str) -> tuple[float, float]:
    """(published value, tolerance at its printed precision)."""
    values = json.loads((REFERENCE / folder / "reference.json").read_text())["values"]
    (entry,) = [v for v in values if v["statistic"] == statistic]
    return entry["published_value"], 0.5 * 10.0 ** -entry["printed_decimals"]


def read_long(path: Path, *columns: str) -> tuple[np.ndarray, ...]:
    """Integer codes for ``columns`` (in order of first appearance) and the scores."""
    with path.open() as f:
        rows = list(csv.DictReader(f))
    coded = [np.unique([r[c] for r in rows], return_inverse=True)[1] for c in columns]
    return (*coded, np.array([float(r["score"]) for r in rows]))


@pytest.fixture(scope="module")
def synthetic1() -> VarianceComponents:
    """Synthetic Data Set No. 1 as a single-facet p x r design (items in the assessor role)."""
    with (REFERENCE / "brennan2001_gtheory" / "synthetic1_p_x_i.csv").open() as f:
        x = np.array([row[1:] for row in csv.reader(f)][1:], dtype=float)
    p, i = np.indices(x.shape)
    return variance_components(p.ravel(), i.ravel(), None, x.ravel())


@pytest.fixture(scope="module")
def synthetic3() -> VarianceComponents:
    """Synthetic Data Set No. 3, p x i x o: occasions as assessors, items as criteria."""
    p, i, o, x = read_long(
        REFERENCE / "brennan2001_two_facet" / "synthetic3_p_x_i_x_o.csv",
        "person",
        "item",
        "occasion",
    )
    return variance_components(p, o, i, x)


# --- Brennan (2001) Synthetic Data Set No. 1, p x i ------------------------------------------


@pytest.mark.parametrize(
    ("effect", "statistic"),
    [
        ("p", "var(p)"),
        ("r", "var(i)"),
        ("pr,e", "var(pi,e)"),
    ],
)
def test_synthetic1_variance_components(
    synthetic1: VarianceComponents, effect: str, statistic: str
) -> None:
    value, tol = published("brennan2001_gtheory", f"Synthetic 1 (p x i): {statistic}")
    assert synthetic1.notation == "p x r"
    assert synthetic1.balanced
    # Brennan (2001), ch. 2, Synthetic Data Set No. 1: G study p x i
    assert abs(synthetic1[effect].estimate - value) <= tol


def test_synthetic1_coefficients(synthetic1: VarianceComponents) -> None:
    observed = synthetic1.coefficients(12)
    value, tol = published("brennan2001_gtheory", "Synthetic 1 (p x i): E rho^2 (n'_i = 12)")
    # Brennan (2001), ch. 2, Synthetic Data Set No. 1: E rho^2 = .844 for n'_i = 12
    assert abs(observed.g - value) <= tol
    value, tol = published("brennan2001_gtheory", "Synthetic 1 (p x i): Phi (n'_i = 12)")
    # Brennan (2001), ch. 2, Synthetic Data Set No. 1: Phi = .773 for n'_i = 12
    assert abs(observed.phi - value) <= tol


@pytest.mark.parametrize("n", [5, 10, 15, 20])
def test_synthetic1_d_study(synthetic1: VarianceComponents, n: int) -> None:
    """Brennan's D-study coefficients come from hand-rounded inputs.

    He divides the universe-score variance by error variances rounded to four decimals (e.g.
    n'_i = 10: sigma^2(Delta) = .0202, Phi = .0574 / .0776 = .740, where full precision gives
    .7395). So the full-precision coefficients are held to one unit of the printed digit, and
    the same arithmetic on four-decimal inputs to the printed precision.
    """
    (row,) = synthetic1.d_study([n])
    tau = round(synthetic1["p"].estimate, 4)
    for coefficient, error in [("E rho^2", row.relative_error), ("Phi", row.absolute_error)]:
        value, tol = published(
            "brennan2001_gtheory", f"Synthetic 1 D study n'_i = {n}: {coefficient}"
        )
        ours = row.g if coefficient == "E rho^2" else row.phi
        # Brennan (2001), ch. 2, p x I D study of Synthetic Data Set No. 1
        assert abs(ours - value) <= 2 * tol
        # Brennan (2001), ch. 2, same values, from error variances rounded to four decimals
        assert abs(tau / (tau + round(error, 4)) - value) <= tol


# --- Brennan (2001) Synthetic Data Set No. 3, p x i x o -> p x r x i -------------------------


def test_synthetic3_transcription() -> None:
    """The data reproduce Brennan's sums of squares (a check of the CSV, not of the module)."""
    p, i, o, x = read_long(
        REFERENCE / "brennan2001_two_facet" / "synthetic3_p_x_i_x_o.csv",
        "person",
        "item",
        "occasion",
    )
    cube = np.zeros((10, 4, 2))
    cube[p, i, o] = x
    m = cube.mean()
    mp, mi, mo = cube.mean((1, 2)), cube.mean((0, 2)), cube.mean((0, 1))
    mpi, mpo, mio = cube.mean(2), cube.mean(1), cube.mean(0)
    ss = {
        "p": 8 * np.sum((mp - m) ** 2),
        "i": 20 * np.sum((mi - m) ** 2),
        "o": 40 * np.sum((mo - m) ** 2),
        "pi": 2 * np.sum((mpi - mp[:, None] - mi[None, :] + m) ** 2),
        "po": 4 * np.sum((mpo - mp[:, None] - mo[None, :] + m) ** 2),
        "io": 10 * np.sum((mio - mi[:, None] - mo[None, :] + m) ** 2),
    }
    ss["pio"] = np.sum((cube - m) ** 2) - sum(ss.values())
    for effect, value in ss.items():
        expected, tol = published("brennan2001_two_facet", f"Synthetic 3 (p x i x o): SS({effect})")
        # Brennan (2001), ch. 3, Table 3.1: G study sums of squares of Synthetic Data Set No. 3
        assert abs(value - expected) <= tol


@pytest.mark.parametrize(
    ("effect", "brennan"),
    [
        ("p", "p"),
        ("r", "o"),
        ("i", "i"),
        ("pr", "po"),
        ("pi", "pi"),
        ("ri", "io"),
        ("pri,e", "pio,e"),
    ],
)
def test_synthetic3_variance_components(
    synthetic3: VarianceComponents, effect: str, brennan: str
) -> None:
    value, tol = published("brennan2001_two_facet", f"Synthetic 3 (p x i x o): var({brennan})")
    assert synthetic3.notation == "p x r x i"
    assert synthetic3.balanced
    # Brennan (2001), ch. 3, Table 3.1: G study p x i x o of Synthetic Data Set No. 3
    assert abs(synthetic3[effect].raw - value) <= tol


def test_synthetic3_coefficients(synthetic3: VarianceComponents) -> None:
    observed = synthetic3.coefficients(2, 4)
    value, tol = published(
        "brennan2001_two_facet", "Synthetic 3 (p x I x O): E rho^2 (n'_i = 4, n'_o = 2)"
    )
    # Brennan (2001), ch. 3-4, Synthetic Data Set No. 3: E rho^2 = .64 for n'_i = 4, n'_o = 2
    assert abs(observed.g - value) <= tol
    value, tol = published(
        "brennan2001_two_facet", "Synthetic 3 (p x I x O): Phi (n'_i = 4, n'_o = 2)"
    )
    # Brennan (2001), ch. 3-4, Synthetic Data Set No. 3: Phi = .55 for n'_i = 4, n'_o = 2
    assert abs(observed.phi - value) <= tol


# --- Brennan (2001) Synthetic Data Set No. 4, p x (r:t) -> (r:p) x i -------------------------


def test_synthetic4_variance_components() -> None:
    person, task, rater, x = read_long(
        REFERENCE / "brennan2001_two_facet" / "synthetic4_p_x_r_in_t.csv",
        "person",
        "task",
        "rater",
    )
    # Tasks play submissions, raters (nested in tasks) assessors, persons criteria.
    vc = variance_components(task, rater, person, x)
    assert (vc.notation, vc.balanced) == ("(r:p) x i", True)
    for effect, brennan in [
        ("p", "t"),
        ("i", "p"),
        ("r:p", "r:t"),
        ("pi", "pt"),
        ("ri:p,e", "pr:t,e"),
    ]:
        value, tol = published("brennan2001_two_facet", f"Synthetic 4 (p x (r:t)): var({brennan})")
        # Brennan (2001), ch. 3, Table 3.2: G study p x (r:t) of Synthetic Data Set No. 4
        assert abs(vc[effect].raw - value) <= tol


# --- Brennan (2001, ch. 7) unbalanced p x (i:h) -> unbalanced (r:p) x i ----------------------


def test_unbalanced_nested_variance_components() -> None:
    person, h, item, x = read_long(
        REFERENCE / "brennan2001_two_facet" / "unbalanced_p_x_i_in_h.csv", "person", "h", "item"
    )
    # h plays the submission (with 2, 4 and 2 assessors), items the assessors, persons criteria.
    vc = variance_components(h, item, person, x)
    assert (vc.notation, vc.balanced) == ("(r:p) x i", False)
    for effect, brennan in [("p", "h"), ("i", "p"), ("r:p", "i:h"), ("pi:h,e", "pi:h,e")]:
        ours = "ri:p,e" if effect == "pi:h,e" else effect
        value, tol = published("brennan2001_two_facet", f"Unbalanced p x (i:h): var({brennan})")
        # Brennan (2001), ch. 7: analogous-ANOVA estimates for the unbalanced p x (i:h) example
        assert abs(vc[ours].raw - value) <= tol
    value, _ = published("brennan2001_two_facet", "Unbalanced p x (i:h): var(ph)")
    # Brennan (2001), ch. 7, var(ph) = .9913 as transcribed; the printed T terms solve exactly to
    # 6.94/7 = 0.99143 (see the reference README), hence 1.5e-4 rather than 5e-5
    assert abs(vc["pi"].raw - value) <= 1.5e-4
    assert vc["pi"].raw == pytest.approx(6.94 / 7, rel=1e-12)


# --- Shrout & Fleiss (1979): single-facet designs as ICCs ------------------------------------


def shrout_fleiss() -> np.ndarray:
    """Shrout & Fleiss (1979) example: 6 targets x 4 judges."""
    path = REFERENCE / "shrout_fleiss1979" / "sf_targets_by_judges.csv"
    with path.open() as f:
        return np.array([row[1:] for row in csv.reader(f)][1:], dtype=float)


SF = shrout_fleiss()


@pytest.mark.parametrize(
    ("icc", "design", "n", "coefficient"),
    [
        ("ICC(2,1)", "crossed", 1, "phi"),
        ("ICC(2,4)", "crossed", 4, "phi"),
        ("ICC(3,1)", "crossed", 1, "g"),
        ("ICC(3,4)", "crossed", 4, "g"),
        ("ICC(1,1)", "nested", 1, "g"),
        ("ICC(1,4)", "nested", 4, "phi"),
    ],
)
def test_single_facet_designs_are_the_shrout_fleiss_iccs(
    icc: str, design: Design, n: int, coefficient: str
) -> None:
    """ICC(2,k) is Phi and ICC(3,k) is E rho^2 of p x R; ICC(1,k) is E rho^2 = Phi of R:p."""
    p, r = np.indices(SF.shape)
    vc = variance_components(p.ravel(), r.ravel(), None, SF.ravel(), design=design)
    assert vc.notation == ("p x r" if design == "crossed" else "r:p")
    value, tol = published("shrout_fleiss1979", icc)
    # Shrout & Fleiss (1979), Table 4
    assert abs(getattr(vc.coefficients(n), coefficient) - value) <= tol


# --- D studies -----------------------------------------------------------------------------


def test_crossed_components_give_the_nested_d_study(synthetic3: VarianceComponents) -> None:
    crossed = synthetic3.coefficients(2, 4)
    nested = synthetic3.coefficients(2, 4, design="nested")
    assert nested.design == "nested"
    assert nested.phi == pytest.approx(crossed.phi, rel=1e-12)
    assert nested.g < crossed.g
    # Nesting assessors in submissions moves only sigma^2(r) and sigma^2(ri) into the relative
    # error, so the nested D study's absolute and relative errors differ by sigma^2(i) / n'_i
    # (Brennan 2001, ch. 4). Brennan's var(i) = .4417 for Synthetic Data Set No. 3 (Table 3.1),
    # held to its printed precision over n'_i = 4, and the fitted component exactly.
    var_i, tol = published("brennan2001_two_facet", "Synthetic 3 (p x i x o): var(i)")
    gap = nested.absolute_error - nested.relative_error
    assert abs(gap - var_i / 4) <= tol / 4
    assert gap == pytest.approx(synthetic3["i"].estimate / 4, rel=1e-12)


def test_nested_components_cannot_give_a_crossed_d_study() -> None:
    person, task, rater, x = read_long(
        REFERENCE / "brennan2001_two_facet" / "synthetic4_p_x_r_in_t.csv",
        "person",
        "task",
        "rater",
    )
    vc = variance_components(task, rater, person, x)
    with pytest.raises(StatisticsError, match="nested G study cannot give a crossed D study"):
        vc.coefficients(2, design="crossed")


@pytest.mark.parametrize("coefficient", ["phi", "g"])
@pytest.mark.parametrize("target", [0.5, 0.7, 0.8, 0.9, 0.95])
def test_assessors_needed_is_the_first_row_reaching_target(
    synthetic3: VarianceComponents, coefficient: Coefficient, target: float
) -> None:
    needed = synthetic3.assessors_needed(target, coefficient=coefficient)
    table = synthetic3.d_study(range(1, 200))
    reach = [row.n_assessors for row in table if getattr(row, coefficient) >= target]
    assert needed == (int(reach[0]) if reach else None)


def test_assessors_needed_none_when_criteria_error_alone_is_too_large(
    synthetic3: VarianceComponents,
) -> None:
    # With 1 criterion, sigma^2(pi) + sigma^2(i) alone hold Phi below .6 for any number of
    # assessors: the limit is .5528 / (.5528 + .5750 + .4417) = .352.
    assert synthetic3.assessors_needed(0.6, n_criteria=1) is None
    assert synthetic3.assessors_needed(0.3, n_criteria=1) is not None


def test_d_study_table_order(synthetic3: VarianceComponents) -> None:
    table = synthetic3.d_study([1, 2, 3], [4, 8])
    assert [(row.n_criteria, row.n_assessors) for row in table] == [
        (4, 1),
        (4, 2),
        (4, 3),
        (8, 1),
        (8, 2),
        (8, 3),
    ]
    assert table[0].phi < table[1].phi < table[2].phi


def test_gstudy_bundles_the_reports(synthetic3: VarianceComponents) -> None:
    p, i, o, x = read_long(
        REFERENCE / "brennan2001_two_facet" / "synthetic3_p_x_i_x_o.csv",
        "person",
        "item",
        "occasion",
    )
    study = gstudy(p, o, i, x, target=0.7)
    assert isinstance(study, GStudy)
    assert study.components == synthetic3
    assert (study.g, study.phi) == (study.observed.g, study.observed.phi)
    assert [row.n_assessors for row in study.d_study] == [1, 2, 3, 4, 5]
    assert study.assessors_needed_phi == synthetic3.assessors_needed(0.7)
    assert study.assessors_needed_g == synthetic3.assessors_needed(0.7, coefficient="g")
    payload = study.to_dict()
    json.dumps(payload, allow_nan=False)
    assert payload["design"] == "crossed"
    assert payload["variance_components"][0] == {
        "effect": "p",
        "source": "submission (universe score)",
        "raw": synthetic3["p"].raw,
        "estimate": synthetic3["p"].estimate,
    }
    assert payload["assessors_needed"] == {
        "phi": study.assessors_needed_phi,
        "g": study.assessors_needed_g,
    }
    assert len(payload["d_study"]) == 5


# --- Design detection and unbalanced sizes -------------------------------------------------


def live_design(
    n_units: int, n_raters: int, n_criteria: int, seed: int, per_unit: tuple[int, ...] = (2, 3)
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Sparse live design: each submission meets 2-3 of ``n_raters`` assessors."""
    rng = np.random.default_rng(seed)
    k = rng.choice(per_unit, size=n_units)
    unit = np.repeat(np.arange(n_units), k)
    rater = np.concatenate([rng.choice(n_raters, size=m, replace=False) for m in k])
    unit = np.repeat(unit, n_criteria)
    rater = np.repeat(rater, n_criteria)
    criterion = np.tile(np.arange(n_criteria), len(unit) // n_criteria)
    value = rng.integers(1, 5, size=len(unit)).astype(float)
    return unit, rater, criterion, value


def test_design_detection() -> None:
    p, r = np.indices(SF.shape)
    assert variance_components(p.ravel(), r.ravel(), None, SF.ravel()).design == "crossed"
    unit, rater, criterion, value = live_design(60, 40, 3, seed=1)
    vc = variance_components(unit, rater, criterion, value)
    assert (vc.design, vc.notation, vc.balanced) == ("nested", "(r:p) x i", False)
    assert vc.n_submissions == 60 and vc.n_criteria == 3 and vc.n_ratings == len(value)
    per_unit = np.bincount(unit) // 3
    assert vc.assessors_per_submission == pytest.approx(len(per_unit) / np.sum(1 / per_unit))
    assert vc.most_assessors == 3
    assert vc.criteria_per_assessment == 3.0


def test_sparse_data_can_be_fitted_as_crossed_with_missing_cells() -> None:
    unit, rater, criterion, value = live_design(80, 10, 2, seed=2)
    vc = variance_components(unit, rater, criterion, value, design="crossed")
    assert (vc.design, vc.balanced) == ("crossed", False)
    assert [c.effect for c in vc.components] == ["p", "r", "i", "pr", "pi", "ri", "pri,e"]


def test_codes_need_not_be_compact() -> None:
    p, r = np.indices(SF.shape)
    a = variance_components(p.ravel(), r.ravel(), None, SF.ravel())
    b = variance_components(p.ravel() * 1000 + 7, r.ravel() * 31, None, SF.ravel())
    assert a == b


# --- Degenerate input and errors -------------------------------------------------------------


def test_negative_estimate_is_kept_raw_and_truncated() -> None:
    # Two assessors who agree far more than the submissions differ from chance: sigma^2(p) > 0,
    # and an assessor effect so small its estimate is negative.
    x = np.array([[1, 1], [2, 3], [3, 2], [4, 4]], dtype=float)
    p, r = np.indices(x.shape)
    vc = variance_components(p.ravel(), r.ravel(), None, x.ravel())
    assert vc["r"].raw < 0
    assert vc["r"].estimate == 0.0
    observed = vc.coefficients(2)
    assert observed.absolute_error == pytest.approx(vc["pr,e"].raw / 2)


def test_constant_scores_give_nan_coefficients() -> None:
    p, r = np.indices((5, 3))
    study = gstudy(p.ravel(), r.ravel(), None, np.full(15, 2.0))
    assert all(c.estimate == 0 for c in study.components.components)
    assert math.isnan(study.g) and math.isnan(study.phi)
    assert study.assessors_needed_phi is None and study.assessors_needed_g is None


def test_one_criterion_is_the_single_facet_design() -> None:
    unit, rater, _, value = live_design(50, 30, 1, seed=3)
    vc = variance_components(unit, rater, np.full(len(value), 4), value)
    assert vc.notation == "r:p"
    assert [c.effect for c in vc.components] == ["p", "r:p,e"]
    assert vc.coefficients(2, 7) == vc.coefficients(2, 1)


@pytest.mark.parametrize(
    ("unit", "rater", "criterion", "value", "message"),
    [
        ([0, 0, 0], [0, 1, 2], None, [1.0, 2.0, 3.0], "at least two submissions, got 1"),
        ([0, 1, 2, 3], [0, 1, 0, 1], None, [1.0, 2.0, 3.0, 4.0], "two or more assessors"),
        ([0, 0, 1, 1], [0, 0, 0, 0], None, [1.0, 2.0, 3.0, 4.0], "at most one rating"),
        ([0, 0, 1, 1], [0, 1, 0, 1], None, [1.0, np.nan, 3.0, 4.0], "finite"),
        ([0, 0, 1], [0, 1, 0, 1], None, [1.0, 2.0, 3.0], "rater must be a 1-D array as long"),
        ([0.0, 0, 1, 1], [0, 1, 0, 1], None, [1.0, 2.0, 3.0, 4.0], "unit must hold non-negative"),
        ([0, 0, 1, 1], [0, -1, 0, 1], None, [1.0, 2.0, 3.0, 4.0], "non-negative"),
        ([0, 0, 1, 1], [0, 1, 0, 1], None, [[1.0, 2.0, 3.0, 4.0]], "1-D"),
        # Scores in the criterion's place (the order before the shared input contract): refused.
        ([0, 0, 1, 1], [0, 1, 0, 1], [1.0, 2.0, 3.0, 4.0], [0, 0, 0, 0], "criterion must hold"),
    ],
)
def test_bad_input(
    unit: list[float], rater: list[float], criterion: None, value: list[float], message: str
) -> None:
    with pytest.raises(StatisticsError, match=message):
        variance_components(unit, rater, criterion, value)


def test_crossed_needs_assessors_on_several_submissions() -> None:
    unit = np.repeat(np.arange(6), 2)
    rater = np.arange(12)
    value = np.arange(12, dtype=float) % 5
    assert variance_components(unit, rater, None, value).design == "nested"
    with pytest.raises(StatisticsError, match="use design='nested'"):
        variance_components(unit, rater, None, value, design="crossed")


def test_unidentified_components_are_named() -> None:
    # Every assessor scores a single criterion of each submission: sigma^2(r:p) and
    # sigma^2(ri:p,e) cannot be told apart.
    unit = np.repeat(np.arange(8), 4)
    rater = np.arange(32)
    criterion = np.tile([0, 0, 1, 1], 8)
    value = np.random.default_rng(0).integers(1, 5, 32).astype(float)
    with pytest.raises(StatisticsError, match=r"sigma\^2\(r:p\), sigma\^2\(ri:p,e\)"):
        variance_components(unit, rater, criterion, value)


def test_bad_options() -> None:
    p, r = np.indices(SF.shape)
    args = (p.ravel(), r.ravel(), None, SF.ravel())
    with pytest.raises(StatisticsError, match="target must be between 0 and 1"):
        gstudy(*args, target=1.0)
    with pytest.raises(StatisticsError, match="max_assessors must be at least 1"):
        gstudy(*args, max_assessors=0)
    with pytest.raises(StatisticsError, match="design must be 'crossed' or 'nested'"):
        variance_components(*args, design="both")  # type: ignore[arg-type]
    vc = variance_components(*args)
    with pytest.raises(StatisticsError, match="n_assessors must be > 0"):
        vc.coefficients(0)
    with pytest.raises(KeyError, match="no effect 'i' in the p x r design"):
        vc["i"]
