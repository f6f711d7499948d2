"""Programme rules as data: the table, its defaults and sources, overrides, the typed views and
the generated documentation (``docs/rules.md``)."""

from __future__ import annotations

import ast
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from calibrate import rules as rules_module
from calibrate.errors import CalibrateError, ValidationError
from calibrate.rubric import Rubric, rubric_from_data
from calibrate.rules import (
    GROUPS,
    KAPPA_BANDS,
    KINDS,
    RULE_BY_NAME,
    RULES,
    RuleOverrides,
    kappa_band,
    read_rules,
    round_agreement,
    rule,
    rules_for,
    rules_markdown,
)

ROOT = Path(__file__).resolve().parents[1]


def _rubric(n_levels: int, rid: str = "r", pass_level: int | None = None) -> Rubric:
    scores = range(1, n_levels + 1)
    return rubric_from_data(
        {
            "id": rid,
            "version": 1,
            "title": rid,
            "competency": "A competency.",
            "levels": [{"score": s, "label": f"Level {s}"} for s in scores],
            "criteria": [
                {"id": c, "title": c, "descriptors": {s: f"{c} at {s}" for s in scores}}
                for c in ("plan", "reflect")
            ],
            "pass_rule": {"every_criterion_at_least": pass_level or n_levels},
        },
        source=f"{rid}.yaml",
    )


# --- the documentation cannot drift from the table -------------------------------------------


def test_docs_are_generated_from_the_table() -> None:
    """docs/rules.md is rules_markdown(); regenerate: python -m calibrate.rules > docs/rules.md"""
    assert (ROOT / "docs" / "rules.md").read_text(encoding="utf-8") == rules_markdown()


def test_docs_name_every_rule_with_default_and_source() -> None:
    text = rules_markdown()
    for r in RULES:
        section = text.split(f"### `{r.name}`\n", 1)[1].split("\n### ", 1)[0]
        assert r.help in section and r.source in section
        assert f"- default: {r.default_text()}" in section
    assert "| 0.61 | substantial |" in text


# --- the table -------------------------------------------------------------------------------


def test_every_rule_is_complete() -> None:
    """Dotted names in a known group, one help sentence, a source, a default of the rule's type
    within its bounds."""
    assert len(RULE_BY_NAME) == len(RULES)
    for r in RULES:
        assert r.group in GROUPS and r.kind in KINDS
        assert r.help.endswith(".") and r.help.count(". ") == 0, r.name
        assert len(r.source) > 40, r.name
        defaults = [v for _, v in r.by_levels] if r.by_levels else [r.default]
        for value in defaults:
            assert r.check(value) == value and type(value) is r.type, r.name
        levels = [k for k, _ in r.by_levels]
        assert levels == sorted(set(levels)), r.name


def test_qualification_exact_agreement_by_scale_is_naep() -> None:
    """NCES, NAEP Technical Documentation, Qualifying Sets: "90 percent exact agreement for
    2-point items, 80 percent exact agreement for 3-point items, 70 percent exact agreement for
    4-point items, 70 percent for 5-point items, and 70 percent for 6-point items"."""
    expected = {2: 0.90, 3: 0.80, 4: 0.70, 5: 0.70, 6: 0.70}
    for levels, exact in expected.items():
        assert rules_for(_rubric(levels)).qualification.min_exact == exact
        assert rules_for(levels=levels)["qualification.min_exact"] == exact
    assert rules_for(levels=8)["qualification.min_exact"] == 0.70  # longest scale allowed
    assert "training_scorers_guide_qualify" in rule("qualification.min_exact").source
    assert rule("qualification.min_exact").default_text() == (
        "0.9 (2 levels), 0.8 (3 levels), 0.7 (4 or more levels)"
    )


def test_live_agreement_target_by_scale_is_naep_within_year() -> None:
    """NCES, NAEP Technical Documentation, Within-Year Interrater Agreement: 85 percent exact
    agreement on 2-point scales, 80 on 3-point, 75 on 4- and 5-point, 60 on 6-point scales."""
    expected = {2: 0.85, 3: 0.80, 4: 0.75, 5: 0.75, 6: 0.60}
    for levels, target in expected.items():
        assert rules_for(levels=levels).live.target_exact == target
    assert math.isnan(rules_for().live.target_exact)  # no scale, no target


