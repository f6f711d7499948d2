"""The analyses every door shows: agreement, rater effects, reliability, accuracy.

Each job is one function here, called by the CLI and the dashboard alike, so the doors never
diverge. Ratings come from a file or from the store (:func:`select_ratings`); the use cases in
:mod:`calibrate.analyses` then compute on them without knowing where they came from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from calibrate.access import Actor, pseudonym, require
from calibrate.analyses.agreement import AgreementReport, agreement_report
from calibrate.analyses.selection import Selection, file_selection, pass_decisions
from calibrate.errors import AccessDenied, CalibrateError
from calibrate.ratings import CONTEXTS, Keep, Ratings, read_ratings_csv
from calibrate.services.connection import connected
from calibrate.stats import Progress
from calibrate.stats.gtheory import Design, GStudy, gstudy

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from calibrate.analyses.accuracy import AccuracyReport
    from calibrate.analyses.raters import Estimator, RaterReport, SeverityReport
    from calibrate.rubric import Rubric
    from calibrate.stats.accuracy import DecisionAgreement
    from calibrate.stats.rasch import Model

# The store (SQLAlchemy, SQLModel, Alembic), the rater model (scipy.sparse), the accuracy
# analyses and rubric files (pydantic, YAML) are imported by the functions that use them: a
# command on a file never loads the store, and each command loads only its own estimators.


def _scoped_rubric(rubric: str, *, engine: Engine, actor: Actor) -> Rubric:
    """The stored rubric version ``rubric`` if it lies in ``actor``'s issuers; one outside them
    is "not in the store", so that its existence does not leak."""
    from calibrate.store import stored_rubric

    return stored_rubric(rubric, engine=engine, issuers=actor.issuers)


def pseudonymised(ratings: Ratings, secret: bytes, *, units: bool = True) -> Ratings:
    """The ratings with assessors, submissions (unless ``units`` is false: anchors are no
    one's personal data, and accuracy needs their ids), earners and rounds replaced by stable
    keyed pseudonyms (:func:`calibrate.access.pseudonym`) and import batches dropped: what a
    board reviewer receives. The codes stay, so every statistic is unchanged."""
    from dataclasses import replace

    columns = {k: v for k, v in ratings.columns.items() if k != "batch"}
    for name in ("earner", "round"):
        if name in columns:
            kind: Literal["earner", "assessor"] = "earner" if name == "earner" else "assessor"
            columns[name] = np.array(
                [v if not v else pseudonym(secret, kind, f"{name}:{v}") for v in columns[name]],
                dtype=np.object_,
            )
    return replace(
        ratings,
        raters=tuple(pseudonym(secret, "assessor", r) for r in ratings.raters),
        units=tuple(pseudonym(secret, "submission", u) for u in ratings.units)
        if units
        else ratings.units,
        columns=columns,
    )


def _for(actor: Actor, ratings: Ratings, engine: Engine, *, units: bool = True) -> Ratings:
    if not actor.pseudonymous:
        return ratings
    from calibrate.store.accounts import pseudonym_secret

    return pseudonymised(ratings, pseudonym_secret(engine=engine), units=units)


def stored_selection(
    *,
    engine: Engine,
    actor: Actor,
    rubric: str,
    context: str = "live",
    keep: Keep | None = None,
) -> Selection:
    """The current ratings of one stored rubric version (``id@version``, or ``id`` when the
    store holds one version) in one context, one per cell, for the analyses of ``actor`` (lead
    assessor, administrator or board reviewer of the rubric's issuer, or the operator; a board
    reviewer receives pseudonyms).

    Raises
    ------
    AccessDenied
        An assessor (analyses show other assessors' ratings).
    CalibrateError
        Unknown context or rubric (a rubric of another issuer is unknown); repeated cells with
        no ``keep``. A selection without ratings is returned empty (the caller says so in its
        own words).
    """
    from calibrate.store import load_ratings

    require(actor, "analyses.read")
    context = context.lower()
    if context not in CONTEXTS:
        raise CalibrateError(f"unknown context {context!r} (one of {', '.join(CONTEXTS)})")
    version = _scoped_rubric(rubric, engine=engine, actor=actor)
    ratings = load_ratings(engine=engine, rubric=version.key, contexts=[context])
    return Selection(
        _for(actor, ratings.select(keep=keep), engine),
        version,
        context,
        f"store: {version.key}, {context}",
    )


def select_ratings(
    path: Path | None,
    *,
    engine: Engine | None = None,
    database: str | None = None,
    actor: Actor | None = None,
    rubric: str | None = None,
    context: str | None = None,
    keep: Keep | None = None,
    wide: bool = False,
    criterion: str | None = None,
    rubric_dir: Path | None = None,
) -> Selection:
    """The ratings an analysis runs on: a CSV file narrowed to one context and rubric, or
    without a file one rubric version and context of the store (``engine``, else the store at
    ``database``; live unless ``context`` says otherwise), read as ``actor``
    (:func:`stored_selection`). A file is its holder's: no account is involved.

    For a file, ``rubric_dir`` holds the programme's rubric files: the version the file names
    gives the levels and the pass rule, so that the file and the store it was exported from
    answer alike.

    Raises
    ------
    CalibrateError
        No rubric for the store, ``wide`` for the store (both before any database is opened),
        no ratings in the store's selection, or anything :func:`file_selection` /
        :func:`stored_selection` refuses.
    """
    if path is not None:
        rubrics: Sequence[Rubric] = ()
        if rubric_dir is not None:
            from calibrate.rubric import load_rubrics  # pydantic and YAML: only for rubric files

            rubrics = load_rubrics(rubric_dir)
        return file_selection(
            path,
            context=context,
            rubric=rubric,
            keep=keep,
            wide=wide,
            criterion=criterion,
            rubrics=rubrics,
        )
    if rubric is None:
        raise CalibrateError(
            "give RATINGS.csv, or --rubric ID[@VERSION] for the ratings in the store"
        )
    if wide:
        raise CalibrateError("--wide describes a file; the store holds long ratings")
    if actor is None:
        raise AccessDenied("reading the store needs an acting account (Actor)")
    if engine is None:
        with connected(database) as opened:
            return select_ratings(
                None, engine=opened, actor=actor, rubric=rubric, context=context, keep=keep
            )
    selection = stored_selection(
        engine=engine, actor=actor, rubric=rubric, context=context or "live", keep=keep
    )
    if not len(selection.ratings):
        raise CalibrateError(f"no ratings in the {selection.source}")
    return selection


def repeated_readings(*, engine: Engine, actor: Actor, rubric: str, context: str) -> int:
    """Ratings that repeat an assessor's reading of a submission on a criterion (calibration
    retakes of the same anchor): the cases where a ``keep`` choice matters."""
    from calibrate.store import load_ratings

    require(actor, "analyses.read")
    version = _scoped_rubric(rubric, engine=engine, actor=actor)
    every = load_ratings(engine=engine, rubric=version.key, contexts=[context])
    return len(every) - len(every.select(keep="first"))


@dataclass(frozen=True)
class Agreement:
    """Agreement among assessors on a selection, with the pass decisions where they apply.

    Attributes
    ----------
    report : AgreementReport
        Per criterion and pooled.
    decisions : DecisionAgreement or None
        Pass-decision agreement of double-scored live work (None: not applicable, or no
        submission read twice on every criterion).
    applies_decisions : bool
        Whether pass decisions apply (live ratings with their rubric known).
    double_scored : int
        Submissions scored by two or more assessors (what agreement rests on).
    double_scored_by_criterion : dict of str -> int
    """

    report: AgreementReport
    decisions: DecisionAgreement | None
    applies_decisions: bool
    double_scored: int
    double_scored_by_criterion: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        """The ``calibrate agreement --json`` object: the report, plus ``decisions`` where
        they apply."""
        payload = self.report.to_dict()
        if self.applies_decisions:
            payload["decisions"] = None if self.decisions is None else self.decisions.to_dict()
        return payload


def agreement(
    selection: Selection,
    *,
    criterion: str | None = None,
    n_boot: int = 0,
    seed: int | None = None,
    progress: Progress | None = None,
) -> Agreement:
    """Agreement among assessors per criterion and pooled (on the rubric's levels when known),
    with bootstrap intervals when ``n_boot`` > 0, and pass-decision agreement of double-scored
    live work."""
    report = agreement_report(
        selection.ratings,
        criterion=criterion,
        levels=selection.levels,
        n_boot=n_boot,
        seed=seed,
        progress=progress,
    )
    overall, per = _double_scored(selection.ratings)
    return Agreement(report, pass_decisions(selection), selection.has_decisions, overall, per)


def _double_scored(ratings: Ratings) -> tuple[int, dict[str, int]]:
    """Submissions scored by two or more assessors: overall and per criterion label."""
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


def rater_effects(
    selection: Selection,
    *,
    model: Estimator = "random",
    scale: Model = "rating-scale",
    facet: str | None = None,
    progress: Progress | None = None,
) -> SeverityReport | RaterReport:
    """Rater effects on a selection, on the rubric's levels when known
    (:func:`calibrate.analyses.raters.rater_report`): the random-effects model by default
    (finite severities with honest intervals on sparse live designs, assessors it cannot place
    said so), or ``model="jmle"``, the many-facet Rasch model as FACETS (``scale``, ``facet``).
    Each interval is read against the programme's tolerance, rule ``flags.severity_levels`` of
    the selection's rubric. ``progress(iteration, max_iter, "iteration 7, largest change ...")``
    after every iteration (:data:`calibrate.stats.Progress`); the fit stops at convergence."""
    from calibrate.analyses.raters import rater_report
    from calibrate.services.rules import programme_rules

    tolerance = programme_rules(rubric=selection.rubric).flags.severity_levels
    return rater_report(
        selection.ratings,
        model=model,
        scale=scale,
        facet=facet,
        levels=selection.levels,
        tolerance=tolerance,
        progress=progress,
    )


def reliability(
    selection: Selection,
    *,
    design: Design | None = None,
    target: float = 0.8,
    max_assessors: int | None = None,
    criteria: Sequence[float] | None = None,
    n_boot: int = 0,
    seed: int | None = None,
    progress: Progress | None = None,
) -> GStudy:
    """G study and D study (generalizability theory) on a selection: variance components, G
    and Phi, and the assessors per submission that reach ``target``; with ``n_boot``
    resamples of submissions, their intervals and a verdict that follows them."""
    ratings = selection.ratings
    return gstudy(
        ratings.unit,
        ratings.rater,
        ratings.criterion,
        ratings.value,
        design=design,
        target=target,
        max_assessors=max_assessors,
        criteria=criteria,
        n_boot=n_boot,
        seed=seed,
        progress=progress,
    )


def accuracy_from_files(
    path: Path,
    *,
    anchors: Path,
    rubric_dir: Path,
    context: str | None = None,
    keep: Keep | None = None,
    confidence: float = 0.95,
) -> AccuracyReport:
    """Accuracy against the experts of the ratings of anchors in a CSV file, with the expert
    scores of an anchor-set file or folder validated against the rubric files in
    ``rubric_dir``: the ratings of ``context`` (default every anchor context), every reading
    or the one ``keep`` names (:func:`calibrate.analyses.accuracy.accuracy_report`)."""
    from calibrate.analyses.accuracy import (
        accuracy_report,
        anchor_contexts,
        load_anchor_definitions,
    )

    anchor_contexts(context)  # a bad context is refused before any file is read
    rubric_version, sets = load_anchor_definitions(anchors, rubric_dir)
    return accuracy_report(
        read_ratings_csv(path),
        sets,
        rubric_version,
        context=context,
        keep=keep,
        confidence=confidence,
    )


def stored_accuracy(
    *,
    engine: Engine,
    actor: Actor,
    rubric: str,
    context: str | None = None,
    keep: Keep | None = None,
    confidence: float = 0.95,
) -> AccuracyReport:
    """Accuracy against the experts of the anchor ratings of ``context`` (practice,
    qualification or validity; default all three) of one rubric version in the store, every
    reading or the one ``keep`` names, with its stored anchor sets: for a lead assessor,
    administrator or board reviewer (pseudonyms) of the rubric's issuer, or the operator. An
    assessor's own results come from :func:`calibrate.services.ratings.my_ratings`, which never
    tells validity anchors from live work.

    ``rubric`` is ``id@version``, or ``id`` when the store holds one version of it.

    Raises
    ------
    AccessDenied
        An assessor.
    CalibrateError
        Unknown rubric, several versions and none chosen, a context other than an anchor
        context, a ``keep`` neither first nor last, no anchor sets or no anchor ratings.
    """
    from calibrate.analyses.accuracy import accuracy_report, anchor_contexts
    from calibrate.store import load_ratings, stored_anchor_sets

    require(actor, "accuracy.read")
    contexts = anchor_contexts(context)
    chosen = _scoped_rubric(rubric, engine=engine, actor=actor)
    sets = stored_anchor_sets(engine=engine, rubric=chosen.key)
    if not sets:
        raise CalibrateError(f"the store holds no anchor sets of {chosen.key}")
    ratings = load_ratings(engine=engine, rubric=chosen.key, contexts=contexts)
    if not len(ratings):
        raise CalibrateError(
            f"the store holds no ratings of anchors of {chosen.key} ({', '.join(contexts)})"
        )
    return accuracy_report(
        _for(actor, ratings, engine, units=False),
        sets,
        chosen,
        context=context,
        keep=keep,
        confidence=confidence,
    )
