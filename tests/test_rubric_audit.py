"""audit_rubric: each finding on a small data set whose answer is known by construction,
verdicts that follow intervals, figures cross-checked against the library and independent
implementations (krippendorff, scipy, scikit-learn), invariants (hypothesis), input errors."""

from __future__ import annotations

import json
import math
import re
from typing import Any

import krippendorff
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats
from sklearn.metrics import cohen_kappa_score

from calibrate.analyses.accuracy import live_decision_agreement
from calibrate.analyses.rubric_audit import (
    KINDS,
    THRESHOLD_SOURCES,
    AuditThresholds,
    Finding,
    RubricAudit,
    audit_rubric,
)
from calibrate.anchors import AnchorSet, anchor_set_from_data
from calibrate.errors import CalibrateError
from calibrate.ratings import Ratings, factorize
from calibrate.rubric import Rubric, rubric_from_data
from calibrate.stats.agreement import krippendorff_alpha
from calibrate.stats.gtheory import gstudy
from calibrate.stats.kappa import cohen_kappa

Row = tuple[str, str, str, int]


def make_rubric(criteria: tuple[str, ...] = ("plan", "act", "reflect"), top: int = 3) -> Rubric:
    """A rubric with levels 1..top and a conjunctive pass rule at level 2."""
    return rubric_from_data(
        {
            "id": "demo",
            "version": 1,
            "title": "Demo",
            "competency": "Plans, acts and reflects.",
            "levels": [{"score": s, "label": f"Level {s}"} for s in range(1, top + 1)],
            "criteria": [
                {"id": c, "title": c, "descriptors": {s: f"{c} {s}" for s in range(1, top + 1)}}
                for c in criteria
            ],
            "pass_rule": {"every_criterion_at_least": 2},
        },
        source="test",
    )


RUBRIC = make_rubric()


def make(rows: list[Row], **columns: list[str]) -> Ratings:
    """Coded ratings from (submission, assessor, criterion, score) rows, as read from a CSV."""
    sub, who, crit, score = (np.array(col, dtype=object) for col in zip(*rows, strict=True))
    unit, units = factorize(sub)
    rater, raters = factorize(who)
    criterion, criteria = factorize(crit)
    return Ratings(
        unit=unit,
        rater=rater,
        criterion=criterion,
        value=score.astype(np.float64),
        units=units,
        raters=raters,
        criteria=criteria,
        columns={k: np.array(v, dtype=object) for k, v in columns.items()},
    )


def double_scored(
    scores: list[tuple[dict[str, int], dict[str, int]]], prefix: str = "s"
) -> list[Row]:
    """Rows of submissions read twice, by ``ann`` then ``bob``: one (first, second) pair of
    criterion -> score dicts per submission."""
    rows: list[Row] = []
    for i, (first, second) in enumerate(scores):
        for who, reading in (("ann", first), ("bob", second)):
            rows += [(f"{prefix}{i:04}", who, c, s) for c, s in reading.items()]
    return rows


def one(
    audit: RubricAudit, kind: str, criteria: tuple[str, ...], levels: tuple[int, ...] = ()
) -> Finding:
    """The one finding of ``kind`` about ``criteria`` (and ``levels``)."""
    found = [f for f in audit.findings if f.kind == kind and f.criteria == criteria]
    if levels:
        found = [f for f in found if f.levels == levels]
    assert len(found) == 1, (kind, criteria, levels, found)
    return found[0]


def simulate_pcm(seed: int = 5, n_sub: int = 400, n_raters: int = 20) -> Ratings:
    """Partial-credit data, each submission read by two of ``n_raters`` assessors on three
    criteria: ``plan`` and ``reflect`` with ordered thresholds (-1.5, 1.5) and (-1, 1), ``act``
    with disordered ones (1, -1): its middle level is never the most probable. ``reflect`` is
    2 logits harder than the others."""
    rng = np.random.default_rng(seed)
    theta = rng.normal(0, 1.5, n_sub)
    severity = rng.normal(0, 0.3, n_raters)
    tau = [np.array([-1.5, 1.5]), np.array([1.0, -1.0]), np.array([-1.0, 1.0])]
    difficulty = [-0.7, -0.7, 1.3]
    names = ("plan", "act", "reflect")
    rows: list[Row] = []
    for s in range(n_sub):
        for r in rng.choice(n_raters, 2, replace=False):
            for c in range(3):
                eta = theta[s] - severity[r] - difficulty[c]
                logits = np.arange(3) * eta - np.r_[0.0, np.cumsum(tau[c])]
                p = np.exp(logits - logits.max())
                level = int(rng.choice(3, p=p / p.sum())) + 1
                rows.append((f"s{s:03}", f"r{r:02}", names[c], level))
    return make(rows)


