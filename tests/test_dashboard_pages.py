"""The Agreement, Rater effects and Reliability pages with Streamlit's AppTest, on a demo store.

Each page is opened through the router (``app.py``), logged in (as the demo administrator unless
told otherwise): :func:`open_page` makes the page with the given ``url_path`` the navigation's
default, so the test also checks that the router lists it for that account's role.
The numbers on the pages are compared with the library's on the same ratings, called as the
dashboard calls it (rubric levels, seed, rater-model options from ``calibrate.dashboard.data``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import streamlit as st
from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest

from calibrate import services, store
from calibrate.access import Actor
from calibrate.analyses.accuracy import accuracy_report, live_decision_agreement
from calibrate.analyses.agreement import AgreementReport, agreement_report
from calibrate.analyses.raters import interval_reading, unplaced_elements
from calibrate.dashboard import data
from calibrate.dashboard.accuracy import VERDICT_SENTENCES
from calibrate.dashboard.session import TOKEN
from calibrate.ratings import Ratings
from calibrate.rules import rules_for
from calibrate.services.demo import DEMO_PASSWORD, build_demo
from calibrate.stats.gtheory import gstudy
from calibrate.stats.rasch import RaschResult, fit_mfrm
from calibrate.stats.rater_effects import rating_moments
from calibrate.stats.severity import SeverityResult, fit_severity
from tests.conftest import ROOT

FIRST, SECOND = "crsel-intro@1", "ct-unplugged@1"  # the stored order of the shipped rubrics
ADMIN = "admin"
"""The administrator :func:`add_admin` adds (issuer ``default``, password :data:`PASSWORD`)."""
PASSWORD = "a password long enough"
OPERATOR = Actor.operator("tests@localhost")
PAGE = st.Page
"""Streamlit's own ``st.Page`` (tests wrap it to choose the page opened)."""


def build_demo_store(folder: Path) -> str:
    """The URL of a SQLite store in ``folder`` holding the classroom demo programme (seed 2026)
    and its accounts (``demo-admin``, ``demo-lead``, ``demo-assessor``, ``demo-board``)."""
    url = f"sqlite:///{folder / 'store.db'}"
    engine = store.open_store(url)
    build_demo(
        engine=engine,
        out=folder / "demo",
        size="classroom",
        workflow=False,
        seed=2026,
        actor=OPERATOR,
    )
    engine.dispose()
    return url


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SQLite store holding the classroom demo programme (built once for the module)."""
    return build_demo_store(tmp_path_factory.mktemp("pages"))


def add_admin(url: str, issuer: str = "default") -> None:
    """Add the administrator :data:`ADMIN` of ``issuer`` (the issuer of definitions imported
    without one) to the store at ``url``."""
    engine = store.open_store(url)
    services.add_account(
        engine=engine,
        actor=OPERATOR,
        username=ADMIN,
        role="admin",
        password=PASSWORD,
        issuer=issuer,
    )
    engine.dispose()


def session_token(url: str, username: str, password: str = DEMO_PASSWORD) -> str:
    """A session of ``username`` (:func:`calibrate.services.login`)."""
    engine = store.open_store(url)
    try:
        return services.login(username, password, engine=engine).token
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def demo_engine(demo_url: str) -> Iterator[Engine]:
    engine = store.open_store(demo_url)
    yield engine
    engine.dispose()


def open_page(
    monkeypatch: pytest.MonkeyPatch,
    url: str,
    url_path: str,
    user: str = "demo-admin",
    password: str = DEMO_PASSWORD,
) -> AppTest:
    """Run ``app.py`` on the store at ``url``, logged in as ``user`` (a session token in the
    session state, as the login form leaves it), with the router's page ``url_path`` opened."""
    monkeypatch.setenv("CALIBRATE_DATABASE_URL", url)

    def default_page(*args: Any, **kwargs: Any) -> Any:
        return PAGE(*args, **{**kwargs, "default": kwargs.get("url_path") == url_path})

    monkeypatch.setattr(st, "Page", default_page)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.session_state[TOKEN] = session_token(url, user, password)
    at.run()
    assert not at.exception, at.exception
    return at


