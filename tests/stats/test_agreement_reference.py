"""Agreement statistics against published values (tests/reference/*/reference.json).

Each assert compares at the printed precision, ``abs(ours - published) <= 0.5 * 10**-decimals``,
with the source named above it. Conventions where sources differ are pinned here too:
irr spaces kappa weights by the rank of the levels in use (reproduced with rank-coded scores),
our default weights are on the score values (as irrCAC and sklearn).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from calibrate.stats.agreement import (
    cohen_kappa,
    cohen_kappa_pairs,
    fleiss_kappa,
    gwet_ac,
    icc,
    krippendorff_alpha,
    percent_agreement,
)
from calibrate.stats.kappa import kappa_parts

REFERENCE = Path(__file__).parents[1] / "reference"
Long = tuple[np.ndarray, np.ndarray, np.ndarray]


def published(folder: str, statistic: str, variant: str | None = None) -> tuple[float, float]:
    """(published value, tolerance at its printed precision)."""
    values = json.loads((REFERENCE / folder / "reference.json").read_text())["values"]
    (entry,) = [
        v for v in values if v["statistic"] == statistic and variant in (None, v["variant"])
    ]
    return entry["published_value"], 0.5 * 10.0 ** -entry["printed_decimals"]


def read_wide(path: Path, skip: int = 1) -> Long:
    """Wide CSV (``skip`` leading id columns, one column per rater) -> unit, rater, value.

    Empty cells and NA are missing; letters a, b, c... are coded 1, 2, 3... (irrCAC convention).
    """
    with path.open() as f:
        rows = list(csv.reader(f))[1:]
    unit, rater, value = [], [], []
    for i, row in enumerate(rows):
        for j, cell in enumerate(row[skip:]):
            cell = cell.strip()
            if cell in ("", "NA"):
                continue
            unit.append(i)
            rater.append(j)
            value.append(ord(cell.lower()) - 96 if cell.isalpha() else float(cell))
    return np.array(unit), np.array(rater), np.array(value, dtype=float)


def table_to_pairs(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """A 2-rater contingency table CSV -> paired scores 1..C of rater A (rows) and B (columns)."""
    with path.open() as f:
        counts = np.array([[int(c) for c in row[1:]] for row in list(csv.reader(f))[1:]])
    n_cat = counts.shape[0]
    a = np.repeat(np.repeat(np.arange(1, n_cat + 1), n_cat), counts.ravel())
    b = np.repeat(np.tile(np.arange(1, n_cat + 1), n_cat), counts.ravel())
    return a.astype(float), b.astype(float)


def stacked(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Paired scores -> long unit, value (two ratings per unit)."""
    n = a.size
    return np.r_[np.arange(n), np.arange(n)], np.r_[a, b]


@pytest.fixture(scope="module")
def k2011() -> Long:
    with (REFERENCE / "krippendorff2011" / "reliability_data_long.csv").open() as f:
        rows = list(csv.DictReader(f))
    unit = np.array([int(r["unit"]) - 1 for r in rows])
    rater = np.array(["ABCD".index(r["observer"]) for r in rows])
    return unit, rater, np.array([float(r["value"]) for r in rows])


@pytest.fixture(scope="module")
def raw4raters() -> Long:
    return read_wide(REFERENCE / "gwet_irrCAC" / "cac_raw4raters.csv")


@pytest.fixture(scope="module")
def diagnoses() -> Long:
    return read_wide(REFERENCE / "fleiss1971_diagnoses" / "diagnoses_wide.csv")


@pytest.fixture(scope="module")
def abstractors() -> tuple[np.ndarray, np.ndarray]:
    return table_to_pairs(REFERENCE / "gwet_irrCAC" / "cont3x3abstractors.csv")


@pytest.fixture(scope="module")
def anxiety() -> Long:
    return read_wide(REFERENCE / "irr_anxiety" / "anxiety.csv")