@pytest.fixture(scope="module")
def pcm() -> tuple[Ratings, RubricAudit]:
    ratings = simulate_pcm()
    return ratings, audit_rubric(ratings, RUBRIC, n_boot=300)


# --------------------------------------------------------------------------- findings


def test_a_level_never_used() -> None:
    """'act' is scored 1 or 3, never 2, on 100 submissions read twice: level 2 is unused
    (Wilson upper bound on 100 submissions, 3.84 / 103.84 = 0.037 < 0.05), the others in use,
    and whether assessors tell 2 from its neighbours cannot be known."""
    rng = np.random.default_rng(1)
    pairs = []
    for _ in range(100):
        act = int(rng.choice([1, 3]))
        plan = int(rng.integers(1, 4))
        pairs.append(({"plan": plan, "act": act}, {"plan": plan, "act": act}))
    audit = audit_rubric(make(double_scored(pairs)), make_rubric(("plan", "act")), n_boot=100)
    unused = one(audit, "level_usage", ("act",), (2,))
    assert unused.figure == 0.0 and unused.verdict == "unused" and unused.concern
    assert unused.interval is not None and unused.interval.high == pytest.approx(
        3.84 / 103.84, abs=1e-3
    )
    assert "never used in 200 ratings" in unused.sentence
    assert "merge it with a neighbouring level" in unused.recommendation
    assert one(audit, "level_usage", ("act",), (1,)).verdict == "in use"
    assert one(audit, "level_usage", ("act",), (3,)).verdict == "in use"
    for pair in ((1, 2), (2, 3)):
        assert one(audit, "level_distinction", ("act",), pair).verdict == "undefined"
    shares = [f.figure for f in audit.select("level_usage", "act")]
    assert sum(shares) == pytest.approx(1.0)


def test_levels_assessors_do_not_tell_apart() -> None:
    """On 'act', whenever a submission is at level 2 or 3 the two readers pick between the two
    at random (independent coin flips): alpha restricted to levels 2 and 3 is near 0, so the
    descriptors overlap; levels 1 and 2 are told apart (readings never mix 1 with 2)."""
    rng = np.random.default_rng(2)
    pairs = []
    for _ in range(300):
        low = rng.random() < 0.4
        first, second = (1, 1) if low else tuple(int(x) for x in rng.choice([2, 3], 2))
        pairs.append(({"act": first}, {"act": second}))
    audit = audit_rubric(make(double_scored(pairs)), make_rubric(("act",)), n_boot=300)
    blurred = one(audit, "level_distinction", ("act",), (2, 3))
    assert blurred.verdict == "not distinguished"
    assert blurred.recommendation == (
        "Descriptors of levels 2 and 3 overlap: sharpen them or merge the levels."
    )
    assert one(audit, "level_distinction", ("act",), (1, 2)).verdict == "distinguished"


def test_disordered_thresholds_from_a_known_process(pcm: tuple[Ratings, RubricAudit]) -> None:
    """Simulated partial-credit thresholds (1, -1) on 'act' come back disordered, with the
    advice to sharpen or merge levels 2 and 3; 'plan' (-1.5, 1.5: advance 3, above the 1.39 of
    the binomial-trials scale) comes back ordered."""
    _, audit = pcm
    assert audit.rasch_model == "partial-credit"
    act = one(audit, "threshold_order", ("act",), (2, 3))
    assert act.verdict == "disordered" and act.concern
    assert act.interval is not None and act.interval.high < 0
    assert act.recommendation == (
        "Descriptors of levels 2 and 3 overlap: sharpen them or merge the levels."
    )
    plan = one(audit, "threshold_order", ("plan",), (2, 3))
    assert plan.verdict == "ordered"
    assert plan.threshold == pytest.approx(math.log(4))  # Linacre's 1.4 logits, 3 levels


def test_a_harder_criterion(pcm: tuple[Ratings, RubricAudit]) -> None:
    """'reflect' was simulated 2 logits harder than the other two."""
    _, audit = pcm
    reflect = one(audit, "criterion_difficulty", ("reflect",))
    assert reflect.verdict == "harder than the rest"
    assert 1.0 < reflect.figure < 3.5
    assert "mean level" in reflect.sentence
    assert one(audit, "criterion_difficulty", ("plan",)).verdict != "harder than the rest"


def test_two_perfectly_correlated_criteria() -> None:
    """'act' repeats 'plan' in every reading: rho = 1 with a degenerate interval, redundant."""
    rng = np.random.default_rng(3)
    pairs = []
    for _ in range(60):
        a, b = (int(x) for x in rng.integers(1, 4, 2))
        pairs.append(({"plan": a, "act": a}, {"plan": b, "act": b}))
    audit = audit_rubric(make(double_scored(pairs)), make_rubric(("plan", "act")), n_boot=100)
    finding = one(audit, "redundancy", ("plan", "act"))
    assert finding.figure == pytest.approx(1.0)
    assert finding.verdict == "redundant" and finding.concern
    assert "merge them" in finding.recommendation