def live(engine: Engine, rubric: str) -> Ratings:
    return store.load_ratings(engine=engine, rubric=rubric, contexts=["live"])


def levels(engine: Engine, rubric: str) -> tuple[float, ...]:
    (r,) = [r for r in store.stored_rubrics(engine=engine) if f"{r.id}@{r.version}" == rubric]
    return tuple(float(lv.score) for lv in r.levels)


def library_agreement(engine: Engine, rubric: str) -> AgreementReport:
    """What the page computes by default: 500 resamples, seed 2026, the rubric's levels."""
    return agreement_report(
        live(engine, rubric),
        levels=levels(engine, rubric),
        n_boot=500,
        seed=data.SEED,
    )


def cell(value: float, low: float, high: float) -> str:
    return f"{value:.3f} [{low:.3f}, {high:.3f}]"


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


# --- empty store, and a store without ratings ----------------------------------------------------


@pytest.mark.parametrize("url_path", ["agreement", "raters", "reliability"])
def test_pages_on_empty_store(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, url_path: str
) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    add_admin(url)
    at = open_page(monkeypatch, url, url_path, ADMIN, PASSWORD)
    assert len(at.info) == 1
    assert "Load the demo programme with `calibrate demo`" in at.info[0].value
    assert not at.dataframe and not at.selectbox


@pytest.mark.parametrize("url_path", ["agreement", "raters", "reliability"])
def test_pages_on_rubrics_without_ratings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, url_path: str
) -> None:
    url = f"sqlite:///{tmp_path / 'rubrics.db'}"
    engine = store.open_store(url)
    store.import_definition_dirs(ROOT / "rubrics", ROOT / "anchor_sets", engine=engine)
    engine.dispose()
    add_admin(url)
    at = open_page(monkeypatch, url, url_path, ADMIN, PASSWORD)
    assert at.selectbox[0].value == FIRST
    assert f"no live ratings of {FIRST}" in at.info[0].value
    assert "calibrate demo" in at.info[0].value
    assert not at.dataframe


# --- Agreement -----------------------------------------------------------------------------------


def test_agreement_page_shows_the_library_numbers(
    monkeypatch: pytest.MonkeyPatch, demo_url: str, demo_engine: Engine
) -> None:
    at = open_page(monkeypatch, demo_url, "agreement")
    assert at.title[0].value == "Agreement"
    assert at.selectbox(key="agreement_rubric").value == FIRST
    assert at.selectbox(key="agreement_context").value == "live"
    assert at.number_input(key="agreement_resamples").value == 500
    ratings = live(demo_engine, FIRST)
    report = library_agreement(demo_engine, FIRST)
    shown = metrics(at)
    assert shown["Ratings"] == f"{len(ratings):,}" == f"{report.pooled.n_ratings:,}"
    assert shown["Submissions"] == f"{len(ratings.units):,}"
    assert shown["Assessors"] == str(report.pooled.n_raters)
    assert shown["Criteria"] == str(len(ratings.criteria))

    table = at.dataframe[0].value
    assert list(table.columns) == ["all criteria", *ratings.criteria]
    pooled = report.pooled
    ci = pooled.ci
    assert ci is not None
    alpha = pooled.krippendorff_alpha["ordinal"]
    interval = ci["krippendorff_alpha.ordinal"]
    assert table.loc["Krippendorff α, ordinal", "all criteria"] == cell(
        alpha, interval.low, interval.high
    )
    assert table.loc["units", "all criteria"] == f"{pooled.n_units:,}"
    for name, summary in report.criteria.items():
        assert summary.ci is not None
        kappa = summary.ci["fleiss_kappa"]
        assert table.loc["Fleiss κ", name] == cell(summary.fleiss_kappa, kappa.low, kappa.high)
        exact = summary.ci["percent_exact"]
        assert table.loc["exact agreement", name] == (
            f"{100 * summary.percent_exact:.1f}% [{100 * exact.low:.1f}%, {100 * exact.high:.1f}%]"
        )
    # Sparse live design: no ICC row (ICC needs every assessor on every submission).
    assert not any(label.startswith("ICC") for label in table.index)

    captions = [c.value for c in at.caption]
    assert any("500 resamples, seed 2026" in c for c in captions)
    for name, summary in report.criteria.items():
        (line,) = [c for c in captions if f"**{name}**" in c]
        assert f"α (ordinal) {summary.krippendorff_alpha['ordinal']:.3f}" in line
        # The verdict follows the interval against the programme's marks (0.667, 0.800)
        ci = summary.ci["krippendorff_alpha.ordinal"]
        judged = rules_for().reliability.alpha_verdict(
            summary.krippendorff_alpha["ordinal"], ci.low, ci.high
        )
        words = {"reliable": "Reliable (", "tentative": "Tentative (",
                 "below tentative": "Below the tentative threshold",
                 "too few to tell": "Too few to tell: "}  # fmt: skip
        assert words[judged.verdict] in line and judged.reason in line
        assert sum(w in line for w in words.values()) == 1
    text = " ".join(m.value for m in at.markdown)
    assert "Krippendorff 2004" in text and "Landis & Koch 1977" in text
    assert at.get("vega_lite_chart")


