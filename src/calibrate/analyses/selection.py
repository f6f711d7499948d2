"""The ratings an analysis runs on: one rubric version, one context, one reading per cell.

A statistic describes one procedure, so the CLI and the dashboard analyse a :class:`Selection`:
the ratings of a file (narrowed by context and rubric) or of the store (one stored rubric version
and context), with the rubric itself whenever it is known, whose levels and pass rule the analyses
then use: the store's, or for a file the rubric file of the version the file names. Either way
the same ratings give the same answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from calibrate.errors import StatisticsError
from calibrate.ratings import Keep, Ratings, read_ratings_csv

if TYPE_CHECKING:
    from calibrate.rubric import Rubric
    from calibrate.stats.accuracy import DecisionAgreement


@dataclass(frozen=True)
class Selection:
    """Ratings of one procedure, with their rubric version when known.

    Attributes
    ----------
    ratings : Ratings
    rubric : Rubric or None
        The rubric version the ratings were made under: the stored one, or for a file the
        rubric file of the version it names; None when it is not at hand.
    context : str or None
        The context of the ratings (None: not known, e.g. a file whose ``context`` column holds
        several and none was chosen).
    source : str
        What the ratings came from, for headings (a file name, or ``store: id@version, ctx``).
    """

    ratings: Ratings
    rubric: Rubric | None
    context: str | None
    source: str

    @property
    def has_decisions(self) -> bool:
        """Whether pass decisions apply: live ratings with their rubric (and pass rule) known."""
        return self.rubric is not None and self.context == "live"

    @property
    def levels(self) -> tuple[float, ...] | None:
        """The rubric's level scores (the categories chance agreement counts), when known."""
        return None if self.rubric is None else tuple(float(v) for v in self.rubric.scores)


def file_selection(
    path: Path,
    *,
    context: str | None = None,
    rubric: str | None = None,
    keep: Keep | None = None,
    wide: bool = False,
    criterion: str | None = None,
    rubrics: Sequence[Rubric] = (),
) -> Selection:
    """The ratings of a CSV file narrowed to one context and rubric, one per cell
    (:meth:`calibrate.ratings.Ratings.select`).

    ``rubrics`` are the rubric versions at hand (e.g. the rubric files of the programme): when
    the file's ratings name one of them (``rubric`` column, or the ``rubric`` argument), the
    selection carries it, so the analyses count its levels and apply its pass rule exactly as
    they do on the store. The context is the one chosen, else the file's only one (``live``
    without a ``context`` column).
    """
    ratings = read_ratings_csv(path, wide=wide, criterion=criterion if wide else None)
    chosen = ratings.select(context=context, rubric=rubric, keep=keep)
    return Selection(
        chosen, _named_rubric(chosen, rubric, rubrics), _only(chosen, "context", "live"), path.name
    )


def _only(ratings: Ratings, column: str, default: str) -> str | None:
    """The one value of a column in the ratings (``default`` without the column), else None."""
    values = ratings.columns.get(column)
    if values is None:
        return default
    found = np.unique(values.astype(str))
    return str(found[0]) if len(found) == 1 else None


def _named_rubric(ratings: Ratings, rubric: str | None, rubrics: Sequence[Rubric]) -> Rubric | None:
    """The rubric version among ``rubrics`` that the ratings were made under, if named."""
    key = _only(ratings, "rubric", rubric or "")
    if not key:
        return None
    if "@" in key:
        return next((r for r in rubrics if r.key == key), None)
    versions = [r for r in rubrics if r.id == key]
    return versions[0] if len(versions) == 1 else None


def pass_decisions(selection: Selection) -> DecisionAgreement | None:
    """Pass-decision agreement between the first two readings of double-scored live work under
    the selection's rubric (:func:`calibrate.analyses.accuracy.live_decision_agreement`).

    None when it does not apply (no rubric known, not live ratings) or no submission was read
    twice on every criterion.
    """
    if selection.rubric is None or not selection.has_decisions:
        return None
    from calibrate.analyses.accuracy import live_decision_agreement  # only where decisions apply

    try:
        return live_decision_agreement(selection.ratings, selection.rubric)
    except StatisticsError:
        return None
