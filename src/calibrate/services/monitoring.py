"""Monitoring an issuer's scoring: consistency across earners' attempts (and, as it is built,
flags on assessors, drift and the rubric audit), for lead assessors, administrators and board
reviewers (pseudonyms) of the rubric's issuer, and the operator."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
from numpy.typing import NDArray

from calibrate.access import Actor, pseudonym, require
from calibrate.errors import CalibrateError

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from calibrate.analyses.attempts import AttemptReport
    from calibrate.analyses.rubric_audit import RubricAudit
    from calibrate.flags import FlagReport

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


def assessor_flags(*, engine: Engine, actor: Actor, rubric: str) -> FlagReport:
    """Flags on the assessors of one stored rubric version from their live work (live
    submissions and the validity anchors seeded among them; :mod:`calibrate.flags`):
    severity or leniency beyond ``flags.severity_logits`` from the random-effects rater model
    (:func:`calibrate.stats.severity.fit_severity`); assessors with fewer than
    ``flags.min_ratings`` ratings, or whom the data cannot place, are not tested; the false
    discovery rate is held at ``flags.fdr``. For lead assessors, administrators, board
    reviewers (pseudonyms) of the rubric's issuer, and the operator.

    Raises
    ------
    AccessDenied
        An assessor.
    CalibrateError
        An unknown rubric (another issuer's is unknown), or no live rating of it.
    """
    from calibrate.flags import severity_flags
    from calibrate.services.analyses import _for, _scoped_rubric
    from calibrate.services.rules import programme_rules
    from calibrate.stats.severity import fit_severity
    from calibrate.store import load_ratings

    require(actor, "analyses.read")
    version = _scoped_rubric(rubric, engine=engine, actor=actor)
    # validity anchors are read as live work, by many assessors each: they link the design
    live = _for(
        actor,
        load_ratings(engine=engine, rubric=version.key, contexts=["live", "validity"]),
        engine,
    )
    if not len(live):
        raise CalibrateError(f"the store holds no live ratings of {version.key} to flag from")
    rules = programme_rules(rubric=version).flags
    fit = fit_severity(live.unit, live.rater, live.criterion, live.value, categories=version.scores)
    a = fit.assessors
    return severity_flags(
        [live.raters[int(c)] for c in a.code],
        a.severity,
        a.se,
        a.n,
        a.placed,
        tolerance=rules.severity_logits,
        min_ratings=rules.min_ratings,
        fdr=rules.fdr,
        window=f"live work on {version.key}",
    )