def test_agreement_page_follows_its_widgets(
    monkeypatch: pytest.MonkeyPatch, demo_url: str, demo_engine: Engine
) -> None:
    at = open_page(monkeypatch, demo_url, "agreement")
    before = at.dataframe[0].value

    at.selectbox(key="agreement_rubric").select(SECOND).run()
    assert not at.exception, at.exception
    after = at.dataframe[0].value
    ratings = live(demo_engine, SECOND)
    assert list(after.columns) == ["all criteria", *ratings.criteria] != list(before.columns)
    report = library_agreement(demo_engine, SECOND)
    assert report.pooled.ci is not None
    interval = report.pooled.ci["krippendorff_alpha.ordinal"]
    assert after.loc["Krippendorff α, ordinal", "all criteria"] == cell(
        report.pooled.krippendorff_alpha["ordinal"], interval.low, interval.high
    )

    at.number_input(key="agreement_resamples").set_value(0).run()
    assert not at.exception, at.exception
    plain = at.dataframe[0].value
    assert plain.loc["Krippendorff α, ordinal", "all criteria"] == (
        f"{report.pooled.krippendorff_alpha['ordinal']:.3f}"
    )
    assert any("No intervals" in c.value for c in at.caption)


def test_agreement_page_explains_what_it_cannot_compute(
    monkeypatch: pytest.MonkeyPatch, demo_url: str, demo_engine: Engine
) -> None:
    validity = store.load_ratings(engine=demo_engine, rubric=SECOND, contexts=["validity"])
    readings = set(zip(validity.unit.tolist(), validity.rater.tolist(), strict=True))
    # each validity anchor read by one assessor: nothing to agree with
    assert len(validity) and len({unit for unit, _ in readings}) == len(readings)
    at = open_page(monkeypatch, demo_url, "agreement")
    at.selectbox(key="agreement_rubric").select(SECOND)
    at.selectbox(key="agreement_context").select("validity").run()
    assert not at.exception, at.exception
    assert "two assessors" in at.warning[0].value
    assert not at.dataframe


