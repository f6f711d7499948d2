"""Agreement page: how far assessors agree, per criterion and pooled, with bootstrap intervals."""

from __future__ import annotations

from typing import TYPE_CHECKING

import altair as alt
import pandas as pd
import streamlit as st

from calibrate.dashboard import data
from calibrate.dashboard.text import escape
from calibrate.errors import CalibrateError
from calibrate.report.text import statistic
from calibrate.rules import kappa_band

if TYPE_CHECKING:
    from calibrate.access import Actor
    from calibrate.stats.accuracy import DecisionAgreement
    from calibrate.stats.agreement import AgreementSummary


# (dotted key of AgreementSummary.to_dict, row label, shown as a percentage)
ROWS: tuple[tuple[str, str, bool], ...] = (
    ("percent_exact", "exact agreement", True),
    ("percent_adjacent", "adjacent agreement (±1 level)", True),
    ("krippendorff_alpha.ordinal", "Krippendorff α, ordinal", False),
    ("krippendorff_alpha.interval", "Krippendorff α, interval", False),
    ("gwet_ac1", "Gwet AC1", False),
    ("gwet_ac2.linear", "Gwet AC2, linear", False),
    ("gwet_ac2.quadratic", "Gwet AC2, quadratic", False),
    ("fleiss_kappa", "Fleiss κ", False),
    ("cohen_kappa.quadratic", "Cohen κ, quadratic", False),
    *((f"icc.ICC{m}{k}", f"ICC({m},{k or 1})", False) for k in ("", "k") for m in "123"),
)
POOLED = "all criteria"  # not a criterion id (ids have no spaces)


def render(actor: Actor) -> None:
    st.title("Agreement")
    st.caption(
        "Do assessors give the same submission the same score? 1 means they always agree, "
        "0 means no better than chance."
    )
    url = data.database_url()
    versions = data.rubric_versions(url, actor)
    if not versions:
        data.no_rubrics_notice(actor)
        return
    left, middle, right, far = st.columns([3, 2, 2, 2])
    rubric = data.choose_rubric(left, versions, key="agreement_rubric")
    context = data.choose_context(middle, key="agreement_context")
    n_boot = right.number_input(
        "Resamples",
        min_value=0,
        max_value=20_000,
        value=500,
        step=100,
        key="agreement_resamples",
        help="Bootstrap resamples of submissions for the 95% intervals (0: no intervals).",
    )
    seed = far.number_input(
        "Seed",
        min_value=0,
        value=data.SEED,
        step=1,
        key="agreement_seed",
        help="The same seed gives the same intervals.",
    )
    keep = data.keep_choice(url, actor, rubric, context, key="agreement_keep")
    ratings = data.selection(url, actor, rubric, context, keep).ratings
    if not len(ratings):
        data.no_ratings_notice(rubric, context)
        return
    try:
        result = data.agreement(url, actor, rubric, context, keep, int(n_boot), int(seed))
    except CalibrateError as exc:
        st.warning(f"Agreement cannot be computed on these ratings: {escape(exc)}.")
        return

    report = result.report
    summaries = (
        {POOLED: report.pooled, **report.criteria}
        if report.criteria
        else {ratings.criteria[0]: report.pooled}
    )
    twice, per_criterion = result.double_scored, result.double_scored_by_criterion
    paired = {name: per_criterion.get(name, sum(per_criterion.values())) for name in summaries}
    pooled = report.pooled
    cols = st.columns(5)
    cols[0].metric("Ratings", f"{pooled.n_ratings:,}")
    cols[1].metric("Submissions", f"{len(ratings.units):,}")
    cols[2].metric(
        "Read by 2+",
        f"{twice:,}",
        help="Submissions scored by two or more assessors: agreement rests on these alone.",
    )
    cols[3].metric("Assessors", f"{pooled.n_raters:,}")
    cols[4].metric("Criteria", f"{len(ratings.criteria):,}")

    st.subheader("Agreement statistics")
    st.dataframe(
        _table(summaries, paired),
        height="content",
        key="agreement_table",
        column_config={"statistic": st.column_config.TextColumn(pinned=True)},
    )
    intervals = (
        f"[low, high]: 95% percentile bootstrap interval over submissions, {int(n_boot):,} "
        f"resamples, seed {int(seed)}. "
        if n_boot
        else "No intervals (0 resamples). "
    )
    st.caption(
        intervals
        + "Units are (submission, criterion) pairs; pooled: all criteria together. Chance "
        "agreement uses the rubric's levels "
        + ", ".join(f"{v:g}" for v in pooled.levels)
        + ". ICC only when every assessor scored every submission. – : undefined on these data."
        + (
            " The statistic column stays in place: scroll the table sideways for every criterion."
            if len(summaries) > 4
            else ""
        )
    )
    bands = data.programme_rules(url).reliability
    st.markdown(
        f"**Reading the numbers.** Krippendorff's α ≥ {bands.alpha_reliable:.3f}: reliable; "
        f"{bands.alpha_tentative:.3f}–{bands.alpha_reliable:.3f}: tentative conclusions only; "
        f"below {bands.alpha_tentative:.3f}: "
        "not reliable enough to rely on (Krippendorff 2004). κ bands (Landis & Koch 1977): "
        "< 0 poor, 0–.20 slight, .21–.40 fair, .41–.60 moderate, .61–.80 substantial, "
        ".81–1 almost perfect."
    )

    if result.applies_decisions:
        _decisions(result.decisions, rubric)

    st.subheader("By criterion")
    st.altair_chart(_alpha_chart(summaries), key="agreement_chart")
    titles = {c["id"]: c["title"] for c in versions[rubric]["criteria"]}
    for name, summary in summaries.items():
        if name != POOLED or len(summaries) == 1:
            st.caption(_reading(name, titles.get(name, name), summary, paired[name]))