def test_other_defaults_and_their_sources() -> None:
    d = rules_for(levels=3)
    # the qualification standard of the issue: 95% adjacent, none non-adjacent, 90% decisions,
    # 10 anchors (NAEP qualifying sets of 10 to 12 papers), 3 rounds
    q = d.qualification
    assert (q.min_adjacent, q.max_non_adjacent, q.min_decision) == (0.95, 0, 0.90)
    assert (q.anchors, q.max_rounds, q.period_days, q.valid_days) == (10, 3, 90, 365)
    # NAEP second scoring: 25% of responses for smaller samples
    assert d.live.double_share == 0.25 and "scoring_within_sci" in rule("live.double_share").source
    # NAEP backreading: at least 5 percent of each scorer's daily work
    assert d.live.validity_rate == 0.05
    # BloomBoard: three submissions before coaching; Washington pilot: earned up to the fifth
    assert d.resubmission == rules_module.ResubmissionPolicy(5, 3, True)
    assert "4407359903373" in rule("resubmission.coaching_after").source
    # State practice and NBPTS: more than one level apart, or different decisions -> third reader
    assert d.adjudication == rules_module.AdjudicationRule(1, True, True)
    # RSMTool (consistency.ipynb): exact < 50%, adjacent < 95%, QWK < 0.7, r < 0.7; |SMD| > 0.15
    f = d.flags
    assert (f.min_exact, f.min_adjacent, f.min_qwk, f.min_correlation, f.max_smd) == (
        0.50,
        0.95,
        0.70,
        0.70,
        0.15,
    )
    assert "Williamson" in rule("flags.min_qwk").source
    # Linacre (2002), FACETS: mean squares 0.5-1.5 productive; |t| >= 2 for bias terms
    assert (f.fit_low, f.fit_high, f.bias_t) == (0.5, 1.5, 2.0)
    assert (f.severity_levels, f.min_ratings, f.fdr) == (0.25, 30, 0.05)
    # Krippendorff (2004, p. 241): .800 reliable, .667 tentative
    assert (d.reliability.alpha_reliable, d.reliability.alpha_tentative) == (0.800, 0.667)
    for r in RULES:  # choices without a published figure say so
        if r.name in {"qualification.period_days", "flags.severity_levels"}:
            assert r.source.startswith("Programme choice; the field publishes no figure.")


def test_kappa_bands_are_landis_and_koch() -> None:
    """Landis & Koch (1977), p. 165: < 0 poor, 0-.20 slight, .21-.40 fair, .41-.60 moderate,
    .61-.80 substantial, .81-1.00 almost perfect."""
    assert [label for _, label in KAPPA_BANDS] == [
        "poor",
        "slight",
        "fair",
        "moderate",
        "substantial",
        "almost perfect",
    ]
    cases = {
        -0.01: "poor",
        0.0: "slight",
        0.2: "slight",
        0.21: "fair",
        0.4: "fair",
        0.41: "moderate",
        0.6: "moderate",
        0.61: "substantial",
        0.8: "substantial",
        0.81: "almost perfect",
        1.0: "almost perfect",
    }
    assert {k: kappa_band(k) for k in cases} == cases
    assert kappa_band(math.nan) == "no kappa"


def test_alpha_verdicts_follow_the_interval() -> None:
    """Krippendorff (2004, p. 241): rely on alpha >= .800, tentative conclusions from .667;
    judged by the interval's bounds, at the marks exactly."""
    bands = rules_for().reliability
    cases = {
        (0.85, 0.800, 0.90): "reliable",  # lower bound exactly at the mark
        (0.85, 0.799, 0.90): "tentative",
        (0.75, 0.667, 0.79): "tentative",
        (0.75, 0.666, 0.79): "too few to tell",
        (0.60, 0.50, 0.666): "below tentative",
        (0.60, 0.50, 0.667): "too few to tell",
        (0.809, -0.03, 1.00): "too few to tell",  # 6 submissions: the #12 example
    }
    assert {k: bands.alpha_verdict(*k).verdict for k in cases} == cases
    assert bands.alpha_verdict(math.nan, None, None).verdict == "undefined"
    assert bands.alpha_verdict(0.9, None, None).verdict == "too few to tell"


