"""Rater effects page: assessor severity and consistency from the many-facet Rasch model."""

from __future__ import annotations

from typing import TYPE_CHECKING

import altair as alt
import pandas as pd
import streamlit as st

from calibrate.dashboard import data
from calibrate.dashboard.text import escape
from calibrate.errors import CalibrateError

if TYPE_CHECKING:
    from calibrate.access import Actor
    from calibrate.analyses.raters import RaterReport
    from calibrate.stats.rasch import FacetReport, RaschResult


def _fit_range() -> tuple[float, float]:
    """The productive range of infit/outfit mean squares: programme rules ``flags.fit_low`` and
    ``flags.fit_high`` (Linacre; Myford & Wolfe 2003)."""
    flags = data.programme_rules(data.database_url()).flags
    return flags.fit_low, flags.fit_high


NOT_MEASURED = "not measured"
UNPLACED = {
    "drifted": "not measured: no finite estimate (drifted outward while the model did not "
    "converge)",
    "alone": "not measured: alone in a subset, linked to no other assessor",
}


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
    ratings = data.selection(url, actor, rubric, "live").ratings
    if not len(ratings):
        data.no_ratings_notice(rubric, "live")
        return
    try:
        report = data.rater_effects(url, actor, rubric, "live")
    except CalibrateError as exc:
        st.warning(f"The rater model cannot be fitted to these ratings: {escape(exc)}")
        return
    result = report.result
    warnings = report.warnings()
    if not result.converged:
        st.error(
            f"**Not trustworthy: the rater model did not converge** in {result.iterations} "
            "iterations. Severities below are where the iterations stopped, not estimates"
            + (
                f"; {report.unplaced_text()} cannot be placed at all and show as not measured."
                if report.unplaced_text()
                else "."
            ),
            icon=":material/error:",
        )
        warnings = warnings[1:]  # the first says so (RaterReport.warnings): the banner above

    cols = st.columns(5)
    cols[0].metric("Ratings", f"{result.n:,}", help="All live ratings of this rubric version.")
    cols[1].metric(
        "In estimation",
        f"{result.n_estimation:,}",
        help="Ratings not involving an extreme element (all lowest or all highest scores).",
    )
    cols[2].metric("Submissions", f"{len(ratings.units):,}")
    cols[3].metric("Assessors", f"{len(ratings.raters):,}")
    cols[4].metric("Criteria", f"{len(ratings.criteria):,}")
    for warning in warnings:
        st.warning(escape(warning))  # may name assessors (stored text)

    st.subheader("Assessors")
    table = _assessors(report)
    st.dataframe(
        table.style.apply(_highlight, axis=1),
        placeholder="-",  # no value: not measured (status), not computed, or no fit (extreme)
        hide_index=True,
        height="content" if len(table) <= 20 else "auto",
        key="raters_table",
        column_config={
            "severity": st.column_config.NumberColumn(format="%.2f", help="Logits; + = harsher"),
            "se": st.column_config.NumberColumn(
                "SE", format="%.2f", help="Model SE (FACETS): the submissions taken as known."
            ),
            "se joint": st.column_config.NumberColumn(
                "SE (joint)",
                format="%.2f",
                help="With the uncertainty of the submissions' own measures: the honest one "
                "when each submission has few ratings.",
            ),
            "infit": st.column_config.NumberColumn(format="%.2f"),
            "outfit": st.column_config.NumberColumn(format="%.2f"),
            "fair average": st.column_config.NumberColumn(
                format="%.2f",
                help="Expected score from an average submission on an average "
                "criterion: the assessor's severity on the rubric's scale.",
            ),
            "observed average": st.column_config.NumberColumn(format="%.2f"),
        },
    )
    fit_low, fit_high = _fit_range()
    st.caption(
        "Sorted from most severe to most lenient. Severity in logits (0 = the average "
        f"assessor). Infit/outfit mean squares near 1 are expected; outside {fit_low:g}–"
        f"{fit_high:g} (highlighted) an assessor's scores are too predictable (< {fit_low:g}: "
        f"central tendency or halo) or too erratic (> {fit_high:g}) to be productive for "
        "measurement (Linacre; Myford & Wolfe 2003). Intervals use the joint SE: with only "
        "a few ratings per submission the model SE understates how uncertain a severity is; an "
        "assessor who shares few submissions with others gets a wide one (flagged uncertain)."
    )
    measured = table[table["severity"].notna()]
    if len(measured) < len(table):
        st.caption(
            "Not plotted: "
            + escape(", ".join(sorted(table.loc[table["severity"].isna(), "assessor"])))
            + " (not measured)."
        )
    st.altair_chart(_severity_chart(measured), key="raters_chart")

    st.subheader("Separation and reliability")
    st.dataframe(
        _facets(result),
        height="content",
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
        "act on. The chi-square tests that all elements of a facet share one measure."
    )

    st.subheader("Rating scale")
    st.dataframe(_thresholds(result), hide_index=True, height="content", key="raters_thresholds")
    st.caption(
        "Thresholds: where two adjacent levels are equally probable (logits); they should "
        "rise with the level."
    )


