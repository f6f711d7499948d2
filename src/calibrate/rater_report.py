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
from calibrate.stats.rasch import BiasTerm, Model, Progress, RaschResult, fit_mfrm


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
        """Plain-language warnings a reader must see before using the measures."""
        r = self.result
        out = []
        if not r.connected:
            out.append(
                f"{len(r.subsets)} disconnected subsets of assessors; severities compare only "
                "within a subset (see subsets)"
            )
        if r.disordered:
            out.append(
                "disordered Rasch-Andrich thresholds: some score levels are never the most "
                "probable; review the rubric's level descriptors (see thresholds)"
            )
        if not r.converged:
            out.append(
                f"no convergence in {r.iterations} iterations "
                f"(largest change {r.max_change:.4f} logits)"
            )
        estimated = [e for e in r.assessors.elements if e.status == "estimated"]
        if estimated and all(e.se_joint != e.se_joint for e in estimated):
            out.append(
                "joint standard errors not computed (over 3,000 assessors, criteria and facet "
                "elements): the model SEs understate the uncertainty of severities"
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
        }
        for key, (rep, names, measure) in reports.items():
            out[key] = [
                {
                    "id": names[e.code],
                    measure: e.measure,
                    "se": e.se,
                    "se_joint": e.se_joint,
                    "infit": e.infit,
                    "outfit": e.outfit,
                    "infit_z": e.infit_z,
                    "outfit_z": e.outfit_z,
                    "fair_average": e.fair_average,
                    "observed_average": e.observed_average,
                    "n": e.n,
                    "status": e.status,
                    "subset": e.subset,
                }
                for e in rep.elements
            ]
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
    max_iter: int = 500,
    tol: float = 1e-4,
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