def _decisions(agree: DecisionAgreement | None, rubric: str) -> None:
    """Do the two readings of a double-scored submission lead to the same pass decision?"""
    st.subheader("Pass decisions")
    if agree is None:
        st.info(f"No live submission of {rubric} was read twice on every criterion.")
        return
    cols = st.columns(4)
    cols[0].metric("Read twice", f"{agree.n:,}", help="Submissions with two complete readings.")
    cols[1].metric(
        "Agreed",
        f"{100 * agree.percent:.1f}%",
        help="Same decision: share of them where the first and second reading agree on pass / "
        "not yet.",
    )
    cols[2].metric(
        "Discrepant",
        f"{agree.n_discrepant:,}",
        help="Different decisions: the submissions a third reading should adjudicate.",
    )
    cols[3].metric("Gwet AC1", _number(agree.ac1.coefficient, False))
    interval = agree.kappa.confidence_interval()
    low, high = interval.low, interval.high
    st.caption(
        f"Decisions under the {rubric} pass rule, first against second reading. Cohen's κ "
        f"{_number(agree.kappa.kappa, False)} [{_number(low, False)}, {_number(high, False)}] "
        "(95% Wald). Criterion scores one level apart count as adjacent agreement above, but "
        "under a conjunctive pass rule they can change the decision."
    )


def _number(x: float | None, percent: bool) -> str:
    if x is None or x != x:
        return "–"
    return f"{100 * x:.1f}%" if percent else f"{x:.3f}"


def _table(summaries: dict[str, AgreementSummary], paired: dict[str, int]) -> pd.DataFrame:
    """One row per statistic defined somewhere, one column per summary: ``value [low, high]``."""
    dicts = {name: s.to_dict() for name, s in summaries.items()}
    rows: dict[str, list[str]] = {
        "units": [f"{d['n_units']:,}" for d in dicts.values()],
        "scored twice or more": [f"{paired[name]:,}" for name in dicts],
        "ratings": [f"{d['n_ratings']:,}" for d in dicts.values()],
        "assessors": [f"{d['n_raters']:,}" for d in dicts.values()],
    }
    for key, label, percent in ROWS:
        values = [statistic(d, key) for d in dicts.values()]
        if all(v is None for v in values):
            continue
        cells = []
        for d, v in zip(dicts.values(), values, strict=True):
            cell = _number(v, percent)
            ci = statistic(d, f"ci.{key}")
            if ci is not None and cell != "–":
                cell += f" [{_number(ci[0], percent)}, {_number(ci[1], percent)}]"
            cells.append(cell)
        rows[label] = cells
    table = pd.DataFrame.from_dict(rows, orient="index", columns=list(dicts))
    table.index.name = "statistic"
    return table