def test_a_criterion_driving_every_discrepant_pair() -> None:
    """Readings agree on 'plan' and 'reflect' everywhere; on 'act' 20 submissions are read
    1 and 3 (two levels apart) and 10 are read 2 and 1 (adjacent, but across the pass level):
    'act' accounts for all 30 discrepant pairs."""
    pairs = []
    for i in range(80):
        base = {"plan": 2 + i % 2, "act": 2, "reflect": 3 - i % 2}
        second = dict(base)
        if i < 20:
            base["act"], second["act"] = 1, 3
        elif i < 30:
            second["act"] = 1
        pairs.append((base, second))
    audit = audit_rubric(make(double_scored(pairs)), RUBRIC, n_boot=200)
    act = one(audit, "discrepancy_driver", ("act",))
    assert act.n == 30 and act.figure == 1.0
    assert act.verdict == "drives discrepancies"
    assert "involved in 30" in act.sentence
    for other in ("plan", "reflect"):
        assert one(audit, "discrepancy_driver", (other,)).verdict == "below its share"
    assert sum(f.figure for f in audit.select("discrepancy_driver")) == pytest.approx(1.0)
    decision = one(audit, "decision_agreement", ())
    assert decision.figure == pytest.approx(50 / 80)  # the 20 + 10 pass/not-yet splits


def test_halo_on_anchors() -> None:
    """30 anchors whose expert scores vary independently on two criteria, each read 8 times.
    Assessors who score both criteria from one overall impression correlate far more than the
    experts (halo); assessors who score each criterion from its own evidence, with noise, do
    not (their correlation is the experts', attenuated)."""
    rng = np.random.default_rng(3)
    rubric = make_rubric(("plan", "act"))
    expert = rng.integers(1, 4, (30, 2))
    anchor_set = anchor_set_from_data(
        {
            "id": "q",
            "rubric": "demo",
            "rubric_version": 1,
            "title": "Q",
            "purpose": "qualification",
            "anchors": [
                {
                    "id": f"a{i:02}",
                    "artifact": {"title": "t", "description": "d"},
                    "scores": {"plan": int(expert[i, 0]), "act": int(expert[i, 1])},
                    "rationale": {"plan": "r", "act": "r"},
                }
                for i in range(30)
            ],
        },
        rubric,
        source="test",
    )
    live = make(
        double_scored(
            [({"plan": 1 + i % 3, "act": 2}, {"plan": 1 + i % 3, "act": 2}) for i in range(30)]
        )
    )
    verdicts: dict[bool, tuple[str, float]] = {}
    for halo in (True, False):
        rows: list[Row] = []
        for i in range(30):
            for j in range(8):
                if halo:
                    level = int(np.clip(round(expert[i].mean() + rng.normal(0, 0.3)), 1, 3))
                    scores = (level, level)
                else:
                    scores = tuple(
                        int(np.clip(expert[i, c] + rng.choice([-1, 0, 0, 0, 1]), 1, 3))
                        for c in range(2)
                    )
                rows += [(f"anchor:a{i:02}", f"r{j}", "plan", scores[0])]
                rows += [(f"anchor:a{i:02}", f"r{j}", "act", scores[1])]
        anchors = make(rows, context=["qualification"] * len(rows))
        audit = audit_rubric(live, rubric, anchors=[anchor_set], anchor_ratings=anchors, n_boot=300)
        assert audit.n_anchors == 30
        finding = one(audit, "halo", ("plan", "act"))
        assert finding.n == 30 and finding.evidence == "anchors"
        verdicts[halo] = (finding.verdict, finding.figure)
    assert verdicts[True][0] == "halo" and verdicts[True][1] > 0.5
    assert verdicts[False][0] != "halo" and verdicts[False][1] < 0.1


def test_generalizability_values_and_their_intervals(pcm: tuple[Ratings, RubricAudit]) -> None:
    """G and Phi are gstudy's, with its bootstrap intervals over submissions; the verdict
    follows the interval against the target."""
    ratings, audit = pcm
    study = gstudy(ratings.unit, ratings.rater, ratings.criterion, ratings.value)
    g, phi = one_of(audit, "generalizability", "g"), one_of(audit, "generalizability", "phi")
    assert g.figure == pytest.approx(study.g, rel=1e-12)
    assert phi.figure == pytest.approx(study.phi, rel=1e-12)
    for found in (g, phi):
        assert found.interval is not None
        low, high = found.interval.low, found.interval.high
        assert low <= found.figure <= high
        expected = ("meets standard" if low >= found.threshold
                    else "below standard" if high < found.threshold else None)  # fmt: skip
        if expected is not None:
            assert found.verdict == expected
        else:
            assert found.verdict.startswith("too few")


