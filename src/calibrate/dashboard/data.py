"""Cached access to the store for the dashboard pages (one engine per database URL).

Cached functions take the database URL as their first argument, so the cache follows the store
the process is pointed at (``CALIBRATE_DATABASE_URL``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import streamlit as st
from sqlalchemy import Engine

from calibrate import store
from calibrate.agreement_report import AgreementReport, agreement_report
from calibrate.rater_report import RaterReport, rater_report
from calibrate.ratings import CONTEXTS, Keep, Ratings
from calibrate.selection import Selection, pass_decisions, stored_selection
from calibrate.settings import get_settings
from calibrate.stats.accuracy import DecisionAgreement
from calibrate.stats.gtheory import GStudy, gstudy
from calibrate.stats.rasch import MAX_ITER, TOL

EMPTY_STORE = "The store is empty. Load the demo programme with `calibrate demo`."


def no_ratings_notice(rubric: str, context: str) -> None:
    """Say that a choice has no ratings, and how to get some."""
    st.info(
        f"The store has no {context} ratings of {rubric}. Load the demo programme with "
        "`calibrate demo`, or import ratings with `calibrate import ratings`."
    )


def database_url() -> str:
    return get_settings().database_url


@st.cache_resource
def engine(url: str) -> Engine:
    """The migrated store at ``url``."""
    return store.open_store(url)


@st.cache_data(ttl=30)
def counts(url: str) -> dict[str, int]:
    return store.counts(engine=engine(url))


@st.cache_data(ttl=300)
def rubrics(url: str) -> list[dict[str, Any]]:
    return [r.to_dict() for r in store.stored_rubrics(engine=engine(url))]


# --- per-page analyses: cached by (database URL, rubric version, context, options) -------------

Show = Callable[[float, str], None]
"""``show(fraction, text)``: move a progress bar to ``fraction`` (0..1) with ``text``."""


@contextmanager
def progress_bar(label: str) -> Iterator[Show]:
    """A progress bar for the duration of a computation, removed when it ends.

    Used inside the cached functions below: Streamlit records the bar with the cached result and
    replays it (created, filled, removed) on a cache hit, so the bar must be created here rather
    than by the caller. Updates are limited to whole percents, never backwards.
    """
    bar = st.progress(0.0, text=label)
    shown = -1

    def show(fraction: float, text: str) -> None:
        nonlocal shown
        percent = int(100 * min(max(fraction, 0.0), 1.0))
        if percent > shown:
            shown = percent
            bar.progress(percent, text=f"{label}: {text}")

    try:
        yield show
    finally:
        bar.empty()


def rubric_versions(url: str) -> dict[str, dict[str, Any]]:
    """The stored rubric versions by ``id@version`` (the key every page selects by)."""
    return {f"{r['id']}@{r['version']}": r for r in rubrics(url)}


def choose_rubric(container: Any, versions: dict[str, dict[str, Any]], key: str) -> str:
    """A rubric-version select box (``id@version · title``) in ``container``."""
    chosen: str = container.selectbox(
        "Rubric version",
        list(versions),
        format_func=lambda version: f"{version} · {versions[version]['title']}",
        key=key,
    )
    return chosen


def choose_context(container: Any, key: str) -> str:
    """A select box of the rating contexts in ``container``, live (earners' submissions) first."""
    chosen: str = container.selectbox(
        "Ratings",
        ["live", *(c for c in CONTEXTS if c != "live")],
        format_func=lambda c: c if c == "live" else f"{c} (anchor submissions)",
        key=key,
        help="Live: earners' submissions. Practice, qualification, validity: anchor "
        "submissions scored by assessors in calibration rounds.",
    )
    return chosen


KEEP_LABELS: dict[Keep, str] = {"first": "First reading", "last": "Latest reading"}


def keep_choice(url: str, rubric: str, context: str, key: str) -> Keep:
    """Which reading counts when assessors scored a submission more than once (calibration
    retakes of the same anchor): asked only when the ratings have such repeats."""
    repeats = n_repeated(url, rubric, context)
    if not repeats:
        return "first"
    choice: Keep = st.radio(
        "Repeated readings",
        list(KEEP_LABELS),
        format_func=KEEP_LABELS.__getitem__,
        horizontal=True,
        key=key,
        help=f"{repeats:,} ratings repeat a cell an assessor had already scored (a retake of "
        "the same anchor). The statistics take one rating per assessor, submission and "
        "criterion: the first reading is the independent one, the latest shows where "
        "assessors ended up.",
    )
    return choice


@st.cache_data(ttl=60, max_entries=64, show_spinner=False)
def n_repeated(url: str, rubric: str, context: str) -> int:
    """Ratings that repeat an assessor's reading of a submission on a criterion."""
    every = store.load_ratings(engine=engine(url), rubric=rubric, contexts=[context])
    return len(every) - len(every.select(keep="first"))


@st.cache_data(ttl=60, max_entries=64, show_spinner=False)
def selection(url: str, rubric: str, context: str, keep: Keep = "first") -> Selection:
    """One rubric version's current ratings in one context (possibly none), one per
    assessor, submission and criterion (``keep``), with the stored rubric."""
    return stored_selection(engine=engine(url), rubric=rubric, context=context, keep=keep)


def double_scored(ratings: Ratings) -> tuple[int, dict[str, int]]:
    """Submissions scored by two or more assessors (the ones agreement rests on): overall and
    per criterion label."""
    if not len(ratings):
        return 0, {}
    n_units, n_criteria = len(ratings.units), len(ratings.criteria)
    pairs = np.unique(ratings.unit * len(ratings.raters) + ratings.rater) // len(ratings.raters)
    overall = int((np.bincount(pairs, minlength=n_units) >= 2).sum())
    cells = np.bincount(
        ratings.unit * n_criteria + ratings.criterion, minlength=n_units * n_criteria
    )
    per = cells.reshape(n_units, n_criteria) >= 2
    return overall, {c: int(per[:, k].sum()) for k, c in enumerate(ratings.criteria)}


@st.cache_data(ttl=300, max_entries=32, show_spinner=False)
def agreement(
    url: str, rubric: str, context: str, keep: Keep, n_boot: int, seed: int
) -> AgreementReport:
    """:func:`~calibrate.agreement_report.agreement_report` with ``n_boot`` bootstrap resamples
    (seeded) on the rubric's levels, with a progress bar while it runs."""
    chosen = selection(url, rubric, context, keep)
    with progress_bar(f"Bootstrap, {n_boot:,} resamples") as show:
        return agreement_report(
            chosen.ratings,
            levels=chosen.levels,
            n_boot=n_boot,
            seed=seed,
            progress=lambda done, total, stage: show(
                done / total if total else 1.0, f"{stage} {done:,}/{total:,}"
            ),
        )


@st.cache_data(ttl=300, max_entries=32, show_spinner=False)
def decisions(url: str, rubric: str, keep: Keep) -> DecisionAgreement | None:
    """Pass-decision agreement of double-scored live work
    (:func:`~calibrate.selection.pass_decisions`)."""
    return pass_decisions(selection(url, rubric, "live", keep))


@st.cache_data(ttl=300, max_entries=32, show_spinner=False)
def rater_effects(url: str, rubric: str, context: str = "live") -> RaterReport:
    """The many-facet Rasch fit (:func:`calibrate.rater_report.rater_report`, as ``calibrate
    raters``, with the rubric's levels), with a progress bar while it runs."""
    chosen = selection(url, rubric, context)
    with progress_bar("Fitting the rater model") as show:

        def step(iteration: int, change: float) -> None:
            # Convergence on a log scale: a change of 1 logit shows 0, the tolerance 1.
            converging = math.log(change) / math.log(TOL) if 0 < change < 1 else 0.0
            show(
                max(iteration / MAX_ITER, converging),
                f"iteration {iteration}, largest change {change:.5f} logits",
            )

        return rater_report(chosen.ratings, levels=chosen.levels, progress=step)


@st.cache_data(ttl=300, max_entries=32, show_spinner=False)
def reliability(
    url: str,
    rubric: str,
    context: str,
    keep: Keep,
    target: float,
    max_assessors: int,
) -> GStudy:
    """G and D study (:func:`~calibrate.stats.gtheory.gstudy`, design detected)."""
    data = selection(url, rubric, context, keep).ratings
    return gstudy(
        data.unit,
        data.rater,
        data.value,
        data.criterion,
        target=target,
        max_assessors=max_assessors,
    )
