"""Flags on assessors (issue 12, part 2): the test beyond a tolerance, the false discovery rate
over many assessors, minimum evidence, and planted effects found by simulation."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import yaml
from scipy.stats import false_discovery_control

from calibrate.errors import CalibrateError
from calibrate.flags import assessor_flags, beyond_tolerance, halo_test, one_sided, severity_test
from calibrate.ratings import Ratings
from calibrate.rubric import Rubric, rubric_from_data
from calibrate.rules import rules_for
from calibrate.stats.discrepancy import HaloIndex
from calibrate.stats.severity import fit_severity
from tests.conftest import DEMO_RUBRIC
from tests.stats.test_severity import simulate
from tests.test_drift_report import _anchor_readings as anchor_readings
from tests.test_drift_report import _definitions as drift_definitions


def test_the_tolerance_test_is_one_sided_beyond_the_tolerance() -> None:
    # At exactly the tolerance the estimate is as likely inside as beyond: p = 0.5; two SEs
    # beyond it, p = 1 - Phi(2) = 0.02275 (standard normal table).
    p = beyond_tolerance([0.5, -0.5, 1.0, -1.0], [0.25] * 4, 0.5)
    assert p.tolist() == pytest.approx([0.5, 0.5, 0.0227501, 0.0227501], abs=1e-6)


def test_one_sided_tests_look_the_right_way() -> None:
    # "below": the statistic is under the threshold (e.g. exact agreement under 50%); one SE
    # under it gives 1 - Phi(1) = 0.158655; "above" mirrors it; "beyond" is two-directional.
    assert one_sided([0.45], [0.05], 0.5, "below")[0] == pytest.approx(0.158655, abs=1e-6)
    assert one_sided([0.55], [0.05], 0.5, "above")[0] == pytest.approx(0.158655, abs=1e-6)
    assert one_sided([0.55], [0.05], 0.5, "below")[0] == pytest.approx(0.841345, abs=1e-6)
    assert one_sided([-0.7], [0.1], 0.5, "beyond")[0] == pytest.approx(0.0227501, abs=1e-6)


def test_flags_hold_the_false_discovery_rate_of_benjamini_hochberg() -> None:
    # Benjamini & Hochberg (1995): with m tests, the k-th smallest p is compared with k q / m.
    # Here m = 4, q = 0.05: p = (0.001, 0.012, 0.04, 0.5) gives adjusted (0.004, 0.024, 0.0533,
    # 0.5): the first two are flagged, the third is not although its own p is below 0.05.
    z = np.array([3.090232, 2.257129, 1.750686, 0.0])  # 1 - Phi(z) = 0.001, 0.012, 0.04, 0.5
    report = severity_test(
        ["A", "B", "C", "D"], z * 0.1 + 0.5, [0.1] * 4, [100] * 4, [True] * 4,
        tolerance=0.5, min_ratings=30, fdr=0.05,
    )  # fmt: skip
    assert [f.assessor for f in report.flags] == ["A", "B"]
    expected = false_discovery_control([0.001, 0.012, 0.04, 0.5], method="bh")
    assert [f.q_value for f in report.flags] == pytest.approx(expected[:2], rel=1e-4)
    assert report.expected_false == pytest.approx(0.1)
    assert report.to_dict()["expected_false_flags"] == pytest.approx(0.1)
    assert report.to_dict()["flagged"] == 2 and report.tested == 4


def test_thin_or_unplaced_assessors_are_neither_flagged_nor_cleared() -> None:
    report = severity_test(
        ["A", "B", "C"], [3.0, 3.0, 0.0], [0.1, 0.1, 0.1], [29, 500, 30], [True, False, True],
        tolerance=0.5, min_ratings=30, fdr=0.05, window="live work on r@1",
    )  # fmt: skip
    assert report.flags == ()
    assert report.not_tested == {
        "A": "29 ratings, fewer than 30",
        "B": "the data cannot place them",
    }
    assert report.tested == 1


def test_a_flag_says_what_it_measured_in_words() -> None:
    (flag,) = severity_test(
        ["A0005"], [-1.26], [0.2], [120], [True], tolerance=0.5, min_ratings=30, fdr=0.05,
        window="live work on crsel-intro@1",
    ).flags  # fmt: skip
    assert flag.kind == "lenient" and flag.threshold == 0.5 and flag.n == 120
    assert flag.low == pytest.approx(-1.26 - 1.959964 * 0.2, abs=1e-5)
    assert flag.reason.startswith("A0005 scores more leniently than the pool's average by 1.26")
    assert "beyond the tolerance of 0.5 levels, on 120 ratings of live work" in flag.reason
    shown = flag.to_dict()
    assert {"kind", "value", "interval", "threshold", "n", "reason"} <= set(shown)
    assert shown["interval"] == [flag.low, flag.high] and shown["value"] == -1.26


@pytest.mark.parametrize("bad", [{"tolerance": -0.1}, {"fdr": 0.0}, {"level": 1.0}])
def test_bad_settings_are_refused(bad: dict[str, float]) -> None:
    options = {"tolerance": 0.5, "min_ratings": 30, "fdr": 0.05, **bad}
    with pytest.raises(CalibrateError):
        severity_test(["A"], [0.0], [0.1], [50], [True], **options)  # type: ignore[arg-type]


def flags_on(sev: np.ndarray, seed: int) -> tuple[set[int], int]:
    """Planted severities on the sparse live design (2 readings per submission), fitted by the
    random-effects model and flagged at the programme's defaults (0.5 logits, 30 ratings, FDR
    5%): the flagged assessors and how many were tested."""
    sim = simulate(n_units=1500, n_raters=sev.size, severities=sev, seed=seed)
    fit = fit_severity(sim.unit, sim.rater, sim.criterion, sim.value)
    a = fit.assessors
    names = [str(int(c)) for c in a.code]
    report = severity_test(names, a.severity, a.se, a.n, a.placed, tolerance=0.5,
                            min_ratings=30, fdr=0.05)  # fmt: skip
    return {int(f.assessor) for f in report.flags}, report.tested


def within(sev: np.ndarray) -> set[int]:
    """Assessors truly within the tolerance of the pool's average (flagging them is false)."""
    return set(np.flatnonzero(np.abs(sev - sev.mean()) <= 0.5).tolist())


