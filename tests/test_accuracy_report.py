"""accuracy_report: ratings joined with the anchors' expert scores, decisions by the pass rule;
on files and on the store (the demo programme, whose planted severe and lenient assessors the
mean deviations must find)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy import stats
from sqlalchemy import Engine

from calibrate import store
from calibrate.analyses.accuracy import (
    accuracy_report,
    live_decision_agreement,
    load_anchor_definitions,
)
from calibrate.anchors import AnchorSet
from calibrate.errors import CalibrateError
from calibrate.ratings import Ratings, factorize, read_ratings_csv
from calibrate.rubric import Rubric, rubric_from_data
from calibrate.services.analyses import stored_accuracy
from calibrate.services.demo import build_demo
from calibrate.stats.agreement import percent_agreement
from tests.conftest import DEMO_RUBRIC, OPERATOR

ROOT = Path(__file__).resolve().parents[1]
Row = tuple[str, str, str, int]


def make_ratings(rows: list[Row], **columns: list[str]) -> Ratings:
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


@pytest.fixture(scope="module")
def crsel() -> tuple[Rubric, tuple[AnchorSet, ...]]:
    """crsel-intro@1 (levels 1-3, pass: every criterion at 3) and its three anchor sets."""
    return load_anchor_definitions(ROOT / "anchor_sets" / "crsel-intro", ROOT / "rubrics")


def scripted(
    rubric: Rubric, sets: tuple[AnchorSet, ...], who: str, shift: int
) -> tuple[list[Row], np.ndarray]:
    """Every anchor scored by ``who``: the expert score moved ``shift`` levels, within the
    scale. Returns the rows and the expert matrix (anchors x criteria)."""
    lo, hi = min(rubric.scores), max(rubric.scores)
    expert = np.vstack([s.expert_scores(rubric.criterion_ids) for s in sets])
    anchors = [a.id for s in sets for a in s.anchors]
    rows = [
        (anchor, who, c, int(np.clip(expert[i, j] + shift, lo, hi)))
        for i, anchor in enumerate(anchors)
        for j, c in enumerate(rubric.criterion_ids)
    ]
    return rows, expert


def test_scripted_assessors_on_the_shipped_anchors(
    crsel: tuple[Rubric, tuple[AnchorSet, ...]],
) -> None:
    rubric, sets = crsel
    perfect, expert = scripted(rubric, sets, "perfect", 0)
    lenient, _ = scripted(rubric, sets, "lenient", +1)
    harsh, _ = scripted(rubric, sets, "harsh", -1)
    report = accuracy_report(make_ratings(perfect + lenient + harsh), sets, rubric)
    n_anchors, n_crit = expert.shape
    # 32 anchors x 5 criteria = 160 ratings each.
    assert (n_anchors, n_crit) == (32, 5)
    p, le, h = (report.assessors[k] for k in ("perfect", "lenient", "harsh"))
    assert (p.n, p.n_anchors, p.n_decisions) == (160, 32, 32)
    assert (p.exact, p.mean_deviation, p.mae, p.decision_accuracy) == (1.0, 0.0, 0.0, 1.0)
    assert (p.false_pass, p.false_fail) == (0, 0)
    assert p.qwk == pytest.approx(1.0)
    # Lenient: +1 wherever the expert is below 3 (the top): deviation = share of such scores;
    # exact exactly where the expert gave 3.
    below_top = (expert < 3).mean()
    assert le.mean_deviation == pytest.approx(below_top) and le.mean_deviation > 0
    assert le.exact == pytest.approx(1 - below_top) and le.adjacent == 1.0
    assert le.mean_deviation_ci.low > 0
    # Pass rule "every criterion at 3": the lenient assessor passes every anchor whose lowest
    # expert score is 2 (the experts fail it), and every anchor the experts pass.
    lowest = expert.min(axis=1)
    assert le.false_pass == int((lowest == 2).sum()) and le.false_fail == 0
    assert le.decision_accuracy == pytest.approx(1 - (lowest == 2).mean())
    # Harsh: -1 wherever the expert is above 1; nothing passes any more.
    assert h.mean_deviation == pytest.approx(-(expert > 1).mean()) and h.mean_deviation < 0
    assert h.mean_deviation_ci.high < 0
    assert h.false_fail == int((lowest == 3).sum()) > 0 and h.false_pass == 0
    # Overall: 480 ratings; the mean of the three assessors (equal numbers of ratings).
    o = report.overall
    assert (o.n, o.n_decisions) == (480, 96)
    assert o.mean_deviation == pytest.approx((le.mean_deviation + h.mean_deviation) / 3)
    assert o.false_pass == le.false_pass and o.false_fail == h.false_fail
    # Criteria and cells: no decision fields; the cells of one assessor add up to it.
    assert list(report.criteria) == list(rubric.criterion_ids)
    assert all(r.n_decisions is None and r.n == 96 for r in report.criteria.values())
    cells = [report.assessor_criteria["lenient", c] for c in rubric.criterion_ids]
    assert sum(c.n for c in cells) == 160 and all(c.decision_accuracy is None for c in cells)
    assert np.mean([c.mean_deviation for c in cells]) == pytest.approx(le.mean_deviation)
    # JSON shape.
    payload = report.to_dict()
    assert payload["rubric"] == "crsel-intro@1" and payload["confidence"] == 0.95
    assert [a["id"] for a in payload["assessors"]] == ["harsh", "lenient", "perfect"]
    assert {"assessor", "criterion", "mean_deviation_ci"} <= set(payload["assessor_criteria"][0])
    # Overall interval, computed here: deviations per rating are +1 (lenient, expert below 3),
    # -1 (harsh, expert above 1) or 0; clustered by the 32 anchors (n_a = 15 ratings each),
    # var = A / (A - 1) * sum_a (D_a - mean * n_a)^2 / N^2, t on A - 1 = 31 df
    # (Cameron & Miller 2015), N = 480.
    d_a = ((expert < 3).astype(int) - (expert > 1).astype(int)).sum(axis=1)
    mean = d_a.sum() / 480
    se = np.sqrt(32 / 31 * np.sum((d_a - mean * 15) ** 2) / 480**2)
    half = stats.t.ppf(0.975, 31) * se
    assert payload["overall"]["mean_deviation_ci"] == pytest.approx(
        [mean - half, mean + half], rel=1e-12
    )


def test_readings_by_round_or_by_order(crsel: tuple[Rubric, tuple[AnchorSet, ...]]) -> None:
    rubric, sets = crsel
    qualification = tuple(s for s in sets if s.id.endswith("qualification"))
    rows, _ = scripted(rubric, qualification, "a", 0)
    twice = rows + rows
    rounds = ["r1"] * len(rows) + ["r2"] * len(rows)
    by_round = accuracy_report(make_ratings(twice, round=rounds), qualification, rubric)
    by_order = accuracy_report(make_ratings(twice), qualification, rubric)
    # 20 anchors read twice: 40 readings with a decision, 200 ratings.
    assert by_round.assessors["a"].n_decisions == by_order.assessors["a"].n_decisions == 40
    assert by_round.to_dict() == by_order.to_dict()
    # A reading missing a criterion keeps its other ratings but makes no decision.
    partial = accuracy_report(make_ratings(rows[1:]), qualification, rubric).assessors["a"]
    assert (partial.n, partial.n_decisions) == (99, 19)


def test_other_rubrics_and_live_rows_are_left_out(
    crsel: tuple[Rubric, tuple[AnchorSet, ...]],
) -> None:
    rubric, sets = crsel
    rows, _ = scripted(rubric, sets, "a", 0)
    extra: list[Row] = [("live-1", "a", "sel-benchmark", 2), ("lead-q01", "a", "facilitation", 3)]
    report = accuracy_report(
        make_ratings(
            rows + extra,
            context=["qualification"] * len(rows) + ["live", "qualification"],
            rubric=["crsel-intro@1"] * len(rows) + ["crsel-intro@1", "inquiry-lead@1"],
        ),
        sets,
        rubric,
    )
    assert report.overall.n == len(rows)


def test_store_labels_are_understood(crsel: tuple[Rubric, tuple[AnchorSet, ...]]) -> None:
    rubric, sets = crsel
    rows, _ = scripted(rubric, sets, "a", 0)
    plain = accuracy_report(make_ratings(rows), sets, rubric)
    labelled = [(f"anchor:{s}", a, c, x) for s, a, c, x in rows]
    assert accuracy_report(make_ratings(labelled), sets, rubric) == plain


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (("crsel-q99", "a", "sel-benchmark", 2), "not anchors of .*: crsel-q99"),
        (("crsel-q01", "a", "typo", 2), "unknown criterion for crsel-intro@1: typo"),
        (("crsel-q01", "a", "sel-benchmark", 4), "score 4 is not a level of crsel-intro@1"),
    ],
)
def test_bad_ratings_are_named(
    crsel: tuple[Rubric, tuple[AnchorSet, ...]], row: Row, message: str
) -> None:
    rubric, sets = crsel
    with pytest.raises(CalibrateError, match=message):
        accuracy_report(make_ratings([("crsel-q01", "a", "reflection", 3), row]), sets, rubric)


def test_bad_anchor_sets_are_refused(crsel: tuple[Rubric, tuple[AnchorSet, ...]]) -> None:
    rubric, sets = crsel
    ratings = make_ratings([("crsel-q01", "a", "reflection", 3)])
    with pytest.raises(CalibrateError, match="no anchor sets"):
        accuracy_report(ratings, (), rubric)
    with pytest.raises(CalibrateError, match="more than one anchor set: crsel-p01"):
        accuracy_report(ratings, (sets[0], replace(sets[0], id="copy")), rubric)
    with pytest.raises(CalibrateError, match="scored under crsel-intro@1, not crsel-intro@2"):
        accuracy_report(ratings, sets, replace(rubric, version=2))
    with pytest.raises(CalibrateError, match="no ratings of the anchors"):
        accuracy_report(make_ratings([("x", "a", "reflection", 3)], context=["live"]), sets, rubric)


def test_anchor_definitions_from_a_file_or_a_folder(tmp_path: Path) -> None:
    one = ROOT / "anchor_sets" / "crsel-intro" / "validity.yaml"
    rubric, sets = load_anchor_definitions(one, ROOT / "rubrics")
    assert rubric.key == "crsel-intro@1" and [s.id for s in sets] == ["crsel-intro-validity"]
    with pytest.raises(CalibrateError, match="no anchor-set files"):
        load_anchor_definitions(ROOT / "anchor_sets", ROOT / "rubrics")
    with pytest.raises(CalibrateError, match="no such file or folder"):
        load_anchor_definitions(tmp_path / "missing", ROOT / "rubrics")
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    for key in ("crsel-intro", "ct-unplugged"):
        (mixed / f"{key}.yaml").write_bytes(
            (ROOT / "anchor_sets" / key / "practice.yaml").read_bytes()
        )
    with pytest.raises(CalibrateError, match="several rubric versions"):
        load_anchor_definitions(mixed, ROOT / "rubrics")


def test_live_decisions_hide_behind_adjacent_agreement(
    crsel: tuple[Rubric, tuple[AnchorSet, ...]],
) -> None:
    rubric, _ = crsel
    crit = rubric.criterion_ids  # 5 criteria; pass = every criterion at 3
    rows: list[Row] = []
    # s1: a passes (all 3), b gives one 2: adjacent on every criterion, different decisions.
    rows += [("s1", "a", c, 3) for c in crit] + [
        ("s1", "b", c, 2 if c == crit[0] else 3) for c in crit
    ]
    # s2: both pass; s3: both fail; s4: one reading only; s5: a third reading is not counted.
    rows += [("s2", w, c, 3) for w in "ab" for c in crit]
    rows += [("s3", w, c, 2) for w in "ab" for c in crit]
    rows += [("s4", "a", c, 3) for c in crit]
    rows += [("s5", w, c, 1 if w == "c" else 3) for w in "abc" for c in crit]
    agree = live_decision_agreement(make_ratings(rows), rubric)
    # 4 submissions read twice: s1 disagrees; percent 3/4.
    assert (agree.n, agree.n_discrepant, agree.percent) == (4, 1, 0.75)
    # The same readings agree within one level on every criterion of s1-s3.
    first_three = make_ratings([r for r in rows if r[0] in ("s1", "s2", "s3")])
    unit = first_three.unit * len(crit) + first_three.criterion
    assert percent_agreement(unit, first_three.value, within=1) == 1.0
    with pytest.raises(CalibrateError, match="no live submission of crsel-intro@1 has two"):
        live_decision_agreement(make_ratings(rows[:5]), rubric)


# --- the demo programme in the store -------------------------------------------------------


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, Path]]:
    """The classroom demo programme (seed 2026) in a SQLite store, and its files."""
    folder = tmp_path_factory.mktemp("demo")
    engine = store.open_store(f"sqlite:///{folder / 'store.db'}")
    build_demo(
        engine=engine, actor=OPERATOR, out=folder, size="classroom", workflow=False, seed=2026
    )
    yield engine, folder
    engine.dispose()


def test_planted_severe_and_lenient_assessors_have_the_right_sign(
    demo: tuple[Engine, Path],
) -> None:
    engine, folder = demo
    truth = json.loads((folder / "truth.json").read_text())["assessors"]
    planted = [a for a in truth if a["effect"] in ("severe", "lenient")]
    assert {a["effect"] for a in planted} == {"severe", "lenient"}
    for a in planted:
        report = stored_accuracy(engine=engine, actor=OPERATOR, rubric=a["rubric"])
        row = report.assessors[a["assessor"]]
        # Severity in the truth is positive for a harsh assessor: the deviation is negative.
        assert np.sign(row.mean_deviation) == -np.sign(a["severity"]) != 0
        assert (
            (row.mean_deviation_ci.high < 0)
            if a["effect"] == "severe"
            else (row.mean_deviation_ci.low > 0)
        )


def test_store_and_file_give_the_same_report(demo: tuple[Engine, Path]) -> None:
    engine, folder = demo
    ratings = read_ratings_csv(folder / "ratings.csv")
    for key in ("crsel-intro", "ct-unplugged", "inquiry-lead"):
        rubric, sets = load_anchor_definitions(ROOT / "anchor_sets" / key, ROOT / "rubrics")
        from_file = accuracy_report(ratings, sets, rubric)
        from_store = stored_accuracy(engine=engine, actor=OPERATOR, rubric=f"{key}@1")
        assert from_store.to_dict() == from_file.to_dict()
        # Every double-scored live submission of the rubric counts once.
        truth = json.loads((folder / "truth.json").read_text())["submissions"]
        double = sum(
            r == rubric.key and bool(s)
            for r, s in zip(truth["rubric"], truth["second_reader"], strict=True)
        )
        assert live_decision_agreement(ratings, rubric).n == double > 0


def test_store_rubric_choice(demo: tuple[Engine, Path], tmp_path: Path) -> None:
    engine, _ = demo
    with pytest.raises(CalibrateError, match="rubric 'nope' is not in the store"):
        stored_accuracy(engine=engine, actor=OPERATOR, rubric="nope")
    with pytest.raises(CalibrateError, match="crsel-intro@9"):
        stored_accuracy(engine=engine, actor=OPERATOR, rubric="crsel-intro@9")
    other = store.open_store(f"sqlite:///{tmp_path / 'other.db'}")
    data = yaml.safe_load(DEMO_RUBRIC)
    v1 = rubric_from_data(data, source="v1")
    v2 = rubric_from_data({**data, "version": 2}, source="v2")
    store.import_definitions([v1, v2], engine=other)
    with pytest.raises(CalibrateError, match="several versions of demo"):
        stored_accuracy(engine=other, actor=OPERATOR, rubric="demo")
    with pytest.raises(CalibrateError, match="no anchor sets of demo@2"):
        stored_accuracy(engine=other, actor=OPERATOR, rubric="demo@2")
    other.dispose()