# --- Krippendorff (2011) -------------------------------------------------------------------------


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
def test_alpha_krippendorff_2011(k2011: Long, level: str) -> None:
    unit, _, value = k2011
    value_pub, tol = published("krippendorff2011", f"Krippendorff's alpha ({level})")
    # Krippendorff (2011), p. 8: nominal .743, ordinal .815, interval .849, ratio .797
    assert abs(krippendorff_alpha(unit, value, level=level) - value_pub) <= tol  # type: ignore[arg-type]


def test_alpha_krippendorff_2011_full_precision(k2011: Long) -> None:
    unit, _, value = k2011
    nominal, tol_n = published("krippendorff2011", "Krippendorff's alpha (nominal), full precision")
    interval, tol_i = published(
        "krippendorff2011", "Krippendorff's alpha (interval), full precision"
    )
    # irrCAC 1.0 (Gwet 2019), krippen.alpha.raw(cac.raw4raters): 0.74342
    assert abs(krippendorff_alpha(unit, value, level="nominal") - nominal) <= tol_n
    # irrCAC 1.0 (Gwet 2019), weighting.html, quadratic weights (= interval): 0.84911
    assert abs(krippendorff_alpha(unit, value, level="interval") - interval) <= tol_i


# --- Gwet (2014) / irrCAC: cac.raw4raters (= Krippendorff 2011 data) ---------------------------


def test_raw4raters_percent_agreement(raw4raters: Long) -> None:
    unit, _, value = raw4raters
    pa, tol = published("gwet_irrCAC", "percent agreement - cac.raw4raters", "identity weights")
    # irrCAC 1.0 README, pa.coeff.raw(cac.raw4raters): 0.8181818
    assert abs(percent_agreement(unit, value) - pa) <= tol
    pa_q, tol_q = published(
        "gwet_irrCAC", "percent agreement - cac.raw4raters", "quadratic weights"
    )
    # irrCAC 1.0 weighting.html, quadratic weights: pa 0.9753788
    assert abs(gwet_ac(unit, value, weights="quadratic").pa - pa_q) <= tol_q


def test_raw4raters_gwet(raw4raters: Long) -> None:
    unit, _, value = raw4raters
    ac1, tol1 = published("gwet_irrCAC", "Gwet AC1/AC2 - cac.raw4raters", "identity weights")
    pe, tol_pe = published("gwet_irrCAC", "Gwet AC1 pe - cac.raw4raters")
    ac2q, tol_q = published("gwet_irrCAC", "Gwet AC1/AC2 - cac.raw4raters", "quadratic weights")
    ac2l, tol_l = published("gwet_irrCAC", "Gwet AC2 - cac.raw4raters", "linear weights")
    result = gwet_ac(unit, value)
    # irrCAC 1.0 README, gwet.ac1.raw(cac.raw4raters): AC1 0.77544
    assert abs(result.coefficient - ac1) <= tol1
    # irrCAC 1.0 README: pe 0.1903212
    assert abs(result.pe - pe) <= tol_pe
    # irrCAC 1.0 weighting.html, quadratic weights: AC2 0.914
    assert abs(gwet_ac(unit, value, weights="quadratic").coefficient - ac2q) <= tol_q
    # irrCAC Python port (Fergadis), test_gwet_raw4raters_linear_weights: AC2 0.859
    assert abs(gwet_ac(unit, value, weights="linear").coefficient - ac2l) <= tol_l


def test_raw4raters_fleiss_and_alpha(raw4raters: Long) -> None:
    unit, _, value = raw4raters
    fk, tol = published(
        "gwet_irrCAC", "Fleiss kappa (generalised) - cac.raw4raters", "identity weights"
    )
    fk_q, tol_q = published(
        "gwet_irrCAC", "Fleiss kappa (generalised) - cac.raw4raters", "quadratic weights"
    )
    ka, tol_a = published("gwet_irrCAC", "Krippendorff alpha - cac.raw4raters", "identity weights")
    ka_q, tol_aq = published(
        "gwet_irrCAC", "Krippendorff alpha - cac.raw4raters", "quadratic weights"
    )
    # irrCAC 1.0 README, fleiss.kappa.raw(cac.raw4raters): 0.76117 (unequal ratings per unit)
    assert abs(fleiss_kappa(unit, value).kappa - fk) <= tol
    # irrCAC 1.0 weighting.html, quadratic weights: 0.86494
    assert abs(fleiss_kappa(unit, value, weights="quadratic").kappa - fk_q) <= tol_q
    # irrCAC 1.0 README, krippen.alpha.raw: 0.74342
    assert abs(krippendorff_alpha(unit, value, level="nominal") - ka) <= tol_a
    # irrCAC 1.0 weighting.html, quadratic weights (= interval alpha): 0.84911
    assert abs(krippendorff_alpha(unit, value, level="interval") - ka_q) <= tol_aq