def one_of(audit: RubricAudit, kind: str, statistic: str) -> Finding:
    (found,) = (f for f in audit.findings if f.kind == kind and f.statistic == statistic)
    return found


# --------------------------------------------------------------------------- verdicts


def test_verdicts_follow_intervals_not_points() -> None:
    """Six submissions (ordinal alpha 0.884), copied 10 and 100 times: the point alpha barely
    moves (Krippendorff's (n - 1) factor, 0.884 -> 0.873) but the interval narrows. With 6
    there is too little to tell (and below min_submissions); with 60, enough submissions but an
    interval still straddling .800; with 600 the interval clears .800: reliable."""
    base = [(1, 1), (2, 2), (3, 3), (1, 1), (2, 3), (3, 3)]
    rubric = make_rubric(("plan",))
    found = {}
    for copies in (1, 10, 100):
        pairs = [({"plan": x}, {"plan": y}) for _ in range(copies) for x, y in base]
        audit = audit_rubric(make(double_scored(pairs)), rubric, n_boot=500)
        found[copies] = one(audit, "reliability", ("plan",))
    assert found[1].figure == pytest.approx(0.8836, abs=1e-4)
    assert abs(found[1].figure - found[100].figure) < 0.011
    assert found[1].verdict == "too few double-scored submissions to tell"
    assert found[10].n == 60 and found[10].interval.low < 0.8 <= found[10].interval.high
    assert found[10].verdict == "too few double-scored submissions to tell"
    assert found[100].interval.low >= 0.8 and found[100].verdict == "reliable"


def test_reliability_bands() -> None:
    """Alpha judged by its bounds: tentative when the interval lies within [.667, .800),
    not reliable when it lies below .800 and reaches under .667."""
    th = AuditThresholds()
    rng = np.random.default_rng(4)
    results = {}
    for noise in (0.35, 0.9):
        pairs = []
        for _ in range(2000):
            t = rng.normal()
            a, b = (int(np.digitize(t + rng.normal(0, noise), [-0.6, 0.6])) + 1 for _ in range(2))
            pairs.append(({"plan": a}, {"plan": b}))
        audit = audit_rubric(make(double_scored(pairs)), make_rubric(("plan",)), n_boot=200)
        results[noise] = one(audit, "reliability", ("plan",))
    tentative, unreliable = results[0.35], results[0.9]
    assert th.alpha_tentative <= tentative.interval.low and tentative.interval.high < 0.8
    assert tentative.verdict == "tentative" and tentative.concern
    assert unreliable.interval.high < th.alpha_tentative
    assert unreliable.verdict == "not reliable"


# --------------------------------------------------------------------------- cross-checks


def random_double_scored(seed: int, n: int = 120, third: float = 0.2) -> Ratings:
    """Submissions read by two (sometimes three) of six assessors on three criteria; scores
    follow a latent level with noise, so that the criteria correlate."""
    rng = np.random.default_rng(seed)
    rows: list[Row] = []
    for s in range(n):
        readers = rng.choice(6, 3 if rng.random() < third else 2, replace=False)
        t = rng.normal()
        for r in readers:
            for c in ("plan", "act", "reflect"):
                level = int(np.digitize(t + rng.normal(0, 0.6), [-0.5, 0.5])) + 1
                rows.append((f"s{s:03}", f"r{r}", c, level))
    return make(rows)


def reliability_matrix(unit: np.ndarray, value: np.ndarray) -> np.ndarray:
    """Coders x units for the krippendorff package: row k = each unit's k-th value."""
    units = np.unique(unit)
    depth = max(int((unit == u).sum()) for u in units)
    matrix = np.full((depth, units.size), np.nan)
    for j, u in enumerate(units):
        vals = value[unit == u]
        matrix[: vals.size, j] = vals
    return matrix


@pytest.mark.parametrize("metric", ["ordinal", "interval"])
def test_alpha_matches_library_and_reference(metric: str) -> None:
    ratings = random_double_scored(7)
    audit = audit_rubric(ratings, RUBRIC, n_boot=100, metric=metric)
    for c, name in enumerate(ratings.criteria):
        on = ratings.criterion == c
        unit, value = ratings.unit[on], ratings.value[on]
        finding = one(audit, "reliability", (name,))
        assert finding.statistic == f"krippendorff_alpha.{metric}"
        ours = krippendorff_alpha(unit, value, level=metric)
        reference = krippendorff.alpha(
            reliability_data=reliability_matrix(unit, value),
            level_of_measurement=metric,
            value_domain=[1.0, 2.0, 3.0],
        )
        assert finding.figure == pytest.approx(ours, abs=1e-12)
        assert finding.figure == pytest.approx(reference, abs=1e-9)
    # Total: readings' sums over the three criteria.
    table: dict[tuple[int, int], float] = {}
    for u, r, v in zip(ratings.unit, ratings.rater, ratings.value, strict=True):
        table[(int(u), int(r))] = table.get((int(u), int(r)), 0.0) + float(v)
    unit = np.array([k[0] for k in table])
    value = np.array(list(table.values()))
    reference = krippendorff.alpha(
        reliability_data=reliability_matrix(unit, value),
        level_of_measurement=metric,
        value_domain=np.arange(3.0, 10.0),
    )
    assert one(audit, "reliability", ()).figure == pytest.approx(reference, abs=1e-9)


