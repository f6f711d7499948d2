"""The statistics core's input contract: one argument order, one validator, one progress type,
typed confidence intervals (calibrate.stats._input, calibrate.stats._interval)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import calibrate.stats
from calibrate.errors import StatisticsError
from calibrate.stats import ConfidenceInterval, ConfidenceIntervals, LongRatings, long_ratings
from calibrate.stats.accuracy import anchor_accuracy, decision_agreement
from calibrate.stats.agreement import (
    cohen_kappa,
    cohen_kappa_pairs,
    coincidence_matrix,
    fleiss_kappa,
    gwet_ac,
    icc,
    krippendorff_alpha,
    percent_agreement,
    summarize,
)
from calibrate.stats.gtheory import gstudy, variance_components
from calibrate.stats.rasch import fit_mfrm

CONTRACT = ("unit", "rater", "criterion", "value")
# Other names once used for the same arrays: none may come back.
SYNONYMS = {"anchor", "submission", "assessor", "judge", "coder", "item", "score", "scores"}
# Paired forms: two raters' scores of the same units (their long forms are cohen_kappa_pairs and
# summarize), and pass decisions; and the control charts, whose ``x`` is one standardised
# observation per reading of an assessor (stats.drift.anchor_observations makes them).
CONDITIONAL = {"fit", "result"}
"""The first argument of functions that read ratings under a fitted model (the fit, then the
ratings it was fitted to: stats.rater_effects, severity.rating_posterior)."""
PAIRED = {"cohen_kappa", "standardized_mean_difference", "decision_agreement", "cusum", "ewma"}


def public_functions() -> list[tuple[str, Callable[..., Any]]]:
    found: list[tuple[str, Callable[..., Any]]] = []
    for info in pkgutil.iter_modules(calibrate.stats.__path__):
        module = importlib.import_module(f"calibrate.stats.{info.name}")
        for name, obj in vars(module).items():
            if (
                inspect.isfunction(obj)
                and obj.__module__ == module.__name__
                and not name.startswith("_")
            ):
                found.append((f"{info.name}.{name}", obj))
    return found


@pytest.mark.parametrize(("name", "function"), public_functions(), ids=lambda x: str(x))
def test_every_public_function_follows_the_argument_order(
    name: str, function: Callable[..., Any]
) -> None:
    params = list(inspect.signature(function).parameters)
    used = [p for p in params if p in CONTRACT]
    assert used == [c for c in CONTRACT if c in used], f"{name}{tuple(params)}"
    if "unit" in used:  # first, or right after the model fit the function conditions on
        first = params[1] if params[0] in CONDITIONAL else params[0]
        assert first == "unit", f"{name}{tuple(params)}"
    assert not SYNONYMS & set(params), f"{name}{tuple(params)}"


def test_the_contract_covers_the_long_entry_points() -> None:
    # The entry points taking ratings arrays, with the arrays they take.
    expected = {
        "accuracy.anchor_accuracy": ("unit", "value"),
        "agreement.summarize": ("unit", "rater", "value"),
        "alpha.coincidence_matrix": ("unit", "value"),
        "alpha.krippendorff_alpha": ("unit", "value"),
        "gtheory.gstudy": CONTRACT,
        "gtheory.variance_components": CONTRACT,
        "gwet.gwet_ac": ("unit", "value"),
        "icc.icc": ("unit", "rater", "value"),
        "kappa.cohen_kappa_pairs": ("unit", "rater", "value"),
        "kappa.fleiss_kappa": ("unit", "value"),
        "percent_agreement.percent_agreement": ("unit", "value"),
        "rasch.fit_mfrm": CONTRACT,
        "severity.fit_severity": CONTRACT,
        "drift.pool_drift": ("unit", "rater", "value"),
        "discrepancy.reader_discrepancy": CONTRACT,
        "severity.rating_posterior": CONTRACT,
        "rater_effects.rating_moments": CONTRACT,
        "rater_effects.score_shift": CONTRACT,
        "rater_effects.local_shift": CONTRACT,
        "rater_effects.scale_spread": CONTRACT,
        "rater_effects.mean_squares": CONTRACT,
        "_input.long_ratings": CONTRACT,
    }
    found = {
        name: tuple(p for p in inspect.signature(f).parameters if p in CONTRACT)
        for name, f in public_functions()
        if "unit" in inspect.signature(f).parameters
    }
    assert found == expected
    # The functions without a unit array take paired scores or decisions, or are internals
    # over tabulated counts (their inputs are not ratings).
    paired = {
        n.split(".")[1]
        for n, f in public_functions()
        if {"x", "first"} & _params(f) and not n.startswith("_input.")
    }
    assert paired == PAIRED


def _params(function: Callable[..., Any]) -> set[str]:
    return set(inspect.signature(function).parameters)


# --- one validator: the same rule and message at every entry point ---------------------------

UNIT, RATER, CRIT, VALUE = [0, 0, 1, 1], [0, 1, 0, 1], [0, 0, 0, 0], [1.0, 2.0, 2.0, 3.0]

ENTRY_POINTS: dict[str, Callable[[Any, Any, Any, Any], object]] = {
    "summarize": lambda u, r, c, v: summarize(u, r, v),
    "icc": lambda u, r, c, v: icc(u, r, v),
    "cohen_kappa_pairs": lambda u, r, c, v: cohen_kappa_pairs(u, r, v),
    "krippendorff_alpha": lambda u, r, c, v: krippendorff_alpha(u, v),
    "coincidence_matrix": lambda u, r, c, v: coincidence_matrix(u, v),
    "percent_agreement": lambda u, r, c, v: percent_agreement(u, v),
    "gwet_ac": lambda u, r, c, v: gwet_ac(u, v),
    "fleiss_kappa": lambda u, r, c, v: fleiss_kappa(u, v),
    "variance_components": lambda u, r, c, v: variance_components(u, r, c, v),
    "gstudy": lambda u, r, c, v: gstudy(u, r, c, v),
    "fit_mfrm": lambda u, r, c, v: fit_mfrm(u, r, c, v),
    "anchor_accuracy": lambda u, r, c, v: anchor_accuracy(u, r, v, v),
}


@pytest.mark.parametrize("call", ENTRY_POINTS.values(), ids=list(ENTRY_POINTS))
def test_float_unit_codes_are_refused_with_one_message(call: Callable[..., object]) -> None:
    with pytest.raises(StatisticsError) as error:
        call(np.array(UNIT, dtype=float), RATER, CRIT, VALUE)
    assert str(error.value) == (
        "unit must hold non-negative integer codes (an integer array), got dtype float64"
    )


@pytest.mark.parametrize("call", ENTRY_POINTS.values(), ids=list(ENTRY_POINTS))
def test_a_short_value_array_is_refused_with_one_message(call: Callable[..., object]) -> None:
    with pytest.raises(StatisticsError) as error:
        call(UNIT, RATER, CRIT, VALUE[:3])
    assert str(error.value) == "value must be a 1-D array as long as unit (4), got shape (3,)"


CODES = "must hold non-negative integer codes"
DTYPE = f"{CODES} (an integer array), got dtype"

MESSAGES = [
    (([[0, 1]], None, None, [1, 2]), "unit must be a 1-D array, got shape (1, 2)"),
    (([0, 1], [0], None, [1, 2]), "rater must be a 1-D array as long as unit (2), got shape (1,)"),
    (([0, 1], [0, 1], [0, 1.0], [1, 2]), f"criterion {DTYPE} float64"),
    (([0, 1], np.array([False, True]), None, [1, 2]), f"rater {DTYPE} bool"),
    (([0, -3], None, None, [1, 2]), f"unit {CODES}, got -3"),
    (([0, 1], None, None, ["a", 2]), "value must hold numbers (scores)"),
    (([0, 1], None, None, [1, np.inf]), "value must be finite (NaN marks a missing rating)"),
]  # fmt: skip


@pytest.mark.parametrize(("args", "message"), MESSAGES)
def test_messages_state_the_rule_and_name_the_argument(
    args: tuple[Any, Any, Any, Any], message: str
) -> None:
    with pytest.raises(StatisticsError) as error:
        long_ratings(*args)
    assert str(error.value) == message


def test_missing_values_dropped_or_refused() -> None:
    kept = long_ratings([0, 0, 1], [2, 3, 2], [0, 0, 1], [1.0, np.nan, 3.0])
    assert isinstance(kept, LongRatings) and kept.n == 2 and kept.n_missing == 1
    assert kept.rater is not None and kept.rater.tolist() == [2, 2]
    assert kept.criterion is not None and kept.criterion.tolist() == [0, 1]
    with pytest.raises(StatisticsError, match=r"value must be finite \(no NaN"):
        long_ratings([0, 0, 1], None, None, [1.0, np.nan, 3.0], missing="refuse")


def test_scores_passed_in_the_criterion_place_are_caught() -> None:
    # The argument order before the contract was gstudy(unit, rater, value, criterion): scores
    # (float) where criterion codes go now fail loudly instead of fitting the wrong design.
    rng = np.random.default_rng(0)
    unit, rater = np.repeat(np.arange(20), 2), np.tile([0, 1], 20)
    value = rng.integers(1, 5, 40).astype(float)
    with pytest.raises(StatisticsError, match="criterion must hold non-negative integer codes"):
        gstudy(unit, rater, value, np.zeros(40, dtype=np.int64))


# --- typed confidence intervals --------------------------------------------------------------


def test_every_interval_is_a_confidence_interval() -> None:
    # Shrout & Fleiss (1979) Table 4 ratings: 6 targets x 4 judges.
    sf = np.array(
        [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]]
    )
    unit, rater = (a.ravel() for a in np.indices(sf.shape))
    value = sf.ravel().astype(float)
    result = summarize(unit, rater, value, n_boot=50, seed=0, confidence=0.9)
    assert result.icc is not None and result.ci is not None
    intervals = [
        result.icc.confidence_interval("ICC2", 0.9),
        fleiss_kappa(unit, value).confidence_interval(0.9),
        gwet_ac(unit, value).confidence_interval(0.9),
        cohen_kappa(value[rater == 0], value[rater == 1]).confidence_interval(0.9),
        *result.ci.values(),
    ]
    for ci in intervals:
        assert isinstance(ci, ConfidenceInterval) and ci.level == 0.9
        assert ci.to_list() == [ci.low, ci.high]
    decisions = decision_agreement([1, 1, 0, 1, 0, 1], [1, 0, 0, 1, 0, 1]).to_dict()
    assert isinstance(decisions["cohen_kappa_ci"], list) and len(decisions["gwet_ac1_ci"]) == 2


def test_interval_per_group() -> None:
    acc = anchor_accuracy(
        [0, 1, 2, 0, 1, 2], [0, 0, 0, 1, 1, 1], [2, 3, 2, 1, 2, 3], [2, 2, 2, 2, 2, 2]
    )
    ci = acc.confidence_interval(0.9)
    assert isinstance(ci, ConfidenceIntervals) and len(ci) == 2 and ci.level == 0.9
    one = ci[1]
    assert isinstance(one, ConfidenceInterval)
    assert (one.low, one.high) == (float(ci.low[1]), float(ci.high[1]))


# --- one progress type -----------------------------------------------------------------------


def test_bootstrap_and_rasch_report_progress_alike() -> None:
    rng = np.random.default_rng(3)
    unit = np.repeat(np.arange(60), 8)
    rater = np.tile(np.repeat([0, 1, 2, 3], 2), 60)
    criterion = np.tile([0, 1], 240)
    value = np.clip(rng.integers(1, 4, 60)[unit] + rng.integers(-1, 2, 480), 1, 3).astype(float)
    calls: list[tuple[object, ...]] = []
    cell = unit * 2 + criterion  # agreement unit: submission x criterion
    summarize(cell, rater, value, n_boot=100, seed=0, progress=lambda *a: calls.append(a))
    fit_mfrm(unit, rater, criterion, value, max_iter=50, progress=lambda *a: calls.append(a))
    assert all(
        len(c) == 3 and type(c[0]) is int and type(c[1]) is int and isinstance(c[2], str)
        for c in calls
    )
    assert calls[0][1:] == (100, "bootstrap") and calls[-1][1] == 50
    assert str(calls[-1][2]).startswith(f"iteration {calls[-1][0]}, largest change ")