@pytest.mark.parametrize(
    ("name", "skip"),
    [
        ("cac.raw5obser", 1),
        ("cac.raw.gender", 1),
        ("cac.raw.g1g2", 2),
        ("cac.ben.gerry", 2),
    ],
)
def test_raw_ratings_with_missing_values(name: str, skip: int) -> None:
    files = {
        "cac.raw5obser": "cac_raw5obser.csv",
        "cac.raw.gender": "cac_raw_gender.csv",
        "cac.raw.g1g2": "cac_raw_g1g2.csv",
        "cac.ben.gerry": "cac_ben_gerry.csv",
    }
    unit, _, value = read_wide(REFERENCE / "gwet_irrCAC" / files[name], skip)
    ac1, tol = published("gwet_irrCAC", f"Gwet AC1 - {name}")
    pa, tol_pa = published("gwet_irrCAC", f"percent agreement - {name}")
    # irrCAC Python port (Fergadis), raw/test_gwet.py, validated against R irrCAC
    assert abs(gwet_ac(unit, value).coefficient - ac1) <= tol
    # same source: percent agreement
    assert abs(percent_agreement(unit, value) - pa) <= tol_pa


def test_dist4cat_ac1() -> None:
    with (REFERENCE / "gwet_irrCAC" / "cac_dist4cat.csv").open() as f:
        counts = np.array([[int(c) for c in row[1:]] for row in list(csv.reader(f))[1:]])
    unit = np.repeat(np.repeat(np.arange(counts.shape[0]), counts.shape[1]), counts.ravel())
    value = np.repeat(np.tile(np.arange(1.0, counts.shape[1] + 1), counts.shape[0]), counts.ravel())
    ac1, tol = published("gwet_irrCAC", "Gwet AC1 - cac.dist4cat[,2:4]")
    # irrCAC 1.0 README, gwet.ac1.dist(cac.dist4cat[,2:4]): 0.3518903
    assert abs(gwet_ac(unit, value).coefficient - ac1) <= tol


# --- Gwet (2014) / irrCAC: two abstractors, 3x3 table ------------------------------------------


@pytest.mark.parametrize(
    ("weights", "variant"),
    [("unweighted", "identity weights"), ("quadratic", "quadratic weights")],
)
def test_abstractors(
    abstractors: tuple[np.ndarray, np.ndarray], weights: str, variant: str
) -> None:
    a, b = abstractors
    unit, value = stacked(a, b)
    kappa, tol_k = published("gwet_irrCAC", "Cohen's kappa - cont3x3abstractors", variant)
    scott, tol_s = published("gwet_irrCAC", "Scott's pi - cont3x3abstractors", variant)
    ac, tol_ac = published("gwet_irrCAC", "Gwet AC1/AC2 - cont3x3abstractors", variant)
    alpha, tol_a = published("gwet_irrCAC", "Krippendorff alpha - cont3x3abstractors", variant)
    pa, tol_pa = published("gwet_irrCAC", "percent agreement - cont3x3abstractors", variant)
    level = "nominal" if weights == "unweighted" else "interval"
    # irrCAC 1.0 README / weighting.html, kappa2.table(cont3x3abstractors): 0.7964094 / 0.8921569
    assert abs(cohen_kappa(a, b, weights=weights).kappa - kappa) <= tol_k  # type: ignore[arg-type]
    # same: Scott's pi 0.7962397 / 0.8921093 = Fleiss' kappa with two ratings per unit
    assert abs(fleiss_kappa(unit, value, weights=weights).kappa - scott) <= tol_s  # type: ignore[arg-type]
    # same: AC1 0.8493305 / AC2 0.9402369
    assert abs(gwet_ac(unit, value, weights=weights).coefficient - ac) <= tol_ac  # type: ignore[arg-type]
    # same: Krippendorff's alpha 0.7972585 / 0.8926487 (quadratic = interval)
    assert abs(krippendorff_alpha(unit, value, level=level) - alpha) <= tol_a
    # same: percent agreement 0.89 / 0.9725
    assert abs(gwet_ac(unit, value, weights=weights).pa - pa) <= tol_pa  # type: ignore[arg-type]