def test_restricted_alpha_matches_reference() -> None:
    """Alpha of two adjacent levels equals the krippendorff package's nominal alpha on the
    submissions whose two readings both fall in those levels."""
    ratings = random_double_scored(8, n=200, third=0.0)
    audit = audit_rubric(ratings, RUBRIC, n_boot=50)
    on = ratings.criterion == ratings.criteria.index("act")
    unit, value = ratings.unit[on], ratings.value[on]
    for k in (1, 2):
        inside = np.array([np.isin(value[unit == u], [k, k + 1]).all() for u in unit])
        reference = krippendorff.alpha(
            reliability_data=reliability_matrix(unit[inside], value[inside]),
            level_of_measurement="nominal",
            value_domain=[float(k), float(k + 1)],
        )
        finding = one(audit, "level_distinction", ("act",), (k, k + 1))
        assert finding.figure == pytest.approx(reference, abs=1e-9)
        assert finding.n == np.unique(unit[inside]).size


def first_two(ratings: Ratings, c: int) -> tuple[np.ndarray, np.ndarray]:
    """Each submission's first and second readers' scores on criterion ``c`` (row order)."""
    on = np.flatnonzero(ratings.criterion == c)
    by_unit: dict[int, list[float]] = {}
    for i in on:
        by_unit.setdefault(int(ratings.unit[i]), []).append(float(ratings.value[i]))
    pairs = [v[:2] for v in by_unit.values() if len(v) >= 2]
    return np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])


def test_weighted_kappa_matches_library_and_sklearn() -> None:
    ratings = random_double_scored(9)
    audit = audit_rubric(ratings, RUBRIC, n_boot=50)
    for c, name in enumerate(ratings.criteria):
        x, y = first_two(ratings, c)
        finding = one(audit, "weighted_kappa", (name,))
        ours = cohen_kappa(x, y, weights="quadratic", levels=[1, 2, 3])
        sk = cohen_kappa_score(x.astype(int), y.astype(int), weights="quadratic", labels=[1, 2, 3])
        assert finding.figure == pytest.approx(ours.kappa, abs=1e-12)
        assert finding.figure == pytest.approx(sk, abs=1e-12)
        wald = ours.confidence_interval(0.95)
        assert finding.interval.low == pytest.approx(max(wald.low, -1.0))
        assert finding.interval.high == pytest.approx(min(wald.high, 1.0))


@pytest.mark.parametrize("method", ["spearman", "pearson"])
def test_correlation_matches_scipy(method: str) -> None:
    """Within-reading correlation over readings equals scipy's spearmanr / pearsonr."""
    ratings = random_double_scored(10)
    audit = audit_rubric(ratings, RUBRIC, n_boot=50, correlation=method)
    readings: dict[tuple[int, int], dict[str, float]] = {}
    for u, r, c, v in zip(
        ratings.unit, ratings.rater, ratings.criterion, ratings.value, strict=True
    ):
        readings.setdefault((int(u), int(r)), {})[ratings.criteria[c]] = float(v)
    for a, b in (("plan", "act"), ("plan", "reflect"), ("act", "reflect")):  # rubric order
        x = [r[a] for r in readings.values()]
        y = [r[b] for r in readings.values()]
        expected = (stats.spearmanr(x, y) if method == "spearman" else stats.pearsonr(x, y))[0]
        finding = one(audit, "redundancy", (a, b))
        assert finding.statistic == method
        assert finding.figure == pytest.approx(float(expected), abs=1e-12)


def test_decisions_match_live_decision_agreement() -> None:
    ratings = random_double_scored(11)
    audit = audit_rubric(ratings, RUBRIC, n_boot=50)
    expected = live_decision_agreement(ratings, RUBRIC)
    assert one(audit, "decision_agreement", ()).figure == pytest.approx(expected.percent)
    assert one(audit, "decision_agreement", ()).n == expected.n
    assert one(audit, "decision_kappa", ()).figure == pytest.approx(expected.kappa.kappa)


