"""Per-assessor discrepancy from other readings (calibrate.stats.discrepancy)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import scipy.stats as sps
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import cohen_kappa_score

from calibrate.anchors import load_anchor_sets
from calibrate.errors import StatisticsError
from calibrate.ratings import CONTEXTS
from calibrate.rubric import load_rubrics
from calibrate.rules import RuleOverrides
from calibrate.simulate import SimulationConfig, simulate_programme
from calibrate.stats.agreement import standardized_mean_difference
from calibrate.stats.discrepancy import STATISTICS, halo_index, reader_discrepancy
from calibrate.stats.kappa import cohen_kappa

ROOT = Path(__file__).parents[2]


# reader_discrepancy: hand-computed ----------------------------------------------------------


def test_hand_computed_two_readers() -> None:
    # Four submissions, one criterion; assessor 0 scores (1, 2, 3, 3), assessor 1 (1, 3, 3, 2).
    # Pairs of assessor 0: (1,1) (2,3) (3,3) (3,2): exact 2/4, adjacent 4/4.
    # Both means 2.25, both divisor-N variances 2.75 / 4 = 0.6875; covariance
    # (1.5625 - 0.1875 + 0.5625 - 0.1875) / 4 = 0.4375, so r = 0.4375 / 0.6875 = 7/11.
    # QWK = 1 - D / E with D = (0 + 1 + 0 + 1) / 4 = 0.5, E = 2 * 0.6875: 1 - 4/11 = 7/11.
    # SMD = 0 (equal means). Exact SE: one pair per submission, psi = (.5, -.5, .5, -.5):
    # var = 4/3 * 1 / 16 = 1/12.
    d = reader_discrepancy(
        [0, 1, 2, 3] * 2, [0] * 4 + [1] * 4, [0] * 8, [1, 2, 3, 3, 1, 3, 3, 2], levels=[1, 2, 3]
    )
    assert d.n_pairs.tolist() == [4, 4] and d.n_units.tolist() == [4, 4]
    assert d.exact.tolist() == [0.5, 0.5] and d.adjacent.tolist() == [1.0, 1.0]
    assert d.correlation.tolist() == pytest.approx([7 / 11] * 2)
    assert d.qwk.tolist() == pytest.approx([7 / 11] * 2)
    assert d.smd.tolist() == pytest.approx([0.0, 0.0])
    assert d.exact_se.tolist() == pytest.approx([math.sqrt(1 / 12)] * 2)
    assert d.adjacent_se.tolist() == [0.0, 0.0]  # every pair adjacent
    ci = d.confidence_interval("exact")
    # t(0.975, 3 df) = 3.182446
    assert ci[0].low == pytest.approx(0.5 - 3.182446 * math.sqrt(1 / 12), rel=1e-6)


def test_three_readers_give_two_partners_and_count_submissions() -> None:
    # Submission 0 read by 0, 1, 2 on two criteria; submission 1 by 0 and 1 on two criteria.
    # Assessor 0: partners 1 and 2 on submission 0 (2 x 2 pairs), partner 1 on submission 1
    # (2 pairs): 6 pairs over 2 submissions. Assessor 2: 4 pairs over 1 submission.
    unit = [0] * 6 + [1] * 4
    rater = [0, 0, 1, 1, 2, 2, 0, 0, 1, 1]
    crit = [0, 1] * 5
    value = [1, 2, 1, 3, 2, 2, 3, 3, 3, 2]
    d = reader_discrepancy(unit, rater, crit, value)
    assert d.n_pairs.tolist() == [6, 6, 4]
    assert d.n_units.tolist() == [2, 2, 1]
    # Assessor 0's pairs: submission 0, criterion 0 -> (1 vs 1), (1 vs 2); criterion 1 ->
    # (2 vs 3), (2 vs 2); submission 1 -> (3 vs 3), (3 vs 2). Equal: 3 of 6.
    assert d.exact[0] == pytest.approx(3 / 6)
    assert math.isnan(d.exact_se[2])  # one submission: no clustered SE
    assert math.isnan(d.confidence_interval("smd").low[2])


# reader_discrepancy: independent computations -----------------------------------------------


def _sparse_design(seed: int, n_units: int = 120, n_raters: int = 8, n_crit: int = 3) -> tuple:
    """Submissions read by 2 or 3 of ``n_raters`` on ``n_crit`` criteria, scores 1-4."""
    rng = np.random.default_rng(seed)
    unit, rater, crit, value = [], [], [], []
    for s in range(n_units):
        readers = rng.choice(n_raters, size=2 + int(rng.random() < 0.3), replace=False)
        quality = rng.normal(0, 1)
        for r in readers:
            for c in range(n_crit):
                score = np.clip(np.round(2.5 + quality + 0.3 * r / n_raters + rng.normal()), 1, 4)
                unit.append(s)
                rater.append(int(r))
                crit.append(c)
                value.append(float(score))
    return np.array(unit), np.array(rater), np.array(crit), np.array(value)


def _pairs_by_loop(unit, rater, crit, value, assessor):  # type: ignore[no-untyped-def]
    """The assessor's pairs, listed by a plain double loop (independent of the vectorised code)."""
    mine, theirs = [], []
    for a in range(unit.size):
        if rater[a] != assessor:
            continue
        for b in range(unit.size):
            if b != a and unit[b] == unit[a] and crit[b] == crit[a]:
                mine.append(value[a])
                theirs.append(value[b])
    return np.array(mine), np.array(theirs)


