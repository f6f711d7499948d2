"""Generalizability theory: variance components, G and Phi coefficients, D studies.

The object of measurement is the submission (``p``); the facets are the assessor (``r``) and,
when there is more than one, the rubric criterion (``i``). Two G-study designs are supported
(Brennan 2001, ch. 3):

``crossed``, p x r x i
    Every assessor rates every submission on every criterion (a calibration round on shared
    anchors). With one criterion: the single-facet p x r design.
``nested``, (r:p) x i
    Each submission has its own assessors, who rate all criteria (the live design: 2-3 of
    hundreds of assessors per submission). With one criterion: the single-facet r:p design.

One estimator serves balanced and unbalanced data: Henderson's (1953) Method 1, which Brennan
(2001, ch. 7) calls the analogous-ANOVA procedure and urGENOVA implements. On balanced data it is
exactly the ANOVA (expected mean squares) estimator of Brennan (2001, ch. 3); on unbalanced data
(unequal numbers of assessors per submission, missing cells) it stays unbiased and needs only
per-cell counts and sums, so it runs on long arrays of any size with no dense matrix.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from calibrate.errors import StatisticsError
from calibrate.stats._input import LongRatings, long_ratings

Design = Literal["crossed", "nested"]
Coefficient = Literal["phi", "g"]

IntArray = npt.NDArray[np.intp]
FloatArray = npt.NDArray[np.float64]

# Effects are sets of the factors submission (p), assessor (r), criterion (i), held as bit masks.
_P, _R, _I = 1, 2, 4
_FACTOR_BITS = (_P, _R, _I)

# (mask, Brennan's notation, plain words), in the order Brennan (2001) lists them.
_EFFECTS: dict[tuple[Design, bool], tuple[tuple[int, str, str], ...]] = {
    ("crossed", True): (
        (_P, "p", "submission (universe score)"),
        (_R, "r", "assessor severity"),
        (_I, "i", "criterion difficulty"),
        (_P | _R, "pr", "submission x assessor"),
        (_P | _I, "pi", "submission x criterion"),
        (_R | _I, "ri", "assessor x criterion"),
        (_P | _R | _I, "pri,e", "residual"),
    ),
    ("nested", True): (
        (_P, "p", "submission (universe score)"),
        (_I, "i", "criterion difficulty"),
        (_P | _R, "r:p", "assessor within submission"),
        (_P | _I, "pi", "submission x criterion"),
        (_P | _R | _I, "ri:p,e", "residual"),
    ),
    ("crossed", False): (
        (_P, "p", "submission (universe score)"),
        (_R, "r", "assessor severity"),
        (_P | _R, "pr,e", "residual"),
    ),
    ("nested", False): (
        (_P, "p", "submission (universe score)"),
        (_P | _R, "r:p,e", "assessor within submission, residual"),
    ),
}

_NOTATION: dict[tuple[Design, bool], str] = {
    ("crossed", True): "p x r x i",
    ("nested", True): "(r:p) x i",
    ("crossed", False): "p x r",
    ("nested", False): "r:p",
}


@dataclass(frozen=True)
class VarianceComponent:
    """One estimated variance component.

    Attributes
    ----------
    effect : str
        Brennan's (2001) notation: ``p``, ``r``, ``i``, ``pr``, ``pi``, ``ri``, ``r:p`` and the
        residual (``pri,e``, ``ri:p,e``, ``pr,e`` or ``r:p,e``: the highest-order interaction,
        confounded with error).
    source : str
        The effect in plain words.
    raw : float
        The estimate as solved; may be negative (sampling error around a small component).
    estimate : float
        ``max(raw, 0)``: the value used in every coefficient.
    """

    effect: str
    source: str
    raw: float
    estimate: float

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-ready dict."""
        return {
            "effect": self.effect,
            "source": self.source,
            "raw": self.raw,
            "estimate": self.estimate,
        }