# --- overrides -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"qualification.min_exct": 0.8}, "unknown rule 'qualification.min_exct' .*min_exact"),
        ({"live.double_share": "25%"}, "rule live.double_share must be a number, got '25%'"),
        ({"live.double_share": True}, "rule live.double_share must be a number"),
        ({"live.double_share": 1.5}, "rule live.double_share must be between 0 and 1, got 1.5"),
        ({"live.validity_rate": 0.6}, "must be between 0 and 0.5"),
        ({"qualification.max_rounds": 2.5}, "qualification.max_rounds must be a whole number"),
        ({"qualification.max_rounds": 0}, "qualification.max_rounds must be at least 1"),
        ({"practice.required": 1}, "rule practice.required must be true or false, got 1"),
        ({"flags.fit_low": math.inf}, "rule flags.fit_low must be a finite number"),
    ],
)
def test_bad_overrides_name_the_rule(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(CalibrateError, match=message):
        rules_for(levels=3, overrides=overrides)


def test_overrides_are_typed_and_marked() -> None:
    got = rules_for(levels=4, overrides={"qualification.max_rounds": 2.0, "flags.fdr": 0.1})
    assert got["qualification.max_rounds"] == 2 and type(got["qualification.max_rounds"]) is int
    assert got.qualification.max_rounds == 2 and got.flags.fdr == 0.1
    assert got.overridden == {"qualification.max_rounds", "flags.fdr"}
    rows = {row["name"]: row for row in got.rows()}
    assert rows["flags.fdr"]["value"] == 0.1 and rows["flags.fdr"]["default"] == 0.05
    assert rows["flags.fdr"]["overridden"] and not rows["flags.bias_t"]["overridden"]


def test_per_rubric_overrides_only_where_allowed() -> None:
    three, four = _rubric(3, "three"), _rubric(4, "four")
    overrides = RuleOverrides(
        values={"live.double_share": 0.1},
        rubrics={
            "three": {"qualification.min_exact": 0.85, "live.double_share": 0.5},
            "three@1": {"qualification.min_exact": 0.9},  # the version wins over the id
        },
    )
    assert overrides.resolve(three).qualification.min_exact == 0.9
    assert overrides.resolve(three).live.double_share == 0.5
    assert overrides.resolve(four).qualification.min_exact == 0.70  # NAEP default, 4 levels
    assert overrides.resolve(four).live.double_share == 0.1  # the programme-wide override
    assert overrides.resolve(None, levels=3).qualification.min_exact == 0.80
    with pytest.raises(CalibrateError, match=r"rule flags\.fdr applies to the whole programme"):
        RuleOverrides(rubrics={"three": {"flags.fdr": 0.1}})


def test_contradicting_values_are_refused() -> None:
    cases = [
        ({"reliability.alpha_tentative": 0.9}, "alpha_tentative .0.9. must be at most"),
        ({"flags.fit_low": 1.5}, r"flags\.fit_low \(1\.5\) must be below flags\.fit_high"),
        ({"qualification.min_adjacent": 0.75}, r"min_exact \(0\.8\) must be at most"),
    ]
    for overrides, message in cases:
        with pytest.raises(CalibrateError, match=message):
            rules_for(levels=3, overrides=overrides)


def test_a_scale_dependent_rule_needs_the_scale() -> None:
    programme = rules_for()
    assert programme.values["qualification.min_exact"] is None
    with pytest.raises(CalibrateError, match="depends on the rubric's scale"):
        programme.qualification  # noqa: B018
    assert programme.live.double_share == 0.25  # rules that do not depend on it resolve
    row = next(r for r in programme.rows() if r["name"] == "qualification.min_exact")
    assert row["value"] is None and row["default_by_levels"] == {"2": 0.9, "3": 0.8, "4": 0.7}
    with pytest.raises(CalibrateError, match="at least 2 levels"):
        rules_for(levels=1)


def test_rows_carry_what_the_doors_show() -> None:
    rows = rules_for(_rubric(3)).rows()
    assert [r["name"] for r in rows] == [r.name for r in RULES]
    assert {
        "name",
        "value",
        "default",
        "default_by_levels",
        "kind",
        "bounds",
        "per_rubric",
        "overridden",
        "help",
        "source",
    } == set(rows[0])
    assert rows[0]["value"] == rows[0]["default"] == 0.8


# --- the rules file --------------------------------------------------------------------------


def test_read_rules_file(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(
        "live.double_share: 0.10\n"
        "qualification.max_rounds: 2\n"
        "rubrics:\n"
        "  three:\n"
        "    qualification.min_exact: 0.85\n",
        encoding="utf-8",
    )
    overrides = read_rules(path)
    got = overrides.resolve(_rubric(3, "three"))
    assert got.live.double_share == 0.10 and got.qualification.max_rounds == 2
    assert got.qualification.min_exact == 0.85
    assert overrides.to_dict() == {
        "live.double_share": 0.10,
        "qualification.max_rounds": 2,
        "rubrics": {"three": {"qualification.min_exact": 0.85}},
    }
    empty = tmp_path / "empty.yaml"
    empty.write_text("", encoding="utf-8")
    assert read_rules(empty) == RuleOverrides()


def test_bad_rules_file_lists_every_problem_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(
        "live.double_share: lots\n"
        "flags.fdr: 0.05\n"
        "rubrics:\n"
        "  three:\n"
        "    flags.bias_t: 3\n"
        "    qualification.min_exact: 2\n",
        encoding="utf-8",
    )
    with pytest.raises(ValidationError) as caught:
        read_rules(path)
    problems = [(p.line, p.field) for p in caught.value.problems]
    assert problems == [
        (1, "live.double_share"),
        (5, "rubrics.three.flags.bias_t"),
        (6, "rubrics.three.qualification.min_exact"),
    ]
    text = str(caught.value)
    assert "must be a number, got 'lots'" in text and "whole programme" in text
    not_a_mapping = tmp_path / "list.yaml"
    not_a_mapping.write_text("- live.double_share\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="must map rule names to values"):
        read_rules(not_a_mapping)


# --- the typed views -------------------------------------------------------------------------


def test_round_agreement_by_hand() -> None:
    """Two rounds on three anchors of a 3-level rubric passed at level 3 on both criteria.
    Round 1 scores [3, 3], [3, 2], [1, 1] against experts [3, 3], [3, 3], [3, 1]: gaps 0, 0,
    0, 1, 2, 0 -> exact 4/6, adjacent 5/6, one non-adjacent; decisions pass/pass, fail/pass,
    fail/fail -> 2/3. Round 2 scores the experts' scores: all 1."""
    three = _rubric(3)
    expert = [[3, 3], [3, 3], [3, 1]]
    got = round_agreement([[[3, 3], [3, 2], [1, 1]], expert], expert, three)
    np.testing.assert_allclose(got.exact, [4 / 6, 1])
    np.testing.assert_allclose(got.adjacent, [5 / 6, 1])
    assert got.non_adjacent.tolist() == [1, 0]
    np.testing.assert_allclose(got.decision, [2 / 3, 1])
    with pytest.raises(CalibrateError, match="scores must have shape"):
        round_agreement([[3, 3]], expert, three)


def test_qualification_passes_needs_all_four_conditions() -> None:
    std = rules_for(levels=3).qualification  # 80% exact (NAEP, 3 levels)
    ok = {"exact": 0.8, "adjacent": 0.95, "non_adjacent": 0, "decision": 0.9}
    assert std.passes(**ok)
    for name, bad in (("exact", 0.79), ("adjacent", 0.94), ("non_adjacent", 1), ("decision", 0.8)):
        assert not std.passes(**{**ok, name: bad}), name


def test_adjudication_rule() -> None:
    first = np.array([[3, 3], [3, 1], [3, 2], [2, 2]])
    second = np.array([[2, 3], [3, 3], [3, 3], [2, 2]])
    # decisions: pass/fail differ; fail/pass differ; fail/pass differ; fail/fail agree
    passed = np.array([True, False, False, False]), np.array([False, True, True, False])
    default = rules_for().adjudication
    assert default.needs_third_reader(first, second, *passed).tolist() == [True, True, True, False]
    gap_only = rules_for(overrides={"adjudication.on_decision": False}).adjudication
    assert gap_only.needs_third_reader(first, second, *passed).tolist() == [
        False,
        True,
        False,
        False,
    ]


# --- layout ----------------------------------------------------------------------------------


def test_rules_import_only_the_core() -> None:
    """Programme rules are pure: the standard library, numpy and the inputs; never the store
    or the doors (STYLE.md guideline 2)."""
    tree = ast.parse((ROOT / "src" / "calibrate" / "rules.py").read_text(encoding="utf-8"))
    found = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0
    }
    outside = {n for n in found if n.split(".")[0] not in sys.stdlib_module_names}
    assert outside <= {
        "__future__",
        "numpy",
        "numpy.typing",
        "calibrate.errors",
        "calibrate.rubric",
        "calibrate.yamlfile",
    }