def test_statistics_agree_with_independent_formulas() -> None:
    unit, rater, crit, value = _sparse_design(seed=4)
    d = reader_discrepancy(unit, rater, crit, value, levels=[1, 2, 3, 4])
    for j in range(8):
        x, y = _pairs_by_loop(unit, rater, crit, value, j)
        assert d.n_pairs[j] == x.size
        assert d.exact[j] == pytest.approx(np.mean(x == y))
        assert d.adjacent[j] == pytest.approx(np.mean(np.abs(x - y) <= 1))
        # Cohen (1968) quadratic weighted kappa, as scikit-learn computes it (integer labels).
        assert d.qwk[j] == pytest.approx(cohen_kappa_score(x, y, weights="quadratic"))
        assert d.correlation[j] == pytest.approx(sps.pearsonr(x, y).statistic)
        # RSMTool's human-human SMD: (mean H2 - mean H1) / sqrt((sd_H1^2 + sd_H2^2) / 2),
        # ddof 1 ("Evaluation metrics", rsmtool.readthedocs.io), the assessor as H2.
        pooled = math.sqrt((np.var(x, ddof=1) + np.var(y, ddof=1)) / 2)
        assert d.smd[j] == pytest.approx((x.mean() - y.mean()) / pooled)
        assert d.smd[j] == pytest.approx(standardized_mean_difference(y, x))


def test_one_pair_per_submission_reproduces_classical_standard_errors() -> None:
    # With one pair per submission the clustered variance is the i.i.d. one times A / (A - 1):
    # for kappa, Fleiss, Cohen & Everitt (1969, eq. 11) with quadratic weights (as
    # calibrate.stats.kappa.cohen_kappa); for a share p, p (1 - p) / (N - 1).
    rng = np.random.default_rng(11)
    n = 60
    x = rng.integers(1, 5, n)
    y = np.clip(x + rng.integers(-1, 2, n), 1, 4)
    d = reader_discrepancy(np.tile(np.arange(n), 2), np.repeat([0, 1], n), None, np.r_[x, y])
    fce = cohen_kappa(x, y, weights="quadratic")
    assert d.qwk[0] == pytest.approx(fce.kappa)
    assert d.qwk_se[0] == pytest.approx(fce.se * math.sqrt(n / (n - 1)))
    p = float(np.mean(x == y))
    assert d.exact_se[0] == pytest.approx(math.sqrt(p * (1 - p) / (n - 1)))