@pytest.mark.slow
def test_planted_severe_and_lenient_assessors_are_flagged_and_few_others() -> None:
    # 100 assessors N(0, 0.3^2), 4 planted at +1.5 and 4 at -1.5 logits (Myford & Wolfe's
    # severity effect, well beyond the 0.5 tolerance), about 150 ratings each; 3 programmes.
    found, false = [], 0
    for rep in range(3):
        sev = np.random.default_rng(70 + rep).normal(0.0, 0.3, 100)
        sev[:4], sev[4:8] = 1.5, -1.5
        flagged, tested = flags_on(sev, seed=80 + rep)
        assert tested >= 95
        found.append(len(flagged & set(range(8))) / 8)
        false += len(flagged & within(sev))
    assert min(found) >= 7 / 8  # power: at most one planted assessor missed per programme
    assert false <= 2  # at most ~0.05 of the flags raised are expected to be false


@pytest.mark.slow
def test_a_calibrated_pool_raises_almost_no_false_flags() -> None:
    # No planted effect: 100 assessors N(0, 0.3^2) over 4 programmes; a flag on an assessor
    # truly within 0.5 logits of the average is false, and there should be almost none.
    false = 0
    for rep in range(4):
        sev = np.random.default_rng(90 + rep).normal(0.0, 0.3, 100)
        flagged, _ = flags_on(sev, seed=100 + rep)
        false += len(flagged & within(sev))
    assert false <= 2


# --- every test at once, on a rubric's live work -----------------------------------------------


def live_work(seed: int = 3, n_units: int = 800) -> tuple[Ratings, Rubric]:
    """The demo rubric (2 criteria, levels 1-3) on the sparse live design: each submission read
    by 2 of 16 assessors; A00 scores at random, A01 gives every criterion of a reading the same
    score (the rounded mean of what they would have given: halo); the others calibrated."""
    rubric = rubric_from_data(yaml.safe_load(DEMO_RUBRIC), source="demo.yaml")
    sev = np.random.default_rng(seed).normal(0.0, 0.15, 16)
    sim = simulate(n_units=n_units, n_raters=16, n_criteria=2, tau=(-2.0, 2.0), severities=sev,
                   sd_ability=3.0, seed=seed)  # fmt: skip
    value = sim.value.copy()
    rng = np.random.default_rng(seed + 1)
    at_random = sim.rater == 0
    value[at_random] = rng.integers(1, 4, int(at_random.sum()))
    halo = np.flatnonzero(sim.rater == 1)  # rows come in readings of 2 criteria, in order
    pairs = halo.reshape(-1, 2)
    mean = value[pairs].mean(axis=1) + rng.random(pairs.shape[0]) - 0.5
    value[pairs] = np.clip(np.round(mean), 1, 3)[:, None]
    ratings = Ratings(
        unit=sim.unit, rater=sim.rater, criterion=sim.criterion, value=value,
        units=tuple(f"S{u}" for u in range(n_units)),
        raters=tuple(f"A{r:02d}" for r in range(16)),
        criteria=("plan", "reflect"),
    )  # fmt: skip
    return ratings, rubric


