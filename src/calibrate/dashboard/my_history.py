"""My history page: the assessor's own agreement with the experts over time, per criterion and
per kind of work, with intervals, and their qualification rounds
(:func:`calibrate.services.my_history`).

Everything is in words or plain headers: the share of criterion scores equal to the experts'
("exact agreement") and the mean difference in levels, each with its 95% interval (clustered by
anchor: an anchor's criteria are not independent). Checks hidden in live work count only for
calendar months that are over, as the service decides.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

import altair as alt
import pandas as pd
import streamlit as st

from calibrate import services
from calibrate.dashboard import data
from calibrate.dashboard.text import escape, table

if TYPE_CHECKING:
    from calibrate.access import Actor
    from calibrate.services.calibration import AccuracyLine, History

INTERVAL = "interval: the range the true figure probably lies in (95%)"
"""How the page explains an interval, once, where the figures are."""
EXACT = "same level as the experts"
MEAN = "your level minus the experts', on average"


def render(actor: Actor) -> None:
    st.title("My history")
    st.caption(
        "How your scores compare with the experts' on anchors (pieces of work the experts have "
        "already scored): practice, qualification rounds, and the checks hidden in your live "
        "work. Checks hidden in live work appear only for months that are over, so that this "
        "page never tells which item of the current month was one."
    )
    url = data.database_url()
    histories = services.my_history(engine=data.engine(url), actor=actor)
    if not histories:
        st.info(
            "No scores against the experts yet. Score a practice anchor (Practice in the menu) "
            "or take a qualification round, and your history starts here."
        )
        return
    versions = data.rubric_versions(url, actor)
    by_key = {h.rubric: h for h in histories}
    chosen = next(iter(by_key))
    if len(by_key) > 1:
        chosen = st.selectbox(
            "Rubric version",
            list(by_key),
            format_func=lambda v: data.rubric_option(v, versions) if v in versions else v,
            key="my_history_rubric",
        )
    _history(url, actor, by_key[chosen])


def _history(url: str, actor: Actor, history: History) -> None:
    line = history.overall
    if line is None:
        st.info(
            escape(
                f"No scored anchors on {history.rubric} to compare with the experts yet; your "
                "rounds are listed below."
            )
        )
    else:
        st.markdown(f"**In short.** {escape(_words(line))}")
        st.caption(escape(_capital(INTERVAL) + "."))
        _months(url, actor, history)
        st.subheader("By criterion", anchor=False)
        _lines(history.by_criterion, "criterion")
        st.subheader("By kind of work", anchor=False)
        _lines(history.by_kind, "kind of work")
        st.caption(
            escape(
                f"{_capital(EXACT)}: the share of your criterion scores equal to the experts'. "
                f"{_capital(MEAN)}: positive when you score higher than the experts (more "
                "lenient), negative when lower (stricter). In brackets, the interval: the range "
                "the true figure probably lies in (95%); none with fewer than two anchors."
            )
        )
    st.subheader("Qualification rounds", anchor=False)
    _rounds(history.rounds)


def _words(line: AccuracyLine) -> str:
    """The service's words, capitalised, and "too few anchors" for an interval it could not
    give (one anchor)."""
    text = line.words
    if math.isnan(_exact_interval(line)[0]):
        low, high = line.exact_interval
        text = text.replace(
            f" (95% interval {low:.0%} to {high:.0%})", " (too few anchors for an interval)"
        )
    return _capital(text)


def _exact_interval(line: AccuracyLine) -> tuple[float, float]:
    """The interval of the exact share; NaN with fewer than two anchors (the service clips its
    NaN bounds to 0 and 1 there, which would read as "anywhere from 0% to 100%")."""
    if line.anchors < 2:
        return math.nan, math.nan
    return line.exact_interval


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _share(value: float) -> str:
    return "–" if math.isnan(value) else f"{value:.0%}"


def _levels(value: float) -> str:
    """A difference in levels, signed, with a true minus sign (and no "−0.00")."""
    if math.isnan(value):
        return "–"
    value = round(value, 2) + 0.0  # -0.0 -> 0.0
    return "0.00" if value == 0 else f"{value:+.2f}".replace("-", "−")


def _interval(low: float, high: float, show: Callable[[float], str]) -> str:
    if math.isnan(low) or math.isnan(high):
        return "–"
    return f"{show(low)} to {show(high)}"


def _lines(lines: tuple[AccuracyLine, ...], what: str) -> None:
    """One row per line: exact agreement and mean difference, each with its interval."""
    table(
        {
            what: [x.group for x in lines],
            "anchors": [f"{x.anchors:,}" for x in lines],
            "criterion scores": [f"{x.ratings:,}" for x in lines],
            f"{EXACT} (interval)": [
                _with(_share(x.exact), _interval(*_exact_interval(x), _share)) for x in lines
            ],
            "within one level of the experts": [_share(x.adjacent) for x in lines],
            f"{MEAN}, in levels (interval)": [
                _with(_levels(x.deviation), _interval(*x.deviation_interval, _levels))
                for x in lines
            ],
        }
    )


def _with(value: str, interval: str) -> str:
    return value if interval == "–" else f"{value} ({interval})"


def _months(url: str, actor: Actor, history: History) -> None:
    """Exact agreement by month with its interval band, against the qualification standard."""
    months = [m for m in history.by_month if m.group != "no date"]
    if not months:
        return
    st.subheader("By month", anchor=False)
    standard = data.programme_rules(url, history.rubric, actor).qualification.min_exact
    st.altair_chart(_chart(months, standard), key=f"my_history_chart_{history.rubric}")
    st.caption(
        escape(
            "Dots: the share of your criterion scores equal to the experts' in each month (only "
            "months with scores). Shaded bar: the interval, the range the true figure probably "
            "lies in (95%); long in a month with few anchors. Dashed line: the share a "
            f"qualification round asks for ({standard:.0%})."
        )
    )


def _chart(months: list[AccuracyLine], standard: float) -> alt.LayerChart:
    """A dot per month with its interval as a shaded bar, a light line between the dots, and
    the qualification standard as a dashed line named in the legend. Months without scores have
    no bar (no band is drawn across them)."""
    points = pd.DataFrame(
        {
            "month": [datetime.strptime(m.group, "%Y-%m") for m in months],
            "exact": [m.exact for m in months],
            "low": [_exact_interval(m)[0] for m in months],
            "high": [_exact_interval(m)[1] for m in months],
            "anchors": [m.anchors for m in months],
            "scores": [m.ratings for m in months],
        }
    )
    x = alt.X(
        "yearmonth(month):T",
        title="Month",
        axis=alt.Axis(
            format="%b %Y",
            values=[alt.DateTime(year=m.year, month=m.month) for m in points["month"]],
            labelAngle=0,
        ),
        scale=alt.Scale(padding=40),  # the first and last month clear of the edges
    )
    y_scale = alt.Scale(domain=[0, 1])
    tooltip = [
        alt.Tooltip("yearmonth(month):T", title="month", format="%B %Y"),
        alt.Tooltip("exact:Q", title="same level as the experts", format=".0%"),
        alt.Tooltip("low:Q", title="interval from", format=".0%"),
        alt.Tooltip("high:Q", title="interval to", format=".0%"),
        alt.Tooltip("anchors:Q", title="anchors"),
        alt.Tooltip("scores:Q", title="criterion scores"),
    ]
    band = (
        alt.Chart(points)
        .mark_rule(opacity=0.25, strokeWidth=22, color="#1f77b4")
        .encode(x=x, y=alt.Y("low:Q", scale=y_scale), y2="high:Q", tooltip=tooltip)
    )
    trend = alt.Chart(points).mark_line(color="#9ab8d6", strokeWidth=1).encode(x=x, y="exact:Q")
    dots = (
        alt.Chart(points)
        .mark_point(filled=True, size=80, color="#1f77b4", opacity=1)
        .encode(
            x=x,
            y=alt.Y(
                "exact:Q",
                title="Your scores at the experts' level",
                scale=y_scale,
                axis=alt.Axis(format="%"),
            ),
            tooltip=tooltip,
        )
    )
    name = f"qualification standard: {standard:.0%} at the experts' level"
    rule = (
        alt.Chart(pd.DataFrame({"at": [standard], "line": [name]}))
        .mark_rule(strokeDash=[4, 4])
        .encode(
            y="at:Q",
            color=alt.Color(
                "line:N",
                scale=alt.Scale(domain=[name], range=["#59a14f"]),
                legend=alt.Legend(title=None, orient="top", labelLimit=0, symbolStrokeWidth=2),
            ),
        )
    )
    return alt.LayerChart(layer=[band, trend, dots, rule]).properties(height=260)


def _rounds(rounds: tuple[dict[str, Any], ...]) -> None:
    if not rounds:
        st.markdown("No qualification round yet.")
        return
    table(
        {
            "round": [f"Round {i}" for i in range(1, len(rounds) + 1)],
            "started": [_date(r["started_at"]) for r in rounds],
            "finished": [_date(r["finished_at"]) for r in rounds],
            "result": [
                "open" if r["finished_at"] is None else "passed" if r["passed"] else "not passed"
                for r in rounds
            ],
        }
    )


def _date(moment: str | None) -> str:
    return "–" if moment is None else f"{datetime.fromisoformat(moment):%Y-%m-%d}"