def _alpha_chart(summaries: dict[str, AgreementSummary]) -> alt.LayerChart:
    """Ordinal alpha per criterion with its interval, against the two conventions."""
    key = "krippendorff_alpha.ordinal"
    points = pd.DataFrame(
        [
            {
                "criterion": name,
                "alpha": s.krippendorff_alpha["ordinal"],
                "low": s.ci[key].low if s.ci else None,
                "high": s.ci[key].high if s.ci else None,
            }
            for name, s in summaries.items()
        ]
    )
    y = alt.Y("criterion:N", sort=list(summaries), title=None)
    lowest = pd.concat([points["alpha"], points["low"]]).min()
    scale = alt.Scale(domain=[min(0.0, lowest) if lowest == lowest else 0.0, 1.0])
    bars = alt.Chart(points).mark_rule().encode(x=alt.X("low:Q", scale=scale), x2="high:Q", y=y)
    dots = (
        alt.Chart(points)
        .mark_point(filled=True, size=80)
        .encode(
            x=alt.X("alpha:Q", title="Krippendorff α (ordinal), 95% interval", scale=scale),
            y=y,
            tooltip=[
                "criterion",
                alt.Tooltip("alpha:Q", format=".3f"),
                alt.Tooltip("low:Q", format=".3f"),
                alt.Tooltip("high:Q", format=".3f"),
            ],
        )
    )
    bands = data.programme_rules(data.database_url()).reliability
    marks = pd.DataFrame(
        {
            "at": [bands.alpha_tentative, bands.alpha_reliable],
            "convention": ["tentative", "reliable"],
        }
    )
    rules = (
        alt.Chart(marks)
        .mark_rule(strokeDash=[4, 4])
        .encode(
            x="at:Q",
            color=alt.Color(
                "convention:N",
                title="Krippendorff (2004)",
                scale=alt.Scale(domain=["tentative", "reliable"], range=["#f28e2b", "#59a14f"]),
            ),
        )
    )
    return alt.LayerChart(layer=[bars, dots, rules]).properties(height=36 * len(summaries) + 20)


def _reading(name: str, title: str, s: AgreementSummary, paired: int) -> str:
    """One plain-language line on a criterion, flagging ordinal alpha below the tentative mark."""
    alpha = s.krippendorff_alpha["ordinal"]
    where = f"**{name}** ({escape(title)})" if title != name else f"**{name}**"
    if alpha != alpha:
        return f"{where}: α undefined (every rating the same); agreement cannot be judged."
    ci = s.ci.get("krippendorff_alpha.ordinal") if s.ci else None
    interval = f" [{_number(ci.low, False)}, {_number(ci.high, False)}]" if ci else ""
    kappa = s.fleiss_kappa
    band = "" if kappa != kappa else f"; Fleiss κ {kappa:.3f} ({kappa_band(kappa)})"
    stats = (
        f"α (ordinal) {alpha:.3f}{interval}{band}; {paired:,} of {s.n_units:,} submissions "
        "scored twice or more"
    )
    bands = data.programme_rules(data.database_url()).reliability
    judged = bands.alpha_verdict(
        alpha, None if ci is None else ci.low, None if ci is None else ci.high
    )
    if judged.verdict == "reliable":
        return (
            f"{where}: {stats}. Reliable ({judged.reason}): assessors agree well enough to "
            "support decisions."
        )
    if judged.verdict == "tentative":
        return (
            f"{where}: {stats}. Tentative ({judged.reason}): agreement supports only provisional "
            "conclusions; watch this criterion."
        )
    if judged.verdict == "below tentative":
        return (
            f":orange[**Below the tentative threshold**] ({judged.reason}). {where}: {stats}. "
            "Assessors do not yet agree well enough on this criterion to rely on its scores: "
            "review its level descriptors and anchors, and recalibrate assessors."
        )
    return f"{where}: {stats}. Too few to tell: {judged.reason}."