@dataclass(frozen=True)
class Coefficients:
    """Error variances and coefficients for one D-study design.

    Attributes
    ----------
    design : {"crossed", "nested"}
        The D-study design.
    n_assessors : float
        Assessors per submission, ``n'_r`` (a harmonic mean for the observed unbalanced design).
    n_criteria : float
        Criteria per submission, ``n'_i`` (1 in a single-facet design).
    universe : float
        Universe-score variance, sigma^2(tau) = sigma^2(p).
    relative_error : float
        Relative error variance, sigma^2(delta).
    absolute_error : float
        Absolute error variance, sigma^2(Delta).
    g : float
        Generalizability coefficient E rho^2 = sigma^2(tau) / (sigma^2(tau) + sigma^2(delta)):
        dependability of rank-ordering submissions. NaN when all components are 0.
    phi : float
        Index of dependability Phi = sigma^2(tau) / (sigma^2(tau) + sigma^2(Delta)): dependability
        of a decision against a fixed standard (e.g. "Demonstrated"). NaN when all components
        are 0.
    """

    design: Design
    n_assessors: float
    n_criteria: float
    universe: float
    relative_error: float
    absolute_error: float
    g: float
    phi: float

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-ready dict."""
        return {
            "design": self.design,
            "n_assessors": self.n_assessors,
            "n_criteria": self.n_criteria,
            "universe_variance": self.universe,
            "relative_error_variance": self.relative_error,
            "absolute_error_variance": self.absolute_error,
            "g": self.g,
            "phi": self.phi,
        }


@dataclass(frozen=True)
class VarianceComponents:
    """A G study: the variance components of one design, with the data's sizes.

    Attributes
    ----------
    design : {"crossed", "nested"}
        The G-study design.
    notation : str
        Brennan's name of the design: ``p x r x i``, ``(r:p) x i``, ``p x r`` or ``r:p``.
    balanced : bool
        Whether every cell of the design is filled with the same count (then the estimates are
        the ANOVA/EMS ones).
    n_ratings, n_submissions, n_assessors, n_criteria : int
        Sizes of the data (``n_assessors`` counts distinct assessor codes).
    assessors_per_submission : float
        Harmonic mean over submissions of the number of assessors.
    most_assessors : int
        The most assessors any submission had.
    criteria_per_assessment : float
        Harmonic mean over (submission, assessor) pairs of the number of criteria rated.
    components : tuple of VarianceComponent
        In Brennan's order; the first is ``p``.
    """

    design: Design
    notation: str
    balanced: bool
    n_ratings: int
    n_submissions: int
    n_assessors: int
    n_criteria: int
    assessors_per_submission: float
    most_assessors: int
    criteria_per_assessment: float
    components: tuple[VarianceComponent, ...]

    @property
    def estimator(self) -> str:
        """The estimator's name: ANOVA (EMS) on balanced data, else Henderson's Method 1."""
        if self.balanced:
            return "ANOVA (expected mean squares)"
        return "Henderson Method 1 (analogous ANOVA)"

    def __getitem__(self, effect: str) -> VarianceComponent:
        for component in self.components:
            if component.effect == effect:
                return component
        known = ", ".join(c.effect for c in self.components)
        raise KeyError(f"no effect {effect!r} in the {self.notation} design (one of {known})")

    def coefficients(
        self,
        n_assessors: float,
        n_criteria: float | None = None,
        *,
        design: Design | None = None,
    ) -> Coefficients:
        """Error variances, E rho^2 and Phi for ``n_assessors`` assessors per submission.

        Parameters
        ----------
        n_assessors : float
            Assessors per submission in the D study, ``n'_r`` (> 0).
        n_criteria : float, optional
            Criteria in the D study, ``n'_i`` (> 0); default: as in the G study. Ignored in a
            single-facet design.
        design : {"crossed", "nested"}, optional
            The D-study design; default: the G-study design. Components of a crossed G study
            also give the nested D study (the live design) through sigma^2(r:p) = sigma^2(r) +
            sigma^2(pr) and sigma^2(ri:p) = sigma^2(ri) + sigma^2(pri) (Brennan 2001, ch. 4);
            the reverse is impossible.

        Returns
        -------
        Coefficients

        Notes
        -----
        Brennan's (2001, ch. 4) rules for a D study of mean scores over ``n'_r`` assessors and
        ``n'_i`` criteria, with ``d(a) = n'_r`` if ``a`` contains ``r``, times ``n'_i`` if it
        contains ``i``:

        .. math::

            \\sigma^2(\\tau) = \\sigma^2(p), \\quad
            \\sigma^2(\\delta) = \\sum_{a \\ni p,\\, a \\ne p} \\sigma^2(a) / d(a), \\quad
            \\sigma^2(\\Delta) = \\sum_{a \\ne p} \\sigma^2(a) / d(a),

            E\\rho^2 = \\frac{\\sigma^2(\\tau)}{\\sigma^2(\\tau) + \\sigma^2(\\delta)}, \\quad
            \\Phi = \\frac{\\sigma^2(\\tau)}{\\sigma^2(\\tau) + \\sigma^2(\\Delta)}.

        For p x R x I this is sigma^2(delta) = sigma^2(pr)/n'_r + sigma^2(pi)/n'_i +
        sigma^2(pri)/(n'_r n'_i) and sigma^2(Delta) adds sigma^2(r)/n'_r + sigma^2(i)/n'_i +
        sigma^2(ri)/(n'_r n'_i); for (R:p) x I, sigma^2(delta) = sigma^2(r:p)/n'_r +
        sigma^2(pi)/n'_i + sigma^2(ri:p)/(n'_r n'_i) and sigma^2(Delta) adds sigma^2(i)/n'_i.
        Phi is the same for a crossed and a nested D study of the same components; E rho^2 is
        lower for the nested one, where assessor severity enters the relative error.
        """
        if not n_assessors > 0:
            raise StatisticsError(f"n_assessors must be > 0, got {n_assessors}")
        if n_criteria is None:
            n_criteria = self.criteria_per_assessment
        if not n_criteria > 0:
            raise StatisticsError(f"n_criteria must be > 0, got {n_criteria}")
        d_design = self._d_design(design)
        tau, rel_a, rel_b, abs_a, abs_b = self._error_terms(n_criteria, d_design)
        relative = rel_a + rel_b / n_assessors
        absolute = abs_a + abs_b / n_assessors
        n_i = float(n_criteria) if self._multi_criteria else 1.0
        return Coefficients(
            design=d_design,
            n_assessors=float(n_assessors),
            n_criteria=n_i,
            universe=tau,
            relative_error=relative,
            absolute_error=absolute,
            g=_ratio(tau, relative),
            phi=_ratio(tau, absolute),
        )

    def d_study(
        self,
        n_assessors: Sequence[int],
        n_criteria: Sequence[float] | None = None,
        *,
        design: Design | None = None,
    ) -> tuple[Coefficients, ...]:
        """The D-study table: :meth:`coefficients` for every pair of sizes.

        Parameters
        ----------
        n_assessors : sequence of int
            Assessors per submission, e.g. ``range(1, 6)``.
        n_criteria : sequence of float, optional
            Criteria per submission; default: the G study's.
        design : {"crossed", "nested"}, optional
            As in :meth:`coefficients`.

        Returns
        -------
        tuple of Coefficients
            Ordered by criteria, then assessors.
        """
        sizes = [None] if n_criteria is None or not self._multi_criteria else list(n_criteria)
        return tuple(
            self.coefficients(n_r, n_i, design=design) for n_i in sizes for n_r in n_assessors
        )

    def assessors_needed(
        self,
        target: float = 0.8,
        *,
        coefficient: Coefficient = "phi",
        n_criteria: float | None = None,
        design: Design | None = None,
    ) -> int | None:
        """The smallest number of assessors per submission whose mean reaches ``target``.

        Parameters
        ----------
        target : float
            The coefficient to reach, in (0, 1).
        coefficient : {"phi", "g"}
            Phi (absolute decisions against a standard, the pass/not-yet case) or E rho^2.
        n_criteria : float, optional
            Criteria per submission; default: the G study's.
        design : {"crossed", "nested"}, optional
            As in :meth:`coefficients`.

        Returns
        -------
        int or None
            None when no number of assessors reaches the target: universe-score variance is
            0, or the criterion terms alone (which more assessors do not shrink) already hold
            the error above the allowed level.

        Notes
        -----
        With error variance ``A + B / n'_r`` (``A``: the terms without ``r``), the coefficient
        reaches ``t`` when ``n'_r >= B / (sigma^2(tau) (1 - t) / t - A)``: the smallest integer
        above that bound, checked against the coefficient itself.
        """
        if not 0 < target < 1:
            raise StatisticsError(f"target must be between 0 and 1 (exclusive), got {target}")
        if n_criteria is None:
            n_criteria = self.criteria_per_assessment
        d_design = self._d_design(design)
        tau, rel_a, rel_b, abs_a, abs_b = self._error_terms(n_criteria, d_design)
        a, b = (abs_a, abs_b) if coefficient == "phi" else (rel_a, rel_b)
        room = tau * (1 - target) / target - a
        if tau <= 0 or room < 0 or (room == 0 and b > 0):
            return None

        def reaches(n: int) -> bool:
            return tau / (tau + a + b / n) >= target

        n = 1 if b == 0 else max(1, math.ceil(b / room))
        while n > 1 and reaches(n - 1):
            n -= 1
        while not reaches(n):
            n += 1
        return n

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-ready dict (components as a list of dicts)."""
        return {
            "design": self.design,
            "notation": self.notation,
            "balanced": self.balanced,
            "estimator": self.estimator,
            "n_ratings": self.n_ratings,
            "n_submissions": self.n_submissions,
            "n_assessors": self.n_assessors,
            "n_criteria": self.n_criteria,
            "assessors_per_submission": self.assessors_per_submission,
            "most_assessors": self.most_assessors,
            "criteria_per_assessment": self.criteria_per_assessment,
            "variance_components": [c.to_dict() for c in self.components],
        }

    @property
    def _multi_criteria(self) -> bool:
        return self.notation in ("p x r x i", "(r:p) x i")

    def _d_design(self, design: Design | None) -> Design:
        if design is None or design == self.design:
            return self.design
        if design == "crossed":
            raise StatisticsError(
                "a nested G study cannot give a crossed D study: sigma^2(r) and sigma^2(pr) are "
                "confounded in sigma^2(r:p)"
            )
        return design

    def _error_terms(
        self, n_criteria: float, design: Design
    ) -> tuple[float, float, float, float, float]:
        """sigma^2(tau) and the error variances split as ``A + B / n'_r`` (relative, absolute)."""
        tau = rel_a = rel_b = abs_a = abs_b = 0.0
        for (mask, _, _), component in zip(
            _EFFECTS[self.design, self._multi_criteria], self.components, strict=True
        ):
            if design == "nested" and mask & _R:
                mask |= _P  # sigma^2(r) joins sigma^2(r:p); sigma^2(ri) joins sigma^2(ri:p)
            if mask == _P:
                tau = component.estimate
                continue
            term = component.estimate / (n_criteria if mask & _I else 1.0)
            if mask & _R:
                abs_b += term
                rel_b += term if mask & _P else 0.0
            else:
                abs_a += term
                rel_a += term if mask & _P else 0.0
        return tau, rel_a, rel_b, abs_a, abs_b


