"""Intraclass correlations: the six forms of Shrout & Fleiss (1979), complete designs only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, cast, get_args

import numpy as np
from numpy.typing import ArrayLike

from calibrate.errors import StatisticsError
from calibrate.stats._distributions import f_ppf
from calibrate.stats._input import IntArray, long_ratings
from calibrate.stats._interval import ConfidenceInterval

ICCForm = Literal["ICC1", "ICC2", "ICC3", "ICC1k", "ICC2k", "ICC3k"]
"""Shrout & Fleiss (1979) form: ICC(1,1), ICC(2,1), ICC(3,1) and their k-rater means."""

ICC_FORMS: tuple[ICCForm, ...] = get_args(ICCForm)


@dataclass(frozen=True)
class ICC:
    """The six Shrout & Fleiss (1979) intraclass correlations of a complete design.

    Attributes
    ----------
    ICC1, ICC2, ICC3 : float
        Single-rater reliability: one-way random (ICC(1,1)); two-way random, absolute agreement
        (ICC(2,1) = McGraw & Wong's ICC(A,1)); two-way mixed, consistency (ICC(3,1) = ICC(C,1)).
    ICC1k, ICC2k, ICC3k : float
        Reliability of the mean of the ``n_raters`` raters (ICC(1,k), ICC(2,k), ICC(3,k)).
    bms, wms, jms, ems : float
        Mean squares between targets, within targets, between judges and residual (Shrout &
        Fleiss 1979, Table 2 notation).
    n_units, n_raters : int
        Targets ``n`` and judges ``k``.

    Any ICC is NaN when its denominator is zero (e.g. every rating identical).
    """

    ICC1: float
    ICC2: float
    ICC3: float
    ICC1k: float
    ICC2k: float
    ICC3k: float
    bms: float
    wms: float
    jms: float
    ems: float
    n_units: int
    n_raters: int

    def to_dict(self) -> dict[str, float]:
        """``{"ICC1": ..., ..., "ICC3k": ...}``."""
        return {form: float(getattr(self, form)) for form in ICC_FORMS}

    def confidence_interval(self, form: ICCForm, confidence: float = 0.95) -> ConfidenceInterval:
        """F-based interval (Shrout & Fleiss 1979; McGraw & Wong 1996), as R irr ``icc``.

        For ICC(2,1) and ICC(2,k) the bounds use Satterthwaite's degrees of freedom
        (McGraw & Wong 1996, Table 7); like irr 0.84.1, the ICC(2,k) degrees of freedom are
        computed from the ICC(2,k) estimate itself.
        """
        n, k = self.n_units, self.n_raters
        bms, wms, jms, ems = self.bms, self.wms, self.jms, self.ems
        tail = 0.5 + confidence / 2
        if form in ("ICC1", "ICC1k", "ICC3", "ICC3k"):
            one_way = form in ("ICC1", "ICC1k")
            ratio = bms / wms if one_way else bms / ems
            df2 = n * (k - 1) if one_way else (n - 1) * (k - 1)
            f_low = ratio / float(f_ppf(tail, n - 1, df2))
            f_high = ratio * float(f_ppf(tail, df2, n - 1))
            if form in ("ICC1", "ICC3"):
                return ConfidenceInterval(
                    (f_low - 1) / (f_low + k - 1), (f_high - 1) / (f_high + k - 1), confidence
                )
            return ConfidenceInterval(1 - 1 / f_low, 1 - 1 / f_high, confidence)
        rho = self.ICC2 if form == "ICC2" else self.ICC2k
        a = k * rho / (n * (1 - rho))
        b = 1 + k * rho * (n - 1) / (n * (1 - rho))
        # Satterthwaite df, McGraw & Wong (1996), Table 7
        v = (a * jms + b * ems) ** 2 / (
            (a * jms) ** 2 / (k - 1) + (b * ems) ** 2 / ((n - 1) * (k - 1))
        )
        f_low = float(f_ppf(tail, n - 1, v))
        f_high = float(f_ppf(tail, v, n - 1))
        if form == "ICC2":
            spread = k * jms + (k * n - k - n) * ems
            return ConfidenceInterval(
                n * (bms - f_low * ems) / (f_low * spread + n * bms),
                n * (f_high * bms - ems) / (spread + n * f_high * bms),
                confidence,
            )
        return ConfidenceInterval(
            n * (bms - f_low * ems) / (f_low * (jms - ems) + n * bms),
            n * (f_high * bms - ems) / (jms - ems + n * f_high * bms),
            confidence,
        )


def icc(unit: ArrayLike, rater: ArrayLike, value: ArrayLike) -> ICC:
    r"""The six Shrout & Fleiss (1979) ICCs of a complete units x raters design.

    Parameters
    ----------
    unit, rater : array_like of int, shape (n,)
        Unit (target) and rater (judge) codes.
    value : array_like of float, shape (n,)
        Scores; NaN = missing (which makes the design incomplete).

    Returns
    -------
    ICC

    Raises
    ------
    StatisticsError
        When the design is not complete (every rater scores every unit exactly once), or has
        fewer than two units or two raters. The sparse live design never is complete: use
        Krippendorff's alpha (interval) there.

    Notes
    -----
    From the two-way ANOVA mean squares (Shrout & Fleiss 1979, Tables 2-3), :math:`n` units
    and :math:`k` raters:

    .. math::

        ICC(1,1) = \frac{BMS - WMS}{BMS + (k-1) WMS}, \quad
        ICC(2,1) = \frac{BMS - EMS}{BMS + (k-1) EMS + k (JMS - EMS) / n},

        ICC(3,1) = \frac{BMS - EMS}{BMS + (k-1) EMS}, \quad
        ICC(1,k) = \frac{BMS - WMS}{BMS}, \quad
        ICC(2,k) = \frac{BMS - EMS}{BMS + (JMS - EMS) / n}, \quad
        ICC(3,k) = \frac{BMS - EMS}{BMS}.

    References
    ----------
    .. [1] Shrout, P. E., & Fleiss, J. L. (1979). Intraclass correlations: Uses in assessing
       rater reliability. Psychological Bulletin, 86(2), 420-428.
       doi:10.1037/0033-2909.86.2.420
    .. [2] McGraw, K. O., & Wong, S. P. (1996). Forming inferences about some intraclass
       correlation coefficients. Psychological Methods, 1(1), 30-46 (correction: 1(4), 390).
       doi:10.1037/1082-989X.1.1.30

    Examples
    --------
    Shrout & Fleiss (1979), Table 4: 6 targets x 4 judges; ICCs .17, .29, .71, .44, .62, .91.

    >>> ratings = [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9],
    ...            [6, 2, 4, 7]]
    >>> unit = [i for i in range(6) for _ in range(4)]
    >>> rater = [j for _ in range(6) for j in range(4)]
    >>> value = [x for row in ratings for x in row]
    >>> {form: round(v, 2) for form, v in icc(unit, rater, value).to_dict().items()}
    {'ICC1': 0.17, 'ICC2': 0.29, 'ICC3': 0.71, 'ICC1k': 0.44, 'ICC2k': 0.62, 'ICC3k': 0.91}
    """
    data = long_ratings(unit, rater, None, value)
    u, r, v = data.unit, cast(IntArray, data.rater), data.value
    _, ui = np.unique(u, return_inverse=True)
    _, ri = np.unique(r, return_inverse=True)
    n, k = int(ui.max(initial=-1)) + 1, int(ri.max(initial=-1)) + 1
    cells = np.bincount(ui * k + ri, minlength=n * k)
    if n < 2 or k < 2:
        raise StatisticsError(f"icc needs at least two units and two raters, got {n} and {k}")
    if (cells != 1).any():
        raise StatisticsError(
            "icc needs a complete design: every rater must score every unit exactly once "
            f"({int((cells == 0).sum())} of {n * k} unit x rater cells are empty, "
            f"{int((cells > 1).sum())} have more than one score)"
        )
    grand = v.mean()
    row_means = np.bincount(ui, weights=v, minlength=n) / k
    col_means = np.bincount(ri, weights=v, minlength=k) / n
    ss_total = ((v - grand) ** 2).sum()
    ss_rows = k * ((row_means - grand) ** 2).sum()
    ss_cols = n * ((col_means - grand) ** 2).sum()
    bms = ss_rows / (n - 1)
    wms = (ss_total - ss_rows) / (n * (k - 1))
    jms = ss_cols / (k - 1)
    ems = (ss_total - ss_rows - ss_cols) / ((n - 1) * (k - 1))

    def ratio(num: float, den: float) -> float:
        return float(num / den) if den != 0 else float("nan")

    return ICC(
        ICC1=ratio(bms - wms, bms + (k - 1) * wms),
        ICC2=ratio(bms - ems, bms + (k - 1) * ems + k * (jms - ems) / n),
        ICC3=ratio(bms - ems, bms + (k - 1) * ems),
        ICC1k=ratio(bms - wms, bms),
        ICC2k=ratio(bms - ems, bms + (jms - ems) / n),
        ICC3k=ratio(bms - ems, bms),
        bms=float(bms),
        wms=float(wms),
        jms=float(jms),
        ems=float(ems),
        n_units=n,
        n_raters=k,
    )
