"""Agreement statistics against independent implementations, plus edge cases and input checks."""

from __future__ import annotations

import csv
import itertools
import json
import math
from pathlib import Path

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from calibrate.errors import StatisticsError
from calibrate.stats.agreement import (
    ALPHA_LEVELS,
    cohen_kappa,
    cohen_kappa_pairs,
    coincidence_matrix,
    fleiss_kappa,
    gwet_ac,
    icc,
    krippendorff_alpha,
    percent_agreement,
    standardized_mean_difference,
    summarize,
)

REFERENCE = Path(__file__).parents[1] / "reference"


def sparse_ratings(
    seed: int,
    n_units: int = 300,
    n_raters: int = 12,
    levels: tuple[float, ...] = (1, 2, 3, 4),
    max_per_unit: int = 4,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each unit gets 1..max_per_unit distinct raters; scores near a unit's true level."""
    rng = np.random.default_rng(seed)
    unit, rater, value = [], [], []
    lv = np.asarray(levels, dtype=float)
    for u in range(n_units):
        k = int(rng.integers(1, max_per_unit + 1))
        truth = int(rng.integers(0, lv.size))
        for r in rng.choice(n_raters, size=k, replace=False):
            idx = int(np.clip(truth + rng.integers(-1, 2), 0, lv.size - 1))
            unit.append(u)
            rater.append(int(r))
            value.append(lv[idx])
    return np.array(unit), np.array(rater), np.array(value)


def dense(unit: np.ndarray, rater: np.ndarray, value: np.ndarray) -> np.ndarray:
    """Raters x units matrix with NaN for missing (krippendorff's reliability_data)."""
    out = np.full((rater.max() + 1, unit.max() + 1), np.nan)
    out[rater, unit] = value
    return out


# --- Krippendorff's alpha vs the krippendorff package ------------------------------------------


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("level", ALPHA_LEVELS)
def test_alpha_matches_krippendorff_package(seed: int, level: str) -> None:
    levels = [(1, 2, 3, 4), (0, 1, 2.5, 4, 7), (1, 2, 3), (0.5, 1.5, 10)][seed % 4]
    unit, rater, value = sparse_ratings(seed, levels=levels, max_per_unit=2 + seed % 4)
    ours = krippendorff_alpha(unit, value, level=level)  # type: ignore[arg-type]
    theirs = krippendorff.alpha(dense(unit, rater, value), level_of_measurement=level)
    assert abs(ours - theirs) <= 1e-9


def test_coincidence_matrix_of_krippendorff_2011() -> None:
    # Krippendorff (2011, p. 8) example, values 1-5 (tests/reference/krippendorff2011). By hand
    # from the definition o_ck = sum_u (c-k pairs in u) / (m_u - 1) (Krippendorff 2011, p. 3):
    # u1 (1,1,1): o11 += 6/2; u2 (2,2,3,2): o22 += 6/3, o23 = o32 += 3/3; u3, u4 (3,3,3,3):
    # o33 += 12/3 each; u5, u9 (2,2,2,2): o22 += 12/3 each; u6 (1,2,3,4): every off-diagonal
    # cell among 1-4 += 1/3; u7 (4,4,4,4): o44 += 12/3; u8 (1,1,2,1): o11 += 6/3,
    # o12 = o21 += 3/3; u10 (5,5,5): o55 += 6/2; u11 (1,1): o11 += 2/1; u12: one value, nothing.
    third = 1 / 3
    expected = np.array(
        [
            [7, 1 + third, third, third, 0],
            [1 + third, 10, 1 + third, third, 0],
            [third, 1 + third, 8, third, 0],
            [third, third, third, 4, 0],
            [0, 0, 0, 0, 3],
        ]
    )
    # Checks of the hand computation: the margins n_c count each value among the n = 40
    # pairable values (1: 3+1+3+2, 2: 3+4+1+1+4, 3: 1+4+4+1, 4: 1+4, 5: 3), and nominal
    # alpha = 1 - (n - 1) (n - sum o_cc) / (n^2 - sum n_c^2) = 1 - 39 * 8 / (1600 - 384)
    # = 0.743 is Krippendorff's (2011) printed value.
    n_c = expected.sum(axis=1)
    assert n_c.tolist() == pytest.approx([9, 13, 10, 5, 3]) and n_c.sum() == pytest.approx(40)
    alpha = 1 - 39 * (40 - np.trace(expected)) / (40**2 - np.sum(n_c**2))
    folder = REFERENCE / "krippendorff2011"
    values = json.loads((folder / "reference.json").read_text())["values"]
    (published,) = [v for v in values if v["statistic"] == "Krippendorff's alpha (nominal)"]
    assert abs(alpha - published["published_value"]) <= 0.5 * 10.0 ** -published["printed_decimals"]
    with (folder / "reliability_data_long.csv").open() as f:
        rows = list(csv.DictReader(f))
    c = coincidence_matrix([int(r["unit"]) for r in rows], [float(r["value"]) for r in rows])
    assert c.categories.tolist() == [1, 2, 3, 4, 5]
    np.testing.assert_allclose(c.o, expected, rtol=1e-12)
    assert c.n_pairable == pytest.approx(40)


def test_coincidence_matrix_counts_pairable_values() -> None:
    unit, _, value = sparse_ratings(3)
    c = coincidence_matrix(unit, value)
    m = np.bincount(unit)
    assert c.n_pairable == pytest.approx(m[m >= 2].sum())


# --- Cohen's kappa vs sklearn ---------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("weights", ["unweighted", "linear", "quadratic"])
def test_cohen_kappa_matches_sklearn(seed: int, weights: str) -> None:
    rng = np.random.default_rng(seed)
    truth = rng.integers(1, 5, 80)
    a = np.clip(truth + rng.integers(-1, 2, 80), 1, 4)
    b = np.clip(truth + rng.integers(-1, 2, 80), 1, 4)
    a[0], b[1] = 1, 4  # both ends of the scale used, so value and index spacing coincide
    sk = cohen_kappa_score(a, b, weights=None if weights == "unweighted" else weights)
    assert cohen_kappa(a, b, weights=weights).kappa == pytest.approx(sk, abs=1e-12)  # type: ignore[arg-type]


def test_cohen_kappa_se_unweighted_matches_fleiss_cohen_everitt_special_case() -> None:
    # Fleiss, Cohen & Everitt (1969), eq. 13: the unweighted variance in closed form.
    rng = np.random.default_rng(7)
    a = rng.integers(1, 4, 120)
    b = np.where(rng.random(120) < 0.7, a, rng.integers(1, 4, 120))
    result = cohen_kappa(a, b)
    p = np.zeros((3, 3))
    np.add.at(p, (a - 1, b - 1), 1)
    n = p.sum()
    p /= n
    rows, cols = p.sum(1), p.sum(0)
    k, pe = result.kappa, result.pe
    diag = sum(p[i, i] * (1 - (rows[i] + cols[i]) * (1 - k)) ** 2 for i in range(3))
    off = (1 - k) ** 2 * sum(
        p[i, j] * (cols[i] + rows[j]) ** 2 for i in range(3) for j in range(3) if i != j
    )
    var = (diag + off - (k - pe * (1 - k)) ** 2) / (n * (1 - pe) ** 2)
    assert result.se == pytest.approx(math.sqrt(var), rel=1e-12)
    ci = result.confidence_interval(0.95)
    assert ci.low < k < ci.high and ci.level == 0.95


def test_all_pairs_kappa_matches_sklearn_per_pair() -> None:
    unit, rater, value = sparse_ratings(11, n_units=400, n_raters=8)
    pairs = cohen_kappa_pairs(unit, rater, value, weights="quadratic")
    table = dense(unit, rater, value)
    levels = np.unique(value)
    checked = 0
    for a, b, n, k in zip(pairs.rater_a, pairs.rater_b, pairs.n_units, pairs.kappa, strict=True):
        both = ~np.isnan(table[a]) & ~np.isnan(table[b])
        assert n == both.sum()
        x, y = table[a, both], table[b, both]
        ours = cohen_kappa(x, y, weights="quadratic", levels=levels).kappa
        assert k == pytest.approx(ours, abs=1e-12, nan_ok=True)
        if len(np.unique(np.r_[x, y])) == levels.size:
            sk = cohen_kappa_score(x, y, weights="quadratic")
            assert k == pytest.approx(sk, abs=1e-12)
            checked += 1
    assert checked > 10
    expected = {
        (a, b)
        for a, b in itertools.combinations(range(8), 2)
        if (~np.isnan(table[a]) & ~np.isnan(table[b])).any()
    }
    assert set(zip(pairs.rater_a.tolist(), pairs.rater_b.tolist(), strict=True)) == expected


# --- Fleiss' kappa, AC1, percent agreement: structure checks ------------------------------------


def test_fleiss_kappa_equals_scott_pi_and_alpha_relation_for_two_raters() -> None:
    rng = np.random.default_rng(5)
    a = rng.integers(1, 4, 200).astype(float)
    b = np.where(rng.random(200) < 0.6, a, rng.integers(1, 4, 200))
    unit = np.r_[np.arange(200), np.arange(200)]
    value = np.r_[a, b]
    pi = fleiss_kappa(unit, value).kappa
    # Krippendorff (2011): nominal alpha = (1 - 1/n) pi + 1/n for two coders, no missing data
    n = 2 * 200
    assert krippendorff_alpha(unit, value, level="nominal") == pytest.approx(
        (1 - 1 / n) * pi + 1 / n, abs=1e-12
    )


def test_fleiss_se_h0_needs_equal_ratings_per_unit() -> None:
    unit, _, value = sparse_ratings(2, max_per_unit=3)
    result = fleiss_kappa(unit, value)
    assert math.isnan(result.se_h0)
    assert math.isnan(result.z)
    assert result.se > 0
    ci = result.confidence_interval()
    assert ci.low < result.kappa < ci.high <= 1


def test_percent_adjacent_counts_pairs_one_point_apart() -> None:
    unit = [0, 0, 1, 1, 2, 2]
    value = [1, 2, 1, 3, 4, 4]
    # Pairs (1, 2), (1, 3), (4, 4): exact agreement in unit 2 only, 1/3; within one point also
    # unit 0 (|1 - 2| = 1), not unit 1 (|1 - 3| = 2), 2/3.
    assert percent_agreement(unit, value) == pytest.approx(1 / 3)
    assert percent_agreement(unit, value, within=1) == pytest.approx(2 / 3)


def test_gwet_se_and_interval() -> None:
    unit, _, value = sparse_ratings(4)
    result = gwet_ac(unit, value, weights="quadratic")
    assert 0 < result.se < 0.2
    ci = result.confidence_interval(0.9)
    assert ci.low < result.coefficient < ci.high and ci.to_list() == [ci.low, ci.high]


def test_standardized_mean_difference() -> None:
    x = np.array([1.0, 2, 3, 4, np.nan])
    y = np.array([2.0, 3, 4, 5, 1])
    pooled = math.sqrt((np.var([1, 2, 3, 4], ddof=1) + np.var([2, 3, 4, 5], ddof=1)) / 2)
    assert standardized_mean_difference(x, y) == pytest.approx(1 / pooled)
    assert math.isnan(standardized_mean_difference([2, 2, 2], [2, 2, 2]))
    with pytest.raises(StatisticsError, match="at least two units"):
        standardized_mean_difference([1], [2])


# --- edge cases: a documented value or a clear error ----------------------------------------------


def test_one_unit() -> None:
    # One unit, two different scores: alpha is 1 - (n-1) D_o / D_e = 0 by construction.
    assert krippendorff_alpha([0, 0], [1, 2], level="nominal") == pytest.approx(0.0)
    assert percent_agreement([0, 0], [1, 2]) == 0.0
    # One unit, equal scores: a single category, so chance agreement is 1 and alpha undefined.
    assert math.isnan(krippendorff_alpha([0, 0], [3, 3]))


def test_one_category_used() -> None:
    unit, value = [0, 0, 1, 1, 2, 2], [2, 2, 2, 2, 2, 2]
    for level in ALPHA_LEVELS:
        assert math.isnan(krippendorff_alpha(unit, value, level=level))
    assert math.isnan(fleiss_kappa(unit, value).kappa)
    assert math.isnan(cohen_kappa([2, 2, 2], [2, 2, 2]).kappa)
    assert percent_agreement(unit, value) == 1.0
    # AC1 needs the possible categories: undefined with one, 1.0 on a 3-level rubric.
    assert math.isnan(gwet_ac(unit, value).coefficient)
    assert gwet_ac(unit, value, levels=[1, 2, 3]).coefficient == 1.0
    summary = summarize(unit, [0, 1] * 3, value)
    payload = summary.to_dict()
    assert payload["fleiss_kappa"] != payload["fleiss_kappa"]  # NaN, printed as null
    assert payload["percent_exact"] == 1.0


@pytest.mark.parametrize(
    "call",
    [
        lambda: krippendorff_alpha([0, 1, 2], [1, 2, 3]),
        lambda: percent_agreement([0, 1], [1, 1]),
        lambda: gwet_ac([0, 1], [1, 2]),
        lambda: fleiss_kappa([0, 1], [1, 2]),
        lambda: cohen_kappa_pairs([0, 1], [0, 1], [1, 2]),
        lambda: summarize([0, 1], [0, 0], [1, 2]),
        lambda: krippendorff_alpha([], []),
        lambda: cohen_kappa([1, np.nan], [np.nan, 2]),
    ],
)
def test_nothing_pairable_is_an_error(call: object) -> None:
    with pytest.raises(StatisticsError, match="at least one unit"):
        call()  # type: ignore[operator]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: krippendorff_alpha([0, 0], [1, 2, 3]), "as long as unit"),
        (lambda: krippendorff_alpha([0, -1], [1, 2]), "non-negative integer codes"),
        (lambda: krippendorff_alpha([0, 0.5], [1, 2]), "non-negative integer codes"),
        (lambda: krippendorff_alpha([0, 0], [1, np.inf]), "finite"),
        (lambda: krippendorff_alpha([[0, 0]], [[1, 2]]), "1-D"),
        (lambda: krippendorff_alpha([0, 0], [1, 2], level="bogus"), "level must be"),  # type: ignore[arg-type]
        (lambda: gwet_ac([0, 0], [1, 2], weights="bogus"), "weights must be"),  # type: ignore[arg-type]
        (lambda: gwet_ac([0, 0], [1, 5], levels=[1, 2, 3]), "one of the levels"),
        (lambda: cohen_kappa([1, 2], [1]), "y must be a 1-D array as long as x"),
        (lambda: cohen_kappa([1, np.inf], [1, 2]), "x must be finite"),
        (lambda: krippendorff_alpha(["a", "b"], [1, 2]), "unit must hold non-negative integer"),
        (lambda: krippendorff_alpha([0, 0], ["x", "y"]), "value must hold numbers"),
        (lambda: summarize([0, 0], [0.0, 1.0], [1, 2]), "rater must hold non-negative integer"),
        (lambda: icc([0, 0, 1, 1], [0, 1, 0, 1, 2], [1, 2, 3, 4]), "rater must be a 1-D array"),
        (lambda: summarize([0, 0, 0], [1, 1, 2], [1, 2, 2]), "only once"),
        (lambda: cohen_kappa_pairs([0, 0, 0], [1, 1, 2], [1, 2, 2]), "only once"),
        (lambda: icc([0, 0, 1], [0, 1, 0], [1, 2, 3]), "complete design"),
        (lambda: icc([0, 1], [0, 0], [1, 2]), "two units and two raters"),
        (lambda: percent_agreement([0, 0], [1, 2], within=-1), "within"),
        (lambda: summarize([0, 0], [0, 1], [1, 2], n_boot=10, confidence=1.5), "confidence"),
    ],
)
def test_bad_input_states_the_rule(call: object, message: str) -> None:
    with pytest.raises(StatisticsError, match=message):
        call()  # type: ignore[operator]


