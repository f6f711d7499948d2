"""One exception family for everything a user can get wrong.

The CLI and the dashboard turn a :class:`CalibrateError` into one clear line (or a list of lines for
a :class:`ValidationError`); anything else reaching them is a bug and keeps its traceback.
"""

from __future__ import annotations

from dataclasses import dataclass


class CalibrateError(Exception):
    """Base class: a problem with the user's input or request, stated as the broken rule."""


class StatisticsError(CalibrateError, ValueError):
    """Input that a statistic cannot be computed on (e.g. no unit rated twice)."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input: where it is and what rule it breaks.

    ``line`` is 1-based in the source file where the parser knows it; ``field`` is a dotted path
    (``criteria[2].descriptors.3``) or a CSV column name.
    """

    source: str
    message: str
    line: int | None = None
    field: str | None = None

    def __str__(self) -> str:
        where = self.source if self.line is None else f"{self.source}:{self.line}"
        field = f" [{self.field}]" if self.field else ""
        return f"{where}{field}: {self.message}"


SHOWN = 50  # problems listed in the message (for library users); all are in ``problems``


class ValidationError(CalibrateError):
    """An input file (rubric, anchor set, ratings) broke one or more rules.

    ``problems`` holds every problem; the message lists the first :data:`SHOWN`. The CLI prints
    them all itself (:func:`calibrate.cli.main`), so the message is for library users.
    """

    def __init__(self, problems: list[Problem]) -> None:
        if not problems:
            raise ValueError("ValidationError needs at least one problem")
        self.problems = problems
        shown = [f"  {p}" for p in problems[:SHOWN]]
        if len(problems) > SHOWN:
            shown.append(
                f"  ... and {len(problems) - SHOWN} more (every one in ValidationError.problems)"
            )
        super().__init__("\n".join([self.headline, *shown]))

    @property
    def headline(self) -> str:
        """The first line of the message: how many problems."""
        return f"{len(self.problems)} problem(s) found:"


class StoreError(CalibrateError):
    """The store refused a request (unknown rubric version, conflicting content, bad URL...)."""


class AccessDenied(CalibrateError):
    """The acting account may not do or see what it asked for (its role, issuer or grants)."""


class AuthenticationError(CalibrateError):
    """A login or session that does not hold: wrong name or password, too many attempts, a
    disabled account, an expired or revoked session. The message never says which of name or
    password was wrong."""
