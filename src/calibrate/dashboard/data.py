"""Cached calls of the services for the dashboard pages (one engine per database URL).

Pages call these, these call :mod:`calibrate.services` (never the store or the estimators), so
the dashboard shows what the CLI prints. Cached functions take the database URL and the acting
account (:class:`calibrate.access.Actor`, frozen and hashable) as their first arguments, so the
cache follows the store the process is pointed at (``CALIBRATE_DATABASE_URL``) and one account
never receives what was computed for another (a board reviewer's pseudonyms, an issuer's
rubrics).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import TYPE_CHECKING, Any

import streamlit as st

from calibrate import services
from calibrate.settings import get_settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from calibrate.access import Actor
    from calibrate.analyses.accuracy import AccuracyReport
    from calibrate.analyses.attempts import AttemptReport
    from calibrate.analyses.drift import DriftReport
    from calibrate.analyses.raters import Estimator, RaterReport, SeverityReport
    from calibrate.analyses.rubric_audit import RubricAudit
    from calibrate.analyses.selection import Selection
    from calibrate.flags import FlagReport
    from calibrate.ratings import Keep
    from calibrate.rules import ProgrammeRules
    from calibrate.stats.gtheory import GStudy

CONTEXTS = ("live", "practice", "qualification", "validity")  # live (earners' work) first
SEED = 2026
"""The pages' bootstrap seed: the same data give the same intervals on every visit."""
RESAMPLES = 1000
"""Resamples of submissions behind the Reliability page's intervals."""
KEEP_LABELS: dict[Keep, str] = {"first": "First reading", "last": "Latest reading"}

EMPTY_STORE = "The store is empty. Load the demo programme with `calibrate demo`."
NO_RUBRICS = (
    "You have no rubric versions yet: the store holds none of your issuer's. Load the demo "
    "programme with `calibrate demo`, or import rubrics with `calibrate import definitions`."
)


def no_rubrics_notice(actor: Actor) -> None:
    """Say that the account sees no rubric version, and how to get some."""
    st.info(EMPTY_STORE if actor.role in ("admin", "operator") else NO_RUBRICS)


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
    return services.open_store(url)


@st.cache_data(ttl=30, show_spinner=False)
def counts(url: str, actor: Actor) -> dict[str, int]:
    """What the store holds of ``actor``'s issuers (:func:`calibrate.services.store_status`)."""
    return services.store_status(engine=engine(url), actor=actor)


@st.cache_data(ttl=60, show_spinner=False)
def rubrics(url: str, actor: Actor) -> list[dict[str, Any]]:
    """The rubric versions ``actor`` may read (:func:`calibrate.services.rubrics`)."""
    return [r.to_dict() for r in services.rubrics(engine=engine(url), actor=actor)]


@st.cache_resource(ttl=60)  # immutable, and not picklable (read-only mappings)
def programme_rules(
    url: str, rubric: str | None = None, actor: Actor | None = None
) -> ProgrammeRules:
    """The programme rules in force (:func:`calibrate.services.programme_rules`): for the
    programme, or for one stored rubric version (``id@version``) that ``actor`` may read."""
    if rubric is None:
        return services.programme_rules()
    return services.programme_rules(rubric=rubric, engine=engine(url), actor=actor)


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


def rubric_versions(url: str, actor: Actor) -> dict[str, dict[str, Any]]:
    """The rubric versions ``actor`` may read by ``id@version`` (the key every page selects
    by)."""
    return {f"{r['id']}@{r['version']}": r for r in rubrics(url, actor)}


def rubric_option(version: str, versions: dict[str, dict[str, Any]]) -> str:
    """``id@version · title``: a select box's option, which Streamlit shows as plain text (an
    escape would show; the browser test checks that a hostile title stays text)."""
    return f"{version} · {versions[version]['title']}"


def choose_rubric(container: Any, versions: dict[str, dict[str, Any]], key: str) -> str:
    """A rubric-version select box (``id@version · title``) in ``container``."""
    chosen: str = container.selectbox(
        "Rubric version",
        list(versions),
        format_func=lambda version: rubric_option(version, versions),
        key=key,
    )
    return chosen


def choose_context(container: Any, key: str) -> str:
    """A select box of the rating contexts in ``container``, live (earners' submissions) first."""
    chosen: str = container.selectbox(
        "Ratings",
        list(CONTEXTS),
        format_func=lambda c: c if c == "live" else f"{c} (anchor submissions)",
        key=key,
        help="Live: earners' submissions. Practice, qualification, validity: anchor "
        "submissions scored by assessors in calibration rounds.",
    )
    return chosen


def keep_choice(url: str, actor: Actor, rubric: str, context: str, key: str) -> Keep:
    """Which reading counts when assessors scored a submission more than once (calibration
    retakes of the same anchor): asked only when the ratings have such repeats."""
    repeats = n_repeated(url, actor, rubric, context)
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
def n_repeated(url: str, actor: Actor, rubric: str, context: str) -> int:
    """Ratings that repeat an assessor's reading of a submission on a criterion."""
    return services.repeated_readings(
        engine=engine(url), actor=actor, rubric=rubric, context=context
    )