def test_copying_a_criterion_leaves_clustered_errors_unchanged() -> None:
    # Every rating repeated on a second criterion with the same score: twice the pairs, the same
    # estimates, and (pairs summed within submissions) the same clustered standard errors. An
    # unclustered error would shrink by sqrt(2), claiming evidence that is not there.
    unit, rater, _, value = _sparse_design(seed=5, n_crit=1)
    once = reader_discrepancy(unit, rater, None, value)
    twice = reader_discrepancy(
        np.r_[unit, unit], np.r_[rater, rater], np.repeat([0, 1], unit.size), np.r_[value, value]
    )
    assert twice.n_pairs.tolist() == (2 * once.n_pairs).tolist()
    assert twice.n_units.tolist() == once.n_units.tolist()
    for s in ("exact", "adjacent", "qwk", "correlation"):
        np.testing.assert_allclose(getattr(twice, s), getattr(once, s))
        np.testing.assert_allclose(getattr(twice, f"{s}_se"), getattr(once, f"{s}_se"))
    # SMD's sample variances divide by N - 1: twice the pairs rescale it (and its SE) by
    # sqrt((2N - 1) / (2 (N - 1))); the SE follows to first order (its variance term carries the
    # factor cubed: a relative change of order 1/N, under 0.1% here with N >= 40 pairs).
    n = once.n_pairs
    rescale = np.sqrt((2 * n - 1) / (2 * (n - 1)))
    np.testing.assert_allclose(twice.smd, once.smd * rescale)
    np.testing.assert_allclose(twice.smd_se, once.smd_se * rescale, rtol=1e-3)


# reader_discrepancy: properties -------------------------------------------------------------


@st.composite
def _designs(draw: st.DrawFn) -> tuple:
    n_raters = draw(st.integers(2, 5))
    n_units = draw(st.integers(2, 12))
    unit, rater, crit, value = [], [], [], []
    for s in range(n_units):
        readers = draw(st.lists(st.integers(0, n_raters - 1), min_size=2, max_size=3, unique=True))
        for r in readers:
            for c in range(2):
                unit.append(s)
                rater.append(r)
                crit.append(c)
                value.append(float(draw(st.integers(1, 4))))
    return np.array(unit), np.array(rater), np.array(crit), np.array(value), n_raters


def _same(a: np.ndarray, b: np.ndarray) -> None:
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12, equal_nan=True)


@settings(max_examples=60, deadline=None)
@given(_designs(), st.randoms(use_true_random=False))
def test_relabelling_assessors_permutes_the_results(design: tuple, rnd: object) -> None:
    unit, rater, crit, value, n_raters = design
    perm = np.arange(n_raters)
    rnd.shuffle(perm)  # type: ignore[attr-defined]
    before = reader_discrepancy(unit, rater, crit, value, n_raters=n_raters, levels=[1, 2, 3, 4])
    after = reader_discrepancy(
        unit, perm[rater], crit, value, n_raters=n_raters, levels=[1, 2, 3, 4]
    )
    for field in ("n_pairs", "n_units", *STATISTICS, *(f"{s}_se" for s in STATISTICS)):
        _same(getattr(after, field)[perm], getattr(before, field))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 4), min_size=2, max_size=30))
def test_an_identical_copy_agrees_exactly(scores: list[int]) -> None:
    n = len(scores)
    d = reader_discrepancy(np.tile(np.arange(n), 2), np.repeat([0, 1], n), None, scores * 2)
    assert d.exact.tolist() == [1.0, 1.0] and d.adjacent.tolist() == [1.0, 1.0]
    if len(set(scores)) > 1:
        assert d.smd.tolist() == [0.0, 0.0]
        assert d.qwk.tolist() == pytest.approx([1.0, 1.0])
    else:  # constant scores: no spread to standardise by, kappa 0/0
        assert np.isnan(d.smd).all() and np.isnan(d.qwk).all()


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(1, 4), st.integers(1, 4)), min_size=3, max_size=30),
)
def test_two_readers_are_mirror_images(pairs: list[tuple[int, int]]) -> None:
    x, y = np.array(pairs, dtype=float).T
    n = x.size
    d = reader_discrepancy(np.tile(np.arange(n), 2), np.repeat([0, 1], n), None, np.r_[x, y])
    _same(d.smd[0], -d.smd[1])
    _same(d.smd_se[0], d.smd_se[1])
    for s in ("exact", "adjacent", "qwk", "correlation"):
        _same(getattr(d, s)[0], getattr(d, s)[1])


