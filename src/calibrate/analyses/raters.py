"""Rater effects use case: the many-facet Rasch model on labelled ratings, for every door.

:func:`rater_report` is what ``calibrate raters`` and the dashboard's Rater effects page call, so
the two show the same fit; the report's ``to_dict`` is the command's JSON object. Two models:

- ``model="random"`` (the default), :class:`SeverityReport`: the random-effects model of
  :func:`calibrate.stats.severity.fit_severity` (submissions integrated out, severities as normal
  random effects). Every severity is finite, with an honest interval, on the sparse live designs
  where joint maximum likelihood does not converge; an assessor the data cannot place is
  ``"not placed"``, with the reason (:data:`NOT_PLACED`) and no severity.
- ``model="jmle"``, :class:`RaterReport`: joint maximum likelihood as FACETS
  (:func:`calibrate.stats.rasch.fit_mfrm`), for comparison with FACETS users' tables, with the
  partial-credit scale and an extra facet.

Neither ranks assessors: each placed assessor's interval is read against 0 (the pool's average)
and the programme's tolerance (:func:`interval_reading`).

Elements the JMLE fit cannot place
----------------------------------
A JMLE fit can return numbers for elements whose position the ratings do not determine. Every door
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
.. [5] Wright, B. D., & Masters, G. N. (1982). *Rating scale analysis*. Chicago: MESA Press
   (separation and strata, ch. 5).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from calibrate.errors import CalibrateError
from calibrate.ratings import Ratings
from calibrate.stats._distributions import norm_ppf
from calibrate.stats.rasch import (
    JOINT_SE_LIMIT,
    BiasTerm,
    Element,
    Model,
    Progress,
    RaschResult,
    fit_mfrm,
)
from calibrate.stats.rater_effects import rating_moments
from calibrate.stats.severity import (
    MAX_DATA_SE,
    MIN_INFORMATION,
    MIN_RATINGS,
    SD_FLOOR,
    SeverityResult,
    fit_severity,
)

Estimator = Literal["random", "jmle"]
"""The rater model: ``random`` effects (:func:`~calibrate.stats.severity.fit_severity`, the
default) or ``jmle`` (:func:`~calibrate.stats.rasch.fit_mfrm`, as FACETS)."""
ESTIMATORS: tuple[Estimator, ...] = ("random", "jmle")

DRIFT_LOGITS = 10.0
"""Distance (logits) from its facet's median beyond which, in a fit that did not converge, an
element counts as drifting (see the module docstring)."""

Unplaced = Literal["drifted", "alone"]
"""Why an element cannot be placed: see the module docstring."""

FACET_KEYS = ("assessors", "criteria", "submissions", "facet")
"""The facets of a fit, by their key in the JSON object."""

Reading = Literal[
    "within tolerance",
    "harsher beyond tolerance",
    "more lenient beyond tolerance",
    "harsher than average",
    "more lenient than average",
    "no clear difference",
]
"""What an assessor's severity interval says (:func:`interval_reading`)."""


