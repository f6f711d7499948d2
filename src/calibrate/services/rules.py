"""The programme rules a door shows or applies: the defaults of :mod:`calibrate.rules` with the
issuer's overrides file (the ``CALIBRATE_RULES_FILE`` setting, or a file given), resolved for one
rubric version (its scale and its per-rubric overrides) or for the whole programme."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

from calibrate.access import Actor, require
from calibrate.errors import AccessDenied
from calibrate.rubric import Rubric
from calibrate.rules import ProgrammeRules, RuleOverrides, read_rules, rules_for
from calibrate.settings import get_settings

if TYPE_CHECKING:
    from sqlalchemy import Engine


def programme_rules(
    *,
    rubric: str | Rubric | None = None,
    engine: Engine | None = None,
    actor: Actor | None = None,
    overrides: Path | None = None,
) -> ProgrammeRules:
    """The rules in force: for the programme (scale-dependent rules unresolved) or for one
    rubric version, given as a :class:`~calibrate.rubric.Rubric` or as ``id@version`` (or
    ``id`` when the store holds one version) of the store at ``engine`` that ``actor`` may read
    (another issuer's rubric is not there).

    ``overrides`` is the issuer's overrides file; default: the ``rules_file`` setting, and the
    rules' defaults when that is unset.

    Raises
    ------
    AccessDenied
        A stored rubric asked for without an acting account.
    CalibrateError
        A rubric key without a store, an unknown rubric, or an overrides file that breaks the
        rules table (each problem with its line and rule name).
    """
    path = overrides if overrides is not None else get_settings().rules_file
    chosen = RuleOverrides() if path is None else _overrides(Path(path))
    if rubric is None or isinstance(rubric, Rubric):
        return rules_for(rubric, chosen)
    if engine is None:
        raise ValueError("programme_rules: a rubric key needs the store (engine=)")
    if actor is None:
        raise AccessDenied("reading a stored rubric needs an acting account (actor=)")
    from calibrate.store import stored_rubric

    require(actor, "rubrics.read")
    return rules_for(stored_rubric(rubric, engine=engine, issuers=actor.issuers), chosen)


def _overrides(path: Path) -> RuleOverrides:
    """The overrides file, parsed again whenever its content changes (the live queue asks on
    every call)."""
    try:
        content = path.read_bytes()
    except OSError:
        return read_rules(path)  # says what is wrong with the path
    return _parsed(path.resolve(), content)


@functools.lru_cache(maxsize=16)
def _parsed(path: Path, _content: bytes) -> RuleOverrides:
    return read_rules(path)
