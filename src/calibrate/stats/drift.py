"""Drift: control charts over each assessor's stream of evidence, and change between terms.

An assessor who was accurate in spring can turn lenient by autumn. Evidence of it arrives as a
time-ordered stream per assessor (validity anchors slipped into live queues, each scored against
the experts' scores), and the question is a sequential one: has this stream moved away from its
in-control level, and since when? Control charts answer it with a stated false-alarm rate, the
in-control average run length (ARL): how many observations an assessor who has not drifted
contributes, on average, before a false alarm.

- :func:`anchor_observations`: validity-anchor readings -> one standardised observation per
  reading (mean signed deviation from the experts over the criteria, over an in-control SD).
- :func:`cusum`: the two-sided tabular CUSUM (Page 1954) per assessor over long arrays; the upper
  statistic signals leniency, the lower severity.
- :func:`ewma`: the EWMA chart (Roberts 1959) per assessor, with time-varying limits.
- :func:`cusum_arl`, :func:`ewma_arl`: ARL of either chart for normal observations by the Markov
  chain approximation (Brook & Evans 1972; Lucas & Saccucci 1990); :func:`cusum_h`,
  :func:`ewma_L`: the decision interval ``h`` / limit width ``L`` giving a target in-control ARL.
- :func:`severity_change`: change of an assessor's severity estimate between two time windows (a
  z test on the difference, with an interval).
- :func:`pool_drift`: change of the whole pool's mean signed deviation between two terms, from
  trend anchors re-scored in both, with an interval clustered by anchor.

Conventions: observations are *assessor minus expert*, so positive = lenient; a direction code
is ``+1`` lenient, ``-1`` severe, ``0`` no alarm.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from calibrate.errors import StatisticsError
from calibrate.stats._distributions import norm_ppf, t_ppf, t_sf
from calibrate.stats._input import FloatArray, IntArray, codes, scores
from calibrate.stats._interval import ConfidenceInterval, ConfidenceIntervals

__all__ = [
    "AnchorObservations",
    "Cusum",
    "Ewma",
    "PoolDrift",
    "SeverityChange",
    "anchor_observations",
    "cusum",
    "cusum_arl",
    "cusum_h",
    "ewma",
    "ewma_L",
    "ewma_arl",
    "pool_drift",
    "severity_change",
]

Limits = Literal["exact", "asymptotic"]
"""EWMA control limits: ``"exact"`` widen with the variance of the statistic at observation
``t`` (time-varying); ``"asymptotic"`` are fixed at their steady-state width."""

Sided = Literal["two", "one"]
"""A two-sided CUSUM (upper and lower statistics) or one one-sided statistic."""

LENIENT, SEVERE, NO_ALARM = 1, -1, 0
_DIRECTION_NAMES = {LENIENT: "lenient", SEVERE: "severe"}

# Mean moving range of independent normal observations over their SD: E|X1 - X2| / sigma.
_D2 = 2.0 / math.sqrt(math.pi)

# The EWMA's exact limits are taken as asymptotic once (1 - lam)^(2t) falls below this.
_SETTLED = 1e-13


# -- charts ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Stream:
    """Long observations sorted by (group, time, input position), with the positions."""

    group: IntArray  # (n,) as given
    time: FloatArray  # (n,) as given
    x: FloatArray  # (n,) as given
    n_groups: int
    order: IntArray  # (n,) input indices in (group, time, index) order
    position: IntArray  # (n,) 0-based position of each input row within its group's stream
    steps: list[IntArray]  # steps[j]: input indices of every group's j-th observation


def _stream(group: ArrayLike, time: ArrayLike, x: ArrayLike, n_groups: int | None) -> _Stream:
    g = codes(group, "group")
    n = g.size
    t = _times(time, n)
    v = scores(x, "x", n, like="group")
    n_g = _n_groups(g, n_groups)
    order = np.lexsort((np.arange(n), t, g)).astype(np.int64)
    count = np.bincount(g, minlength=n_g)
    start = np.concatenate([[0], np.cumsum(count)[:-1]]).astype(np.int64)
    position = np.empty(n, dtype=np.int64)
    position[order] = np.arange(n) - start[g[order]]
    by_position = order[np.argsort(position[order], kind="stable")]
    edges = np.cumsum(np.bincount(position, minlength=1))
    steps = np.split(by_position, edges[:-1])
    return _Stream(g, t, v, n_g, order, position, [s for s in steps if s.size])


def _alarms(
    s: _Stream, up: NDArray[np.bool_], down: NDArray[np.bool_]
) -> tuple[IntArray, IntArray, FloatArray, IntArray, IntArray]:
    """Per group: n, first alarm (input index, -1), its time (NaN), run length (0), direction."""
    n = np.bincount(s.group, minlength=s.n_groups).astype(np.int64)
    alarm = np.full(s.n_groups, -1, dtype=np.int64)
    flagged = s.order[(up | down)[s.order]]  # sorted by group, then time: first = earliest
    groups, first = np.unique(s.group[flagged], return_index=True)
    alarm[groups] = flagged[first]
    hit = alarm >= 0
    alarm_time = np.full(s.n_groups, np.nan)
    alarm_time[hit] = s.time[alarm[hit]]
    run_length = np.zeros(s.n_groups, dtype=np.int64)
    run_length[hit] = s.position[alarm[hit]] + 1
    direction = np.full(s.n_groups, NO_ALARM, dtype=np.int64)
    direction[hit] = np.where(up[alarm[hit]], LENIENT, SEVERE)
    return n, alarm, alarm_time, run_length, direction


def _alarm_dict(
    n: IntArray, alarm: IntArray, alarm_time: FloatArray, run_length: IntArray, direction: IntArray
) -> dict[str, Any]:
    hit = alarm >= 0
    return {
        "n": n.tolist(),
        "alarm": [int(a) if h else None for a, h in zip(alarm, hit, strict=True)],
        "alarm_time": [float(t) if h else None for t, h in zip(alarm_time, hit, strict=True)],
        "run_length": [int(r) if h else None for r, h in zip(run_length, hit, strict=True)],
        "direction": [_DIRECTION_NAMES.get(int(d)) for d in direction],
    }


@dataclass(frozen=True)
class Cusum:
    """A two-sided tabular CUSUM run over each group's stream.

    The paths are aligned with the input arrays (entry ``i`` is the statistic right after
    observation ``i`` of its group); the per-group arrays have shape (G,), one entry per group
    code ``0 .. G-1``. A group without observations has ``n == 0`` and no alarm.

    Attributes
    ----------
    upper : ndarray, shape (n,)
        :math:`C^+`, accumulating observations above ``k``: evidence of leniency.
    lower : ndarray, shape (n,)
        :math:`C^-`, accumulating observations below ``-k`` (non-negative, like ``upper``):
        evidence of severity.
    n : ndarray of int64, shape (G,)
        Observations of each group.
    alarm : ndarray of int64, shape (G,)
        Input index of the group's first observation at which ``upper`` or ``lower`` exceeds
        ``h``; ``-1`` without alarm.
    alarm_time : ndarray, shape (G,)
        ``time`` of that observation; NaN without alarm.
    run_length : ndarray of int64, shape (G,)
        Observations of the group up to and including the alarm (1-based position of the
        alarm in the group's stream); 0 without alarm.
    direction : ndarray of int64, shape (G,)
        ``+1`` lenient (``upper`` signalled), ``-1`` severe (``lower``), ``0`` no alarm.
    k, h : float
        Reference value and decision interval, in SD units of the observations.
    """

    upper: FloatArray
    lower: FloatArray
    n: IntArray
    alarm: IntArray
    alarm_time: FloatArray
    run_length: IntArray
    direction: IntArray
    k: float
    h: float

    def to_dict(self) -> dict[str, Any]:
        """Plain numbers: ``k``, ``h``; per group ``n``, ``alarm``, ``alarm_time``,
        ``run_length`` (None without alarm) and ``direction`` (``"lenient"``, ``"severe"`` or
        None); the paths ``upper`` and ``lower`` in input order."""
        return {
            "k": self.k,
            "h": self.h,
            **_alarm_dict(self.n, self.alarm, self.alarm_time, self.run_length, self.direction),
            "upper": self.upper.tolist(),
            "lower": self.lower.tolist(),
        }


def cusum(
    group: ArrayLike,
    time: ArrayLike,
    x: ArrayLike,
    *,
    k: float = 0.5,
    h: float = 5.0,
    n_groups: int | None = None,
) -> Cusum:
    r"""Two-sided tabular CUSUM of standardised observations, per group (assessor).

    Parameters
    ----------
    group : array_like of int, shape (n,)
        Group code of each observation: the assessor.
    time : array_like of float, shape (n,)
        When each observation was made (days, seconds: any increasing number); it orders each
        group's stream. Ties keep the input order.
    x : array_like of float, shape (n,)
        Standardised observations, in-control mean 0 and SD 1 (e.g.
        :attr:`AnchorObservations.x`); positive = lenient.
    k : float, default 0.5
        Reference value (allowance), in SD units: half the shift the chart is tuned to detect.
    h : float, default 5.0
        Decision interval, in SD units.
    n_groups : int, optional
        Number of groups ``G`` (default: largest group code + 1).

    Returns
    -------
    Cusum

    Raises
    ------
    StatisticsError
        Arrays of different lengths, group codes that are not non-negative integers, times or
        observations that are not finite numbers, ``k < 0``, ``h <= 0``.

    Notes
    -----
    For each group, in time order, starting from :math:`C^+_0 = C^-_0 = 0` (Page 1954;
    Montgomery 2009, Sect. 9.1.2, in standardised units):

    .. math::

        C^+_t = \max(0,\; x_t - k + C^+_{t-1}), \qquad
        C^-_t = \max(0,\; -x_t - k + C^-_{t-1}),

    and the chart signals at the first :math:`t` with :math:`C^+_t > h` (lenient) or
    :math:`C^-_t > h` (severe); at the first signal only one of them can exceed ``h``. The
    paths are not reset after a signal: the next chart of an assessor starts on the observations
    that follow the investigation.

    The defaults ``k = 0.5, h = 5`` are the design Montgomery (2009, Sect. 9.1.3) recommends: a
    shift of one SD is detected after about 10.4 observations, and an assessor who has not
    drifted raises a false alarm once every 465 observations on average (Table 9.3; compute
    either with :func:`cusum_arl`, or choose ``h`` for another in-control ARL with
    :func:`cusum_h`). With thousands of assessors each contributing a few anchors a week, the
    in-control ARL sets how many assessors a term flags by chance: about
    ``n_assessors * anchors_per_assessor / ARL0``.

    References
    ----------
    .. [1] Page, E. S. (1954). Continuous inspection schemes. Biometrika, 41(1/2), 100-115.
       doi:10.1093/biomet/41.1-2.100
    .. [2] Montgomery, D. C. (2009). Introduction to Statistical Quality Control (6th ed.),
       ch. 9. Wiley.

    Examples
    --------
    Assessor 0 turns lenient from the third anchor on; assessor 1 is harsh from the start:

    >>> result = cusum([0, 1, 0, 0, 1, 0, 0, 1, 0],
    ...                [1, 2, 2, 3, 4, 4, 5, 6, 6],
    ...                [0.25, -1.5, -0.5, 1.5, -2.5, 2.0, 1.75, -3.0, 2.25])
    >>> result.upper[[0, 2, 3, 5, 6, 8]].tolist()
    [0.0, 0.0, 1.0, 2.5, 3.75, 5.5]
    >>> result.lower[[1, 4, 7]].tolist()
    [1.0, 3.0, 5.5]
    >>> result.to_dict()["direction"], result.run_length.tolist(), result.alarm_time.tolist()
    (['lenient', 'severe'], [6, 3], [6.0, 6.0])
    """
    _check_cusum_design(k, h)
    s = _stream(group, time, x, n_groups)
    upper = np.zeros(s.x.size)
    lower = np.zeros(s.x.size)
    c_up = np.zeros(s.n_groups)
    c_down = np.zeros(s.n_groups)
    for rows in s.steps:
        g = s.group[rows]
        c_up[g] = np.maximum(0.0, s.x[rows] - k + c_up[g])
        c_down[g] = np.maximum(0.0, -s.x[rows] - k + c_down[g])
        upper[rows] = c_up[g]
        lower[rows] = c_down[g]
    n, alarm, alarm_time, run_length, direction = _alarms(s, upper > h, lower > h)
    return Cusum(upper, lower, n, alarm, alarm_time, run_length, direction, float(k), float(h))


@dataclass(frozen=True)
class Ewma:
    """An EWMA chart run over each group's stream.

    Paths are aligned with the input arrays; per-group arrays have shape (G,). A group without
    observations has ``n == 0`` and no alarm.

    Attributes
    ----------
    z : ndarray, shape (n,)
        The EWMA statistic right after each observation: above 0 = lenient.
    limit : ndarray, shape (n,)
        Half-width of the control limits at that observation: the chart signals when
        ``|z| > limit``.
    n, alarm, alarm_time, run_length, direction : ndarray, shape (G,)
        As in :class:`Cusum`: observations, input index of the first alarm (``-1``), its time
        (NaN), its 1-based position in the group's stream (0), ``+1`` lenient / ``-1`` severe /
        ``0`` none.
    lam, L : float
        Smoothing constant and limit width in SDs of ``z``.
    limits : {"exact", "asymptotic"}
        Time-varying or steady-state limits.
    """

    z: FloatArray
    limit: FloatArray
    n: IntArray
    alarm: IntArray
    alarm_time: FloatArray
    run_length: IntArray
    direction: IntArray
    lam: float
    L: float
    limits: Limits

    def to_dict(self) -> dict[str, Any]:
        """Plain numbers: ``lam``, ``L``, ``limits``; per group ``n``, ``alarm``,
        ``alarm_time``, ``run_length`` (None without alarm), ``direction``; the paths ``z`` and
        ``limit`` in input order."""
        return {
            "lam": self.lam,
            "L": self.L,
            "limits": self.limits,
            **_alarm_dict(self.n, self.alarm, self.alarm_time, self.run_length, self.direction),
            "z": self.z.tolist(),
            "limit": self.limit.tolist(),
        }


def ewma(
    group: ArrayLike,
    time: ArrayLike,
    x: ArrayLike,
    *,
    lam: float = 0.1,
    L: float = 2.814,
    limits: Limits = "exact",
    n_groups: int | None = None,
) -> Ewma:
    r"""EWMA chart of standardised observations, per group (assessor).

    Parameters
    ----------
    group : array_like of int, shape (n,)
        Group code of each observation: the assessor.
    time : array_like of float, shape (n,)
        When each observation was made; it orders each group's stream (ties keep input order).
    x : array_like of float, shape (n,)
        Standardised observations, in-control mean 0 and SD 1; positive = lenient.
    lam : float, default 0.1
        Smoothing constant :math:`\lambda`, in (0, 1]; 1 is the Shewhart chart of single
        observations.
    L : float, default 2.814
        Width of the limits in standard deviations of the statistic.
    limits : {"exact", "asymptotic"}, default "exact"
        ``"exact"``: limits that widen with the variance of :math:`z_t` (narrow at the first
        observations, so an assessor drifting from the start is caught early);
        ``"asymptotic"``: the steady-state width throughout, as Lucas & Saccucci (1990) tabulate.
    n_groups : int, optional
        Number of groups ``G`` (default: largest group code + 1).

    Returns
    -------
    Ewma

    Raises
    ------
    StatisticsError
        Arrays of different lengths, bad group codes, times or observations that are not finite,
        :math:`\lambda` outside (0, 1], ``L <= 0``, an unknown ``limits``.

    Notes
    -----
    For each group, in time order, from :math:`z_0 = 0` (Roberts 1959; Montgomery 2009,
    Sect. 9.2):

    .. math::

        z_t = \lambda x_t + (1 - \lambda) z_{t-1}, \qquad
        \text{signal if } |z_t| > L \sqrt{\frac{\lambda}{2 - \lambda}
            \left[1 - (1 - \lambda)^{2t}\right]},

    with the bracket set to 1 for asymptotic limits; :math:`z_t > 0` at the signal is lenient.

    The defaults :math:`\lambda = 0.1, L = 2.814` are Lucas & Saccucci's (1990, Table 3) design
    with an in-control ARL of 500 (asymptotic limits) that detects a one-SD shift after about
    10.3 observations, close to the CUSUM defaults of :func:`cusum`. The exact limits make
    early alarms more likely, false or true: with them this design's in-control ARL is about
    486 and a one-SD shift present from the start is caught after about 8.2 observations
    (:func:`ewma_arl`; :func:`ewma_L` gives the ``L`` for a target).

    References
    ----------
    .. [1] Roberts, S. W. (1959). Control chart tests based on geometric moving averages.
       Technometrics, 1(3), 239-250. doi:10.1080/00401706.1959.10489860
    .. [2] Lucas, J. M., & Saccucci, M. S. (1990). Exponentially weighted moving average
       control schemes: Properties and enhancements. Technometrics, 32(1), 1-12.
       doi:10.1080/00401706.1990.10484583
    .. [3] Montgomery, D. C. (2009). Introduction to Statistical Quality Control (6th ed.),
       ch. 9. Wiley.

    Examples
    --------
    With :math:`\lambda = 0.5` the first limit is :math:`L \lambda`; an assessor scoring one SD
    above the experts on every anchor signals at the second observation:

    >>> result = ewma([0, 0, 0, 0], [1, 2, 3, 4], [1.0, 1.0, 1.0, 1.0], lam=0.5, L=2.0)
    >>> result.z.tolist()
    [0.5, 0.75, 0.875, 0.9375]
    >>> [round(v, 4) for v in result.limit.tolist()]
    [1.0, 1.118, 1.1456, 1.1524]
    >>> result.run_length.tolist(), result.to_dict()["direction"]
    ([0], [None])
    >>> ewma([0, 0], [1, 2], [2.5, 2.5], lam=0.5, L=2.0).run_length.tolist()
    [1]
    """
    _check_ewma_design(lam, L, limits)
    s = _stream(group, time, x, n_groups)
    z = np.zeros(s.x.size)
    state = np.zeros(s.n_groups)
    for rows in s.steps:
        g = s.group[rows]
        state[g] = lam * s.x[rows] + (1.0 - lam) * state[g]
        z[rows] = state[g]
    limit = np.full(s.x.size, L * math.sqrt(lam / (2.0 - lam)))
    if limits == "exact":
        limit *= np.sqrt(1.0 - (1.0 - lam) ** (2.0 * (s.position + 1)))
    n, alarm, alarm_time, run_length, direction = _alarms(s, z > limit, z < -limit)
    return Ewma(z, limit, n, alarm, alarm_time, run_length, direction, float(lam), float(L), limits)


# -- average run lengths -----------------------------------------------------------------------


def cusum_arl(
    k: float = 0.5,
    h: float = 5.0,
    *,
    shift: float = 0.0,
    sided: Sided = "two",
    states: int = 400,
) -> float:
    r"""Average run length of a tabular CUSUM for normal observations (Markov chain).

    Parameters
    ----------
    k, h : float
        Reference value and decision interval of :func:`cusum`, in SD units.
    shift : float, default 0
        Mean of the observations in SD units: 0 gives the in-control ARL, 1 the ARL to detect a
        one-SD shift present from the first observation (zero-state ARL).
    sided : {"two", "one"}, default "two"
        ``"two"``: the chart of :func:`cusum` (both statistics); ``"one"``: the upper statistic
        alone (the lower one's ARL at ``shift`` is the upper one's at ``-shift``).
    states : int, default 400
        Number of transient states ``m`` of the chain; the error falls as :math:`1/m^2`
        (relative error below :math:`10^{-4}` at the default for ``h`` up to 5).

    Returns
    -------
    float
        The ARL, in observations.

    Raises
    ------
    StatisticsError
        ``k < 0``, ``h <= 0``, a shift that is not finite, fewer than 10 states, an unknown
        ``sided``.

    Notes
    -----
    Brook & Evans (1972) discretise the upper statistic :math:`C^+` on :math:`[0, h]` into
    :math:`m` states of width :math:`w = 2h / (2m - 1)`: state 0 is :math:`C^+ = 0`, state
    :math:`i` stands for :math:`C^+ = i w`, and a step beyond :math:`h` absorbs. With
    :math:`\Phi` the normal CDF and :math:`\delta` the shift, the transitions between transient
    states are

    .. math::

        R_{ij} = \Phi\left((j - i + \tfrac12) w + k - \delta\right)
            - \Phi\left((j - i - \tfrac12) w + k - \delta\right) \quad (j \ge 1), \qquad
        R_{i0} = \Phi\left((\tfrac12 - i) w + k - \delta\right),

    and the vector of ARLs from each state solves :math:`(I - R)\, \mathbf{a} = \mathbf{1}`;
    the chart starts in state 0. The two-sided ARL combines the one-sided ones,

    .. math::

        \frac{1}{ARL} = \frac{1}{ARL^+(\delta)} + \frac{1}{ARL^+(-\delta)}

    (Van Dobben de Bruyn 1968; Lucas & Crosier 1982), exact when the two statistics cannot be
    positive together (:math:`h \le 2k`) and a close approximation otherwise: the Monte Carlo
    tests of this module check it at ``k = 0.5, h = 4`` and ``h = 5``.

    References
    ----------
    .. [1] Brook, D., & Evans, D. A. (1972). An approach to the probability distribution of
       cusum run length. Biometrika, 59(3), 539-549. doi:10.1093/biomet/59.3.539
    .. [2] Lucas, J. M., & Crosier, R. B. (1982). Fast initial response for CUSUM
       quality-control schemes: Give your CUSUM a head start. Technometrics, 24(3), 199-205.
    .. [3] Van Dobben de Bruyn, C. S. (1968). Cumulative Sum Tests: Theory and Practice.
       Griffin.
    .. [4] Montgomery, D. C. (2009). Introduction to Statistical Quality Control (6th ed.),
       Sect. 9.1.3, Table 9.3. Wiley.

    Examples
    --------
    Lucas & Crosier (1982, Table 1), two-sided, ``k = 0.5, h = 4``: 168 in control, 8.38 for a
    one-SD shift; Montgomery (2009, Table 9.3), ``h = 5``: 465 and 10.4.

    >>> round(cusum_arl(0.5, 4.0)), round(cusum_arl(0.5, 4.0, shift=1.0), 2)
    (168, 8.38)
    >>> round(cusum_arl(0.5, 5.0)), round(cusum_arl(0.5, 5.0, shift=1.0), 1)
    (465, 10.4)
    """
    _check_cusum_design(k, h)
    delta = _finite(shift, "shift")
    m = _check_states(states)
    if sided == "one":
        return _cusum_one_sided(k, h, delta, m)
    if sided != "two":
        raise StatisticsError(f"sided must be 'two' or 'one', got {sided!r}")
    up = _cusum_one_sided(k, h, delta, m)
    down = _cusum_one_sided(k, h, -delta, m)
    return 1.0 / (1.0 / up + 1.0 / down)


def _cusum_one_sided(k: float, h: float, delta: float, m: int) -> float:
    from scipy.special import ndtr

    w = 2.0 * h / (2 * m - 1)
    i = np.arange(m)
    step = (i[None, :] - i[:, None]) * w  # (j - i) w
    below = ndtr(step + w / 2 + k - delta)
    r = below - ndtr(step - w / 2 + k - delta)
    r[:, 0] = below[:, 0]
    return float(np.linalg.solve(np.eye(m) - r, np.ones(m))[0])


def ewma_arl(
    lam: float = 0.1,
    L: float = 2.814,
    *,
    shift: float = 0.0,
    limits: Limits = "exact",
    states: int = 601,
) -> float:
    r"""Average run length of a two-sided EWMA chart for normal observations (Markov chain).

    Parameters
    ----------
    lam, L : float
        Smoothing constant and limit width of :func:`ewma`.
    shift : float, default 0
        Mean of the observations in SD units, present from the first observation (zero-state
        ARL); 0 gives the in-control ARL.
    limits : {"exact", "asymptotic"}, default "exact"
        The limits of the chart (:func:`ewma`); Lucas & Saccucci (1990) tabulate
        ``"asymptotic"``.
    states : int, default 601
        Number of transient states ``m`` of the chain; the error falls as :math:`1/m^2`
        (relative error below :math:`10^{-3}` at the default for :math:`\lambda \ge 0.03`).

    Returns
    -------
    float
        The ARL, in observations.

    Raises
    ------
    StatisticsError
        :math:`\lambda` outside (0, 1], ``L <= 0``, a shift that is not finite, fewer than 10
        states, an unknown ``limits``.

    Notes
    -----
    Lucas & Saccucci (1990) discretise the in-control region :math:`(-U, U)`,
    :math:`U = L \sqrt{\lambda / (2 - \lambda)}`, into :math:`m` cells of width
    :math:`w = 2U / m` with midpoints :math:`c_i`; from :math:`z_{t-1} = c_i` the statistic
    lands in cell :math:`j = [a_j, b_j)` with probability

    .. math::

        P_{ij} = \Phi\left(\frac{b_j - (1 - \lambda) c_i}{\lambda} - \delta\right)
            - \Phi\left(\frac{a_j - (1 - \lambda) c_i}{\lambda} - \delta\right),

    and the ARLs from each cell solve :math:`(I - P)\, \mathbf{a} = \mathbf{1}`. The chart
    starts at :math:`z_0 = 0`: with :math:`\mathbf{p}_1` the probabilities of the cells after
    the first observation, :math:`ARL = 1 + \mathbf{p}_1 \cdot \mathbf{a}`.

    With exact limits the region at observation :math:`t` is :math:`(-U_t, U_t)`,
    :math:`U_t = U \sqrt{1 - (1 - \lambda)^{2t}}`: the chain is not homogeneous until
    :math:`U_t` reaches :math:`U`. The survival vector is carried forward,
    :math:`\mathbf{p}_t = \mathbf{p}_{t-1} P_t` with every cell clipped to :math:`(-U_t, U_t)`,
    until :math:`(1 - \lambda)^{2T} < 10^{-13}`, then
    :math:`ARL = 1 + \sum_{t < T} \mathbf{p}_t \cdot \mathbf{1} + \mathbf{p}_T \cdot \mathbf{a}`
    (the sum over :math:`t \ge 0` of :math:`P(\text{run length} > t)`).

    References
    ----------
    .. [1] Lucas, J. M., & Saccucci, M. S. (1990). Exponentially weighted moving average
       control schemes: Properties and enhancements. Technometrics, 32(1), 1-12.
       doi:10.1080/00401706.1990.10484583
    .. [2] Brook, D., & Evans, D. A. (1972). An approach to the probability distribution of
       cusum run length. Biometrika, 59(3), 539-549. doi:10.1093/biomet/59.3.539

    Examples
    --------
    Lucas & Saccucci (1990, Table 3), :math:`\lambda = 0.1, L = 2.814`: 500 in control, 10.3
    for a one-SD shift; the Shewhart chart (:math:`\lambda = 1`) with 3-sigma limits: 370.4.

    >>> round(ewma_arl(0.1, 2.814, limits="asymptotic"), -1)
    500.0
    >>> round(ewma_arl(0.1, 2.814, shift=1.0, limits="asymptotic"), 1)
    10.3
    >>> round(ewma_arl(1.0, 3.0), 1)
    370.4
    """
    _check_ewma_design(lam, L, limits)
    delta = _finite(shift, "shift")
    m = _check_states(states)
    from scipy.special import ndtr

    big_u = L * math.sqrt(lam / (2.0 - lam))
    edges = np.linspace(-big_u, big_u, m + 1)
    centre = (edges[:-1] + edges[1:]) / 2

    def land(low: FloatArray, high: FloatArray, start: FloatArray) -> FloatArray:
        """P(z_t in [low, high) | z_{t-1} = start), start down the rows."""
        mean = (1.0 - lam) * start[:, None]
        out: FloatArray = ndtr((high[None, :] - mean) / lam - delta) - ndtr(
            (low[None, :] - mean) / lam - delta
        )
        return out

    p_matrix = land(edges[:-1], edges[1:], centre)
    arl_from = np.linalg.solve(np.eye(m) - p_matrix, np.ones(m))
    origin = np.zeros(1)
    total = 1.0
    p = np.zeros(m)
    t = 1
    while True:
        settled = limits == "asymptotic" or (1.0 - lam) ** (2 * t) < _SETTLED
        u_t = big_u if settled else big_u * math.sqrt(1.0 - (1.0 - lam) ** (2 * t))
        low = np.clip(edges[:-1], -u_t, u_t)
        high = np.clip(edges[1:], -u_t, u_t)
        if t == 1:
            p = land(low, high, origin)[0]
        else:
            clipped = (low != edges[:-1]) | (high != edges[1:])
            nxt = p @ p_matrix
            nxt[clipped] = p @ land(low[clipped], high[clipped], centre)
            p = nxt
        if settled:
            return float(total + p @ arl_from)
        total += float(p.sum())
        t += 1


def cusum_h(
    target_arl: float,
    *,
    k: float = 0.5,
    sided: Sided = "two",
    states: int = 400,
) -> float:
    """Decision interval ``h`` of a CUSUM with a target in-control ARL.

    Parameters
    ----------
    target_arl : float
        In-control ARL wanted, in observations (370 matches a Shewhart chart with 3-sigma
        limits; 465 is Montgomery's ``h = 5`` design).
    k : float, default 0.5
        Reference value.
    sided, states
        As in :func:`cusum_arl`.

    Returns
    -------
    float
        ``h`` with ``cusum_arl(k, h) == target_arl`` (to about 1e-6 in ``h``).

    Raises
    ------
    StatisticsError
        A target that is not finite or not above the ARL of the smallest ``h`` (about
        ``1 / P(|x| > k)``), ``k < 0``.

    Notes
    -----
    The ARL grows with ``h``; Brent's method finds the root of ``cusum_arl(k, h) - target``.

    References
    ----------
    .. [1] Hawkins, D. M. (1993). Cumulative sum control charting: An underutilized SPC tool.
       Quality Engineering, 5(3), 463-477.
    .. [2] Montgomery, D. C. (2009). Introduction to Statistical Quality Control (6th ed.),
       Sect. 9.1.3. Wiley.

    Examples
    --------
    Hawkins (1993), reproduced in Montgomery (2009, Table 9.4), gives ``h = 4.77`` for
    ``k = 0.5`` and an in-control ARL of 370 (200 states are plenty for two decimals):

    >>> round(cusum_h(370.0, k=0.5, states=200), 2)
    4.77
    """
    _check_cusum_design(k, 1.0)
    return _solve_width(lambda h: cusum_arl(k, h, sided=sided, states=states), target_arl, "h", 1.0)


def ewma_L(
    target_arl: float,
    *,
    lam: float = 0.1,
    limits: Limits = "exact",
    states: int = 601,
) -> float:
    r"""Limit width ``L`` of an EWMA chart with a target in-control ARL.

    Parameters
    ----------
    target_arl : float
        In-control ARL wanted, in observations.
    lam : float, default 0.1
        Smoothing constant.
    limits, states
        As in :func:`ewma_arl`.

    Returns
    -------
    float
        ``L`` with ``ewma_arl(lam, L, limits=limits) == target_arl`` (to about 1e-6).

    Raises
    ------
    StatisticsError
        A target that is not finite or not above 1, :math:`\lambda` outside (0, 1].

    Notes
    -----
    The ARL grows with ``L``; Brent's method finds the root of ``ewma_arl(lam, L) - target``.

    Examples
    --------
    Lucas & Saccucci's (1990, Table 3) designs for an in-control ARL of 500 (asymptotic
    limits): ``L = 2.814`` for :math:`\lambda = 0.1`, ``L = 3.071`` for :math:`\lambda = 0.5`
    (301 states are enough for three decimals):

    >>> round(ewma_L(500.0, lam=0.1, limits="asymptotic", states=301), 3)
    2.814
    >>> round(ewma_L(500.0, lam=0.5, limits="asymptotic", states=301), 3)
    3.071
    """
    _check_ewma_design(lam, 1.0, limits)
    return _solve_width(
        lambda w: ewma_arl(lam, w, limits=limits, states=states), target_arl, "L", 2.0
    )


def _solve_width(arl: Callable[[float], float], target: float, name: str, start: float) -> float:
    goal = _finite(target, "target_arl")
    low, high = 1e-3, start
    floor = arl(low)
    if not goal > floor:
        raise StatisticsError(
            f"target_arl must exceed {floor:.4g}, the ARL as {name} goes to 0, got {goal}"
        )
    while arl(high) < goal:
        low, high = high, 2.0 * high
        if high > 1e3:
            raise StatisticsError(f"target_arl {goal} needs {name} beyond 1000: too large")
    from scipy.optimize import brentq

    root: float = brentq(lambda w: arl(w) - goal, low, high, xtol=1e-7, rtol=1e-10)
    return float(root)


# -- observations ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AnchorObservations:
    """One standardised observation per validity-anchor reading, ready for the charts.

    Every array has shape (r,), one entry per reading, in the order of the reading codes.

    Attributes
    ----------
    reading : ndarray of int64
        The reading codes.
    group : ndarray of int64
        Assessor (group code) of each reading.
    time : ndarray
        Time of each reading (the latest time among its ratings).
    n_criteria : ndarray of int64
        Ratings (criteria scored) in each reading.
    deviation : ndarray
        Mean signed deviation of the reading: mean over its criteria of assessor minus expert
        score; positive = lenient.
    x : ndarray
        ``(deviation - target) / sd``: the chart's observation.
    sd : float
        In-control SD of :attr:`deviation` used for the standardisation.
    sd_source : {"given", "moving range"}
        Whether ``sd`` was passed or estimated from the readings' moving ranges.
    n_ranges : int
        Moving ranges behind an estimated ``sd`` (0 when given).
    """

    reading: IntArray
    group: IntArray
    time: FloatArray
    n_criteria: IntArray
    deviation: FloatArray
    x: FloatArray
    sd: float
    sd_source: Literal["given", "moving range"]
    n_ranges: int

    def to_dict(self) -> dict[str, Any]:
        """Plain numbers: the per-reading arrays as lists, ``sd``, ``sd_source``, ``n_ranges``."""
        return {
            "reading": self.reading.tolist(),
            "group": self.group.tolist(),
            "time": self.time.tolist(),
            "n_criteria": self.n_criteria.tolist(),
            "deviation": self.deviation.tolist(),
            "x": self.x.tolist(),
            "sd": self.sd,
            "sd_source": self.sd_source,
            "n_ranges": self.n_ranges,
        }


def anchor_observations(
    reading: ArrayLike,
    group: ArrayLike,
    time: ArrayLike,
    value: ArrayLike,
    expert: ArrayLike,
    *,
    target: float | ArrayLike = 0.0,
    sd: float | None = None,
    n_groups: int | None = None,
) -> AnchorObservations:
    r"""Validity-anchor readings -> standardised observations for :func:`cusum` and :func:`ewma`.

    Parameters
    ----------
    reading : array_like of int, shape (n,)
        Reading code of each rating: one assessor's scoring of one anchor on one occasion (an
        anchor met twice by the same assessor is two readings).
    group : array_like of int, shape (n,)
        Assessor (group code) of each rating; one per reading.
    time : array_like of float, shape (n,)
        Time of each rating; a reading's time is the latest of its ratings'.
    value : array_like of float, shape (n,)
        The assessor's criterion scores.
    expert : array_like of float, shape (n,)
        The expert scores of the same anchor and criteria.
    target : float or array_like of shape (G,), default 0
        In-control mean deviation: 0 holds every assessor to the experts; an array holds each
        assessor to their own baseline (e.g. their spring mean deviation).
    sd : float, optional
        In-control SD of a reading's mean deviation, e.g. ``.sd`` of the observations of a
        baseline period. Default: estimated from these readings' moving ranges.
    n_groups : int, optional
        Number of groups ``G`` (default: largest group code + 1).

    Returns
    -------
    AnchorObservations

    Raises
    ------
    StatisticsError
        No rating, arrays of different lengths, bad codes, scores or times that are not finite,
        a reading with two assessors, ``sd`` not positive, a ``target`` array not of shape
        (G,); without ``sd``: no assessor with two readings, or readings that all deviate alike
        (estimated SD 0).

    Notes
    -----
    Reading :math:`r` of assessor :math:`g` on :math:`C_r` criteria gives
    :math:`\bar d_r = \frac{1}{C_r} \sum_c (x_{rc} - e_{rc})` and the observation
    :math:`x_r = (\bar d_r - \mu_g) / \hat\sigma`.

    The in-control SD is that of one assessor's readings around their own level, not the
    spread of the whole pool (which adds the differences between assessors' severities). It is
    estimated by the average moving range of each assessor's consecutive readings, pooled over
    assessors: :math:`\hat\sigma = \overline{MR} / d_2` with
    :math:`d_2 = 2 / \sqrt{\pi} \approx 1.128`, as for the individuals control chart
    (Montgomery 2009, ch. 6). Differencing within assessor removes their severity, and a level
    shift (the drift to be detected) enters only the one range that straddles it, where the
    standard deviation of all readings would absorb it. The median moving range, more robust to
    outliers, is not used: scores are few discrete levels, and on an accurate pool most ranges
    are 0, so the median is 0. Deviations are bounded by the rubric, so outliers are bounded too.

    The standardisation assumes readings score the same criteria (one rubric); the charts' ARLs
    (:func:`cusum_arl`, :func:`ewma_arl`) assume normal observations, which a mean over 4-8
    criteria of a 3-6 level rubric approximates coarsely: check a design's false-alarm rate on
    the programme's own in-control data when it matters.

    A Bernoulli CUSUM of "misses" (Reynolds & Stoumbos 1999) is not offered: a miss (a
    reading off the experts) records that an assessor is inaccurate but not in which direction,
    while the signed mean deviation carries the direction and more information per reading.

    References
    ----------
    .. [1] Montgomery, D. C. (2009). Introduction to Statistical Quality Control (6th ed.),
       ch. 6 (individuals charts) and ch. 9. Wiley.
    .. [2] Reynolds, M. R., Jr., & Stoumbos, Z. G. (1999). A CUSUM chart for monitoring a
       proportion when inspecting continuously. Journal of Quality Technology, 31(1), 87-108.

    Examples
    --------
    Assessor 0 reads anchors at times 1, 2, 3 on two criteria; deviations 0, +1/2, +1; the two
    moving ranges average 1/2, so :math:`\hat\sigma = 0.5 / 1.128 = 0.443`:

    >>> obs = anchor_observations([0, 0, 1, 1, 2, 2], [0] * 6, [1, 1, 2, 2, 3, 3],
    ...                           [2, 2, 3, 2, 3, 3], [2, 2, 2, 2, 2, 2])
    >>> obs.deviation.tolist(), round(obs.sd, 4), obs.x.round(3).tolist()
    ([0.0, 0.5, 1.0], 0.4431, [0.0, 1.128, 2.257])
    """
    r_code = codes(reading, "reading")
    n = r_code.size
    g = codes(group, "group", n, like="reading")
    t = _times(time, n, like="reading")
    v = scores(value, "value", n, like="reading")
    e = scores(expert, "expert", n, like="reading")
    if n == 0:
        raise StatisticsError("readings must hold at least one rating paired with an expert score")
    n_g = _n_groups(g, n_groups)
    readings, idx = np.unique(r_code, return_inverse=True)
    n_r = readings.size
    g_low = np.full(n_r, np.iinfo(np.int64).max)
    g_high = np.full(n_r, -1)
    np.minimum.at(g_low, idx, g)
    np.maximum.at(g_high, idx, g)
    mixed = np.flatnonzero(g_low != g_high)
    if mixed.size:
        r = mixed[0]
        raise StatisticsError(
            f"each reading must belong to one assessor: reading {readings[r]} has groups "
            f"{g_low[r]} and {g_high[r]}"
        )
    r_time = np.full(n_r, -np.inf)
    np.maximum.at(r_time, idx, t)
    n_criteria = np.bincount(idx, minlength=n_r).astype(np.int64)
    deviation = np.bincount(idx, weights=v - e, minlength=n_r) / n_criteria
    mu = _target(target, n_g)
    source: Literal["given", "moving range"]
    if sd is None:
        sigma, n_ranges = _moving_range_sd(g_low, r_time, deviation)
        source = "moving range"
    else:
        sigma = _finite(sd, "sd")
        if not sigma > 0:
            raise StatisticsError(f"sd must be positive, got {sd}")
        n_ranges, source = 0, "given"
    return AnchorObservations(
        reading=readings.astype(np.int64),
        group=g_low,
        time=r_time,
        n_criteria=n_criteria,
        deviation=deviation,
        x=(deviation - mu[g_low]) / sigma,
        sd=sigma,
        sd_source=source,
        n_ranges=n_ranges,
    )


def _moving_range_sd(g: IntArray, t: FloatArray, d: FloatArray) -> tuple[float, int]:
    order = np.lexsort((np.arange(g.size), t, g))
    same = g[order][1:] == g[order][:-1]
    ranges = np.abs(np.diff(d[order]))[same]
    if ranges.size == 0:
        raise StatisticsError(
            "readings must include an assessor with two readings to estimate sd (or pass sd)"
        )
    sigma = float(ranges.mean()) / _D2
    if not sigma > 0:
        raise StatisticsError(
            "sd estimated from the moving ranges is 0 (consecutive readings all deviate "
            "alike): pass sd"
        )
    return sigma, int(ranges.size)


def _target(target: float | ArrayLike, n_g: int) -> FloatArray:
    mu = np.asarray(target, dtype=np.float64)
    if mu.ndim == 0:
        mu = np.full(n_g, float(mu))
    elif mu.shape != (n_g,):
        raise StatisticsError(
            f"target must be a number or an array of shape ({n_g},), one per group, "
            f"got shape {mu.shape}"
        )
    if not np.isfinite(mu).all():
        raise StatisticsError("target must be finite")
    return mu


# -- change between windows and terms ----------------------------------------------------------


@dataclass(frozen=True)
class SeverityChange:
    r"""Change of each assessor's severity estimate from window a to window b.

    Every array has shape (G,); NaN where either window's estimate is missing (NaN).

    Attributes
    ----------
    difference : ndarray
        ``estimate_b - estimate_a``.
    se : ndarray
        :math:`\sqrt{se_a^2 + se_b^2}`.
    z : ndarray
        ``difference / se``.
    p_value : ndarray
        Two-sided normal p-value of ``z``.
    """

    difference: FloatArray
    se: FloatArray
    z: FloatArray
    p_value: FloatArray

    def confidence_interval(self, confidence: float = 0.95) -> ConfidenceIntervals:
        """Normal interval for :attr:`difference`: ``difference +- z_(1 - alpha/2) * se``."""
        _check_confidence(confidence)
        half = self.se * float(norm_ppf(0.5 + confidence / 2))
        return ConfidenceIntervals(self.difference - half, self.difference + half, confidence)

    def to_dict(self) -> dict[str, Any]:
        """Plain numbers: ``difference``, ``se``, ``z``, ``p_value`` and the 95% ``ci`` as lists
        (None for NaN)."""
        ci = self.confidence_interval()
        return {
            "difference": _json(self.difference),
            "se": _json(self.se),
            "z": _json(self.z),
            "p_value": _json(self.p_value),
            "ci": [[lo, hi] for lo, hi in zip(_json(ci.low), _json(ci.high), strict=True)],
        }


def severity_change(
    estimate_a: ArrayLike,
    se_a: ArrayLike,
    estimate_b: ArrayLike,
    se_b: ArrayLike,
) -> SeverityChange:
    r"""Test of change in each assessor's severity between two time windows.

    Parameters
    ----------
    estimate_a, estimate_b : array_like of float, shape (G,)
        Severity estimates of each assessor in the earlier (a) and later (b) window, e.g. Rasch
        severities from fits per window on a linked scale, or anchor mean deviations; NaN for an
        assessor without an estimate in that window.
    se_a, se_b : array_like of float, shape (G,)
        Their standard errors: positive, or NaN beside a NaN estimate.

    Returns
    -------
    SeverityChange

    Raises
    ------
    StatisticsError
        Arrays that are not 1-D or of different lengths, infinite values, standard errors that
        are not positive.

    Notes
    -----
    With independent estimates in the two windows,

    .. math::

        \Delta = \hat s_b - \hat s_a, \qquad SE(\Delta) = \sqrt{SE_a^2 + SE_b^2}, \qquad
        z = \Delta / SE(\Delta),

    referred to the standard normal, and the interval :math:`\Delta \pm z_{1-\alpha/2} SE`.
    Independence holds for estimates from disjoint ratings; the error of linking the windows'
    scales (e.g. anchoring criterion difficulties) is not included. The sign of :math:`\Delta`
    follows the estimates': a Rasch severity that rises means harsher scoring, a mean deviation
    that rises means more lenient. Testing every assessor of a pool at 5% flags 5% of those who
    did not change: adjust the p-values for the number of assessors tested (e.g. Holm), or
    monitor with :func:`cusum`.

    Examples
    --------
    Severity 0.10 (SE 0.15) in spring and -0.40 (SE 0.20) in autumn: a change of -0.5 logits,
    SE 0.25, z = -2:

    >>> change = severity_change([0.10], [0.15], [-0.40], [0.20])
    >>> round(float(change.z[0]), 6), round(float(change.p_value[0]), 4)
    (-2.0, 0.0455)
    >>> ci = change.confidence_interval()[0]
    >>> round(ci.low, 4), round(ci.high, 4)
    (-0.99, -0.01)
    """
    a = _estimates(estimate_a, "estimate_a")
    n = a.size
    sa = _estimates(se_a, "se_a", n)
    b = _estimates(estimate_b, "estimate_b", n)
    sb = _estimates(se_b, "se_b", n)
    for s, name in ((sa, "se_a"), (sb, "se_b")):
        if (s <= 0).any():
            raise StatisticsError(f"{name} must hold positive standard errors (or NaN)")
    from scipy.special import ndtr

    difference = b - a
    se = np.sqrt(sa**2 + sb**2)
    z = difference / se
    return SeverityChange(difference, se, z, 2.0 * ndtr(-np.abs(z)))


@dataclass(frozen=True)
class PoolDrift:
    """The pool's mean signed deviation on trend anchors in two terms, and its change.

    Attributes
    ----------
    mean : ndarray, shape (2,)
        Mean of assessor minus expert score over the ratings of term 0 and of term 1;
        positive = lenient.
    se : ndarray, shape (2,)
        Their standard errors, clustered by anchor (those of
        :func:`~calibrate.stats.accuracy.anchor_accuracy` with the term as group).
    n : ndarray of int64, shape (2,)
        Ratings used in each term.
    n_assessors : ndarray of int64, shape (2,)
        Assessors among them.
    n_anchors : int
        Anchors scored in both terms: the clusters.
    n_dropped : int
        Ratings left out: on anchors scored in one term only, or (``same_assessors``) by
        assessors who rated in one term only.
    change : float
        ``mean[1] - mean[0]``: above 0 = the pool turned more lenient.
    change_se : float
        Its cluster-robust standard error; NaN below two anchors.
    df : int
        Degrees of freedom of the t reference, ``n_anchors - 1``.
    """

    mean: FloatArray
    se: FloatArray
    n: IntArray
    n_assessors: IntArray
    n_anchors: int
    n_dropped: int
    change: float
    change_se: float
    df: int

    @property
    def statistic(self) -> float:
        """t statistic of the change, ``change / change_se``."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return float(np.float64(self.change) / np.float64(self.change_se))

    @property
    def p_value(self) -> float:
        """Two-sided p-value of :attr:`statistic` on :attr:`df` degrees of freedom."""
        if self.df < 1:
            return math.nan
        return float(2.0 * t_sf(abs(self.statistic), self.df))

    def confidence_interval(self, confidence: float = 0.95) -> ConfidenceInterval:
        """Interval for :attr:`change`: ``change +- t * change_se``, Student's t on
        :attr:`df` degrees of freedom (Cameron & Miller 2015); NaN below two anchors."""
        _check_confidence(confidence)
        if self.df < 1:
            return ConfidenceInterval(math.nan, math.nan, confidence)
        half = self.change_se * float(t_ppf(0.5 + confidence / 2, self.df))
        return ConfidenceInterval(self.change - half, self.change + half, confidence)

    def to_dict(self) -> dict[str, Any]:
        """Plain numbers: every field, ``statistic``, ``p_value`` and the 95% interval of the
        change as ``change_ci`` (``[low, high]``; None for NaN)."""
        return {
            "mean": _json(self.mean),
            "se": _json(self.se),
            "n": self.n.tolist(),
            "n_assessors": self.n_assessors.tolist(),
            "n_anchors": self.n_anchors,
            "n_dropped": self.n_dropped,
            "change": self.change,
            "change_se": _json(np.array([self.change_se]))[0],
            "df": self.df,
            "statistic": _json(np.array([self.statistic]))[0],
            "p_value": _json(np.array([self.p_value]))[0],
            "change_ci": _json(np.array(self.confidence_interval().to_list())),
        }


def pool_drift(
    unit: ArrayLike,
    term: ArrayLike,
    rater: ArrayLike,
    value: ArrayLike,
    expert: ArrayLike,
    *,
    same_assessors: bool = False,
) -> PoolDrift:
    r"""Drift of the whole pool between two terms, from trend anchors re-scored in both.

    Parameters
    ----------
    unit : array_like of int, shape (n,)
        Trend-anchor code of each rating (the clusters).
    term : array_like of int, shape (n,)
        0 for the earlier term, 1 for the later.
    rater : array_like of int, shape (n,)
        Assessor code of each rating.
    value : array_like of float, shape (n,)
        The assessor's score (one criterion of one anchor).
    expert : array_like of float, shape (n,)
        The expert score of the same anchor and criterion.
    same_assessors : bool, default False
        Keep only assessors who rated in both terms, so that a change in the pool's make-up
        (new assessors, departures) does not show as drift.

    Returns
    -------
    PoolDrift

    Raises
    ------
    StatisticsError
        Arrays of different lengths, bad codes, a term other than 0 or 1, scores that are not
        finite, no anchor scored in both terms (after ``same_assessors``).

    Notes
    -----
    Only anchors scored in both terms are used: a trend anchor's own pull (an exemplar that
    everyone reads generously) then enters both terms. With :math:`d_i` = assessor minus expert
    score of rating :math:`i`, :math:`\bar d_0, \bar d_1` the means over the :math:`N_0, N_1`
    ratings of each term, the change :math:`\Delta = \bar d_1 - \bar d_0` is the slope of the
    regression of :math:`d` on a term indicator. Ratings of one anchor share its pull, in both
    terms, so its cluster-robust variance treats anchors as clusters (Cameron & Miller 2015):
    with :math:`A` anchors, residuals :math:`e_i = d_i - \bar d_{t(i)}` and weights
    :math:`w_i = 1/N_1` in term 1, :math:`-1/N_0` in term 0,

    .. math::

        \widehat{var}(\Delta) = \frac{A}{A - 1} \sum_a \Big(\sum_{i \in a} w_i e_i\Big)^2,

    and the interval uses Student's t on :math:`A - 1` degrees of freedom. With one rating per
    anchor and term this is the paired t interval over anchors; each term's own standard error
    is the clustered one of :func:`~calibrate.stats.accuracy.anchor_accuracy`. Dependence
    between one assessor's ratings of different anchors is not modelled (two-way clustering
    would add it); it matters when few assessors rate many trend anchors.

    References
    ----------
    .. [1] Cameron, A. C., & Miller, D. L. (2015). A practitioner's guide to cluster-robust
       inference. Journal of Human Resources, 50(2), 317-372. doi:10.3368/jhr.50.2.317

    Examples
    --------
    Three trend anchors, one rating each per term: deviations (0, -1, 0) in term 0 and
    (1, 0, 0) in term 1, so anchor changes (1, 1, 0) with mean 2/3 and SD 0.577: the paired t
    interval on 2 degrees of freedom.

    >>> drift = pool_drift([0, 1, 2, 0, 1, 2], [0, 0, 0, 1, 1, 1], [0, 1, 2, 0, 1, 2],
    ...                    [2, 1, 3, 3, 2, 3], [2, 2, 3, 2, 2, 3])
    >>> drift.mean.tolist(), round(drift.change, 4), round(drift.change_se, 4), drift.df
    ([-0.3333333333333333, 0.3333333333333333], 0.6667, 0.3333, 2)
    >>> ci = drift.confidence_interval()
    >>> round(ci.low, 4), round(ci.high, 4)
    (-0.7676, 2.1009)
    """
    a = codes(unit, "unit")
    n_all = a.size
    term_ = codes(term, "term", n_all, like="anchor")
    r = codes(rater, "rater", n_all)
    v = scores(value, "value", n_all, like="anchor")
    e = scores(expert, "expert", n_all, like="anchor")
    if n_all and int(term_.max()) > 1:
        raise StatisticsError(
            f"term must hold 0 (earlier term) or 1 (later term), got {int(term_.max())}"
        )
    keep = np.ones(n_all, dtype=bool)
    if same_assessors:
        keep &= _in_both_terms(r, term_)
    keep &= _in_both_terms(np.where(keep, a, -1), term_)  # anchors scored in both terms
    if not keep.any():
        raise StatisticsError("ratings must include an anchor scored in both terms")
    a, term_, r, d = a[keep], term_[keep], r[keep], (v - e)[keep]
    n = np.bincount(term_, minlength=2).astype(np.int64)
    mean = np.bincount(term_, weights=d, minlength=2) / n
    resid = d - mean[term_]
    anchors, cluster = np.unique(a, return_inverse=True)
    n_anchors = anchors.size
    factor = n_anchors / (n_anchors - 1) if n_anchors > 1 else math.nan
    # Per term: the clustered variance of a mean (anchor_accuracy's), A / (A - 1) factor.
    se = np.empty(2)
    for t in (0, 1):
        in_t = term_ == t
        score = np.bincount(cluster[in_t], weights=resid[in_t], minlength=n_anchors)
        se[t] = math.sqrt(factor * float(np.sum(score**2))) / n[t]
    # The slope: scores w_i e_i summed within anchors.
    w = np.where(term_ == 1, 1.0 / n[1], -1.0 / n[0])
    score = np.bincount(cluster, weights=w * resid, minlength=n_anchors)
    change_se = math.sqrt(factor * float(np.sum(score**2)))
    n_assessors = np.array([np.unique(r[term_ == t]).size for t in (0, 1)], dtype=np.int64)
    return PoolDrift(
        mean=mean,
        se=se,
        n=n,
        n_assessors=n_assessors,
        n_anchors=int(n_anchors),
        n_dropped=int(n_all - keep.sum()),
        change=float(mean[1] - mean[0]),
        change_se=change_se,
        df=int(n_anchors - 1),
    )


def _in_both_terms(code: IntArray, term: IntArray) -> NDArray[np.bool_]:
    """Rows whose code (``-1`` = excluded) appears in term 0 and in term 1."""
    if code.size == 0:
        return np.zeros(0, dtype=bool)
    shifted = code + 1
    seen = np.zeros((2, int(shifted.max()) + 1), dtype=bool)
    seen[term, shifted] = True
    both = seen[0] & seen[1]
    both[0] = False
    out: NDArray[np.bool_] = both[shifted]
    return out


# -- checks ------------------------------------------------------------------------------------


def _finite(x: Any, name: str) -> float:
    try:
        out = float(x)
    except (TypeError, ValueError):
        raise StatisticsError(f"{name} must be a number, got {x!r}") from None
    if not math.isfinite(out):
        raise StatisticsError(f"{name} must be finite, got {out}")
    return out


def _check_cusum_design(k: float, h: float) -> None:
    if not _finite(k, "k") >= 0:
        raise StatisticsError(f"k must be non-negative (a reference value in SDs), got {k}")
    if not _finite(h, "h") > 0:
        raise StatisticsError(f"h must be positive (a decision interval in SDs), got {h}")


def _check_ewma_design(lam: float, L: float, limits: str) -> None:
    if not 0 < _finite(lam, "lam") <= 1:
        raise StatisticsError(f"lam must be in (0, 1], got {lam}")
    if not _finite(L, "L") > 0:
        raise StatisticsError(f"L must be positive (a limit width in SDs), got {L}")
    if limits not in ("exact", "asymptotic"):
        raise StatisticsError(f"limits must be 'exact' or 'asymptotic', got {limits!r}")


def _check_states(states: int) -> int:
    if isinstance(states, bool) or not isinstance(states, int | np.integer) or states < 10:
        raise StatisticsError(f"states must be an integer of at least 10, got {states!r}")
    return int(states)


def _check_confidence(confidence: float) -> None:
    if not 0 < confidence < 1:
        raise StatisticsError(f"confidence must be between 0 and 1, got {confidence}")


def _times(x: ArrayLike, n: int, *, like: str = "group") -> FloatArray:
    arr = np.asarray(x)
    if arr.dtype.kind not in "iuf":
        raise StatisticsError(
            f"time must hold numbers (e.g. days or seconds since an origin), got dtype {arr.dtype}"
        )
    t = arr.astype(np.float64)
    if t.ndim != 1 or t.size != n:
        raise StatisticsError(f"time must be a 1-D array as long as {like} ({n}), got {t.shape}")
    if not np.isfinite(t).all():
        raise StatisticsError("time must be finite (no NaN or infinite times)")
    return t


def _estimates(x: ArrayLike, name: str, n: int | None = None) -> FloatArray:
    try:
        v = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise StatisticsError(f"{name} must hold numbers") from None
    if v.ndim != 1 or (n is not None and v.size != n):
        want = "a 1-D array" if n is None else f"a 1-D array as long as estimate_a ({n})"
        raise StatisticsError(f"{name} must be {want}, got shape {v.shape}")
    if np.isinf(v).any():
        raise StatisticsError(f"{name} must be finite (NaN marks a missing estimate)")
    return v


def _n_groups(g: IntArray, n_groups: int | None) -> int:
    top = int(g.max()) + 1 if g.size else 0
    if n_groups is None:
        return top
    if n_groups < top:
        raise StatisticsError(f"n_groups ({n_groups}) must exceed every group code (max {top - 1})")
    return int(n_groups)


def _json(x: FloatArray) -> list[float | None]:
    return [None if math.isnan(v) else float(v) for v in x.tolist()]