def test_abstractors_linear(abstractors: tuple[np.ndarray, np.ndarray]) -> None:
    a, b = abstractors
    unit, value = stacked(a, b)
    kappa, tol_k = published("gwet_irrCAC", "Cohen's kappa - cont3x3abstractors", "linear weights")
    ac2, tol_ac = published("gwet_irrCAC", "Gwet AC2 - cont3x3abstractors", "linear weights")
    # irrCAC Python port (Fergadis), table/test_cohen.py: linear kappa 0.843
    assert abs(cohen_kappa(a, b, weights="linear").kappa - kappa) <= tol_k
    # irrCAC Python port (Fergadis), table/test_gwet.py: linear AC2 0.900
    assert abs(gwet_ac(unit, value, weights="linear").coefficient - ac2) <= tol_ac


# --- Fleiss (1971) diagnoses -------------------------------------------------------------------


def test_fleiss_1971(diagnoses: Long) -> None:
    unit, _, value = diagnoses
    result = fleiss_kappa(unit, value)
    kappa, tol = published("fleiss1971_diagnoses", "Fleiss' kappa")
    kappa_full, tol_full = published("fleiss1971_diagnoses", "Fleiss' kappa (full precision)")
    z, tol_z = published("fleiss1971_diagnoses", "z for H0: kappa=0")
    # Fleiss (1971), p. 381: overall kappa .430
    assert abs(result.kappa - kappa) <= tol
    # irr 0.84.1, kappam.fleiss(diagnoses): 0.4302445
    assert abs(result.kappa - kappa_full) <= tol_full
    # irr 0.84.1, kappam.fleiss(diagnoses)$statistic: z = 17.65183 (Fleiss, Nee & Landis 1979 SE)
    assert abs(result.z - z) <= tol_z


@pytest.mark.parametrize(
    ("code", "label"),
    [
        (1, "1. Depression"),
        (2, "2. Personality Disorder"),
        (3, "3. Schizophrenia"),
        (4, "4. Neurosis"),
        (5, "5. Other"),
    ],
)
def test_fleiss_1971_category_kappas(diagnoses: Long, code: int, label: str) -> None:
    unit, _, value = diagnoses
    result = fleiss_kappa(unit, value)
    expected, tol = published("fleiss1971_diagnoses", f"category-wise kappa: {label}")
    # Fleiss (1971), per-category kappas; irr kappam.fleiss(detail=TRUE): .245 .245 .520 .471 .566
    assert abs(result.category_kappa[list(result.categories).index(code)] - expected) <= tol


def test_light_kappa(diagnoses: Long) -> None:
    unit, rater, value = diagnoses
    pairs = cohen_kappa_pairs(unit, rater, value)
    light, tol = published("fleiss1971_diagnoses", "Light's kappa")
    assert pairs.kappa.size == 15
    # irr 0.84.1, kappam.light(diagnoses): mean of the 15 pairwise Cohen kappas, 0.459
    assert abs(pairs.kappa.mean() - light) <= tol