def test_missing_values_are_dropped() -> None:
    unit, _, value = sparse_ratings(8)
    with_gaps = krippendorff_alpha(np.r_[unit, [0, 999]], np.r_[value, [np.nan, np.nan]])
    assert with_gaps == krippendorff_alpha(unit, value)


# --- summarize ------------------------------------------------------------------------------------

BASE_KEYS = {
    "n_units",
    "n_raters",
    "n_ratings",
    "percent_exact",
    "percent_adjacent",
    "krippendorff_alpha",
    "gwet_ac1",
    "gwet_ac2",
    "fleiss_kappa",
}


def test_summary_keys_sparse_design() -> None:
    unit, rater, value = sparse_ratings(1)
    payload = summarize(unit, rater, value).to_dict()
    assert set(payload) == BASE_KEYS
    assert set(payload["krippendorff_alpha"]) == {"nominal", "ordinal", "interval", "ratio"}
    assert set(payload["gwet_ac2"]) == {"linear", "quadratic"}
    assert payload["n_ratings"] == unit.size
    assert payload["n_units"] == np.unique(unit).size
    assert payload["n_raters"] == np.unique(rater).size
    json.dumps(payload)


def test_summary_two_raters_complete_design() -> None:
    rng = np.random.default_rng(2)
    truth = rng.integers(1, 5, 60)
    a = np.clip(truth + rng.integers(-1, 2, 60), 1, 4)
    b = np.clip(truth + rng.integers(-1, 2, 60), 1, 4)
    unit = np.r_[np.arange(60), np.arange(60)]
    rater = np.r_[np.full(60, 5), np.full(60, 9)]
    summary = summarize(unit, rater, np.r_[a, b], n_boot=200, seed=3)
    payload = summary.to_dict()
    assert set(payload) == BASE_KEYS | {
        "cohen_kappa",
        "standardized_mean_difference",
        "icc",
        "ci",
    }
    for w in ("unweighted", "linear", "quadratic"):
        assert payload["cohen_kappa"][w] == pytest.approx(
            cohen_kappa(a, b, weights=w).kappa  # type: ignore[arg-type]
        )
    assert payload["standardized_mean_difference"] == pytest.approx(
        standardized_mean_difference(a, b)
    )
    assert set(payload["icc"]) == {"ICC1", "ICC2", "ICC3", "ICC1k", "ICC2k", "ICC3k"}
    ci = payload["ci"]
    assert set(ci) == {
        "percent_exact",
        "percent_adjacent",
        "krippendorff_alpha",
        "gwet_ac1",
        "gwet_ac2",
        "fleiss_kappa",
        "cohen_kappa",
    }
    for family, point in [
        ("percent_exact", payload["percent_exact"]),
        ("gwet_ac1", payload["gwet_ac1"]),
        ("fleiss_kappa", payload["fleiss_kappa"]),
    ]:
        low, high = ci[family]
        assert low <= point <= high
    low, high = ci["krippendorff_alpha"]["interval"]
    assert low <= payload["krippendorff_alpha"]["interval"] <= high
    low, high = ci["cohen_kappa"]["quadratic"]
    assert low <= payload["cohen_kappa"]["quadratic"] <= high


