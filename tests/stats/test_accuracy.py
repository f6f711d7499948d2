"""Accuracy against anchors and pass-decision agreement (calibrate.stats.accuracy)."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
import scipy.stats as sps
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import cohen_kappa_score

from calibrate.errors import StatisticsError
from calibrate.stats.accuracy import (
    anchor_accuracy,
    decision_accuracy,
    decision_agreement,
)
from calibrate.stats.agreement import cohen_kappa, percent_agreement

REFERENCE = Path(__file__).parents[1] / "reference"

# Paired ratings: (group, anchor, value, expert), each of shape (n,); anchor_accuracy takes
# (unit=anchor, group, value, expert), the input contract's order.
Paired = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def test_hand_computed_one_assessor_two_anchors() -> None:
    # Anchor 0 expert (3, 2), assessor (2, 2); anchor 1 expert (1, 2), assessor (1, 3).
    # d = (-1, 0, 0, +1): exact 2/4, adjacent 4/4, mean 0, MAE 2/4.
    # Clustered SE: D = (-1, +1), n_a = (2, 2), A = 2: var = 2/1 * ((-1)^2 + 1^2) / 4^2 = 0.25.
    # QWK on 1-3 (w = 1 - (k - l)^2 / 4): po = (0.75 + 1 + 1 + 0.75) / 4 = 0.875; both margins
    # (1/4, 1/2, 1/4), so pe = 1 - E(X - Y)^2 / 4 = 1 - 2 * 0.5 / 4 = 0.75; kappa = 0.125 / 0.25.
    acc = anchor_accuracy([0, 0, 1, 1], [0, 0, 0, 0], [2, 2, 1, 3], [3, 2, 1, 2], levels=[1, 2, 3])
    assert acc.n.tolist() == [4] and acc.n_anchors.tolist() == [2]
    assert acc.exact.tolist() == [0.5] and acc.adjacent.tolist() == [1.0]
    assert acc.mean_deviation.tolist() == [0.0] and acc.mae.tolist() == [0.5]
    assert acc.se.tolist() == pytest.approx([0.5])
    assert acc.qwk.tolist() == pytest.approx([0.5])
    ci = acc.confidence_interval(0.95)
    # t(0.975, 1 df) = 12.706205.
    assert (ci[0].low, ci[0].high) == pytest.approx((-6.3531024, 6.3531024))
    assert ci[0].level == 0.95 and len(ci) == 1


def test_hand_computed_clustered_standard_error() -> None:
    # Three anchors x two criteria: d = (1, 1 | 0, 0 | -1, 0); N = 6, mean 1/6.
    # D = (2, 0, -1), n_a = 2: residuals D - 2/6 = (5/3, -1/3, -4/3), squares sum 42/9.
    # var = 3/2 * 42/9 / 36 = 7/36 (the unclustered s^2 / N would be 17/30 / 6 = 0.0944).
    acc = anchor_accuracy(
        [0, 0, 1, 1, 2, 2], [0] * 6, [3, 3, 2, 2, 1, 2], [2, 2, 2, 2, 2, 2], levels=[1, 2, 3]
    )
    assert acc.mean_deviation[0] == pytest.approx(1 / 6)
    assert acc.se[0] == pytest.approx(math.sqrt(7 / 36))


def test_groups_are_independent_and_empty_groups_are_nan() -> None:
    group = [0, 0, 2, 2]
    acc = anchor_accuracy([0, 1, 0, 1], group, [1, 2, 3, 3], [1, 2, 2, 2], n_groups=4)
    assert acc.n.tolist() == [2, 0, 2, 0]
    assert acc.exact[0] == 1.0 and acc.exact[2] == 0.0
    assert acc.mean_deviation[2] == 1.0
    for field in (acc.exact, acc.mean_deviation, acc.se, acc.mae, acc.qwk):
        assert np.isnan(field[[1, 3]]).all()
    ci = acc.confidence_interval()
    assert np.isnan(ci.low[1]) and np.isnan(ci.high[3])


def test_one_rating_per_anchor_is_the_t_interval_over_ratings() -> None:
    rng = np.random.default_rng(3)
    expert = rng.integers(1, 5, 30)
    value = np.clip(expert + rng.integers(-1, 2, 30), 1, 4)
    acc = anchor_accuracy(np.arange(30), np.zeros(30, dtype=int), value, expert)
    d = value - expert
    assert acc.se[0] == pytest.approx(sps.sem(d))
    ci = acc.confidence_interval(0.9)[0]
    expected = sps.t.interval(0.9, 29, loc=d.mean(), scale=sps.sem(d))
    assert (ci.low, ci.high) == pytest.approx(expected)


def test_qwk_reproduces_gwet_cont3x3abstractors() -> None:
    # Gwet (2014) / irrCAC cont3x3abstractors, quadratic weighted Cohen's kappa 0.8921569;
    # percent agreement 0.89 (reference.json). Abstractor 1 read as the expert.
    with (REFERENCE / "gwet_irrCAC" / "cont3x3abstractors.csv").open() as f:
        table = [[int(c) for c in row[1:]] for row in list(csv.reader(f))[1:]]
    expert = [k + 1 for k in range(3) for j in range(3) for _ in range(table[k][j])]
    value = [j + 1 for k in range(3) for j in range(3) for _ in range(table[k][j])]
    acc = anchor_accuracy(range(100), [0] * 100, value, expert)
    values = json.loads((REFERENCE / "gwet_irrCAC" / "reference.json").read_text())["values"]
    published = {(v["statistic"], v["variant"]): v["published_value"] for v in values}
    qwk = published["Cohen's kappa - cont3x3abstractors", "quadratic weights"]
    exact = published["percent agreement - cont3x3abstractors", "identity weights"]
    # Gwet (2014), irrCAC weighting vignette: Cohen's kappa, quadratic weights, 0.8921569.
    assert abs(acc.qwk[0] - qwk) <= 0.5e-7
    # Gwet (2014), irrCAC README: percent agreement 0.89.
    assert abs(acc.exact[0] - exact) <= 0.5e-2


@st.composite
def paired(draw: st.DrawFn, top: int = 4) -> Paired:
    """Up to 4 assessors scoring some of up to 6 anchors on up to 3 criteria, scores 1..top."""
    n_groups = draw(st.integers(1, 4))
    n_anchors = draw(st.integers(1, 6))
    n_crit = draw(st.integers(1, 3))
    expert = draw(
        st.lists(st.integers(1, 4), min_size=n_anchors * n_crit, max_size=n_anchors * n_crit)
    )
    group, anchor, value, exp = [], [], [], []
    for g in range(n_groups):
        for a in draw(st.sets(st.integers(0, n_anchors - 1), min_size=1)):
            for c in range(n_crit):
                group.append(g)
                anchor.append(a)
                exp.append(expert[a * n_crit + c])
                value.append(draw(st.integers(1, top)))
    return np.array(group), np.array(anchor), np.array(value, float), np.array(exp, float)


@settings(max_examples=60, deadline=None)
@given(paired())
def test_exact_and_adjacent_are_percent_agreement_on_the_pairs(data: Paired) -> None:
    group, anchor, value, expert = data
    acc = anchor_accuracy(anchor, group, value, expert, levels=[1, 2, 3, 4])
    for g in np.unique(group):
        x, e = value[group == g], expert[group == g]
        unit = np.tile(np.arange(x.size), 2)
        both = np.concatenate([e, x])
        assert acc.exact[g] == pytest.approx(percent_agreement(unit, both))
        assert acc.adjacent[g] == pytest.approx(percent_agreement(unit, both, within=1))
        qwk = cohen_kappa(e, x, weights="quadratic", levels=[1, 2, 3, 4]).kappa
        assert acc.qwk[g] == pytest.approx(qwk, nan_ok=True)


@settings(max_examples=60, deadline=None)
@given(paired())
def test_a_perfect_assessor(data: Paired) -> None:
    group, anchor, _, expert = data
    acc = anchor_accuracy(anchor, group, expert, expert, levels=[1, 2, 3, 4])
    assert (acc.exact == 1).all() and (acc.adjacent == 1).all()
    assert (acc.mean_deviation == 0).all() and (acc.mae == 0).all()
    assert (acc.se[acc.n_anchors >= 2] == 0).all()
    # Kappa is 1 unless the experts used a single level throughout (then 0/0).
    assert (np.isclose(acc.qwk, 1) | np.isnan(acc.qwk)).all()
    passed = expert >= 3
    assert (decision_accuracy(group, passed, passed).accuracy == 1).all()


@settings(max_examples=60, deadline=None)
@given(paired(top=3))
def test_one_level_up_shifts_the_mean_deviation_by_one(data: Paired) -> None:
    group, anchor, value, expert = data  # value <= 3: value + 1 is never clipped at 4
    before = anchor_accuracy(anchor, group, value, expert, levels=[1, 2, 3, 4])
    after = anchor_accuracy(anchor, group, value + 1, expert, levels=[1, 2, 3, 4])
    assert after.mean_deviation == pytest.approx(before.mean_deviation + 1)
    assert after.se == pytest.approx(before.se, nan_ok=True)


@settings(max_examples=40, deadline=None)
@given(paired(), st.randoms(use_true_random=False))
def test_invariant_under_reordering_ratings(data: Paired, rnd: object) -> None:
    group, anchor, value, expert = data
    order = np.arange(group.size)
    rnd.shuffle(order)  # type: ignore[attr-defined]
    a = anchor_accuracy(anchor, group, value, expert, levels=[1, 2, 3, 4])
    b = anchor_accuracy(
        anchor[order], group[order], value[order], expert[order], levels=[1, 2, 3, 4]
    )
    for name in ("n", "n_anchors", "exact", "adjacent", "mean_deviation", "se", "mae", "qwk"):
        assert getattr(b, name) == pytest.approx(getattr(a, name), nan_ok=True)


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (([0], [0], [1, 2], [1, 2]), {}, "as long as unit"),
        (([0, 0], [0, 0], [1, 2], [1]), {}, "expert must be a 1-D array as long as unit"),
        (([0], [0], [np.nan], [1]), {}, "finite"),
        (([], [], [], []), {}, "at least one rating"),
        (([-1], [0], [1], [1]), {}, "non-negative integer codes"),
        (([0], [0.5], [1], [1]), {}, "group must hold non-negative integer codes"),
        (([0], [3], [1], [1]), {"n_groups": 2}, "n_groups"),
        (([0], [0], [5], [1]), {"levels": [1, 2, 3]}, "levels"),
    ],
)
def test_anchor_accuracy_refuses_bad_input(
    args: tuple[list[float], ...], kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(StatisticsError, match=message):
        anchor_accuracy(*args, **kwargs)  # type: ignore[arg-type]


def test_confidence_must_be_a_probability() -> None:
    acc = anchor_accuracy([0, 1], [0, 0], [1, 2], [1, 1])
    with pytest.raises(StatisticsError, match="confidence"):
        acc.confidence_interval(95)


def test_decision_accuracy_counts() -> None:
    # Assessor 0: 5 anchors, decisions P P F F P against experts P F F P P:
    # agree on 3 of 5; one false pass (anchor 1), one false fail (anchor 3).
    # Assessor 1: none. Assessor 2: F against P: accuracy 0, one false fail.
    acc = decision_accuracy(
        [0, 0, 0, 0, 0, 2],
        [True, True, False, False, True, False],
        [True, False, False, True, True, True],
        n_groups=3,
    )
    assert acc.n.tolist() == [5, 0, 1]
    assert acc.accuracy[0] == 0.6 and math.isnan(acc.accuracy[1]) and acc.accuracy[2] == 0
    assert acc.false_pass.tolist() == [1, 0, 0]
    assert acc.false_fail.tolist() == [1, 0, 1]


@pytest.mark.parametrize(
    ("decision", "expert", "message"),
    [
        ([1, 2], [1, 0], "decision must hold pass decisions"),
        (["y"], [1], "decision"),
        ([1], [1, 0], "same shape"),
    ],
)
def test_decision_accuracy_refuses_non_decisions(
    decision: list[int] | list[str], expert: list[int], message: str
) -> None:
    with pytest.raises(StatisticsError, match=message):
        decision_accuracy([0] * len(decision), decision, expert)


def test_decision_agreement_hand_computed() -> None:
    # 20 submissions: both pass 12, both fail 3, first only 4, second only 1.
    # p_o = 15/20 = 0.75; margins first (16, 4)/20, second (13, 7)/20:
    # p_e = 0.8 * 0.65 + 0.2 * 0.35 = 0.59; kappa = 0.16 / 0.41.
    # AC1: pi(pass) = (16 + 13) / 40 = 0.725, p_e = 2 * 0.725 * 0.275 = 0.39875;
    # AC1 = (0.75 - 0.39875) / (1 - 0.39875).
    first = [1] * 12 + [0] * 3 + [1] * 4 + [0]
    second = [1] * 12 + [0] * 3 + [0] * 4 + [1]
    agree = decision_agreement(first, second)
    assert agree.n == 20 and agree.n_discrepant == 5
    assert agree.percent == pytest.approx(0.75)
    assert agree.kappa.kappa == pytest.approx(0.16 / 0.41)
    assert agree.ac1.coefficient == pytest.approx(0.35125 / 0.60125)
    # SE of kappa, Fleiss, Cohen & Everitt (1969), eq. 13, on the 2 x 2 table of proportions
    # (rows first reading, columns second; categories not yet, pass):
    p = np.array([[3, 1], [4, 12]]) / 20
    rows, cols = p.sum(1), p.sum(0)
    k, pe = 0.16 / 0.41, 0.59
    diag = sum(p[i, i] * (1 - (rows[i] + cols[i]) * (1 - k)) ** 2 for i in range(2))
    off = (1 - k) ** 2 * (p[0, 1] * (cols[0] + rows[1]) ** 2 + p[1, 0] * (cols[1] + rows[0]) ** 2)
    se = math.sqrt((diag + off - (k - pe * (1 - k)) ** 2) / (20 * (1 - pe) ** 2))
    assert agree.kappa.se == pytest.approx(se, rel=1e-12)
    # 95% Wald interval kappa +- z se, z = 1.959964 (standard normal 0.975 quantile, 7 digits)
    assert agree.to_dict()["cohen_kappa_ci"] == pytest.approx(
        [k - 1.959964 * se, k + 1.959964 * se], rel=1e-6
    )


def test_decision_agreement_when_everyone_passes() -> None:
    # The kappa paradox (Gwet 2008): 19 of 20 agree on pass; kappa is near 0, AC1 near 0.95.
    # kappa: margins (1, 0) and (0.95, 0.05), p_e = 1 * 0.95 + 0 * 0.05 = 0.95 = p_o, kappa = 0.
    # AC1 (Gwet 2008; q = 2 categories, p_e = sum_k pi_k (1 - pi_k) / (q - 1) = 2 pi (1 - pi)):
    # pi(pass) = (20 + 19) / 40 = 0.975, p_e = 2 * 0.975 * 0.025 = 0.04875;
    # AC1 = (0.95 - 0.04875) / (1 - 0.04875) = 0.90125 / 0.95125 = 0.94744.
    agree = decision_agreement([True] * 20, [True] * 19 + [False])
    assert agree.percent == 0.95
    assert agree.kappa.kappa == pytest.approx(0.0)
    assert agree.ac1.coefficient == pytest.approx(0.90125 / 0.95125, rel=1e-12)
    everyone = decision_agreement([True] * 5, [True] * 5)
    # Chance agreement 1: kappa undefined (documented NaN); AC1 = percent agreement = 1.
    assert math.isnan(everyone.kappa.kappa) and everyone.ac1.coefficient == 1.0


def test_decision_agreement_matches_independent_computations() -> None:
    rng = np.random.default_rng(11)
    first, second = rng.random(50) < 0.7, rng.random(50) < 0.6
    agree = decision_agreement(first, second)
    # percent: share of submissions with the same decision
    po = float(np.mean(first == second))
    assert agree.percent == pytest.approx(po, rel=1e-12)
    assert agree.n_discrepant == int(np.sum(first != second))
    # AC1 (Gwet 2008), two categories: p_e = sum_k pi_k (1 - pi_k) / (2 - 1) = 2 pi (1 - pi),
    # pi = share of passes over both readings
    pi = (first.sum() + second.sum()) / 100
    pe = 2 * pi * (1 - pi)
    assert agree.ac1.coefficient == pytest.approx((po - pe) / (1 - pe), rel=1e-12)
    # Cohen's kappa: scikit-learn, an independent implementation
    assert agree.kappa.kappa == pytest.approx(cohen_kappa_score(first, second), rel=1e-12)


def test_decision_agreement_refuses_bad_input() -> None:
    with pytest.raises(StatisticsError, match="at least one submission"):
        decision_agreement([], [])
    with pytest.raises(StatisticsError, match="equal length"):
        decision_agreement([1, 0], [1])
    with pytest.raises(StatisticsError, match="second must hold pass decisions"):
        decision_agreement([1], [0.5])