def test_diagnoses_first_15_subjects(diagnoses: Long) -> None:
    unit, _, value = diagnoses
    keep = unit < 15
    unit, value = unit[keep], value[keep]
    folder = "fleiss1971_diagnoses"
    ac1, tol_ac1 = published(folder, "Gwet AC1 on first 15 subjects (distrib.6raters)")
    fk, tol_fk = published(folder, "Fleiss kappa on first 15 subjects")
    ka, tol_ka = published(folder, "Krippendorff alpha on first 15 subjects")
    pa, tol_pa = published(folder, "percent agreement on first 15 subjects")
    ac2, tol_ac2 = published(folder, "Gwet AC2 on first 15 subjects")
    fk_q, tol_fkq = published(folder, "weighted Fleiss kappa on first 15 subjects")
    ka_q, tol_kaq = published(folder, "weighted Krippendorff alpha on first 15 subjects")
    # irrCAC 1.0 README, gwet.ac1.dist(distrib.6raters): 0.4448007
    assert abs(gwet_ac(unit, value).coefficient - ac1) <= tol_ac1
    # irrCAC 1.0, fleiss.kappa.dist: 0.4139265
    assert abs(fleiss_kappa(unit, value).kappa - fk) <= tol_fk
    # irrCAC 1.0, krippen.alpha.dist: 0.4204384
    assert abs(krippendorff_alpha(unit, value, level="nominal") - ka) <= tol_ka
    # irrCAC 1.0, pa column: 0.5511111
    assert abs(percent_agreement(unit, value) - pa) <= tol_pa
    # irrCAC 1.0 weighting.html, gwet.ac1.dist(quadratic.weights(1:5)): 0.4837438
    assert abs(gwet_ac(unit, value, weights="quadratic").coefficient - ac2) <= tol_ac2
    # irrCAC 1.0 weighting.html, weighted Fleiss kappa (quadratic): 0.2511909
    assert abs(fleiss_kappa(unit, value, weights="quadratic").kappa - fk_q) <= tol_fkq
    # irrCAC 1.0 weighting.html, weighted alpha (quadratic = interval): 0.259511
    assert abs(krippendorff_alpha(unit, value, level="interval") - ka_q) <= tol_kaq


# --- Shrout & Fleiss (1979) ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def shrout_fleiss() -> Long:
    return read_wide(REFERENCE / "shrout_fleiss1979" / "sf_targets_by_judges.csv")


@pytest.mark.parametrize(
    ("form", "label"),
    [
        ("ICC1", "ICC(1,1)"),
        ("ICC2", "ICC(2,1)"),
        ("ICC3", "ICC(3,1)"),
        ("ICC1k", "ICC(1,4)"),
        ("ICC2k", "ICC(2,4)"),
        ("ICC3k", "ICC(3,4)"),
    ],
)
def test_shrout_fleiss_icc(shrout_fleiss: Long, form: str, label: str) -> None:
    result = icc(*shrout_fleiss)
    value, tol = published("shrout_fleiss1979", label)
    low, tol_low = published("shrout_fleiss1979", f"95% CI lower {label}")
    high, tol_high = published("shrout_fleiss1979", f"95% CI upper {label}")
    # Shrout & Fleiss (1979), Table 4: .17 .29 .71 .44 .62 .91
    assert abs(getattr(result, form) - value) <= tol
    ci = result.confidence_interval(form)  # type: ignore[arg-type]
    # statsample test_reliability_icc.rb = irr 0.84.1 icc(): F-based 95% intervals
    assert abs(ci.low - low) <= tol_low
    # same source, upper bound
    assert abs(ci.high - high) <= tol_high


@pytest.mark.parametrize(
    ("attribute", "label"),
    [("bms", "BMS"), ("wms", "WMS"), ("jms", "JMS"), ("ems", "EMS")],
)
def test_shrout_fleiss_mean_squares(shrout_fleiss: Long, attribute: str, label: str) -> None:
    value, tol = published("shrout_fleiss1979", f"mean square {label}")
    # Shrout & Fleiss (1979), Table 2: BMS 11.24, WMS 6.26, JMS 32.49, EMS 1.02
    assert abs(getattr(icc(*shrout_fleiss), attribute) - value) <= tol


# --- R irr anxiety: the rank-spaced weights convention -----------------------------------------


