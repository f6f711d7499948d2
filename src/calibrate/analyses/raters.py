"""Rater effects use case: the many-facet Rasch model on labelled ratings, for every door.

:func:`rater_report` is what ``calibrate raters`` and the dashboard's Rater effects page call, so
the two show the same fit; :meth:`RaterReport.to_dict` is the command's JSON object.

Elements the data cannot place
------------------------------
A fit can return numbers for elements whose position the ratings do not determine. Every door
shows such an element as *not measured* (the JSON: ``identified: false``, null measure and
standard errors), using :func:`unplaced_elements`, which decides from the fit itself:

- ``drifted``: the fit did not converge and the element's measure lies more than
  :data:`DRIFT_LOGITS` logits from the median of its facet. Joint maximum likelihood has no
  finite solution when a group of elements is separated from the rest (all of its ratings higher,
  or lower, than those of the elements it is linked to: Fischer 1981 for the Rasch model;
  Haberman 1977): the group's estimates then keep moving outward with every iteration, which
  FACETS reports as "estimates keep increasing" (Linacre, FACETS manual), and iterating longer
  only moves them further. A converged fit of non-extreme data keeps its elements within a few
  logits of one another (10 logits is odds of about 22,000 to 1 for the next category); so,
  when the fit has not converged, elements that far out are the drifting group, and their
  numbers (measure, both SEs, fair average) are an artefact of where the iterations stopped.
- ``alone``: the design is disconnected and the assessor is the only one in its subset. Each
  subset is centred on itself, so that assessor's severity is 0 by convention: nothing links
  it to another assessor (Linacre, FACETS manual, on subsets; Eckes 2015, ch. 5).

Elements of other minority subsets stay measured, comparable within their subset only (the
warnings say so); extreme elements keep FACETS' convention (score moved inward by 0.3).

References
----------
.. [1] Fischer, G. H. (1981). On the existence and uniqueness of maximum-likelihood estimates
   in the Rasch model. *Psychometrika, 46*(1), 59-77.
.. [2] Haberman, S. J. (1977). Maximum likelihood estimates in exponential response models.
   *The Annals of Statistics, 5*(5), 815-841.
.. [3] Linacre, J. M. *A user's guide to FACETS: Rasch-model computer programs* (program
   manual), Winsteps.com.
.. [4] Eckes, T. (2015). *Introduction to many-facet Rasch measurement* (2nd ed.). Frankfurt am
   Main: Peter Lang.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

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

DRIFT_LOGITS = 10.0
"""Distance (logits) from its facet's median beyond which, in a fit that did not converge, an
element counts as drifting (see the module docstring)."""

Unplaced = Literal["drifted", "alone"]
"""Why an element cannot be placed: see the module docstring."""

FACET_KEYS = ("assessors", "criteria", "submissions", "facet")
"""The facets of a fit, by their key in the JSON object."""


def unplaced_elements(result: RaschResult) -> dict[str, dict[int, Unplaced]]:
    """The elements the data cannot place, by facet key (``"assessors"``, ...) and code.

    See the module docstring for the two reasons, ``drifted`` and ``alone``.
    """
    out: dict[str, dict[int, Unplaced]] = {key: {} for key in FACET_KEYS}
    for key in FACET_KEYS:
        report = getattr(result, key)
        if report is None or result.converged:
            continue
        placed = [e.measure for e in report.elements if e.status != "anchored"]
        if not placed:
            continue
        median = float(np.median(placed))
        for e in report.elements:
            if e.status != "anchored" and abs(e.measure - median) > DRIFT_LOGITS:
                out[key][e.code] = "drifted"
    if not result.connected:
        for subset in result.subsets:
            if len(subset.assessors) == 1:
                out["assessors"].setdefault(subset.assessors[0], "alone")
    return out


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

    def unplaced(self) -> dict[str, dict[int, Unplaced]]:
        """The elements the data cannot place (:func:`unplaced_elements`), by facet key and
        code."""
        return unplaced_elements(self.result)

    def unplaced_text(self) -> str:
        """``"1 assessor and 6 submissions"``: the elements not measured, counted by facet (empty
        when every element is placed)."""
        names = {
            "assessors": ("assessor", "assessors"),
            "criteria": ("criterion", "criteria"),
            "submissions": ("submission", "submissions"),
            "facet": (f"{self.result.facet.name} element", f"{self.result.facet.name} elements")
            if self.result.facet is not None
            else ("", ""),
        }
        parts = [
            f"{len(codes):,} {names[key][len(codes) != 1]}"
            for key, codes in self.unplaced().items()
            if codes
        ]
        return " and ".join([", ".join(parts[:-1]), parts[-1]] if len(parts) > 2 else parts)

    def warnings(self) -> list[str]:
        """Plain-language warnings a reader must see before using the measures (the CLI prints
        them on stderr and in the JSON, the Rater effects page above its tables). When the model
        did not converge, the first one says so."""
        r = self.result
        out = []
        unplaced = self.unplaced()
        if not r.converged:
            out.append(
                f"The rater model did not converge in {r.iterations} iterations (largest change "
                f"{r.max_change:.4f} logits): the results are not trustworthy. In sparse designs "
                "some measures have no finite estimate and drift outward; more submissions "
                "scored by two assessors, linking them, fix this."
            )
        if any(unplaced.values()):
            named = []
            for reason in ("drifted", "alone"):
                names = sorted(
                    self.ratings.raters[j] for j, why in unplaced["assessors"].items()
                    if why == reason
                )  # fmt: skip
                if not names:
                    continue
                is_are = "is" if len(names) == 1 else "are"
                named.append(
                    f"{', '.join(names)} drifted more than {DRIFT_LOGITS:g} logits out (no "
                    "finite estimate)"
                    if reason == "drifted"
                    else f"{', '.join(names)} {is_are} alone in a subset (linked to no other "
                    "assessor)"
                )
            out.append(
                f"The data cannot place {self.unplaced_text()} (shown as not measured)"
                + (": " + "; ".join(named) if named else "")
                + "."
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
        unplaced = self.unplaced()
        for key, (rep, names, measure) in reports.items():
            out[key] = [_element(e, names, measure, e.code in unplaced[key]) for e in rep.elements]
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
        out["warnings"] = self.warnings()
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


def _element(
    e: Element, names: Sequence[str], measure: str, unplaced: bool = False
) -> dict[str, Any]:
    """An element as JSON: its label as ``id``, its measure under ``measure`` (``severity`` for
    assessors), then every other field of :class:`~calibrate.stats.rasch.Element`, and
    ``identified``. An element the data cannot place has null measure, SEs and fair average."""
    fields = e.to_dict()
    code, value = fields.pop("code"), fields.pop("measure")
    if unplaced:
        value = None
        fields.update(se=None, se_joint=None, fair_average=None)
    return {"id": names[code], measure: value, **fields, "identified": not unplaced}
