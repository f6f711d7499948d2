r"""Cluster-robust variances of per-group statistics from their influence values.

A statistic :math:`\hat\theta_g` of group :math:`g` (an assessor) that is a mean, or a smooth
function of means, of its :math:`N_g` observations (ratings, pairs of ratings, readings) is
linear to first order: :math:`\hat\theta_g - \theta_g \approx \frac{1}{N_g} \sum_i \psi_i`,
with :math:`\psi_i` the influence value of observation :math:`i` (for a mean,
:math:`\psi_i = x_i - \bar x`; the delta method for a function of means). Observations of one
cluster (a submission, an anchor) are not independent, so the variance sums the influence
values within clusters first:

.. math::

    \widehat{var}(\hat\theta_g) = \frac{A_g}{A_g - 1} \frac{1}{N_g^2}
        \sum_{a} \Big(\sum_{i \in a} \psi_i\Big)^2,

the cluster-robust (sandwich) variance with the usual :math:`A_g / (A_g - 1)` small-sample
factor for :math:`A_g` clusters (Cameron & Miller 2015, eqs. 11 and 13; Liang & Zeger 1986).

References
----------
.. [1] Cameron, A. C., & Miller, D. L. (2015). A practitioner's guide to cluster-robust
   inference. Journal of Human Resources, 50(2), 317-372. doi:10.3368/jhr.50.2.317
.. [2] Liang, K.-Y., & Zeger, S. L. (1986). Longitudinal data analysis using generalized
   linear models. Biometrika, 73(1), 13-22. doi:10.1093/biomet/73.1.13
"""

from __future__ import annotations

import numpy as np

from calibrate.stats._tabulate import FloatArray, IntArray


def clustered_variance(
    group: IntArray, cluster: IntArray, influence: FloatArray, n_groups: int
) -> tuple[FloatArray, IntArray]:
    """Cluster-robust variance of each group's statistic, and each group's number of clusters.

    Parameters
    ----------
    group : ndarray of int64, shape (n,)
        Group code (``0 .. n_groups - 1``) of each observation.
    cluster : ndarray of int64, shape (n,)
        Non-negative cluster code of each observation (e.g. the submission); clusters are
        nested in groups here: the same code in two groups makes two clusters.
    influence : ndarray, shape (n,) or (k, n)
        Influence values :math:`\\psi_i` of ``k`` statistics (each summing to zero within a
        group). NaN where a group's statistic is undefined.
    n_groups : int
        Number of groups ``G``.

    Returns
    -------
    var : ndarray, shape (G,) or (k, G)
        The variance of the formula in the module notes; NaN for a group with fewer than two
        clusters.
    n_clusters : ndarray of int64, shape (G,)
        Distinct clusters per group.

    Examples
    --------
    Two clusters of two observations of a mean with deviations (-1, 0 | 0, +1): sums (-1, 1),
    variance 2/1 * (1 + 1) / 4**2 = 0.25.

    >>> var, a = clustered_variance(
    ...     np.zeros(4, dtype=np.int64), np.array([0, 0, 1, 1]), np.array([-1.0, 0, 0, 1]), 1)
    >>> var.tolist(), a.tolist()
    ([0.25], [2])
    """
    n = np.bincount(group, minlength=n_groups)
    width = int(cluster.max()) + 1 if cluster.size else 1
    cells, cell = np.unique(group * width + cluster, return_inverse=True)
    cell_group = cells // width
    n_clusters = np.bincount(cell_group, minlength=n_groups).astype(np.int64)
    psi = np.atleast_2d(influence)
    var = np.empty((psi.shape[0], n_groups))
    with np.errstate(invalid="ignore", divide="ignore"):
        factor = np.where(n_clusters >= 2, n_clusters / (n_clusters - 1.0), np.nan) / n**2
        for k, row in enumerate(psi):
            score = np.bincount(cell, weights=row, minlength=cells.size)
            var[k] = factor * np.bincount(cell_group, weights=score**2, minlength=n_groups)
    return (var[0] if np.ndim(influence) == 1 else var), n_clusters
