"""Rater effects use case: the many-facet Rasch model on labelled ratings, for every door.

:func:`rater_report` is what ``calibrate raters`` and the dashboard's Rater effects page call, so
the two show the same fit; :meth:`RaterReport.to_dict` is the command's JSON object.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from calibrate.errors import CalibrateError
from calibrate.ratings import Ratings
from calibrate.stats.rasch import (
    JOINT_SE_LIMIT,
    MAX_ITER,
    TOL,
    BiasTerm,
    Element,
    Model,
    Progress,
    RaschResult,
    fit_mfrm,
)


@dataclass(frozen=True)
class RaterReport:
    """A many-facet Rasch fit with the labels of its codes.

    Attributes
    ----------
    result : RaschResult
        The fit (codes index ``ratings``' labels).
    ratings : Ratings
        The ratings fitted.
    facet_labels : tuple of str
        Labels of the extra facet's elements (empty without one).
    """

    result: RaschResult
    ratings: Ratings
    facet_labels: tuple[str, ...] = ()

    def warnings(self) -> list[str]:
        """Plain-language warnings a reader must see before using the measures (the CLI prints
        them on stderr, the Rater effects page above its tables)."""
        r = self.result
        out = []
        if not r.converged:
            out.append(
                f"The estimates did not converge in {r.iterations} iterations (largest change "
                f"{r.max_change:.4f} logits). In sparse designs some measures have no finite "
                "estimate and drift outward: read large severities as unmeasured, not as harsh. "
                "More submissions scored by two assessors, linking them, fix this."
            )
        if not r.connected:
            groups = "; ".join(
                f"subset {s.index + 1}: " + ", ".join(self.ratings.raters[j] for j in s.assessors)
                for s in r.subsets
            )
            out.append(
                f"The assessors fall into {len(r.subsets)} disconnected subsets (no shared "
                f"submissions link them): severities compare only within a subset. {groups}."
            )
        if r.disordered:
            out.append(
                "Disordered Rasch-Andrich thresholds: some score levels are never the most "
                "probable. Review the rubric's level descriptors and how assessors use them."
            )
        if r.joint_se in ("too_large", "singular"):
            why = (
                f"over {JOINT_SE_LIMIT:,} assessors, criteria and facet elements"
                if r.joint_se == "too_large"
                else "the information matrix cannot be inverted"
            )
            out.append(
                f"Joint standard errors not computed ({why}): the model SEs understate the "
                "uncertainty of severities."
            )
        return out

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of ``calibrate raters`` (labels in place of codes)."""
        reports = {
            "submissions": (self.result.submissions, self.ratings.units, "measure"),
            "assessors": (self.result.assessors, self.ratings.raters, "severity"),
            "criteria": (self.result.criteria, self.ratings.criteria, "measure"),
        }
        if self.result.facet is not None:
            reports["facet"] = (self.result.facet, self.facet_labels, "measure")
        out: dict[str, Any] = {
            "model": self.result.model,
            "n_ratings": self.result.n,
            "n_estimation": self.result.n_estimation,
            "converged": self.result.converged,
            "iterations": self.result.iterations,
            "joint_se": self.result.joint_se,
        }
        for key, (rep, names, measure) in reports.items():
            out[key] = [_element(e, names, measure) for e in rep.elements]
        if self.result.facet is not None:
            out["facet_name"] = self.result.facet.name
        summary = (
            "separation",
            "strata",
            "reliability",
            "rmse",
            "true_sd",
            "chi_square",
            "df",
            "p",
        )
        for stat in summary:
            out[stat] = {key: getattr(rep, stat) for key, (rep, _, _) in reports.items()}
        crit = self.ratings.criteria
        out["thresholds"] = [
            {**t.to_dict(), "criterion": None if t.criterion is None else crit[t.criterion]}
            for t in self.result.thresholds
        ]
        out["categories"] = [c.to_dict() for c in self.result.categories]
        out["disordered"] = self.result.disordered
        out["bias"] = [
            {"assessor": self.ratings.raters[b.assessor], "criterion": crit[b.other], **_cell(b)}
            for b in self.result.bias_criterion
        ]
        out["bias_facet"] = [
            {
                "assessor": self.ratings.raters[b.assessor],
                "element": self.facet_labels[b.other],
                **_cell(b),
            }
            for b in self.result.bias_facet
        ]
        out["subsets"] = [
            {**s.to_dict(), "assessors": [self.ratings.raters[j] for j in s.assessors]}
            for s in self.result.subsets
        ]
        out["connected"] = self.result.connected
        return out


def rater_report(
    ratings: Ratings,
    *,
    model: Model = "rating-scale",
    facet: str | None = None,
    levels: Sequence[float] | None = None,
    max_iter: int = MAX_ITER,
    tol: float = TOL,
    progress: Progress | None = None,
) -> RaterReport:
    """Fit the many-facet Rasch model (:func:`calibrate.stats.rasch.fit_mfrm`) to ``ratings``.

    Parameters
    ----------
    ratings : Ratings
        One context and one rubric (see :meth:`calibrate.ratings.Ratings.select`).
    model : {"rating-scale", "partial-credit"}
    facet : str, optional
        A column of ``ratings.columns`` to use as the extra facet (e.g. ``attempt``).
    levels : sequence of float, optional
        The rubric's level scores, so that unused levels count as categories.
    max_iter, tol, progress
        As :func:`~calibrate.stats.rasch.fit_mfrm`; disconnected designs are flagged, not raised.

    Raises
    ------
    CalibrateError
        An unknown facet column, or data the model cannot take (``StatisticsError``).
    """
    codes, labels = None, ()
    if facet is not None:
        if facet not in ratings.columns:
            have = ", ".join(sorted(ratings.columns)) or "none"
            raise CalibrateError(f"facet {facet!r}: no such column (other columns: {have})")
        names, inverse = np.unique(ratings.columns[facet].astype(str), return_inverse=True)
        codes, labels = inverse.astype(np.int64), tuple(names.tolist())
    result = fit_mfrm(
        ratings.unit,
        ratings.rater,
        ratings.criterion,
        ratings.value,
        model=model,
        facet=codes,
        facet_name=facet or "facet",
        categories=levels,
        on_disconnected="flag",
        max_iter=max_iter,
        tol=tol,
        progress=progress,
    )
    return RaterReport(result, ratings, labels)


def _cell(b: BiasTerm) -> dict[str, Any]:
    return {k: v for k, v in b.to_dict().items() if k not in ("assessor", "other")}


def _element(e: Element, names: Sequence[str], measure: str) -> dict[str, Any]:
    """An element as JSON: its label as ``id``, its measure under ``measure`` (``severity`` for
    assessors), then every other field of :class:`~calibrate.stats.rasch.Element`."""
    fields = e.to_dict()
    code, value = fields.pop("code"), fields.pop("measure")
    return {"id": names[code], measure: value, **fields}
