"""Rater effects page: each assessor's severity with its interval, read against the programme's
tolerance, from the random-effects rater model (JMLE as FACETS for comparison)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import altair as alt
import pandas as pd
import streamlit as st

from calibrate.dashboard import data
from calibrate.dashboard.text import escape
from calibrate.errors import CalibrateError

if TYPE_CHECKING:
    from calibrate.access import Actor
    from calibrate.analyses.raters import Estimator, RaterReport, SeverityReport
    from calibrate.stats.rasch import FacetReport, RaschResult

MODELS: dict[Estimator, str] = {
    "random": "Random effects (recommended)",
    "jmle": "JMLE, as FACETS (for comparison)",
}
NOT_PLACED = "not placed"
NOT_MEASURED = "not measured"
UNPLACED = {
    "drifted": "not measured: no finite estimate (drifted outward while the model did not "
    "converge)",
    "alone": "not measured: alone in a subset, linked to no other assessor",
}
LOGIT = (
    "Severity is in logits, the Rasch model's unit: the log-odds of the next higher score. 0 "
    "is the average assessor; +0.5 means about 0.6 times the odds of the higher score that an "
    "average assessor would give the same work (harsher), -0.5 about 1.6 times (more lenient)."
)
FIT = (
    "Infit and outfit mean squares compare an assessor's scores with what the model expects: "
    "near 1 as expected; below {low:g} too predictable (central tendency or halo), above "
    "{high:g} erratic (Linacre; Myford & Wolfe 2003). Infit weighs ratings of work that suits "
    "the assessor's level; outfit is sensitive to single surprising scores."
)
READINGS = {
    "within tolerance": "#59a14f",
    "harsher beyond tolerance": "#e15759",
    "more lenient beyond tolerance": "#4e79a7",
    "harsher than average": "#f28e2b",
    "more lenient than average": "#76b7b2",
    "no clear difference": "#9d9d9d",
}
"""Colour of each interval reading (:func:`calibrate.analyses.raters.interval_reading`)."""


def _fit_range() -> tuple[float, float]:
    """The productive range of infit/outfit mean squares: programme rules ``flags.fit_low`` and
    ``flags.fit_high`` (Linacre; Myford & Wolfe 2003)."""
    flags = data.programme_rules(data.database_url()).flags
    return flags.fit_low, flags.fit_high


def render(actor: Actor) -> None:
    st.title("Rater effects")
    st.caption(
        "Which assessors score harder or softer than the others, and whose scores are "
        "inconsistent, after allowing for the submissions and criteria each one happened to get."
    )
    url = data.database_url()
    versions = data.rubric_versions(url, actor)
    if not versions:
        data.no_rubrics_notice(actor)
        return
    rubric = data.choose_rubric(st, versions, key="raters_rubric")
    model: Estimator = st.radio(
        "Rater model",
        list(MODELS),
        format_func=MODELS.__getitem__,
        horizontal=True,
        key="raters_model",
        help="Random effects: every severity finite, with an honest interval, also when each "
        "submission meets only two assessors; an assessor the data cannot place is said to be "
        "so. JMLE: joint maximum likelihood as the FACETS program, to compare with FACETS "
        "tables; on sparse live designs it may not converge.",
    )
    ratings = data.selection(url, actor, rubric, "live").ratings
    if not len(ratings):
        data.no_ratings_notice(rubric, "live")
        return
    try:
        report = data.rater_effects(url, actor, rubric, "live", model)
    except CalibrateError as exc:
        st.warning(f"The rater model cannot be fitted to these ratings: {escape(exc)}")
        return
    if report.model == "random":
        _random(report)
    else:
        _jmle(report)


# --- random-effects model ----------------------------------------------------------------------


def _random(report: SeverityReport) -> None:
    res, payload = report.result, report.to_dict()
    warnings = report.warnings()
    if not res.converged:
        st.error(
            f"**Not trustworthy: the rater model did not converge** in {res.iterations} "
            "iterations. The severities below are where the iterations stopped.",
            icon=":material/error:",
        )
        warnings = warnings[1:]  # the first says so (SeverityReport.warnings): the banner above
    assessors = payload["assessors"]
    unplaced = sorted((a for a in assessors if a["status"] != "placed"), key=lambda a: a["id"])
    cols = st.columns(4)
    cols[0].metric("Ratings", f"{res.n:,}", help="All live ratings of this rubric version.")
    cols[1].metric("Submissions", f"{res.n_submissions:,}")
    cols[2].metric("Assessors", f"{len(assessors):,}")
    cols[3].metric(
        "Not placed",
        f"{len(unplaced):,}",
        help="Assessors whose severity the data cannot place: too few ratings, too little "
        "evidence linking them to other assessors, or every rating at one end of the scale. "
        "They get no severity, only the reason (listed below the chart).",
    )
    for warning in warnings:
        st.warning(escape(warning))  # may name assessors (stored text)

    tolerance = report.tolerance
    st.subheader("Severity of each assessor")
    table = _random_table(payload)
    placed = table[table["status"] == "placed"]
    if len(placed):
        st.altair_chart(
            _caterpillar(placed, tolerance, payload["level"]),
            key="raters_chart",
            width="stretch",
            height=_chart_height(len(placed)),
        )
    band = (
        f"The shaded band is the programme's tolerance of ±{report.tolerance_levels:g} score "
        f"levels (rule flags.severity_levels), ±{tolerance:.2g} logits on this rubric's scale: "
        "severities inside it are close enough to the average not to act on. "
        if tolerance is not None
        else ""
    )
    st.caption(
        f"Each dot is an assessor's severity, the line its {payload['level']:.0%} interval "
        "(where the severity plausibly lies, given how much of their work links them to other "
        f"assessors). {band}The colour says what the interval says: beyond the tolerance only "
        "when the whole interval is; an interval across 0 cannot tell the assessor from the "
        "average. One interval per assessor: flags, which allow for testing every assessor at "
        f"once, are `calibrate flags`' job. {LOGIT}"
    )
    if unplaced:
        st.markdown(
            "**Not placed** (no severity: the data cannot place them)\n\n"
            + "\n".join(
                f"- **{escape(a['id'])}** ({a['n']:,} ratings): {escape(a['reason'])}"
                for a in unplaced
            )
        )

    st.subheader("Assessors")
    level = f"{payload['level']:.0%}"
    severity = table[["assessor", "severity", "interval", "interval says"]]
    st.dataframe(
        severity,
        placeholder="-",  # no value: a not placed assessor has no severity
        hide_index=True,
        width="stretch",
        height="content" if len(table) <= 20 else "auto",
        key="raters_table",
        column_config={
            "assessor": st.column_config.TextColumn(width=75, pinned=True),
            "severity": st.column_config.NumberColumn(
                format="%.2f", width=65, help="Logits; + = harsher, 0 = average assessor."
            ),
            "interval": st.column_config.TextColumn(
                f"{level} interval",
                width=105,
                help="Where the severity plausibly lies (logits), given the assessor's ratings "
                "and how they link to other assessors' work.",
            ),
            "interval says": st.column_config.TextColumn(
                width=185,
                help="What the interval says against the average (0) and the programme's "
                "tolerance; 'not placed' where the data cannot place the assessor (why: below "
                "the chart).",
            ),
        },
    )
    fit_low, fit_high = _fit_range()
    evidence = table[["assessor", "ratings", "SE", "information", "infit", "outfit"]]
    st.dataframe(
        evidence.style.apply(_misfit(fit_low, fit_high), axis=1),
        placeholder="-",  # a not placed assessor has no SE
        hide_index=True,
        width="stretch",
        height="content" if len(table) <= 20 else "auto",
        key="raters_evidence",
        column_config={
            "assessor": st.column_config.TextColumn(width=75, pinned=True),
            "ratings": st.column_config.NumberColumn(format="%d", width=65),
            "SE": st.column_config.NumberColumn(
                format="%.2f",
                width=50,
                help="Standard error: the uncertainty about the severity, including that about "
                "the submissions' quality, the other assessors and the criteria.",
            ),
            "information": st.column_config.NumberColumn(
                format="%.2f",
                width=90,
                help="Share of what is known about the severity that comes from the assessor's "
                "own ratings rather than from the pool's spread (0 to 1). Thin evidence pulls a "
                "severity toward 0; below 0.5 (and without a data-only SE of 0.5 logits) the "
                "assessor is not placed.",
            ),
            "infit": st.column_config.NumberColumn(
                format="%.2f", width=60, help=FIT.format(low=fit_low, high=fit_high)
            ),
            "outfit": st.column_config.NumberColumn(
                format="%.2f", width=60, help=FIT.format(low=fit_low, high=fit_high)
            ),
        },
    )
    st.caption(
        "Information: the share of what is known about a severity that comes from the "
        "assessor's own ratings (0 to 1); the rest is the pool's spread, which pulls thin "
        f"evidence toward the average. Highlighted: infit or outfit outside {fit_low:g}–"
        f"{fit_high:g}. " + FIT.format(low=fit_low, high=fit_high)
    )

    st.subheader("Spread of severities")
    spread = report.separation()
    cols = st.columns(4)
    cols[0].metric(
        "Severity SD",
        f"{res.severity_sd:.2f}",
        help="How far assessors' severities spread around the average, in logits, estimated "
        "from all their ratings.",
    )
    for col, name, helptext in (
        (
            cols[1],
            "reliability",
            "Share of the severities' spread the data resolve, beyond the error left about "
            "each assessor (0 to 1). High: assessors differ reliably in severity, a rater "
            "effect to act on.",
        ),
        (cols[2], "separation", "The resolved spread in units of error."),
        (
            cols[3],
            "strata",
            "Levels of severity the data can tell apart, three errors apart: (4 × separation "
            "+ 1) / 3 (Wright & Masters 1982). Below 2: the pool cannot be split into harsher "
            "and more lenient groups with confidence.",
        ),
    ):
        value = "–" if spread is None else f"{spread[name]:.2f}"
        col.metric(name.capitalize(), value, help=helptext)
    if spread is None:
        st.caption("Reliability, separation and strata mean nothing here: no spread to resolve.")

    st.subheader("Criteria and rating scale")
    left, right = st.columns(2)
    left.dataframe(
        pd.DataFrame(payload["criteria"]).rename(columns={"id": "criterion", "n": "ratings"}),
        hide_index=True,
        width="stretch",
        height="content",
        key="raters_criteria",
        column_config={
            "criterion": st.column_config.TextColumn(width="medium"),
            "difficulty": st.column_config.NumberColumn(
                format="%.2f", help="Logits; + = harder (lower scores)."
            ),
            "se": st.column_config.NumberColumn("SE", format="%.2f"),
        },
    )
    t = payload["thresholds"]
    right.dataframe(
        pd.DataFrame(
            {
                "step": [
                    f"{t['categories'][k]:g} → {t['categories'][k + 1]:g}"
                    for k in range(len(t["tau"]))
                ],
                "threshold": t["tau"],
                "SE": t["se"],
            }
        ),
        hide_index=True,
        width="stretch",
        height="content",
        key="raters_thresholds",
        column_config={
            "threshold": st.column_config.NumberColumn(format="%.2f"),
            "SE": st.column_config.NumberColumn(format="%.2f"),
        },
    )
    st.caption(
        "Criterion difficulty: how hard a criterion is to score high on (logits, 0 = average "
        "criterion). Thresholds: where two adjacent levels are equally probable; they should "
        "rise with the level"
        + (" (here they do not: disordered)." if t["disordered"] else " (they do).")
    )


def _random_table(payload: dict[str, Any]) -> pd.DataFrame:
    """Assessors as rows: placed ones by severity, harshest first, then those not placed (by
    name) with no severity, SE or interval."""
    rows = [
        {
            "assessor": a["id"],
            "interval says": a["reading"] if a["status"] == "placed" else NOT_PLACED,
            "severity": a["severity"],
            "interval": None if a["low"] is None else f"{a['low']:.2f} to {a['high']:.2f}",
            "SE": a["se"],
            "low": a["low"],
            "high": a["high"],
            "information": a["information"],
            "infit": a["infit"],
            "outfit": a["outfit"],
            "ratings": a["n"],
            "submissions": a["n_submissions"],
            "status": a["status"],
        }
        for a in payload["assessors"]
    ]
    return pd.DataFrame(rows).sort_values(
        ["severity", "assessor"], ascending=[False, True], ignore_index=True, na_position="last"
    )


def _misfit(fit_low: float, fit_high: float) -> Any:
    def colour(row: pd.Series) -> list[str]:
        out = any(v == v and not fit_low <= v <= fit_high for v in (row["infit"], row["outfit"]))
        return ["background-color: rgba(255, 75, 75, 0.18)" if out else ""] * len(row)

    return colour


def _chart_height(n: int) -> int:
    """Pixels for a caterpillar chart of ``n`` assessors: a readable row each, plus the axis
    and the legend below it."""
    return 30 * n + 240


def _caterpillar(table: pd.DataFrame, tolerance: float | None, level: float) -> alt.LayerChart:
    """Each assessor's severity (dot) and interval (line), harshest at the top, coloured by what
    the interval says, over the tolerance band; ``table`` has ``assessor``, ``severity``,
    ``low``, ``high`` and ``interval says``."""
    order = list(table.sort_values("severity", ascending=False)["assessor"])
    y = alt.Y("assessor:N", sort=order, title=None)
    x_title = f"severity (logits, + = harsher), {level:.0%} interval"
    colour = alt.Color(
        "interval says:N",
        title="the interval says",
        scale=alt.Scale(domain=list(READINGS), range=list(READINGS.values())),
        legend=alt.Legend(orient="bottom", columns=1, labelLimit=0),
    )
    bars = (
        alt.Chart(table)
        .mark_rule(strokeWidth=2)
        .encode(x=alt.X("low:Q", title=x_title), x2="high:Q", y=y, color=colour)
    )
    dots = (
        alt.Chart(table)
        .mark_point(filled=True, size=60)
        .encode(
            x="severity:Q",
            y=y,
            color=colour,
            tooltip=[
                "assessor",
                alt.Tooltip("severity:Q", format=".2f"),
                alt.Tooltip("low:Q", format=".2f"),
                alt.Tooltip("high:Q", format=".2f"),
                "interval says",
            ],
        )
    )
    zero = alt.Chart(pd.DataFrame({"x": [0.0]})).mark_rule(strokeDash=[4, 4]).encode(x="x:Q")
    layers: list[Any] = [bars, dots, zero]
    if tolerance is not None:
        band = (
            alt.Chart(pd.DataFrame({"low": [-tolerance], "high": [tolerance]}))
            .mark_rect(opacity=0.12, color="#59a14f")
            .encode(x="low:Q", x2="high:Q")
        )
        layers.insert(0, band)
    return alt.LayerChart(layer=layers)


# --- JMLE, as FACETS -----------------------------------------------------------------------------


def _jmle(report: RaterReport) -> None:
    result = report.result
    ratings = report.ratings
    warnings = report.warnings()
    if not result.converged:
        st.error(
            f"**Not trustworthy: the rater model did not converge** in {result.iterations} "
            "iterations. Severities below are where the iterations stopped, not estimates"
            + (
                f"; {report.unplaced_text()} cannot be placed at all and show as not measured."
                if report.unplaced_text()
                else "."
            )
            + " The random-effects model is made for such designs.",
            icon=":material/error:",
        )
        warnings = warnings[1:]  # the first says so (RaterReport.warnings): the banner above

    cols = st.columns(4)
    cols[0].metric("Ratings", f"{result.n:,}", help="All live ratings of this rubric version.")
    cols[1].metric(
        "Estimated",
        f"{result.n_estimation:,}",
        help="Ratings in the estimation: those not involving an extreme element (all lowest "
        "or all highest scores).",
    )
    cols[2].metric("Submissions", f"{len(ratings.units):,}")
    cols[3].metric("Assessors", f"{len(ratings.raters):,}")
    for warning in warnings:
        st.warning(escape(warning))  # may name assessors (stored text)

    st.subheader("Assessors")
    table = _assessors(report)
    fit_low, fit_high = _fit_range()
    st.dataframe(
        table.style.apply(_highlight, axis=1),
        placeholder="-",  # no value: not measured (status), not computed, or no fit (extreme)
        hide_index=True,
        width="stretch",
        height="content" if len(table) <= 20 else "auto",
        key="raters_table",
        column_config={
            "assessor": st.column_config.TextColumn(width="small", pinned=True),
            "severity": st.column_config.NumberColumn(
                format="%.2f", width="small", help="Logits; + = harsher"
            ),
            "low": st.column_config.NumberColumn(format="%.2f", width="small"),
            "high": st.column_config.NumberColumn(format="%.2f", width="small"),
            "se": st.column_config.NumberColumn(
                "SE",
                format="%.2f",
                width="small",
                help="Model SE (FACETS): the submissions taken as known.",
            ),
            "se joint": st.column_config.NumberColumn(
                "SE (joint)",
                format="%.2f",
                width="small",
                help="With the uncertainty of the submissions' own measures: the honest one "
                "when each submission has few ratings. The intervals use it.",
            ),
            "infit": st.column_config.NumberColumn(
                format="%.2f", width="small", help=FIT.format(low=fit_low, high=fit_high)
            ),
            "outfit": st.column_config.NumberColumn(
                format="%.2f", width="small", help=FIT.format(low=fit_low, high=fit_high)
            ),
            "fair average": st.column_config.NumberColumn(
                format="%.2f",
                width="small",
                help="Expected score from an average submission on an average "
                "criterion: the assessor's severity on the rubric's scale.",
            ),
            "observed average": st.column_config.NumberColumn(format="%.2f", width="small"),
            "n": st.column_config.NumberColumn(width="small"),
            "subset": st.column_config.NumberColumn(width="small"),
            "flag": st.column_config.TextColumn(width="large"),
        },
    )
    st.caption(
        f"Sorted by severity. {LOGIT} Flag: what the {report.level:.0%} interval (joint SE) "
        "says against the average and the programme's tolerance, and infit/outfit outside "
        f"{fit_low:g}–{fit_high:g} (highlighted). " + FIT.format(low=fit_low, high=fit_high)
    )
    placed = table[table["interval says"].notna()]
    if len(placed) < len(table):
        st.caption(
            "Not plotted: "
            + escape(", ".join(sorted(table.loc[table["interval says"].isna(), "assessor"])))
            + " (not measured, or extreme: no interval)."
        )
    if len(placed):
        st.altair_chart(
            _caterpillar(placed, report.tolerance, report.level),
            key="raters_chart",
            width="stretch",
            height=_chart_height(len(placed)),
        )

    st.subheader("Separation and reliability")
    st.dataframe(
        _facets(result),
        height="content",
        width="stretch",
        key="raters_facets",
        column_config={
            **{
                name: st.column_config.NumberColumn(format="%.2f")
                for name in ("separation", "strata", "reliability", "RMSE", "true SD")
            },
            "chi-square": st.column_config.NumberColumn(format="%.1f"),
            "df": st.column_config.NumberColumn(format="%d"),
            "p": st.column_config.NumberColumn(format="%.3f"),
        },
    )
    st.caption(
        "Reliability of separation: for submissions, high is good (the rubric tells earners "
        "apart); for assessors, high means they differ reliably in severity: a rater effect to "
        "act on. Separation: the spread of measures in units of error; strata: levels three "
        "errors apart, (4 × separation + 1) / 3. The chi-square tests that all elements of a "
        "facet share one measure."
    )

    st.subheader("Rating scale")
    st.dataframe(
        _thresholds(result),
        hide_index=True,
        width="stretch",
        height="content",
        key="raters_thresholds",
    )
    st.caption(
        "Thresholds: where two adjacent levels are equally probable (logits); they should "
        "rise with the level."
    )


def _assessors(report: RaterReport) -> pd.DataFrame:
    """The assessor facet as rows by severity, harshest first, with the interval and what it
    says, and a plain-words flag; assessors the data cannot place last (by name), with the
    status "not measured" and no severity, SEs or fair average."""
    ratings, unplaced = report.ratings, report.unplaced()["assessors"]
    intervals, readings = report.intervals(), report.readings()
    nan = float("nan")
    fit_low, fit_high = _fit_range()
    rows = []
    for e in report.result.assessors.elements:
        flags = [UNPLACED[unplaced[e.code]]] if e.code in unplaced else []
        for stat, value in (("infit", e.infit), ("outfit", e.outfit)):
            if value == value and not fit_low <= value <= fit_high:
                flags.append(
                    f"{stat} {value:.2f}: {'too predictable' if value < fit_low else 'erratic'}"
                )
        low, high = intervals.get(e.code, (nan, nan))
        rows.append(
            {
                "assessor": ratings.raters[e.code],
                "severity": nan if e.code in unplaced else e.measure,
                "interval says": readings.get(e.code),
                "low": low,
                "high": high,
                "se": nan if e.code in unplaced else e.se,
                "se joint": nan if e.code in unplaced else e.se_joint,
                "infit": e.infit,
                "outfit": e.outfit,
                "fair average": nan if e.code in unplaced else e.fair_average,
                "observed average": e.observed_average,
                "n": e.n,
                "status": NOT_MEASURED if e.code in unplaced else e.status,
                "subset": e.subset + 1,
                "flag": "; ".join(flags),
            }
        )
    return pd.DataFrame(rows).sort_values(
        ["severity", "assessor"], ascending=[False, True], ignore_index=True, na_position="last"
    )


def _highlight(row: pd.Series) -> list[str]:
    flag = str(row["flag"])
    if NOT_MEASURED in flag:
        color = "background-color: rgba(128, 128, 128, 0.18)"
    elif "infit" in flag or "outfit" in flag:
        color = "background-color: rgba(255, 75, 75, 0.18)"
    else:
        color = ""
    return [color] * len(row)


def _facets(result: RaschResult) -> pd.DataFrame:
    reports: dict[str, FacetReport] = {
        "assessors": result.assessors,
        "criteria": result.criteria,
        "submissions": result.submissions,
    }
    table = pd.DataFrame(
        {
            name: {
                "separation": r.separation,
                "strata": r.strata,
                "reliability": r.reliability,
                "RMSE": r.rmse,
                "true SD": r.true_sd,
                "chi-square": r.chi_square,
                "df": r.df,
                "p": r.p,
            }
            for name, r in reports.items()
        }
    ).T
    table.index.name = "facet"
    return table


def _thresholds(result: RaschResult) -> pd.DataFrame:
    rows = []
    for t in result.thresholds:
        for k, (tau, se) in enumerate(zip(t.tau, t.se, strict=True)):
            rows.append(
                {
                    "step": f"{t.categories[k]:g} → {t.categories[k + 1]:g}",
                    "threshold": tau,
                    "se": se,
                    "disordered": t.disordered,
                }
            )
    return pd.DataFrame(rows)