@dataclass(frozen=True)
class GStudy:
    """A G study with its D study: what ``calibrate gstudy`` reports.

    Attributes
    ----------
    components : VarianceComponents
        The G study.
    observed : Coefficients
        E rho^2 and Phi for the observed design sizes (harmonic means when unbalanced).
    d_study : tuple of Coefficients
        1 .. ``max_assessors`` assessors per submission, with the G study's criteria.
    target : float
        The coefficient the assessor counts below aim at.
    assessors_needed_phi, assessors_needed_g : int or None
        Smallest number of assessors per submission reaching ``target`` on Phi and on E rho^2
        (None: unreachable, see :meth:`VarianceComponents.assessors_needed`).
    limit : Coefficients
        The coefficients with infinitely many assessors per submission: the ceiling that the
        criterion terms leave.
    """

    components: VarianceComponents
    observed: Coefficients
    d_study: tuple[Coefficients, ...]
    target: float
    assessors_needed_phi: int | None
    assessors_needed_g: int | None
    limit: Coefficients

    @property
    def g(self) -> float:
        """E rho^2 at the observed design."""
        return self.observed.g

    @property
    def phi(self) -> float:
        """Phi at the observed design."""
        return self.observed.phi

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of ``calibrate gstudy --json``."""
        return {
            **self.components.to_dict(),
            "g": self.observed.g,
            "phi": self.observed.phi,
            "universe_variance": self.observed.universe,
            "relative_error_variance": self.observed.relative_error,
            "absolute_error_variance": self.observed.absolute_error,
            "d_study": [row.to_dict() for row in self.d_study],
            "target": self.target,
            "assessors_needed": {
                "phi": self.assessors_needed_phi,
                "g": self.assessors_needed_g,
            },
            "limit": {"phi": self.limit.phi, "g": self.limit.g},
        }


def variance_components(
    unit: npt.ArrayLike,
    rater: npt.ArrayLike,
    criterion: npt.ArrayLike | None,
    value: npt.ArrayLike,
    *,
    design: Design | None = None,
) -> VarianceComponents:
    """Estimate G-study variance components from long ratings.

    Parameters
    ----------
    unit : array_like of int, shape (n,)
        Submission code of each rating (non-negative).
    rater : array_like of int, shape (n,)
        Assessor code of each rating (non-negative).
    criterion : array_like of int, shape (n,), or None
        Criterion code of each rating; None for one criterion (a single-facet design).
    value : array_like of float, shape (n,)
        The scores (finite: every rating given enters the design).
    design : {"crossed", "nested"}, optional
        ``crossed`` (p x r x i) or ``nested`` ((r:p) x i). Default: ``crossed`` when every
        assessor rated every submission, else ``nested``. The nested model treats each
        submission's assessors as a fresh sample, so assessor severity and the submission x
        assessor interaction merge into sigma^2(r:p); when a few assessors share many
        submissions, ``crossed`` also fits sparse data (missing cells allowed) and separates
        them, and :meth:`VarianceComponents.coefficients` turns it into the nested D study.

    Returns
    -------
    VarianceComponents

    Raises
    ------
    StatisticsError
        Arrays of different lengths, non-integer or negative codes, non-finite scores; fewer
        than two submissions; no submission rated by two assessors; two ratings in one
        submission x assessor x criterion cell; or ratings that cannot separate the design's
        components (the message names the confounded ones).

    Notes
    -----
    The random-effects model of the crossed design is

    .. math:: X_{pri} = \\mu + \\nu_p + \\nu_r + \\nu_i + \\nu_{pr} + \\nu_{pi} + \\nu_{ri}
              + \\nu_{pri,e}

    and of the nested design :math:`X_{pri} = \\mu + \\nu_p + \\nu_i + \\nu_{r:p} + \\nu_{pi}
    + \\nu_{ri:p,e}`, each effect with variance :math:`\\sigma^2(\\alpha)` (Brennan 2001, ch. 3).

    *Estimator.* For each effect :math:`\\alpha` with cells :math:`a` (``n_a`` ratings summing to
    ``S_a``), the T term (Brennan's "analogous T term") is :math:`T(\\alpha) = \\sum_a S_a^2/n_a`,
    and :math:`T(\\mu) = S^2/N`. Under the model (Henderson 1953, Method 1; Searle, Casella &
    McCulloch 1992, ch. 5; Brennan 2001, ch. 7)

    .. math:: E\\,T(\\alpha) = N\\mu^2 + \\sum_\\beta k(\\beta, \\alpha)\\,\\sigma^2(\\beta),
              \\qquad k(\\beta, \\alpha) = \\sum_{c \\in \\alpha \\cup \\beta}
              \\frac{n_c^2}{n_{a(c)}},

    where ``c`` runs over the cells of the effect spanning the factors of both, and ``a(c)`` is
    the cell of :math:`\\alpha` holding ``c`` (so :math:`k = N` when :math:`\\beta \\subseteq
    \\alpha`). Equating :math:`T(\\alpha) - T(\\mu)` to its expectation for every effect gives a
    square linear system for the components. On balanced data these are Brennan's (2001, ch. 3)
    ANOVA/EMS equations, e.g. for p x r x i
    :math:`\\hat\\sigma^2(p) = [MS(p) - MS(pr) - MS(pi) + MS(pri)] / (n_r n_i)`; on unbalanced
    data the estimates stay unbiased (they are not maximum likelihood; REML would weight cells
    differently). All sums are ``np.bincount`` over cell codes: time O(N log N), memory O(N).

    *Negative estimates.* A negative solution (sampling error around a small component) is
    kept as ``raw`` and set to 0 in ``estimate``, without changing the other estimates (Brennan
    2001, ch. 3; Cronbach et al. 1972 instead carry the zero into the other estimates' equations).

    References
    ----------
    Brennan, R. L. (2001). *Generalizability Theory*. New York: Springer.
    doi:10.1007/978-1-4757-3456-0

    Henderson, C. R. (1953). Estimation of variance and covariance components. *Biometrics*,
    9(2), 226-252. doi:10.2307/3001853

    Searle, S. R., Casella, G., & McCulloch, C. E. (1992). *Variance Components*. New York:
    Wiley.

    Cronbach, L. J., Gleser, G. C., Nanda, H., & Rajaratnam, N. (1972). *The Dependability of
    Behavioral Measurements*. New York: Wiley.

    Examples
    --------
    Brennan's (2001, Table 2.2) Synthetic Data Set No. 1 is a p x i design (10 persons, 12
    items); with the items in the assessor role it is this module's single-facet p x r design:

    >>> import numpy as np
    >>> x = np.array([[int(c) for c in row] for row in (
    ...     "101000000000", "111001000000", "111110000000", "110110010000",
    ...     "111110100000", "111011100000", "111111100000", "111101111100",
    ...     "111111111110", "111111111111")])
    >>> p, r = np.indices(x.shape)
    >>> vc = variance_components(p.ravel(), r.ravel(), None, x.ravel())
    >>> [(c.effect, round(c.estimate, 4)) for c in vc.components]
    [('p', 0.0574), ('r', 0.0754), ('pr,e', 0.1269)]
    >>> observed = vc.coefficients(12)
    >>> round(observed.g, 3), round(observed.phi, 3)
    (0.844, 0.773)
    """
    layout = _Layout.build(long_ratings(unit, rater, criterion, value, missing="refuse"))
    multi = layout.n_levels[_I] > 1
    layout.check_replication()
    chosen: Design = design if design is not None else layout.detect_design()
    if chosen not in ("crossed", "nested"):
        raise StatisticsError(f"design must be 'crossed' or 'nested', got {chosen!r}")
    effects = _EFFECTS[chosen, multi]
    if chosen == "crossed":
        layout.check_crossable()
    matrix, rhs = layout.henderson([mask for mask, _, _ in effects])
    _check_identified(matrix, [name for _, name, _ in effects], _NOTATION[chosen, multi])
    raw = np.linalg.solve(matrix, rhs)
    return VarianceComponents(
        design=chosen,
        notation=_NOTATION[chosen, multi],
        balanced=layout.is_balanced(chosen),
        n_ratings=layout.n,
        n_submissions=layout.n_levels[_P],
        n_assessors=layout.n_levels[_R],
        n_criteria=layout.n_levels[_I],
        assessors_per_submission=layout.assessors_per_submission(),
        most_assessors=int(layout.assessors_by_submission().max()),
        criteria_per_assessment=layout.criteria_per_assessment(),
        components=tuple(
            VarianceComponent(effect=name, source=source, raw=float(s), estimate=max(float(s), 0.0))
            for (_, name, source), s in zip(effects, raw, strict=True)
        ),
    )


def gstudy(
    unit: npt.ArrayLike,
    rater: npt.ArrayLike,
    criterion: npt.ArrayLike | None,
    value: npt.ArrayLike,
    *,
    design: Design | None = None,
    target: float = 0.8,
    max_assessors: int | None = None,
    criteria: Sequence[float] | None = None,
) -> GStudy:
    """G study, coefficients at the observed design, D study and assessors needed, in one call.

    Parameters
    ----------
    unit, rater, criterion, value, design
        As in :func:`variance_components` (``criterion`` None for one criterion).
    target : float
        Coefficient the assessor counts aim at, in (0, 1); 0.8 by default.
    max_assessors : int, optional
        The D study runs over 1 .. ``max_assessors`` assessors per submission; default: the
        larger of 5 and the most assessors any submission had.
    criteria : sequence of float, optional
        Numbers of criteria per submission the D study also runs over (a shorter or longer
        rubric); default: the observed one. The assessors needed are for the observed one.

    Returns
    -------
    GStudy

    Raises
    ------
    StatisticsError
        As :func:`variance_components`; also a ``target`` outside (0, 1), ``max_assessors``
        below 1, or a number of criteria that is not positive.

    Notes
    -----
    The observed design is summarised by harmonic means, the sizes at which the D-study error
    variances equal the average error variance over submissions when the counts vary (Brennan
    2001, ch. 7): ``n_r`` over submissions, ``n_i`` over (submission, assessor) pairs.

    Examples
    --------
    Shrout & Fleiss (1979): 6 targets x 4 judges. Phi for one judge is their ICC(2,1) = .29 and
    E rho^2 for four judges their ICC(3,4) = .91:

    >>> x = [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]]
    >>> p, r = np.indices((6, 4))
    >>> study = gstudy(p.ravel(), r.ravel(), None, np.ravel(x))
    >>> round(study.d_study[0].phi, 2), round(study.g, 2), study.assessors_needed_phi
    (0.29, 0.91, 10)
    """
    if max_assessors is not None and max_assessors < 1:
        raise StatisticsError(f"max_assessors must be at least 1, got {max_assessors}")
    if not 0 < target < 1:
        raise StatisticsError(f"target must be between 0 and 1 (exclusive), got {target}")
    if criteria is not None and not all(n > 0 for n in criteria):
        raise StatisticsError(f"numbers of criteria must be positive, got {list(criteria)}")
    vc = variance_components(unit, rater, criterion, value, design=design)
    if max_assessors is None:
        max_assessors = max(5, vc.most_assessors)
    return GStudy(
        components=vc,
        observed=vc.coefficients(vc.assessors_per_submission),
        d_study=vc.d_study(range(1, max_assessors + 1), criteria or None),
        target=target,
        assessors_needed_phi=vc.assessors_needed(target, coefficient="phi"),
        assessors_needed_g=vc.assessors_needed(target, coefficient="g"),
        limit=vc.coefficients(math.inf),
    )


def _ratio(tau: float, error: float) -> float:
    """tau / (tau + error); NaN when both are 0 (no variance at all: nothing to generalize)."""
    total = tau + error
    return tau / total if total > 0 else math.nan


def _compact(codes: npt.NDArray[np.int64]) -> tuple[IntArray, int]:
    """Compact validated codes to 0 .. k-1; returns (codes, k)."""
    levels, inverse = np.unique(codes, return_inverse=True)
    return inverse.astype(np.intp), len(levels)


class _Layout:
    """Compacted codes of the ratings and the cells of every factor combination (cached)."""

    def __init__(self, codes: dict[int, IntArray], n_levels: dict[int, int], x: FloatArray):
        self.codes = codes
        self.n_levels = n_levels
        self.x = x
        self.n = len(x)
        self._cells: dict[int, tuple[IntArray, IntArray]] = {}

    @classmethod
    def build(cls, ratings: LongRatings) -> _Layout:
        x = ratings.value
        n = len(x)
        criterion = ratings.criterion
        if criterion is None:
            criterion = np.zeros(n, dtype=np.int64)
        codes: dict[int, IntArray] = {}
        n_levels: dict[int, int] = {}
        if ratings.rater is None:
            raise StatisticsError("rater must be an array of assessor codes, got None")
        for bit, arr in ((_P, ratings.unit), (_R, ratings.rater), (_I, criterion)):
            codes[bit], n_levels[bit] = _compact(arr)
        if n_levels[_P] < 2:
            raise StatisticsError(
                f"ratings must cover at least two submissions, got {n_levels[_P]}"
            )
        # Centring leaves every T(alpha) - T(mu) unchanged and avoids cancellation.
        return cls(codes, n_levels, x - x.mean())

    def cells(self, mask: int) -> tuple[IntArray, IntArray]:
        """(cell index of each rating, ratings per cell) for the factors in ``mask``."""
        if mask not in self._cells:
            if mask in self.codes:
                inverse = self.codes[mask]
                counts = np.bincount(inverse, minlength=self.n_levels[mask]).astype(np.intp)
            else:
                key = np.zeros(self.n, dtype=np.int64)
                for bit in _FACTOR_BITS:
                    if mask & bit:
                        key = key * self.n_levels[bit] + self.codes[bit]
                _, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
                inverse = inverse.astype(np.intp)
            self._cells[mask] = (inverse, counts.astype(np.intp))
        return self._cells[mask]

    def check_replication(self) -> None:
        """Refuse duplicated cells and data where no submission has two assessors."""
        _, counts = self.cells(_P | _R | _I)
        if counts.max() > 1:
            raise StatisticsError(
                "each submission x assessor x criterion cell must hold at most one rating; "
                f"{int((counts > 1).sum())} cells hold more: keep one rating per cell (e.g. "
                "ratings of one context or round)"
            )
        if self.assessors_by_submission().max() < 2:
            raise StatisticsError(
                "at least one submission must be rated by two or more assessors; every "
                "submission here has one, so assessor variance cannot be told apart from "
                "submission variance (double-score a share of submissions)"
            )

    def check_crossable(self) -> None:
        """The crossed design needs assessors seen on more than one submission."""
        pairs, _ = self.cells(_P | _R)
        rater_of_pair = np.zeros(pairs.max() + 1, dtype=np.intp)
        rater_of_pair[pairs] = self.codes[_R]
        if np.bincount(rater_of_pair, minlength=self.n_levels[_R]).max() < 2:
            raise StatisticsError(
                "the crossed design needs assessors who rated more than one submission; each "
                "assessor here rated one, so assessor and submission x assessor variance are "
                "confounded: use design='nested'"
            )

    def assessors_by_submission(self) -> IntArray:
        pairs, counts = self.cells(_P | _R)
        unit_of_pair = np.zeros(len(counts), dtype=np.intp)
        unit_of_pair[pairs] = self.codes[_P]
        return np.bincount(unit_of_pair, minlength=self.n_levels[_P]).astype(np.intp)

    def detect_design(self) -> Design:
        _, pair_counts = self.cells(_P | _R)
        return "crossed" if len(pair_counts) == self.n_levels[_P] * self.n_levels[_R] else "nested"

    def is_balanced(self, design: Design) -> bool:
        _, pair_counts = self.cells(_P | _R)
        full_pairs = bool((pair_counts == self.n_levels[_I]).all())
        if design == "crossed":
            return full_pairs and len(pair_counts) == self.n_levels[_P] * self.n_levels[_R]
        by_submission = self.assessors_by_submission()
        return full_pairs and bool((by_submission == by_submission[0]).all())

    def assessors_per_submission(self) -> float:
        by_submission = self.assessors_by_submission()
        return float(len(by_submission) / np.sum(1.0 / by_submission))

    def criteria_per_assessment(self) -> float:
        _, pair_counts = self.cells(_P | _R)
        return float(len(pair_counts) / np.sum(1.0 / pair_counts))

    def t_term(self, mask: int) -> float:
        """T(alpha) = sum over cells of (cell sum)^2 / (cell count), on centred scores."""
        inverse, counts = self.cells(mask)
        sums = np.bincount(inverse, weights=self.x, minlength=len(counts))
        return float(np.sum(sums * sums / counts))

    def k(self, beta: int, alpha: int) -> float:
        """Coefficient of sigma^2(beta) in E T(alpha) (alpha = 0: the grand mean)."""
        if beta & ~alpha == 0:
            return float(self.n)
        _, beta_counts = self.cells(beta)
        if alpha == 0:
            return float(np.sum(beta_counts.astype(np.float64) ** 2) / self.n)
        union, union_counts = self.cells(alpha | beta)
        alpha_of_ratings, alpha_counts = self.cells(alpha)
        alpha_of_union = np.zeros(len(union_counts), dtype=np.intp)
        alpha_of_union[union] = alpha_of_ratings
        return float(np.sum(union_counts.astype(np.float64) ** 2 / alpha_counts[alpha_of_union]))

    def henderson(self, masks: Sequence[int]) -> tuple[FloatArray, FloatArray]:
        """The Method 1 system: E[T(alpha) - T(mu)] = sum_beta (k(b, a) - k(b, mu)) s2(beta)."""
        t_mu = float(self.x.sum()) ** 2 / self.n
        matrix = np.array(
            [[self.k(beta, alpha) - self.k(beta, 0) for beta in masks] for alpha in masks]
        )
        rhs = np.array([self.t_term(alpha) - t_mu for alpha in masks])
        return matrix, rhs


def _check_identified(matrix: FloatArray, names: Sequence[str], notation: str) -> None:
    """Raise when the Method 1 system is singular, naming the confounded components."""
    scale = np.abs(matrix).max(axis=0)
    scaled = matrix / np.where(scale > 0, scale, 1.0)
    _, s, vt = np.linalg.svd(scaled)
    tol = s.max() * len(s) * 1e-10
    if s.min() > tol:
        return
    null = vt[-1]
    confounded = [name for name, v in zip(names, null, strict=True) if abs(v) > 1e-6]
    raise StatisticsError(
        f"these ratings cannot separate the variance components "
        f"{', '.join('sigma^2(' + c + ')' for c in confounded)} of the {notation} design "
        "(each needs cells that differ only in it: e.g. assessors who rated two criteria of a "
        "submission, or submissions with two assessors on one criterion)"
    )