# reader_discrepancy: degenerate input and errors --------------------------------------------


def test_assessors_without_pairs_or_spread_get_nan() -> None:
    # Assessor 2 reads submission 2 alone (no pair); assessor 3 has no ratings; assessor 0
    # always scores 2 (correlation undefined, SMD defined by the partner's spread).
    d = reader_discrepancy(
        [0, 0, 1, 1, 2], [0, 1, 0, 1, 2], None, [2, 1, 2, 3, 4], n_raters=4, levels=[1, 2, 3, 4]
    )
    assert d.n_pairs.tolist() == [2, 2, 0, 0]
    for s in STATISTICS:
        assert np.isnan(getattr(d, s)[2:]).all()
        assert np.isnan(getattr(d, f"{s}_se")[2:]).all()
    assert np.isnan(d.correlation[0]) and np.isnan(d.correlation_se[0])
    assert d.smd[0] == pytest.approx(0.0)


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (([0, 1], [0, 1], None, [1, 2]), {}, "read by two assessors"),
        (([0, 0, 0], [0, 0, 1], None, [1, 2, 2]), {}, "only once"),
        (([0, 0], [0, 1], None, [1, 5]), {"levels": [1, 2, 3]}, "one of the levels"),
        (([0, 0], [0, 3], None, [1, 2]), {"n_raters": 2}, "n_raters"),
        (([0, 0], [0, 1], None, [1]), {}, "as long as unit"),
        (([0, 0], [0, 1.5], None, [1, 2]), {}, "rater must hold"),
    ],
)
def test_bad_input_is_refused(args: tuple, kwargs: dict, message: str) -> None:
    with pytest.raises(StatisticsError, match=message):
        reader_discrepancy(*args, **kwargs)


def test_unknown_statistic_and_bad_confidence_are_refused() -> None:
    d = reader_discrepancy([0, 0, 1, 1], [0, 1, 0, 1], None, [1, 2, 2, 2])
    with pytest.raises(StatisticsError, match="statistic must be one of"):
        d.confidence_interval("kappa")  # type: ignore[arg-type]
    with pytest.raises(StatisticsError, match="confidence"):
        d.confidence_interval("exact", 1.5)


# reader_discrepancy: coverage of the clustered intervals ------------------------------------


def _double_scored(rng: np.random.Generator, n_units: int, sev: np.ndarray, noise: np.ndarray):  # type: ignore[no-untyped-def]
    """Sparse live design: each submission read by 2 of G assessors on 5 criteria, levels 1-4.
    Scores share the submission's quality and each reading's impression of it (clustering)."""
    g, c = sev.size, 5
    who = np.argsort(rng.random((n_units, g)), axis=1)[:, :2]
    quality = (
        rng.normal(0, 1, (n_units, 1))
        + np.linspace(-0.5, 0.5, c)
        + rng.normal(0, 0.5, (n_units, c))
    )
    loc = (
        quality[:, None, :]
        + sev[who][:, :, None]
        + rng.normal(0, 0.5, (n_units, 2, 1))
        + noise[who][:, :, None] * rng.standard_normal((n_units, 2, c))
    )
    value = np.clip(np.round(2.5 + loc), 1, 4)
    shape = value.shape
    unit = np.broadcast_to(np.arange(n_units)[:, None, None], shape).ravel()
    rater = np.broadcast_to(who[:, :, None], shape).ravel()
    crit = np.broadcast_to(np.arange(c), shape).ravel()
    return unit, rater, crit, value.ravel()