def test_agreement_page_asks_which_repeated_reading_counts(
    monkeypatch: pytest.MonkeyPatch, demo_url: str, demo_engine: Engine
) -> None:
    # Practice rounds repeat anchors: the page asks whether the first or the latest reading
    # counts, and shows the library's numbers on that selection.
    practice = store.load_ratings(engine=demo_engine, rubric=FIRST, contexts=["practice"])
    firsts = practice.select(keep="first")
    assert len(firsts) < len(practice)
    at = open_page(monkeypatch, demo_url, "agreement")
    assert not at.radio  # live ratings repeat nothing: no question
    at.number_input(key="agreement_resamples").set_value(0)
    at.selectbox(key="agreement_context").select("practice").run()
    assert not at.exception, at.exception
    assert not at.warning
    assert at.radio(key="agreement_keep").value == "first"
    assert f"{len(practice) - len(firsts):,} ratings repeat" in at.radio(key="agreement_keep").help
    for keep in ("first", "last"):
        at.radio(key="agreement_keep").set_value(keep).run()
        assert not at.exception, at.exception
        report = agreement_report(practice.select(keep=keep), levels=levels(demo_engine, FIRST))
        assert metrics(at)["Ratings"] == f"{report.pooled.n_ratings:,}"
        assert at.dataframe[0].value.loc["Krippendorff α, ordinal", "all criteria"] == (
            f"{report.pooled.krippendorff_alpha['ordinal']:.3f}"
        )


# --- Rater effects -------------------------------------------------------------------------------


def library_severity(engine: Engine, rubric: str) -> SeverityResult:
    """The random-effects fit as the page runs it by default."""
    ratings = live(engine, rubric)
    return fit_severity(
        ratings.unit, ratings.rater, ratings.criterion, ratings.value,
        categories=levels(engine, rubric),
    )  # fmt: skip


def library_raters(engine: Engine, rubric: str) -> RaschResult:
    """The JMLE fit as the page runs it (``calibrate.dashboard.data.rater_effects``)."""
    ratings = live(engine, rubric)
    return fit_mfrm(
        ratings.unit,
        ratings.rater,
        ratings.criterion,
        ratings.value,
        categories=levels(engine, rubric),
        on_disconnected="flag",
    )  # the library's iteration limit and tolerance, as the page and the CLI use


@pytest.mark.parametrize("rubric", [FIRST, SECOND])
def test_raters_page_shows_the_random_effects_fit(
    monkeypatch: pytest.MonkeyPatch, demo_url: str, demo_engine: Engine, rubric: str
) -> None:
    at = open_page(monkeypatch, demo_url, "raters")
    assert at.title[0].value == "Rater effects"
    assert at.radio(key="raters_model").value == "random"
    if rubric != FIRST:
        at.selectbox(key="raters_rubric").select(rubric).run()
        assert not at.exception, at.exception
    ratings = live(demo_engine, rubric)
    fit = library_severity(demo_engine, rubric)
    a = fit.assessors
    assert fit.converged  # the demo's live design: JMLE's trouble, not this model's
    shown = metrics(at)
    assert shown["Ratings"] == f"{fit.n:,}"
    assert shown["Assessors"] == str(len(ratings.raters))
    assert shown["Not placed"] == str(int((~a.placed).sum()))
    table, evidence = at.dataframe[0].value, at.dataframe[1].value
    names = [ratings.raters[c] for c in a.code]
    placed = sorted((-s, n) for n, s, ok in zip(names, a.severity, a.placed, strict=True) if ok)
    unplaced = sorted(n for n, ok in zip(names, a.placed, strict=True) if not ok)
    assert list(table["assessor"]) == [n for _, n in placed] + unplaced  # not placed last
    by_name = dict(zip(names, range(len(names)), strict=True))
    # the programme's tolerance, 0.25 score levels, in logits at the mean slope of the expected
    # score (the mean model variance of a rating)
    long = (ratings.unit, ratings.rater, ratings.criterion, ratings.value)
    tolerance = 0.25 / rating_moments(fit, *long).variance.mean()
    for _, row in table.iterrows():
        j = by_name[row["assessor"]]
        if a.placed[j]:
            assert row["severity"] == pytest.approx(a.severity[j], abs=1e-9)
            low, high = a.interval.low[j], a.interval.high[j]
            assert row["interval"] == f"{low:.2f} to {high:.2f}"
            assert row["interval says"] == interval_reading(low, high, tolerance)
        else:  # no number for an assessor the data cannot place
            assert row["severity"] != row["severity"] and pd.isna(row["interval"])
            assert row["interval says"] == "not placed"
    assert list(evidence["information"]) == pytest.approx(
        [a.information[by_name[n]] for n in evidence["assessor"]]
    )
    page = " ".join(m.value for m in at.markdown)
    for name in unplaced:
        assert f"**{name}**" in page  # listed with why, below the chart
    assert "most severe" not in page and "most lenient" not in page
    chart = at.get("vega_lite_chart")[0].proto.spec
    assert all(f'"{n}"' not in chart for n in unplaced)


