"""Statistics core: pure functions over long arrays (unit, rater, value), typed results.

Imports only numpy, scipy, krippendorff and :mod:`calibrate.errors`.
"""