def test_summary_matches_the_separate_functions() -> None:
    unit, rater, value = sparse_ratings(9, levels=(1, 2, 3, 4, 5))
    s = summarize(unit, rater, value)
    assert s.percent_exact == pytest.approx(percent_agreement(unit, value))
    assert s.percent_adjacent == pytest.approx(percent_agreement(unit, value, within=1))
    for level in ALPHA_LEVELS:
        assert s.krippendorff_alpha[level] == pytest.approx(
            krippendorff_alpha(unit, value, level=level)
        )
    assert s.gwet_ac1 == pytest.approx(gwet_ac(unit, value).coefficient)
    assert s.gwet_ac2["quadratic"] == pytest.approx(
        gwet_ac(unit, value, weights="quadratic").coefficient
    )
    assert s.fleiss_kappa == pytest.approx(fleiss_kappa(unit, value).kappa)
    assert s.cohen_kappa is None and s.icc is None and s.ci is None


def test_summary_levels_change_ac1_not_alpha() -> None:
    unit, rater, value = sparse_ratings(10, levels=(1, 2, 3))
    observed = summarize(unit, rater, value)
    rubric = summarize(unit, rater, value, levels=[1, 2, 3, 4])
    assert rubric.krippendorff_alpha == pytest.approx(observed.krippendorff_alpha, abs=1e-12)
    assert rubric.gwet_ac1 != observed.gwet_ac1
