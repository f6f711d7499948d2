"""Drift of a rubric's assessors over time (:func:`drift_report`), for lead assessors,
administrators and board reviewers (pseudonyms) of the rubric's issuer, and the operator."""

from __future__ import annotations

from typing import TYPE_CHECKING

from calibrate.access import Actor, require
from calibrate.errors import CalibrateError

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from calibrate.analyses.drift import DriftReport
    from calibrate.stats._input import Progress


def drift_report(
    *,
    engine: Engine,
    actor: Actor,
    rubric: str,
    confidence: float = 0.95,
    progress: Progress | None = None,
) -> DriftReport:
    """Drift of the assessors of one stored rubric version over its live work
    (:func:`calibrate.analyses.drift.drift_report`): a two-sided CUSUM per assessor on their
    validity-anchor readings against the stored anchor sets' expert scores, tuned by the
    programme rules ``drift.k`` and ``drift.arl0`` (in-control average run length), alarms
    with their time, direction and likely start; severity per window of ``drift.window_days``
    and its change; the pool's drift between windows on anchors read in both. Assessors are
    pseudonyms for a board reviewer; the report names no submission.

    ``progress(done, total, stage)`` follows the severity fit.

    Raises
    ------
    AccessDenied
        An assessor.
    CalibrateError
        An unknown rubric (another issuer's is unknown), or no live or validity rating of it
        with a time.
    """
    from calibrate.analyses.drift import drift_report as report
    from calibrate.services.analyses import _for, _scoped_rubric
    from calibrate.services.rules import programme_rules
    from calibrate.store import load_ratings, stored_anchor_sets

    require(actor, "analyses.read")
    version = _scoped_rubric(rubric, engine=engine, actor=actor)
    ratings = load_ratings(engine=engine, rubric=version.key, contexts=["live", "validity"])
    if not len(ratings):
        raise CalibrateError(f"the store holds no live ratings of {version.key} to follow")
    # anchors keep their ids (the expert scores are looked up by them); no unit is reported
    rules = programme_rules(rubric=version).drift
    return report(
        _for(actor, ratings, engine, units=False),
        stored_anchor_sets(engine=engine, rubric=version.key),
        version,
        k=rules.k,
        arl0=rules.arl0,
        min_readings=rules.min_readings,
        window_days=rules.window_days,
        confidence=confidence,
        progress=progress,
    )