def _assessors(report: RaterReport) -> pd.DataFrame:
    """The assessor facet as rows, most severe first, with a plain-words flag; assessors the data
    cannot place last (by name), with the status "not measured" and no severity, SEs or fair
    average."""
    ratings, unplaced = report.ratings, report.unplaced()["assessors"]
    nan = float("nan")
    rows = [
        {
            "assessor": ratings.raters[e.code],
            "severity": nan if e.code in unplaced else e.measure,
            "se": nan if e.code in unplaced else e.se,
            "se joint": nan if e.code in unplaced else e.se_joint,
            "infit": e.infit,
            "outfit": e.outfit,
            "fair average": nan if e.code in unplaced else e.fair_average,
            "observed average": e.observed_average,
            "n": e.n,
            "status": NOT_MEASURED if e.code in unplaced else e.status,
            "subset": e.subset + 1,
        }
        for e in report.result.assessors.elements
    ]
    table = pd.DataFrame(rows).sort_values(
        ["severity", "assessor"], ascending=[False, True], ignore_index=True, na_position="last"
    )
    flags: list[list[str]] = [[] for _ in range(len(table))]
    by_name = {ratings.raters[code]: why for code, why in unplaced.items()}
    for i, name in enumerate(table["assessor"]):
        if name in by_name:
            flags[i].append(UNPLACED[by_name[name]])
    estimated = table.index[table["status"] == "estimated"]
    severity = table["severity"].to_numpy(dtype=float)
    se_joint = table["se joint"].to_numpy(dtype=float)
    if len(estimated) > 1:
        for i, word in ((estimated[0], "most severe"), (estimated[-1], "most lenient")):
            if abs(severity[i]) < 2 * se_joint[i]:  # False when the joint SE is NaN
                word += " (uncertain: within 2 SE of average)"
            flags[i].append(word)
    fit_low, fit_high = _fit_range()
    for i, fit in enumerate(zip(table["infit"], table["outfit"], strict=True)):
        for stat, value in zip(("infit", "outfit"), fit, strict=True):
            if value == value and not fit_low <= value <= fit_high:
                word = "too predictable" if value < fit_low else "erratic"
                flags[i].append(f"{stat} {value:.2f}: {word}")
    table["flag"] = ["; ".join(f) for f in flags]
    return table


def _highlight(row: pd.Series) -> list[str]:
    flag = str(row["flag"])
    if NOT_MEASURED in flag:
        color = "background-color: rgba(128, 128, 128, 0.18)"
    elif "infit" in flag or "outfit" in flag:
        color = "background-color: rgba(255, 75, 75, 0.18)"
    elif flag:
        color = "background-color: rgba(255, 170, 0, 0.18)"
    else:
        color = ""
    return [color] * len(row)


def _severity_chart(table: pd.DataFrame) -> alt.LayerChart:
    """Severity with +-2 joint SE (model SE where there is none) per assessor, most severe at
    the top."""
    se = table["se joint"].fillna(table["se"])
    points = table.assign(low=table["severity"] - 2 * se)
    points = points.assign(
        high=table["severity"] + 2 * se,
        fit=["flagged" if "fit" in f else "within 0.5-1.5" for f in table["flag"]],
    )
    # Intervals wider than the severities' range +- 3 logits run off the edge (clamped), so
    # that one huge SE (a model that did not converge) leaves the severities readable.
    low = max(points["low"].min(), table["severity"].min() - 3)
    high = min(points["high"].max(), table["severity"].max() + 3)
    scale = alt.Scale(domain=[low, high], clamp=True, nice=False)
    y = alt.Y("assessor:N", sort=list(table["assessor"]), title=None)
    bars = alt.Chart(points).mark_rule().encode(x=alt.X("low:Q", scale=scale), x2="high:Q", y=y)
    dots = (
        alt.Chart(points)
        .mark_point(filled=True, size=70)
        .encode(
            x=alt.X("severity:Q", scale=scale, title="severity (logits, + = harsher), ± 2 SE"),
            y=y,
            color=alt.Color(
                "fit:N",
                title="infit/outfit",
                scale=alt.Scale(domain=["within 0.5-1.5", "flagged"], range=["#4e79a7", "#e15759"]),
            ),
            tooltip=[
                "assessor",
                alt.Tooltip("severity:Q", format=".2f"),
                alt.Tooltip("se:Q", format=".2f", title="SE"),
                alt.Tooltip("se joint:Q", format=".2f", title="SE (joint)"),
                "n",
                "flag",
            ],
        )
    )
    zero = alt.Chart(pd.DataFrame({"x": [0.0]})).mark_rule(strokeDash=[4, 4]).encode(x="x:Q")
    return alt.LayerChart(layer=[bars, dots, zero])


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
