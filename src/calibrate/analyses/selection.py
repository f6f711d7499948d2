"""The ratings an analysis runs on: one rubric version, one context, one reading per cell.

A statistic describes one procedure, so the CLI and the dashboard analyse a :class:`Selection`:
the ratings of a file (narrowed by context and rubric) or of the store (one stored rubric version
and context, with the rubric itself, whose levels and pass rule the analyses then use).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from calibrate.analyses.accuracy import live_decision_agreement
from calibrate.errors import StatisticsError
from calibrate.ratings import Keep, Ratings, read_ratings_csv
from calibrate.rubric import Rubric
from calibrate.stats.accuracy import DecisionAgreement


@dataclass(frozen=True)
class Selection:
    """Ratings of one procedure, with their rubric version when known (from the store).

    Attributes
    ----------
    ratings : Ratings
    rubric : Rubric or None
        The stored rubric version; None for a file (whose rubric files are not at hand).
    context : str or None
        The context of the ratings (None: a file's ratings as narrowed by its columns).
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
) -> Selection:
    """The ratings of a CSV file narrowed to one context and rubric, one per cell
    (:meth:`calibrate.ratings.Ratings.select`)."""
    ratings = read_ratings_csv(path, wide=wide, criterion=criterion if wide else None)
    chosen = ratings.select(context=context, rubric=rubric, keep=keep)
    return Selection(chosen, None, context, path.name)


def pass_decisions(selection: Selection) -> DecisionAgreement | None:
    """Pass-decision agreement between the first two readings of double-scored live work under
    the selection's rubric (:func:`calibrate.analyses.accuracy.live_decision_agreement`).

    None when it does not apply (no rubric known, not live ratings) or no submission was read
    twice on every criterion.
    """
    if selection.rubric is None or not selection.has_decisions:
        return None
    try:
        return live_decision_agreement(selection.ratings, selection.rubric)
    except StatisticsError:
        return None
