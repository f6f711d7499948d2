"""Consistency across earners' attempts (calibrate.analyses.attempts).

Hand-computed figures on a four-earner example, the interval methods against scipy and against
the worked examples of Newcombe (1998), a planted-effect simulation, invariants, input errors.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
import scipy.stats as sps
from hypothesis import given, settings
from hypothesis import strategies as st

from calibrate.analyses.attempts import (
    AttemptReport,
    CalibrationRounds,
    FinalResults,
    _newcombe,
    _wilson,
    attempt_report,
    calibration_progress,
)
from calibrate.errors import CalibrateError
from calibrate.ratings import RatingRows, Ratings
from calibrate.rubric import Rubric, rubric_from_data
from calibrate.stats.accuracy import anchor_accuracy


def _rubric(levels: Sequence[int], criteria: Sequence[str], key: str = "r") -> Rubric:
    return rubric_from_data(
        {
            "id": key,
            "version": 1,
            "title": "R",
            "competency": "C",
            "levels": [{"score": s, "label": f"L{s}"} for s in levels],
            "criteria": [
                {"id": c, "title": c, "descriptors": {s: f"d{s}" for s in levels}} for c in criteria
            ],
            "pass_rule": {"every_criterion_at_least": 3},
        },
        source=f"{key}.yaml",
    )


RUBRIC = _rubric((1, 2, 3), ("a", "b"))
"""Levels 1-3, criteria a and b, passed with 3 on both."""

Reading = tuple[str, str, Any, str, Sequence[float]]
"""(submission, earner, attempt, assessor, scores of the criteria in rubric order; NaN = not
scored)."""


def _ratings(
    readings: Sequence[Reading],
    criteria: Sequence[str] = ("a", "b"),
    extra: dict[str, Sequence[str]] | None = None,
) -> Ratings:
    rows = [
        (sub, earner, str(attempt), who, c, float(x))
        for sub, earner, attempt, who, scores in readings
        for c, x in zip(criteria, scores, strict=True)
        if not math.isnan(x)
    ]
    sub, earner, attempt, who, crit, score = map(list, zip(*rows, strict=True))

    def text(values: Sequence[Any]) -> np.ndarray:
        return np.array(values, dtype=object)

    columns = {"earner": text(earner), "attempt": text(attempt)}
    for name, values in (extra or {}).items():
        columns[name] = text(values)
    return RatingRows(
        source="test",
        line=np.arange(len(rows)),
        submission=text(sub),
        assessor=text(who),
        criterion=text(crit),
        score=np.array(score),
        columns=columns,
    ).encode()


# Four earners, three assessors. Decisions (pass = 3 on a and b):
#   E1: s11 (attempt 1) A (2,3) fail, B (2,2) fail -> fail;  s12 (2) A (3,3), C (3,3) -> pass
#   E2: s21 (1) B (3,3) pass, C (3,2) fail -> undecided;     s22 (2) A (3,3) -> pass
#   E3: s31 (1) C (1,2) -> fail; s32 (2) C (2,2), B (2,3) -> fail; s33 (3) B (3,3) pass,
#       A (3,2) fail -> undecided
#   E4: s41 (1) A (3,3), B (3,3) -> pass
SMALL: list[Reading] = [
    ("s11", "E1", 1, "A", (2, 3)),
    ("s11", "E1", 1, "B", (2, 2)),
    ("s12", "E1", 2, "A", (3, 3)),
    ("s12", "E1", 2, "C", (3, 3)),
    ("s21", "E2", 1, "B", (3, 3)),
    ("s21", "E2", 1, "C", (3, 2)),
    ("s22", "E2", 2, "A", (3, 3)),
    ("s31", "E3", 1, "C", (1, 2)),
    ("s32", "E3", 2, "C", (2, 2)),
    ("s32", "E3", 2, "B", (2, 3)),
    ("s33", "E3", 3, "B", (3, 3)),
    ("s33", "E3", 3, "A", (3, 2)),
    ("s41", "E4", 1, "A", (3, 3)),
    ("s41", "E4", 1, "B", (3, 3)),
]


def t975(df: int) -> float:
    return float(sps.t.ppf(0.975, df))


def wilson(x: int, n: int) -> tuple[float, float]:
    ci = sps.binomtest(x, n).proportion_ci(confidence_level=0.95, method="wilson")
    return float(ci.low), float(ci.high)


def newcombe(p1: float, ci1: tuple[float, float], p2: float, ci2: tuple[float, float]) -> tuple:
    # Newcombe (1998), method 10: delta -+ sqrt of the squared inner distances of the two
    # Wilson intervals.
    d = p1 - p2
    return (
        d - math.sqrt((p1 - ci1[0]) ** 2 + (ci2[1] - p2) ** 2),
        d + math.sqrt((ci1[1] - p1) ** 2 + (p2 - ci2[0]) ** 2),
    )


@pytest.fixture(scope="module")
def small() -> AttemptReport:
    return attempt_report(_ratings(SMALL), RUBRIC, min_double_scored=2)


# --- 1. pass rates and earned shares ------------------------------------------------------------


def test_pass_rates_by_attempt_hand_computed(small: AttemptReport) -> None:
    first, second, third = small.pass_rates
    # Attempt 1: s11 fail, s21 undecided, s31 fail, s41 pass -> 1 of 3 decided.
    assert (first.attempt, first.n_submissions, first.n_decided, first.n_passed) == ("1", 4, 3, 1)
    assert (first.n_undecided, first.n_unscored) == (1, 0)
    assert first.pass_rate.estimate == pytest.approx(1 / 3)
    assert first.pass_rate.interval.to_list() == pytest.approx(wilson(1, 3))
    assert first.vs_first is None
    # Attempt 2: s12 pass, s22 pass, s32 fail -> 2 of 3; minus 1/3 = +1/3, Newcombe's interval
    # from the two Wilson intervals (scipy).
    assert (second.n_decided, second.n_passed) == (3, 2)
    assert second.vs_first is not None
    assert second.vs_first.estimate == pytest.approx(1 / 3)
    expected = newcombe(2 / 3, wilson(2, 3), 1 / 3, wilson(1, 3))
    assert second.vs_first.interval.to_list() == pytest.approx(expected)
    assert second.vs_first.verdict == "too few to tell"
    assert second.vs_first.n_clusters == 4  # E1-E4 among attempts 1 and 2
    # Attempt 3: s33 undecided: nothing decided, no comparison.
    assert (third.n_decided, third.n_undecided) == (0, 1)
    assert math.isnan(third.pass_rate.estimate) and third.vs_first is None
    assert third.sentence == "No third attempt has a decision yet."


def test_earned_by_attempt_hand_computed(small: AttemptReport) -> None:
    # By 1: E4 only; E2's undecided s21 was followed by s22, so not earned -> 1/4.
    # By 2: E1 (s12), E2 (s22), E4 -> 3/4 (E3: s31, s32 fail).
    # By 3: E3's last submission s33 is undecided -> unknown, left out: 3/3.
    rows = [(r.by_attempt, r.n_earned, r.n_earners, r.n_unknown) for r in small.earned]
    assert rows == [("1", 1, 4, 0), ("2", 3, 4, 0), ("3", 3, 3, 1)]
    assert small.earned[1].share.interval.to_list() == pytest.approx(wilson(3, 4))
    assert small.earned[0].sentence == (
        "By attempt 1, 1 of 4 earners (25%, 95% CI 5% to 70%) had earned the credential."
    )


def test_final_results_decide_before_readings() -> None:
    # s21 final "not yet", s33 final "passed": attempt 1 now 1 of 4, attempt 3 1 of 1, and E3
    # has earned by attempt 3 (4 of 4). A result for a submission not rated is ignored.
    results = FinalResults(
        submission=np.array(["s21", "s33", "elsewhere"], dtype=object),
        passed=np.array([False, True, True]),
    )
    report = attempt_report(_ratings(SMALL), RUBRIC, results=results)
    assert report.n_from_results == 2
    first, _, third = report.pass_rates
    assert (first.n_decided, first.n_passed, first.n_undecided) == (4, 1, 0)
    assert (third.n_decided, third.n_passed) == (1, 1)
    assert (report.earned[-1].n_earned, report.earned[-1].n_earners) == (4, 4)


def test_four_plus_pools_later_attempts_and_any_attempt() -> None:
    # One earner failing attempts 1-4 and passing 5: "4+" holds attempts 4 and 5 (1 of 2).
    readings: list[Reading] = [
        (f"s{k}", "E", k, "A", (3, 3) if k == 5 else (2, 2)) for k in range(1, 6)
    ]
    report = attempt_report(_ratings(readings), RUBRIC)
    assert [r.attempt for r in report.pass_rates] == ["1", "2", "3", "4+"]
    assert (report.pass_rates[-1].n_decided, report.pass_rates[-1].n_passed) == (2, 1)
    assert [r.n_earned for r in report.earned] == [0, 0, 0, 1]


# --- 2. score change ----------------------------------------------------------------------------


def test_score_change_hand_computed(small: AttemptReport) -> None:
    # Submission scores (mean of readings), pairs (k-1 -> k):
    #   E1 s11 (2, 2.5) -> s12 (3, 3):    d = (+1, +0.5)
    #   E2 s21 (3, 2.5) -> s22 (3, 3):    d = ( 0, +0.5)
    #   E3 s31 (1, 2)   -> s32 (2, 2.5):  d = (+1, +0.5)
    #   E3 s32 (2, 2.5) -> s33 (3, 2.5):  d = (+1,  0)
    # a: mean 3/4; residuals (.25, -.75, .25, .25), earner sums (.25, -.75, .5), squares .875;
    #    var = 3/2 * .875 / 16 = 0.08203125 (G = 3 earners), t on 2 df.
    # b: mean 3/8; earner sums (.125, .125, -.25), squares .09375; var = 3/2 * .09375 / 16.
    # all: mean 4.5/8; earner sums (.375, -.625, .25), squares .59375; var = 1.5 * .59375 / 64.
    rows = {r.criterion: r.change for r in small.score_changes}
    assert list(rows) == ["a", "b", "all criteria"]
    for name, mean, var in (
        ("a", 0.75, 1.5 * 0.875 / 16),
        ("b", 0.375, 1.5 * 0.09375 / 16),
        ("all criteria", 0.5625, 1.5 * 0.59375 / 64),
    ):
        half = t975(2) * math.sqrt(var)
        assert rows[name].estimate == pytest.approx(mean)
        assert rows[name].interval.to_list() == pytest.approx([mean - half, mean + half])
        assert rows[name].n_clusters == 3
    assert rows["a"].n == 4 and rows["all criteria"].n == 8
    assert rows["all criteria"].verdict == "higher"  # low = 0.055 > 0
    assert rows["b"].verdict == "too few to tell"


def test_score_change_standard_error_matches_anchor_accuracy() -> None:
    # The clustered SE of a mean is anchor_accuracy's (clusters = its anchors): the change of
    # criterion a (d = 1, 0, 1, 1 for earners E1, E2, E3, E3) as deviations from 0.
    se = float(anchor_accuracy([0, 1, 2, 2], [0] * 4, [1, 0, 1, 1], [0] * 4).se[0])
    report = attempt_report(_ratings(SMALL), RUBRIC)
    change = report.score_changes[0].change
    assert change.interval.high - change.estimate == pytest.approx(t975(2) * se)


# --- 3. same vs new assessor --------------------------------------------------------------------


def test_same_versus_new_hand_computed(small: AttemptReport) -> None:
    # Resubmission readings (same = read attempt k-1 too):
    #   s12: A same pass 3.0, C new pass 3.0;   s22: A new pass 3.0
    #   s32: C same fail 2.0, B new fail 2.5;   s33: B same pass 3.0, A new fail 2.5
    # same: 2 of 3 pass, mean (3 + 2 + 3) / 3; new: 2 of 4, mean (3 + 3 + 2.5 + 2.5) / 4.
    c = small.continuity
    assert (c.n_resubmissions, c.n_without_previous) == (4, 0)
    assert (c.same.pass_rate.n, c.new.pass_rate.n) == (3, 4)
    assert c.same.pass_rate.interval.to_list() == pytest.approx(wilson(2, 3))
    assert c.new.pass_rate.interval.to_list() == pytest.approx(wilson(2, 4))
    assert c.pass_difference.estimate == pytest.approx(0.5 - 2 / 3)
    expected = newcombe(0.5, wilson(2, 4), 2 / 3, wilson(2, 3))
    assert c.pass_difference.interval.to_list() == pytest.approx(expected)
    assert c.same.mean_score.estimate == pytest.approx(8 / 3)
    assert c.new.mean_score.estimate == pytest.approx(2.75)
    # Difference 2.75 - 8/3 = 1/12; cluster scores sum(w e) with w = 1/4 (new), -1/3 (same):
    #   E1: (1/3)(-1/3) + (1/4)(1/4) = -7/144;  E2: (1/4)(1/4) = 9/144
    #   E3: (-2/3)(-1/3) + (1/3)(-1/3) + 2 (-1/4)(1/4) = -2/144
    # var = 3/2 * (49 + 81 + 4) / 144^2 = 201 / 20736.
    half = t975(2) * math.sqrt(201 / 20736)
    assert c.score_difference.estimate == pytest.approx(1 / 12)
    assert c.score_difference.interval.to_list() == pytest.approx([1 / 12 - half, 1 / 12 + half])
    # Paired (both groups read it): s12 0, s32 +0.5, s33 -0.5: mean 0, earner sums 0 and 0.
    assert c.paired_score_difference.estimate == pytest.approx(0)
    assert c.paired_score_difference.interval.to_list() == pytest.approx([0, 0])
    assert c.paired_score_difference.n == 3
    assert c.verdict == "too few to tell"
    assert "not assigned at random" in c.sentence


def test_score_difference_matches_the_sandwich_of_a_regression() -> None:
    # Independent check: OLS of the per-resubmission group mean on [1, new], CR1 sandwich
    # (X'X)^-1 (sum_g X_g' e_g e_g' X_g) (X'X)^-1 * G / (G - 1), earners as clusters.
    y = np.array([3, 2, 3, 3, 3, 2.5, 2.5])  # same s12, s32, s33; new s12, s22, s32, s33
    new = np.array([0, 0, 0, 1, 1, 1, 1])
    earner = np.array([1, 3, 3, 1, 2, 3, 3])
    x = np.column_stack([np.ones(7), new])
    bread = np.linalg.inv(x.T @ x)
    beta = bread @ x.T @ y
    e = y - x @ beta
    meat = sum(
        np.outer(x[earner == g].T @ e[earner == g], x[earner == g].T @ e[earner == g])
        for g in (1, 2, 3)
    )
    se = math.sqrt((bread @ meat @ bread)[1, 1] * 3 / 2)
    c = attempt_report(_ratings(SMALL), RUBRIC).continuity
    assert c.score_difference.estimate == pytest.approx(beta[1])
    assert c.score_difference.interval.high == pytest.approx(beta[1] + t975(2) * se)


# --- 4. leniency toward later attempts ----------------------------------------------------------


def test_leniency_hand_computed(small: AttemptReport) -> None:
    # Reading means on double-scored submissions, D = reading minus the other reading:
    #   first:  s11 A 2.5 B 2 (A +.5, B -.5); s21 B 3 C 2.5 (B +.5, C -.5); s41 A 3 B 3 (0, 0)
    #   later:  s12 A 3 C 3 (0, 0); s32 C 2 B 2.5 (C -.5, B +.5); s33 B 3 A 2.5 (B +.5, A -.5)
    # A: later (0, -.5) mean -.25, first (.5, 0) mean .25 -> -0.5
    # B: later (.5, .5) mean .5, first (-.5, .5, 0) mean 0 -> +0.5
    # C: one double-scored first attempt < min_double_scored = 2 -> no figure.
    # A's SE: w = +1/2 later, -1/2 first; residuals later (.25, -.25), first (.25, -.25):
    #   E1: .25 (-1/2) + .25 (1/2) = 0; E4: -.25 (-1/2) = .125; E3: -.25 (1/2) = -.125
    #   var = 3/2 * (2 * .125^2) = 0.046875, t on 2 df; two eligible assessors: no centring,
    #   Bonferroni level 1 - .05 / 2.
    rows = {r.assessor: r for r in small.leniency.assessors}
    assert (rows["A"].n_first, rows["A"].n_later) == (2, 2)
    assert rows["A"].within.estimate == pytest.approx(-0.5)
    assert rows["B"].within.estimate == pytest.approx(0.5)
    assert math.isnan(rows["C"].within.estimate) and rows["C"].verdict == "too few to tell"
    half = t975(2) * math.sqrt(0.046875)
    assert rows["A"].within.interval.to_list() == pytest.approx([-0.5 - half, -0.5 + half])
    sim = rows["A"].simultaneous_interval
    assert sim.level == pytest.approx(0.975)
    assert sim.high - sim.low == pytest.approx(2 * sps.t.ppf(0.9875, 2) * math.sqrt(0.046875))
    assert small.leniency.n_eligible == 2 and math.isnan(small.leniency.centre)
    # Own gap of A, all readings: later (3, 3, 2.5), first (2.5, 3): 17/6 - 11/4 = 1/12.
    assert rows["A"].own_gap.estimate == pytest.approx(1 / 12)
    # Pooled gap: later readings sum 19 over 7, first 17.5 over 7: 19/7 - 2.5.
    assert small.leniency.pooled_gap.estimate == pytest.approx(19 / 7 - 2.5)
    assert small.leniency.flagged == () and small.leniency.verdict == "too few to tell"


def test_default_minimum_gives_no_assessor_figure(small: AttemptReport) -> None:
    report = attempt_report(_ratings(SMALL), RUBRIC)  # min_double_scored = 10
    assert all(math.isnan(r.within.estimate) for r in report.leniency.assessors)
    assert report.leniency.n_eligible == 0 and report.leniency.verdict == "too few to tell"


# --- 5. calibration rounds ----------------------------------------------------------------------


def test_calibration_progress_hand_computed() -> None:
    # Round 1: P x 2/2 exact, y 1/3 two off; Q x 3/2 adjacent, y 3/3 exact.
    # Round 2: P z 2/2, w 3/3 exact.
    rounds = CalibrationRounds(
        assessor=np.array(["P", "P", "Q", "Q", "P", "P"], dtype=object),
        round=np.array([1, 1, 1, 1, 2, 2]),
        anchor=np.array(["x", "y", "x", "y", "z", "w"], dtype=object),
        criterion=np.array(["c"] * 6, dtype=object),
        score=np.array([2.0, 1, 3, 3, 2, 3]),
        expert=np.array([2.0, 3, 2, 3, 2, 3]),
        flag_assessor=np.array(["P", "P", "Q"], dtype=object),
        flag_round=np.array([1, 2, 1]),
        passed=np.array([False, True, True]),
    )
    progress = calibration_progress(rounds)
    first, second = progress.rounds
    # Exact in round 1: hits x (1, 0), y (0, 1): p = 1/2, anchor sums of residuals 0 and 0, so
    # the clustered variance is 0, deff truncated to 1: Wilson on n = 4.
    assert (first.n_ratings, first.n_anchors, first.n_assessors) == (4, 2, 2)
    assert first.exact.estimate == 0.5
    assert first.exact.interval.to_list() == pytest.approx(wilson(2, 4))
    # Adjacent in round 1: hits x (1, 1), y (0, 1): p = 3/4; anchor sums .5, -.5;
    # var_CR = 2/1 * .5 / 16 = 1/16, binomial .75 * .25 / 4 = 3/64: deff 4/3, n_eff = 3;
    # Wilson with x = 2.25 of n = 3 (z = 1.959964):
    z = 1.959963984540054
    centre = (2.25 + z * z / 2) / (3 + z * z)
    half = z * math.sqrt(3 * 0.75 * 0.25 + z * z / 4) / (3 + z * z)
    assert first.adjacent.estimate == 0.75
    assert first.adjacent.interval.to_list() == pytest.approx([centre - half, centre + half])
    # Mean deviation round 1: (0 - 2 + 1 + 0) / 4.
    assert first.mean_deviation.estimate == pytest.approx(-0.25)
    # Round 2 all exact: deff cannot be estimated, mean ratings per anchor (2 / 2 = 1): n = 2.
    assert second.exact.estimate == 1.0
    assert second.exact.interval.to_list() == pytest.approx(wilson(2, 2))
    assert second.exact_vs_first is not None
    expected = newcombe(1.0, wilson(2, 2), 0.5, wilson(2, 4))
    assert second.exact_vs_first.interval.to_list() == pytest.approx(expected)
    # Pass flags: round 1 Q of P, Q -> 1/2; round 2 P -> 1/1; qualified by round 2: 2 of 2.
    q1, q2 = progress.qualification
    assert (q1.n_assessors, q1.n_passed, q1.qualified_by.estimate) == (2, 1, 0.5)
    assert (q2.n_assessors, q2.n_passed, q2.qualified_by.estimate) == (1, 1, 1.0)
    assert q2.qualified_by.interval.to_list() == pytest.approx(wilson(2, 2))
    report = attempt_report(_ratings(SMALL), RUBRIC, calibration=rounds)
    assert report.calibration == progress


def test_calibration_rounds_errors() -> None:
    good: dict[str, Any] = {
        "assessor": ["P"],
        "round": [1],
        "anchor": ["x"],
        "criterion": ["c"],
        "score": [2.0],
        "expert": [2.0],
    }
    with pytest.raises(CalibrateError, match="same length"):
        CalibrationRounds(**{**good, "score": [2.0, 3.0]})
    with pytest.raises(CalibrateError, match=r"calibration\.round 0 is not a whole number >= 1"):
        CalibrationRounds(**{**good, "round": [0]})
    with pytest.raises(CalibrateError, match="together"):
        CalibrationRounds(**good, passed=[True])
    with pytest.raises(CalibrateError, match="round 1 of assessor 'P' has 2 judgements"):
        CalibrationRounds(**good, flag_assessor=["P", "P"], flag_round=[1, 1], passed=[1, 0])


# --- interval methods against independent implementations --------------------------------------


def test_wilson_matches_scipy() -> None:
    # scipy.stats.binomtest(...).proportion_ci(method="wilson"), every x of n = 1..25.
    for n in range(1, 26):
        x = np.arange(n + 1, dtype=float)
        low, high = _wilson(x, np.full(n + 1, float(n)), 0.95)
        theirs = np.array([wilson(int(k), n) for k in range(n + 1)])
        np.testing.assert_allclose(low, theirs[:, 0], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(high, theirs[:, 1], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(
    ("a", "m", "b", "n", "low", "high"),
    [
        # Newcombe (1998), Table II, method 10 ("score, no CC"), examples (a)-(h) but (c),
        # printed to 4 decimals. (a) and (b) were checked against a published copy of the
        # table (an R package's tests); (d)-(h) against the values as recalled, not the print.
        (56, 70, 48, 80, 0.0524, 0.3339),  # (a)
        (9, 10, 3, 10, 0.1705, 0.8090),  # (b)
        (5, 56, 0, 29, -0.0381, 0.1926),  # (d)
        (0, 10, 0, 20, -0.1611, 0.2775),  # (e)
        (0, 10, 0, 10, -0.2775, 0.2775),  # (f)
        (10, 10, 0, 20, 0.6791, 1.0000),  # (g)
        (10, 10, 0, 10, 0.6075, 1.0000),  # (h)
    ],
)
def test_newcombe_table_ii(a: int, m: int, b: int, n: int, low: float, high: float) -> None:
    l1, u1 = _wilson(np.array([float(a)]), np.array([float(m)]), 0.95)
    l2, u2 = _wilson(np.array([float(b)]), np.array([float(n)]), 0.95)
    ours = _newcombe(a / m, float(l1[0]), float(u1[0]), b / n, float(l2[0]), float(u2[0]))
    assert ours == pytest.approx((low, high), abs=5e-5)


def _decided(counts: Sequence[tuple[int, int, int]]) -> Ratings:
    """One reading per submission: (attempt, passed, failed) of distinct earners each."""
    readings: list[Reading] = []
    for attempt, passed, failed in counts:
        for i in range(passed + failed):
            e = f"e{attempt}-{i}"
            readings.append((f"{e}-s", e, attempt, "A", (3, 3) if i < passed else (2, 2)))
    return _ratings(readings)


def test_newcombe_table_ii_through_the_report() -> None:
    # Example (b): 9/10 second attempts against 3/10 first: +0.6 in (0.1705, 0.8090).
    row = attempt_report(_decided([(1, 3, 7), (2, 9, 1)]), RUBRIC).pass_rates[1]
    assert row.vs_first is not None
    assert row.vs_first.estimate == pytest.approx(0.6)
    assert row.vs_first.interval.to_list() == pytest.approx([0.1705, 0.8090], abs=5e-5)
    assert row.vs_first.verdict == "higher"
    # Example (a) reversed: 48/80 second attempts against 56/70 first: -(0.0524, 0.3339).
    row = attempt_report(_decided([(1, 56, 14), (2, 48, 32)]), RUBRIC).pass_rates[1]
    assert row.vs_first is not None
    assert row.vs_first.interval.to_list() == pytest.approx([-0.3339, -0.0524], abs=5e-5)
    assert row.vs_first.verdict == "lower"


def test_verdict_about_the_same_needs_the_interval_within_the_margin() -> None:
    # 500/1000 against 500/1000: difference 0, interval about +-0.044, within 0.10.
    row = attempt_report(_decided([(1, 500, 500), (2, 500, 500)]), RUBRIC).pass_rates[1]
    assert row.vs_first is not None and row.vs_first.verdict == "about the same"
    row = attempt_report(
        _decided([(1, 500, 500), (2, 500, 500)]), RUBRIC, rate_margin=0.02
    ).pass_rates[1]
    assert row.vs_first is not None and row.vs_first.verdict == "too few to tell"


# --- planted effects ----------------------------------------------------------------------------

RUBRIC4 = _rubric((1, 2, 3, 4), ("plan", "act", "study", "share"), key="r4")


def simulate(
    seed: int,
    *,
    n_earners: int = 400,
    n_assessors: int = 10,
    lenient: str = "A3",
    bump: float = 0.8,
    familiarity: float = -0.4,
) -> Ratings:
    """Earners resubmit until the first reader passes them (4 attempts, persistence 0.85);
    every submission is read by two assessors; a resubmission's first reader is one of the
    previous attempt's readers with probability 0.4, else both readers are new.

    Scores: round(2.5 + quality + criterion + severity + N(0, 0.5)) on 1-4, quality = earner
    ability N(-0.3, 0.6) + 0.4 per attempt (genuine improvement) + N(0, 0.2), severities
    N(0, 0.15). Planted: ``lenient`` adds ``bump`` on attempts >= 2; an assessor who read the
    previous attempt adds ``familiarity`` (so new assessors score resubmissions higher).
    """
    rng = np.random.default_rng(seed)
    names = [f"A{j}" for j in range(n_assessors)]
    severity = rng.normal(0, 0.15, n_assessors)
    criterion = np.array([0.2, 0.0, -0.1, -0.1])
    readings: list[Reading] = []
    for e in range(n_earners):
        ability = rng.normal(-0.3, 0.6)
        before: list[int] = []
        for k in range(1, 5):
            quality = ability + 0.4 * (k - 1) + rng.normal(0, 0.2)
            fresh = [j for j in range(n_assessors) if j not in before]
            if k == 1 or rng.random() >= 0.4:
                readers = [int(j) for j in rng.choice(fresh, 2, replace=False)]
            else:
                readers = [int(rng.choice(before)), int(rng.choice(fresh))]
            first_passes = False
            for i, j in enumerate(readers):
                latent = 2.5 + quality + criterion + severity[j] + rng.normal(0, 0.5, 4)
                latent += bump * (k >= 2 and names[j] == lenient)
                latent += familiarity * (j in before)
                scores = np.clip(np.round(latent), 1, 4)
                readings.append((f"e{e}-{k}", f"e{e}", k, names[j], tuple(scores)))
                first_passes |= i == 0 and bool((scores >= 3).all())
            before = readers
            if first_passes or rng.random() > 0.85:
                break
    return _ratings(readings, RUBRIC4.criterion_ids)


def test_planted_lenient_assessor_is_found_and_no_other() -> None:
    # Measured (seed 0): 8,400 ratings of 1,050 submissions (650 resubmissions) by 400
    # earners. A3: +0.80 levels against the median assessor (95% CI +0.67 to +0.93; Bonferroni
    # 99.5% CI +0.61 to +1.00); the other nine from -0.19 to +0.06, none flagged either way
    # (A0 and A7 would be "lower" on their pointwise intervals, their share of A3's bump as
    # co-readers plus noise); centre -0.035. Same vs new: new assessors pass resubmissions 30%
    # (n = 533) against 19% (n = 262), +11 points (+5 to +17); mean score +0.33 (+0.26 to
    # +0.40); within resubmissions read by both, +0.31 (+0.25 to +0.37). Seeds 0-9 all flag A3
    # alone, and so does seed 3 with 20,000 earners and 200 assessors (415k ratings).
    report = attempt_report(simulate(0), RUBRIC4)
    leniency = report.leniency
    assert leniency.n_eligible == 10 and abs(leniency.centre) < 0.1
    assert leniency.flagged == ("A3",) and leniency.verdict == "higher"
    others = [r for r in leniency.assessors if r.assessor != "A3"]
    assert all(r.verdict in ("about the same", "too few to tell") for r in others)
    lenient = next(r for r in leniency.assessors if r.assessor == "A3")
    assert lenient.simultaneous_interval.low > 0.5
    assert lenient.own_gap.estimate > leniency.pooled_gap.estimate + 0.5
    continuity = report.continuity
    assert continuity.pass_difference.estimate > 0
    assert continuity.pass_difference.verdict == "higher"
    assert continuity.score_difference.verdict == "higher"
    assert continuity.paired_score_difference.verdict == "higher"
    # Genuine improvement of 0.4 logits per attempt shows in every criterion.
    assert all(r.change.verdict == "higher" for r in report.score_changes)


def test_no_planted_effect_flags_no_assessor() -> None:
    # Measured (seed 1): all ten "about the same" (-0.06 to +0.05); new minus same pass rate
    # -6 points (-14 to +0.4), "too few to tell".
    report = attempt_report(simulate(1, bump=0.0, familiarity=0.0), RUBRIC4)
    assert report.leniency.flagged == ()
    assert report.leniency.verdict in ("about the same", "too few to tell")
    assert report.continuity.pass_difference.verdict != "higher"


# --- degenerate input ---------------------------------------------------------------------------


def test_no_resubmissions_gives_empty_tables() -> None:
    readings: list[Reading] = [
        ("s1", "E1", 1, "A", (3, 3)),
        ("s1", "E1", 1, "B", (3, 2)),
        ("s2", "E2", 1, "A", (2, 2)),
    ]
    report = attempt_report(_ratings(readings), RUBRIC)
    assert report.verdict == "no resubmissions" and report.n_resubmissions == 0
    assert [r.attempt for r in report.pass_rates] == ["1"]
    assert report.score_changes == ()
    assert report.continuity.verdict == "no resubmissions"
    assert report.continuity.same.pass_rate.n == 0
    assert report.leniency.verdict == "no resubmissions" and report.leniency.assessors == ()
    text = json.dumps(report.to_dict(), allow_nan=False)
    assert '"verdict": "no resubmissions"' in text


def test_other_contexts_and_rubrics_are_left_out() -> None:
    readings = [*SMALL, ("anchor:x", "", "", "A", (1, 1))]
    contexts = ["live"] * (2 * len(SMALL)) + ["practice"] * 2
    with_anchor = _ratings(readings, extra={"context": contexts})
    assert (
        attempt_report(with_anchor, RUBRIC).to_dict()
        == attempt_report(_ratings(SMALL), RUBRIC).to_dict()
    )


# --- input errors -------------------------------------------------------------------------------


def _without(ratings: Ratings, column: str) -> Ratings:
    return Ratings(
        unit=ratings.unit,
        rater=ratings.rater,
        criterion=ratings.criterion,
        value=ratings.value,
        units=ratings.units,
        raters=ratings.raters,
        criteria=ratings.criteria,
        columns={k: v for k, v in ratings.columns.items() if k != column},
    )


@pytest.mark.parametrize("column", ["earner", "attempt"])
def test_missing_column(column: str) -> None:
    with pytest.raises(CalibrateError, match=f"ratings must have an '{column}' column"):
        attempt_report(_without(_ratings(SMALL), column), RUBRIC)


@pytest.mark.parametrize(
    ("attempt", "message"),
    [
        ("0", "attempt '0' of submission 's41' is not a whole number >= 1"),
        ("1.5", "attempt '1.5' of submission 's41' is not a whole number >= 1"),
        ("-2", "attempt '-2' of submission 's41' is not a whole number >= 1"),
        ("first", "attempt 'first' of submission 's41' is not a whole number >= 1"),
        ("", "submission 's41' has no attempt number"),
    ],
)
def test_attempts_must_be_whole_numbers_from_one(attempt: str, message: str) -> None:
    readings = [r if r[0] != "s41" else (r[0], r[1], attempt, r[3], r[4]) for r in SMALL]
    with pytest.raises(CalibrateError, match=message):
        attempt_report(_ratings(readings), RUBRIC)


def test_whole_number_text_is_accepted() -> None:
    readings = [r if r[0] != "s12" else (r[0], r[1], "2.0", r[3], r[4]) for r in SMALL]
    assert attempt_report(_ratings(readings), RUBRIC).n_resubmissions == 4


def test_one_submission_with_two_attempts() -> None:
    readings = [*SMALL[:3], ("s12", "E1", 3, "C", (3, 3)), *SMALL[4:]]
    with pytest.raises(CalibrateError, match=r"submission 's12' is recorded with two attempts"):
        attempt_report(_ratings(readings), RUBRIC)


def test_one_submission_with_two_earners() -> None:
    readings = [*SMALL[:3], ("s12", "E9", 2, "C", (3, 3)), *SMALL[4:]]
    with pytest.raises(CalibrateError, match=r"submission 's12' is recorded with two earners"):
        attempt_report(_ratings(readings), RUBRIC)


def test_one_earner_with_two_submissions_of_one_attempt() -> None:
    readings = [*SMALL, ("s12b", "E1", 2, "B", (3, 3))]
    with pytest.raises(CalibrateError, match="earner 'E1' has two submissions of attempt 2"):
        attempt_report(_ratings(readings), RUBRIC)


def test_missing_earner() -> None:
    readings = [r if r[0] != "s41" else (r[0], "", r[2], r[3], r[4]) for r in SMALL]
    with pytest.raises(CalibrateError, match="submission 's41' has no earner"):
        attempt_report(_ratings(readings), RUBRIC)


def test_cells_rubric_and_parameters_are_checked() -> None:
    with pytest.raises(CalibrateError, match="scored submission 's41' on 'a' more than once"):
        attempt_report(_ratings([*SMALL, ("s41", "E4", 1, "A", (3, math.nan))]), RUBRIC)
    with pytest.raises(CalibrateError, match="score 4 is not a level of r@1"):
        attempt_report(_ratings([*SMALL, ("s41", "E4", 1, "C", (4, 3))]), RUBRIC)
    with pytest.raises(CalibrateError, match="unknown criterion for r@1: c"):
        attempt_report(_ratings(SMALL, ("a", "c")), RUBRIC)
    with pytest.raises(CalibrateError, match="no live ratings of r@1"):
        attempt_report(_ratings(SMALL, extra={"context": ["practice"] * 28}), RUBRIC)
    with pytest.raises(CalibrateError, match="confidence must be between 0 and 1"):
        attempt_report(_ratings(SMALL), RUBRIC, confidence=1.0)
    with pytest.raises(CalibrateError, match="min_double_scored must be at least 2"):
        attempt_report(_ratings(SMALL), RUBRIC, min_double_scored=1)
    with pytest.raises(CalibrateError, match="rate_margin must be a finite number"):
        attempt_report(_ratings(SMALL), RUBRIC, rate_margin=-0.1)


def test_final_results_are_checked() -> None:
    with pytest.raises(CalibrateError, match="same length"):
        FinalResults(np.array(["s1"], dtype=object), np.array([True, False]))
    with pytest.raises(CalibrateError, match="'s1' has 2 final results"):
        FinalResults(np.array(["s1", "s1"], dtype=object), np.array([True, False]))
    with pytest.raises(CalibrateError, match="booleans"):
        FinalResults(np.array(["s1"], dtype=object), np.array([0.5]))


# --- invariants ---------------------------------------------------------------------------------


@st.composite
def programmes(draw: st.DrawFn) -> list[Reading]:
    """Up to 5 earners with 1-4 attempts (some starting at attempt 2), each read by 1-3 of 4
    assessors, a criterion now and then unscored."""
    readings: list[Reading] = []
    for e in range(draw(st.integers(1, 5))):
        start = draw(st.sampled_from([1, 1, 1, 2]))
        for k in range(start, start + draw(st.integers(1, 4))):
            who = draw(st.lists(st.integers(0, 3), min_size=1, max_size=3, unique=True))
            for j in who:
                scores = draw(
                    st.tuples(*[st.sampled_from([1, 2, 3, 3, 3, math.nan])] * 2).filter(
                        lambda s: not all(math.isnan(x) for x in s)
                    )
                )
                readings.append((f"s{e}-{k}", f"E{e}", k, f"A{j}", scores))
    return readings


def _strip(value: Any) -> Any:
    """The JSON without sentences (they name assessors) and with floats rounded off."""
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k != "sentence"}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    if isinstance(value, float):
        return round(value, 9) + 0.0
    return value


@settings(max_examples=40, deadline=None)
@given(readings=programmes(), seed=st.integers(0, 2**16))
def test_relabelling_earners_and_assessors_changes_nothing(
    readings: list[Reading], seed: int
) -> None:
    rng = np.random.default_rng(seed)
    earners = sorted({r[1] for r in readings})
    assessors = sorted({r[3] for r in readings})
    new_earner = dict(zip(earners, [f"x{i}" for i in rng.permutation(len(earners))], strict=True))
    new_assessor = dict(
        zip(assessors, [f"z{i}" for i in rng.permutation(len(assessors))], strict=True)
    )
    order = rng.permutation(len(readings))
    relabelled = [
        (
            f"t{readings[i][0]}",
            new_earner[readings[i][1]],
            readings[i][2],
            new_assessor[readings[i][3]],
            readings[i][4],
        )
        for i in order
    ]
    ours = attempt_report(_ratings(readings), RUBRIC, min_double_scored=2).to_dict()
    theirs = attempt_report(_ratings(relabelled), RUBRIC, min_double_scored=2).to_dict()
    back = {v: k for k, v in new_assessor.items()}
    rows = {r["assessor"]: r for r in theirs["leniency"]["assessors"]}
    theirs["leniency"]["assessors"] = [
        {**rows[new_assessor[r["assessor"]]], "assessor": r["assessor"]}
        for r in ours["leniency"]["assessors"]
    ]
    theirs["leniency"]["flagged"] = sorted(back[a] for a in theirs["leniency"]["flagged"])
    assert _strip(theirs) == _strip(ours)


def _figures(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        found = [value] if {"estimate", "interval"} <= set(value) else []
        return found + [f for v in value.values() for f in _figures(v)]
    if isinstance(value, list):
        return [f for v in value for f in _figures(v)]
    return []


@settings(max_examples=40, deadline=None)
@given(readings=programmes())
def test_shares_lie_in_zero_one_and_intervals_contain_estimates(readings: list[Reading]) -> None:
    report = attempt_report(_ratings(readings), RUBRIC, min_double_scored=2)
    data = report.to_dict()
    json.dumps(data, allow_nan=False)
    shares = [r["pass_rate"] for r in data["pass_rates"]] + [r["share"] for r in data["earned"]]
    shares += [data["continuity"][g]["pass_rate"] for g in ("same", "new")]
    for fig in shares:
        if fig["estimate"] is not None:
            low, high = fig["interval"]
            assert 0 <= low <= fig["estimate"] <= high <= 1
    for fig in _figures(data):
        low, high = fig["interval"]
        if fig["estimate"] is not None and low is not None:
            assert low <= fig["estimate"] + 1e-12 and fig["estimate"] <= high + 1e-12
    assert all(isinstance(r.sentence, str) and r.sentence for r in report.pass_rates)