def test_every_demo_rubric_gets_a_random_effects_result(demo_engine: Engine) -> None:
    """The issue: on the demo's live ratings the rater model must give a result. Every stored
    rubric's live ratings: converged, placed assessors with finite numbers, the others with
    none and a reason."""
    for r in store.stored_rubrics(engine=demo_engine):
        chosen = services.stored_selection(engine=demo_engine, actor=OPERATOR, rubric=r.key)
        if not len(chosen.ratings):
            continue
        out = services.rater_effects(chosen).to_dict()
        assert out["model"] == "random" and out["converged"], r.key
        for a in out["assessors"]:
            if a["status"] == "placed":
                assert all(abs(a[k]) < 5 for k in ("severity", "low", "high")), a
            else:
                assert a["severity"] is a["low"] is None and a["reason"], a


def test_raters_page_jmle_for_comparison(
    monkeypatch: pytest.MonkeyPatch, demo_url: str, demo_engine: Engine
) -> None:
    at = open_page(monkeypatch, demo_url, "raters")
    at.radio(key="raters_model").set_value("jmle").run()
    assert not at.exception, at.exception
    ratings = live(demo_engine, FIRST)
    result = library_raters(demo_engine, FIRST)
    shown = metrics(at)
    assert shown["Ratings"] == f"{result.n:,}"
    assert shown["Estimated"] == f"{result.n_estimation:,}"
    assessors, facets, thresholds = (d.value for d in at.dataframe)
    unplaced = unplaced_elements(result)["assessors"]

    def order(e: Any) -> tuple[bool, float, str]:
        return e.code in unplaced, 0.0 if e.code in unplaced else -e.measure, ratings.raters[e.code]

    elements = sorted(result.assessors.elements, key=order)
    nan = float("nan")
    expected = pd.DataFrame(
        {
            "assessor": [ratings.raters[e.code] for e in elements],
            "severity": [nan if e.code in unplaced else e.measure for e in elements],
            "se": [nan if e.code in unplaced else e.se for e in elements],
            "infit": [e.infit for e in elements],
            "n": [e.n for e in elements],
        }
    )
    pd.testing.assert_frame_equal(
        assessors[["assessor", "severity", "se", "infit", "n"]], expected, check_dtype=False
    )
    for _, row in assessors.iterrows():  # the interval (joint SE, 95%) read, never a rank
        if not pd.isna(row["interval says"]):
            half = 1.959964 * row["se joint"]
            reading = interval_reading(row["severity"] - half, row["severity"] + half, 0.5)
            assert row["interval says"] == reading
        misfit = not (0.5 <= row["infit"] <= 1.5 and 0.5 <= row["outfit"] <= 1.5)
        assert ("fit " in row["flag"]) == misfit, row
    assert "most severe" not in " ".join(assessors["flag"])
    assert list(facets.index) == ["assessors", "criteria", "submissions"]
    assert facets.loc["assessors", "reliability"] == pytest.approx(
        result.assessors.reliability, rel=1e-12
    )
    assert list(thresholds["threshold"]) == pytest.approx(list(result.thresholds[0].tau))
    assert ("did not converge" in " ".join(e.value for e in at.error)) == (not result.converged)