@pytest.mark.slow
def test_clustered_intervals_cover_at_the_nominal_rate() -> None:
    # 10 assessors with different severities and noise; the target of each assessor's statistic
    # is its value on 100,000 submissions of the same design. 200 programmes of 200 submissions
    # (about 40 per assessor, 200 pairs) give 2,000 intervals per statistic: coverage within
    # 0.92-0.97 (binomial SD 0.005 about 0.95). Clustering by submission x criterion instead
    # (treating a reading's criteria as independent) undercovers: below 0.92 for every
    # statistic (0.81-0.89 measured), which shows what the clustering is for.
    rng = np.random.default_rng(0)
    sev, noise = rng.normal(0, 0.4, 10), rng.uniform(0.3, 1.0, 10)
    levels = [1, 2, 3, 4]
    truth = reader_discrepancy(*_double_scored(rng, 100_000, sev, noise), levels=levels)
    covered = {s: 0 for s in STATISTICS}
    by_cell = {s: 0 for s in STATISTICS}
    n_intervals = 0
    for _ in range(200):
        unit, rater, crit, value = _double_scored(rng, 200, sev, noise)
        d = reader_discrepancy(unit, rater, crit, value, n_raters=10, levels=levels)
        naive = reader_discrepancy(unit * 5 + crit, rater, crit, value, n_raters=10, levels=levels)
        n_intervals += 10
        for s in STATISTICS:
            target = getattr(truth, s)
            ci, ci_naive = d.confidence_interval(s), naive.confidence_interval(s)
            covered[s] += int(np.sum((ci.low <= target) & (target <= ci.high)))
            by_cell[s] += int(np.sum((ci_naive.low <= target) & (target <= ci_naive.high)))
    for s in STATISTICS:
        assert 0.92 <= covered[s] / n_intervals <= 0.97, (s, covered[s] / n_intervals)
        assert by_cell[s] / n_intervals < 0.92, (s, by_cell[s] / n_intervals)


# halo_index ---------------------------------------------------------------------------------


def test_halo_hand_computed_with_clusters() -> None:
    # Assessor 0: two readings of submission 5 (against two other readers) and one of
    # submission 6. SDs across three criteria (ddof 1): (1,2,3) -> 1, (2,2,2) -> 0,
    # (1,1,3) -> 2/sqrt(3) = 1.1547. Reference readings: (1,2,3), (1,3,3), (1,2,3): 1, 1.1547, 1.
    # d = (0, -1.1547, 0.1547); mean -1/3. Clusters: submission 5 sums (0 + 1/3) + (-1.1547 +
    # 1/3) = -0.4880, submission 6: 0.1547 + 1/3 = 0.4880; var = 2 * 2 * 0.4880^2 / 9.
    reading = np.repeat([0, 1, 2], 3)
    value = [1, 2, 3, 2, 2, 2, 1, 1, 3]
    reference = [1, 2, 3, 1, 3, 3, 1, 2, 3]
    unit = np.repeat([5, 5, 6], 3)
    h = halo_index(reading, [0] * 9, [0, 1, 2] * 3, value, reference, cluster=unit)
    s = 2 / math.sqrt(3)
    d = np.array([0.0, -s, s - 1])
    assert h.halo[0] == pytest.approx(d.mean())
    assert h.n_readings.tolist() == [3] and h.n_units.tolist() == [2]
    score = (d[0] - d.mean()) + (d[1] - d.mean())
    assert h.se[0] == pytest.approx(math.sqrt(2 * 2 * score**2 / 9))
    assert h.assessor_sd[0] == pytest.approx((1 + 0 + s) / 3)
    assert h.reference_sd[0] == pytest.approx((1 + s + 1) / 3)
    # Without units each reading is its own cluster: the t interval over three readings.
    alone = halo_index(reading, [0] * 9, [0, 1, 2] * 3, value, reference)
    assert alone.se[0] == pytest.approx(np.std(d, ddof=1) / math.sqrt(3))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(1, 4), min_size=2, max_size=5), min_size=2, max_size=10))
def test_halo_is_zero_against_itself_and_minus_the_spread_when_flat(
    readings: list[list[int]],
) -> None:
    reading = np.repeat(np.arange(len(readings)), [len(r) for r in readings])
    crit = np.concatenate([np.arange(len(r)) for r in readings])
    ref = np.concatenate(readings).astype(float)
    same = halo_index(reading, np.zeros_like(reading), crit, ref, ref)
    assert same.halo.tolist() == [0.0] and same.se.tolist() == [0.0]
    flat = np.repeat([float(np.mean(r)) for r in readings], [len(r) for r in readings])
    h = halo_index(reading, np.zeros_like(reading), crit, flat, ref)
    assert h.halo[0] == pytest.approx(-h.reference_sd[0])
    assert h.assessor_sd.tolist() == [0.0]


