"""Monitoring an issuer's scoring: consistency across earners' attempts (and, as it is built,
flags on assessors, drift and the rubric audit), for lead assessors, administrators and board
reviewers (pseudonyms) of the rubric's issuer, and the operator."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
from numpy.typing import NDArray

from calibrate.access import Actor, pseudonym, require
from calibrate.errors import CalibrateError

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from calibrate.analyses.attempts import AttemptReport
    from calibrate.analyses.rubric_audit import RubricAudit
    from calibrate.anchors import AnchorSet
    from calibrate.flags import FlagReport
    from calibrate.ratings import Ratings
    from calibrate.stats import Progress

ObjectArray = NDArray[np.object_]


def attempt_consistency(
    *, engine: Engine, actor: Actor, rubric: str, confidence: float = 0.95
) -> AttemptReport:
    """Consistency of scoring across earners' attempts on one stored rubric version
    (:func:`calibrate.analyses.attempts.attempt_report`): pass rate by attempt, score change
    between attempts, same versus new assessor on a resubmission, leniency toward later
    attempts, and assessors' accuracy across their qualification rounds. Live ratings without
    an earner or attempt number (an import that did not say) are left out; the workflow's
    final decisions decide the submissions that have one.

    Raises
    ------
    AccessDenied
        An assessor.
    CalibrateError
        An unknown rubric (another issuer's is unknown), or no live rating with an earner and
        an attempt number.
    """
    from calibrate.analyses.attempts import CalibrationRounds, FinalResults, attempt_report
    from calibrate.services.analyses import _for, _scoped_rubric
    from calibrate.store import load_ratings
    from calibrate.store.accounts import pseudonym_secret
    from calibrate.store.engine import reading
    from calibrate.store.monitoring import final_decisions, qualification_rounds
    from calibrate.store.scoring import stored_version

    require(actor, "analyses.read")
    version = _scoped_rubric(rubric, engine=engine, actor=actor)
    ratings = load_ratings(engine=engine, rubric=version.key, contexts=["live"])
    known = np.array(
        [bool(e) and bool(a) for e, a in zip(
            ratings.columns.get("earner", []), ratings.columns.get("attempt", []), strict=True
        )],
        dtype=bool,
    )  # fmt: skip
    if not known.any():
        raise CalibrateError(
            f"no live rating of {version.key} says its earner and attempt number: nothing to "
            "compare across attempts"
        )
    with reading(engine) as conn:
        row = stored_version(conn, version).id
    decisions = final_decisions(engine=engine, version=row)
    rounds = qualification_rounds(engine=engine, version=row)
    submissions, assessors = decisions.submission, rounds.assessor
    judged = rounds.judged_assessor
    if actor.pseudonymous:
        secret = pseudonym_secret(engine=engine)

        def hide(keys: ObjectArray, kind: Literal["assessor", "submission"]) -> ObjectArray:
            return np.array([pseudonym(secret, kind, str(k)) for k in keys], dtype=object)

        submissions = hide(submissions, "submission")
        assessors, judged = hide(assessors, "assessor"), hide(judged, "assessor")
    return attempt_report(
        _for(actor, ratings.subset(known), engine),
        version,
        results=FinalResults(submissions, decisions.passed),
        calibration=CalibrationRounds(
            assessor=assessors,
            round=rounds.round,
            anchor=rounds.anchor,
            criterion=rounds.criterion,
            score=rounds.score,
            expert=rounds.expert,
            flag_assessor=judged,
            flag_round=rounds.judged_round,
            passed=rounds.passed,
        ),
        confidence=confidence,
    )


def audit_rubric(
    *, engine: Engine, actor: Actor, rubric: str, n_boot: int = 1000, seed: int = 2026
) -> RubricAudit:
    """The quality audit of one stored rubric version
    (:func:`calibrate.analyses.rubric_audit.audit_rubric`) from its live ratings, with its
    stored anchor sets and the assessors' ratings of them for the halo findings: for lead
    assessors, administrators, board reviewers (pseudonyms) of the rubric's issuer, and the
    operator. The same seed gives the same intervals.

    Raises
    ------
    AccessDenied
        An assessor.
    CalibrateError
        An unknown rubric (another issuer's is unknown), or no live rating of it.
    """
    from calibrate.analyses.rubric_audit import audit_rubric as audit
    from calibrate.ratings import ANCHOR_CONTEXTS
    from calibrate.services.analyses import _for, _scoped_rubric
    from calibrate.store import load_ratings, stored_anchor_sets

    require(actor, "analyses.read")
    version = _scoped_rubric(rubric, engine=engine, actor=actor)
    live = load_ratings(engine=engine, rubric=version.key, contexts=["live"])
    if not len(live):
        raise CalibrateError(f"the store holds no live ratings of {version.key} to audit")
    sets = stored_anchor_sets(engine=engine, rubric=version.key)
    anchored = load_ratings(engine=engine, rubric=version.key, contexts=ANCHOR_CONTEXTS)
    with_anchors = bool(sets) and len(anchored) > 0
    return audit(
        _for(actor, live, engine),
        version,
        anchors=sets if with_anchors else None,
        anchor_ratings=_for(actor, anchored, engine, units=False) if with_anchors else None,
        seed=seed,
        n_boot=n_boot,
    )


def assessor_flags(
    *,
    engine: Engine,
    actor: Actor,
    rubric: str,
    until: date | None = None,
    days: int | None = None,
    progress: Progress | None = None,
) -> FlagReport:
    """Flags on the assessors of one stored rubric version from their live work (live
    submissions and the validity anchors seeded among them, with the stored anchor sets' expert
    scores; :func:`calibrate.flags.assessor_flags`), over the last ``days`` days (default: rule
    ``flags.window_days``) up to ``until`` (default: the latest rating), with the rubric's
    programme rules ``flags.*``. For lead assessors, administrators, board reviewers
    (pseudonyms) of the rubric's issuer, and the operator.

    Raises
    ------
    AccessDenied
        An assessor.
    CalibrateError
        An unknown rubric (another issuer's is unknown), no live rating of it in the window,
        or a window of fewer than one day.
    """
    from calibrate.flags import assessor_flags as flag
    from calibrate.services.analyses import _for, _scoped_rubric
    from calibrate.services.rules import programme_rules
    from calibrate.store import load_ratings, stored_anchor_sets

    require(actor, "analyses.read")
    version = _scoped_rubric(rubric, engine=engine, actor=actor)
    work = load_ratings(engine=engine, rubric=version.key, contexts=["live", "validity"])
    if not len(work):
        raise CalibrateError(f"the store holds no live ratings of {version.key} to flag from")
    rules = programme_rules(rubric=version)
    thresholds = rules.flags
    chosen, window = flag_window(work, days or thresholds.window_days, until)
    return flag(
        _for(actor, chosen, engine, units=False),
        version,
        thresholds,
        anchor_sets=stored_anchor_sets(engine=engine, rubric=version.key),
        drift=rules.drift,
        window=f"live work on {version.key}, {window}",
        progress=progress,
    )


def flags_from_files(
    path: Path,
    *,
    rubric_dir: Path,
    anchors: Path | None = None,
    rubric: str | None = None,
    until: date | None = None,
    days: int | None = None,
    progress: Progress | None = None,
) -> FlagReport:
    """:func:`assessor_flags` on a ratings file: the rubric from the anchor sets at ``anchors``
    (their expert scores for the tests against the experts), or ``rubric`` (``id@version``) of
    the rubric files in ``rubric_dir`` when no anchors are given.

    Raises
    ------
    CalibrateError
        Neither anchors nor a rubric; an unknown rubric; a rubric that disagrees with the
        anchors'; the problems of reading the files.
    """
    from calibrate.analyses.accuracy import load_anchor_definitions
    from calibrate.flags import assessor_flags as flag
    from calibrate.ratings import read_ratings_csv
    from calibrate.rubric import load_rubrics
    from calibrate.services.rules import programme_rules

    sets: tuple[AnchorSet, ...] = ()
    if anchors is not None:
        version, sets = load_anchor_definitions(anchors, rubric_dir)
        if rubric is not None and rubric not in (version.key, version.id):
            raise CalibrateError(f"the anchor sets are of {version.key}, not {rubric}")
    elif rubric is not None:
        found = [r for r in load_rubrics(rubric_dir) if rubric in (r.key, r.id)]
        if len(found) != 1:
            raise CalibrateError(
                f"rubric {rubric}: {'no such rubric' if not found else 'several versions'} in "
                f"{rubric_dir}; give id@version"
            )
        version = found[0]
    else:
        raise CalibrateError("give the anchor sets (--anchors) or the rubric (--rubric)")
    rules = programme_rules(rubric=version)
    ratings = read_ratings_csv(path)
    chosen, window = flag_window(ratings, days or rules.flags.window_days, until)
    return flag(
        chosen, version, rules.flags, anchor_sets=sets, drift=rules.drift,
        window=f"{path.name} on {version.key}, {window}", progress=progress,
    )  # fmt: skip


def flag_window(ratings: Ratings, days: int, until: date | None) -> tuple[Ratings, str]:
    """The ratings of the ``days`` days up to the end of ``until`` (default: the latest rating
    time), and the window in words. Ratings without a time are kept only when none has one
    (then the window is every rating).

    Raises
    ------
    CalibrateError
        ``days`` below 1, or no rating in the window.
    """
    if days < 1:
        raise CalibrateError(f"a window of {days} days: give at least 1")
    times = ratings.times()
    known = ~np.isnat(times)
    if not known.any():
        return ratings, "every rating (they carry no time)"
    end = (
        np.datetime64(until, "D") + np.timedelta64(1, "D")
        if until is not None
        else times[known].max().astype("datetime64[D]") + np.timedelta64(1, "D")
    )
    start = end - np.timedelta64(days, "D")
    keep = known & (times >= start) & (times < end)
    last = (end - np.timedelta64(1, "D")).astype(object)
    window = f"{start.astype(object):%Y-%m-%d} to {last:%Y-%m-%d}"
    if not keep.any():
        raise CalibrateError(f"no rating between {window}")
    return ratings.subset(keep), window