DRIFT_RUBRIC = (
    """\
id: drift
version: 1
title: Four levels, three criteria
competency: The educator is rated on three criteria.
levels:
  - {score: 1, label: One}
  - {score: 2, label: Two}
  - {score: 3, label: Three}
  - {score: 4, label: Four}
criteria:
"""
    + "".join(
        f"  - id: c{c}\n    title: Criterion {c}\n"
        "    descriptors: {1: First., 2: Second., 3: Third., 4: Fourth.}\n"
        for c in range(3)
    )
    + "pass_rule:\n  every_criterion_at_least: Three\n"
)


@pytest.fixture(scope="module")
def drifting_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A store whose live ratings have no finite rater-model solution: assessor Z and
    submissions T0-T2 drift (:func:`tests.test_cli_raters.write_drifting`)."""
    from tests.test_cli_raters import write_drifting

    folder = tmp_path_factory.mktemp("drifting")
    (folder / "rubrics").mkdir()
    (folder / "rubrics" / "drift.yaml").write_text(DRIFT_RUBRIC)
    url = f"sqlite:///{folder / 'store.db'}"
    engine = store.open_store(url)
    store.import_definition_dirs(folder / "rubrics", None, engine=engine)
    ratings = write_drifting(folder / "r.csv")  # criteria C0-C2; ids are lowercase
    ratings.write_text(ratings.read_text().replace(",C", ",c"))
    store.import_ratings_file(ratings, engine=engine, rubric="drift")
    engine.dispose()
    add_admin(url)
    return url


def test_raters_page_when_the_model_did_not_converge(
    monkeypatch: pytest.MonkeyPatch, drifting_url: str
) -> None:
    at = open_page(monkeypatch, drifting_url, "raters", ADMIN, PASSWORD)
    assert not at.error  # the random-effects model converges: Z is not placed, with why
    page = " ".join(m.value for m in at.markdown)
    assert "- **Z** (9 ratings): 9 ratings" in page and "fewer than the 10 needed" in page
    at.radio(key="raters_model").set_value("jmle").run()
    (banner,) = at.error
    assert banner.value.startswith("**Not trustworthy: the rater model did not converge** in 500")
    assert "1 assessor and 3 submissions cannot be placed" in banner.value
    assert not any("did not converge" in w.value for w in at.warning)  # said once, above
    assert any("cannot place 1 assessor and 3 submissions" in w.value for w in at.warning)
    assessors = at.dataframe[0].value
    last = assessors.iloc[-1]
    assert last["assessor"] == "Z" and last["status"] == "not measured"
    assert last["flag"].startswith("not measured: no finite")
    assert all(last[k] != last[k] for k in ("severity", "se", "se joint", "fair average"))
    assert assessors["severity"].iloc[:-1].notna().all()
    chart = at.get("vega_lite_chart")[0].proto.spec
    assert '"Z"' not in chart and '"A0"' in chart  # measured assessors only


# --- Reliability ---------------------------------------------------------------------------------


def test_reliability_page_shows_the_library_study(
    monkeypatch: pytest.MonkeyPatch, demo_url: str, demo_engine: Engine
) -> None:
    at = open_page(monkeypatch, demo_url, "reliability")
    assert at.title[0].value == "Reliability (G study)"
    assert at.number_input(key="reliability_target").value == 0.8
    ratings = live(demo_engine, FIRST)
    study = gstudy(
        ratings.unit, ratings.rater, ratings.criterion, ratings.value, target=0.8,
        max_assessors=10, n_boot=1000, seed=2026,
    )  # fmt: skip  # the page's resamples and seed
    assert study.intervals is not None
    shown = metrics(at)
    assert shown["Ratings"] == f"{study.components.n_ratings:,}"
    assert shown["Submissions"] == f"{study.components.n_submissions:,}"
    assert shown["Φ (absolute)"] == f"{study.phi:.3f}"
    assert shown["G (relative, Eρ²)"] == f"{study.g:.3f}"
    assert shown["Assessors needed, Φ ≥ 0.8"] == str(study.assessors_needed_phi)

    components, d_study = (d.value for d in at.dataframe)
    assert list(components["effect"]) == [c.effect for c in study.components.components]
    assert list(components["estimate"]) == [c.estimate for c in study.components.components]
    assert list(d_study["assessors"]) == list(range(1, 11))
    assert list(d_study["Φ"]) == [row.phi for row in study.d_study]
    assert list(d_study["Φ low"]) == [row.phi.low for row in study.intervals.d_study]
    assert list(d_study["Φ high"]) == [row.phi.high for row in study.intervals.d_study]
    assert at.get("vega_lite_chart")
    # the verdict follows Φ's interval, not its estimate
    verdict = study.verdict()
    said = " ".join(m.value for m in at.markdown)
    assert verdict.reason[1:] in said
    heading = {"dependable": "Dependable decisions.", "not dependable": "Decisions not dependable.",
               "too few submissions to tell": "Too few submissions to tell."}  # fmt: skip
    assert heading[verdict.verdict] in said

    # A target the D study meets with a different number of assessors than 0.8 (the page's
    # steps of 0.05), so that the figure shown can only follow the input.
    def needed(target: float) -> int | None:
        return gstudy(
            ratings.unit, ratings.rater, ratings.criterion, ratings.value,
            target=target, max_assessors=10,
        ).assessors_needed_phi  # fmt: skip

    other = next(t for t in (round(0.05 * k, 2) for k in range(1, 20)) if needed(t) != needed(0.8))
    at.number_input(key="reliability_target").set_value(other).run()
    assert not at.exception, at.exception
    assert metrics(at)[f"Assessors needed, Φ ≥ {other:g}"] == str(needed(other))


def test_reliability_page_runs_on_the_chosen_reading_of_calibration_rounds(
    monkeypatch: pytest.MonkeyPatch, demo_url: str, demo_engine: Engine
) -> None:
    qualification = store.load_ratings(engine=demo_engine, rubric=FIRST, contexts=["qualification"])
    at = open_page(monkeypatch, demo_url, "reliability")
    at.selectbox(key="reliability_context").select("qualification").run()
    assert not at.exception, at.exception
    assert not at.warning
    at.radio(key="reliability_keep").set_value("last").run()
    latest = qualification.select(keep="last")
    study = gstudy(latest.unit, latest.rater, latest.criterion, latest.value, max_assessors=10)
    assert metrics(at)["Φ (absolute)"] == f"{study.phi:.3f}"
    assert metrics(at)["Ratings"] == f"{len(latest):,}"


def test_agreement_page_shows_pass_decision_agreement_of_live_work(
    monkeypatch: pytest.MonkeyPatch, demo_url: str, demo_engine: Engine
) -> None:
    expected = live_decision_agreement(
        live(demo_engine, FIRST), store.stored_rubric(FIRST, engine=demo_engine)
    )
    at = open_page(monkeypatch, demo_url, "agreement")
    assert "Pass decisions" in [h.value for h in at.subheader]
    shown = metrics(at)
    assert shown["Read twice"] == f"{expected.n:,}"
    assert shown["Agreed"] == f"{100 * expected.percent:.1f}%"
    assert shown["Discrepant"] == f"{expected.n_discrepant:,}"
    assert shown["Gwet AC1"] == f"{expected.ac1.coefficient:.3f}"
    assert any(f"Cohen's κ {expected.kappa.kappa:.3f}" in c.value for c in at.caption)
    at.selectbox(key="agreement_context").select("validity").run()  # anchors: no decisions
    assert "Pass decisions" not in [h.value for h in at.subheader]


def test_reliability_d_study_follows_the_number_of_criteria(
    monkeypatch: pytest.MonkeyPatch, demo_url: str, demo_engine: Engine
) -> None:
    ratings = live(demo_engine, FIRST)
    at = open_page(monkeypatch, demo_url, "reliability")
    assert at.number_input(key="reliability_criteria").value == len(ratings.criteria)
    at.number_input(key="reliability_criteria").set_value(10).run()
    assert not at.exception, at.exception
    longer = gstudy(
        ratings.unit, ratings.rater, ratings.criterion, ratings.value, max_assessors=10,
        criteria=[10],
    )  # fmt: skip
    d_study = at.dataframe[1].value
    assert list(d_study["Φ"]) == [row.phi for row in longer.d_study]
    assert any("With 10 criteria per submission" in c.value for c in at.caption)
    assert (
        longer.d_study[0].phi
        > gstudy(ratings.unit, ratings.rater, ratings.criterion, ratings.value, max_assessors=10)
        .d_study[0]
        .phi
    )  # more criteria, more dependable decisions


def test_rules_page_shows_the_rules_in_force(
    monkeypatch: pytest.MonkeyPatch, demo_url: str
) -> None:
    """The Programme rules page lists every rule with value, default, meaning and source; for a
    rubric version it resolves the scale-dependent ones (NAEP: 80% exact on 3 levels)."""
    from calibrate.rules import RULES

    at = open_page(monkeypatch, demo_url, "rules")
    table = at.table[0].value
    assert list(table.index) == [r.name for r in RULES]
    exact = table.loc["qualification.min_exact"]
    assert exact["value"] == "by scale" and exact["source"]
    at.selectbox(key="rules_rubric").set_value("crsel-intro@1").run()
    assert not at.exception, at.exception
    table = at.table[0].value
    assert table.loc["qualification.min_exact", "value"] == "0.8"  # 3 levels


# --- Accuracy ------------------------------------------------------------------------------------


def test_accuracy_page_shows_the_library_report(
    monkeypatch: pytest.MonkeyPatch, demo_url: str, demo_engine: Engine
) -> None:
    def library(context: str, keep: Any) -> Any:
        return accuracy_report(
            store.load_ratings(engine=demo_engine, rubric=FIRST, contexts=[context]),
            store.stored_anchor_sets(engine=demo_engine, rubric=FIRST),
            store.stored_rubric(FIRST, engine=demo_engine),
            context=context,
            keep=keep,
        )

    at = open_page(monkeypatch, demo_url, "accuracy")
    assert at.title[0].value == "Accuracy"
    assert at.selectbox(key="accuracy_context").value == "validity"
    assert not at.radio  # validity anchors are read once each: no question
    report = library("validity", None)
    shown = metrics(at)
    assert shown["Assessors"] == str(len(report.assessors))
    assert shown["Ratings"] == f"{report.overall.n:,}"
    assert shown["Anchors"] == str(report.overall.n_anchors)
    assert shown["Exact"] == f"{100 * report.overall.exact:.0f}%"
    assert shown["QWK"] == f"{report.overall.qwk:.2f}"
    assessors, criteria = (d.value for d in at.dataframe)
    assert list(assessors["assessor"]) == list(report.assessors)
    rows = list(report.assessors.values())
    same = np.testing.assert_array_equal  # NaN (one anchor: no interval) equals NaN
    same(assessors["mean dev."], [r.mean_deviation for r in rows])
    same(assessors["low"], [r.mean_deviation_ci.low for r in rows])
    assert list(assessors["verdict"]) == [VERDICT_SENTENCES[r.verdict()] for r in rows]
    assert list(criteria["criterion"]) == list(report.criteria)
    same(criteria["exact"], [r.exact for r in report.criteria.values()])
    assert at.get("vega_lite_chart")
    said = " ".join(c.value for c in at.caption)
    for term in ("Exact agreement:", "Mean signed deviation:", "QWK: quadratic weighted kappa"):
        assert term in said

    # Qualification rounds repeat anchors: the page asks which reading counts.
    at.selectbox(key="accuracy_context").select("qualification").run()
    assert not at.exception, at.exception
    for keep in ("first", "last"):
        at.radio(key="accuracy_keep").set_value(keep).run()
        assert not at.exception, at.exception
        report = library("qualification", keep)
        assert metrics(at)["Ratings"] == f"{report.overall.n:,}"
        table = at.dataframe[0].value
        same(table["mean dev."], [r.mean_deviation for r in report.assessors.values()])
    assert report.overall.n < library("qualification", None).overall.n  # one reading per cell