def ranks_in_use(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scores -> rank among the levels either rater used (irr's factor coding)."""
    levels = np.unique(np.r_[a, b])
    return np.searchsorted(levels, a).astype(float), np.searchsorted(levels, b).astype(float)


def irr_custom(distance_weights: list[float], n_levels: int) -> np.ndarray:
    """irr kappa2's numeric ``weight``: disagreement by rank distance -> agreement matrix."""
    w = np.asarray(distance_weights, dtype=float)
    agree = 1 - (w - w.min()) / (w.max() - w.min())
    rank = np.arange(n_levels)
    return agree[np.abs(rank[:, None] - rank[None, :])]


def anxiety_pair(anxiety: Long, first: int, second: int) -> tuple[np.ndarray, np.ndarray]:
    _, rater, value = anxiety
    return value[rater == first], value[rater == second]


def test_irr_kappa2_rater2_vs_rater3(anxiety: Long) -> None:
    a, b = anxiety_pair(anxiety, 1, 2)
    ra, rb = ranks_in_use(a, b)
    folder, stat = "irr_anxiety", "Cohen's kappa rater2 vs rater3"
    unweighted, tol = published(folder, stat, "irr::kappa2 weights = unweighted")
    equal, tol_e = published(folder, stat, 'irr::kappa2 weights = "equal"')
    squared, tol_s = published(folder, stat, 'irr::kappa2 weights = "squared"')
    custom, tol_c = published(
        folder, stat, "irr::kappa2 weights = irr custom disagreement weights c(0,0,1,1,2)"
    )
    # irr 0.84.1, kappa2(anxiety[,2:3]): -0.006289308
    assert abs(cohen_kappa(a, b).kappa - unweighted) <= tol
    # irr 0.84.1, kappa2(anxiety[,2:3], "equal"): 0.1459075 (linear weights on level ranks)
    assert abs(cohen_kappa(ra, rb, weights="linear").kappa - equal) <= tol_e
    # irr 0.84.1, kappa2(anxiety[,2:3], "squared"): 0.2520325 (quadratic weights on level ranks)
    assert abs(cohen_kappa(ra, rb, weights="quadratic").kappa - squared) <= tol_s
    table = np.zeros((5, 5))
    np.add.at(table, (ra.astype(int), rb.astype(int)), 1)
    # irr 0.84.1, kappa2(anxiety[,2:3], c(0,0,1,1,2)): 0.2391304
    assert abs(kappa_parts(table, irr_custom([0, 0, 1, 1, 2], 5))[0] - custom) <= tol_c
    # Our default spaces weights by the score values: the 1-4,6 scale differs from irr's ranks.
    assert abs(cohen_kappa(a, b, weights="linear").kappa - equal) > tol_e


@pytest.mark.parametrize(
    ("weights", "variant"),
    [
        ([0, 0, 0, 1, 1, 1], "irr::kappa2 weights = irr custom c(0,0,0,1,1,1)"),
        ([0, 0, 1, 1, 2, 2], "irr::kappa2 weights = irr custom c(0,0,1,1,2,2)"),
    ],
)
def test_irr_kappa2_custom_rater1_vs_rater2(
    anxiety: Long, weights: list[float], variant: str
) -> None:
    a, b = anxiety_pair(anxiety, 0, 1)
    ra, rb = ranks_in_use(a, b)
    table = np.zeros((6, 6))
    np.add.at(table, (ra.astype(int), rb.astype(int)), 1)
    expected, tol = published("irr_anxiety", "Cohen's kappa rater1 vs rater2", variant)
    # irr 0.84.1, kappa2(anxiety[,1:2], weights): 0.1891892 / 0.2820513
    assert abs(kappa_parts(table, irr_custom(weights, 6))[0] - expected) <= tol


def test_irr_icc_anxiety(anxiety: Long) -> None:
    expected, tol = published("irr_anxiety", "ICC(A,1) raters 1-3")
    # irr 0.84.1, icc(anxiety, "twoway", "agreement"): 0.198
    assert abs(icc(*anxiety).ICC2 - expected) <= tol