def test_halo_degenerate_input_and_errors() -> None:
    # Assessor 1 has only a one-criterion reading (left out): NaN; assessor 2 no rows.
    h = halo_index([0, 0, 1], [0, 0, 1], [0, 1, 0], [1, 2, 3], [1, 3, 3], n_raters=3)
    assert h.n_readings.tolist() == [1, 0, 0]
    assert h.halo[0] == pytest.approx(math.sqrt(0.5) - math.sqrt(2))
    assert np.isnan(h.se[0]) and np.isnan(h.halo[1:]).all()
    assert np.isnan(h.confidence_interval().low).all()
    with pytest.raises(StatisticsError, match="one rater"):
        halo_index([0, 0], [0, 1], [0, 1], [1, 2], [1, 2])
    with pytest.raises(StatisticsError, match="one unit"):
        halo_index([0, 0], [0, 0], [0, 1], [1, 2], [1, 2], cluster=[0, 1])
    with pytest.raises(StatisticsError, match="at most once"):
        halo_index([0, 0], [0, 0], [1, 1], [1, 2], [1, 2])
    with pytest.raises(StatisticsError, match="two criteria"):
        halo_index([0, 1], [0, 0], [0, 0], [1, 2], [1, 2])
    with pytest.raises(StatisticsError, match="reference must be a 1-D array as long as"):
        halo_index([0, 0], [0, 0], [0, 1], [1, 2], [1])


def test_halo_detects_planted_halo_in_a_simulated_programme() -> None:
    # simulate_programme plants halo (scores of a reading pulled 80% of the way to their mean);
    # the qualification standard is waived so planted assessors reach live work, and half of
    # it is double-scored. Each live reading is compared with the other reading of the same
    # submission. Measured (seed 3, the simulator's defaults: a level 10 logits wide, criteria
    # 1.5 logits apart, so readings are even across criteria): the 6 planted halo assessors
    # -0.12 to -0.22 (mean -0.17; reference SDs 0.17-0.28, so each keeps under half of the
    # reference's spread), calibrated +0.03 on average; the 3 halo assessors with 20 or more
    # readings have intervals below 0, no calibrated interval lies below -0.1.
    rubrics = load_rubrics(ROOT / "rubrics")
    sets = load_anchor_sets(ROOT / "anchor_sets", {(r.id, r.version): r for r in rubrics})
    waived = {
        "live.double_share": 0.5,
        "qualification.min_exact": 0.0,
        "qualification.min_adjacent": 0.0,
        "qualification.min_decision": 0.0,
        "qualification.max_non_adjacent": 10,
    }
    config = SimulationConfig(
        effect_shares={"halo": 0.15, "central": 0.1, "inconsistent": 0.06, "severe": 0.06},
        rules=RuleOverrides(values=waived),
    )
    p = simulate_programme(rubrics, sets, size="pilot", seed=3, config=config)
    live = p.context == CONTEXTS.index("live")
    s, a, c, v = p.submission[live], p.assessor[live], p.criterion[live], p.score[live]
    order = np.lexsort((a, c, s))
    s, a, c, v = s[order], a[order], c[order], v[order].astype(float)
    i = np.flatnonzero((s[1:] == s[:-1]) & (c[1:] == c[:-1]))  # the two readers of a cell
    rows = np.r_[i, i + 1]
    h = halo_index(
        s[rows] * len(p.assessors) + a[rows],
        a[rows],
        c[rows],
        v[rows],
        np.r_[v[i + 1], v[i]],
        cluster=s[rows],
        n_raters=len(p.assessors),
    )
    effect = np.array([x.effect for x in p.truth.assessors])
    high = h.confidence_interval().high
    halo, calibrated = (effect == "halo") & (h.n_readings > 0), effect == "calibrated"
    assert halo.sum() == 6
    assert (h.halo[halo] < 0).all() and np.mean(h.halo[halo]) < -0.15
    assert abs(np.nanmean(h.halo[calibrated])) < 0.1
    well_read = halo & (h.n_readings >= 20)
    assert well_read.sum() >= 3 and (high[well_read] < 0).all()
    assert not np.any(high[calibrated] < -0.1)