def interval_reading(low: float, high: float, tolerance: float | None) -> Reading:
    """What a severity interval ``[low, high]`` (logits, + = harsher) says about the assessor,
    against the pool's average (0) and the programme's ``tolerance`` (rule
    ``flags.severity_logits``; None: against the average only).

    ``"harsher beyond tolerance"`` (``low > tolerance``) and its lenient mirror; ``"within
    tolerance"`` (the whole interval inside ``-+tolerance``); ``"harsher than average"``
    (``low > 0``, whether beyond the tolerance undecided) and its mirror; otherwise ``"no clear
    difference"`` (the interval holds 0 and reaches beyond the tolerance: too wide to tell). One
    interval per assessor, with no allowance for testing many at once: :mod:`calibrate.flags`
    decides flags with the false discovery rate held.

    >>> interval_reading(0.6, 1.4, 0.5), interval_reading(-0.3, 0.2, 0.5)
    ('harsher beyond tolerance', 'within tolerance')
    >>> interval_reading(0.1, 0.9, 0.5), interval_reading(-0.9, 0.4, 0.5)
    ('harsher than average', 'no clear difference')
    """
    if tolerance is not None:
        if low > tolerance:
            return "harsher beyond tolerance"
        if high < -tolerance:
            return "more lenient beyond tolerance"
        if -tolerance <= low and high <= tolerance:
            return "within tolerance"
    if low > 0:
        return "harsher than average"
    if high < 0:
        return "more lenient than average"
    return "no clear difference"


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
    tolerance : float or None
        The programme's severity tolerance (logits) the intervals are read against
        (:func:`interval_reading`).
    level : float
        Coverage of the severity intervals (joint SE, model SE where there is none).
    """

    result: RaschResult
    ratings: Ratings
    facet_labels: tuple[str, ...] = ()
    tolerance: float | None = None
    level: float = 0.95
    model: Literal["jmle"] = "jmle"

    @property
    def converged(self) -> bool:
        """Whether the fit converged (if not, its results are not trustworthy)."""
        return self.result.converged

    def intervals(self) -> dict[int, tuple[float, float]]:
        """``{assessor code: (low, high)}`` at :attr:`level`, from the joint SE (the model SE
        where there is none), for the assessors placed and estimated (not extreme)."""
        z = float(norm_ppf(0.5 + self.level / 2))
        unplaced = self.unplaced()["assessors"]
        out = {}
        for e in self.result.assessors.elements:
            se = e.se_joint if e.se_joint == e.se_joint else e.se
            if e.code not in unplaced and e.status == "estimated" and se == se:
                out[e.code] = (e.measure - z * se, e.measure + z * se)
        return out

    def readings(self) -> dict[int, Reading]:
        """What each assessor's interval says (:func:`interval_reading`), by code, for those
        with an interval (:meth:`intervals`)."""
        return {
            code: interval_reading(low, high, self.tolerance)
            for code, (low, high) in self.intervals().items()
        }

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
            "model": "jmle",
            "scale": self.result.model,
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


NOT_PLACED = {
    "only assessor": "the only assessor: a severity is measured against other assessors",
    "few ratings": "{n} ratings, fewer than the {min_ratings} needed",
    "extreme": "every rating at the {side} level: the data bound the severity on one side only",
    "little information": "too little linked evidence: the data carry {information:.0%} of what "
    "is known about the severity (placing needs {min_information:.0%}, or a standard error of at "
    "most {max_se:g} logits from the data alone)",
}
"""Why the random-effects model does not place an assessor, by key, as the doors say it
(:meth:`SeverityReport.reasons`; the rules of
:func:`~calibrate.stats.severity.fit_severity`, in the order checked)."""


@dataclass(frozen=True)
class SeverityReport:
    """A random-effects rater fit (:func:`~calibrate.stats.severity.fit_severity`) with the
    labels of its codes.

    Attributes
    ----------
    result : SeverityResult
        The fit (assessor and criterion codes index ``ratings``' labels).
    ratings : Ratings
        The ratings fitted.
    tolerance : float or None
        The programme's severity tolerance (logits) the intervals are read against
        (:func:`interval_reading`).
    tolerance_levels : float or None
        The same in score levels, as the programme states it (rule ``flags.severity_levels``).
    """

    result: SeverityResult
    ratings: Ratings
    tolerance: float | None = None
    tolerance_levels: float | None = None
    model: Literal["random"] = "random"

    @property
    def converged(self) -> bool:
        """Whether the fit converged (if not, its results are not trustworthy)."""
        return self.result.converged

    def reasons(self) -> dict[int, str]:
        """``{assessor code: why not placed}`` (:data:`NOT_PLACED`, in words) for every assessor
        the data cannot place."""
        a, r = self.result.assessors, self.ratings
        cats = self.result.thresholds.categories
        out = {}
        for j, code in enumerate(a.code.tolist()):
            if a.status[j] == "placed":
                continue
            values = r.value[r.rater == code]
            if len(a) == 1:
                why = NOT_PLACED["only assessor"]
            elif a.n[j] < MIN_RATINGS:
                why = NOT_PLACED["few ratings"].format(n=int(a.n[j]), min_ratings=MIN_RATINGS)
            elif np.all(values == cats[0]) or np.all(values == cats[-1]):
                side = "lowest" if np.all(values == cats[0]) else "highest"
                why = NOT_PLACED["extreme"].format(side=side)
            else:
                why = NOT_PLACED["little information"].format(
                    information=float(a.information[j]),
                    min_information=MIN_INFORMATION,
                    max_se=MAX_DATA_SE,
                )
            out[code] = why
        return out

    def separation(self) -> dict[str, float] | None:
        r"""Reliability, separation and strata of the severities, or None where they mean
        nothing (one assessor, or no spread of severity beyond chance).

        The random model estimates the severities' spread :math:`\sigma_s` directly, and each
        posterior variance :math:`V_j` is the error left about assessor :math:`j`; so the
        reliability is the share of the spread the data resolve, :math:`R = 1 -
        \overline{V_j} / (\sigma_s^2 (1 - 1/J))`, the mean of the assessors' ``information``.
        Separation :math:`G = \sqrt{R / (1 - R)}` (the resolved spread in error units) and
        strata :math:`(4G + 1) / 3` (levels of severity three errors apart) follow Wright &
        Masters [5]_ as in FACETS, with the empirical Bayes error in place of the JMLE one.
        """
        res = self.result
        if len(res.assessors) < 2 or not res.severity_sd > SD_FLOOR * (1 + 1e-9):
            return None
        rel = float(np.mean(res.assessors.information))
        g = float(np.sqrt(rel / (1 - rel))) if rel < 1 else float("inf")
        return {"reliability": rel, "separation": g, "strata": (4 * g + 1) / 3}

    def readings(self) -> dict[int, Reading]:
        """What each placed assessor's interval says (:func:`interval_reading`), by code."""
        a = self.result.assessors
        return {
            int(code): interval_reading(float(lo), float(hi), self.tolerance)
            for code, lo, hi, s in zip(
                a.code, a.interval.low, a.interval.high, a.status, strict=True
            )
            if s == "placed"
        }

    def warnings(self) -> list[str]:
        """Plain-language warnings a reader must see before using the severities (the CLI
        prints them on stderr and in the JSON, the Rater effects page above its chart). When
        the model did not converge, the first one says so."""
        res, out = self.result, []
        if not res.converged:
            out.append(
                f"The rater model did not converge in {res.iterations} iterations (largest "
                f"change {res.max_change:.4f} logits): the results are not trustworthy."
            )
        unplaced = sorted(self.ratings.raters[c] for c in self.reasons())
        if unplaced:
            n = len(unplaced)
            out.append(
                f"The data cannot place {n} assessor{'s' if n != 1 else ''} ({', '.join(unplaced)}"
                "): no severity is shown for them, only why."
            )
        if res.n_subsets > 1:
            out.append(
                f"The assessors fall into {res.n_subsets} disconnected subsets (no shared "
                "submissions link them): severities across subsets are compared only through "
                "the assumption that their submissions come from one population."
            )
        if len(res.assessors) > 1 and not res.severity_sd > SD_FLOOR * (1 + 1e-9):
            out.append(
                "The ratings show no spread of severity beyond chance (severity SD estimated "
                "at 0): every severity is pulled to the average."
            )
        if res.thresholds.disordered:
            out.append(
                "Disordered Rasch-Andrich thresholds: some score levels are never the most "
                "probable. Review the rubric's level descriptors and how assessors use them."
            )
        return out

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of ``calibrate raters`` (labels in place of codes; an assessor the
        data cannot place has null severity, SE and interval, and its ``reason``)."""
        res, a = self.result, self.result.assessors
        reasons, readings = self.reasons(), self.readings()
        assessors = []
        for j, code in enumerate(a.code.tolist()):
            placed = code not in reasons
            assessors.append(
                {
                    "id": self.ratings.raters[code],
                    "severity": float(a.severity[j]) if placed else None,
                    "se": float(a.se[j]) if placed else None,
                    "low": float(a.interval.low[j]) if placed else None,
                    "high": float(a.interval.high[j]) if placed else None,
                    "information": float(a.information[j]),
                    "infit": float(a.infit[j]),
                    "outfit": float(a.outfit[j]),
                    "n": int(a.n[j]),
                    "n_submissions": int(a.n_submissions[j]),
                    "observed_average": float(a.observed_average[j]),
                    "subset": int(a.subset[j]),
                    "status": a.status[j],
                    "reading": readings.get(code),
                    "reason": reasons.get(code),
                }
            )
        c = res.criteria
        criteria = [
            {
                "id": self.ratings.criteria[code],
                "difficulty": float(c.difficulty[i]),
                "se": float(c.se[i]),
                "n": int(c.n[i]),
            }
            for i, code in enumerate(c.code.tolist())
        ]
        t = res.thresholds
        spread = self.separation()
        return {
            "model": self.model,
            "n_ratings": res.n,
            "n_submissions": res.n_submissions,
            "converged": res.converged,
            "iterations": res.iterations,
            "max_change": res.max_change,
            "level": a.interval.level,
            "tolerance": self.tolerance,
            "tolerance_levels": self.tolerance_levels,
            "assessors": assessors,
            "criteria": criteria,
            "thresholds": {
                "categories": list(t.categories),
                "tau": list(t.tau),
                "se": list(t.se),
                "disordered": t.disordered,
            },
            "severity_sd": res.severity_sd,
            "submission_mean": res.submission_mean,
            "submission_sd": res.submission_sd,
            "reliability": None if spread is None else spread["reliability"],
            "separation": None if spread is None else spread["separation"],
            "strata": None if spread is None else spread["strata"],
            "n_subsets": res.n_subsets,
            "warnings": self.warnings(),
        }


def rater_report(
    ratings: Ratings,
    *,
    model: Estimator = "random",
    scale: Model = "rating-scale",
    facet: str | None = None,
    levels: Sequence[float] | None = None,
    tolerance: float | None = None,
    progress: Progress | None = None,
) -> SeverityReport | RaterReport:
    """Fit a rater model to ``ratings``: the random-effects model
    (:func:`calibrate.stats.severity.fit_severity`) by default, or with ``model="jmle"`` the
    many-facet Rasch model by joint maximum likelihood (:func:`calibrate.stats.rasch.fit_mfrm`,
    FACETS conventions).

    Parameters
    ----------
    ratings : Ratings
        One context and one rubric (see :meth:`calibrate.ratings.Ratings.select`).
    model : {"random", "jmle"}
    scale : {"rating-scale", "partial-credit"}
        JMLE only (the random-effects model has one rating scale).
    facet : str, optional
        JMLE only: a column of ``ratings.columns`` to use as the extra facet (e.g. ``attempt``).
    levels : sequence of float, optional
        The rubric's level scores, so that unused levels count as categories.
    tolerance : float, optional
        The programme's severity tolerance in score levels (rule ``flags.severity_levels``),
        which the intervals are read against (:func:`interval_reading`): the random-effects
        model converts it to logits at the mean slope of the expected score over the ratings
        (the mean model variance of a rating, :func:`calibrate.stats.rater_effects.
        rating_moments`); the JMLE view reads its intervals against the average only.
    progress : callable, optional
        As the model's function; disconnected JMLE designs are flagged, not raised.

    Raises
    ------
    CalibrateError
        An unknown model, scale or facet column, a scale or facet with the random model, or
        data the model cannot take (``StatisticsError``).
    """
    if model not in ESTIMATORS:
        raise CalibrateError(f"model must be 'random' or 'jmle', got {model!r}")
    if model == "random":
        if facet is not None or scale != "rating-scale":
            raise CalibrateError(
                "the random-effects model has one rating scale and no extra facet: an extra "
                "facet or the partial-credit scale needs model 'jmle'"
            )
        fit = fit_severity(
            ratings.unit,
            ratings.rater,
            ratings.criterion,
            ratings.value,
            categories=levels,
            progress=progress,
        )
        logits = None
        if tolerance is not None:
            moments = rating_moments(
                fit, ratings.unit, ratings.rater, ratings.criterion, ratings.value
            )
            slope = float(np.mean(moments.variance))
            logits = tolerance / slope if slope > 0 else None
        return SeverityReport(fit, ratings, logits, tolerance)
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
        model=scale,
        facet=codes,
        facet_name=facet or "facet",
        categories=levels,
        on_disconnected="flag",
        progress=progress,
    )
    return RaterReport(result, ratings, labels, None)


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