def test_every_test_runs_on_live_work_and_finds_what_was_planted() -> None:
    ratings, rubric = live_work()
    # On this design (3 levels, 2 criteria) calibrated assessors' kappas with each other are
    # about 0.6: the issuer sets the rubric's kappa and correlation floors at 0.4 (per-rubric
    # rules) rather than RSMTool's 0.7 for long essay scales.
    rules = replace(rules_for(rubric).flags, min_qwk=0.4, min_correlation=0.4)
    report = assessor_flags(ratings, rubric, rules, window="live work")
    kinds = {(f.assessor, f.kind) for f in report.flags}
    assert ("A00", "discrepant") in kinds  # at random: low agreement, kappa, correlation
    assert ("A00", "inconsistent") in kinds  # and scores the model cannot predict
    assert {f.test for f in report.of("A00")} >= {"adjacent", "qwk", "correlation"}
    assert ("A01", "halo") in kinds
    assert [f.assessor for f in report.flags if f.kind == "halo"] == ["A01"]
    # the calibrated assessors raise no flag on agreement with the others
    assert {f.assessor for f in report.flags if f.kind == "discrepant"} <= {"A00", "A01"}
    shown = report.to_dict()
    assert [t["name"] for t in shown["tests"]] == [
        "severity",
        "differential",
        "inconsistent",
        "central",
        "exact",
        "adjacent",
        "qwk",
        "correlation",
        "smd",
        "halo",
    ]  # no validity anchors: no test against the experts, and a note says so
    assert shown["notes"] and "experts" in shown["notes"][0]
    (a00,) = [a for a in shown["assessors"] if a["id"] == "A00"]
    assert all(f["n"] >= 30 and f["interval"][0] <= f["value"] <= f["interval"][1]
               for f in a00["flags"])  # fmt: skip


def test_the_halo_threshold_keeps_half_the_reference_variance() -> None:
    # rule flags.halo_share 0.5: the assessor's SD across criteria may fall to sqrt(0.5) of
    # the reference's; the threshold is -(1 - sqrt(0.5)) = -0.2929 times the mean reference SD.
    found = HaloIndex(
        n_readings=np.array([40, 40]), n_units=np.array([40, 40]),
        halo=np.array([-0.4, -0.05]), se=np.array([0.05, 0.05]),
        assessor_sd=np.array([0.2, 0.55]), reference_sd=np.array([0.6, 0.6]),
    )  # fmt: skip
    result = halo_test(["A", "B"], found, share=0.5, min_readings=6, fdr=0.05)
    assert result.threshold == pytest.approx(-(1 - np.sqrt(0.5)) * 0.6)
    assert [f.assessor for f in result.flags] == ["A"]


def test_a_drifting_assessor_is_flagged_by_the_control_chart() -> None:
    # Five steady assessors and D, who turns lenient at reading 31 of 60 on validity anchors
    # (tests.test_drift_report): D's chart signals after the start; the drift test states its
    # false flags as readings / in-control ARL (6 x 60 / 370), not as a false discovery rate.
    rubric, sets = drift_definitions()
    ratings = anchor_readings(np.random.default_rng(7), n_steady=5, n_readings=60, drift_from=30)
    rules = rules_for(rubric)
    report = assessor_flags(ratings, rubric, rules.flags, anchor_sets=sets, drift=rules.drift)
    (drift,) = [r for r in report.results if r.test.name == "drift"]
    assert [(f.assessor, f.kind) for f in drift.flags] == [("D", "drift")]
    (flag,) = drift.flags
    assert flag.value > 0 and flag.low < flag.value < flag.high and flag.n == 60
    assert "lenient alarm on validity anchors" in flag.reason
    assert drift.expected_false == pytest.approx(6 * 60 / 370, rel=2e-3)
    assert drift.tested == 6 and not drift.not_tested
    shown = report.to_dict()
    assert shown["tests"][-1]["expected_false_flags"] == pytest.approx(drift.expected_false)


def test_an_assessor_who_misses_the_experts_is_flagged_inaccurate() -> None:
    # Validity readings of five steady assessors (the experts' level, one off with probability
    # .3) and S0, who scores at random: S0 gives the experts' score about a quarter of the
    # time, below flags.min_exact (50%); the others about 70%.
    rubric, sets = drift_definitions()
    ratings = anchor_readings(np.random.default_rng(3), n_steady=5, n_readings=40, drift_from=40)
    value = ratings.value.copy()
    s0 = ratings.rater == ratings.raters.index("S0")
    value[s0] = np.random.default_rng(4).choice(rubric.scores, int(s0.sum()))
    ratings = replace(ratings, value=value)
    report = assessor_flags(ratings, rubric, rules_for(rubric).flags, anchor_sets=sets)
    (result,) = [r for r in report.results if r.test.name == "inaccurate"]
    assert [f.assessor for f in result.flags] == ["S0"] and result.tested == 6
    (flag,) = result.flags
    assert flag.kind == "inaccurate" and flag.high < 0.5 and flag.n == 40 * len(rubric.criteria)
    assert "gives the experts' score on" in flag.reason