@st.cache_data(ttl=60, max_entries=64, show_spinner=False)
def selection(url: str, actor: Actor, rubric: str, context: str, keep: Keep = "first") -> Selection:
    """One rubric version's current ratings in one context (possibly none), one per
    assessor, submission and criterion (``keep``), with the stored rubric, as ``actor`` may
    see them (a board reviewer: pseudonyms)."""
    return services.stored_selection(
        engine=engine(url), actor=actor, rubric=rubric, context=context, keep=keep
    )


@st.cache_data(ttl=300, max_entries=32, show_spinner=False)
def agreement(
    url: str, actor: Actor, rubric: str, context: str, keep: Keep, n_boot: int, seed: int
) -> services.Agreement:
    """:func:`calibrate.services.agreement` with ``n_boot`` bootstrap resamples (seeded) on the
    rubric's levels, with a progress bar while it runs."""
    chosen = selection(url, actor, rubric, context, keep)
    with progress_bar(f"Bootstrap, {n_boot:,} resamples") as show:
        return services.agreement(
            chosen,
            n_boot=n_boot,
            seed=seed,
            progress=lambda done, total, stage: show(
                done / total if total else 1.0, f"{stage} {done:,}/{total:,}"
            ),
        )


@st.cache_data(ttl=300, max_entries=32, show_spinner=False)
def rater_effects(
    url: str, actor: Actor, rubric: str, context: str = "live", model: Estimator = "random"
) -> SeverityReport | RaterReport:
    """The rater model (:func:`calibrate.services.rater_effects`, as ``calibrate raters``): the
    random-effects model by default, ``jmle`` for comparison with FACETS; with a progress bar
    while it runs."""
    chosen = selection(url, actor, rubric, context)
    with progress_bar("Fitting the rater model") as show:
        return services.rater_effects(
            chosen, model=model, progress=lambda done, total, text: show(done / total, text)
        )


@st.cache_data(ttl=300, max_entries=32, show_spinner=False)
def reliability(
    url: str,
    actor: Actor,
    rubric: str,
    context: str,
    keep: Keep,
    target: float,
    max_assessors: int,
) -> GStudy:
    """G and D study (:func:`calibrate.services.reliability`, design detected), with
    :data:`RESAMPLES` resamples of submissions (seed :data:`SEED`) for its intervals."""
    chosen = selection(url, actor, rubric, context, keep)
    with progress_bar("Resampling submissions") as show:
        return services.reliability(
            chosen,
            target=target,
            max_assessors=max_assessors,
            n_boot=RESAMPLES,
            seed=SEED,
            progress=lambda done, total, text: show(done / total, text),
        )


@st.cache_data(ttl=300, max_entries=32, show_spinner=False)
def accuracy(url: str, actor: Actor, rubric: str, context: str, keep: Keep) -> AccuracyReport:
    """Accuracy against the experts on one anchor context (:func:`calibrate.services.
    stored_accuracy`, as ``calibrate accuracy --context CONTEXT --keep KEEP``)."""
    return services.stored_accuracy(
        engine=engine(url), actor=actor, rubric=rubric, context=context, keep=keep
    )


@st.cache_data(ttl=300, max_entries=32, show_spinner=False)
def attempts(url: str, actor: Actor, rubric: str) -> AttemptReport:
    """Consistency across earners' attempts (:func:`calibrate.services.attempt_consistency`)."""
    return services.attempt_consistency(engine=engine(url), actor=actor, rubric=rubric)


@st.cache_data(ttl=300, max_entries=16, show_spinner=False)
def drift(url: str, actor: Actor, rubric: str) -> DriftReport:
    """Drift of the rubric's assessors over time (:func:`calibrate.services.drift_report`)."""
    return services.drift_report(engine=engine(url), actor=actor, rubric=rubric)


@st.cache_data(ttl=300, max_entries=16, show_spinner=False)
def rubric_audit(url: str, actor: Actor, rubric: str) -> RubricAudit:
    """The rubric's quality audit (:func:`calibrate.services.audit_rubric`, seed :data:`SEED`)."""
    return services.audit_rubric(
        engine=engine(url), actor=actor, rubric=rubric, n_boot=RESAMPLES, seed=SEED
    )


@st.cache_data(ttl=300, max_entries=32, show_spinner=False)
def flags(url: str, actor: Actor, rubric: str, until: date | None, days: int | None) -> FlagReport:
    """Flags on the assessors (:func:`calibrate.services.assessor_flags`)."""
    with progress_bar("Testing assessors") as show:
        return services.assessor_flags(
            engine=engine(url), actor=actor, rubric=rubric, until=until, days=days,
            progress=lambda done, total, text: show(done / total, text),
        )  # fmt: skip