def test_krippendorff_2011_published_alphas() -> None:
    """Krippendorff (2011, p. 8): ordinal .815 and interval .849 (printed to 3 decimals)."""
    rubric = make_rubric(("c",), top=5)
    readers = ["123321412...", "1233224125.3", ".3332342251.", "12332441251."]
    rows = [
        (f"u{u:02}", "ABCD"[j], "c", int(v))
        for j, o in enumerate(readers)
        for u, v in enumerate(o)
        if v != "."
    ]
    for metric, published in (("ordinal", 0.815), ("interval", 0.849)):
        audit = audit_rubric(make(rows), rubric, n_boot=50, metric=metric)
        assert one(audit, "reliability", ("c",)).figure == pytest.approx(published, abs=5e-4)


def test_threshold_information_reproduces_the_fits_standard_errors(
    pcm: tuple[Ratings, RubricAudit],
) -> None:
    """The joint information behind the threshold advances has the fit's threshold SEs on its
    diagonal (1 / sqrt(H_jj), FACETS' threshold SE with the other measures fixed)."""
    from calibrate.analyses import rubric_audit as module
    from calibrate.stats.rasch import fit_mfrm

    ratings, _ = pcm
    live = module._prepare_live(ratings, RUBRIC)
    fit = fit_mfrm(
        live.sub,
        live.rater,
        live.crit,
        live.value,
        model="partial-credit",
        categories=RUBRIC.scores,
        on_disconnected="flag",
    )
    for scale in fit.thresholds:
        h, n = module._threshold_information(fit, live, scale)
        assert 700 < n <= 800  # ratings of the criterion, extreme submissions set aside
        assert 1 / np.sqrt(np.diag(h)) == pytest.approx(np.array(scale.se), rel=1e-9)


# --------------------------------------------------------------------------- degenerate input


def test_no_double_scored_submissions() -> None:
    rows = [
        (f"s{i:02}", f"r{i % 5}", c, 1 + (i + j) % 3)
        for i in range(40)
        for j, c in enumerate(("plan", "act"))
    ]
    audit = audit_rubric(make(rows), make_rubric(("plan", "act")), n_boot=50)
    assert audit.n_double_scored == 0
    for kind in ("reliability", "weighted_kappa", "level_distinction", "decision_agreement"):
        assert {f.verdict for f in audit.select(kind)} == {"no double-scored submissions"}
    assert {f.verdict for f in audit.select("level_usage")} <= {"in use", "too few ratings to tell"}
    assert not audit.select("generalizability")
    assert any("G study cannot be estimated" in note for note in audit.notes)
    json.dumps(audit.to_dict(), allow_nan=False)


def test_one_criterion() -> None:
    pairs = [({"plan": 1 + i % 3}, {"plan": 1 + (i + i // 7) % 3}) for i in range(40)]
    audit = audit_rubric(make(double_scored(pairs)), make_rubric(("plan",)), n_boot=50)
    assert not audit.select("redundancy")
    assert [f.criteria for f in audit.select("reliability")] == [("plan",)]
    assert one(audit, "criterion_difficulty", ("plan",)).verdict == "not applicable"
    assert one(audit, "discrepancy_driver", ("plan",)).verdict == "not applicable"
    json.dumps(audit.to_dict(), allow_nan=False)


def test_every_rating_at_one_level() -> None:
    pairs = [({"plan": 3, "act": 3}, {"plan": 3, "act": 3}) for _ in range(50)]
    audit = audit_rubric(make(double_scored(pairs)), make_rubric(("plan", "act")), n_boot=50)
    for kind in ("reliability", "weighted_kappa", "level_distinction", "redundancy"):
        assert {f.verdict for f in audit.select(kind)} == {"undefined"}, kind
    assert one(audit, "decision_kappa", ()).verdict == "undefined"
    assert one(audit, "decision_agreement", ()).figure == 1.0
    assert audit.rasch_model is None
    assert any("cannot be fitted" in note for note in audit.notes)
    out = audit.to_dict()
    assert one(audit, "reliability", ("plan",)).to_dict()["figure"] is None
    json.dumps(out, allow_nan=False)


def test_a_criterion_without_ratings() -> None:
    """'act' is never scored: it gets no findings, there is no total and no pass decision (no
    reading is complete), and the notes say so; the other criteria are audited."""
    rng = np.random.default_rng(0)
    pairs = []
    for _ in range(60):
        reading = {"plan": int(rng.integers(1, 4)), "reflect": int(rng.integers(1, 4))}
        pairs.append((reading, reading))
    audit = audit_rubric(make(double_scored(pairs)), RUBRIC, n_boot=50)
    assert not audit.select(criterion="act")
    assert not audit.select("reliability", "") and not audit.select("decision_agreement")
    assert {f.criteria for f in audit.select("reliability")} == {("plan",), ("reflect",)}
    assert audit.rasch_model == "partial-credit"
    assert any("'act' has no live ratings" in note for note in audit.notes)


# --------------------------------------------------------------------------- the report


def test_report_shape(pcm: tuple[Ratings, RubricAudit]) -> None:
    ratings, audit = pcm
    assert audit.n_ratings == len(ratings) and audit.n_submissions == 400
    assert audit.n_double_scored == 400 and audit.n_assessors == 20
    kinds = [f.kind for f in audit.findings]
    assert kinds == sorted(kinds, key=KINDS.index)
    for f in audit.findings:
        assert f.sentence.endswith(".") and "\n" not in f.sentence
        assert f.recommendation
        assert f.concern == (f in audit.concerns())
    data = json.loads(json.dumps(audit.to_dict(), allow_nan=False))
    assert data["rubric"] == "demo@1" and len(data["findings"]) == len(audit.findings)
    assert set(data["thresholds"]) == set(THRESHOLD_SOURCES)


def test_same_seed_same_intervals() -> None:
    ratings = random_double_scored(12, n=60)
    a = audit_rubric(ratings, RUBRIC, n_boot=100, seed=3).to_dict()
    b = audit_rubric(ratings, RUBRIC, n_boot=100, seed=3).to_dict()
    c = audit_rubric(ratings, RUBRIC, n_boot=100, seed=4).to_dict()
    assert a == b
    assert a != c


def test_rows_of_other_contexts_and_rubrics_are_left_out() -> None:
    rows = double_scored([({"plan": 1 + i % 3}, {"plan": 1 + i % 3}) for i in range(30)])
    extra = [("p1", "ann", "plan", 1), ("p1", "bob", "plan", 3), ("o1", "ann", "plan", 2)]
    ratings = make(
        rows + extra,
        context=["live"] * len(rows) + ["practice", "practice", "live"],
        rubric=["demo@1"] * len(rows) + ["demo@1", "demo@1", "other@1"],
    )
    audit = audit_rubric(ratings, make_rubric(("plan",)), n_boot=50)
    assert audit.n_ratings == len(rows)


def test_thresholds_are_documented_and_checked() -> None:
    th = AuditThresholds()
    assert set(THRESHOLD_SOURCES) == set(th.to_dict())
    assert th.alpha_reliable == 0.800 and th.alpha_tentative == 0.667  # Krippendorff (2004)
    assert th.min_category_count == 10  # Linacre (2002), guideline 1
    assert th.max_advance == 5.0  # Linacre (2002), guideline 8
    with pytest.raises(CalibrateError, match=r"alpha_tentative .* must be at most"):
        AuditThresholds(alpha_tentative=0.9)
    with pytest.raises(CalibrateError, match="rare_share must be between 0 and 1"):
        AuditThresholds(rare_share=1.5)


def test_stricter_thresholds_change_verdicts_not_figures(pcm: tuple[Ratings, RubricAudit]) -> None:
    ratings, audit = pcm
    strict = audit_rubric(ratings, RUBRIC, n_boot=300, thresholds=AuditThresholds(redundancy_r=0.2))
    for a, b in zip(audit.select("redundancy"), strict.select("redundancy"), strict=True):
        assert a.figure == b.figure and b.threshold == 0.2
        assert a.verdict == "distinct" and b.verdict == "redundant"


# --------------------------------------------------------------------------- input errors


GOOD = double_scored([({"plan": 1}, {"plan": 2})] * 3)


@pytest.mark.parametrize(
    ("ratings", "kwargs", "message"),
    [
        (make([("s", "a", "nope", 1)]), {}, r"does not have: 'nope'"),
        (make([("s", "a", "plan", 7)]), {}, r"score 7, which is not a level of demo@1"),
        (make([("s", "a", "plan", 1), ("s", "a", "plan", 2)]), {}, r"'plan' more than once"),
        (make(GOOD, context=["practice"] * len(GOOD)), {}, r"no live rating of demo@1"),
        (make(GOOD), {"level": 1.5}, r"level must be between 0 and 1"),
        (make(GOOD), {"n_boot": 0}, r"n_boot must be a whole number"),
        (make(GOOD), {"metric": "ratio"}, r"metric must be 'ordinal' or 'interval'"),
        (make(GOOD), {"correlation": "kendall"}, r"correlation must be 'spearman' or 'pearson'"),
        (make(GOOD), {"anchors": []}, r"anchors and anchor_ratings go together"),
    ],
    ids=[
        "unknown criterion",
        "score not a level",
        "cell scored twice",
        "no live rating",
        "level",
        "n_boot",
        "metric",
        "correlation",
        "anchors alone",
    ],
)
def test_input_errors_state_the_rule(
    ratings: Ratings, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(CalibrateError, match=message):
        audit_rubric(ratings, make_rubric(("plan",)), **{"n_boot": 10, **kwargs})


def anchor_set(rubric_id: str = "demo") -> AnchorSet:
    return anchor_set_from_data(
        {
            "id": "q",
            "rubric": rubric_id,
            "rubric_version": 1,
            "title": "Q",
            "purpose": "qualification",
            "anchors": [
                {
                    "id": "a1",
                    "artifact": {"title": "t", "description": "d"},
                    "scores": {"plan": 2},
                    "rationale": {"plan": "r"},
                }
            ],
        },
        {("demo", 1): make_rubric(("plan",)), ("other", 1): make_rubric(("plan",))},
        source="test",
    )


def test_anchor_errors() -> None:
    rubric = make_rubric(("plan",))
    live = make(double_scored([({"plan": 1}, {"plan": 2})] * 3))
    with pytest.raises(CalibrateError, match="scored under other@1, not demo@1"):
        audit_rubric(live, rubric, anchors=[anchor_set("other")], anchor_ratings=live)
    strangers = make([("anchor:zz", "ann", "plan", 1)])
    with pytest.raises(CalibrateError, match="not anchors of the sets given: 'zz'"):
        audit_rubric(live, rubric, anchors=[anchor_set()], anchor_ratings=strangers)


# --------------------------------------------------------------------------- invariants


@st.composite
def sparse_ratings(draw: st.DrawFn) -> list[Row]:
    """20-30 submissions, each read by 1-3 of 6 assessors on two criteria, levels 1-3."""
    rows: list[Row] = []
    n = draw(st.integers(20, 30))
    for s in range(n):
        readers = draw(st.sets(st.integers(0, 5), min_size=1, max_size=3))
        level = draw(st.integers(1, 3))
        for r in sorted(readers):
            for c in ("plan", "act"):
                jitter = draw(st.sampled_from([-1, 0, 0, 1]))
                rows.append((f"s{s:02}", f"r{r}", c, int(np.clip(level + jitter, 1, 3))))
    return rows


RASCH_KINDS = ("threshold_order", "criterion_difficulty")


NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def same_sentence(x: str, y: str) -> None:
    """The same words, and numbers equal to their printed precision (sums taken in another
    order can round 1.6250000000000002 and 1.625 to different last digits)."""
    assert NUMBER.sub("#", x) == NUMBER.sub("#", y)
    for u, v in zip(NUMBER.findall(x), NUMBER.findall(y), strict=True):
        digits = len(u.partition(".")[2])
        assert float(u) == pytest.approx(float(v), abs=1.01 * 10.0**-digits)


def same_findings(a: RubricAudit, b: RubricAudit) -> None:
    assert len(a.findings) == len(b.findings)
    for x, y in zip(a.findings, b.findings, strict=True):
        assert (x.kind, x.criteria, x.levels, x.statistic, x.n, x.evidence) == (
            y.kind,
            y.criteria,
            y.levels,
            y.statistic,
            y.n,
            y.evidence,
        )
        if x.kind in RASCH_KINDS:  # joint ML converges to 1e-4 logits from any labelling
            if x.verdict != "undefined" or y.verdict != "undefined":
                assert x.verdict == y.verdict
                assert x.figure == pytest.approx(y.figure, abs=1e-3)
            continue
        if x.kind == "generalizability":  # boot-p draws submissions in code order: relabelling
            assert x.figure == pytest.approx(y.figure, abs=1e-12, nan_ok=True)  # changes the
            continue  # draw, not its distribution; the point values must not move
        assert x.verdict == y.verdict
        same_sentence(x.sentence, y.sentence)
        assert x.figure == pytest.approx(y.figure, abs=1e-12, nan_ok=True)
        if x.interval is not None and y.interval is not None:
            assert x.interval.to_list() == pytest.approx(y.interval.to_list(), nan_ok=True)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=sparse_ratings(), data=st.data())
def test_relabelling_submissions_and_assessors_changes_nothing(
    rows: list[Row], data: st.DataObject
) -> None:
    rubric = make_rubric(("plan", "act"))
    subs = sorted({r[0] for r in rows})
    who = sorted({r[1] for r in rows})
    new_subs = dict(
        zip(subs, data.draw(st.permutations([f"x{i:02}" for i in range(len(subs))])), strict=True)
    )
    new_who = dict(
        zip(who, data.draw(st.permutations([f"z{i}" for i in range(len(who))])), strict=True)
    )
    renamed = [(new_subs[s], new_who[w], c, v) for s, w, c, v in rows]
    a = audit_rubric(make(rows), rubric, n_boot=40)
    b = audit_rubric(make(renamed), rubric, n_boot=40)
    same_findings(a, b)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=sparse_ratings())
def test_shares_sum_to_one(rows: list[Row]) -> None:
    audit = audit_rubric(make(rows), make_rubric(("plan", "act")), n_boot=20)
    for criterion in ("plan", "act"):
        shares = [f.figure for f in audit.select("level_usage", criterion)]
        assert len(shares) == 3 and sum(shares) == pytest.approx(1.0)
    drivers = audit.select("discrepancy_driver")
    if drivers[0].n:
        assert sum(f.figure for f in drivers) == pytest.approx(1.0)
